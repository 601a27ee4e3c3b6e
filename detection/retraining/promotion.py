"""The promotion rule, and the writes that change which model versions are active.

Promotion rule (challenger vs champion, both scored on the same labelled holdout):

* `AP` is the average precision of the risk score; `FPR` is the false-positive rate at
  the operating threshold: the share of legitimate holdout transactions the decision
  would send to review or block (the admin's review threshold on the risk score, with
  the rules on top, exactly as live scoring decides).
* With a champion, the challenger is promoted when
  `AP_challenger - AP_champion >= SECUREFLOW_PROMOTION_MIN_GAIN` (default 0.0) and
  `AP_challenger > AP_champion`, and
  `FPR_challenger <= FPR_champion + SECUREFLOW_PROMOTION_MAX_FPR_INCREASE` (default 0.0).
* Without a champion (no active version), the challenger is promoted when its AP is at
  least `SECUREFLOW_PROMOTION_MIN_AP` (default 0.1) and above the holdout's fraud rate
  (the AP of a random ranking).
* A holdout without both fraud and legitimate labels cannot rank anything: kept.

Every change of the active set writes a ModelPromotion row (who or what, from, to, why).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction

from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import ModelPromotion, ModelVersion, PromotionTrigger, RetrainingRun


@dataclass(frozen=True)
class PromotionRule:
    min_gain: float = 0.0
    max_fpr_increase: float = 0.0
    min_average_precision: float = 0.1

    @classmethod
    def from_settings(cls) -> PromotionRule:
        return cls(
            min_gain=float(getattr(settings, "SECUREFLOW_PROMOTION_MIN_GAIN", 0.0)),
            max_fpr_increase=float(getattr(settings, "SECUREFLOW_PROMOTION_MAX_FPR_INCREASE", 0.0)),
            min_average_precision=float(getattr(settings, "SECUREFLOW_PROMOTION_MIN_AP", 0.1)),
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def _number(metrics: dict[str, Any] | None, key: str) -> float | None:
    value = (metrics or {}).get(key)
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def promotion_decision(
    *,
    champion: dict[str, Any] | None,
    challenger: dict[str, Any],
    rule: PromotionRule,
) -> PromotionDecision:
    """Apply the rule of the module docstring to two sets of holdout metrics
    (`average_precision`, `false_positive_rate`, `fraud`, `transactions`, `fraud_rate`)."""
    ap = _number(challenger, "average_precision")
    fpr = _number(challenger, "false_positive_rate")
    if ap is None or fpr is None:
        fraud = challenger.get("fraud", 0)
        legit = challenger.get("transactions", 0) - fraud
        return PromotionDecision(
            False,
            f"kept champion because the holdout has {fraud} fraud and {legit} legitimate "
            "labelled transactions: nothing to compare on",
        )
    if champion is None:
        base = _number(challenger, "fraud_rate") or 0.0
        if ap >= rule.min_average_precision and ap > base:
            return PromotionDecision(
                True,
                f"no champion yet; challenger AP {ap:.3f} ≥ minimum "
                f"{rule.min_average_precision:.3f} and above the holdout fraud rate "
                f"{_pct(base)}, FPR at the operating threshold {_pct(fpr)}: promoted",
            )
        return PromotionDecision(
            False,
            f"kept no model because challenger AP {ap:.3f} is below the minimum "
            f"{rule.min_average_precision:.3f} or not above the holdout fraud rate {_pct(base)}",
        )
    champion_ap = _number(champion, "average_precision")
    champion_fpr = _number(champion, "false_positive_rate")
    if champion_ap is None or champion_fpr is None:
        return PromotionDecision(False, "kept champion because its holdout metrics are missing")
    gain = ap - champion_ap
    fpr_limit = champion_fpr + rule.max_fpr_increase
    compared = f"challenger AP {ap:.3f} vs champion {champion_ap:.3f}"
    if gain < rule.min_gain or gain <= 0:
        return PromotionDecision(
            False,
            f"kept champion because {compared}: gain {gain:+.3f} is not above 0 and at least "
            f"the minimum gain {rule.min_gain:.3f}",
        )
    if fpr > fpr_limit:
        return PromotionDecision(
            False,
            f"kept champion because, although {compared} (gain {gain:+.3f}), the challenger's "
            f"FPR at the operating threshold {_pct(fpr)} > {_pct(fpr_limit)} (champion "
            f"{_pct(champion_fpr)} + allowed {_pct(rule.max_fpr_increase)})",
        )
    return PromotionDecision(
        True,
        f"{compared} (gain {gain:+.3f} ≥ {rule.min_gain:.3f}) at FPR {_pct(fpr)} ≤ "
        f"{_pct(fpr_limit)} (champion {_pct(champion_fpr)}): promoted",
    )


# -- writes --------------------------------------------------------------------------------
def _check_promotable(versions: Sequence[ModelVersion]) -> None:
    from detection.ml.artifacts import ArtifactError, load_artifact

    if not versions:
        raise ValidationError("Select at least one model version to promote.")
    kinds = [v.kind for v in versions]
    if len(set(kinds)) != len(kinds):
        raise ValidationError("Select at most one version of each model kind.")
    for version in versions:
        if version.feature_spec_hash != FEATURE_SPEC_HASH:
            raise ValidationError(
                f"{version} was trained for another feature spec and cannot be served."
            )
        try:
            load_artifact(
                version.artifact_path,
                expected_feature_spec_hash=FEATURE_SPEC_HASH,
                expected_kind=version.kind,
            )
        except ArtifactError as exc:
            raise ValidationError(f"{version} cannot be promoted: {exc.reason}.") from exc


def _record(
    *,
    trigger: str,
    promoted_by: AbstractBaseUser | None,
    from_versions: Iterable[ModelVersion],
    to_versions: Iterable[ModelVersion],
    reason: str,
    retraining_run: RetrainingRun | None = None,
) -> ModelPromotion:
    promotion = ModelPromotion.objects.create(
        trigger=trigger,
        promoted_by=promoted_by,
        reason=reason,
        retraining_run=retraining_run,
    )
    promotion.from_versions.set(list(from_versions))
    promotion.to_versions.set(list(to_versions))
    return promotion


@db_transaction.atomic
def model_versions_promote(
    *,
    versions: Sequence[ModelVersion],
    trigger: str = PromotionTrigger.MANUAL,
    promoted_by: AbstractBaseUser | None = None,
    reason: str = "",
    retraining_run: RetrainingRun | None = None,
) -> ModelPromotion:
    """Make `versions` the active versions of their kinds (other kinds stay as they are)
    and audit it. Refuses (ValidationError) two versions of a kind, another feature spec,
    or an artifact that does not load. Scoring processes pick the change up at their next
    check of the active versions (this process at once, after commit)."""
    from detection.model_training import model_version_activate

    versions = list(versions)
    _check_promotable(versions)
    before = list(ModelVersion.objects.select_for_update().filter(is_active=True))
    for version in versions:
        model_version_activate(version=version)
    after = list(ModelVersion.objects.filter(is_active=True))
    if not reason:
        who = getattr(promoted_by, "username", "") or "system"
        reason = f"promoted by {who}: " + ", ".join(str(v) for v in versions)
    return _record(
        trigger=trigger,
        promoted_by=promoted_by,
        from_versions=before,
        to_versions=after,
        reason=reason,
        retraining_run=retraining_run,
    )


@db_transaction.atomic
def model_versions_roll_back(
    *, rolled_back_by: AbstractBaseUser | None = None, reason: str = ""
) -> ModelPromotion:
    """Undo the newest promotion not yet rolled back: the versions active before it become
    active again (kinds it introduced are switched off). Rolling back again goes one
    promotion further back. Raises ValidationError when there is nothing to roll back."""
    from detection.model_training import _reset_engine, model_version_activate

    last = (
        ModelPromotion.objects.select_for_update()
        .filter(rolled_back_by__isnull=True)
        .exclude(trigger=PromotionTrigger.ROLLBACK)
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None:
        raise ValidationError("There is no promotion to roll back.")
    target = list(last.from_versions.all())
    before = list(ModelVersion.objects.select_for_update().filter(is_active=True))
    target_kinds = {v.kind for v in target}
    ModelVersion.objects.filter(is_active=True).exclude(kind__in=target_kinds).update(
        is_active=False
    )
    for version in target:
        model_version_activate(version=version)
    db_transaction.on_commit(_reset_engine)
    after = list(ModelVersion.objects.filter(is_active=True))
    restored = ", ".join(str(v) for v in target) or "no model (rules alone)"
    text = f"rolled back promotion #{last.pk} ({last.get_trigger_display()}); restored {restored}"
    if reason:
        text += f": {reason}"
    rollback = _record(
        trigger=PromotionTrigger.ROLLBACK,
        promoted_by=rolled_back_by,
        from_versions=before,
        to_versions=after,
        reason=text,
    )
    last.rolled_back_by = rollback
    last.save(update_fields=["rolled_back_by"])
    return rollback


@db_transaction.atomic
def model_versions_shadow(*, versions: Sequence[ModelVersion], enabled: bool) -> list[ModelVersion]:
    """Put versions in shadow (one per kind, replacing the kind's earlier shadow version)
    or take them out. Active versions are never in shadow."""
    versions = list(versions)
    if enabled:
        _check_promotable(versions)
        if any(v.is_active for v in versions):
            raise ValidationError("An active version already decides; it cannot be in shadow.")
        ModelVersion.objects.filter(is_shadow=True, kind__in=[v.kind for v in versions]).update(
            is_shadow=False
        )
    for version in versions:
        version.is_shadow = enabled
        version.save(update_fields=["is_shadow"])
    from detection.shadow import reset_shadow

    db_transaction.on_commit(reset_shadow)
    return versions
