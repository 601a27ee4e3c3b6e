"""Feature scaling for the autoencoder: standardisation with a std floor and z clipping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_CLIP = 10.0
DEFAULT_MIN_STD = 1e-8


@dataclass(frozen=True)
class Scaler:
    """``z = (x - mean) / scale``, then clipped to ``[-clip, clip]`` when ``clip`` is set.

    Missing values (NaN) become 0 (the training mean) when ``fill_missing`` is set, so a
    missing feature never turns the autoencoder's output into NaN.
    """

    mean: np.ndarray
    scale: np.ndarray
    clip: float | None = DEFAULT_CLIP
    fill_missing: bool = True

    def transform(self, X: np.ndarray) -> np.ndarray:
        Z = np.asarray(X, dtype=np.float64) - self.mean
        Z /= self.scale
        if self.clip is not None:
            np.clip(Z, -self.clip, self.clip, out=Z)
        if self.fill_missing:
            np.nan_to_num(Z, copy=False, nan=0.0, posinf=np.inf, neginf=-np.inf)
        return Z

    def to_arrays(self, prefix: str = "scaler_") -> dict[str, np.ndarray]:
        return {
            prefix + "mean": self.mean,
            prefix + "scale": self.scale,
            prefix + "clip": np.array(np.nan if self.clip is None else self.clip),
            prefix + "fill_missing": np.array(self.fill_missing),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "scaler_") -> Scaler:
        clip = float(arrays[prefix + "clip"])
        mean = np.asarray(arrays[prefix + "mean"], dtype=np.float64)
        scale = np.asarray(arrays[prefix + "scale"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise ValueError("scaler mean/scale must be 1-D arrays of the same length")
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError("scaler scale must be finite and positive")
        return cls(
            mean=mean,
            scale=scale,
            clip=None if np.isnan(clip) else clip,
            fill_missing=bool(arrays[prefix + "fill_missing"]),
        )


def fit_scaler(
    X: np.ndarray,
    *,
    clip: float | None = DEFAULT_CLIP,
    min_std: float = DEFAULT_MIN_STD,
    fill_missing: bool = True,
) -> Scaler:
    """Fit mean and standard deviation per column (ignoring NaN).

    A column whose standard deviation is below ``min_std`` (constant in training) gets
    scale 1, as scikit-learn's StandardScaler does, instead of blowing up any later
    deviation; with ``clip=None`` the transform equals StandardScaler's.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a non-empty (n, F) matrix, got shape {X.shape}")
    with np.errstate(all="ignore"):
        mean = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.where(np.isfinite(std) & (std >= min_std), std, 1.0)
    return Scaler(mean=mean, scale=scale, clip=clip, fill_missing=fill_missing)
