"""Who is alerted about a scored transaction: threshold, filters, rules, roles."""

from datetime import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from alerts.models import AlertDelivery
from alerts.services import alert_rule_create, alert_subscription_create
from detection.models import TransactionScore
from detection.signals import scores_stored_in_bulk
from secureflow.core import roles
from tests.alerts.conftest import make_scored

pytestmark = pytest.mark.django_db


def destinations(score) -> set[tuple[str, str]]:
    return set(
        AlertDelivery.objects.filter(transaction_id=score.transaction_id).values_list(
            "channel", "destination"
        )
    )


def test_threshold_is_inclusive_and_blocked_always_alerts(investigator, account):
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    below = make_scored(account, risk=0.89, outcome="review")
    at = make_scored(account, risk=0.90, outcome="review")
    blocked_low = make_scored(account, risk=0.05, outcome="block")

    assert destinations(below) == set()
    assert destinations(at) == {("email", "ivy@bank.test")}
    assert destinations(blocked_low) == {("email", "ivy@bank.test")}


def test_include_blocked_off_means_score_alone(investigator, account):
    alert_subscription_create(
        user=investigator,
        channel="email",
        destination="ivy@bank.test",
        min_risk=0.5,
        include_blocked=False,
    )
    assert destinations(make_scored(account, risk=0.2, outcome="block")) == set()
    assert destinations(make_scored(account, risk=0.6, outcome="review")) == {
        ("email", "ivy@bank.test")
    }


def test_transfer_type_and_amount_filters(investigator, account):
    alert_subscription_create(
        user=investigator,
        channel="sms",
        destination="+971 50 123 4567",
        min_risk=0.0,
        transfer_types="SL",
        min_amount=Decimal("10000"),
    )
    assert destinations(make_scored(account, risk=0.95, transfer_type="S", amount="10000")) == {
        ("sms", "+971501234567")
    }
    assert destinations(make_scored(account, risk=0.95, transfer_type="Q", amount="90000")) == set()
    assert (
        destinations(make_scored(account, risk=0.95, transfer_type="L", amount="9999.99")) == set()
    )
    assert destinations(make_scored(account, risk=0.95, transfer_type="", amount="50000")) == set()


def test_inactive_subscription_inactive_user_and_user_without_role_get_nothing(make_user, account):
    paused = make_user("paused", roles.INVESTIGATOR)
    alert_subscription_create(
        user=paused, channel="email", destination="paused@bank.test", is_active=False
    )
    gone = make_user("gone", roles.INVESTIGATOR)
    alert_subscription_create(user=gone, channel="email", destination="gone@bank.test")
    gone.is_active = False
    gone.save()
    former = make_user("former", roles.INVESTIGATOR)
    alert_subscription_create(user=former, channel="email", destination="former@bank.test")
    former.groups.clear()
    senior = make_user("sen", roles.SENIOR_INVESTIGATOR)
    alert_subscription_create(user=senior, channel="email", destination="sen@bank.test")

    score = make_scored(account, risk=0.99, outcome="block")
    assert destinations(score) == {("email", "sen@bank.test")}


def test_organisation_rule_alerts_a_role_by_email_and_fixed_destinations(make_user, account):
    admin = make_user("ada", roles.ADMIN, email="ada@bank.test")
    make_user("ivy", roles.INVESTIGATOR, email="ivy@bank.test")
    make_user("noemail", roles.ADMIN, email="")
    alert_rule_create(
        created_by=admin,
        name="Admins on big overseas transfers",
        channel="email",
        recipient_group=Group.objects.get(name=roles.ADMIN),
        destinations="fraud-desk@bank.test\n\nFRAUD-desk@Bank.TEST",
        transfer_types="S",
        min_risk=0.8,
    )
    alert_rule_create(
        created_by=admin,
        name="SIEM",
        channel="webhook",
        destinations="http://127.0.0.1:9/siem",
        min_risk=0.95,
    )
    score = make_scored(account, risk=0.9, transfer_type="S")
    assert destinations(score) == {("email", "ada@bank.test"), ("email", "fraud-desk@bank.test")}
    delivery = AlertDelivery.objects.get(destination="ada@bank.test")
    assert delivery.rule.name == "Admins on big overseas transfers"
    assert delivery.recipient.username == "ada"

    high = make_scored(account, risk=0.97, transfer_type="L")
    assert destinations(high) == {("webhook", "http://127.0.0.1:9/siem")}


def test_rule_and_subscription_to_same_address_give_one_alert_under_the_rule(make_user, account):
    ivy = make_user("ivy", roles.INVESTIGATOR, email="ivy@bank.test")
    alert_subscription_create(
        user=ivy,
        channel="email",
        destination="ivy@bank.test",
        quiet_hours_start=time(0, 0),
        quiet_hours_end=time(23, 59),
    )
    alert_rule_create(
        created_by=None,
        name="Investigators",
        channel="email",
        recipient_group=Group.objects.get(name=roles.INVESTIGATOR),
        min_risk=0.5,
    )
    score = make_scored(account, risk=0.95, outcome="review")
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.rule is not None and delivery.subscription is None
    assert delivery.status == "queued"  # personal quiet hours do not silence the rule


def test_bulk_signal_raises_alerts_for_a_chunk(investigator, account):
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    flagged = [
        make_scored(account, risk=r, outcome="review", signal=False) for r in (0.91, 0.5, 0.99)
    ]
    scores_stored_in_bulk.send(sender=TransactionScore, score_ids=[s.pk for s in flagged])
    alerted = set(AlertDelivery.objects.values_list("score_id", flat=True))
    assert alerted == {flagged[0].pk, flagged[2].pk}


def test_invalid_destinations_and_settings_are_refused(investigator):
    with pytest.raises(ValidationError) as bad_phone:
        alert_subscription_create(user=investigator, channel="sms", destination="0501234567")
    assert "international form" in str(bad_phone.value)
    with pytest.raises(ValidationError):
        alert_subscription_create(user=investigator, channel="webhook", destination="ftp://x/y")
    with pytest.raises(ValidationError):
        alert_subscription_create(user=investigator, channel="email", destination="not-an-email")
    with pytest.raises(ValidationError):
        alert_subscription_create(
            user=investigator, channel="email", destination="a@b.test", min_risk=1.5
        )
    with pytest.raises(ValidationError):
        alert_subscription_create(
            user=investigator, channel="email", destination="a@b.test", transfer_types="SX"
        )
    with pytest.raises(ValidationError):
        alert_subscription_create(
            user=investigator,
            channel="email",
            destination="a@b.test",
            quiet_hours_start=time(22, 0),
        )
    with pytest.raises(ValidationError) as group_sms:
        alert_rule_create(
            created_by=None,
            name="x",
            channel="sms",
            recipient_group=Group.objects.get(name=roles.INVESTIGATOR),
        )
    assert "e-mail" in str(group_sms.value)
    with pytest.raises(ValidationError) as line:
        alert_rule_create(
            created_by=None, name="y", channel="email", destinations="ok@bank.test\nbroken"
        )
    assert "Line 2 (broken)" in str(line.value)


def test_webhook_subscription_gets_its_own_secret(investigator):
    one = alert_subscription_create(
        user=investigator, channel="webhook", destination="https://hooks.bank.test/a"
    )
    two = alert_subscription_create(
        user=investigator, channel="webhook", destination="https://hooks.bank.test/b"
    )
    assert len(one.webhook_secret) >= 40 and one.webhook_secret != two.webhook_secret
