"""The dashboard's daily rollup: one DailyActivity row per bank-local day.

Why: counting a month of a million-transaction table joined to its scores takes seconds
on PostgreSQL; the dashboard reads ~30 small rows instead. A day is (re)aggregated with
one GROUP BY over the transactions (left join scores) plus one read of that day's flagged
scores (rule codes, strongest model factor), WINDOW_DAYS days per query pair.

Who keeps it fresh:

- the periodic task (tasks.py, every 30 s with celery beat) runs daily_activity_maintain:
  recent days (bank-local today and yesterday, and the newest day with data) when older
  than RECENT_SECONDS, stale days, missing days of the last BACKFILL_DAYS, and any day
  older than MAX_AGE_SECONDS (which also catches rows committed out of id order);
- a dashboard request re-aggregates only what it cannot show honestly: missing days,
  stale days, and recent days older than REQUEST_RECENT_SECONDS (no worker running);
- a day before yesterday is marked stale when a transaction or score id above the
  watermark belongs to it (late real-time submissions, bulk loads, batch imports) or when
  a stored decision is scored again in place (receivers.py); recent days follow the clock
  instead, so the busiest day is not re-aggregated on every view;
- `manage.py dashboard_rollup` builds or rebuilds any range (after loading history).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Q, Subquery, Sum
from django.db.models.functions import Floor, TruncDate
from django.utils import timezone

from detection.models import TransactionScore
from secureflow.workspace.models import DailyActivity, RollupWatermark
from transactions.models import Transaction

BINS = 20  # risk-score histogram bins of 0.05
FLAGGED = ("review", "block")
RECENT_SECONDS = 60
REQUEST_RECENT_SECONDS = 300
MAX_AGE_SECONDS = 6 * 3600
BACKFILL_DAYS = 90
MAX_DAYS_PER_RUN = 31
# Above this many new ids, marking every stored day stale is cheaper than finding the days.
WATERMARK_SCAN_LIMIT = 100_000
WATERMARK_PK = 1
WINDOW_DAYS = 7


def bank_zone() -> Any:
    return timezone.get_default_timezone()


def bank_today() -> date:
    return timezone.localdate(timezone.now(), bank_zone())


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), bank_zone())


def days_between(date_from: date, date_to: date) -> list[date]:
    return [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days as contiguous runs (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def occurred_on(days: Iterable[date], *, field: str = "occurred_at") -> Q:
    """Rows whose `field` falls on one of `days` (bank local time): one range per run."""
    condition = Q(pk__in=[])
    for first, last in _runs(days):
        condition |= Q(
            **{f"{field}__gte": day_start(first), f"{field}__lt": day_start(last + timedelta(1))}
        )
    return condition


def _empty_day(day: date) -> dict[str, Any]:
    return {
        "day": day,
        "transactions": 0,
        "scored": 0,
        "review": 0,
        "block": 0,
        "amount": Decimal("0"),
        "flagged_amount": Decimal("0"),
        "risk_histogram": [0] * BINS,
        "rule_codes": {},
        "top_factors": {},
    }


def _windows(days: list[date], size: int) -> list[list[date]]:
    return [days[i : i + size] for i in range(0, len(days), size)]


def aggregate_days(days: Iterable[date]) -> dict[date, dict[str, Any]]:
    """The rollup figures of `days`, from the live tables: two queries per WINDOW_DAYS
    days (small windows let PostgreSQL probe the scores by transaction id instead of
    hashing the whole scores table)."""
    days = sorted(set(days))
    out = {day: _empty_day(day) for day in days}
    for window in _windows(days, WINDOW_DAYS):
        _aggregate_window(window, out)
    return out


def _aggregate_window(days: list[date], out: dict[date, dict[str, Any]]) -> None:
    zone = bank_zone()
    grouped = (
        Transaction.objects.filter(occurred_on(days))
        .annotate(
            day=TruncDate("occurred_at", tzinfo=zone),
            bin=Floor(F("score__risk_score") * BINS),
        )
        .values("day", "bin", "score__outcome")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by()
    )
    for row in grouped:
        entry = out.get(row["day"])
        if entry is None:  # pragma: no cover - guarded by the range filter
            continue
        n, total = row["n"], row["total"] or Decimal("0")
        entry["transactions"] += n
        entry["amount"] += total
        outcome = row["score__outcome"]
        if outcome is None:
            continue
        entry["scored"] += n
        entry["risk_histogram"][min(max(int(row["bin"]), 0), BINS - 1)] += n
        if outcome in FLAGGED:
            entry[outcome] += n
            entry["flagged_amount"] += total
    flagged = (
        TransactionScore.objects.filter(
            occurred_on(days, field="transaction__occurred_at"), outcome__in=FLAGGED
        )
        .annotate(day=TruncDate("transaction__occurred_at", tzinfo=zone))
        .values_list("day", "rule_hits", "contributions__0__label")
    )
    codes: dict[date, Counter] = defaultdict(Counter)
    factors: dict[date, Counter] = defaultdict(Counter)
    for day, hits, factor in flagged:
        for code in {hit.get("code") for hit in hits or () if isinstance(hit, dict)}:
            if code:
                codes[day][code] += 1
        if factor:
            factors[day][factor] += 1
    for day in days:
        out[day]["rule_codes"] = dict(codes.get(day, {}))
        out[day]["top_factors"] = dict(factors.get(day, {}))


UPDATE_FIELDS = [
    "transactions",
    "scored",
    "review",
    "block",
    "amount",
    "flagged_amount",
    "risk_histogram",
    "rule_codes",
    "top_factors",
    "stale",
    "refreshed_at",
]


@transaction.atomic
def daily_activity_refresh(*, days: Iterable[date]) -> list[DailyActivity]:
    """Re-aggregate `days` from the live tables and store them (insert or update)."""
    now = timezone.now()
    rows = [
        DailyActivity(**figures, stale=False, refreshed_at=now)
        for figures in aggregate_days(days).values()
    ]
    if rows:
        DailyActivity.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["day"], update_fields=UPDATE_FIELDS
        )
    return rows


def daily_activity_mark_stale(*, days: Iterable[date]) -> int:
    days = list(set(days))
    if not days:
        return 0
    return DailyActivity.objects.filter(day__in=days, stale=False).update(stale=True)


def _days_of_new_rows(*, transaction_after: int | None, score_after: int | None) -> set[date]:
    zone = bank_zone()
    days: set[date] = set()
    if transaction_after is not None:
        days.update(
            Transaction.objects.filter(id__gt=transaction_after)
            .annotate(day=TruncDate("occurred_at", tzinfo=zone))
            .values_list("day", flat=True)
            .distinct()
        )
    if score_after is not None:
        days.update(
            TransactionScore.objects.filter(id__gt=score_after)
            .annotate(day=TruncDate("transaction__occurred_at", tzinfo=zone))
            .values_list("day", flat=True)
            .distinct()
        )
    return days


def watermark_advance() -> None:
    """Mark stale the days of transactions and scores stored since the last call.

    One query when nothing new arrived (the watermark and both newest ids together)."""
    newest_txn = Subquery(Transaction.objects.order_by("-id").values("id")[:1])
    newest_score = Subquery(TransactionScore.objects.order_by("-id").values("id")[:1])
    state = (
        RollupWatermark.objects.filter(pk=WATERMARK_PK)
        .annotate(newest_txn=newest_txn, newest_score=newest_score)
        .values("transaction_id", "score_id", "newest_txn", "newest_score")
        .first()
    )
    if state is None:
        RollupWatermark.objects.get_or_create(
            pk=WATERMARK_PK,
            defaults={
                "transaction_id": Transaction.objects.aggregate(m=Max("id"))["m"] or 0,
                "score_id": TransactionScore.objects.aggregate(m=Max("id"))["m"] or 0,
            },
        )
        # Days aggregated before the watermark existed may be behind.
        DailyActivity.objects.filter(stale=False).update(stale=True)
        return
    txn_to, score_to = state["newest_txn"] or 0, state["newest_score"] or 0
    txn_from, score_from = state["transaction_id"], state["score_id"]
    if txn_to <= txn_from and score_to <= score_from:
        return
    if (txn_to - txn_from) + (score_to - score_from) > WATERMARK_SCAN_LIMIT:
        DailyActivity.objects.filter(stale=False).update(stale=True)
    else:
        # Recent days follow the clock (RECENT_SECONDS) rather than every new row: the
        # busiest day would otherwise be re-aggregated on every view.
        first_recent = min(recent_days())
        daily_activity_mark_stale(
            days={
                day
                for day in _days_of_new_rows(
                    transaction_after=txn_from if txn_to > txn_from else None,
                    score_after=score_from if score_to > score_from else None,
                )
                if day < first_recent
            }
        )
    RollupWatermark.objects.filter(
        pk=WATERMARK_PK, transaction_id=txn_from, score_id=score_from
    ).update(transaction_id=txn_to, score_id=score_to, updated_at=timezone.now())


def newest_day() -> date | None:
    """The bank-local day of the newest transaction (the occurred_at index: one read)."""
    newest = Transaction.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)
    value = newest.first()
    return timezone.localdate(value, bank_zone()) if value else None


def recent_days() -> set[date]:
    today = bank_today()
    return {today, today - timedelta(days=1)}


def days_needing_refresh(
    rows: dict[date, DailyActivity],
    days: Iterable[date],
    *,
    recent: set[date],
    recent_seconds: float,
    max_age: float | None = None,
) -> list[date]:
    """Which of `days` to re-aggregate: missing, stale, in `recent` and older than
    `recent_seconds`, or (when `max_age` is given) older than `max_age` seconds."""
    now = timezone.now()
    recent_before = now - timedelta(seconds=recent_seconds)
    old_before = now - timedelta(seconds=max_age) if max_age is not None else None
    need = []
    for day in days:
        row = rows.get(day)
        if (
            row is None
            or row.stale
            or ((day in recent or day > max(recent)) and row.refreshed_at < recent_before)
            or (old_before is not None and row.refreshed_at < old_before)
        ):
            need.append(day)
    return need


def daily_activity(*, date_from: date, date_to: date) -> list[DailyActivity]:
    """The rollup rows of every day in the range, re-aggregating what cannot be shown
    as it is (see the module docstring)."""
    watermark_advance()
    days = days_between(date_from, date_to)
    rows = {row.day: row for row in DailyActivity.objects.filter(day__range=(date_from, date_to))}
    need = days_needing_refresh(
        rows, days, recent=recent_days(), recent_seconds=REQUEST_RECENT_SECONDS
    )
    if need:
        for row in daily_activity_refresh(days=need):
            rows[row.day] = row
    return [rows[day] for day in days]


def daily_activity_maintain(
    *, backfill_days: int = BACKFILL_DAYS, max_days: int = MAX_DAYS_PER_RUN
) -> list[date]:
    """One round of upkeep (the periodic task): take in new ids, then re-aggregate at most
    `max_days` days, most urgent first: recent, stale, missing in the last
    `backfill_days` days up to the newest data, then the oldest rows past MAX_AGE."""
    watermark_advance()
    newest = newest_day()
    recent = recent_days() | ({newest, newest - timedelta(days=1)} if newest else set())
    end = max(recent)
    window = days_between(end - timedelta(days=backfill_days - 1), end)
    rows = {row.day: row for row in DailyActivity.objects.filter(day__range=(window[0], end))}
    need = days_needing_refresh(
        rows, window, recent=recent, recent_seconds=RECENT_SECONDS, max_age=MAX_AGE_SECONDS
    )
    stale_elsewhere = list(
        DailyActivity.objects.filter(stale=True)
        .exclude(day__range=(window[0], end))
        .values_list("day", flat=True)[:max_days]
    )

    def urgency(day: date) -> tuple[int, int]:
        row = rows.get(day)
        if day in recent:
            rank = 0
        elif row is not None and row.stale:
            rank = 1
        elif row is None:
            rank = 2
        else:
            rank = 3
        return rank, -day.toordinal()

    chosen = sorted(set(need), key=urgency)[:max_days]
    chosen += stale_elsewhere[: max_days - len(chosen)]
    if chosen:
        daily_activity_refresh(days=chosen)
    return sorted(chosen)
