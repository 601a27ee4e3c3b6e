"""Train every model on one feature matrix and write their artifacts.

Rows of ``X_train`` must be in time order (oldest first): the last
``validation_fraction`` of the rows is the validation tail on which metrics are
computed, as a model is judged on traffic that comes after what it learned from.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detection.ml.artifacts import read_manifest, write_artifact
from detection.ml.autoencoder import (
    DEFAULT_THRESHOLD_QUANTILE,
    HIDDEN_LAYERS,
    build_served_autoencoder,
    fit_keras_autoencoder,
)
from detection.ml.isolation_forest import (
    DEFAULT_MAX_SAMPLES,
    DEFAULT_N_ESTIMATORS,
    build_served_isolation_forest,
    train_isolation_forest_estimator,
)
from detection.ml.manifest import (
    AUTOENCODER,
    ISOLATION_FOREST,
    MODEL_KINDS,
    SUPERVISED,
    ArtifactManifest,
)
from detection.ml.scaling import DEFAULT_CLIP, fit_scaler
from detection.ml.served_model import ServedModel
from detection.ml.supervised import (
    DEFAULT_MIN_FRAUD,
    DEFAULT_MIN_LEGIT,
    DEFAULT_PARAMS,
    build_served_supervised,
    has_enough_labels,
    known_label_mask,
    label_counts,
    train_supervised_estimator,
)

logger = logging.getLogger(__name__)

DEFAULT_AE_MAX_ROWS = 200_000
DEFAULT_CALIBRATION_MAX_ROWS = 200_000
SCORE_QUANTILES = (0.5, 0.9, 0.99, 0.999)


@dataclass(frozen=True)
class TrainedArtifactInfo:
    """Where a trained model's artifact was written and what it measured."""

    kind: str
    path: Path
    version: str
    metrics: dict[str, Any]


def _json_number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def score_quantiles(scores: np.ndarray, prefix: str) -> dict[str, float | None]:
    values = np.quantile(scores, SCORE_QUANTILES)
    return {f"{prefix}_p{q * 100:g}": _json_number(v) for q, v in zip(SCORE_QUANTILES, values)}


def ranking_metrics(scores: np.ndarray, y: np.ndarray, prefix: str) -> dict[str, Any]:
    """ROC AUC and average precision of ``scores`` on the labelled rows of ``y``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    mask = known_label_mask(y)
    labels = np.asarray(y, dtype=np.float64)[mask].astype(np.int64)
    fraud, legit = int(labels.sum()), int((labels == 0).sum())
    metrics: dict[str, Any] = {f"{prefix}_n_fraud": fraud, f"{prefix}_n_legit": legit}
    if fraud and legit:
        metrics[f"{prefix}_roc_auc"] = _json_number(roc_auc_score(labels, scores[mask]))
        metrics[f"{prefix}_average_precision"] = _json_number(
            average_precision_score(labels, scores[mask])
        )
    return metrics


def _subsample_in_order(indices: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    if indices.size <= max_rows:
        return indices
    return np.sort(rng.choice(indices, size=max_rows, replace=False))


def train_all(
    X_train: np.ndarray,
    *,
    y_train: np.ndarray | None = None,
    feature_names: list[str],
    feature_spec_hash: str,
    window: tuple[str, str],
    out_dir: Path,
    seed: int,
    ae_epochs: int = 30,
    ae_batch_size: int = 512,
    ae_max_rows: int = DEFAULT_AE_MAX_ROWS,
    ae_threshold_quantile: float = DEFAULT_THRESHOLD_QUANTILE,
    scaler_clip: float | None = DEFAULT_CLIP,
    if_n_estimators: int = DEFAULT_N_ESTIMATORS,
    if_max_samples: int = DEFAULT_MAX_SAMPLES,
    supervised_params: dict[str, Any] | None = None,
    min_fraud: int = DEFAULT_MIN_FRAUD,
    min_legit: int = DEFAULT_MIN_LEGIT,
    validation_fraction: float = 0.2,
    kinds: Iterable[str] = MODEL_KINDS,
) -> dict[str, TrainedArtifactInfo]:
    """Fit and write the isolation forest, the autoencoder and (with enough labels) the
    supervised model; return the artifact written for each kind trained.

    ``y_train``: 1 fraud, 0 legitimate, NaN or -1 unknown.  The unsupervised models
    learn from the rows not labelled fraud; the supervised model from the labelled rows
    and only when there are at least ``min_fraud`` fraud and ``min_legit`` legit labels.
    """
    X = np.asarray(X_train, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X_train must be an (n, F) matrix with n >= 2, got {X.shape}")
    if X.shape[1] != len(feature_names):
        raise ValueError(f"X_train has {X.shape[1]} columns for {len(feature_names)} names")
    n = X.shape[0]
    y = np.full(n, np.nan) if y_train is None else np.asarray(y_train, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(f"y_train must have shape ({n},), got {y.shape}")
    unknown_kinds = set(kinds) - set(MODEL_KINDS)
    if unknown_kinds:
        raise ValueError(f"unknown model kinds: {sorted(unknown_kinds)}")
    kinds = [kind for kind in MODEL_KINDS if kind in set(kinds)]

    rng = np.random.default_rng(seed)
    tail_start = int(n * (1.0 - validation_fraction))
    not_fraud = np.flatnonzero(y != 1)
    fraud, legit = label_counts(y)
    common = {"n_rows": n, "n_fraud_labels": fraud, "n_legit_labels": legit}

    def manifest(kind: str, metrics: dict[str, Any], params: dict[str, Any]) -> ArtifactManifest:
        return ArtifactManifest(
            kind=kind,
            feature_spec_hash=feature_spec_hash,
            feature_names=list(feature_names),
            window_start=window[0],
            window_end=window[1],
            metrics={**common, **metrics},
            params=params,
        )

    def write(model: ServedModel) -> TrainedArtifactInfo:
        path = write_artifact(model, out_dir)
        written = read_manifest(path)
        logger.info("wrote %s artifact %s", model.kind, path)
        return TrainedArtifactInfo(
            kind=model.kind, path=path, version=written.version, metrics=written.metrics
        )

    results: dict[str, TrainedArtifactInfo] = {}
    if not_fraud.size < 2:
        raise ValueError("fewer than two rows not labelled fraud: nothing to learn normal from")

    if ISOLATION_FOREST in kinds:
        started = time.perf_counter()
        estimator = train_isolation_forest_estimator(
            X[not_fraud], seed=seed, n_estimators=if_n_estimators, max_samples=if_max_samples
        )
        calibration_rows = _subsample_in_order(not_fraud, DEFAULT_CALIBRATION_MAX_ROWS, rng)
        params = {"n_estimators": if_n_estimators, "max_samples": if_max_samples, "seed": seed}
        served = build_served_isolation_forest(
            estimator, manifest(ISOLATION_FOREST, {}, params), X[calibration_rows]
        )
        metrics = {
            "n_train_rows": int(not_fraud.size),
            "fit_seconds": round(time.perf_counter() - started, 3),
            **score_quantiles(served.raw_scores(X[calibration_rows]), "train_score"),
            **ranking_metrics(served.raw_scores(X[tail_start:]), y[tail_start:], "tail"),
        }
        served.manifest = served.updated_manifest(metrics={**common, **metrics})
        results[ISOLATION_FOREST] = write(served)

    if AUTOENCODER in kinds:
        rows = _subsample_in_order(not_fraud, ae_max_rows, rng)
        scaler = fit_scaler(X[rows], clip=scaler_clip)
        fit = fit_keras_autoencoder(
            scaler.transform(X[rows]), seed=seed, epochs=ae_epochs, batch_size=ae_batch_size
        )
        params = {
            "hidden_layers": list(HIDDEN_LAYERS),
            "max_epochs": ae_epochs,
            "batch_size": ae_batch_size,
            "threshold_quantile": ae_threshold_quantile,
            "scaler_clip": scaler_clip,
            "seed": seed,
        }
        served = build_served_autoencoder(
            fit,
            scaler,
            manifest(AUTOENCODER, {}, params),
            threshold_quantile=ae_threshold_quantile,
        )
        metrics = {
            "n_train_rows": int(rows.size),
            "fit_seconds": round(fit.train_seconds, 3),
            "epochs_run": fit.epochs_run,
            "best_val_loss": _json_number(fit.best_val_loss),
            "threshold": _json_number(served.threshold),
            **score_quantiles(fit.validation_errors, "val_error"),
            **ranking_metrics(served.raw_scores(X[tail_start:]), y[tail_start:], "tail"),
        }
        served.manifest = served.updated_manifest(metrics={**common, **metrics})
        results[AUTOENCODER] = write(served)

    if SUPERVISED in kinds:
        if not has_enough_labels(y, min_fraud=min_fraud, min_legit=min_legit):
            logger.info(
                "supervised model not trained: %d fraud / %d legit labels (need %d / %d)",
                fraud,
                legit,
                min_fraud,
                min_legit,
            )
        else:
            results[SUPERVISED] = write(
                _train_supervised(X, y, tail_start, seed, supervised_params, manifest)
            )
    return results


def _train_supervised(
    X: np.ndarray,
    y: np.ndarray,
    tail_start: int,
    seed: int,
    supervised_params: dict[str, Any] | None,
    manifest: Callable[[str, dict[str, Any], dict[str, Any]], ArtifactManifest],
) -> ServedModel:
    """Validate on the time tail with a model fit on the head, then refit on all labels
    with the number of boosting iterations the head model stopped at."""
    params = {**DEFAULT_PARAMS, **(supervised_params or {})}
    started = time.perf_counter()
    metrics: dict[str, Any] = {}
    y_head = y.copy()
    y_head[tail_start:] = np.nan
    if np.any(y_head == 1) and np.any(y_head == 0):
        head = train_supervised_estimator(X, y_head, seed=seed, params=params)
        tail_scores = head.predict_proba(X[tail_start:])[:, 1]
        metrics.update(ranking_metrics(tail_scores, y[tail_start:], "tail"))
        metrics["head_n_iter"] = int(head.n_iter_)
        params = {**params, "max_iter": max(int(head.n_iter_), 1), "early_stopping": False}
    estimator = train_supervised_estimator(X, y, seed=seed, params=params)
    labelled = known_label_mask(y)
    metrics.update(
        {
            "n_train_rows": int(labelled.sum()),
            "n_iter": int(estimator.n_iter_),
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
    )
    json_params = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool)}
    served = build_served_supervised(
        estimator, manifest(SUPERVISED, metrics, {**json_params, "seed": seed})
    )
    return served
