"""Reads for the detection app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from detection.models import (
    ModelPromotion,
    ModelVersion,
    RetrainingRun,
    RuleLimit,
    RuleLimitChange,
    ShadowScore,
    TransactionScore,
)

if TYPE_CHECKING:
    from detection.drift import DriftReport


def rule_limits() -> QuerySet[RuleLimit]:
    return RuleLimit.objects.all().order_by("category", "code")


def rule_limit_changes(*, limit: RuleLimit | None = None) -> QuerySet[RuleLimitChange]:
    changes = RuleLimitChange.objects.select_related("limit", "changed_by")
    if limit is not None:
        changes = changes.filter(limit=limit)
    return changes.order_by("-changed_at", "-id")


def rule_limits_version() -> tuple[int, str]:
    """Changes whenever a limit row is added, removed or saved."""
    stats = RuleLimit.objects.aggregate(count=Count("id"), newest=Max("updated_at"))
    newest = stats["newest"].isoformat() if stats["newest"] else ""
    return stats["count"], newest


@dataclass(frozen=True)
class Thresholds:
    review: float  # risk score at or above which a transaction goes to review
    block: float  # ... is blocked (math.inf when the threshold is disabled)


def detection_thresholds() -> Thresholds:
    """Outcome thresholds from the (cached) rule set."""
    from detection.rules.cache import get_rule_set

    rule_set = get_rule_set()
    return Thresholds(review=rule_set.review_threshold, block=rule_set.block_threshold)


# -- retraining, shadow, drift and feedback: reads for the model dashboard ------------------
def retraining_history(*, limit: int | None = 50) -> QuerySet[RetrainingRun]:
    """Retraining runs, newest first, with the champion and challenger versions and the
    promotions they made. Each run carries `decision`, `reason`, both metrics dicts
    (`champion_metrics`, `challenger_metrics`: average_precision, roc_auc,
    false_positive_rate, recall_at_1%_fpr, ...), `holdout` (start, end, rows, fraud,
    legitimate, digest), `timings` and `duration_seconds`."""
    runs = (
        RetrainingRun.objects.select_related("requested_by")
        .prefetch_related("champion_versions", "challenger_versions", "promotions")
        .order_by("-created_at", "-id")
    )
    return runs[:limit] if limit else runs


def model_promotions(*, limit: int | None = 50) -> QuerySet[ModelPromotion]:
    """The audit of active-version changes, newest first."""
    rows = (
        ModelPromotion.objects.select_related("promoted_by", "retraining_run", "rolled_back_by")
        .prefetch_related("from_versions", "to_versions")
        .order_by("-created_at", "-id")
    )
    return rows[:limit] if limit else rows


def model_versions(
    *, active: bool | None = None, shadow: bool | None = None
) -> QuerySet[ModelVersion]:
    rows = ModelVersion.objects.all()
    if active is not None:
        rows = rows.filter(is_active=active)
    if shadow is not None:
        rows = rows.filter(is_shadow=shadow)
    return rows.order_by("kind", "-version")


def _bounds(date_from: date | datetime, date_to: date | datetime) -> tuple[datetime, datetime]:
    """Datetimes as given; dates as whole local days, `date_to` included."""

    def as_dt(value: date | datetime, *, end: bool) -> datetime:
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else timezone.make_aware(value)
        day = value + timedelta(days=1) if end else value
        return timezone.make_aware(datetime.combine(day, time.min))

    return as_dt(date_from, end=False), as_dt(date_to, end=True)


def _label_of(feedback: bool | None, data_label: bool | None) -> bool | None:
    """The transaction's label: its newest feedback label, else the one from the data."""
    return feedback if feedback is not None else data_label


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class ShadowComparison:
    """Champion (the stored decision) vs the shadow set over the decisions of a period.
    Rates are in 0..1, None when undefined; flagged = review or block; a label is the
    newest feedback label, else the label supplied with the data."""

    date_from: datetime
    date_to: datetime
    shadow_keys: list[str]  # e.g. ["autoencoder:v4,isolation_forest:v4,supervised:v3"]
    scored: int
    agreement_rate: float | None  # same outcome
    champion_flag_rate: float | None
    shadow_flag_rate: float | None
    flag_rate_difference: float | None  # shadow - champion
    labelled: int
    labelled_fraud: int
    champion_precision: float | None  # fraud share among labelled flagged
    shadow_precision: float | None
    champion_recall: float | None  # flagged share among labelled fraud
    shadow_recall: float | None
    mean_risk_difference: float | None  # shadow - champion


def _newest_feedback(transaction_path: str) -> Subquery:
    from cases.models import FeedbackLabel

    return Subquery(
        FeedbackLabel.objects.filter(transaction_id=OuterRef(transaction_path))
        .order_by("-known_at", "-id")
        .values("is_fraud")[:1]
    )


def shadow_comparison(*, date_from: date | datetime, date_to: date | datetime) -> ShadowComparison:
    """Agreement, flag rates and precision on labelled transactions of the champion and
    the shadow set, over decisions scored between the dates."""
    start, end = _bounds(date_from, date_to)
    rows = (
        ShadowScore.objects.filter(score__scored_at__gte=start, score__scored_at__lt=end)
        .annotate(feedback=_newest_feedback("score__transaction_id"))
        .values_list(
            "outcome",
            "champion_outcome",
            "risk_score",
            "champion_risk_score",
            "feedback",
            "score__transaction__source_label",
            "shadow_key",
        )
    )
    n = agree = champ_flag = shadow_flag = labelled = fraud = 0
    champ_tp = champ_fl = shadow_tp = shadow_fl = 0
    risk_diff = 0.0
    keys: set[str] = set()
    for outcome, champ, risk, champ_risk, feedback, data_label, key in rows.iterator(
        chunk_size=5_000
    ):
        n += 1
        keys.add(key)
        agree += outcome == champ
        c_flag, s_flag = champ != "approve", outcome != "approve"
        champ_flag += c_flag
        shadow_flag += s_flag
        risk_diff += risk - champ_risk
        label = _label_of(feedback, data_label)
        if label is None:
            continue
        labelled += 1
        fraud += label
        champ_fl += c_flag
        shadow_fl += s_flag
        champ_tp += c_flag and label
        shadow_tp += s_flag and label
    champ_rate, shadow_rate = _rate(champ_flag, n), _rate(shadow_flag, n)
    return ShadowComparison(
        date_from=start,
        date_to=end,
        shadow_keys=sorted(keys),
        scored=n,
        agreement_rate=_rate(agree, n),
        champion_flag_rate=champ_rate,
        shadow_flag_rate=shadow_rate,
        flag_rate_difference=(shadow_rate - champ_rate) if n else None,
        labelled=labelled,
        labelled_fraud=fraud,
        champion_precision=_rate(champ_tp, champ_fl),
        shadow_precision=_rate(shadow_tp, shadow_fl),
        champion_recall=_rate(champ_tp, fraud),
        shadow_recall=_rate(shadow_tp, fraud),
        mean_risk_difference=risk_diff / n if n else None,
    )


@dataclass(frozen=True)
class PrecisionDay:
    day: date  # bank local date of the decision
    flagged: int
    labelled: int
    confirmed_fraud: int
    precision: float | None


@dataclass(frozen=True)
class FeedbackPrecision:
    """How right the flags were, judged by what the bank learned afterwards. A label is
    the newest feedback label, else the label supplied with the data."""

    date_from: datetime
    date_to: datetime
    scored: int
    flagged: int  # review or block
    labelled_flagged: int
    confirmed_fraud: int  # flagged and labelled fraud
    precision: float | None  # confirmed_fraud / labelled_flagged
    missed_fraud: int  # approved but labelled fraud
    by_day: list[PrecisionDay]


def model_precision_from_feedback(
    *, date_from: date | datetime, date_to: date | datetime
) -> FeedbackPrecision:
    start, end = _bounds(date_from, date_to)
    scores = TransactionScore.objects.filter(scored_at__gte=start, scored_at__lt=end)
    rows = scores.annotate(feedback=_newest_feedback("transaction_id")).values_list(
        "scored_at", "outcome", "feedback", "transaction__source_label"
    )
    days: dict[date, list[int]] = {}
    scored = flagged = labelled = confirmed = missed = 0
    for scored_at, outcome, feedback, data_label in rows.iterator(chunk_size=5_000):
        scored += 1
        label = _label_of(feedback, data_label)
        if outcome == "approve":
            missed += label is True
            continue
        flagged += 1
        day = days.setdefault(timezone.localtime(scored_at).date(), [0, 0, 0])
        day[0] += 1
        if label is None:
            continue
        labelled += 1
        day[1] += 1
        confirmed += label
        day[2] += label
    return FeedbackPrecision(
        date_from=start,
        date_to=end,
        scored=scored,
        flagged=flagged,
        labelled_flagged=labelled,
        confirmed_fraud=confirmed,
        precision=_rate(confirmed, labelled),
        missed_fraud=missed,
        by_day=[
            PrecisionDay(
                day=d,
                flagged=v[0],
                labelled=v[1],
                confirmed_fraud=v[2],
                precision=_rate(v[2], v[1]),
            )
            for d, v in sorted(days.items())
        ],
    )


def drift_report(*, days: int = 7, as_of: datetime | None = None) -> DriftReport:
    """PSI rows of the main features and the risk score (see detection.drift)."""
    from detection.drift import drift_report as build

    return build(days=days, as_of=as_of)
