"""Base class of the numpy models that serving loads from artifacts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from detection.ml.calibration import EcdfCalibrator
from detection.ml.manifest import ArtifactManifest


class ServedModel(ABC):
    """A model held as numpy arrays: raw scores (higher = riskier) and calibrated [0, 1].

    Subclasses implement ``raw_scores`` (batch) and ``raw_score_one`` (one row) and say
    how to turn themselves into arrays and back.  No method imports TensorFlow.
    """

    kind: ClassVar[str]

    def __init__(self, manifest: ArtifactManifest, calibrator: EcdfCalibrator) -> None:
        self.manifest = manifest
        self.calibrator = calibrator
        # Lazily built helpers (e.g. a SHAP explainer) keyed by name.
        self.cache: dict[str, Any] = {}

    @property
    def n_features(self) -> int:
        return self.manifest.n_features

    @property
    def feature_names(self) -> list[str]:
        return self.manifest.feature_names

    @abstractmethod
    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        """Raw risk score per row of X (n, F); higher means riskier."""

    @abstractmethod
    def raw_score_one(self, x: np.ndarray) -> float:
        """Raw risk score of one row x (F,)."""

    def calibrated_scores(self, X: np.ndarray) -> np.ndarray:
        return self.calibrator(self.raw_scores(X))

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every array needed to rebuild the model (calibration included)."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], manifest: ArtifactManifest) -> ServedModel:
        """Rebuild from ``to_arrays()``; raise ValueError on inconsistent arrays."""

    def updated_manifest(self, **changes: Any) -> ArtifactManifest:
        return replace(self.manifest, **changes)

    def check_input(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"{self.kind} expects a matrix of shape (n, {self.n_features}), got {X.shape}"
            )
        return X
