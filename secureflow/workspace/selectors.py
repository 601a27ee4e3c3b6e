"""Reads for the check page, the settings page and the dashboard."""

import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Avg, Count, F, Max, Min, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from detection.models import RuleLimit, RuleLimitChange
from detection.rules.defaults import DEFAULTS_BY_CODE
from detection.selectors import detection_thresholds
from secureflow.workspace import rollup
from secureflow.workspace.models import CheckAction
from transactions.models import Account, Counterparty, Transaction

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 25
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 366
DASHBOARD_CACHE_SECONDS = 15
DASHBOARD_CACHE_VERSION = 1


# -- check a transaction -------------------------------------------------------------
def account_search(*, query: str = "", selected: str = "", limit: int = SEARCH_LIMIT) -> list:
    """Accounts whose number, customer id or customer name contains `query` (all words),
    the selected account first; without a query, the first accounts by number."""
    accounts = Account.objects.select_related("customer").order_by("number")
    for word in query.split()[:5]:
        accounts = accounts.filter(
            Q(number__icontains=word)
            | Q(customer__external_id__icontains=word)
            | Q(customer__name__icontains=word)
        )
    found = list(accounts[:limit])
    if selected and all(a.number != selected for a in found):
        chosen = Account.objects.select_related("customer").filter(number=selected).first()
        if chosen is not None:
            found.insert(0, chosen)
    return found


def counterparty_search(*, query: str, limit: int = 15) -> QuerySet[Counterparty]:
    query = query.strip()
    if len(query) < 2:
        return Counterparty.objects.none()
    return Counterparty.objects.filter(
        Q(identifier__icontains=query) | Q(name__icontains=query)
    ).order_by("identifier")[:limit]


@dataclass(frozen=True)
class AccountBehaviour:
    """An account's normal behaviour before a moment, from its stored transactions."""

    count: int
    mean: float | None
    std: float | None
    largest: float | None
    first_at: datetime | None
    per_day: float | None
    month_to_date: float
    month_to_date_count: int
    currency: str


def account_behaviour(
    *, account: Account, before: datetime, before_id: int | None = None
) -> AccountBehaviour:
    """Average, spread, largest amount, transfers per day (over the days since its first
    transaction) and month-to-date spend (bank local month) of the account's transactions
    before `before` (ties: ids below `before_id`), in one query."""
    earlier = Q(occurred_at__lt=before)
    if before_id is not None:
        earlier |= Q(occurred_at=before, id__lt=before_id)
    local = timezone.localtime(before, rollup.bank_zone())
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    in_month = Q(occurred_at__gte=month_start)
    stats = (
        Transaction.objects.filter(earlier, account=account)
        .order_by()
        .aggregate(
            count=Count("id"),
            mean=Avg("amount"),
            # sum of squares rather than StdDev: SQLite's sample deviation fails on one row
            sum_sq=Sum(F("amount") * F("amount")),
            largest=Max("amount"),
            first_at=Min("occurred_at"),
            mtd=Sum("amount", filter=in_month),
            mtd_count=Count("id", filter=in_month),
        )
    )
    count = stats["count"]
    per_day = None
    if count:
        days = max((before - stats["first_at"]).total_seconds() / 86400, 1.0)
        per_day = count / days

    def _f(value: Any) -> float | None:
        return float(value) if value is not None else None

    std = None
    if count > 1:
        mean = float(stats["mean"])
        variance = (float(stats["sum_sq"]) - count * mean * mean) / (count - 1)
        std = math.sqrt(max(variance, 0.0))
    return AccountBehaviour(
        count=count,
        mean=_f(stats["mean"]),
        std=std,
        largest=_f(stats["largest"]),
        first_at=stats["first_at"],
        per_day=per_day,
        month_to_date=float(stats["mtd"] or 0),
        month_to_date_count=stats["mtd_count"],
        currency=account.currency,
    )


def checked_transaction(*, external_id: str) -> Transaction:
    """A transaction with its decision, account, customer and counterparty (one query)."""
    return Transaction.objects.select_related("account__customer", "counterparty", "score").get(
        external_id=external_id
    )


def check_actions(*, txn: Transaction) -> QuerySet[CheckAction]:
    return CheckAction.objects.filter(transaction=txn).select_related("actor")


def case_of_transaction(*, txn: Transaction) -> Any | None:
    """The transaction's case when the cases app has one (None otherwise)."""
    try:
        from cases.models import Case
    except ImportError:  # pragma: no cover - the cases app always ships cases now
        return None
    return Case.objects.filter(transaction=txn).first()


# -- settings --------------------------------------------------------------------------
def rule_limits_for_settings() -> QuerySet[RuleLimit]:
    return RuleLimit.objects.select_related("updated_by").order_by("category", "code")


def rule_limit_history(*, code: str = "", limit: int = 50) -> QuerySet[RuleLimitChange]:
    changes = RuleLimitChange.objects.select_related("limit", "changed_by")
    if code:
        changes = changes.filter(limit__code=code)
    return changes.order_by("-changed_at", "-id")[:limit]


# -- dashboard ---------------------------------------------------------------------------
def dashboard_default_range(*, today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_RANGE_DAYS days ending today, or ending on the day of the newest
    transaction when nothing happened in the last DEFAULT_RANGE_DAYS days (demo data that
    ends in the past, or lies in the future). Uses the occurred_at index: two cheap reads."""
    today = today or rollup.bank_today()
    window_start = rollup.day_start(today - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    until = rollup.day_start(today + timedelta(days=1))
    recent = Transaction.objects.filter(occurred_at__gte=window_start, occurred_at__lt=until)
    end = today if recent.exists() else (rollup.newest_day() or today)
    return end - timedelta(days=DEFAULT_RANGE_DAYS - 1), end


@dataclass
class Dashboard:
    date_from: date
    date_to: date
    days: list[dict[str, Any]]
    totals: dict[str, Any]
    histogram: list[dict[str, Any]]
    top_rules: list[dict[str, Any]]
    top_factors: list[dict[str, Any]]
    feedback: dict[str, Any]
    alerts: list[dict[str, Any]] | None = None
    cases: dict[str, int] | None = None
    thresholds: tuple[float, float] = (math.inf, math.inf)  # review, block risk cut-offs


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(rate: float | None) -> float | None:
    return rate * 100 if rate is not None else None


def _with_widths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    top = max((r["count"] for r in rows), default=0)
    for r in rows:
        r["width"] = round(100 * r["count"] / top, 1) if top else 0
    return rows


def _rule_name(code: str) -> str:
    default = DEFAULTS_BY_CODE.get(code)
    return default.name if default else code.replace("_", " ").capitalize()


def flagged_feedback(*, date_from: date, date_to: date) -> dict[str, Any]:
    """Outcomes of worked cases: the newest feedback label (investigator decision,
    chargeback, customer confirmation, API) of each transaction of the range that was
    flagged (every flagged decision opens a case): fraud vs legitimate, and the precision
    of the flags they imply. Labels semi-joined with the cases table (one row per flag):
    neither the transactions nor the scores table is read."""
    from cases.models import Case, FeedbackLabel

    start = rollup.day_start(date_from)
    end = rollup.day_start(date_to + timedelta(days=1))
    flagged = Case.objects.filter(occurred_at__gte=start, occurred_at__lt=end).values(
        "transaction_id"
    )
    rows = (
        FeedbackLabel.objects.filter(transaction_id__in=Subquery(flagged))
        .order_by("transaction_id", "known_at", "id")
        .values_list("transaction_id", "is_fraud")
    )
    newest: dict[int, bool] = {}
    for txn_id, is_fraud in rows:
        newest[txn_id] = is_fraud  # ordered by known_at: the last one wins
    fraud = sum(1 for v in newest.values() if v)
    legitimate = len(newest) - fraud
    return {
        "labelled": len(newest),
        "fraud": fraud,
        "legitimate": legitimate,
        "precision": _rate(fraud, len(newest)),
        "precision_pct": _pct(_rate(fraud, len(newest))),
    }


def _alerts_per_day(date_from: date, date_to: date) -> list[dict[str, Any]] | None:
    try:
        from alerts.selectors import alert_delivery_counts
    except ImportError:
        return None
    per_day: dict[date, dict[str, int]] = {}
    for row in alert_delivery_counts(date_from, date_to):
        entry = per_day.setdefault(row["day"], {"total": 0})
        entry["total"] += row["count"]
        entry[row["status"]] = entry.get(row["status"], 0) + row["count"]
    return [
        {"day": day, **per_day.get(day, {"total": 0})}
        for day in rollup.days_between(date_from, date_to)
    ]


def _case_counts() -> dict[str, int] | None:
    try:
        from cases.choices import ACTIVE_STATUSES
        from cases.models import Case
    except ImportError:
        return None
    return Case.objects.filter(status__in=ACTIVE_STATUSES).aggregate(
        open=Count("id"), overdue=Count("id", filter=Q(sla_due_at__lt=timezone.now()))
    )


def _build(date_from: date, date_to: date) -> Dashboard:
    rows = rollup.daily_activity(date_from=date_from, date_to=date_to)
    days = []
    histogram = [0] * rollup.BINS
    codes: Counter = Counter()
    factors: Counter = Counter()
    totals = Counter()
    amount = Decimal("0")
    flagged_amount = Decimal("0")
    for row in rows:
        flagged = row.review + row.block
        days.append(
            {
                "day": row.day,
                "transactions": row.transactions,
                "scored": row.scored,
                "review": row.review,
                "block": row.block,
                "flagged": flagged,
                "flag_rate": _rate(flagged, row.scored),
                "flag_rate_pct": _pct(_rate(flagged, row.scored)),
            }
        )
        totals.update(
            transactions=row.transactions,
            scored=row.scored,
            review=row.review,
            block=row.block,
            flagged=flagged,
        )
        amount += row.amount
        flagged_amount += row.flagged_amount
        for i, n in enumerate(row.risk_histogram or []):
            histogram[i] += n
        codes.update(row.rule_codes or {})
        factors.update(row.top_factors or {})
    width = 1 / rollup.BINS
    limits = detection_thresholds()
    return Dashboard(
        date_from=date_from,
        date_to=date_to,
        days=days,
        totals={
            "transactions": totals["transactions"],
            "scored": totals["scored"],
            "review": totals["review"],
            "block": totals["block"],
            "flagged": totals["flagged"],
            "flag_rate": _rate(totals["flagged"], totals["scored"]),
            "flag_rate_pct": _pct(_rate(totals["flagged"], totals["scored"])),
            "amount": amount,
            "flagged_amount": flagged_amount,
        },
        histogram=[
            {"low": round(i * width, 2), "high": round((i + 1) * width, 2), "count": n}
            for i, n in enumerate(histogram)
        ],
        top_rules=_with_widths(
            [
                {"code": code, "name": _rule_name(code), "count": n}
                for code, n in codes.most_common(10)
            ]
        ),
        top_factors=_with_widths(
            [{"label": label, "count": n} for label, n in factors.most_common(8)]
        ),
        feedback=flagged_feedback(date_from=date_from, date_to=date_to),
        alerts=_alerts_per_day(date_from, date_to),
        cases=_case_counts(),
        thresholds=(limits.review, limits.block),
    )


def dashboard(*, date_from: date, date_to: date) -> Dashboard:
    """Everything the dashboard shows for a date range (inclusive, bank local days).

    Daily figures come from the rollup (rollup.py); the assembled result is cached for
    DASHBOARD_CACHE_SECONDS per range, so repeated views and every investigator looking
    at the same range cost one cache read."""
    key = f"workspace:dashboard:v{DASHBOARD_CACHE_VERSION}:{date_from}:{date_to}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    result = _build(date_from, date_to)
    cache.set(key, result, DASHBOARD_CACHE_SECONDS)
    return result


MODEL_HEALTH_CACHE_SECONDS = 600
DRIFT_WINDOW_DAYS = 7


def model_health(*, date_from: date, date_to: date, compute: bool = True) -> dict | None:
    """Drift warnings, champion vs shadow and the models' precision from feedback
    (detection's retraining selectors) for a range. They read every decision of the range,
    which takes seconds on a big bank, so the result is cached for
    MODEL_HEALTH_CACHE_SECONDS; the dashboard loads it in a second request (or shows the
    cached one), and the periodic rollup task keeps the default range warm. With
    `compute=False`, only the cached result (or None)."""
    key = f"workspace:model-health:v{DASHBOARD_CACHE_VERSION}:{date_from}:{date_to}"
    cached = cache.get(key)
    if cached is not None or not compute:
        return cached
    from detection.selectors import (
        drift_report,
        model_precision_from_feedback,
        shadow_comparison,
    )

    now = timezone.now()
    as_of = min(now, rollup.day_start(date_to + timedelta(days=1)))
    result = {
        "drift": drift_report(days=DRIFT_WINDOW_DAYS, as_of=as_of),
        "shadow": shadow_comparison(date_from=date_from, date_to=date_to),
        "precision": model_precision_from_feedback(date_from=date_from, date_to=date_to),
        "computed_at": now,
    }
    cache.set(key, result, MODEL_HEALTH_CACHE_SECONDS)
    return result


def refused_models(*, with_reasons: bool) -> list[dict[str, str]]:
    """The active models this process or the last reporting Celery worker could not load
    (and so score without): their kind and, `with_reasons`, why (it names files: for
    admins)."""
    from detection.models import ModelKind
    from secureflow.core.health import check_models, workers_refused_models

    models = check_models(worker_refused=workers_refused_models())
    refused = {**models.get("worker_refused", {}), **models.get("refused", {})}
    labels = dict(ModelKind.choices)
    return [
        {"kind": kind, "label": labels.get(kind, kind), "reason": reason if with_reasons else ""}
        for kind, reason in sorted(refused.items())
    ]
