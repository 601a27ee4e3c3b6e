"""Population stability index: the arithmetic, the levels, and the report on stored
decisions against the distribution stored with the active model version."""

import math
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from detection.drift import (
    ALERT,
    NO_DATA,
    STABLE,
    WARNING,
    bin_proportions,
    psi,
    psi_level,
    quantile_edges,
    reference_distribution,
)
from detection.features.spec import FEATURE_INDEX, FEATURE_SPEC_HASH, N_FEATURES
from detection.models import ModelVersion, TransactionScore
from detection.selectors import drift_report
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Transaction


def test_psi_matches_a_hand_computed_value():
    # (0.4 - 0.5) ln(0.4/0.5) + (0.4 - 0.3) ln(0.4/0.3) + 0 = 0.0223144 + 0.0287682
    assert psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) == pytest.approx(0.0510826, abs=1e-7)
    assert psi([0.25] * 4, [0.25] * 4) == 0.0
    # an empty bin is floored at 1e-4 instead of making the log infinite
    value = psi([0.5, 0.5], [1.0, 0.0])
    expected = 0.5 * math.log(1.0 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert value == pytest.approx(expected)


def test_bins_are_right_closed_and_edges_are_distinct_quantiles():
    assert bin_proportions(np.array([0, 1, 1, 2, 5]), [1.0, 2.0]).tolist() == [0.6, 0.2, 0.2]
    # a flag that is mostly 0 keeps only the distinct edges
    flags = np.array([0.0] * 95 + [1.0] * 5)
    edges = quantile_edges(flags)
    assert edges == [0.0]
    assert bin_proportions(flags, edges).tolist() == [0.95, 0.05]
    assert len(quantile_edges(np.arange(1000.0))) == 9


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0.0, STABLE),
        (0.0999, STABLE),
        (0.1, WARNING),
        (0.25, WARNING),
        (0.2501, ALERT),
        (3.0, ALERT),
        (None, NO_DATA),
        (float("nan"), NO_DATA),
    ],
)
def test_levels(value, level):
    assert psi_level(value) == level


def synthetic_features(n: int, rng: np.random.Generator, *, amount_mean: float) -> np.ndarray:
    X = np.zeros((n, N_FEATURES))
    X[:, FEATURE_INDEX["amount_log"]] = rng.normal(amount_mean, 1.0, n)
    X[:, FEATURE_INDEX["amount_zscore"]] = rng.normal(0.0, 1.0, n)
    X[:, FEATURE_INDEX["velocity_count_1h"]] = rng.poisson(1.0, n) + 1
    X[:, FEATURE_INDEX["velocity_count_24h"]] = rng.poisson(3.0, n) + 1
    X[:, FEATURE_INDEX["is_new_country"]] = rng.random(n) < 0.05
    X[:, FEATURE_INDEX["is_new_counterparty"]] = rng.random(n) < 0.2
    hours = rng.uniform(0, 24, n)
    X[:, FEATURE_INDEX["hour_sin"]] = np.sin(2 * np.pi * hours / 24)
    X[:, FEATURE_INDEX["hour_cos"]] = np.cos(2 * np.pi * hours / 24)
    return X


def hand_psi(reference: dict, values: np.ndarray) -> float:
    """Independent count: right-closed bins walked one by one."""
    edges = [-math.inf, *reference["edges"], math.inf]
    total = len(values)
    out = 0.0
    for i, expected in enumerate(reference["proportions"]):
        count = sum(1 for v in values if edges[i] < v <= edges[i + 1])
        actual = max(count / total, 1e-4)
        expected = max(expected, 1e-4)
        out += (actual - expected) * math.log(actual / expected)
    return out


@pytest.mark.django_db
def test_drift_report_compares_recent_decisions_with_the_training_window(capsys, tmp_path):
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=40, days=10, seed=2, end=end).transactions)
    txns = list(Transaction.objects.order_by("id"))
    rng = np.random.default_rng(7)
    X_ref = synthetic_features(5000, rng, amount_mean=5.0)
    risk_ref = rng.beta(1, 20, 5000)
    reference = reference_distribution(X_ref, risk_ref)
    ModelVersion.objects.create(
        kind="isolation_forest",
        version=1,
        artifact_path="unused",
        feature_spec_hash=FEATURE_SPEC_HASH,
        metrics={"drift_reference": reference},
        is_active=True,
    )
    # recent decisions: amounts much larger, everything else drawn as in training
    X_now = synthetic_features(len(txns), rng, amount_mean=6.5)
    risk_now = rng.beta(1, 20, len(txns))
    now = timezone.now()
    TransactionScore.objects.bulk_create(
        TransactionScore(
            transaction=t,
            risk_score=float(risk_now[i]),
            outcome="approve",
            features=X_now[i].tolist(),
            feature_spec_hash=FEATURE_SPEC_HASH,
            scored_at=now - timedelta(hours=1 + i % 100),
        )
        for i, t in enumerate(txns)
    )
    # a decision older than the window does not count
    TransactionScore.objects.filter(transaction=txns[0]).update(scored_at=now - timedelta(days=9))

    report = drift_report(days=7)
    rows = {row.feature: row for row in report.rows}
    assert report.n_current == len(txns) - 1
    assert report.reference_version == "Isolation forest v1 (active)"
    assert set(rows) == {
        "amount_log",
        "amount_zscore",
        "velocity_count_1h",
        "velocity_count_24h",
        "is_new_country",
        "is_new_counterparty",
        "is_international",
        "hour",
        "risk_score",
    }
    current = X_now[1:]
    amount = current[:, FEATURE_INDEX["amount_log"]]
    assert rows["amount_log"].psi == pytest.approx(
        hand_psi(reference["features"]["amount_log"], amount), rel=1e-9
    )
    assert rows["amount_log"].level == ALERT
    assert rows["is_new_country"].level == STABLE
    assert rows["hour"].level == STABLE
    assert rows["risk_score"].psi == pytest.approx(
        hand_psi(reference["features"]["risk_score"], risk_now[1:]), rel=1e-9
    )
    assert rows["risk_score"].level == STABLE
    assert report.level == ALERT
    assert sum(b.actual for b in rows["amount_log"].bins) == pytest.approx(1.0)
    assert rows["amount_log"].bins[-1].upper_edge is None

    call_command("drift_report", "--days", "7", "--json", str(tmp_path / "drift.json"))
    out = capsys.readouterr().out
    assert "Amount (log)" in out and "alert" in out
    assert "Overall: alert" in out
    assert '"level": "alert"' in (tmp_path / "drift.json").read_text()


@pytest.mark.django_db
def test_drift_report_without_reference_or_decisions():
    report = drift_report()
    assert report.rows == [] and report.level == NO_DATA and report.n_current == 0
