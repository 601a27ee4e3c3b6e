"""Small synthetic feature matrices and models fitted once per test session."""

from dataclasses import dataclass

import numpy as np
import pytest

from detection.ml.manifest import ArtifactManifest

N_FEATURES = 41
SPEC_HASH = "spec-0123456789abcdef"
FEATURE_NAMES = [f"feature_{i:02d}" for i in range(N_FEATURES)]


def make_features(n: int, seed: int, n_features: int = N_FEATURES) -> np.ndarray:
    """Correlated Gaussian columns, heavy-tailed positive columns and a binary flag."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 6))
    mixing = np.random.default_rng(12345).standard_normal((6, n_features - 9))
    dense = latent @ mixing + 0.3 * rng.standard_normal((n, n_features - 9))
    heavy = rng.lognormal(mean=3.0, sigma=1.5, size=(n, 8))
    flag = (rng.random((n, 1)) < 0.1).astype(float)
    return np.hstack([dense, heavy, flag])


@dataclass
class LabelledData:
    X: np.ndarray
    y: np.ndarray  # 1 fraud, 0 legit, NaN unknown


def make_labelled(n: int, seed: int, fraud_rate: float = 0.03) -> LabelledData:
    rng = np.random.default_rng(seed)
    X = make_features(n, seed)
    fraud = rng.random(n) < fraud_rate
    X[fraud, :3] += 3.0
    X[fraud, 32] *= 8.0
    y = np.where(fraud, 1.0, 0.0)
    y[rng.random(n) < 0.4] = np.nan
    return LabelledData(X=X, y=y)


def manifest_for(kind: str, n_features: int = N_FEATURES) -> ArtifactManifest:
    return ArtifactManifest(
        kind=kind,
        feature_spec_hash=SPEC_HASH,
        feature_names=FEATURE_NAMES[:n_features],
        window_start="2025-01-01T00:00:00+00:00",
        window_end="2025-03-31T23:59:59+00:00",
    )


def adversarial_rows(forest, X: np.ndarray, seed: int, n: int = 400) -> np.ndarray:
    """Rows sitting on, just around, and far from split thresholds, with NaN and ±inf."""
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), size=n)].copy()
    internal = np.argwhere(forest.left >= 0)
    picks = internal[rng.integers(0, len(internal), size=(n, 6))]
    for i in range(n):
        for j, (t, node) in enumerate(picks[i]):
            threshold = forest.threshold[t, node]
            choice = (i + j) % 6
            if choice == 0:
                value = threshold
            elif choice == 1:
                value = np.nextafter(threshold, np.inf)
            elif choice == 2:
                value = np.nextafter(threshold, -np.inf)
            elif choice == 3:
                # nearest float32 values around the float64 threshold
                value = float(np.nextafter(np.float32(threshold), np.float32(np.inf)))
            elif choice == 4:
                value = float(np.float32(threshold))
            else:
                value = np.nan
            rows[i, forest.feature[t, node]] = value
    rows[::17, 5] = np.inf
    rows[::19, 6] = -np.inf
    rows[::23, 7] = 1e300
    return rows


@pytest.fixture(scope="session")
def labelled() -> LabelledData:
    return make_labelled(4000, seed=7)


@pytest.fixture(scope="session")
def iforest_estimator(labelled):
    from detection.ml.isolation_forest import train_isolation_forest_estimator

    X = labelled.X.copy()
    X[np.random.default_rng(1).random(X.shape) < 0.01] = np.nan  # trees that route NaN
    return train_isolation_forest_estimator(X, seed=3)


@pytest.fixture(scope="session")
def served_iforest(iforest_estimator, labelled):
    from detection.ml.isolation_forest import build_served_isolation_forest

    return build_served_isolation_forest(
        iforest_estimator, manifest_for("isolation_forest"), labelled.X
    )


@pytest.fixture(scope="session")
def supervised_estimator(labelled):
    from detection.ml.supervised import train_supervised_estimator

    X = labelled.X.copy()
    X[np.random.default_rng(2).random(X.shape) < 0.02] = np.nan
    return train_supervised_estimator(X, labelled.y, seed=5, params={"max_iter": 40})


@pytest.fixture(scope="session")
def served_supervised(supervised_estimator):
    from detection.ml.supervised import build_served_supervised

    return build_served_supervised(supervised_estimator, manifest_for("supervised"))


@pytest.fixture(scope="session")
def scaler(labelled):
    from detection.ml.scaling import fit_scaler

    return fit_scaler(labelled.X[labelled.y != 1])


@pytest.fixture(scope="session")
def autoencoder_fit(labelled, scaler):
    from detection.ml.autoencoder import fit_keras_autoencoder

    return fit_keras_autoencoder(scaler.transform(labelled.X[labelled.y != 1]), seed=11, epochs=3)


@pytest.fixture(scope="session")
def served_autoencoder(autoencoder_fit, scaler):
    from detection.ml.autoencoder import build_served_autoencoder

    return build_served_autoencoder(autoencoder_fit, scaler, manifest_for("autoencoder"))
