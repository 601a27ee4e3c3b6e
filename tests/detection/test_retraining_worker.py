"""The retraining task in a real Celery worker process (Redis broker, PostgreSQL): a run
is recorded with both sets of metrics and the decision follows the promotion rule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from detection.model_training import models_train
from detection.models import (
    ModelPromotion,
    ModelVersion,
    RetrainingDecision,
    RetrainingRun,
    RetrainingStatus,
    RetrainingTrigger,
)
from detection.retraining.promotion import PromotionRule, promotion_decision
from detection.retraining.service import retraining_run_create
from detection.tasks import retrain_models
from secureflow.celery import app
from tests.conftest import require, wait_for
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Transaction


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_runs_retraining_and_applies_the_rule(
    redis_broker, celery_worker_factory, tmp_path, settings, admin_user_sf
):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=300, days=60, seed=11, end=end).transactions)
    # a weak champion: an isolation forest of the first ten days
    first = Transaction.objects.order_by("occurred_at").first().occurred_at
    champion = models_train(
        until=first + timedelta(days=10),
        seed=1,
        train_options={"kinds": ["isolation_forest"], "if_n_estimators": 30},
    )
    run = retraining_run_create(trigger=RetrainingTrigger.ADMIN, requested_by=admin_user_sf)
    options = {
        "holdout_days": 21,
        "ae_epochs": 1,
        "seed": 3,
        "train_options": {"supervised_params": {"max_iter": 60}, "min_fraud": 20},
    }
    with app.connection_for_write(redis_broker) as conn:
        worker = celery_worker_factory(
            redis_broker,
            SECUREFLOW_MODEL_DIR=str(tmp_path / "models"),
            SECUREFLOW_PROMOTION_MIN_GAIN="0.0",
            OMP_NUM_THREADS="1",
        )
        retrain_models.apply_async(kwargs={"run_id": run.pk, "options": options}, connection=conn)

    def finished() -> bool:
        run.refresh_from_db()
        return run.status in (RetrainingStatus.FINISHED, RetrainingStatus.FAILED)

    wait_for(finished, timeout=900, interval=1.0, worker=worker)
    assert run.status == RetrainingStatus.FINISHED, run.error
    assert run.trigger == RetrainingTrigger.ADMIN and run.requested_by == admin_user_sf
    assert run.started_at and run.finished_at and run.finished_at > run.started_at
    # both metrics, measured on the same holdout
    assert run.champion_metrics["holdout_digest"] == run.challenger_metrics["holdout_digest"]
    assert run.champion_metrics["transactions"] == run.challenger_metrics["transactions"] > 0
    for metrics in (run.champion_metrics, run.challenger_metrics):
        assert 0 <= metrics["average_precision"] <= 1
        assert 0 <= metrics["false_positive_rate"] <= 1
    # the decision is the rule's on the stored metrics
    expected = promotion_decision(
        champion=run.champion_metrics, challenger=run.challenger_metrics, rule=PromotionRule()
    )
    assert run.reason == expected.reason
    assert run.decision == (
        RetrainingDecision.PROMOTED if expected.promote else RetrainingDecision.KEPT
    )
    challenger_ids = set(run.challenger_versions.values_list("id", flat=True))
    active = set(ModelVersion.objects.filter(is_active=True).values_list("id", flat=True))
    if expected.promote:
        assert active == challenger_ids
        promotion = ModelPromotion.objects.get(retraining_run=run)
        assert promotion.promoted_by == admin_user_sf
    else:
        assert active == {v.pk for v in champion}
    # on this data the full challenger beats the lone early forest
    assert run.decision == RetrainingDecision.PROMOTED, run.reason
    assert RetrainingRun.objects.count() == 1
