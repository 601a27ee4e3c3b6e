"""Champion-challenger retraining on a small demo bank: promotion both ways on the same
holdout, audit rows, roll back, manual promotion, and the live engine following along."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from threadpoolctl import threadpool_limits

from cases.models import FeedbackLabel
from detection.model_training import models_train
from detection.models import (
    ModelPromotion,
    ModelVersion,
    PromotionTrigger,
    RetrainingDecision,
    RetrainingRun,
    RetrainingStatus,
)
from detection.retraining.promotion import (
    PromotionRule,
    model_versions_promote,
    model_versions_roll_back,
)
from detection.retraining.service import RetrainingOptions, retraining_run
from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import get_engine, reset_engine
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Transaction

pytestmark = pytest.mark.slow

# Small and fast: one autoencoder epoch, a short boosting run, enough fraud labels.
TRAIN_OPTIONS = {"supervised_params": {"max_iter": 60}, "min_fraud": 20, "min_legit": 200}
OPTIONS = RetrainingOptions(holdout_days=21, ae_epochs=1, seed=3, train_options=TRAIN_OPTIONS)
RULE = PromotionRule(min_gain=0.0, max_fpr_increase=0.0, min_average_precision=0.1)


@pytest.fixture(autouse=True)
def fresh_state(settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    invalidate_rule_set()
    # two cores shared with other jobs: one OpenMP thread trains faster than two contended
    with threadpool_limits(limits=1):
        yield
    reset_engine()
    invalidate_rule_set()


@pytest.fixture
def bank(db):
    end = timezone.localdate() + timedelta(days=1)
    bank = generate_demo_bank(customers=300, days=60, seed=11, end=end)
    bulk_load_frame(bank.transactions)
    return bank


def weak_champion() -> list[ModelVersion]:
    """An isolation forest alone, trained on the first ten days: easy to beat."""
    first = Transaction.objects.order_by("occurred_at").first().occurred_at
    return models_train(
        until=first + timedelta(days=10),
        seed=1,
        train_options={"kinds": ["isolation_forest"], "if_n_estimators": 30},
    )


def poison_training_labels(train_until) -> int:
    """Investigators got it all wrong before the holdout: every known fraud marked
    legitimate and as many legitimate payments marked fraud (feedback overrides data)."""
    old = Transaction.objects.filter(occurred_at__lt=train_until - timedelta(days=2))
    fraud = list(old.filter(source_label=True))
    rng = np.random.default_rng(0)
    legit_ids = np.array(old.filter(source_label=False).values_list("id", flat=True))
    flipped = set(rng.choice(legit_ids, size=len(fraud) * 3, replace=False).tolist())
    labels = [
        FeedbackLabel(
            transaction=t,
            is_fraud=False,
            source="case_decision",
            known_at=t.occurred_at + timedelta(days=1),
        )
        for t in fraud
    ]
    labels += [
        FeedbackLabel(
            transaction=t,
            is_fraud=True,
            source="case_decision",
            known_at=t.occurred_at + timedelta(days=1),
        )
        for t in old.filter(id__in=flipped)
    ]
    FeedbackLabel.objects.bulk_create(labels)
    return len(labels)


def active_ids() -> set[int]:
    return set(ModelVersion.objects.filter(is_active=True).values_list("id", flat=True))


def assert_same_holdout(run: RetrainingRun) -> None:
    champion, challenger = run.champion_metrics, run.challenger_metrics
    assert champion["holdout_digest"] == challenger["holdout_digest"] == run.holdout["digest"]
    assert champion["transactions"] == challenger["transactions"] == run.holdout["rows"]
    assert champion["fraud"] == challenger["fraud"] == run.holdout["fraud"] > 0


def test_promotion_rule_both_ways_on_the_same_holdout_with_audit_and_roll_back(
    bank, django_capture_on_commit_callbacks, admin_user_sf
):
    champion = weak_champion()
    champion_ids = {v.pk for v in champion}
    assert active_ids() == champion_ids
    first_audit = ModelPromotion.objects.get()
    assert first_audit.trigger == PromotionTrigger.TRAINING
    assert get_engine().model_version_ids == sorted(champion_ids)

    # 1. A challenger trained on good labels beats the weak champion: promoted.
    with django_capture_on_commit_callbacks(execute=True):
        run = retraining_run(trigger="manual", options=OPTIONS, rule=RULE)
    assert run.status == RetrainingStatus.FINISHED, run.error
    assert run.decision == RetrainingDecision.PROMOTED, run.reason
    assert_same_holdout(run)
    assert run.holdout_start == run.train_until
    assert run.holdout_end - run.holdout_start == timedelta(days=21)
    ap_new = run.challenger_metrics["average_precision"]
    ap_old = run.champion_metrics["average_precision"]
    assert ap_new > ap_old
    assert (
        run.challenger_metrics["false_positive_rate"] <= run.champion_metrics["false_positive_rate"]
    )
    assert f"challenger AP {ap_new:.3f} vs champion {ap_old:.3f}" in run.reason
    assert run.reason.endswith(": promoted")
    challenger_ids = set(run.challenger_versions.values_list("id", flat=True))
    assert {v.kind for v in run.challenger_versions.all()} == {
        "isolation_forest",
        "autoencoder",
        "supervised",
    }
    assert set(run.champion_versions.values_list("id", flat=True)) == champion_ids
    assert active_ids() == challenger_ids
    promotion = ModelPromotion.objects.get(retraining_run=run)
    assert promotion.trigger == PromotionTrigger.RETRAINING
    assert promotion.reason == run.reason
    assert set(promotion.from_versions.values_list("id", flat=True)) == champion_ids
    assert set(promotion.to_versions.values_list("id", flat=True)) == challenger_ids
    # the promotion reached this process's engine (reset after commit, no waiting)
    assert set(get_engine().model_version_ids) == challenger_ids
    # every challenger carries its training-window distribution for drift
    assert all("drift_reference" in v.metrics for v in run.challenger_versions.all())

    # 2. A challenger trained on wrong labels is worse than the champion: kept, with why.
    poison_training_labels(run.train_until)
    with django_capture_on_commit_callbacks(execute=True):
        worse = retraining_run(trigger="manual", options=OPTIONS, rule=RULE)
    assert worse.status == RetrainingStatus.FINISHED, worse.error
    assert worse.decision == RetrainingDecision.KEPT, worse.reason
    assert_same_holdout(worse)
    assert worse.holdout["digest"] == run.holdout["digest"]  # same data, same holdout
    assert worse.reason.startswith("kept champion because")
    assert (
        worse.challenger_metrics["average_precision"] < worse.champion_metrics["average_precision"]
    )
    assert set(worse.champion_versions.values_list("id", flat=True)) == challenger_ids
    assert active_ids() == challenger_ids  # nothing changed
    assert not ModelPromotion.objects.filter(retraining_run=worse).exists()
    assert not ModelVersion.objects.filter(
        id__in=worse.challenger_versions.values("id"), is_active=True
    ).exists()

    # 3. Roll back to the previous champion: audited, and the engine follows.
    with django_capture_on_commit_callbacks(execute=True):
        rollback = model_versions_roll_back(rolled_back_by=admin_user_sf, reason="test")
    assert rollback.trigger == PromotionTrigger.ROLLBACK
    assert rollback.promoted_by == admin_user_sf
    assert active_ids() == champion_ids
    assert set(get_engine().model_version_ids) == champion_ids
    assert set(rollback.from_versions.values_list("id", flat=True)) == challenger_ids
    assert set(rollback.to_versions.values_list("id", flat=True)) == champion_ids
    promotion.refresh_from_db()
    assert promotion.rolled_back_by == rollback
    assert f"rolled back promotion #{promotion.pk}" in rollback.reason

    # 4. Promote a version by hand: audited; a second version of a kind is refused.
    supervised = ModelVersion.objects.get(id__in=challenger_ids, kind="supervised")
    with django_capture_on_commit_callbacks(execute=True):
        manual = model_versions_promote(
            versions=[supervised], promoted_by=admin_user_sf, reason="by hand"
        )
    assert manual.trigger == PromotionTrigger.MANUAL
    assert active_ids() == champion_ids | {supervised.pk}
    assert set(manual.to_versions.values_list("id", flat=True)) == champion_ids | {supervised.pk}
    assert supervised.pk in get_engine().model_version_ids
    other_if = ModelVersion.objects.filter(kind="isolation_forest").exclude(is_active=True).first()
    active_if = ModelVersion.objects.get(kind="isolation_forest", is_active=True)
    with pytest.raises(ValidationError, match="one version of each"):
        model_versions_promote(versions=[other_if, active_if])
