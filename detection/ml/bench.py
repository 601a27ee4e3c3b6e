"""Per-row scoring latency: numpy serving against the naive library calls.

:func:`benchmark_scoring` fits small models on the given rows (isolation forest, a
briefly trained autoencoder, gradient boosting), exports them as serving does, then
times each way of scoring one row at a time and reports p50/p99 in milliseconds.
The naive side is what serving would cost without the export: scikit-learn
``decision_function`` / ``predict_proba`` / ``StandardScaler.transform`` per row and
Keras ``predict`` / eager ``model(x)`` per row.  Imports TensorFlow (for the naive side):
run it from a command, never from a web process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from detection.ml.autoencoder import build_served_autoencoder, fit_keras_autoencoder
from detection.ml.isolation_forest import (
    build_served_isolation_forest,
    train_isolation_forest_estimator,
)
from detection.ml.manifest import (
    AUTOENCODER,
    ISOLATION_FOREST,
    SUPERVISED,
    ArtifactManifest,
)
from detection.ml.scaling import fit_scaler
from detection.ml.serving import ModelEnsemble
from detection.ml.supervised import (
    build_served_supervised,
    has_enough_labels,
    train_supervised_estimator,
)


def time_per_row(fn: Callable[[np.ndarray], Any], rows: np.ndarray, warmup: int = 5) -> dict:
    """Call ``fn`` on each row; p50/p99/mean latency in ms."""
    for row in rows[:warmup]:
        fn(row)
    timings = np.empty(len(rows))
    for i, row in enumerate(rows):
        started = time.perf_counter()
        fn(row)
        timings[i] = time.perf_counter() - started
    timings *= 1e3
    return {
        "p50_ms": float(np.percentile(timings, 50)),
        "p99_ms": float(np.percentile(timings, 99)),
        "mean_ms": float(timings.mean()),
        "n": len(rows),
    }


def _manifest(kind: str, n_features: int) -> ArtifactManifest:
    return ArtifactManifest(
        kind=kind,
        feature_spec_hash="benchmark",
        feature_names=[f"f{i}" for i in range(n_features)],
        window_start="",
        window_end="",
    )


def benchmark_scoring(
    X: np.ndarray,
    *,
    y: np.ndarray | None = None,
    n_rows: int = 500,
    n_naive_rows: int = 50,
    seed: int = 0,
    ae_epochs: int = 2,
    include_naive: bool = True,
    ensemble: ModelEnsemble | None = None,
) -> dict[str, dict]:
    """Latency per scoring path, keyed ``numpy.*``, ``sklearn.*``, ``keras.*``.

    Without enough labels in ``y``, the supervised model is fit on a stand-in label
    (the 2 % most anomalous rows by isolation forest): its latency does not depend on
    what the labels mean, nor on class weights, which it is fit without.
    ``ensemble``, when given (e.g. the loaded production models), is timed as
    ``numpy.loaded_ensemble_score_one``.
    """
    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    rng = np.random.default_rng(seed)
    rows = X[rng.choice(X.shape[0], size=min(n_rows, X.shape[0]), replace=False)]
    naive_rows = rows[:n_naive_rows]

    iforest = train_isolation_forest_estimator(X, seed=seed)
    served_if = build_served_isolation_forest(iforest, _manifest(ISOLATION_FOREST, n_features), X)
    if y is None or not has_enough_labels(y):
        y = (served_if.raw_scores(X) >= np.quantile(served_if.raw_scores(X), 0.98)).astype(float)
    # Unweighted: scoring cost does not depend on the weights, and fitting is faster.
    booster = train_supervised_estimator(X, y, seed=seed, params={"class_weight": None})
    served_sup = build_served_supervised(booster, _manifest(SUPERVISED, n_features))
    scaler = fit_scaler(X)
    fit = fit_keras_autoencoder(scaler.transform(X), seed=seed, epochs=ae_epochs)
    served_ae = build_served_autoencoder(fit, scaler, _manifest(AUTOENCODER, n_features))
    local = ModelEnsemble([served_if, served_ae, served_sup])

    results = {
        "numpy.scaler": time_per_row(served_ae.scale_one, rows),
        "numpy.isolation_forest": time_per_row(served_if.raw_score_one, rows),
        "numpy.autoencoder": time_per_row(served_ae.raw_score_one, rows),
        "numpy.supervised": time_per_row(served_sup.raw_score_one, rows),
        "numpy.ensemble_score_one": time_per_row(local.score_one, rows),
    }
    if ensemble is not None and ensemble:
        results["numpy.loaded_ensemble_score_one"] = time_per_row(ensemble.score_one, rows)
    if include_naive:
        from sklearn.preprocessing import StandardScaler

        standard = StandardScaler().fit(X)
        model = fit.model
        results.update(
            {
                "sklearn.standard_scaler": time_per_row(
                    lambda r: standard.transform(r[None, :]), naive_rows
                ),
                "sklearn.isolation_forest": time_per_row(
                    lambda r: iforest.decision_function(r[None, :]), naive_rows
                ),
                "sklearn.supervised": time_per_row(
                    lambda r: booster.predict_proba(r[None, :]), naive_rows
                ),
                "keras.predict": time_per_row(
                    lambda r: model.predict(r[None, :].astype(np.float32), verbose=0), naive_rows
                ),
                "keras.eager": time_per_row(
                    lambda r: np.asarray(model(r[None, :].astype(np.float32))), naive_rows
                ),
            }
        )
    return results
