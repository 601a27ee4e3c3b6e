"""Shadow mode: versions in shadow score live decisions after commit without changing
them; the comparison selector counts agreement, flag rates and precision."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases.models import FeedbackLabel
from detection.features.spec import FEATURE_SPEC_HASH
from detection.ml.serving import ModelEnsemble
from detection.model_training import models_train
from detection.models import ShadowScore, TransactionScore
from detection.retraining.promotion import model_versions_shadow
from detection.rules.cache import get_rule_set, invalidate_rule_set
from detection.scoring.loader import get_engine, reset_engine
from detection.scoring.risk import combine_risk_one
from detection.scoring.service import transaction_score
from detection.selectors import shadow_comparison
from detection.shadow import get_shadow_set, reset_shadow
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Account, Counterparty, Transaction


@pytest.fixture(autouse=True)
def fresh_state(settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    reset_shadow()
    invalidate_rule_set()
    yield
    reset_engine()
    reset_shadow()
    invalidate_rule_set()


@pytest.fixture
def bank(db):
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=60, days=20, seed=4, end=end).transactions)


def new_txn(account: Account, n: int, **extra) -> Transaction:
    return Transaction.objects.create(
        external_id=f"live-shadow-{n}",
        account=account,
        amount=Decimal(extra.pop("amount", "150.00")),
        occurred_at=timezone.now() - timedelta(seconds=n),
        transfer_type=extra.pop("transfer_type", "L"),
        country=extra.pop("country", "AE"),
        **extra,
    )


@pytest.mark.slow
def test_shadow_scores_are_stored_after_commit_without_changing_the_decision(
    bank, django_capture_on_commit_callbacks
):
    quick = {"kinds": ["isolation_forest"], "if_n_estimators": 20}
    (champion,) = models_train(seed=1, train_options=quick)
    (challenger,) = models_train(
        seed=9, activate=False, train_options={**quick, "if_max_samples": 64}
    )
    account = Account.objects.order_by("number").first()

    # nothing in shadow: no shadow work at all
    with django_capture_on_commit_callbacks(execute=True):
        transaction_score(txn=new_txn(account, 1))
    assert get_shadow_set() is None
    assert ShadowScore.objects.count() == 0

    with pytest.raises(ValidationError, match="active version"):
        model_versions_shadow(versions=[champion], enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        model_versions_shadow(versions=[challenger], enabled=True)
    shadow = get_shadow_set()
    assert shadow is not None and shadow.version_ids == [challenger.pk]
    assert shadow.key == f"isolation_forest:v{challenger.version}"

    foreign = Counterparty.objects.create(identifier="SHADOW-NEW-PAYEE", country="NG")
    txns = [
        new_txn(account, 2),
        new_txn(
            account, 3, amount="95000.00", transfer_type="S", country="NG", counterparty=foreign
        ),
    ]
    scores = []
    for txn in txns:
        with django_capture_on_commit_callbacks(execute=True):
            scores.append(transaction_score(txn=txn))
    engine = get_engine()
    assert engine.model_version_ids == [champion.pk]
    challenger_model = ModelEnsemble.load(
        {"isolation_forest": challenger.artifact_path}, expected_feature_spec_hash=FEATURE_SPEC_HASH
    )[0]
    for txn, score in zip(txns, scores):
        score.refresh_from_db()
        txn.refresh_from_db()
        # the stored decision is the champion's, exactly as without shadow mode
        x = np.asarray(score.features)
        alone = engine.decide(x, amount=float(txn.amount), transfer_type=txn.transfer_type)
        assert score.risk_score == pytest.approx(alone.risk_score)
        assert score.outcome == alone.outcome
        assert (
            txn.status
            == {"approve": "approved", "review": "in_review", "block": "blocked"}[score.outcome]
        )
        assert list(score.model_versions.values_list("id", flat=True)) == [champion.pk]
        shadow_score = ShadowScore.objects.get(score=score)
        assert shadow_score.champion_outcome == score.outcome
        assert shadow_score.champion_risk_score == score.risk_score
        expected = combine_risk_one(challenger_model.score_one(x))
        assert shadow_score.risk_score == pytest.approx(expected, abs=1e-12)
        rule_rank = max(
            ({"review": 1, "block": 2}[h["severity"]] for h in score.rule_hits), default=0
        )
        score_rank = {"approve": 0, "review": 1, "block": 2}[
            get_rule_set().outcome_for_score(expected)
        ]
        assert shadow_score.outcome == ("approve", "review", "block")[max(rule_rank, score_rank)]
        assert shadow_score.model_version_ids == [challenger.pk]
        assert set(shadow_score.model_scores) == {"isolation_forest"}
    # the large overseas transfer is flagged by rules in both worlds
    assert ShadowScore.objects.get(score=scores[1]).outcome != "approve"

    # rescoring updates the one shadow row; out of shadow: nothing more is stored
    with django_capture_on_commit_callbacks(execute=True):
        transaction_score(txn=txns[0])
    assert ShadowScore.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        model_versions_shadow(versions=[challenger], enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        transaction_score(txn=new_txn(account, 4))
    assert ShadowScore.objects.count() == 2
    assert TransactionScore.objects.count() == 4


@pytest.mark.django_db
def test_shadow_comparison_counts_agreement_flags_and_precision():
    from transactions.models import Customer

    customer = Customer.objects.create(external_id="c1", name="C", home_country="AE")
    account = Account.objects.create(customer=customer, number="A-1")
    now = timezone.now()
    # (champion outcome, shadow outcome, label: True fraud / False legit / None unknown)
    cases = [
        ("approve", "approve", None),
        ("approve", "review", True),
        ("review", "review", True),
        ("review", "approve", False),
        ("block", "block", True),
        ("approve", "approve", False),
        ("review", "review", False),
        ("approve", "review", None),
    ]
    for i, (champion, shadow, label) in enumerate(cases):
        txn = Transaction.objects.create(
            external_id=f"t{i}",
            account=account,
            amount=Decimal("10"),
            occurred_at=now - timedelta(hours=1),
            source_label=None if i == 6 else label,
        )
        score = TransactionScore.objects.create(
            transaction=txn, risk_score=0.5, outcome=champion, scored_at=now - timedelta(hours=1)
        )
        ShadowScore.objects.create(
            score=score,
            risk_score=0.6,
            outcome=shadow,
            champion_risk_score=0.5,
            champion_outcome=champion,
            shadow_key="isolation_forest:v2",
        )
        if i == 6:  # labelled by feedback only
            FeedbackLabel.objects.create(transaction=txn, is_fraud=False, source="api")
    # the data says legitimate but a later chargeback says fraud: feedback wins
    FeedbackLabel.objects.create(
        transaction=Transaction.objects.get(external_id="t5"), is_fraud=True, source="chargeback"
    )

    today = timezone.localdate(now)  # the bounds are local days
    result = shadow_comparison(date_from=today - timedelta(days=1), date_to=today)
    assert result.scored == 8
    assert result.shadow_keys == ["isolation_forest:v2"]
    assert result.agreement_rate == pytest.approx(5 / 8)
    assert result.champion_flag_rate == pytest.approx(4 / 8)
    assert result.shadow_flag_rate == pytest.approx(5 / 8)
    assert result.flag_rate_difference == pytest.approx(1 / 8)
    assert result.mean_risk_difference == pytest.approx(0.1)
    # labelled: t1 fraud, t2 fraud, t3 legit, t4 fraud, t5 fraud (chargeback), t6 legit
    assert result.labelled == 6 and result.labelled_fraud == 4
    # champion flags t2, t3, t4, t6 -> fraud t2, t4; shadow flags t1, t2, t4, t6 -> t1, t2, t4
    assert result.champion_precision == pytest.approx(2 / 4)
    assert result.shadow_precision == pytest.approx(3 / 4)
    assert result.champion_recall == pytest.approx(2 / 4)
    assert result.shadow_recall == pytest.approx(3 / 4)

    empty = shadow_comparison(
        date_from=today - timedelta(days=30), date_to=today - timedelta(days=20)
    )
    assert empty.scored == 0 and empty.agreement_rate is None


@pytest.mark.django_db
def test_model_precision_from_feedback_counts_flags_confirmed_later():
    from detection.selectors import model_precision_from_feedback
    from transactions.models import Customer

    customer = Customer.objects.create(external_id="c9", name="C", home_country="AE")
    account = Account.objects.create(customer=customer, number="A-9")
    now = timezone.now()
    # (outcome, feedback label, days ago)
    cases = [
        ("review", True, 1),
        ("block", True, 1),
        ("review", False, 2),
        ("review", None, 2),
        ("approve", True, 2),  # missed fraud
        ("approve", None, 1),
        ("block", True, 40),  # outside the period
    ]
    for i, (outcome, label, days_ago) in enumerate(cases):
        txn = Transaction.objects.create(
            external_id=f"p{i}",
            account=account,
            amount=Decimal("10"),
            occurred_at=now - timedelta(days=days_ago),
        )
        TransactionScore.objects.create(
            transaction=txn,
            risk_score=0.5,
            outcome=outcome,
            scored_at=now - timedelta(days=days_ago),
        )
        if label is not None:
            FeedbackLabel.objects.create(transaction=txn, is_fraud=label, source="chargeback")
    result = model_precision_from_feedback(
        date_from=now - timedelta(days=7), date_to=now + timedelta(minutes=1)
    )
    assert (result.scored, result.flagged, result.labelled_flagged) == (6, 4, 3)
    assert result.confirmed_fraud == 2
    assert result.precision == pytest.approx(2 / 3)
    assert result.missed_fraud == 1
    assert sum(day.flagged for day in result.by_day) == 4
    assert [day.day for day in result.by_day] == sorted(day.day for day in result.by_day)
