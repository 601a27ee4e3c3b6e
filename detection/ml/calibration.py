"""Map raw anomaly scores to [0, 1] with the empirical CDF of the training scores.

``calibrated(s)`` is the share of training rows whose score is at most ``s`` (linearly
interpolated between stored quantiles), so 0.999 means "more anomalous than 99.9 % of
the rows the model was trained on" whatever the raw scale of the model or its version.
The quantile grid is denser in the upper tail, where alert thresholds sit.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np


def default_levels() -> np.ndarray:
    """Probability levels: every 0.1 % plus a log-spaced upper tail down to 1e-6."""
    tail = 1.0 - np.logspace(-3, -6, 61)
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, 1001), tail]))


@dataclass(frozen=True)
class EcdfCalibrator:
    """Strictly increasing score knots ``xp`` and their CDF values ``fp`` (in [0, 1])."""

    xp: np.ndarray
    fp: np.ndarray
    _xp: list[float] = field(init=False, repr=False, compare=False)
    _fp: list[float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_xp", [float(v) for v in self.xp])
        object.__setattr__(self, "_fp", [float(v) for v in self.fp])

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(raw, self.xp, self.fp, left=0.0, right=1.0)

    def one(self, raw: float) -> float:
        """Same as ``__call__`` for one float, without numpy's per-call overhead."""
        xp, fp = self._xp, self._fp
        i = bisect_right(xp, raw)
        if i == len(xp):
            if math.isnan(raw):
                return math.nan
            return fp[-1] if raw == xp[-1] else 1.0
        if i == 0:
            return 0.0
        x0 = xp[i - 1]
        return fp[i - 1] + (raw - x0) * (fp[i] - fp[i - 1]) / (xp[i] - x0)

    def to_arrays(self, prefix: str = "calibration_") -> dict[str, np.ndarray]:
        return {prefix + "xp": self.xp, prefix + "fp": self.fp}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], prefix: str = "calibration_"
    ) -> EcdfCalibrator:
        xp = np.asarray(arrays[prefix + "xp"], dtype=np.float64)
        fp = np.asarray(arrays[prefix + "fp"], dtype=np.float64)
        if xp.ndim != 1 or xp.shape != fp.shape or xp.size == 0:
            raise ValueError("calibration knots must be two 1-D arrays of the same length")
        if np.any(np.diff(xp) <= 0) or np.any(np.diff(fp) < 0):
            raise ValueError("calibration knots must be increasing")
        if fp[0] < 0 or fp[-1] > 1:
            raise ValueError("calibration values must lie in [0, 1]")
        return cls(xp=xp, fp=fp)


def fit_ecdf(scores: np.ndarray, levels: np.ndarray | None = None) -> EcdfCalibrator:
    """Empirical CDF of ``scores`` (higher = more anomalous), stored at quantile knots."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    scores = scores[np.isfinite(scores)]
    if scores.size == 0:
        raise ValueError("cannot calibrate on an empty set of scores")
    levels = default_levels() if levels is None else np.asarray(levels, dtype=np.float64)
    knots = np.quantile(scores, levels)
    # Repeated quantiles (ties) collapse into one knot carrying the CDF at that value:
    # the share of scores <= value, as a right-continuous CDF.
    xp = np.unique(knots)
    fp = np.searchsorted(np.sort(scores), xp, side="right") / scores.size
    return EcdfCalibrator(xp=xp, fp=fp)
