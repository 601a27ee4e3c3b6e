"""Alert pages, Django admin and the delivery-log API: roles, CSRF, HTMX partials."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from alerts.models import AlertDelivery, AlertRule, AlertSubscription
from alerts.services import alert_subscription_create
from secureflow.core import roles
from secureflow.core.api_keys import api_key_create
from tests.alerts.conftest import make_scored

pytestmark = pytest.mark.django_db


def client_for(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_pages_need_login_and_a_role(make_user):
    anonymous = Client()
    for url in ("/alerts/", "/alerts/subscriptions/new/", "/alerts/deliveries/", "/alerts/rules/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    nobody = client_for(make_user("nobody", role=None))
    assert nobody.get("/alerts/").status_code == 403
    investigator = client_for(make_user("ivy"))
    assert investigator.get("/alerts/").status_code == 200
    assert investigator.get("/alerts/deliveries/").status_code == 403
    assert investigator.get("/alerts/rules/").status_code == 403
    assert investigator.get("/alerts/rules/new/").status_code == 403


def test_investigator_creates_edits_and_deletes_own_subscription(make_user):
    ivy = make_user("ivy", email="ivy@bank.test")
    client = client_for(ivy)
    form = client.get("/alerts/subscriptions/new/")
    assert form.status_code == 200
    assert 'value="ivy@bank.test"' in form.content.decode()  # own address by default

    response = client.post(
        "/alerts/subscriptions/new/",
        {
            "channel": "sms",
            "destination": "+971 50 123 4567",
            "min_risk": "0.8",
            "include_blocked": "on",
            "transfer_types": ["S", "L"],
            "min_amount": "5000",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
            "time_zone": "Asia/Dubai",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    sub = AlertSubscription.objects.get(user=ivy)
    assert (sub.channel, sub.destination, sub.transfer_types) == ("sms", "+971501234567", "LS")
    assert str(sub.quiet_hours_start) == "22:00:00" and sub.min_risk == 0.8

    page = client.get("/alerts/").content.decode()
    assert "+971501234567" in page and "22:00–07:00" in page

    edit = client.post(
        f"/alerts/subscriptions/{sub.pk}/edit/",
        {
            "channel": "sms",
            "destination": "+971501234567",
            "min_risk": "0.95",
            "time_zone": "Asia/Dubai",
        },
    )
    assert edit.status_code == 302
    sub.refresh_from_db()
    assert sub.min_risk == 0.95 and sub.transfer_types == "" and not sub.is_active
    assert sub.quiet_hours_start is None

    deleted = client.post(f"/alerts/subscriptions/{sub.pk}/delete/", HTTP_HX_REQUEST="true")
    assert deleted.status_code == 200 and deleted.content == b""
    assert not AlertSubscription.objects.exists()


def test_bad_input_shows_field_errors_and_saves_nothing(make_user):
    client = client_for(make_user("ivy"))
    response = client.post(
        "/alerts/subscriptions/new/",
        {
            "channel": "sms",
            "destination": "0501234567",
            "min_risk": "1.7",
            "time_zone": "Mars/Olympus",
            "quiet_hours_start": "22:00",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "international form" in " ".join(form.errors["destination"])
    assert "min_risk" in form.errors and "time_zone" in form.errors
    assert not AlertSubscription.objects.exists()


def test_duplicate_subscription_is_refused_with_a_message(make_user):
    ivy = make_user("ivy")
    alert_subscription_create(user=ivy, channel="email", destination="ivy@bank.test")
    response = client_for(ivy).post(
        "/alerts/subscriptions/new/",
        {"channel": "email", "destination": "IVY@bank.test", "min_risk": "0.9", "time_zone": "UTC"},
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert AlertSubscription.objects.count() == 1


def test_nobody_touches_someone_elses_subscription_but_admins_see_all(make_user):
    ivy = make_user("ivy")
    omar = make_user("omar")
    theirs = alert_subscription_create(user=omar, channel="email", destination="omar@bank.test")
    client = client_for(ivy)
    assert client.get(f"/alerts/subscriptions/{theirs.pk}/edit/").status_code == 404
    assert client.post(f"/alerts/subscriptions/{theirs.pk}/delete/").status_code == 404
    assert "omar@bank.test" not in client.get("/alerts/").content.decode()
    assert AlertSubscription.objects.filter(pk=theirs.pk).exists()

    admin = client_for(make_user("ada", roles.ADMIN))
    listing = admin.get("/alerts/").content.decode()
    assert "omar@bank.test" in listing and "Delivery log" in listing
    assert admin.get(f"/alerts/subscriptions/{theirs.pk}/edit/").status_code == 200
    assert admin.post(f"/alerts/subscriptions/{theirs.pk}/delete/").status_code == 302
    assert not AlertSubscription.objects.filter(pk=theirs.pk).exists()


def test_csrf_is_enforced_on_writes(make_user):
    ivy = make_user("ivy")
    client = client_for(ivy, csrf=True)
    data = {
        "channel": "email",
        "destination": "ivy@bank.test",
        "min_risk": "0.9",
        "time_zone": "UTC",
    }
    assert client.post("/alerts/subscriptions/new/", data).status_code == 403
    page = client.get("/alerts/subscriptions/new/")
    token = page.cookies["csrftoken"].value
    assert (
        client.post(
            "/alerts/subscriptions/new/", {**data, "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    sub = AlertSubscription.objects.get()
    assert client.post(f"/alerts/subscriptions/{sub.pk}/delete/").status_code == 403
    # htmx sends the token from <body hx-headers>
    assert 'hx-headers=\'{"X-CSRFToken": "' in client.get("/alerts/").content.decode()
    assert (
        client.post(
            f"/alerts/subscriptions/{sub.pk}/delete/",
            HTTP_X_CSRFTOKEN=token,
            HTTP_HX_REQUEST="true",
        ).status_code
        == 200
    )


def test_webhook_secret_shown_to_owner_and_rotated_on_request(make_user):
    ivy = make_user("ivy")
    sub = alert_subscription_create(
        user=ivy, channel="webhook", destination="https://hooks.bank.test/x"
    )
    client = client_for(ivy)
    assert (
        sub.webhook_secret in client.get(f"/alerts/subscriptions/{sub.pk}/edit/").content.decode()
    )
    old = sub.webhook_secret
    client.post(
        f"/alerts/subscriptions/{sub.pk}/edit/",
        {
            "channel": "webhook",
            "destination": "https://hooks.bank.test/x",
            "min_risk": "0.9",
            "time_zone": "UTC",
            "is_active": "on",
            "rotate_webhook_secret": "on",
        },
    )
    sub.refresh_from_db()
    assert sub.webhook_secret and sub.webhook_secret != old


def test_admin_manages_organisation_rules(make_user):
    admin = client_for(make_user("ada", roles.ADMIN))
    group = Group.objects.get(name=roles.INVESTIGATOR)
    response = admin.post(
        "/alerts/rules/new/",
        {
            "name": "Investigators on blocks",
            "channel": "email",
            "recipient_group": group.pk,
            "destinations": "desk@bank.test",
            "min_risk": "0.99",
            "include_blocked": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    rule = AlertRule.objects.get()
    assert rule.created_by.username == "ada" and rule.recipient_group == group
    assert "everyone in Investigator" in admin.get("/alerts/rules/").content.decode()

    bad = admin.post(
        "/alerts/rules/new/",
        {"name": "SMS to a role", "channel": "sms", "recipient_group": group.pk, "min_risk": "0.9"},
    )
    assert bad.status_code == 400 and "only be alerted by e-mail" in bad.content.decode()
    assert admin.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 302
    assert not AlertRule.objects.exists()


def test_delivery_log_filters_and_serves_its_partial_to_htmx(make_user, account, settings):
    settings.SECUREFLOW_ALERT_RATE_LIMIT = 1
    ivy = make_user("ivy")
    alert_subscription_create(user=ivy, channel="email", destination="ivy@bank.test")
    alert_subscription_create(user=ivy, channel="sms", destination="+971501234567")
    make_scored(account, risk=0.95, external_id="LOG-1")
    make_scored(account, risk=0.95, external_id="LOG-2")  # over the limit: suppressed
    failed = AlertDelivery.objects.get(transaction__external_id="LOG-1", channel="sms")
    AlertDelivery.objects.filter(pk=failed.pk).update(
        status="failed", attempts=5, last_error="HTTP 502 from http://gw/sms"
    )
    admin = client_for(make_user("ada", roles.ADMIN))

    page = admin.get("/alerts/deliveries/").content.decode()
    assert "4 alerts" in page and "HTTP 502 from http://gw/sms" in page and "<html" in page
    only_failed = admin.get("/alerts/deliveries/?status=failed")
    assert [d.pk for d in only_failed.context["page"]] == [failed.pk]
    suppressed = admin.get("/alerts/deliveries/?status=suppressed&channel=email")
    [row] = suppressed.context["page"]
    assert row.transaction.external_id == "LOG-2" and row.reason == "rate_limited"
    partial = admin.get("/alerts/deliveries/?transaction=LOG-2", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and "2 alerts" in body and "rate limited" in body
    assert admin.get("/alerts/deliveries/?status=nonsense").status_code == 200


def test_retry_button_requeues_a_failed_delivery(
    make_user, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    ivy = make_user("ivy")
    alert_subscription_create(user=ivy, channel="email", destination="ivy@bank.test")
    score = make_scored(account, risk=0.95)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    AlertDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=5, last_error="x")
    assert client_for(ivy).post(f"/alerts/deliveries/{delivery.pk}/retry/").status_code == 403
    admin = client_for(make_user("ada", roles.ADMIN))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/alerts/deliveries/{delivery.pk}/retry/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1
    assert len(smtp_settings.messages) == 1


def test_django_admin_log_is_read_only_with_retry_action(
    make_user, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    from django.contrib.auth import get_user_model

    superuser = get_user_model().objects.create_superuser("root", "root@bank.test", "pw-root-123!")
    client = client_for(superuser)
    alert_subscription_create(user=make_user("ivy"), channel="email", destination="ivy@bank.test")
    score = make_scored(account, risk=0.95)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    AlertDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=5)

    assert client.get("/admin/alerts/alertdelivery/").status_code == 200
    assert client.get("/admin/alerts/alertdelivery/add/").status_code == 403
    change = client.get(f"/admin/alerts/alertdelivery/{delivery.pk}/change/")
    assert change.status_code == 200 and 'name="destination"' not in change.content.decode()
    assert client.get("/admin/alerts/alertsubscription/").status_code == 200
    assert client.get("/admin/alerts/alertrule/add/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/alerts/alertdelivery/",
            {"action": "retry_failed", "_selected_action": [delivery.pk]},
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(smtp_settings.messages) == 1


def test_delivery_log_api_is_admin_only_and_uses_the_same_filters(make_user, account):
    alert_subscription_create(user=make_user("ivy"), channel="email", destination="ivy@bank.test")
    make_scored(account, risk=0.95, external_id="API-1")
    make_scored(account, risk=0.95, external_id="API-2")

    def api(user) -> APIClient:
        client = APIClient()
        key = api_key_create(user=user, name="tests").key
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    assert api(make_user("inv")).get("/api/v1/alert-deliveries/").status_code == 403
    admin = api(make_user("ada", roles.ADMIN))
    body = admin.get("/api/v1/alert-deliveries/?transaction=API-2").json()
    [row] = body["results"]
    assert row["transaction"] == "API-2" and row["status"] == "queued"
    assert row["destination"] == "ivy@bank.test" and row["recipient"] == "ivy"
