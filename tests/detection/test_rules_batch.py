"""RuleSet.evaluate_batch gives exactly the hits of RuleSet.evaluate, row by row."""

import numpy as np
import pytest

from detection.features.spec import FEATURE_INDEX, NEUTRAL_VALUES
from detection.models import RuleLimit
from detection.rules.defaults import TRANSFER_TYPE_NAMES
from detection.rules.engine import Limit, RuleSet
from detection.scoring.engine import NO_HITS, ScoringEngine
from detection.services import rule_limit_update

TRANSFER_TYPES = [*TRANSFER_TYPE_NAMES, "", "X"]
CURRENCIES = np.array(["AED", "USD", None, "", "EUR"], dtype=object)


def near(rng: np.random.Generator, values: np.ndarray, n: int) -> np.ndarray:
    """Each of `values` just below, at or just above, or somewhere else."""
    base = rng.choice(values, size=n)
    step = rng.choice([-1.0, -0.01, 0.0, 0.0, 0.01, 1.0], size=n)
    far = rng.random(n) < 0.2
    return np.where(far, rng.uniform(0, 2 * base.max(), size=n), base + step)


def crafted_batch(rule_set: RuleSet, n: int, seed: int):
    """Feature rows, amounts and transfer types that sit around every limit of rule_set."""
    rng = np.random.default_rng(seed)
    X = np.tile(np.array(NEUTRAL_VALUES, dtype=np.float64), (n, 1))
    limits = rule_set.limits
    for code, feature in (
        ("velocity_30s", "velocity_count_30s"),
        ("velocity_10m", "velocity_count_10m"),
        ("velocity_1h", "velocity_count_1h"),
    ):
        limit = limits[code].value
        X[:, FEATURE_INDEX[feature]] = np.clip(
            rng.integers(int(limit) - 2, int(limit) + 3, size=n) + (rng.random(n) < 0.1) * 20,
            0,
            None,
        ).astype(np.float64)
    X[:, FEATURE_INDEX["month_to_date_amount"]] = near(
        rng, np.array([limits["monthly_cap"].value]), n
    )
    min_history = limits["dynamic_limit_min_history"].value
    X[:, FEATURE_INDEX["history_count"]] = rng.choice(
        [0, 1, 2, 3, min_history - 1, min_history, min_history + 1, 50], size=n
    )
    mean = rng.choice([0.0, 100.0, 5_000.0, 12_345.67], size=n)
    std = rng.choice([0.0, 1_825.0, 333.33, 1e4], size=n)
    X[:, FEATURE_INDEX["history_amount_mean"]] = mean
    X[:, FEATURE_INDEX["history_amount_std"]] = std
    transfer_types = rng.choice(np.array(TRANSFER_TYPES, dtype=object), size=n)
    per_type = np.array(
        [limits[f"amount_limit_{t}"].value for t in TRANSFER_TYPE_NAMES], dtype=np.float64
    )
    ceiling = mean + limits["dynamic_limit_k"].value * std
    amounts = np.where(
        rng.random(n) < 0.5,
        near(rng, per_type, n),
        ceiling + rng.choice([-0.01, 0.0, 0.01, 1000.0], size=n),
    )
    amounts = np.abs(amounts).round(2)
    return X, amounts, transfer_types


def row_by_row(rule_set, X, amounts, transfer_types, currencies):
    out = []
    for i in range(len(X)):
        currency = "AED" if currencies is None else str(currencies[i] or "AED")
        out.append(
            rule_set.evaluate(
                X[i],
                amount=float(amounts[i]),
                transfer_type=str(transfer_types[i]),
                currency=currency,
            )
        )
    return out


def assert_same_as_evaluate(rule_set: RuleSet, n: int = 4_000, seed: int = 1) -> int:
    X, amounts, transfer_types = crafted_batch(rule_set, n, seed)
    currencies = np.random.default_rng(seed).choice(CURRENCIES, size=n)
    fired_codes = set()
    for cur in (currencies, None):
        expected = row_by_row(rule_set, X, amounts, transfer_types, cur)
        severity, hits = rule_set.evaluate_batch(
            X, amounts=amounts, transfer_types=transfer_types, currencies=cur
        )
        assert severity.shape == (n,)
        assert set(hits) == {i for i, row in enumerate(expected) if row}
        for i, row in enumerate(expected):
            assert hits.get(i, []) == row, i  # codes, severities, reasons, observed, limits
            strongest = RuleSet.strongest(row)
            assert severity[i] == {None: 0, "review": 1, "block": 2}[strongest], i
            fired_codes.update(hit.code for hit in row)
    return len(fired_codes)


def test_defaults_hit_every_rule_exactly_like_evaluate():
    rule_set = RuleSet.defaults()
    fired = assert_same_as_evaluate(rule_set)
    # 3 velocity + 5 per-type + monthly cap + dynamic limit
    assert fired == 10


def test_float32_features_give_the_same_hits():
    rule_set = RuleSet.defaults()
    X, amounts, transfer_types = crafted_batch(rule_set, 2_000, seed=3)
    X = X.astype(np.float32)
    expected = row_by_row(rule_set, X, amounts, transfer_types, None)
    _, hits = rule_set.evaluate_batch(X, amounts=amounts, transfer_types=transfer_types)
    assert [hits.get(i, []) for i in range(len(X))] == expected


def test_disabled_limits_and_changed_values_and_severities():
    rule_set = RuleSet(
        {
            "velocity_30s": Limit(2, False, "block"),
            "velocity_10m": Limit(3, True, "block"),
            "amount_limit_S": Limit(25_000, False, "review"),
            "amount_limit_Q": Limit(5_000.5, True, "block"),
            "monthly_cap": Limit(150_000, True, "block"),
            "dynamic_limit_k": Limit(2.5, True, "block"),
            "dynamic_limit_min_history": Limit(10, False, "review"),
        }
    )
    assert assert_same_as_evaluate(rule_set, seed=5) >= 7


def test_everything_disabled_gives_no_hits():
    rule_set = RuleSet(
        {
            code: Limit(limit.value, False, limit.severity)
            for code, limit in RuleSet.defaults().limits.items()
        }
    )
    X, amounts, transfer_types = crafted_batch(RuleSet.defaults(), 500, seed=2)
    severity, hits = rule_set.evaluate_batch(X, amounts=amounts, transfer_types=transfer_types)
    assert hits == {} and not severity.any()
    assert assert_same_as_evaluate(rule_set, n=500) == 0


@pytest.mark.django_db
def test_limits_edited_in_the_database(admin_user_sf):
    for code, value, enabled in (
        ("velocity_1h", 10, True),
        ("amount_limit_L", 20_000, True),
        ("amount_limit_O", 200_000, False),
        ("dynamic_limit_min_history", 3, True),
    ):
        rule_limit_update(
            limit=RuleLimit.objects.get(code=code),
            value=value,
            enabled=enabled,
            changed_by=admin_user_sf,
        )
    rule_set = RuleSet.from_limits(RuleLimit.objects.all())
    assert rule_set.limits["velocity_1h"].value == 10
    assert assert_same_as_evaluate(rule_set, seed=11) >= 8


def test_decide_batch_matches_decide_and_shares_the_empty_hit_list():
    rule_set = RuleSet.defaults()
    engine = ScoringEngine(None, rule_set)
    X, amounts, transfer_types = crafted_batch(rule_set, 1_000, seed=7)
    currencies = np.random.default_rng(7).choice(CURRENCIES, size=len(X))
    batch = engine.decide_batch(
        X, amounts=amounts, transfer_types=transfer_types, currencies=currencies
    )
    assert len(batch.rule_hits) == len(X)
    for i in range(len(X)):
        one = engine.decide(
            X[i],
            amount=float(amounts[i]),
            transfer_type=str(transfer_types[i]),
            currency=str(currencies[i] or "AED"),
            explain_with_shap=False,
        )
        assert batch.outcome[i] == one.outcome, i
        assert list(batch.rule_hits[i]) == one.rule_hits, i
        if not one.rule_hits:
            assert batch.rule_hits[i] is NO_HITS
