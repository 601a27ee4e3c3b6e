"""Keep the dashboard rollup honest when a stored decision changes.

New transactions and scores are found by the rollup's id watermark; a transaction scored
again keeps its score id, so its day is marked stale here (after the scoring commits).
Recent days are re-aggregated every minute anyway: nothing to do for them."""

from datetime import timedelta
from typing import Any

from django.db import transaction

from detection.models import TransactionScore


def mark_day_of_score(sender: type, *, score: TransactionScore, **kwargs: Any) -> None:
    from django.utils import timezone

    from secureflow.workspace.rollup import bank_today, daily_activity_mark_stale

    occurred_at = score.transaction.occurred_at
    day = timezone.localdate(occurred_at, timezone.get_default_timezone())
    if day >= bank_today() - timedelta(days=1):
        return
    transaction.on_commit(lambda: daily_activity_mark_stale(days=[day]))
