"""One alert per transaction and destination; the rate limit; quiet hours."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.destinations import in_quiet_hours
from alerts.models import AlertDelivery
from alerts.services import alert_deliveries_create, alert_subscription_create
from detection.scoring.service import transaction_score
from tests.alerts.conftest import make_scored
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def test_scoring_the_same_transaction_twice_sends_once(
    investigator, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    """Real scoring (rules only): three transfers within 30 seconds block the third."""
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    now = timezone.now()
    for i in range(2):
        Transaction.objects.create(
            external_id=f"warm-{i}",
            account=account,
            amount=Decimal("10.00"),
            transfer_type="L",
            occurred_at=now - timedelta(seconds=10 - i),
        )
    txn = Transaction.objects.create(
        external_id="DUP-1",
        account=account,
        amount=Decimal("30000.00"),
        transfer_type="S",
        country="GB",
        occurred_at=now,
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = transaction_score(txn=txn)
    assert first.outcome == "block"
    with django_capture_on_commit_callbacks(execute=True):
        again = transaction_score(txn=txn)
    assert again.pk == first.pk

    assert AlertDelivery.objects.filter(transaction=txn).count() == 1
    assert len(smtp_settings.messages) == 1
    assert "DUP-1 was blocked" in smtp_settings.messages[0].body


def test_same_destination_on_another_channel_or_transaction_is_not_a_duplicate(make_user, account):
    alert_subscription_create(user=make_user("a"), channel="email", destination="desk@bank.test")
    alert_subscription_create(user=make_user("b"), channel="email", destination="DESK@bank.test")
    alert_subscription_create(user=make_user("c"), channel="sms", destination="+971501234567")
    one = make_scored(account, risk=0.95)
    two = make_scored(account, risk=0.95)
    assert AlertDelivery.objects.filter(transaction_id=one.transaction_id).count() == 2
    assert AlertDelivery.objects.filter(transaction_id=two.transaction_id).count() == 2
    assert alert_deliveries_create(scores=[one]) == []  # raising again adds nothing


def test_rate_limit_suppresses_alerts_over_the_limit_per_destination(
    investigator, make_user, account, settings
):
    settings.SECUREFLOW_ALERT_RATE_LIMIT = 3
    settings.SECUREFLOW_ALERT_RATE_WINDOW_SECONDS = 60
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    alert_subscription_create(user=make_user("omar"), channel="email", destination="o@bank.test")
    scores = [make_scored(account, risk=0.95) for _ in range(5)]

    ivy = list(
        AlertDelivery.objects.filter(destination="ivy@bank.test")
        .order_by("transaction_id")
        .values_list("status", "reason")
    )
    assert ivy == [("queued", "")] * 3 + [("suppressed", "rate_limited")] * 2
    assert AlertDelivery.objects.filter(destination="o@bank.test", status="queued").count() == 3

    # After the window, alerts flow again.
    AlertDelivery.objects.update(queued_at=timezone.now() - timedelta(seconds=61))
    later = make_scored(account, risk=0.95)
    assert (
        AlertDelivery.objects.get(
            transaction_id=later.transaction_id, destination="ivy@bank.test"
        ).status
        == "queued"
    )
    assert len(scores) == 5


def test_rate_limit_counts_a_bulk_chunk_in_order(investigator, account, settings):
    settings.SECUREFLOW_ALERT_RATE_LIMIT = 2
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    scores = [make_scored(account, risk=0.95, signal=False) for _ in range(4)]
    for score in scores:
        score.transaction  # noqa: B018 - loaded, as the bulk receiver does
    queued = alert_deliveries_create(scores=scores)
    assert len(queued) == 2
    assert AlertDelivery.objects.filter(status="suppressed", reason="rate_limited").count() == 2


def test_rate_limit_zero_means_no_limit(investigator, account, settings):
    settings.SECUREFLOW_ALERT_RATE_LIMIT = 0
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    for _ in range(12):
        make_scored(account, risk=0.95)
    assert AlertDelivery.objects.filter(status="queued").count() == 12


def quiet_window_now(tz: str = "Asia/Dubai") -> tuple[time, time]:
    """A quiet-hours window that contains the present moment in `tz`."""
    import zoneinfo

    local = timezone.now().astimezone(zoneinfo.ZoneInfo(tz))
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    return start, end


def test_quiet_hours_suppress_review_alerts_but_not_blocked_ones(
    investigator, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    start, end = quiet_window_now("Asia/Tokyo")
    alert_subscription_create(
        user=investigator,
        channel="email",
        destination="ivy@bank.test",
        min_risk=0.5,
        quiet_hours_start=start,
        quiet_hours_end=end,
        time_zone="Asia/Tokyo",
    )
    with django_capture_on_commit_callbacks(execute=True):
        review = make_scored(account, risk=0.95, outcome="review")
        blocked = make_scored(account, risk=0.95, outcome="block")

    quiet = AlertDelivery.objects.get(transaction_id=review.transaction_id)
    assert (quiet.status, quiet.reason, quiet.attempts) == ("suppressed", "quiet_hours", 0)
    loud = AlertDelivery.objects.get(transaction_id=blocked.transaction_id)
    assert loud.status == "sent"
    assert len(smtp_settings.messages) == 1
    assert "was blocked" in smtp_settings.messages[0].body
    assert "(Asia/Tokyo)" in smtp_settings.messages[0].body  # times in the subscriber's zone


def test_outside_quiet_hours_review_alerts_are_sent(investigator, account):
    start, end = quiet_window_now("Asia/Dubai")
    # The window shifted by 12 hours cannot contain now.
    shifted = [
        (datetime.combine(datetime.today(), t) + timedelta(hours=12)).time() for t in (start, end)
    ]
    alert_subscription_create(
        user=investigator,
        channel="email",
        destination="ivy@bank.test",
        quiet_hours_start=shifted[0],
        quiet_hours_end=shifted[1],
    )
    score = make_scored(account, risk=0.95, outcome="review")
    assert AlertDelivery.objects.get(transaction_id=score.transaction_id).status == "queued"


@pytest.mark.parametrize(
    ("start", "end", "utc_hour", "expected"),
    [
        (time(22), time(7), 19, True),  # 23:00 in Dubai (UTC+4): inside, window wraps midnight
        (time(22), time(7), 2, True),  # 06:00
        (time(22), time(7), 3, False),  # 07:00: the end is not quiet any more
        (time(22), time(7), 10, False),  # 14:00
        (time(9), time(17), 6, True),  # 10:00
        (time(9), time(17), 14, False),  # 18:00
        (None, None, 2, False),
    ],
)
def test_quiet_hours_window(start, end, utc_hour, expected):
    when = datetime(2026, 11, 23, utc_hour, 0, tzinfo=UTC)
    assert in_quiet_hours(start, end, "Asia/Dubai", when) is expected
