"""Isolation forest: scikit-learn training, export of the trees to arrays, numpy scoring.

The served score reproduces ``IsolationForest.score_samples`` exactly: per tree, the
depth of the leaf a row reaches plus the average path length ``c(n)`` of an isolation
tree grown on the ``n`` training samples left in that leaf (minus one, with the root at
depth 1, as scikit-learn counts), averaged over trees and normalised by ``c(max_samples)``:
``score_samples = -2 ** (-mean_path / c(max_samples))``.  Inputs are compared as float32,
as scikit-learn casts them.  The raw risk score served is ``-score_samples``, the anomaly
score of the original paper, in (0, 1], higher = more anomalous.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from detection.ml.calibration import EcdfCalibrator, fit_ecdf
from detection.ml.forest_walk import CompiledForest, ForestArrays
from detection.ml.manifest import ISOLATION_FOREST, ArtifactManifest
from detection.ml.served_model import ServedModel

DEFAULT_N_ESTIMATORS = 100
DEFAULT_MAX_SAMPLES = 256


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """``c(n)``: average path length of an unsuccessful search in a BST of n samples."""
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def train_isolation_forest_estimator(
    X: np.ndarray,
    *,
    seed: int,
    n_estimators: int = DEFAULT_N_ESTIMATORS,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    n_jobs: int | None = None,
) -> object:
    """Fit scikit-learn's IsolationForest (contamination 'auto': no threshold is learned)."""
    from sklearn.ensemble import IsolationForest

    X = np.asarray(X, dtype=np.float64)
    estimator = IsolationForest(
        n_estimators=n_estimators,
        max_samples=min(max_samples, X.shape[0]),
        random_state=seed,
        n_jobs=n_jobs,
    )
    estimator.fit(X)
    return estimator


def export_isolation_forest(estimator: object) -> tuple[ForestArrays, int]:
    """The fitted forest's trees as padded arrays, and the ``max_samples`` it used.

    Each leaf's ``value`` is ``depth + c(n_node_samples) - 1`` (root depth 1), the
    quantity scikit-learn adds up per tree; feature indices are mapped through each
    tree's feature subset.
    """
    trees = []
    n_features = estimator.n_features_in_
    for tree_estimator, features in zip(estimator.estimators_, estimator.estimators_features_):
        tree = tree_estimator.tree_
        features = np.asarray(features)
        is_leaf = tree.children_left < 0
        local = np.where(is_leaf, 0, tree.feature)
        global_feature = features[local] if len(features) != n_features else local
        depth = tree.compute_node_depths()
        value = depth + average_path_length(tree.n_node_samples) - 1.0
        trees.append(
            {
                "feature": np.where(is_leaf, 0, global_feature),
                "threshold": tree.threshold,
                "left": tree.children_left,
                "right": tree.children_right,
                "missing_go_to_left": tree.missing_go_to_left,
                "value": value,
                "count": tree.n_node_samples.astype(np.float64),
            }
        )
    return ForestArrays.from_trees(trees), int(estimator._max_samples)


class ServedIsolationForest(ServedModel):
    """Numpy isolation forest: every tree walked at once, level by level."""

    kind: ClassVar[str] = ISOLATION_FOREST

    def __init__(
        self,
        manifest: ArtifactManifest,
        calibrator: EcdfCalibrator,
        forest: ForestArrays,
        max_samples: int,
    ) -> None:
        super().__init__(manifest, calibrator)
        self.forest = forest
        self.max_samples = int(max_samples)
        self._walk = CompiledForest(forest, manifest.n_features, float32_inputs=True)
        denominator = forest.n_trees * float(average_path_length(np.array([max_samples]))[0])
        # A forest grown on one sample has c = 0: scikit-learn scores every row 1 then.
        self._scale = 1.0 / denominator if denominator > 0 else 0.0

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Same as scikit-learn's ``IsolationForest.score_samples`` (lower = more abnormal)."""
        return -self.raw_scores(X)

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        depths = self._walk.sum_rows(self.check_input(X))
        return np.exp2(-depths * self._scale)

    def raw_score_one(self, x: np.ndarray) -> float:
        return 2.0 ** (-self._walk.sum_one(x) * self._scale)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            **self.forest.to_arrays("tree_"),
            "max_samples": np.array(self.max_samples),
            **self.calibrator.to_arrays(),
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], manifest: ArtifactManifest
    ) -> ServedIsolationForest:
        return cls(
            manifest=manifest,
            calibrator=EcdfCalibrator.from_arrays(arrays),
            forest=ForestArrays.from_arrays(arrays, "tree_"),
            max_samples=int(arrays["max_samples"]),
        )


def build_served_isolation_forest(
    estimator: object, manifest: ArtifactManifest, calibration_X: np.ndarray
) -> ServedIsolationForest:
    """Export a fitted estimator and calibrate it on the scores of ``calibration_X``."""
    forest, max_samples = export_isolation_forest(estimator)
    placeholder = EcdfCalibrator(xp=np.array([0.0, 1.0]), fp=np.array([0.0, 1.0]))
    served = ServedIsolationForest(manifest, placeholder, forest, max_samples)
    served.calibrator = fit_ecdf(served.raw_scores(calibration_X))
    return served
