"""Scoring end to end on a small demo bank: train, score, explain, fall back."""

import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from detection.model_training import model_version_activate, models_train
from detection.models import ModelVersion, TransactionScore
from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import get_engine, reset_engine
from detection.scoring.service import transaction_score
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Account, Counterparty, Transaction


@pytest.fixture(autouse=True)
def fresh_caches(settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    invalidate_rule_set()
    yield
    reset_engine()
    invalidate_rule_set()


@pytest.fixture
def demo_bank(db):
    end = timezone.localdate() + timedelta(days=1)
    bank = generate_demo_bank(customers=220, days=50, seed=3, end=end)
    bulk_load_frame(bank.transactions)
    return bank


def new_txn(account: Account, *, amount: str, minutes_ago: float = 0, **extra) -> Transaction:
    count = Transaction.objects.count()
    return Transaction.objects.create(
        external_id=f"live-{count}-{amount}",
        account=account,
        amount=Decimal(amount),
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        transfer_type=extra.pop("transfer_type", "L"),
        country=extra.pop("country", "AE"),
        **extra,
    )


def busiest_account() -> Account:
    from django.db.models import Count

    return Account.objects.annotate(n=Count("transactions")).order_by("-n").first()


@pytest.mark.slow
def test_train_activate_score_explain_and_store(demo_bank):
    versions = models_train(ae_epochs=2, seed=1)
    kinds = {v.kind for v in versions}
    assert kinds == {"isolation_forest", "autoencoder", "supervised"}
    assert all(v.is_active and Path(v.artifact_path).exists() for v in versions)
    assert versions[0].feature_spec_hash

    account = busiest_account()
    normal = new_txn(account, amount="120.00", counterparty=None)
    score = transaction_score(txn=normal)
    assert 0.0 <= score.risk_score <= 1.0
    assert set(score.model_scores) == kinds
    assert score.model_versions.count() == 3
    assert len(score.features) == 41

    # A huge overseas transfer to a new payee in a new country at the same moment as two
    # other transfers: the 30-second velocity rule blocks it and the models explain it.
    foreign = Counterparty.objects.create(identifier="NEW-FOREIGN-PAYEE", country="NG")
    new_txn(account, amount="10.00", minutes_ago=0.1)
    new_txn(account, amount="10.00", minutes_ago=0.05)
    fraud = new_txn(
        account, amount="480000.00", transfer_type="S", country="NG", counterparty=foreign
    )
    flagged = transaction_score(txn=fraud)
    fraud.refresh_from_db()
    assert flagged.outcome == "block"
    assert fraud.status == "blocked"
    assert flagged.risk_score > score.risk_score
    codes = {hit["code"] for hit in flagged.rule_hits}
    assert any("30" in code for code in codes), codes
    assert any("in 30 seconds; limit is 2" in reason for reason in flagged.reasons), flagged.reasons
    assert flagged.explained is True
    assert flagged.contributions and flagged.contributions[0]["source"] == "supervised"
    assert all(c["sentence"] for c in flagged.contributions)
    assert TransactionScore.objects.filter(transaction=fraud).count() == 1


@pytest.mark.slow
def test_corrupt_active_artifact_is_refused_and_scoring_goes_on(demo_bank, caplog):
    versions = {v.kind: v for v in models_train(ae_epochs=2, seed=2)}
    broken = versions["supervised"]
    for path in Path(broken.artifact_path).glob("*.npz"):
        path.write_bytes(b"not an artifact")
    reset_engine()
    with caplog.at_level(logging.ERROR):
        engine = get_engine()
    assert "supervised" not in engine.ensemble.kinds
    assert "Refused supervised artifact" in caplog.text
    score = transaction_score(txn=new_txn(busiest_account(), amount="50.00"))
    assert "supervised" not in score.model_scores
    assert "isolation_forest" in score.model_scores
    # Rolling back to an earlier version is activation of that version.
    model_version_activate(version=versions["autoencoder"])
    assert ModelVersion.objects.filter(kind="autoencoder", is_active=True).count() == 1


def test_without_models_rules_alone_decide(db):
    from transactions.models import Customer

    customer = Customer.objects.create(external_id="c1", name="C One", home_country="AE")
    account = Account.objects.create(customer=customer, number="A-1")
    txn = new_txn(account, amount="30000.00", transfer_type="S", country="GB")
    score = transaction_score(txn=txn)
    assert score.model_scores == {}
    assert score.risk_score == 0.0
    assert score.outcome == "review"  # above the overseas limit of AED 25,000
    assert any("overseas" in reason.lower() for reason in score.reasons)
