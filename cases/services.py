"""Writes for cases and feedback labels."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction
from django.utils import timezone

from cases.models import FeedbackLabel
from transactions.models import Transaction


@db_transaction.atomic
def feedback_label_create(
    *,
    txn: Transaction,
    is_fraud: bool,
    source: str,
    known_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
    note: str = "",
) -> FeedbackLabel:
    return FeedbackLabel.objects.create(
        transaction=txn,
        is_fraud=is_fraud,
        source=source,
        known_at=known_at or timezone.now(),
        created_by=created_by,
        note=note,
    )
