"""Supervised fraud model: scikit-learn HistGradientBoostingClassifier on feedback labels.

HistGradientBoosting trains in seconds on a million rows, handles missing values
natively, and SHAP's TreeExplainer reads its trees exactly.  The trees are exported to
arrays; served ``predict_proba`` is ``sigmoid(baseline + sum of leaf values)``, the same
as scikit-learn's.  Class imbalance is handled with balanced class weights, so the
probability is the one of a model that saw as many frauds as legitimate transactions
(a ranking score, higher = more likely fraud), not the fraud rate among all traffic.

Labels: 1 = fraud, 0 = legitimate, NaN or -1 = unknown (not used for training).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from detection.ml.calibration import EcdfCalibrator
from detection.ml.forest_walk import CompiledForest, ForestArrays
from detection.ml.manifest import SUPERVISED, ArtifactManifest
from detection.ml.served_model import ServedModel

DEFAULT_MIN_FRAUD = 50
DEFAULT_MIN_LEGIT = 200

DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_leaf_nodes": 31,
    "max_depth": 6,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "class_weight": "balanced",
    "early_stopping": "auto",
}


def known_label_mask(y: np.ndarray) -> np.ndarray:
    """True where a row carries a label (0 or 1); NaN and -1 mean unknown."""
    y = np.asarray(y, dtype=np.float64)
    return (y == 0) | (y == 1)


def label_counts(y: np.ndarray | None) -> tuple[int, int]:
    """(fraud, legit) label counts."""
    if y is None:
        return 0, 0
    y = np.asarray(y, dtype=np.float64)
    return int(np.sum(y == 1)), int(np.sum(y == 0))


def has_enough_labels(
    y: np.ndarray | None,
    *,
    min_fraud: int = DEFAULT_MIN_FRAUD,
    min_legit: int = DEFAULT_MIN_LEGIT,
) -> bool:
    """Whether there are at least ``min_fraud`` fraud and ``min_legit`` legit labels."""
    fraud, legit = label_counts(y)
    return fraud >= min_fraud and legit >= min_legit


def train_supervised_estimator(
    X: np.ndarray, y: np.ndarray, *, seed: int, params: dict[str, Any] | None = None
) -> object:
    """Fit HistGradientBoostingClassifier on the labelled rows of (X, y)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    mask = known_label_mask(y)
    X_l = np.asarray(X, dtype=np.float64)[mask]
    y_l = np.asarray(y, dtype=np.float64)[mask].astype(np.int64)
    if len(np.unique(y_l)) < 2:
        raise ValueError("supervised training needs both fraud and legitimate labels")
    estimator = HistGradientBoostingClassifier(**{**DEFAULT_PARAMS, **(params or {})})
    estimator.set_params(random_state=seed)
    estimator.fit(X_l, y_l)
    return estimator


def export_supervised(estimator: object) -> tuple[ForestArrays, float]:
    """The boosted trees as padded arrays (leaf values already shrunk) and the baseline."""
    if len(estimator.classes_) != 2:
        raise ValueError("only binary classifiers can be exported")
    trees = []
    for predictors in estimator._predictors:
        nodes = predictors[0].nodes
        if np.any(nodes["is_categorical"]):
            raise ValueError("categorical splits are not supported by the exported trees")
        is_leaf = nodes["is_leaf"].astype(bool)
        trees.append(
            {
                "feature": nodes["feature_idx"],
                "threshold": nodes["num_threshold"],
                "left": np.where(is_leaf, -1, nodes["left"].astype(np.int64)),
                "right": np.where(is_leaf, -1, nodes["right"].astype(np.int64)),
                "missing_go_to_left": nodes["missing_go_to_left"].astype(bool),
                "value": nodes["value"],
                "count": nodes["count"].astype(np.float64),
            }
        )
    baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
    return ForestArrays.from_trees(trees), baseline


def identity_calibrator() -> EcdfCalibrator:
    """Probabilities are already in [0, 1]: calibration leaves them as they are."""
    return EcdfCalibrator(xp=np.array([0.0, 1.0]), fp=np.array([0.0, 1.0]))


class ServedSupervised(ServedModel):
    """Numpy gradient-boosting classifier; raw score = fraud probability."""

    kind: ClassVar[str] = SUPERVISED

    def __init__(
        self,
        manifest: ArtifactManifest,
        calibrator: EcdfCalibrator,
        forest: ForestArrays,
        baseline: float,
    ) -> None:
        super().__init__(manifest, calibrator)
        self.forest = forest
        self.baseline = float(baseline)
        self._walk = CompiledForest(forest, manifest.n_features, float32_inputs=False)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of fraud (scikit-learn's ``decision_function``)."""
        return self._walk.sum_rows(self.check_input(X)) + self.baseline

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Shape (n, 2): probabilities of legit and fraud, as scikit-learn returns them."""
        fraud = self.raw_scores(X)
        return np.column_stack([1.0 - fraud, fraud])

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        return expit(self.decision_function(X))

    def raw_score_one(self, x: np.ndarray) -> float:
        logit = self._walk.sum_one(x) + self.baseline
        if logit >= 0:
            return 1.0 / (1.0 + math.exp(-logit))
        odds = math.exp(logit)
        return odds / (1.0 + odds)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            **self.forest.to_arrays("tree_"),
            "baseline": np.array(self.baseline),
            **self.calibrator.to_arrays(),
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], manifest: ArtifactManifest
    ) -> ServedSupervised:
        return cls(
            manifest=manifest,
            calibrator=EcdfCalibrator.from_arrays(arrays),
            forest=ForestArrays.from_arrays(arrays, "tree_"),
            baseline=float(arrays["baseline"]),
        )


def build_served_supervised(estimator: object, manifest: ArtifactManifest) -> ServedSupervised:
    forest, baseline = export_supervised(estimator)
    return ServedSupervised(manifest, identity_calibrator(), forest, baseline)
