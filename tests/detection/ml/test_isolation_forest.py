import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from detection.ml.isolation_forest import (
    average_path_length,
    build_served_isolation_forest,
    export_isolation_forest,
)
from tests.detection.ml.conftest import adversarial_rows, make_features, manifest_for


def test_average_path_length_matches_sklearn():
    n = np.array([0, 1, 2, 3, 4, 17, 255, 256, 10_000])
    np.testing.assert_allclose(average_path_length(n), _average_path_length(n), rtol=1e-15)


def test_export_has_one_padded_row_per_tree(iforest_estimator, served_iforest):
    forest = served_iforest.forest
    assert forest.n_trees == 100
    assert forest.left.shape[1] == max(e.tree_.node_count for e in iforest_estimator.estimators_)
    assert served_iforest.max_samples == 256
    # leaf values: depth (root = 1) + c(n) - 1 as scikit-learn adds them up
    tree = iforest_estimator.estimators_[0].tree_
    leaf = np.flatnonzero(tree.children_left < 0)[0]
    expected = tree.compute_node_depths()[leaf] + _average_path_length([tree.n_node_samples[leaf]])
    assert forest.value[0, leaf] == pytest.approx(expected[0] - 1.0)


def test_score_samples_equal_sklearn_on_random_rows(iforest_estimator, served_iforest):
    rng = np.random.default_rng(0)
    X = np.vstack([make_features(1500, seed=21), 4 * rng.standard_normal((500, 41))])
    np.testing.assert_allclose(
        served_iforest.score_samples(X), iforest_estimator.score_samples(X), atol=1e-6, rtol=0
    )


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_score_samples_equal_sklearn_on_adversarial_rows(
    iforest_estimator, served_iforest, labelled
):
    X = adversarial_rows(served_iforest.forest, labelled.X, seed=4)
    assert np.isnan(X).any() and np.isinf(X).any()
    np.testing.assert_allclose(
        served_iforest.score_samples(X), iforest_estimator.score_samples(X), atol=1e-6, rtol=0
    )


def test_single_row_path_equals_batch(served_iforest, labelled):
    X = adversarial_rows(served_iforest.forest, labelled.X, seed=5, n=60)
    batch = served_iforest.raw_scores(X)
    one = np.array([served_iforest.raw_score_one(x) for x in X])
    np.testing.assert_allclose(one, batch, atol=1e-12, rtol=0)


def test_feature_subsampled_forest_maps_features_back():
    X = make_features(1500, seed=8)
    estimator = IsolationForest(n_estimators=30, max_features=0.5, random_state=2).fit(X)
    forest, _ = export_isolation_forest(estimator)
    served = build_served_isolation_forest(estimator, manifest_for("isolation_forest"), X)
    X_new = make_features(400, seed=9) * 2
    assert forest.feature.max() >= 20  # global indices, not the per-tree subset's
    np.testing.assert_allclose(
        served.score_samples(X_new), estimator.score_samples(X_new), atol=1e-6, rtol=0
    )


def test_anomalies_score_higher_and_calibrate_near_one(served_iforest, labelled):
    normal = labelled.X[labelled.y == 0]
    outliers = normal[:50] + 25.0
    assert served_iforest.raw_scores(outliers).mean() > served_iforest.raw_scores(normal).mean()
    assert np.median(served_iforest.calibrated_scores(outliers)) > 0.99


def test_wrong_width_is_refused(served_iforest):
    with pytest.raises(ValueError, match="shape"):
        served_iforest.raw_scores(np.zeros((3, 40)))
