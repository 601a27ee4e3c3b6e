"""Reads for the detection app."""

from dataclasses import dataclass

from django.db.models import Count, Max, QuerySet

from detection.models import RuleLimit, RuleLimitChange


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
