"""Bulk actions on the queue: a case selection whose numbers no database id can hold is a
form error (400 with the reason), not a 500."""

import pytest
from django.urls import reverse

from cases.choices import CaseStatus
from cases.forms import BulkActionForm
from cases.models import Case

pytestmark = pytest.mark.django_db
QUEUE = reverse("cases:queue")
HTMX = {"HTTP_HX_REQUEST": "true"}
HUGE = "99999999999999999999999"


@pytest.fixture
def ivy_client(client, investigator):
    client.force_login(investigator)
    return client


@pytest.mark.parametrize(
    "token",
    [
        f"{HUGE}:1",
        f"1:{HUGE}",
        f"{2**63}:1",
        "1:2147483648",
        "0:1",
        "-5:1",
        "1:0",
        "1:-1",
        "abc:1",
        "1:x",
    ],
)
def test_out_of_range_or_malformed_selection_is_a_form_error(token):
    form = BulkActionForm({"action": "close", "cases": [token], "resolution": "fraud", "note": "n"})

    assert not form.is_valid()
    assert list(form.errors) == ["cases"], form.errors
    assert f"'{token}' is not a case selection." in form.errors["cases"]


@pytest.mark.parametrize("token", [f"{2**63 - 1}:1", "7:2147483647", "7"])
def test_selections_at_the_bounds_are_accepted(token):
    form = BulkActionForm({"action": "close", "cases": [token], "resolution": "fraud", "note": "n"})

    assert form.is_valid(), form.errors
    case_id = int(token.partition(":")[0])
    assert case_id in form.cleaned_data["cases"]


@pytest.mark.parametrize("action", ["close", "assign"])
def test_bulk_post_with_a_huge_case_id_is_400_with_the_reason(
    ivy_client, make_case, colleague, action
):
    case = make_case()
    data = {
        "action": action,
        "cases": [f"{case.pk}:1", f"{HUGE}:1"],
        "resolution": "fraud",
        "note": "Same mule ring",
        "assignee": colleague.pk,
        "next": QUEUE,
    }

    partial = ivy_client.post(reverse("cases:bulk"), data, **HTMX)
    assert partial.status_code == 400
    assert "is not a case selection" in partial.content.decode()

    full = ivy_client.post(reverse("cases:bulk"), data)
    assert full.status_code == 302 and full["Location"] == QUEUE
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.assignee is None
    assert Case.objects.count() == 1
