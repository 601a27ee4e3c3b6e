"""Real-time features from the database: load history, build one transaction's vector.

History always comes from stored transactions (indexes account+time and
counterparty+time), never from a web session. A transaction already saved is scored
against the transactions before it: earlier `occurred_at`, or the same `occurred_at`
and a smaller id.

Fraud labels on a counterparty's transactions come from feedback labels (known at their
`known_at`) and, for transactions without feedback, from the label supplied with the data
(`source_label`, known at transaction time + the label delay).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np
from django.db import connection
from django.db.models import Q

from detection.features import summaries
from detection.features.clock import (
    bank_time_zone,
    datetime_to_ns,
    label_delay_ns,
    ns_to_datetime,
    zone,
)
from detection.features.history import (
    AccountHistory,
    CounterpartyCounts,
    CounterpartyState,
    FeatureTxn,
)
from detection.features.spec import (
    COUNTERPARTY_SENDERS_CAP,
    COUNTERPARTY_WINDOW_NS,
    DEFAULT_LABEL_DELAY_DAYS,
)
from detection.models import AccountFeatureSummary, AccountTransactionTotal, CounterpartyDayCount
from secureflow.core.prepared import PreparedStatement
from transactions.models import Account, Counterparty, Transaction

LabelSource = Literal["data", "feedback", "both"]
UNSAVED_ID = 2**62


def _before(before: datetime, before_id: int | None, prefix: str = "") -> Q:
    """Transactions before `before` (ties: ids below `before_id`); `prefix` reaches them
    through a relation (e.g. "transaction__")."""
    if before_id is None:
        return Q((f"{prefix}occurred_at__lt", before))
    if before_id >= UNSAVED_ID:  # after everything stored: one index range, no OR
        return Q((f"{prefix}occurred_at__lte", before))
    return Q((f"{prefix}occurred_at__lt", before)) | Q(
        (f"{prefix}occurred_at", before), (f"{prefix}id__lt", before_id)
    )


def _normal_country(value: str | None) -> str:
    return (value or "").strip().upper()


def feature_txn(txn: Transaction) -> FeatureTxn:
    """A stored (or about to be stored) transaction as the feature code sees it."""
    counterparty = txn.counterparty
    return FeatureTxn.build(
        occurred_at=txn.occurred_at,
        account=txn.account_id,
        amount=float(txn.amount),
        transfer_type=txn.transfer_type,
        country=txn.country,
        channel=txn.channel,
        home_country=txn.account.customer.home_country,
        counterparty=counterparty.identifier if counterparty else "",
        counterparty_country=counterparty.country if counterparty else "",
    )


def load_account_history(
    *,
    account_id: int,
    before: datetime,
    before_id: int | None = None,
    tz: str | None = None,
    home_country: str | None = None,
) -> AccountHistory:
    """The account's whole history before `before` (ties: ids below `before_id`), in one
    indexed query (account, time) of the columns the features need. `home_country` is the
    customer's (read from the database when not given)."""
    if home_country is None:
        home_country = (
            Account.objects.filter(id=account_id)
            .values_list("customer__home_country", flat=True)
            .first()
        )
    home_country = _normal_country(home_country)
    rows = (
        Transaction.objects.filter(_before(before, before_id), account_id=account_id)
        .order_by("occurred_at", "id")
        .values_list(
            "occurred_at",
            "amount",
            "transfer_type",
            "country",
            "channel",
            "counterparty__identifier",
        )
    )
    history = AccountHistory(tz=zone(bank_time_zone(tz)))
    append = history.append
    # (the history keeps no counterparty country: only the current transaction's counts)
    for occurred_at, amount, transfer_type, country, channel, cp in rows:
        append(
            FeatureTxn(
                datetime_to_ns(occurred_at),
                account_id,
                float(amount),
                transfer_type.strip().upper(),
                country.strip().upper(),
                channel.strip().lower(),
                home_country,
                (cp or "").strip(),
                "",
            )
        )
    return history


def counterparty_fraud_known_times(
    *,
    counterparty_id: int,
    before: datetime,
    before_id: int | None = None,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    label_source: LabelSource = "both",
) -> list[int]:
    """When fraud on each prior transaction to the counterparty became known (epoch ns).

    A transaction with feedback labels counts when its newest label says fraud, known at
    its first fraud label; one without feedback counts when its data label says fraud."""
    delay = label_delay_ns(label_delay_days)
    prior = Transaction.objects.filter(_before(before, before_id), counterparty_id=counterparty_id)
    known: dict[int, int] = {}
    if label_source in ("data", "both"):
        for txn_id, occurred_at in prior.filter(source_label=True).values_list("id", "occurred_at"):
            known[txn_id] = datetime_to_ns(occurred_at) + delay
    if label_source in ("feedback", "both"):
        _apply_feedback_labels(
            known, counterparty_id=counterparty_id, before=before, before_id=before_id
        )
    return sorted(known.values())


def _apply_feedback_labels(
    known: dict[int, int], *, counterparty_id: int, before: datetime, before_id: int | None
) -> None:
    """Let feedback labels on the counterparty's prior transactions decide `known`
    (transaction id -> when fraud became known): the newest label says whether it is
    fraud, the first fraud label when that became known."""
    from cases.models import FeedbackLabel

    # from the (small) label table, joined to the counterparty's prior transactions
    labels = (
        FeedbackLabel.objects.filter(
            _before(before, before_id, prefix="transaction__"),
            transaction__counterparty_id=counterparty_id,
        )
        .order_by("transaction_id", "known_at", "id")
        .values_list("transaction_id", "is_fraud", "known_at")
    )
    first_fraud: dict[int, int] = {}
    latest: dict[int, bool] = {}
    for txn_id, is_fraud, known_at in labels:
        latest[txn_id] = is_fraud
        if is_fraud and txn_id not in first_fraud:
            first_fraud[txn_id] = datetime_to_ns(known_at)
    for txn_id, is_fraud in latest.items():
        if is_fraud:
            known[txn_id] = first_fraud[txn_id]
        else:
            known.pop(txn_id, None)


def load_counterparty_state(
    *,
    counterparty_id: int,
    before: datetime,
    before_id: int | None = None,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    label_source: LabelSource = "both",
) -> CounterpartyState:
    """Recent senders, prior count and known fraud labels of one counterparty.

    Three queries: the recent transactions together with the data-labelled fraud ones,
    the count of the older ones, and the feedback labels."""
    delay = label_delay_ns(label_delay_days)
    span_ns = max(COUNTERPARTY_WINDOW_NS, delay)
    cutoff = before - timedelta(microseconds=span_ns // 1000)
    prior = Transaction.objects.filter(_before(before, before_id), counterparty_id=counterparty_id)
    with_data_labels = label_source in ("data", "both")
    wanted = Q(occurred_at__gt=cutoff)
    if with_data_labels:
        wanted |= Q(source_label=True)
    rows = (
        prior.filter(wanted)
        .order_by("occurred_at", "id")
        .values_list("id", "occurred_at", "account_id", "source_label")
    )
    times: list[int] = []
    senders: list[int] = []
    known: dict[int, int] = {}
    for txn_id, occurred_at, account_id, source_label in rows:
        ts = datetime_to_ns(occurred_at)
        if occurred_at > cutoff:
            times.append(ts)
            senders.append(account_id)
        if with_data_labels and source_label:
            known[txn_id] = ts + delay
    if label_source in ("feedback", "both"):
        _apply_feedback_labels(
            known, counterparty_id=counterparty_id, before=before, before_id=before_id
        )
    return CounterpartyState(
        times=times,
        senders=senders,
        n_older=prior.filter(occurred_at__lte=cutoff).count(),
        fraud_known=sorted(known.values()),
    )


# -- PostgreSQL: everything the features need in one round trip ------------------------
# Row sets tagged by the first column:
#   0  the account's prior transactions: a = epoch µs, b = id, amount, country, channel,
#      counterparty identifier;
#   2  one row of counts over the counterparty's prior transactions: a = all of them,
#      b = the matured ones (old enough for a label to be known), c = distinct other
#      accounts that paid it in the last 7 days, up to COUNTERPARTY_SENDERS_CAP. The first
#      two come from its per-day counts (detection/features/counterparty_days.py): the
#      days before the cut's UTC day, plus that day's count less its payments after the
#      cut (none for a new transaction: no payments are read). The matured cut's own day
#      is counted from whichever side of the cut holds fewer hours. The senders are
#      counted in the window's newest _SENDERS_ROWS payments first: when those hold the
#      whole window, or already the cap of senders, that is the answer, and a busy
#      payee's window (100,000 payments a week) is not read whole for every decision.
#      Only a window longer than that with fewer senders than the cap is counted whole;
#   3  one row: a = how many of its prior transactions were known to be fraud before the
#      new one's time. A transaction with feedback labels counts when its newest label
#      (by known-at, then id) says fraud and its first fraud label was known before then;
#      one without counts when labelled fraud in the data and occurred + the label delay
#      lies before then. The labels are found by the counterparty each carries
#      (cases/label_counterparties.py) and read from its index (label_counterparty_verdicts:
#      each transaction's labels in known-at order), those on its transactions after the
#      cut (for a new transaction: none) left out, so no label is joined to its
#      transaction: a payee with thousands of chargebacks sends one row, not thousands;
#   4  (new transactions only) the account's stored transactions: a = their count, b = the
#      sum of their ids, identifier = the account's feature summary when it covers exactly
#      those; rows 0 are then left out.
# Counting in the database keeps a popular counterparty (thousands of payments a week)
# from sending every row to Python, and the per-day counts keep the cost from growing with
# its history: a count reads one row per day with payments and at most one day of
# transactions (for a new transaction, half a day at most).
# Times come as epoch microseconds (exact: extract() is numeric) and amounts as float8
# (numeric -> float8 rounds to the nearest double, as float(Decimal) does), so that no
# datetime or Decimal is built per row. Raw SQL, run as a
# prepared statement; the ORM functions above stay the reference (the tests compare both).
_PG_ACCOUNT_ROWS_SQL = """
SELECT 0, (extract(epoch FROM t.occurred_at) * 1000000)::bigint, t.id, NULL::bigint,
       t.amount::float8, t.country, t.channel,
       (SELECT c.identifier FROM {cp} c WHERE c.id = t.counterparty_id), NULL::boolean
  FROM {txn} t
 WHERE t.account_id = %(account)s AND {before}"""
_PG_COUNTERPARTY_SQL = """
SELECT 2, coalesce(days.before_day, 0) + coalesce(days.on_day, 0) - recent.after_cut,
       coalesce(days.before_matured_day, 0) + matured.on_day, senders.others,
       NULL, NULL, NULL, NULL, NULL
  FROM (SELECT sum(d.transactions) FILTER (WHERE d.day < %(before_day)s) AS before_day,
               sum(d.transactions) FILTER (WHERE d.day = %(before_day)s) AS on_day,
               sum(d.transactions) FILTER (WHERE d.day < %(matured_day)s) AS before_matured_day,
               sum(d.transactions) FILTER (WHERE d.day = %(matured_day)s) AS on_matured_day
          FROM {days} d
         WHERE d.counterparty_id = %(counterparty)s AND d.day <= %(before_day)s) AS days,
       (SELECT count(*) AS after_cut
          FROM {txn} t
         WHERE t.counterparty_id = %(counterparty)s AND {after}
           AND t.occurred_at < %(before_day_end)s) AS recent,
       (SELECT CASE WHEN newest.payments < {senders_rows} OR newest.others >= {senders_cap}
                    THEN least(newest.others, {senders_cap})
                    ELSE (SELECT least(count(DISTINCT t.account_id), {senders_cap})
                            FROM {txn} t
                           WHERE t.counterparty_id = %(counterparty)s
                             AND t.occurred_at > %(window_start)s AND {before}
                             AND t.account_id <> %(account)s)
               END AS others
          FROM (SELECT count(*) AS payments,
                       count(DISTINCT s.account_id) FILTER (WHERE s.account_id <> %(account)s)
                           AS others
                  FROM (SELECT t.account_id
                          FROM {txn} t
                         WHERE t.counterparty_id = %(counterparty)s
                           AND t.occurred_at > %(window_start)s AND {before}
                         ORDER BY t.occurred_at DESC
                         LIMIT {senders_rows}) AS s) AS newest) AS senders,
       LATERAL (SELECT CASE WHEN %(matured_late)s
                    THEN coalesce(days.on_matured_day, 0)
                         - (SELECT count(*)
                              FROM {txn} t
                             WHERE t.counterparty_id = %(counterparty)s
                               AND t.occurred_at > %(matured_until)s
                               AND t.occurred_at < %(matured_day_end)s)
                    ELSE (SELECT count(*)
                            FROM {txn} t
                           WHERE t.counterparty_id = %(counterparty)s
                             AND t.occurred_at >= %(matured_day_start)s
                             AND t.occurred_at <= %(matured_until)s)
               END AS on_day) AS matured
UNION ALL
SELECT 3,
       (SELECT count(*)
          FROM {txn} t
         WHERE %(data_labels)s AND t.counterparty_id = %(counterparty)s AND {before}
           AND t.source_label
           AND (extract(epoch FROM t.occurred_at) * 1000000)::bigint * 1000 + %(delay_ns)s
               < %(before_ns)s
           AND NOT (%(feedback)s AND EXISTS (SELECT 1 FROM {label} f
                                              WHERE f.transaction_id = t.id
                                                AND f.counterparty_id = %(counterparty)s)))
       + (SELECT count(*)
            FROM (SELECT DISTINCT ON (f.transaction_id) f.transaction_id, f.is_fraud
                    FROM {label} f
                   WHERE %(feedback)s AND f.counterparty_id = %(counterparty)s
                     AND f.transaction_id NOT IN (SELECT t.id
                                                    FROM {txn} t
                                                   WHERE t.counterparty_id = %(counterparty)s
                                                     AND {after})
                   ORDER BY f.transaction_id DESC, f.known_at DESC, f.id DESC) AS newest
           WHERE newest.is_fraud
             AND (SELECT (extract(epoch FROM min(f.known_at)) * 1000000)::bigint * 1000
                    FROM {label} f
                   WHERE f.counterparty_id = %(counterparty)s
                     AND f.transaction_id = newest.transaction_id AND f.is_fraud)
                 < %(before_ns)s),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL
"""
_PG_FEATURE_SQL = _PG_ACCOUNT_ROWS_SQL + "\nUNION ALL" + _PG_COUNTERPARTY_SQL
# A new transaction (after every stored one of its account): the summary when it covers
# the stored transactions, else the rows. The account's stored transactions before the new
# one are counted and their ids summed from its totals (account_totals.py), and counted
# only when some stored transaction lies after the new one (arrived out of time order).
_PG_SUMMARY_HEAD = """
WITH later AS (
    SELECT EXISTS (SELECT 1 FROM {txn} t WHERE t.account_id = %(account)s AND {after}) AS any
), live AS (
    SELECT kept.n, kept.ids
      FROM later,
           LATERAL (SELECT coalesce(sum(a.transactions), 0) AS n,
                           coalesce(sum(a.id_sum), 0) AS ids
                      FROM {totals} a
                     WHERE NOT later.any AND a.account_id = %(account)s) AS kept
     WHERE NOT later.any
    UNION ALL
    SELECT counted.n, counted.ids
      FROM later,
           LATERAL (SELECT count(*) AS n, coalesce(sum(t.id), 0) AS ids
                      FROM {txn} t
                     WHERE later.any AND t.account_id = %(account)s AND {before}) AS counted
     WHERE later.any
), summary AS (
    SELECT s.state
      FROM {summary} s, live
     WHERE s.account_id = %(account)s AND s.transaction_count = live.n
       AND s.transaction_id_sum = live.ids
)
SELECT 4, live.n, live.ids::bigint, NULL::bigint, NULL::float8, NULL::text, NULL::text,
       (SELECT state FROM summary), NULL::boolean
  FROM live
UNION ALL"""
_PG_SUMMARY_SQL = "".join(
    (
        _PG_SUMMARY_HEAD,
        _PG_ACCOUNT_ROWS_SQL,
        " AND NOT EXISTS (SELECT 1 FROM summary)\nUNION ALL",
        _PG_COUNTERPARTY_SQL,
    )
)
_PG_BEFORE = {
    "lt": "t.occurred_at < %(before)s",
    "lte": "t.occurred_at <= %(before)s",
    "tie": "(t.occurred_at < %(before)s OR (t.occurred_at = %(before)s AND t.id < %(before_id)s))",
}
# payments read first for the distinct senders (row 2): ten per sender up to the cap
_SENDERS_ROWS = 10 * COUNTERPARTY_SENDERS_CAP
# The rows a `_PG_BEFORE` kind leaves out, written so that the index bounds the range.
_PG_AFTER = {
    "lt": "t.occurred_at >= %(before)s",
    "lte": "t.occurred_at > %(before)s",
    "tie": "t.occurred_at >= %(before)s AND (t.occurred_at > %(before)s OR t.id >= %(before_id)s)",
}
_pg_statements: dict[str, PreparedStatement] = {}
_MICROSECOND = timedelta(microseconds=1)


def _pg_feature_statement(kind: str) -> PreparedStatement:
    """The feature statement for a `_PG_BEFORE` kind, or "summary" (new transactions)."""
    statement = _pg_statements.get(kind)
    if statement is None:
        from cases.models import FeedbackLabel

        template = _PG_SUMMARY_SQL if kind == "summary" else _PG_FEATURE_SQL
        sql = template.format(
            txn=Transaction._meta.db_table,
            cp=Counterparty._meta.db_table,
            label=FeedbackLabel._meta.db_table,
            summary=AccountFeatureSummary._meta.db_table,
            days=CounterpartyDayCount._meta.db_table,
            totals=AccountTransactionTotal._meta.db_table,
            before=_PG_BEFORE["lte" if kind == "summary" else kind],
            after=_PG_AFTER["lte" if kind == "summary" else kind],
            senders_cap=COUNTERPARTY_SENDERS_CAP,
            senders_rows=_SENDERS_ROWS,
        )
        statement = _pg_statements[kind] = PreparedStatement(f"secureflow_features_{kind}", sql)
    return statement


@dataclass(slots=True)
class LiveAccountState:
    """What the features of a new transaction were built from: the account's history
    (from its summary when that was current), the counterparty's counts, and the stored
    transactions the history covers (their count and id sum, for the next summary)."""

    history: AccountHistory
    counterparty: CounterpartyCounts | None
    transaction_count: int
    transaction_id_sum: int
    home_country: str
    tz_name: str


def _utc_day(moment: datetime) -> date:
    """The UTC day of `moment`, as the per-day counts file it."""
    return moment.astimezone(UTC).date()


def _feature_params(
    *,
    account_id: int,
    counterparty_id: int | None,
    before: datetime,
    before_id: int | None,
    label_delay_days: float,
    label_source: LabelSource,
) -> dict:
    delay = label_delay_ns(label_delay_days)
    before_ns = datetime_to_ns(before)
    # CounterpartyState.fill's cuts, at the database's microsecond resolution: matured
    # means at or before `before - delay` (with no delay: strictly before `before`);
    # the 7-day window holds the ones strictly after `before - 7 days`.
    matured_until = ns_to_datetime(before_ns - delay) if delay > 0 else before - _MICROSECOND
    before_day, matured_day = _utc_day(before), _utc_day(matured_until)
    matured_day_start = datetime.combine(matured_day, time(), UTC)
    return {
        "account": account_id,
        "counterparty": counterparty_id,
        "before": before,
        "before_id": before_id,
        "before_day": before_day,
        "before_day_end": datetime.combine(before_day + timedelta(days=1), time(), UTC),
        "matured_until": matured_until,
        "matured_day": matured_day,
        "matured_day_start": matured_day_start,
        "matured_day_end": matured_day_start + timedelta(days=1),
        # past noon, the day's rows after the cut are the fewer: count them, subtract
        "matured_late": matured_until - matured_day_start >= timedelta(hours=12),
        "window_start": ns_to_datetime(before_ns - COUNTERPARTY_WINDOW_NS),
        "before_ns": before_ns,
        "delay_ns": delay,
        "data_labels": label_source in ("data", "both") and counterparty_id is not None,
        "feedback": label_source in ("feedback", "both") and counterparty_id is not None,
    }


def _run_feature_statement(kind: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        _pg_feature_statement(kind).execute(cursor, params)
        return cursor.fetchall()


def _history_from_rows(own: list[tuple], *, home_country: str, tz_name: str) -> AccountHistory:
    """An account's history from its rows 0 (any order)."""
    history = AccountHistory(tz=zone(tz_name))
    own.sort(key=lambda r: (r[1], r[2]))
    # few distinct values per account: normalise each once (as FeatureTxn.build does)
    countries = {r[5]: "" for r in own}
    channels = {r[6]: "" for r in own}
    for value in countries:
        countries[value] = value.strip().upper()
    for value in channels:
        channels[value] = value.strip().lower()
    history.extend_values(
        [r[1] * 1000 for r in own],
        [r[4] for r in own],
        [countries[r[5]] for r in own],
        [channels[r[6]] for r in own],
        [(r[7] or "").strip() for r in own],
        home_country,
    )
    return history


def _counterparty_from_rows(
    tagged: dict[int, list[tuple]], *, account_id: int, before: datetime, label_delay_days: float
) -> CounterpartyCounts:
    """The counterparty's figures from rows 2 and 3 of the feature statement."""
    _, prior, matured, others, *_rest = tagged[2][0]
    return CounterpartyCounts(
        ts=datetime_to_ns(before),
        sender=account_id,
        delay_ns=label_delay_ns(label_delay_days),
        prior_count=prior,
        matured_count=matured,
        distinct_other_senders=others,
        fraud_count=tagged[3][0][1],
    )


def _split_rows(rows: list[tuple]) -> dict[int, list[tuple]]:
    tagged: dict[int, list[tuple]] = {0: [], 2: [], 3: [], 4: []}
    for row in rows:
        tagged[row[0]].append(row)
    return tagged


def _load_state_postgresql(
    *,
    account_id: int,
    counterparty_id: int | None,
    before: datetime,
    before_id: int | None,
    home_country: str,
    label_delay_days: float,
    label_source: LabelSource,
    tz: str | None,
) -> tuple[AccountHistory, CounterpartyCounts | None]:
    """load_account_history + the counterparty's figures for a transaction of this
    account at `before`, in one query (PostgreSQL)."""
    if before_id is None:
        kind = "lt"
    elif before_id >= UNSAVED_ID:
        kind = "lte"
    else:
        kind = "tie"
    params = _feature_params(
        account_id=account_id,
        counterparty_id=counterparty_id,
        before=before,
        before_id=before_id,
        label_delay_days=label_delay_days,
        label_source=label_source,
    )
    tagged = _split_rows(_run_feature_statement(kind, params))
    history = _history_from_rows(
        tagged[0], home_country=_normal_country(home_country), tz_name=bank_time_zone(tz)
    )
    if counterparty_id is None:
        return history, None
    return history, _counterparty_from_rows(
        tagged, account_id=account_id, before=before, label_delay_days=label_delay_days
    )


def load_live_state_postgresql(
    *,
    account_id: int,
    counterparty_id: int | None,
    before: datetime,
    home_country: str,
    label_delay_days: float,
    label_source: LabelSource,
    tz: str | None,
) -> LiveAccountState:
    """`_load_state_postgresql` for a new transaction at `before` (after every stored one
    at that time), reading the account's summary instead of its rows when the summary
    covers exactly the stored transactions before `before` (summaries.py)."""
    home = _normal_country(home_country)
    tz_name = bank_time_zone(tz)
    params = _feature_params(
        account_id=account_id,
        counterparty_id=counterparty_id,
        before=before,
        before_id=UNSAVED_ID,
        label_delay_days=label_delay_days,
        label_source=label_source,
    )
    tagged = _split_rows(_run_feature_statement("summary", params))
    _, count, id_sum, *_rest, summary, _flag = tagged[4][0]
    history = None
    if summary is not None:
        history = summaries.decode(summary, home_country=home, tz_name=tz_name)
        if history is None:  # another format, zone or home country: read the rows
            tagged[0] = [row for row in _run_feature_statement("lte", params) if row[0] == 0]
    if history is None:
        history = _history_from_rows(tagged[0], home_country=home, tz_name=tz_name)
    counterparty = None
    if counterparty_id is not None:
        counterparty = _counterparty_from_rows(
            tagged, account_id=account_id, before=before, label_delay_days=label_delay_days
        )
    return LiveAccountState(history, counterparty, count, id_sum, home, tz_name)


def features_for_new_transaction(
    txn: Transaction,
    *,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    label_source: LabelSource = "both",
    tz: str | None = None,
) -> tuple[np.ndarray, LiveAccountState | None]:
    """The features of an unsaved transaction (scored after every stored one of its
    account), and on PostgreSQL the state they came from, from which
    `summaries.summary_after` makes the account's next summary."""
    if txn.pk is not None:
        raise ValueError("features_for_new_transaction takes an unsaved transaction")
    if connection.vendor != "postgresql":
        return features_for_transaction(
            txn, label_delay_days=label_delay_days, label_source=label_source, tz=tz
        ), None
    state = load_live_state_postgresql(
        account_id=txn.account_id,
        counterparty_id=txn.counterparty_id,
        before=txn.occurred_at,
        home_country=txn.account.customer.home_country,
        label_delay_days=label_delay_days,
        label_source=label_source,
        tz=tz,
    )
    x = state.history.features_for(
        feature_txn(txn), state.counterparty, label_delay_days=label_delay_days
    )
    return x, state


def features_for_transaction(
    txn: Transaction,
    *,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    label_source: LabelSource = "both",
    tz: str | None = None,
) -> np.ndarray:
    """The feature vector of one transaction (saved or not) from stored history."""
    # an unsaved transaction comes after everything stored at the same time
    before_id = txn.pk if txn.pk is not None else UNSAVED_ID
    if connection.vendor == "postgresql":
        if txn.pk is None:
            return features_for_new_transaction(
                txn, label_delay_days=label_delay_days, label_source=label_source, tz=tz
            )[0]
        history, counterparty = _load_state_postgresql(
            account_id=txn.account_id,
            counterparty_id=txn.counterparty_id,
            before=txn.occurred_at,
            before_id=before_id,
            home_country=txn.account.customer.home_country,
            label_delay_days=label_delay_days,
            label_source=label_source,
            tz=tz,
        )
        return history.features_for(
            feature_txn(txn), counterparty, label_delay_days=label_delay_days
        )
    history = load_account_history(
        account_id=txn.account_id,
        before=txn.occurred_at,
        before_id=before_id,
        tz=tz,
        home_country=txn.account.customer.home_country,
    )
    counterparty = None
    if txn.counterparty_id is not None:
        counterparty = load_counterparty_state(
            counterparty_id=txn.counterparty_id,
            before=txn.occurred_at,
            before_id=before_id,
            label_delay_days=label_delay_days,
            label_source=label_source,
        )
    return history.features_for(feature_txn(txn), counterparty, label_delay_days=label_delay_days)
