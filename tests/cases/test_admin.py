"""Django admin: cases are listed, searched and acted on through the services; events are
read only."""

import pytest
from django.test import Client
from django.urls import reverse

from cases.choices import CaseEventKind
from cases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_sf(admin_user_sf) -> Client:
    client = Client()
    client.force_login(admin_user_sf)
    return client


def test_case_admin_lists_searches_and_is_read_only(admin_client_sf, admin_user_sf, make_case):
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    case = make_case()
    changelist = reverse("admin:cases_case_changelist")

    listing = admin_client_sf.get(changelist, {"q": case.transaction.external_id})
    assert listing.status_code == 200
    assert case.transaction.external_id in listing.content.decode()
    assert admin_client_sf.get(changelist, {"status__exact": "open"}).status_code == 200
    assert admin_client_sf.get(reverse("admin:cases_case_add")).status_code == 403
    change = admin_client_sf.get(reverse("admin:cases_case_change", args=[case.pk]))
    assert change.status_code == 200  # a view, not a form
    assert 'name="status"' not in change.content.decode()
    delete = admin_client_sf.post(reverse("admin:cases_case_delete", args=[case.pk]))
    assert delete.status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()


def test_case_admin_actions_go_through_the_services(admin_client_sf, admin_user_sf, make_case):
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    one, two = make_case(), make_case(outcome="block")
    changelist = reverse("admin:cases_case_changelist")

    admin_client_sf.post(
        changelist, {"action": "assign_to_me", "_selected_action": [one.pk, two.pk]}
    )
    assert set(Case.objects.values_list("assignee__username", flat=True)) == {"ada"}
    admin_client_sf.post(changelist, {"action": "close_as_fraud", "_selected_action": [one.pk]})
    one.refresh_from_db()
    assert one.resolution == "fraud"
    event = one.events.order_by("-id").first()
    assert event.kind == CaseEventKind.BULK_CLOSED and event.actor == admin_user_sf


def test_case_events_are_read_only_in_admin(admin_client_sf, admin_user_sf, make_case):
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    case = make_case()
    event = CaseEvent.objects.get(case=case)

    assert admin_client_sf.get(reverse("admin:cases_caseevent_changelist")).status_code == 200
    assert admin_client_sf.get(reverse("admin:cases_caseevent_add")).status_code == 403
    view = admin_client_sf.get(reverse("admin:cases_caseevent_change", args=[event.pk]))
    assert view.status_code == 200
    assert 'name="note"' not in view.content.decode()
    response = admin_client_sf.post(
        reverse("admin:cases_caseevent_delete", args=[event.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert CaseEvent.objects.filter(pk=event.pk).exists()
