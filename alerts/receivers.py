"""Scoring signals raise alerts (connected in AlertsConfig.ready)."""

from collections.abc import Sequence
from typing import Any

from alerts.audience import cached_alert_audience
from alerts.services import alert_deliveries_create_safely
from detection.models import TransactionScore

BULK_CHUNK = 1000


def alerts_for_scored_transaction(sender: Any, score: TransactionScore, **kwargs: Any) -> None:
    """`transaction_scored`: sent inside the scoring transaction; the alerts are raised in
    the same transaction and handed to the worker when it commits. Matched against this
    process's cached audience (alerts/audience.py): most decisions concern nobody and cost
    no query."""
    alert_deliveries_create_safely(scores=[score], audience=cached_alert_audience())


def alerts_for_bulk_scores(sender: Any, score_ids: Sequence[int], **kwargs: Any) -> None:
    """`scores_stored_in_bulk`: the flagged scores of a batch chunk."""
    ids = list(score_ids)
    for start in range(0, len(ids), BULK_CHUNK):
        scores = list(
            TransactionScore.objects.filter(pk__in=ids[start : start + BULK_CHUNK])
            .select_related("transaction")
            .order_by("transaction__occurred_at", "pk")
        )
        if scores:
            alert_deliveries_create_safely(scores=scores)
