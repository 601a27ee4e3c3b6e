"""Labels posted by bank systems (POST /api/v1/feedback/), stored once however often the
client retries.

A bank system that times out or loses its connection sends the label again. Two rules
keep that from storing the same fact twice:

- **Idempotency-Key.** A key is the client's own (unique per API user): the same key with
  the same label returns the stored label; with another label it is a conflict. When the
  retry leaves out `known_at` (default: when it was first stored), any stored time matches.
- **The same fact.** Otherwise (no key, or a key not used before), a label whose
  transaction, verdict, source and `known_at` (sent explicitly) equal a stored label's is
  that label, the rule the label file import follows (detection/labels_import.py).

Label writes for one transaction are serialized by a lock on its row, so two retries
arriving together still store one label; a key reused at the same moment for another
transaction is caught by the unique constraint on (client, key).
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.utils import timezone

from cases.models import FeedbackLabel
from secureflow.core.idempotency import IdempotencyConflict
from transactions.models import Transaction


@dataclass(frozen=True)
class LabelRequest:
    """A label as a client posted it; `known_at` None: the client left it out."""

    txn: Transaction
    is_fraud: bool
    source: str
    known_at: datetime | None
    note: str

    def matches(self, label: FeedbackLabel) -> bool:
        return (
            label.transaction_id == self.txn.pk
            and label.is_fraud == self.is_fraud
            and label.source == self.source
            and label.note == self.note
            and (self.known_at is None or label.known_at == self.known_at)
        )


@dataclass(frozen=True)
class RecordedLabel:
    label: FeedbackLabel
    created: bool  # False: a retry, answered with the label stored before


def _keyed_label(client: AbstractBaseUser, key: str) -> FeedbackLabel | None:
    return (
        FeedbackLabel.objects.select_related("transaction", "created_by")
        .filter(created_by=client, idempotency_key=key)
        .first()
    )


def _replay(request: LabelRequest, existing: FeedbackLabel, key: str) -> RecordedLabel:
    if not request.matches(existing):
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for label {existing.pk} "
            f"(transaction {existing.transaction.external_id!r}) with a different body.",
            existing=existing,
        )
    return RecordedLabel(existing, created=False)


@db_transaction.atomic
def feedback_label_record(
    *, request: LabelRequest, client: AbstractBaseUser, idempotency_key: str | None = None
) -> RecordedLabel:
    """Store the client's label, or return the stored one this request repeats (see the
    module's rules); IdempotencyConflict when the key belongs to another label."""
    # one writer of this transaction's labels at a time
    list(Transaction.objects.select_for_update().filter(pk=request.txn.pk).values_list("pk"))
    if idempotency_key:
        existing = _keyed_label(client, idempotency_key)
        if existing is not None:
            return _replay(request, existing, idempotency_key)
    if request.known_at is not None:
        same_fact = (
            FeedbackLabel.objects.select_related("transaction", "created_by")
            .filter(
                transaction=request.txn,
                is_fraud=request.is_fraud,
                source=request.source,
                known_at=request.known_at,
            )
            .order_by("id")
            .first()
        )
        if same_fact is not None:
            return RecordedLabel(same_fact, created=False)
    try:
        with db_transaction.atomic():
            label = FeedbackLabel.objects.create(
                transaction=request.txn,
                is_fraud=request.is_fraud,
                source=request.source,
                known_at=request.known_at or timezone.now(),
                created_by=client,
                note=request.note,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # the same key stored a moment ago by a request for another transaction
        existing = _keyed_label(client, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _replay(request, existing, idempotency_key)
    return RecordedLabel(label, created=True)
