import numpy as np
import pytest
import shap

from detection.ml.explain import (
    autoencoder_contributions,
    contributions,
    isolation_forest_contributions,
    isolation_forest_expected_path_length,
    supervised_contributions,
    supervised_expected_value,
    tree_explainer,
)
from detection.ml.isolation_forest import average_path_length


@pytest.fixture(scope="module")
def rows(labelled):
    X = labelled.X[:60].copy()
    X[::7, 2] = np.nan
    return X


def test_supervised_shap_equals_shap_on_the_sklearn_model(
    supervised_estimator, served_supervised, rows
):
    ours = supervised_contributions(served_supervised, rows)
    reference = shap.TreeExplainer(supervised_estimator).shap_values(rows)
    assert ours.shape == (60, 41)
    np.testing.assert_allclose(ours, reference, atol=1e-9)


def test_supervised_shap_adds_up_to_the_log_odds(served_supervised, rows):
    total = supervised_contributions(served_supervised, rows).sum(axis=1)
    total += supervised_expected_value(served_supervised)
    np.testing.assert_allclose(total, served_supervised.decision_function(rows), atol=1e-9)


def test_isolation_forest_contributions_are_minus_shap_of_path_length(
    iforest_estimator, served_iforest, rows
):
    ours = isolation_forest_contributions(served_iforest, rows)
    reference = shap.TreeExplainer(iforest_estimator).shap_values(rows)
    np.testing.assert_allclose(ours, -reference, atol=1e-9)
    # expected path length minus the contributions is the row's mean path length
    mean_path = -np.log2(served_iforest.raw_scores(rows)) * average_path_length(np.array([256]))
    np.testing.assert_allclose(
        isolation_forest_expected_path_length(served_iforest) - ours.sum(axis=1),
        mean_path,
        atol=1e-9,
    )


def test_isolation_forest_blames_the_feature_that_was_pushed_out(served_iforest, labelled):
    row = labelled.X[labelled.y == 0][0].copy()
    row[10] += 50.0
    contribution = isolation_forest_contributions(served_iforest, row)[0]
    assert np.argmax(contribution) == 10 and contribution[10] > 0


def test_explainer_is_built_once_and_cached(served_supervised, rows):
    first = tree_explainer(served_supervised)
    supervised_contributions(served_supervised, rows[:2])
    assert tree_explainer(served_supervised) is first


def test_autoencoder_contributions_are_error_shares(served_autoencoder, labelled):
    X = labelled.X[labelled.y == 0][:20].copy()
    X[:, 7] += 9 * served_autoencoder.scaler.scale[7]
    shares = autoencoder_contributions(served_autoencoder, X)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert np.all(shares >= 0)
    assert np.all(np.argmax(shares, axis=1) == 7)
    np.testing.assert_array_equal(contributions(served_autoencoder, X), shares)


def test_contributions_dispatch_by_kind(served_supervised, served_iforest, rows):
    np.testing.assert_array_equal(
        contributions(served_supervised, rows[:3]),
        supervised_contributions(served_supervised, rows[:3]),
    )
    np.testing.assert_array_equal(
        contributions(served_iforest, rows[:3]),
        isolation_forest_contributions(served_iforest, rows[:3]),
    )
    with pytest.raises(TypeError):
        contributions(object(), rows[:3])
