"""Reads for cases and feedback labels."""

from datetime import datetime

import pandas as pd
from django.db.models import OuterRef, QuerySet, Subquery

from cases.models import FeedbackLabel


def latest_labels(*, known_before: datetime | None = None) -> QuerySet[FeedbackLabel]:
    """The newest label of each labelled transaction (optionally as known at a moment)."""
    labels = FeedbackLabel.objects.all()
    if known_before is not None:
        labels = labels.filter(known_at__lt=known_before)
    newest = labels.filter(transaction_id=OuterRef("transaction_id")).order_by("-known_at", "-id")
    return labels.filter(id=Subquery(newest.values("id")[:1]))


def labels_frame(*, known_before: datetime | None = None) -> pd.DataFrame:
    """Labels as a frame: transaction_id, is_fraud, known_at (UTC)."""
    rows = latest_labels(known_before=known_before).values_list(
        "transaction_id", "is_fraud", "known_at"
    )
    frame = pd.DataFrame(list(rows), columns=["transaction_id", "is_fraud", "known_at"])
    frame["known_at"] = pd.to_datetime(frame["known_at"], utc=True)
    return frame
