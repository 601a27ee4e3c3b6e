import numpy as np
import pytest

from detection.ml.autoencoder import (
    HIDDEN_LAYERS,
    ServedAutoencoder,
    fit_keras_autoencoder,
)
from tests.detection.ml.conftest import make_features


def test_architecture_is_f_64_32_14_32_64_f(autoencoder_fit):
    widths = [kernel.shape for kernel, _ in autoencoder_fit.weights]
    assert HIDDEN_LAYERS == (64, 32, 14, 32, 64)
    assert widths == [(41, 64), (64, 32), (32, 14), (14, 32), (32, 64), (64, 41)]
    activations = [layer.activation.__name__ for layer in autoencoder_fit.model.layers[1:]]
    assert activations == ["relu"] * 5 + ["linear"]


def test_numpy_forward_equals_keras(autoencoder_fit, served_autoencoder, scaler):
    X = np.vstack([make_features(500, seed=41), make_features(100, seed=42) * 3])
    Z = scaler.transform(X)
    keras_out = np.asarray(autoencoder_fit.model(Z.astype(np.float32)), dtype=np.float64)
    np.testing.assert_allclose(served_autoencoder.reconstruct(X), keras_out, rtol=1e-5, atol=1e-5)
    one = np.array([served_autoencoder.reconstruct_one(z) for z in Z[:20]])
    np.testing.assert_allclose(one, keras_out[:20], rtol=1e-5, atol=1e-5)


def test_scores_are_mean_of_per_feature_errors(served_autoencoder, labelled):
    X = labelled.X[:200].copy()
    X[3, [0, 4]] = np.nan
    errors = served_autoencoder.feature_errors(X)
    assert errors.shape == (200, 41) and np.all(errors >= 0)
    np.testing.assert_allclose(served_autoencoder.raw_scores(X), errors.mean(axis=1))
    one = np.array([served_autoencoder.raw_score_one(x) for x in X])
    np.testing.assert_allclose(one, served_autoencoder.raw_scores(X), rtol=1e-12)
    np.testing.assert_allclose(served_autoencoder.feature_errors_one(X[3]), errors[3])
    assert np.isfinite(one).all()


def test_threshold_is_a_high_quantile_of_validation_error(autoencoder_fit, served_autoencoder):
    errors = autoencoder_fit.validation_errors
    assert served_autoencoder.threshold == pytest.approx(np.quantile(errors, 0.995))
    assert np.mean(errors > served_autoencoder.threshold) == pytest.approx(0.005, abs=0.003)
    assert autoencoder_fit.epochs_run >= 1


def test_unusual_rows_reconstruct_worse(served_autoencoder, labelled):
    normal = labelled.X[labelled.y == 0][:300]
    odd = normal.copy()
    odd[:, 0] = odd[:, 0] + 9 * served_autoencoder.scaler.scale[0]  # breaks correlations
    assert np.median(served_autoencoder.raw_scores(odd)) > 2 * np.median(
        served_autoencoder.raw_scores(normal)
    )
    share = served_autoencoder.feature_errors(odd)
    assert np.median(np.argmax(share, axis=1) == 0) == 1


def test_same_seed_same_weights():
    Z = make_features(600, seed=3)
    Z = (Z - Z.mean(0)) / Z.std(0)
    first = fit_keras_autoencoder(Z, seed=4, epochs=2, batch_size=128)
    second = fit_keras_autoencoder(Z, seed=4, epochs=2, batch_size=128)
    for (k1, b1), (k2, b2) in zip(first.weights, second.weights):
        np.testing.assert_array_equal(k1, k2)
        np.testing.assert_array_equal(b1, b2)


def test_arrays_round_trip_and_shape_checks(served_autoencoder, labelled):
    arrays = served_autoencoder.to_arrays()
    again = ServedAutoencoder.from_arrays(arrays, served_autoencoder.manifest)
    np.testing.assert_array_equal(
        again.raw_scores(labelled.X[:50]), served_autoencoder.raw_scores(labelled.X[:50])
    )
    broken = {**arrays, "kernel_2": arrays["kernel_2"][:, :13]}
    with pytest.raises(ValueError, match="chain"):
        ServedAutoencoder.from_arrays(broken, served_autoencoder.manifest)
