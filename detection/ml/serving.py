"""The set of served models the scoring service uses: any of them may be missing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from detection.ml.artifacts import ArtifactError, load_artifact
from detection.ml.autoencoder import ServedAutoencoder
from detection.ml.manifest import AUTOENCODER, MODEL_KINDS
from detection.ml.served_model import ServedModel

RAW_SUFFIX = "_raw"


class ModelEnsemble:
    """Served models by kind ("isolation_forest", "autoencoder", "supervised").

    ``score`` and ``score_one`` return, per available model kind, the calibrated score
    in [0, 1] under the kind's name and the raw score under ``<kind>_raw``:

    * isolation_forest: raw = anomaly score in (0, 1] (``-score_samples``);
    * autoencoder: raw = mean squared reconstruction error in scaled units;
    * supervised: raw = fraud probability of the class-balanced model (calibrated = raw).

    Calibrated unsupervised scores are the share of training rows scoring lower.
    """

    def __init__(self, models: Iterable[ServedModel] = ()) -> None:
        self.models: dict[str, ServedModel] = {}
        for model in models:
            if model.kind in self.models:
                raise ValueError(f"two {model.kind} models given")
            self.models[model.kind] = model
        specs = {(m.manifest.feature_spec_hash, m.n_features) for m in self.models.values()}
        if len(specs) > 1:
            raise ValueError("the models were trained on different feature specs")
        self.n_features = next(iter(specs))[1] if specs else None
        # Fixed order and bound methods: the single-row path does no lookups per call.
        self._one = [
            (kind, kind + RAW_SUFFIX, self.models[kind].raw_score_one, self.models[kind].calibrator)
            for kind in MODEL_KINDS
            if kind in self.models
        ]

    @classmethod
    def load(
        cls,
        paths: Mapping[str, Path | str | None],
        *,
        expected_feature_spec_hash: str,
    ) -> tuple[ModelEnsemble, dict[str, ArtifactError]]:
        """Load the artifact of each kind; refused ones are left out and reported."""
        models, errors = [], {}
        for kind, path in paths.items():
            if path is None:
                continue
            try:
                models.append(
                    load_artifact(
                        path,
                        expected_feature_spec_hash=expected_feature_spec_hash,
                        expected_kind=kind,
                    )
                )
            except ArtifactError as exc:
                errors[kind] = exc
        return cls(models), errors

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in MODEL_KINDS if kind in self.models)

    def __bool__(self) -> bool:
        return bool(self.models)

    def get(self, kind: str) -> ServedModel | None:
        return self.models.get(kind)

    def versions(self) -> dict[str, str]:
        return {kind: model.manifest.version for kind, model in self.models.items()}

    def score(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Scores of every row of X (n, F): ``{kind: calibrated, kind_raw: raw}``."""
        X = np.asarray(X, dtype=np.float64)
        out: dict[str, np.ndarray] = {}
        for kind in self.kinds:
            model = self.models[kind]
            raw = model.raw_scores(X)
            out[kind + RAW_SUFFIX] = raw
            out[kind] = model.calibrator(raw)
        return out

    def score_one(self, x: np.ndarray) -> dict[str, float]:
        """Scores of one row x (F,), same keys as :meth:`score`, as floats."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.n_features,):
            raise ValueError(f"expected a row of {self.n_features} features, got {x.shape}")
        out: dict[str, float] = {}
        for kind, raw_key, raw_score_one, calibrator in self._one:
            raw = raw_score_one(x)
            out[raw_key] = raw
            out[kind] = calibrator.one(raw)
        return out

    def autoencoder_feature_errors(self, X: np.ndarray) -> np.ndarray | None:
        """Squared reconstruction error per row and feature (n, F); None without an AE."""
        model = self.models.get(AUTOENCODER)
        if not isinstance(model, ServedAutoencoder):
            return None
        return model.feature_errors(X)

    def autoencoder_feature_errors_one(self, x: np.ndarray) -> np.ndarray | None:
        """Squared reconstruction error per feature of one row (F,); None without an AE."""
        model = self.models.get(AUTOENCODER)
        if not isinstance(model, ServedAutoencoder):
            return None
        return model.feature_errors_one(x)
