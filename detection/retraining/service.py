"""A retraining run: train challengers, compare with the champion, promote by rule."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction
from django.utils import timezone

from detection.features.spec import DEFAULT_LABEL_DELAY_DAYS, FEATURE_NAMES, FEATURE_SPEC_HASH
from detection.ml.training import train_all
from detection.model_training import drift_reference_for, model_versions_record
from detection.models import (
    ModelVersion,
    PromotionTrigger,
    RetrainingDecision,
    RetrainingRun,
    RetrainingStatus,
)
from detection.retraining.holdout import evaluate_versions, retraining_data
from detection.retraining.promotion import (
    PromotionRule,
    model_versions_promote,
    model_versions_shadow,
    promotion_decision,
)

logger = logging.getLogger(__name__)

# A run still marked running after this long is taken as dead (worker lost).
STALE_RUN = timedelta(hours=3)


@dataclass(frozen=True)
class RetrainingOptions:
    holdout_days: float = 14.0
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS
    seed: int = 42
    ae_epochs: int = 30
    shadow_kept_challenger: bool = False
    train_options: dict[str, Any] = field(default_factory=dict)  # for train_all

    @classmethod
    def from_settings(cls, **overrides: Any) -> RetrainingOptions:
        values = {
            "holdout_days": float(getattr(settings, "SECUREFLOW_RETRAIN_HOLDOUT_DAYS", 14.0)),
            "ae_epochs": int(getattr(settings, "SECUREFLOW_RETRAIN_AE_EPOCHS", 30)),
            "shadow_kept_challenger": bool(
                getattr(settings, "SECUREFLOW_SHADOW_CHALLENGERS", False)
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "holdout_days": self.holdout_days,
            "label_delay_days": self.label_delay_days,
            "seed": self.seed,
            "ae_epochs": self.ae_epochs,
            "shadow_kept_challenger": self.shadow_kept_challenger,
            "train_options": {k: v for k, v in self.train_options.items() if k != "kinds"},
        }


@db_transaction.atomic
def retraining_run_create(
    *, trigger: str, requested_by: AbstractBaseUser | None = None
) -> RetrainingRun:
    """Record a queued run (the admin action and the scheduled task start here)."""
    return RetrainingRun.objects.create(trigger=trigger, requested_by=requested_by)


def _busy_with(run: RetrainingRun) -> RetrainingRun | None:
    return (
        RetrainingRun.objects.filter(
            status=RetrainingStatus.RUNNING, started_at__gte=timezone.now() - STALE_RUN
        )
        .exclude(pk=run.pk)
        .first()
    )


def _fail(run: RetrainingRun, message: str) -> RetrainingRun:
    run.status = RetrainingStatus.FAILED
    run.error = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def retraining_run_execute(
    *,
    run: RetrainingRun,
    options: RetrainingOptions | None = None,
    rule: PromotionRule | None = None,
    as_of: datetime | None = None,
) -> RetrainingRun:
    """Train challenger versions (inactive) on the labelled data before the holdout, score
    challenger and champion on the same labelled holdout, store both metrics and the
    decision, and promote the challenger when the rule says so (audited). A failure is
    recorded on the run (status failed, error) and not raised."""
    options = options or RetrainingOptions.from_settings()
    rule = rule or PromotionRule.from_settings()
    with db_transaction.atomic():
        run = RetrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RetrainingStatus.QUEUED:
            # e.g. a message delivered again after a worker was lost: never run twice
            logger.warning("Retraining run #%s is %s, not queued: not run", run.pk, run.status)
            return run
        other = _busy_with(run)
        if other is not None:
            return _fail(run, f"another retraining run (#{other.pk}) is in progress")
        run.status = RetrainingStatus.RUNNING
        run.started_at = timezone.now()
        run.rule = {**rule.as_dict(), "options": options.as_dict()}
        run.save(update_fields=["status", "started_at", "rule"])
    try:
        return _execute(run, options, rule, as_of)
    except Exception as exc:
        logger.exception("Retraining run #%s failed", run.pk)
        return _fail(run, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")


def _execute(
    run: RetrainingRun, options: RetrainingOptions, rule: PromotionRule, as_of: datetime | None
) -> RetrainingRun:
    from detection.rules.cache import get_rule_set

    timings: dict[str, float] = {}
    started = time.perf_counter()
    data = retraining_data(
        holdout_days=options.holdout_days,
        label_delay_days=options.label_delay_days,
        as_of=as_of,
    )
    timings["data_seconds"] = time.perf_counter() - started

    t0 = time.perf_counter()
    out_dir = settings.SECUREFLOW_MODEL_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    window = (
        pd.Timestamp(data.trained_from).isoformat(),
        pd.Timestamp(data.train_until).isoformat(),
    )
    trained = train_all(
        data.X_train,
        y_train=data.y_train,
        feature_names=list(FEATURE_NAMES),
        feature_spec_hash=FEATURE_SPEC_HASH,
        window=window,
        out_dir=out_dir,
        seed=options.seed,
        ae_epochs=options.ae_epochs,
        **options.train_options,
    )
    champion = list(ModelVersion.objects.filter(is_active=True).order_by("kind"))
    # The challenger is the set that would be active after promotion: the new versions,
    # and the champion's versions of any kind that was not retrained.
    borrowed = [v for v in champion if v.kind not in trained]
    paths = {kind: str(info.path) for kind, info in trained.items()}
    paths.update({v.kind: v.artifact_path for v in borrowed})
    reference = drift_reference_for(paths, data.X_train)
    new_versions = model_versions_record(
        trained=trained,
        trained_from=data.trained_from,
        trained_until=data.train_until,
        drift_reference=reference,
        created_by=run.requested_by,
        notes=f"challenger of retraining run #{run.pk}",
    )
    timings["training_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rule_set = get_rule_set()
    challenger_set = sorted([*new_versions, *borrowed], key=lambda v: v.kind)
    champion_metrics = (
        evaluate_versions(champion, data.holdout, rule_set=rule_set) if champion else None
    )
    challenger_metrics = evaluate_versions(challenger_set, data.holdout, rule_set=rule_set)
    timings["evaluation_seconds"] = time.perf_counter() - t0
    decision = promotion_decision(
        champion=champion_metrics, challenger=challenger_metrics, rule=rule
    )
    if not new_versions:
        decision = type(decision)(False, "kept champion because no challenger model was trained")

    with db_transaction.atomic():
        run.train_until = data.train_until
        run.holdout_start = data.holdout.start
        run.holdout_end = data.holdout.end
        run.holdout = data.holdout.summary()
        run.champion_metrics = champion_metrics or {}
        run.challenger_metrics = challenger_metrics
        run.decision = RetrainingDecision.PROMOTED if decision.promote else RetrainingDecision.KEPT
        run.reason = decision.reason
        run.status = RetrainingStatus.FINISHED
        run.finished_at = timezone.now()
        timings["total_seconds"] = time.perf_counter() - started
        run.timings = {k: round(v, 3) for k, v in timings.items()}
        run.save()
        run.champion_versions.set(champion)
        run.challenger_versions.set(new_versions)
        if decision.promote:
            model_versions_promote(
                versions=new_versions,
                trigger=PromotionTrigger.RETRAINING,
                promoted_by=run.requested_by,
                reason=decision.reason,
                retraining_run=run,
            )
        elif options.shadow_kept_challenger and new_versions:
            model_versions_shadow(versions=new_versions, enabled=True)
    logger.info("Retraining run #%s: %s", run.pk, decision.reason)
    return run


def retraining_run(
    *,
    trigger: str,
    requested_by: AbstractBaseUser | None = None,
    options: RetrainingOptions | None = None,
    rule: PromotionRule | None = None,
    as_of: datetime | None = None,
) -> RetrainingRun:
    """Create and execute a run in one go (command line, scheduled task)."""
    run = retraining_run_create(trigger=trigger, requested_by=requested_by)
    return retraining_run_execute(run=run, options=options, rule=rule, as_of=as_of)
