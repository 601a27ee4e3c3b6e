import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from detection.ml.scaling import Scaler, fit_scaler
from tests.detection.ml.conftest import make_features


def test_equals_standard_scaler_without_clipping():
    X = make_features(2000, seed=1)
    X[:, 4] = 3.25  # constant column: both use scale 1
    scaler = fit_scaler(X, clip=None)
    reference = StandardScaler().fit(X)
    X_new = make_features(500, seed=2) * 1.7
    np.testing.assert_allclose(scaler.transform(X_new), reference.transform(X_new), atol=1e-9)
    np.testing.assert_allclose(scaler.mean, reference.mean_, rtol=1e-12)
    np.testing.assert_allclose(scaler.scale, reference.scale_, rtol=1e-12)


def test_clipping_bounds_heavy_tails_and_leaves_the_rest_alone():
    X = make_features(2000, seed=3)
    scaler = fit_scaler(X, clip=10.0)
    X_new = X[:50].copy()
    X_new[0, 33] = 1e9  # heavy-tailed feature, extreme value
    X_new[1, 0] = -1e9
    Z = scaler.transform(X_new)
    assert Z[0, 33] == 10.0
    assert Z[1, 0] == -10.0
    unclipped = fit_scaler(X, clip=None).transform(X_new)
    inside = np.abs(unclipped) < 10
    np.testing.assert_array_equal(Z[inside], unclipped[inside])


def test_missing_values_become_the_training_mean():
    X = make_features(300, seed=4)
    X[::7, 2] = np.nan  # NaN ignored when fitting
    scaler = fit_scaler(X)
    assert np.isfinite(scaler.mean).all()
    np.testing.assert_allclose(scaler.mean[2], np.nanmean(X[:, 2]))
    row = X[1].copy()
    row[[2, 9]] = np.nan
    z = scaler.transform(row[None, :])[0]
    assert z[2] == 0.0 and z[9] == 0.0
    assert np.isfinite(z).all()


def test_arrays_round_trip():
    scaler = fit_scaler(make_features(100, seed=5), clip=None)
    again = Scaler.from_arrays(scaler.to_arrays())
    assert again.clip is None
    np.testing.assert_array_equal(again.scale, scaler.scale)
    with pytest.raises(ValueError, match="positive"):
        Scaler.from_arrays({**scaler.to_arrays(), "scaler_scale": np.zeros(41)})
