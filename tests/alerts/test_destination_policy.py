"""Alert e-mail and SMS go only where the bank allows (SECUREFLOW_ALERT_EMAIL_DOMAINS,
SECUREFLOW_ALERT_SMS_PREFIXES): refused when saved, and a delivery to a destination saved
before the setting fails with the reason, with nothing sent (real SMTP and HTTP peers)."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client

from alerts.destinations import allowed_phone_prefixes, normalise_destination
from alerts.models import AlertDelivery, AlertRule, AlertSubscription
from alerts.services import alert_rule_create, alert_subscription_create
from secureflow.core import roles
from tests.alerts.conftest import make_scored


@pytest.fixture
def bank_only(settings):
    settings.SECUREFLOW_ALERT_EMAIL_DOMAINS = ["example-bank.ae", "@Group.Example.com"]
    settings.SECUREFLOW_ALERT_SMS_PREFIXES = ["+971", "+968"]
    return settings


@pytest.mark.parametrize(
    "address",
    [
        "ivy@example-bank.ae",
        "Fraud.Ops@EXAMPLE-BANK.AE",
        "soc@ops.example-bank.ae",
        "x@group.example.com",
    ],
)
def test_addresses_at_the_banks_domains_are_kept(bank_only, address):
    assert normalise_destination("email", address) == address.lower()


@pytest.mark.parametrize(
    "address",
    [
        "ivy@gmail.com",
        "ivy@evil-example-bank.ae",  # not a subdomain
        "ivy@example-bank.ae.evil.com",
        "ivy@example.com",
    ],
)
def test_addresses_elsewhere_are_refused(bank_only, address):
    with pytest.raises(ValidationError) as refused:
        normalise_destination("email", address)
    assert refused.value.messages == [
        "Alerts by e-mail go only to addresses at example-bank.ae, group.example.com."
    ]


def test_numbers_are_checked_after_they_are_normalised(bank_only):
    assert normalise_destination("sms", "00971 50 123 4567") == "+971501234567"
    assert normalise_destination("sms", "+968 9123 4567") == "+96891234567"
    with pytest.raises(ValidationError, match=r"numbers starting \+971, \+968"):
        normalise_destination("sms", "+44 7700 900123")


def test_without_the_settings_any_valid_destination_goes(settings):
    settings.SECUREFLOW_ALERT_EMAIL_DOMAINS = []
    settings.SECUREFLOW_ALERT_SMS_PREFIXES = []
    assert normalise_destination("email", "ivy@gmail.com") == "ivy@gmail.com"
    assert normalise_destination("sms", "+44 7700 900123") == "+447700900123"


def test_a_mistyped_prefix_is_a_configuration_error(settings):
    settings.SECUREFLOW_ALERT_SMS_PREFIXES = ["971"]
    with pytest.raises(ImproperlyConfigured, match="971 is not"):
        allowed_phone_prefixes()


@pytest.mark.django_db
def test_the_page_refuses_an_outside_address_and_number(bank_only, make_user):
    user = make_user("ivy")
    page = Client()
    page.force_login(user)
    form = {
        "channel": "email",
        "destination": "ivy.private@gmail.com",
        "min_risk": "0.5",
        "include_blocked": "on",
        "time_zone": "Asia/Dubai",
        "is_active": "on",
    }
    response = page.post("/alerts/subscriptions/new/", form)
    assert response.status_code == 400
    assert response.context["form"].errors["destination"] == [
        "Alerts by e-mail go only to addresses at example-bank.ae, group.example.com."
    ]

    sms_form = {**form, "channel": "sms", "destination": "+447700900123"}
    sms = page.post("/alerts/subscriptions/new/", sms_form)
    assert sms.status_code == 400
    assert "numbers starting +971, +968" in sms.context["form"].errors["destination"][0]
    assert not AlertSubscription.objects.exists()

    form["destination"] = "ivy@example-bank.ae"
    assert page.post("/alerts/subscriptions/new/", form).status_code == 302
    assert AlertSubscription.objects.get().destination == "ivy@example-bank.ae"


@pytest.mark.django_db
def test_a_rule_names_the_line_outside_the_policy(bank_only):
    rule = AlertRule(
        name="SOC",
        channel="email",
        destinations="soc@example-bank.ae\nleak@gmail.com",
        min_risk=0.9,
    )
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert refused.value.message_dict["destinations"] == [
        "Line 2 (leak@gmail.com): Alerts by e-mail go only to addresses at example-bank.ae, "
        "group.example.com."
    ]


@pytest.mark.django_db
def test_deliveries_to_destinations_outside_the_policy_fail_unsent(
    settings,
    investigator,
    make_user,
    account,
    smtp_settings,
    http_server,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    """Saved before the policy was set, or a role member's own account address: each
    delivery fails with the reason in the log; the allowed ones still go."""
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms")
    alert_subscription_create(user=investigator, channel="email", destination="ivy@gmail.com")
    alert_subscription_create(user=investigator, channel="sms", destination="+447700900123")
    alert_subscription_create(user=investigator, channel="email", destination="ivy@example-bank.ae")
    make_user("sam", roles.SENIOR_INVESTIGATOR, email="sam@home.example.net")
    alert_rule_create(
        created_by=None,
        name="Seniors",
        channel="email",
        recipient_group=Group.objects.get(name=roles.SENIOR_INVESTIGATOR),
        min_risk=0.5,
    )
    settings.SECUREFLOW_ALERT_EMAIL_DOMAINS = ["example-bank.ae"]
    settings.SECUREFLOW_ALERT_SMS_PREFIXES = ["+971"]

    with django_capture_on_commit_callbacks(execute=True):
        score = make_scored(account, risk=0.97, outcome="block")

    deliveries = {
        d.destination: d for d in AlertDelivery.objects.filter(transaction_id=score.transaction_id)
    }
    assert set(deliveries) == {
        "ivy@gmail.com",
        "+447700900123",
        "ivy@example-bank.ae",
        "sam@home.example.net",
    }
    assert deliveries["ivy@example-bank.ae"].status == "sent"
    for refused in ("ivy@gmail.com", "sam@home.example.net", "+447700900123"):
        delivery = deliveries[refused]
        assert delivery.status == "failed" and delivery.attempts == 1, refused
        assert delivery.last_error.startswith(f"Refused {refused}: alerts by ")
    assert "example-bank.ae" in deliveries["ivy@gmail.com"].last_error
    assert "+971" in deliveries["+447700900123"].last_error
    assert [m.rcpt_tos for m in smtp_settings.messages] == [["ivy@example-bank.ae"]]
    assert http_server.to("/sms") == []
