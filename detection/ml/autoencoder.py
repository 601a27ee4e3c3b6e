"""Autoencoder F→64→32→14→32→64→F: Keras training, numpy serving.

Trained on scaled legitimate/unlabelled rows to reproduce its input; a transaction it
reconstructs badly is unlike the traffic it learned.  The raw risk score is the mean
squared reconstruction error over the features in scaled units; the per-feature
squared errors say which features were reconstructed worst.

TensorFlow is imported only inside :func:`fit_keras_autoencoder`.  Serving uses the
exported weights and a numpy forward pass (relu hidden layers, linear output).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from detection.ml.calibration import EcdfCalibrator, fit_ecdf
from detection.ml.manifest import AUTOENCODER, ArtifactManifest
from detection.ml.scaling import Scaler
from detection.ml.served_model import ServedModel

HIDDEN_LAYERS = (64, 32, 14, 32, 64)
DEFAULT_THRESHOLD_QUANTILE = 0.995


@dataclass
class AutoencoderFit:
    """A trained Keras model with what training learned about its errors."""

    model: Any
    weights: list[tuple[np.ndarray, np.ndarray]]
    validation_errors: np.ndarray
    epochs_run: int
    best_val_loss: float
    train_seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)


def fit_keras_autoencoder(
    Z: np.ndarray,
    *,
    seed: int,
    epochs: int = 30,
    batch_size: int = 512,
    validation_fraction: float = 0.1,
    patience: int = 3,
    learning_rate: float = 1e-3,
    verbose: int = 0,
) -> AutoencoderFit:
    """Train on scaled rows Z (n, F) with Adam + MSE, early stopping on the last rows.

    The validation rows are the last ``validation_fraction`` of Z (with time-ordered
    data: the most recent ones).  Seeds Python, numpy and TensorFlow and turns on
    TensorFlow's deterministic ops, so a rerun on the same machine gives the same model.
    """
    import keras
    import tensorflow as tf

    Z = np.asarray(Z, dtype=np.float32)
    n, n_features = Z.shape
    n_val = max(1, int(round(n * validation_fraction)))
    if n - n_val < 1:
        raise ValueError("not enough rows to train the autoencoder")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    inputs = keras.Input(shape=(n_features,), name="features")
    h = inputs
    for i, width in enumerate(HIDDEN_LAYERS):
        h = keras.layers.Dense(width, activation="relu", name=f"dense_{i}")(h)
    outputs = keras.layers.Dense(n_features, activation="linear", name="reconstruction")(h)
    model = keras.Model(inputs, outputs, name="autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")

    train, val = Z[: n - n_val], Z[n - n_val :]
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    started = time.perf_counter()
    history = model.fit(
        train,
        train,
        validation_data=(val, val),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=[stopper],
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - started

    weights = export_keras_weights(model)
    recon = dense_forward(val.astype(np.float64), weights)
    val_errors = np.mean((val.astype(np.float64) - recon) ** 2, axis=1)
    val_losses = [float(v) for v in history.history.get("val_loss", [])]
    return AutoencoderFit(
        model=model,
        weights=weights,
        validation_errors=val_errors,
        epochs_run=len(val_losses),
        best_val_loss=min(val_losses) if val_losses else float("nan"),
        train_seconds=train_seconds,
        history={k: [float(v) for v in vals] for k, vals in history.history.items()},
    )


def export_keras_weights(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) of each Dense layer, in order, as float64 arrays."""
    weights = []
    for layer in model.layers:
        params = layer.get_weights()
        if not params:
            continue
        kernel, bias = params
        weights.append((np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)))
    return weights


def dense_forward(Z: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Relu on every layer but the last, which is linear.  Z is (n, F) or (F,)."""
    h = Z
    last = len(weights) - 1
    for i, (kernel, bias) in enumerate(weights):
        h = h @ kernel
        h += bias
        if i != last:
            np.maximum(h, 0.0, out=h)
    return h


class ServedAutoencoder(ServedModel):
    """Numpy autoencoder with its scaler, error threshold and calibration."""

    kind: ClassVar[str] = AUTOENCODER

    def __init__(
        self,
        manifest: ArtifactManifest,
        calibrator: EcdfCalibrator,
        scaler: Scaler,
        weights: list[tuple[np.ndarray, np.ndarray]],
        threshold: float,
    ) -> None:
        super().__init__(manifest, calibrator)
        n_features = manifest.n_features
        if scaler.mean.shape != (n_features,):
            raise ValueError("scaler does not match the number of features")
        width = n_features
        for kernel, bias in weights:
            if kernel.ndim != 2 or kernel.shape[0] != width or bias.shape != (kernel.shape[1],):
                raise ValueError("autoencoder layer shapes do not chain")
            width = kernel.shape[1]
        if width != n_features:
            raise ValueError("autoencoder output width differs from its input width")
        self.scaler = scaler
        self.weights = weights
        self.threshold = float(threshold)
        # Single-row path: constants prepared once, so a call allocates only its results.
        self._inv_scale = 1.0 / scaler.scale
        clip = scaler.clip
        self._low = None if clip is None else np.full(n_features, -clip)
        self._high = None if clip is None else np.full(n_features, clip)
        self._hidden = [(kernel, bias, np.zeros_like(bias)) for kernel, bias in weights[:-1]]
        self._output = weights[-1]

    def scale_one(self, x: np.ndarray) -> np.ndarray:
        """The scaler's transform of one row (F,)."""
        z = x - self.scaler.mean
        z *= self._inv_scale
        if self._low is not None:
            np.maximum(z, self._low, out=z)
            np.minimum(z, self._high, out=z)
        if self.scaler.fill_missing:
            z[np.isnan(z)] = 0.0
        return z

    def reconstruct_one(self, z: np.ndarray) -> np.ndarray:
        """Forward pass of one scaled row (F,)."""
        h = z
        for kernel, bias, zeros in self._hidden:
            h = np.dot(h, kernel)
            h += bias
            np.maximum(h, zeros, out=h)
        kernel, bias = self._output
        h = np.dot(h, kernel)
        h += bias
        return h

    def reconstruct(self, X: np.ndarray) -> np.ndarray:
        """Reconstruction of the scaled rows (n, F), in scaled units."""
        return dense_forward(self.scaler.transform(self.check_input(X)), self.weights)

    def feature_errors(self, X: np.ndarray) -> np.ndarray:
        """Squared reconstruction error per row and feature (n, F), scaled units."""
        Z = self.scaler.transform(self.check_input(X))
        diff = Z - dense_forward(Z, self.weights)
        return diff * diff

    def feature_errors_one(self, x: np.ndarray) -> np.ndarray:
        """Squared reconstruction error per feature of one row (F,), scaled units."""
        z = self.scale_one(np.asarray(x, dtype=np.float64))
        diff = z - self.reconstruct_one(z)
        return diff * diff

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        return self.feature_errors(X).mean(axis=1)

    def raw_score_one(self, x: np.ndarray) -> float:
        z = self.scale_one(x)
        diff = z - self.reconstruct_one(z)
        return float(np.dot(diff, diff)) / diff.shape[0]

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            **self.scaler.to_arrays(),
            "threshold": np.array(self.threshold),
            "n_layers": np.array(len(self.weights)),
            **self.calibrator.to_arrays(),
        }
        for i, (kernel, bias) in enumerate(self.weights):
            arrays[f"kernel_{i}"] = kernel
            arrays[f"bias_{i}"] = bias
        return arrays

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], manifest: ArtifactManifest
    ) -> ServedAutoencoder:
        n_layers = int(arrays["n_layers"])
        weights = [
            (
                np.asarray(arrays[f"kernel_{i}"], dtype=np.float64),
                np.asarray(arrays[f"bias_{i}"], dtype=np.float64),
            )
            for i in range(n_layers)
        ]
        return cls(
            manifest=manifest,
            calibrator=EcdfCalibrator.from_arrays(arrays),
            scaler=Scaler.from_arrays(arrays),
            weights=weights,
            threshold=float(arrays["threshold"]),
        )


def build_served_autoencoder(
    fit: AutoencoderFit,
    scaler: Scaler,
    manifest: ArtifactManifest,
    *,
    threshold_quantile: float = DEFAULT_THRESHOLD_QUANTILE,
) -> ServedAutoencoder:
    """Served model whose threshold and calibration come from the validation errors."""
    threshold = float(np.quantile(fit.validation_errors, threshold_quantile))
    return ServedAutoencoder(
        manifest, fit_ecdf(fit.validation_errors), scaler, fit.weights, threshold
    )
