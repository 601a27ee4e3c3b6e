"""Cases API: list with the queue's filters, detail with events; roles; signal integration."""

import pytest
from rest_framework.test import APIClient

from cases.choices import CaseEventKind
from cases.models import Case
from cases.services import case_assign, case_decide
from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import reset_engine

pytestmark = pytest.mark.django_db
URL = "/api/v1/cases/"


def test_anonymous_and_roleless_clients_are_refused(make_case, make_user):
    make_case()
    assert APIClient().get(URL).status_code in (401, 403)
    client = APIClient()
    client.force_authenticate(make_user("olga", role=None))
    assert client.get(URL).status_code == 403


def test_list_filters_and_sorts_like_the_queue(investigator_api, make_case, investigator):
    velocity = make_case(outcome="block", risk=0.95, amount="50.00", rules=("velocity_30s",))
    big = make_case(outcome="review", risk=0.6, amount="40000.00")
    mine = make_case(outcome="review", risk=0.3, amount="700.00")
    case_assign(case=mine, actor=investigator, assignee=investigator, expected_version=1)
    closed = make_case(outcome="review", risk=0.2, amount="10.00")
    case_decide(case=closed, actor=investigator, action="reject", expected_version=1)

    def ids(**params) -> list[int]:
        response = investigator_api.get(URL, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [big.pk, mine.pk, velocity.pk, closed.pk]  # priority = risk × amount
    assert ids(status="active") == [big.pk, mine.pk, velocity.pk]
    assert ids(status="closed") == [closed.pk]
    assert ids(rule="velocity_30s") == [velocity.pk]
    assert ids(outcome="block") == [velocity.pk]
    assert ids(min_risk=0.5, max_risk=0.9) == [big.pk]
    assert ids(min_amount=100, max_amount=1000) == [mine.pk]
    assert ids(assignee="me") == [mine.pk, closed.pk]  # the decider owns a closed case
    assert ids(assignee="unassigned", status="active") == [big.pk, velocity.pk]
    assert ids(sort="-risk") == [velocity.pk, big.pk, mine.pk, closed.pk]
    assert ids(sort="sla", status="active")[0] == velocity.pk
    assert ids(transaction=big.transaction.external_id) == [big.pk]

    row = investigator_api.get(URL, {"rule": "velocity_30s"}).json()["results"][0]
    assert row["transaction"] == velocity.transaction.external_id
    assert row["customer"] == "C-100"
    assert row["rule_codes"] == ["velocity_30s"]
    assert row["priority"] == pytest.approx(47.5)
    assert row["version"] == 1 and row["overdue"] is False


def test_invalid_filters_are_400_naming_the_field(investigator_api, make_case):
    make_case()
    response = investigator_api.get(URL, {"min_risk": "high", "sort": "sideways"})
    assert response.status_code == 400
    body = response.json()
    text = str(body)
    assert "min_risk" in text and "sort" in text


def test_detail_has_reasons_and_events(investigator_api, make_case, investigator):
    case = make_case()
    case_decide(case=case, actor=investigator, action="escalate", note="Mule?", expected_version=1)

    response = investigator_api.get(f"{URL}{case.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "escalated"
    assert body["rule_hits"][0]["code"] == "amount_limit_Q"
    assert body["reasons"][0] == "Rule amount_limit_Q was hit"
    assert body["contributions"][0]["feature"] == "amount_ratio_to_mean"
    assert [e["kind"] for e in body["events"]] == ["opened", "escalated"]
    assert body["events"][1]["actor"] == "ivy" and body["events"][1]["note"] == "Mule?"
    assert investigator_api.get(f"{URL}999999/").status_code == 404


def test_cases_api_is_read_only(investigator_api, make_case):
    case = make_case()
    assert investigator_api.post(URL, {}, format="json").status_code == 405
    assert investigator_api.patch(f"{URL}{case.pk}/", {}, format="json").status_code == 405
    assert investigator_api.delete(f"{URL}{case.pk}/").status_code == 405


@pytest.fixture
def rules_only_engine(settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    invalidate_rule_set()
    yield
    reset_engine()
    invalidate_rule_set()


def test_posting_a_flagged_transaction_opens_a_case(investigator_api, rules_only_engine):
    """A quick payment above the AED 10,000 limit goes to review: the scoring signal opens
    its case; an ordinary payment opens none; a replay opens no second case."""
    body = {
        "id": "API-1",
        "timestamp": "2026-03-01T10:15:00Z",
        "account": "AE-API-1",
        "customer": "C-API",
        "amount": "25000.00",
        "currency": "AED",
        "transfer_type": "Q",
        "country": "AE",
        "channel": "mobile",
    }
    flagged = investigator_api.post("/api/v1/transactions/", body, format="json")
    assert flagged.status_code == 201, flagged.content
    assert flagged.json()["outcome"] in ("review", "block")
    ordinary = investigator_api.post(
        "/api/v1/transactions/", {**body, "id": "API-2", "amount": "20.00"}, format="json"
    )
    assert ordinary.json()["outcome"] == "approve"
    replay = investigator_api.post("/api/v1/transactions/", body, format="json")
    assert replay.status_code == 200

    case = Case.objects.get()
    assert case.transaction.external_id == "API-1"
    assert case.outcome == flagged.json()["outcome"]
    assert "amount_limit_Q" in case.rule_code_list
    assert case.events.get().kind == CaseEventKind.OPENED
    listed = investigator_api.get(URL).json()["results"]
    assert [row["transaction"] for row in listed] == ["API-1"]
