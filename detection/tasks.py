from celery import shared_task

from detection.model_training import models_train


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def train_models(*, seed: int = 42, activate: bool = True, ae_epochs: int = 30) -> list[int]:
    """Train new model versions from the stored history (scheduled or on demand)."""
    versions = models_train(seed=seed, activate=activate, ae_epochs=ae_epochs)
    return [version.pk for version in versions]


@shared_task(acks_late=True, time_limit=3 * 3600, soft_time_limit=3 * 3600 - 100)
def retrain_models(
    *,
    run_id: int | None = None,
    trigger: str = "schedule",
    options: dict | None = None,
) -> int:
    """A champion-challenger retraining run: the queued run `run_id` (admin action), or a
    new one with `trigger` (the beat schedule). `options` override RetrainingOptions
    fields (holdout_days, ae_epochs, seed, train_options). Returns the run id."""
    from detection.models import RetrainingRun
    from detection.retraining.service import (
        RetrainingOptions,
        retraining_run_create,
        retraining_run_execute,
    )

    if run_id is None:
        run = retraining_run_create(trigger=trigger)
    else:
        run = RetrainingRun.objects.get(pk=run_id)
    run = retraining_run_execute(
        run=run, options=RetrainingOptions.from_settings(**(options or {}))
    )
    return run.pk


@shared_task(time_limit=300, soft_time_limit=280)
def compact_counterparty_days() -> list[int]:
    """Fold each counterparty's per-day payment counts into one row per day (beat, every
    minute), so that the real-time features read one row per day. Returns [read, written]."""
    from detection.features.counterparty_days import compact

    return list(compact())


@shared_task(time_limit=300, soft_time_limit=280)
def compact_account_totals() -> list[int]:
    """Fold each account's transaction totals into one row (beat, every minute), so that
    the real-time features read one row per account. Returns [read, written]."""
    from detection.features.account_totals import compact

    return list(compact())
