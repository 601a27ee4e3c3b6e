"""Reads other parts of SecureFlow use: alert counts per day and status (dashboard)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.models import AlertDelivery
from alerts.selectors import alert_delivery_counts
from alerts.services import alert_subscription_create
from tests.alerts.conftest import make_scored

pytestmark = pytest.mark.django_db
DUBAI = ZoneInfo("Asia/Dubai")


def test_counts_per_local_day_and_status(make_user, account, settings):
    settings.TIME_ZONE = "Asia/Dubai"
    settings.SECUREFLOW_ALERT_RATE_LIMIT = 0
    alert_subscription_create(user=make_user("ivy"), channel="email", destination="i@bank.test")
    alert_subscription_create(user=make_user("omar"), channel="sms", destination="+97150000001")
    scores = [make_scored(account, risk=0.95) for _ in range(3)]
    deliveries = list(AlertDelivery.objects.order_by("pk"))
    assert len(deliveries) == 6
    # 23:30 on 1 Nov in Dubai is 19:30 UTC: it counts for 1 Nov, not 2 Nov.
    late_first = datetime(2026, 11, 1, 23, 30, tzinfo=DUBAI)
    second = datetime(2026, 11, 2, 0, 30, tzinfo=DUBAI)
    plan = [
        (late_first, "sent"),
        (late_first, "sent"),
        (late_first, "failed"),
        (second, "suppressed"),
        (second, "sent"),
        (second + timedelta(days=5), "sent"),  # outside the range
    ]
    for delivery, (when, status) in zip(deliveries, plan):
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            queued_at=when, status=status, reason="rate_limited" if status == "suppressed" else ""
        )

    rows = list(alert_delivery_counts(date(2026, 11, 1), date(2026, 11, 2)))
    assert rows == [
        {"day": date(2026, 11, 1), "status": "failed", "count": 1},
        {"day": date(2026, 11, 1), "status": "sent", "count": 2},
        {"day": date(2026, 11, 2), "status": "sent", "count": 1},
        {"day": date(2026, 11, 2), "status": "suppressed", "count": 1},
    ]
    assert len(scores) == 3
    assert list(alert_delivery_counts(date(2026, 10, 1), date(2026, 10, 31))) == []
