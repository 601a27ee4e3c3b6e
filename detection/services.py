"""Writes for the detection app."""

from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from detection.models import RuleLimit, RuleLimitChange, Severity
from detection.rules.defaults import (
    BLOCK_THRESHOLD,
    DEFAULT_LIMITS,
    DYNAMIC_K,
    REVIEW_THRESHOLD,
    THRESHOLD_CODES,
    WHOLE_NUMBER_CODES,
)


def _as_decimal(value: Decimal | float | int | str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"value": f"'{value}' is not a number."}) from exc
    if not number.is_finite():
        raise ValidationError({"value": "The value must be a finite number."})
    return number


def rule_limit_check(*, limit: RuleLimit, value: Decimal, enabled: bool) -> None:
    """Raise ValidationError when `value` is not acceptable for this limit."""
    if value < 0:
        raise ValidationError({"value": "The value cannot be negative."})
    if limit.code in WHOLE_NUMBER_CODES and value != value.to_integral_value():
        raise ValidationError({"value": "This limit counts transactions: use a whole number."})
    if limit.code == DYNAMIC_K and value <= 0:
        raise ValidationError({"value": "k must be above 0."})
    if limit.code in THRESHOLD_CODES:
        if value > 1:
            raise ValidationError({"value": "A risk-score threshold lies between 0 and 1."})
        other_code = BLOCK_THRESHOLD if limit.code == REVIEW_THRESHOLD else REVIEW_THRESHOLD
        other = RuleLimit.objects.filter(code=other_code, enabled=True).first()
        if enabled and other is not None:
            review, block = (
                (value, other.value) if limit.code == REVIEW_THRESHOLD else (other.value, value)
            )
            if review > block:
                raise ValidationError(
                    {
                        "value": f"The review threshold ({review}) cannot be above the block "
                        f"threshold ({block})."
                    }
                )


@transaction.atomic
def rule_limit_update(
    *,
    limit: RuleLimit,
    value: Decimal | float | int | str,
    enabled: bool,
    changed_by: AbstractBaseUser | None,
    note: str = "",
    severity: str | None = None,
) -> RuleLimit:
    """Change a limit's value / enabled flag / severity and record who changed what.

    Nothing is written when nothing changes. Raises ValidationError on a bad value."""
    current = RuleLimit.objects.select_for_update().get(pk=limit.pk)
    new_value = _as_decimal(value)
    new_severity = severity or current.severity
    if new_severity not in Severity.values:
        raise ValidationError({"severity": f"'{new_severity}' is not a severity."})
    rule_limit_check(limit=current, value=new_value, enabled=enabled)
    if (
        new_value == current.value
        and enabled == current.enabled
        and new_severity == current.severity
    ):
        return current
    RuleLimitChange.objects.create(
        limit=current,
        old_value=current.value,
        new_value=new_value,
        old_enabled=current.enabled,
        new_enabled=enabled,
        old_severity=current.severity,
        new_severity=new_severity,
        changed_by=changed_by,
        changed_at=timezone.now(),
        note=note,
    )
    current.value = new_value
    current.enabled = enabled
    current.severity = new_severity
    current.updated_by = changed_by
    current.save(update_fields=["value", "enabled", "severity", "updated_by", "updated_at"])

    from detection.rules.cache import invalidate_rule_set

    transaction.on_commit(invalidate_rule_set)
    return current


@transaction.atomic
def rule_limits_ensure_defaults() -> list[RuleLimit]:
    """Create the shipped limits that are missing (existing rows are left alone)."""
    created = []
    for default in DEFAULT_LIMITS:
        row, was_created = RuleLimit.objects.get_or_create(
            code=default.code,
            defaults={
                "name": default.name,
                "description": default.description,
                "category": default.category,
                "value": Decimal(default.value),
                "unit": default.unit,
                "severity": default.severity,
            },
        )
        if was_created:
            created.append(row)
    return created
