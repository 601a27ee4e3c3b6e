"""Population stability index (PSI) of the main features and of the risk score.

At training time the distribution of each drift feature over the training window is stored
with the model version (`ModelVersion.metrics["drift_reference"]`): bin edges taken from
the training quantiles and the share of training rows in each bin. The drift report bins
the feature vectors stored with recent decisions (`TransactionScore.features`) with the
same edges, so no training data is needed to measure drift.

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

with shares below `PSI_FLOOR` raised to it (an empty bin would make the log infinite).
Bins are right-closed: (-inf, e1], (e1, e2], ..., (ek, +inf). Levels: PSI < 0.1 stable,
0.1 <= PSI <= 0.25 warning, PSI > 0.25 alert.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from detection.features.spec import FEATURE_INDEX, FEATURE_SPEC_HASH, N_FEATURES

PSI_FLOOR = 1e-4
N_BINS = 10
WARNING_LEVEL = 0.1
ALERT_LEVEL = 0.25
STABLE, WARNING, ALERT, NO_DATA = "stable", "warning", "alert", "no data"
DEFAULT_WINDOW_DAYS = 7
DEFAULT_MAX_ROWS = 200_000
REFERENCE_MAX_ROWS = 200_000
RISK_SCORE = "risk_score"


def _column(name: str) -> Callable[[np.ndarray], np.ndarray]:
    index = FEATURE_INDEX[name]
    return lambda X: X[:, index]


def _local_hour(X: np.ndarray) -> np.ndarray:
    """Local hour of day (0..24) recovered from the cyclic hour features."""
    angle = np.arctan2(X[:, FEATURE_INDEX["hour_sin"]], X[:, FEATURE_INDEX["hour_cos"]])
    return np.mod(angle * 24.0 / (2.0 * math.pi), 24.0)


@dataclass(frozen=True)
class DriftFeature:
    name: str
    label: str
    values: Callable[[np.ndarray], np.ndarray]


DRIFT_FEATURES: tuple[DriftFeature, ...] = (
    DriftFeature("amount_log", "Amount (log)", _column("amount_log")),
    DriftFeature("amount_zscore", "Amount z-score", _column("amount_zscore")),
    DriftFeature("velocity_count_1h", "Transfers in 1 hour", _column("velocity_count_1h")),
    DriftFeature("velocity_count_24h", "Transfers in 24 hours", _column("velocity_count_24h")),
    DriftFeature("is_new_country", "New country", _column("is_new_country")),
    DriftFeature("is_new_counterparty", "New payee", _column("is_new_counterparty")),
    DriftFeature("is_international", "Abroad", _column("is_international")),
    DriftFeature("hour", "Hour of day (local)", _local_hour),
)
DRIFT_LABELS = {f.name: f.label for f in DRIFT_FEATURES} | {RISK_SCORE: "Risk score"}


# -- the arithmetic ------------------------------------------------------------------------
def quantile_edges(values: np.ndarray, n_bins: int = N_BINS) -> list[float]:
    """Interior bin edges: the distinct training quantiles at 1/n .. (n-1)/n."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    qs = np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return [float(v) for v in np.unique(qs)]


def bin_proportions(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Share of `values` in each right-closed bin of `edges` (len(edges) + 1 bins)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left"),
        minlength=len(edges) + 1,
    )
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def psi(expected: np.ndarray, actual: np.ndarray, *, floor: float = PSI_FLOOR) -> float:
    """Population stability index of two vectors of bin shares."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    a = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_level(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return NO_DATA
    if value < WARNING_LEVEL:
        return STABLE
    if value <= ALERT_LEVEL:
        return WARNING
    return ALERT


def _distribution(values: np.ndarray) -> dict[str, Any]:
    edges = quantile_edges(values)
    return {
        "edges": edges,
        "proportions": [float(p) for p in bin_proportions(values, edges)],
        "n": int(np.isfinite(values).sum()),
    }


def reference_distribution(
    X: np.ndarray, risk: np.ndarray | None = None, *, seed: int = 0
) -> dict[str, Any]:
    """Bin edges and shares of every drift feature (and of the risk score, when given)
    over the training rows: what is stored with the model versions."""
    X = np.asarray(X, dtype=np.float64)
    rows = np.arange(len(X))
    if len(rows) > REFERENCE_MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, REFERENCE_MAX_ROWS, replace=False))
    sample = X[rows]
    out: dict[str, Any] = {
        "feature_spec_hash": FEATURE_SPEC_HASH,
        "rows": len(X),
        "features": {f.name: _distribution(f.values(sample)) for f in DRIFT_FEATURES},
    }
    if risk is not None:
        out["features"][RISK_SCORE] = _distribution(np.asarray(risk, dtype=np.float64)[rows])
    return out


# -- the report ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DriftBin:
    upper_edge: float | None  # None for the last bin (+inf)
    expected: float  # share in the training window
    actual: float  # share in the current window


@dataclass(frozen=True)
class DriftRow:
    feature: str
    label: str
    psi: float | None
    level: str  # stable / warning / alert / no data
    n_reference: int
    n_current: int
    bins: list[DriftBin] = field(default_factory=list)


@dataclass(frozen=True)
class DriftReport:
    window_start: datetime
    window_end: datetime
    reference_version: str  # e.g. "Isolation forest v3", or "" without a reference
    reference_from: datetime | None
    reference_until: datetime | None
    n_current: int
    rows: list[DriftRow]

    @property
    def level(self) -> str:
        """The worst level of any row (no data when nothing could be compared)."""
        levels = {row.level for row in self.rows}
        for level in (ALERT, WARNING, STABLE):
            if level in levels:
                return level
        return NO_DATA


def drift_rows(
    reference: dict[str, Any], X: np.ndarray, risk: np.ndarray | None = None
) -> list[DriftRow]:
    """Compare current feature vectors (and risk scores) with a stored reference."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, N_FEATURES)
    features = reference.get("features", {})
    out = []
    for feature in (*DRIFT_FEATURES, None):
        name = feature.name if feature else RISK_SCORE
        ref = features.get(name)
        if ref is None:
            continue
        if feature is not None:
            current = feature.values(X) if len(X) else np.empty(0)
        else:
            current = np.asarray(risk if risk is not None else [], dtype=np.float64)
        edges = list(ref["edges"])
        expected = np.asarray(ref["proportions"], dtype=np.float64)
        n_current = int(np.isfinite(current).sum())
        if n_current == 0 or not ref.get("n"):
            out.append(DriftRow(name, DRIFT_LABELS[name], None, NO_DATA, ref.get("n", 0), 0))
            continue
        actual = bin_proportions(current, edges)
        value = psi(expected, actual)
        bins = [
            DriftBin(
                upper_edge=edges[i] if i < len(edges) else None,
                expected=float(expected[i]),
                actual=float(actual[i]),
            )
            for i in range(len(expected))
        ]
        out.append(
            DriftRow(
                name, DRIFT_LABELS[name], value, psi_level(value), int(ref["n"]), n_current, bins
            )
        )
    return out


def drift_report(
    *,
    days: int = DEFAULT_WINDOW_DAYS,
    as_of: datetime | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> DriftReport:
    """PSI of the drift features and the risk score: the decisions stored in the last
    `days` days (newest `max_rows`) against the active models' training window."""
    from django.utils import timezone

    from detection.models import ModelVersion, TransactionScore

    end = as_of or timezone.now()
    start = end - timedelta(days=days)
    reference_version = (
        ModelVersion.objects.filter(is_active=True, metrics__has_key="drift_reference")
        .order_by("-trained_until", "-id")
        .first()
    )
    scores = (
        TransactionScore.objects.filter(
            scored_at__gte=start, scored_at__lt=end, feature_spec_hash=FEATURE_SPEC_HASH
        )
        .order_by("-scored_at")
        .values_list("features", "risk_score")[:max_rows]
    )
    vectors, risks = [], []
    for features, risk in scores.iterator(chunk_size=5_000):
        if features and len(features) == N_FEATURES:
            vectors.append(features)
            risks.append(risk)
    X = np.asarray(vectors, dtype=np.float64).reshape(-1, N_FEATURES)
    if reference_version is None:
        rows: list[DriftRow] = []
    else:
        rows = drift_rows(
            reference_version.metrics["drift_reference"], X, np.asarray(risks, dtype=np.float64)
        )
    return DriftReport(
        window_start=start,
        window_end=end,
        reference_version=str(reference_version) if reference_version else "",
        reference_from=reference_version.trained_from if reference_version else None,
        reference_until=reference_version.trained_until if reference_version else None,
        n_current=len(X),
        rows=rows,
    )


def format_drift_report(report: DriftReport) -> str:
    lines = [
        f"Current window  {report.window_start:%Y-%m-%d %H:%M} .. "
        f"{report.window_end:%Y-%m-%d %H:%M} ({report.n_current:,} scored transactions)",
    ]
    if not report.reference_version:
        lines.append("No active model version carries a training-window distribution.")
        return "\n".join(lines)
    ref_from = f"{report.reference_from:%Y-%m-%d}" if report.reference_from else "?"
    ref_until = f"{report.reference_until:%Y-%m-%d}" if report.reference_until else "?"
    lines.append(f"Reference       {report.reference_version}, trained {ref_from} .. {ref_until}")
    lines.append("")
    lines.append(f"{'feature':<26}{'PSI':>9}  {'level':<9}{'reference':>11}{'current':>10}")
    for row in report.rows:
        value = "n/a" if row.psi is None else f"{row.psi:.4f}"
        lines.append(
            f"{row.label:<26}{value:>9}  {row.level:<9}{row.n_reference:>11,}{row.n_current:>10,}"
        )
    lines.append("")
    lines.append(
        f"Overall: {report.level} (PSI < {WARNING_LEVEL} stable, {WARNING_LEVEL}-{ALERT_LEVEL} "
        f"warning, > {ALERT_LEVEL} alert)"
    )
    return "\n".join(lines)
