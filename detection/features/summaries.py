"""Account feature summaries: an account's history in the form the next real-time
decision needs, stored in `AccountFeatureSummary` so that a decision reads one row
instead of the account's whole history.

A summary holds the running aggregates (count, mean and spread terms, maximum, month to
date, countries, counterparties and channels seen) and the transactions of the 24 hours
up to the newest one, which is all `AccountHistory.features_for` reads for a transaction
at or after the newest (see `AccountHistory.trim`). The features built from it are the
ones the whole history gives, to the last bit: the same sums in the same order (a test
compares them).

Trust: a summary names the stored transactions it covers by their count and id sum (ids
are never reused). The real-time statement compares both with the account's stored
transactions before the new one (their totals, kept by triggers: account_totals.py;
counted only when a stored one lies after the new one), so a summary left behind by a
batch import, a deletion or a transaction arriving out of time order is ignored and the
history is read instead; the decision then writes a fresh summary. The time zone, the
customer's home country and the summary format are checked as well (`decode`). An edit
that keeps the count and id sum (an amended amount, a renamed counterparty) deletes the
summaries it touches (`forget_summaries_after_edit`). Real-time decisions write summaries
under the account's row lock, in the statement that stores the transaction;
`rebuild_summaries` writes them from one snapshot, so that a summary it overwrites at
worst no longer matches and is rebuilt.
"""

from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from django.db import connection

from detection.features.clock import bank_time_zone, zone
from detection.features.history import AccountHistory, FeatureTxn
from detection.features.spec import FEATURE_SPEC_HASH
from secureflow.core import fast_json

if TYPE_CHECKING:  # realtime imports this module
    from detection.features.realtime import LiveAccountState

# Bump when the summary's content or the history arithmetic changes: older summaries are
# then ignored and rebuilt.
SUMMARY_FORMAT = 1
REBUILD_CHUNK_ACCOUNTS = 500


def encode(history: AccountHistory, *, home_country: str, tz_name: str) -> str:
    """The summary text of `history` (trimmed in place to what later decisions read)."""
    values: dict[str, Any] = {
        "format": SUMMARY_FORMAT,
        "spec": FEATURE_SPEC_HASH,
        "tz": tz_name,
        "home": home_country,
    }
    values.update(history.to_summary())
    return fast_json.dumps(values)


def decode(text: str, *, home_country: str, tz_name: str) -> AccountHistory | None:
    """The history in a summary, or None when it was made under another format, feature
    spec, time zone or home country (or cannot be read)."""
    try:
        values = fast_json.loads(text)
    except ValueError:
        return None
    if not isinstance(values, dict) or (
        values.get("format"),
        values.get("spec"),
        values.get("tz"),
        values.get("home"),
    ) != (SUMMARY_FORMAT, FEATURE_SPEC_HASH, tz_name, home_country):
        return None
    try:
        return AccountHistory.from_summary(values, tz=zone(tz_name))
    except (KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class SummaryWrite:
    """The summary to store with a new transaction: it covers the `transaction_count`
    stored transactions whose ids sum to `id_sum_before` plus the new transaction's id
    (known only when it is inserted)."""

    transaction_count: int
    id_sum_before: int
    state: str


def summary_after(state: "LiveAccountState", txn: FeatureTxn) -> SummaryWrite:
    """The account's summary once `txn` (the transaction just scored from `state`) is
    stored."""
    history = state.history
    history.append(txn)
    return SummaryWrite(
        transaction_count=state.transaction_count + 1,
        id_sum_before=state.transaction_id_sum,
        state=encode(history, home_country=state.home_country, tz_name=state.tz_name),
    )


def rebuild_summaries(*, account_ids: list[int] | None = None, tz: str | None = None) -> int:
    """Write the summary of every account (or of `account_ids`) from its stored history;
    returns how many were written. For after a bulk load, so that the first real-time
    decision of each account reads its summary (without it, that decision reads the
    history and writes the summary itself). PostgreSQL only; 0 elsewhere."""
    if connection.vendor != "postgresql":
        return 0
    from detection.models import AccountFeatureSummary
    from transactions.models import Account, Transaction

    tz_name = bank_time_zone(tz)
    accounts = Account.objects.order_by("id")
    if account_ids is not None:
        accounts = accounts.filter(id__in=account_ids)
    homes = {
        pk: (home or "").strip().upper()
        for pk, home in accounts.values_list("id", "customer__home_country")
    }
    ids = sorted(homes)
    written = 0
    for start in range(0, len(ids), REBUILD_CHUNK_ACCOUNTS):
        rows = (
            Transaction.objects.filter(account_id__in=ids[start : start + REBUILD_CHUNK_ACCOUNTS])
            .order_by("account_id", "occurred_at", "id")
            .values_list(
                "account_id",
                "id",
                "occurred_at",
                "amount",
                "country",
                "channel",
                "counterparty__identifier",
            )
            .iterator(chunk_size=5000)
        )
        made = []
        for account_id, account_rows in groupby(rows, key=itemgetter(0)):
            history = AccountHistory(tz=zone(tz_name))
            count = id_sum = 0
            for _, txn_id, occurred_at, amount, country, channel, counterparty in account_rows:
                history.append(
                    FeatureTxn.build(
                        occurred_at=occurred_at,
                        account=account_id,
                        amount=float(amount),
                        country=country,
                        channel=channel,
                        home_country=homes[account_id],
                        counterparty=counterparty,
                    )
                )
                count += 1
                id_sum += txn_id
            made.append(
                AccountFeatureSummary(
                    account_id=account_id,
                    transaction_count=count,
                    transaction_id_sum=id_sum,
                    state=encode(history, home_country=homes[account_id], tz_name=tz_name),
                )
            )
        AccountFeatureSummary.objects.bulk_create(
            made,
            update_conflicts=True,
            unique_fields=["account"],
            update_fields=["transaction_count", "transaction_id_sum", "state", "updated_at"],
        )
        written += len(made)
    return written


# Fields of stored transactions that the summaries hold (in aggregates or as they were).
SUMMARISED_TRANSACTION_FIELDS = frozenset(
    {"occurred_at", "amount", "country", "channel", "counterparty", "counterparty_id"}
)


def forget_summaries_after_edit(
    sender: type, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    """post_save of a Transaction or Counterparty: an edit of what a summary holds (an
    amount changed in the admin, a counterparty renamed) keeps the count and id sum the
    summary is checked against, so the summaries it touches are deleted; the next decision
    of those accounts reads their history. Inserts and status changes keep them."""
    from detection.models import AccountFeatureSummary
    from transactions.models import Transaction

    if created:
        return
    if sender is Transaction:
        if update_fields is not None and not (set(update_fields) & SUMMARISED_TRANSACTION_FIELDS):
            return
        AccountFeatureSummary.objects.filter(account_id=instance.account_id).delete()
    elif update_fields is None or "identifier" in update_fields:
        paid_from = Transaction.objects.filter(counterparty_id=instance.pk).values("account_id")
        AccountFeatureSummary.objects.filter(account_id__in=paid_from).delete()
