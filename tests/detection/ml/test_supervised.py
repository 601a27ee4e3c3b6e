import numpy as np
import pytest

from detection.ml.supervised import (
    has_enough_labels,
    known_label_mask,
    label_counts,
    train_supervised_estimator,
)
from tests.detection.ml.conftest import adversarial_rows, make_features


def test_label_minimums_are_parameters():
    y = np.array([1.0] * 50 + [0.0] * 200 + [np.nan] * 30 + [-1.0] * 30)
    assert label_counts(y) == (50, 200)
    assert has_enough_labels(y)
    assert not has_enough_labels(y, min_fraud=51)
    assert not has_enough_labels(y, min_legit=201)
    assert has_enough_labels(y[:60], min_fraud=10, min_legit=10)
    assert not has_enough_labels(None)
    assert known_label_mask(y).sum() == 250


def test_predict_proba_equals_sklearn(supervised_estimator, served_supervised):
    X = make_features(2000, seed=31)
    X[::3, :3] += 3.0
    X[np.random.default_rng(0).random(X.shape) < 0.03] = np.nan
    np.testing.assert_allclose(
        served_supervised.predict_proba(X), supervised_estimator.predict_proba(X), atol=1e-6
    )
    np.testing.assert_allclose(
        served_supervised.decision_function(X),
        supervised_estimator.decision_function(X),
        atol=1e-9,
    )


def test_predict_proba_equals_sklearn_on_adversarial_rows(
    supervised_estimator, served_supervised, labelled
):
    X = adversarial_rows(served_supervised.forest, labelled.X, seed=6)
    np.testing.assert_allclose(
        served_supervised.predict_proba(X), supervised_estimator.predict_proba(X), atol=1e-6
    )


def test_split_on_missing_only_sends_infinity_left(supervised_estimator, served_supervised):
    forest = served_supervised.forest
    on_missing = np.argwhere((forest.left >= 0) & np.isinf(forest.threshold))
    assert len(on_missing), "expected nodes that split missing values from the rest"
    X = np.zeros((len(on_missing), 41))
    for i, (t, node) in enumerate(on_missing):
        X[i, forest.feature[t, node]] = np.inf
    X = np.vstack([X, np.where(np.isposinf(X), np.nan, X)])
    np.testing.assert_allclose(
        served_supervised.predict_proba(X), supervised_estimator.predict_proba(X), atol=1e-6
    )
    one = np.array([served_supervised.raw_score_one(x) for x in X])
    np.testing.assert_allclose(one, supervised_estimator.predict_proba(X)[:, 1], atol=1e-6)


def test_single_row_equals_batch_and_ranks_fraud_higher(served_supervised, labelled):
    X = labelled.X[:300]
    one = np.array([served_supervised.raw_score_one(x) for x in X])
    np.testing.assert_allclose(one, served_supervised.raw_scores(X), atol=1e-12)
    fraud = labelled.y[:300] == 1
    assert one[fraud].mean() > one[labelled.y[:300] == 0].mean() + 0.5


def test_extreme_log_odds_do_not_overflow(served_supervised):
    served_supervised_copy = type(served_supervised)(
        served_supervised.manifest,
        served_supervised.calibrator,
        served_supervised.forest,
        baseline=-2000.0,
    )
    x = np.zeros(41)
    with np.errstate(over="raise"):
        assert served_supervised_copy.raw_score_one(x) == 0.0
        assert served_supervised_copy.raw_scores(x[None, :])[0] == 0.0


def test_unknown_labels_are_left_out_of_training(labelled):
    y = labelled.y.copy()
    y[np.isnan(y)] = -1.0
    with_unknown = train_supervised_estimator(
        labelled.X, y, seed=5, params={"max_iter": 5, "class_weight": None}
    )
    mask = known_label_mask(y)
    only_known = train_supervised_estimator(
        labelled.X[mask], y[mask], seed=5, params={"max_iter": 5, "class_weight": None}
    )
    root_count = with_unknown._predictors[0][0].nodes["count"][0]
    assert root_count == mask.sum()
    np.testing.assert_array_equal(
        with_unknown.predict_proba(labelled.X), only_known.predict_proba(labelled.X)
    )


def test_needs_both_classes():
    X = make_features(100, seed=1)
    with pytest.raises(ValueError, match="both"):
        train_supervised_estimator(X, np.zeros(100), seed=0)
