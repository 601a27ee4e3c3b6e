"""The transaction list as CSV: one line per transaction with its decision and case."""

from collections.abc import Iterator

from django.db.models import QuerySet

from transactions.batches.results import REASON_SEPARATOR

EXPORT_MAX_ROWS = 100_000  # the newest rows matching; narrow the filters for older ones
EXPORT_COLUMNS = (
    "id",
    "timestamp",
    "customer",
    "account",
    "counterparty",
    "amount",
    "currency",
    "transfer_type",
    "channel",
    "country",
    "risk_score",
    "outcome",
    "reasons",
    "status",
    "case",
)
_FIELDS = (
    "external_id",
    "occurred_at",
    "account__customer__external_id",
    "account__number",
    "counterparty__identifier",
    "amount",
    "currency",
    "transfer_type",
    "channel",
    "country",
    "score__risk_score",
    "score__outcome",
    "score__reasons",
    "status",
    "case__id",
)
CHUNK_ROWS = 2000


def export_records(transactions: QuerySet) -> Iterator[tuple]:
    """The CSV records of `transactions` (in their order), read in chunks."""
    for (
        external_id,
        occurred_at,
        customer,
        account,
        counterparty,
        amount,
        currency,
        transfer_type,
        channel,
        country,
        risk_score,
        outcome,
        reasons,
        status,
        case_id,
    ) in transactions.values_list(*_FIELDS).iterator(chunk_size=CHUNK_ROWS):
        yield (
            external_id,
            occurred_at.isoformat(),
            customer,
            account,
            counterparty or "",
            amount,
            currency,
            transfer_type,
            channel,
            country,
            "" if risk_score is None else f"{risk_score:.6f}",
            outcome or "",
            REASON_SEPARATOR.join(reasons or []),
            status,
            "" if case_id is None else case_id,
        )
