"""Reads for batches: who sees which batch, progress, and the rows a batch imported."""

from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from secureflow.core import roles
from transactions.batches.results import result_record
from transactions.models import ImportBatch, ImportMapping, Transaction

RESULT_FIELDS = (
    "external_id",
    "occurred_at",
    "account__number",
    "amount",
    "currency",
    "score__risk_score",
    "score__outcome",
    "score__reasons",
    "status",
)


def batches_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ImportBatch]:
    """Admins see every batch; investigators see their own."""
    batches = ImportBatch.objects.select_related("owner").order_by("-created_at", "-id")
    return roles.owned_rows_visible_to(batches, user)


def batch_transactions(batch: ImportBatch) -> QuerySet[Transaction]:
    """The transactions the batch imported, with their decisions, in import order."""
    return (
        Transaction.objects.filter(import_batch=batch)
        .select_related("account", "score")
        .order_by("id")
    )


def batch_result_records(
    batch: ImportBatch,
    *,
    queryset: QuerySet[Transaction] | None = None,
    chunk_size: int = 5_000,
) -> Iterator[tuple]:
    """Rows of results.csv (results.RESULT_COLUMNS), read in chunks from the database;
    `queryset` narrows them (BatchResultFilterSet), import order unless it sorts."""
    rows = (
        (Transaction.objects.filter(import_batch=batch) if queryset is None else queryset)
        .values_list(*RESULT_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        yield result_record(*row)


def saved_mappings() -> QuerySet[ImportMapping]:
    return ImportMapping.objects.order_by("name")
