"""The retrain_models command with no champion yet, and roll back with nothing to undo."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone
from threadpoolctl import threadpool_limits

from detection.models import (
    ModelPromotion,
    ModelVersion,
    PromotionTrigger,
    RetrainingDecision,
    RetrainingRun,
)
from detection.retraining.promotion import model_versions_roll_back
from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import reset_engine
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Transaction


@pytest.fixture(autouse=True)
def fresh_state(settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    invalidate_rule_set()
    with threadpool_limits(limits=1):
        yield
    reset_engine()
    invalidate_rule_set()


@pytest.mark.slow
def test_no_champion_promotes_a_sane_challenger_and_the_command_reports(db, capsys, settings):
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=300, days=60, seed=11, end=end).transactions)
    settings.SECUREFLOW_RETRAIN_AE_EPOCHS = 1
    settings.SECUREFLOW_RETRAIN_HOLDOUT_DAYS = 21
    # the bank the generator makes depends on the calendar: keep 30 fraud labels before the
    # holdout (fewer than the supervised model needs) whatever today's date is
    holdout_start = Transaction.objects.aggregate(newest=Max("occurred_at"))["newest"] - (
        timedelta(days=21)
    )
    before = Transaction.objects.filter(source_label=True, occurred_at__lt=holdout_start)
    kept = list(before.order_by("occurred_at", "id").values_list("pk", flat=True)[:30])
    assert len(kept) == 30
    before.exclude(pk__in=kept).update(source_label=False)
    settings.SECUREFLOW_PROMOTION_MIN_AP = 0.05
    call_command("retrain_models", "--seed", "2")
    out = capsys.readouterr().out
    run = RetrainingRun.objects.get()
    assert run.trigger == "manual"
    assert run.champion_metrics == {}
    assert run.decision == RetrainingDecision.PROMOTED, run.reason
    assert run.reason.startswith("no champion yet; challenger AP")
    assert f"Retraining run #{run.pk}" in out
    assert "Average precision" in out and "Decision: Challenger promoted" in out
    # too few fraud labels before the holdout for the supervised model (50 needed): the
    # unsupervised pair is promoted
    assert set(ModelVersion.objects.filter(is_active=True).values_list("kind", flat=True)) == {
        "isolation_forest",
        "autoencoder",
    }
    assert ModelPromotion.objects.get().trigger == PromotionTrigger.RETRAINING
    assert run.timings["total_seconds"] > 0


def test_nothing_to_roll_back_is_a_clear_error(db):
    with pytest.raises(ValidationError, match="no promotion to roll back"):
        model_versions_roll_back()


def test_one_run_at_a_time_and_never_twice(db):
    from detection.models import RetrainingStatus
    from detection.retraining.service import retraining_run_create, retraining_run_execute

    busy = retraining_run_create(trigger="schedule")
    busy.status = RetrainingStatus.RUNNING
    busy.started_at = timezone.now()
    busy.save()
    second = retraining_run_execute(run=retraining_run_create(trigger="admin"))
    assert second.status == RetrainingStatus.FAILED
    assert second.error == f"another retraining run (#{busy.pk}) is in progress"
    # a run that is not queued any more (a message delivered twice) is left alone
    again = retraining_run_execute(run=busy)
    assert again.status == RetrainingStatus.RUNNING and again.finished_at is None
    assert ModelVersion.objects.count() == 0
