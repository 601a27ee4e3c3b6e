"""Backtest: replay a labelled transactions file in time order, isolated from live data.

Nothing here touches the database. The file's rows are sorted by time; every row before
the end of the test window feeds history; features are computed once for all of them
with the batch path, where the counterparty fraud features only see labels known at
transaction time + the label delay. Models are trained on the training window with the
labels the bank knew at the end of it (fraud reported by then; legitimate once the delay
passed without a report), written to a temporary directory and deleted afterwards. Every
test-window row is then scored as the live scoring engine would score it, and the
flagged ones get explanations.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detection.evaluation import detection_metrics
from detection.features.batch import compute_features_batch
from detection.features.clock import bank_time_zone, local_ns_array
from detection.features.frame import normalise_frame
from detection.features.spec import FEATURE_NAMES, FEATURE_SPEC_HASH
from detection.ml import explain
from detection.ml.manifest import AUTOENCODER, MODEL_KINDS
from detection.ml.serving import ModelEnsemble
from detection.ml.training import train_all
from detection.model_training import training_labels
from detection.rules.engine import RuleSet
from detection.scoring.engine import ScoringEngine
from detection.scoring.sentences import top_contributions
from transactions.csv_reader import (
    CsvFormatError,
    ParsedTransactions,
    decode_bytes,
    read_transactions_csv,
    sniff_delimiter,
)
from transactions.csv_schema import ColumnMapping

logger = logging.getLogger(__name__)

DEFAULT_LABEL_DELAY_DAYS = 7.0
DEFAULT_EXPLAIN_CAP = 20_000
# Legitimate labels the supervised model learns from at most (all fraud labels are kept):
# with balanced class weights a random sample of the legitimate rows gives the same
# model for a fraction of the fitting time.
DEFAULT_MAX_LEGIT_LABELS = 200_000
EXPLAIN_CHUNK = 2_000
REASON_SEPARATOR = " | "
TOP_REASONS = 5
NS_PER_DAY = 86_400 * 10**9


class BacktestError(ValueError):
    """The backtest cannot run on this input (no labels, empty windows...)."""


@dataclass(frozen=True)
class Windows:
    """Window bounds as epoch nanoseconds (UTC); each window is [start, end)."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int

    def as_iso(self) -> dict[str, str]:
        return {name: _iso(value) for name, value in self.__dict__.items()}


@dataclass
class BacktestResult:
    scores: pd.DataFrame  # one row per test transaction
    metrics: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").isoformat()


def parse_bound(value: str | date | datetime, *, tz: str | None = None) -> int:
    """A date or ISO datetime -> epoch ns. Dates and naive times are bank local time."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(bank_time_zone(tz))
    return int(stamp.tz_convert("UTC").value)


def make_windows(
    *,
    train_start: str | date | datetime,
    train_end: str | date | datetime,
    test_start: str | date | datetime,
    test_end: str | date | datetime,
    tz: str | None = None,
) -> Windows:
    """Parse and check the four bounds: non-empty windows, testing not before training ends."""
    w = Windows(*(parse_bound(v, tz=tz) for v in (train_start, train_end, test_start, test_end)))
    if w.train_start >= w.train_end:
        raise BacktestError("the training window is empty: train-start must be before train-end")
    if w.test_start >= w.test_end:
        raise BacktestError("the test window is empty: test-start must be before test-end")
    if w.test_start < w.train_end:
        raise BacktestError("test-start must not be before train-end (the test would see training)")
    return w


def csv_header(path: str | Path, mapping: ColumnMapping) -> list[str]:
    """The header row of a CSV file, read the way read_transactions_csv reads it."""
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
    text = decode_bytes(head, mapping.encoding)
    first = text.splitlines()[0] if text else ""
    delimiter = mapping.delimiter or sniff_delimiter(text)
    row = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    return [column.strip() for column in row]


def read_labelled_csv(
    path: str | Path, mapping: ColumnMapping, *, default_timezone: str | None = None
) -> ParsedTransactions:
    """Read a transactions CSV that must carry a label column."""
    header = csv_header(path, mapping)
    label_column = mapping.source_column("label")
    if label_column not in header:
        mapped = f" (mapped from '{label_column}')" if label_column != "label" else ""
        raise CsvFormatError(
            f"the file has no label column 'label'{mapped}: a backtest needs fraud labels "
            f"(1 fraud / 0 legitimate); the header has: {', '.join(header)}"
        )
    return read_transactions_csv(
        path, mapping, default_timezone=default_timezone or bank_time_zone()
    )


def sample_legit_labels(y: np.ndarray, max_legit: int | None, *, seed: int) -> np.ndarray:
    """`y` with all but a random `max_legit` of its legitimate (0) labels made unknown.

    Fraud labels are all kept; rows made unknown still count as normal traffic for the
    unsupervised models (they learn from every row not labelled fraud)."""
    legit = np.flatnonzero(y == 0)
    if max_legit is None or legit.size <= max_legit:
        return y
    rng = np.random.default_rng(seed)
    dropped = rng.choice(legit, size=legit.size - max_legit, replace=False)
    out = y.copy()
    out[dropped] = np.nan
    return out


def _explain_rows(
    engine: ScoringEngine,
    X: np.ndarray,
    amounts: np.ndarray,
    currencies: np.ndarray,
    rule_reasons: list[list[str]],
    *,
    shap: bool,
) -> list[str]:
    """Top reasons of each row: its rule reasons, then the three features that pushed the
    score most (SHAP of the supervised model, else of the isolation forest; without SHAP,
    the autoencoder's reconstruction error shares), as ScoringEngine.decide builds them."""
    ensemble = engine.ensemble
    out: list[str] = []
    model, source = None, None
    if ensemble is not None:
        kinds = ("supervised", "isolation_forest") if shap else ()
        for kind in kinds:
            if ensemble.get(kind) is not None:
                model, source = ensemble.get(kind), kind
                break
        if model is None and ensemble.get(AUTOENCODER) is not None:
            source = AUTOENCODER
    for start in range(0, len(X), EXPLAIN_CHUNK):
        chunk = X[start : start + EXPLAIN_CHUNK]
        if model is not None:
            values = explain.contributions(model, chunk)
        elif source == AUTOENCODER:
            errors = ensemble.autoencoder_feature_errors(chunk)
            totals = errors.sum(axis=1, keepdims=True)
            values = np.divide(errors, totals, out=np.zeros_like(errors), where=totals > 0)
        else:
            values = None
        for j in range(len(chunk)):
            i = start + j
            reasons = list(rule_reasons[i])
            if values is not None:
                contributions = top_contributions(
                    chunk[j],
                    values[j],
                    amount=float(amounts[i]),
                    currency=str(currencies[i] or "AED"),
                    source=source,
                    limit=3,
                )
                reasons.extend(c["sentence"] for c in contributions)
            out.append(REASON_SEPARATOR.join(reasons[:TOP_REASONS]))
    return out


def run_backtest(
    frame: pd.DataFrame,
    windows: Windows,
    *,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    seed: int = 42,
    ae_epochs: int = 30,
    explain_cap: int = DEFAULT_EXPLAIN_CAP,
    max_legit_labels: int | None = DEFAULT_MAX_LEGIT_LABELS,
    rule_set: RuleSet | None = None,
    tz: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Backtest on `frame` (canonical columns with labels, e.g. ParsedTransactions.frame).

    Returns the per-transaction scores of the test window and the metrics."""
    say = progress or (lambda message: None)
    tz_name = bank_time_zone(tz)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    f = normalise_frame(frame, tz=tz_name)
    if not np.isfinite(f["label"].to_numpy(dtype=float)).any():
        raise BacktestError("the file has no labelled rows (label column empty)")
    ts = f["ts"].to_numpy(dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    order = order[ts[order] < windows.test_end]
    f = f.iloc[order].reset_index(drop=True)
    ts = f["ts"].to_numpy(dtype=np.int64)
    train = np.flatnonzero((ts >= windows.train_start) & (ts < windows.train_end))
    test = np.flatnonzero((ts >= windows.test_start) & (ts < windows.test_end))
    if train.size < 2:
        raise BacktestError(f"the training window holds {train.size} transactions")
    if test.size == 0:
        raise BacktestError("the test window holds no transactions")
    timings["prepare_seconds"] = time.perf_counter() - started

    say(f"features for {len(f):,} transactions")
    t0 = time.perf_counter()
    X = compute_features_batch(f, label_delay_days=label_delay_days, tz=tz_name)
    timings["features_seconds"] = time.perf_counter() - t0

    say(f"training on {train.size:,} transactions")
    t0 = time.perf_counter()
    y_train = training_labels(
        f.iloc[train],
        cutoff_ns=windows.train_end,
        label_delay_days=label_delay_days,
        feedback={},
    )
    y_fit = sample_legit_labels(y_train, max_legit_labels, seed=seed)
    with tempfile.TemporaryDirectory(prefix="secureflow-backtest-") as out_dir:
        trained = train_all(
            X[train],
            y_train=y_fit,
            feature_names=list(FEATURE_NAMES),
            feature_spec_hash=FEATURE_SPEC_HASH,
            window=(_iso(windows.train_start), _iso(windows.train_end)),
            out_dir=Path(out_dir),
            seed=seed,
            ae_epochs=ae_epochs,
        )
        ensemble, errors = ModelEnsemble.load(
            {kind: info.path for kind, info in trained.items()},
            expected_feature_spec_hash=FEATURE_SPEC_HASH,
        )
    if errors:
        raise BacktestError(f"trained artifacts were refused: {errors}")
    timings["training_seconds"] = time.perf_counter() - t0

    say(f"scoring {test.size:,} transactions")
    t0 = time.perf_counter()
    engine = ScoringEngine(ensemble, rule_set or RuleSet.defaults())
    tf = f.iloc[test].reset_index(drop=True)
    X_test = X[test]
    amounts = tf["amount"].to_numpy(dtype=np.float64)
    currencies = (
        tf["currency"].fillna("AED").astype(str).to_numpy()
        if "currency" in tf.columns
        else np.full(len(tf), "AED", dtype=object)
    )
    batch = engine.decide_batch(
        X_test,
        amounts=amounts,
        transfer_types=tf["transfer_type"].to_numpy(),
        currencies=currencies,
    )
    timings["scoring_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    flagged = batch.outcome != "approve"
    flagged_idx = np.flatnonzero(flagged)
    reasons = np.full(len(tf), "", dtype=object)
    rule_reasons = [[hit["reason"] for hit in batch.rule_hits[i]] for i in flagged_idx]
    with_shap = flagged_idx[:explain_cap]
    rest = flagged_idx[explain_cap:]
    if with_shap.size:
        reasons[with_shap] = _explain_rows(
            engine,
            X_test[with_shap],
            amounts[with_shap],
            currencies[with_shap],
            rule_reasons[: with_shap.size],
            shap=True,
        )
    if rest.size:
        reasons[rest] = _explain_rows(
            engine,
            X_test[rest],
            amounts[rest],
            currencies[rest],
            rule_reasons[with_shap.size :],
            shap=False,
        )
    timings["explain_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    labels = tf["label"].to_numpy(dtype=float)
    scenario = (
        tf["scenario"].fillna("").astype(str).to_numpy()
        if "scenario" in tf.columns
        else np.full(len(tf), "", dtype=object)
    )
    scores = pd.DataFrame(
        {
            "id": tf["id"].to_numpy() if "id" in tf.columns else np.arange(len(tf)),
            "timestamp": pd.DatetimeIndex(tf["ts"].to_numpy().view("datetime64[ns]"))
            .tz_localize("UTC")
            .strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "risk_score": np.round(batch.risk_score, 6),
            "outcome": batch.outcome,
        }
    )
    for kind in MODEL_KINDS:
        if kind in batch.model_scores:
            scores[f"{kind}_score"] = np.round(batch.model_scores[kind], 6)
    scores["label"] = pd.array(
        np.where(np.isfinite(labels), labels, np.nan), dtype="Float64"
    ).astype("Int64")
    scores["scenario"] = scenario
    scores["top_reasons"] = reasons

    known = np.isfinite(labels)
    y = labels[known] == 1
    local_days = local_ns_array(tf["ts"].to_numpy(dtype=np.int64)[known], tz_name) // NS_PER_DAY
    metrics: dict[str, Any] = {
        "risk_score": detection_metrics(
            y,
            batch.risk_score[known],
            days=local_days,
            scenarios=scenario[known],
            outcome_flagged=flagged[known],
        ),
        "per_model": {},
    }
    for kind in ensemble.kinds:
        # raw scores: the calibrated percentiles of the unsupervised models saturate at 1
        metrics["per_model"][kind] = detection_metrics(
            y,
            batch.model_scores[f"{kind}_raw"][known],
            days=local_days,
            scenarios=scenario[known],
        )
    timings["metrics_seconds"] = time.perf_counter() - t0
    timings["total_seconds"] = time.perf_counter() - started

    n_fraud_labels = int(np.sum(y_train == 1))
    n_legit_labels = int(np.sum(y_train == 0))
    metrics["counts"] = {
        "history_rows": len(f),
        "rows_before_train_start": int(np.sum(ts < windows.train_start)),
        "train_rows": int(train.size),
        "train_fraud_labels_known": n_fraud_labels,
        "train_legit_labels_known": n_legit_labels,
        "train_legit_labels_used": int(np.sum(y_fit == 0)),
        "train_fraud_in_window": int(np.nansum(f["label"].to_numpy(dtype=float)[train] == 1)),
        "test_rows": int(test.size),
        "test_labelled_rows": int(known.sum()),
        "test_fraud": int(y.sum()),
        "flagged": int(flagged.sum()),
        "explained_with_shap": int(with_shap.size),
    }
    metrics["windows"] = windows.as_iso()
    metrics["label_delay_days"] = label_delay_days
    metrics["models"] = {
        kind: {"version": info.version, "metrics": info.metrics} for kind, info in trained.items()
    }
    metrics["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return BacktestResult(scores=scores, metrics=metrics, timings=timings)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not np.isfinite(value) else f"{value:.4f}"
    return str(value)


RANKING_ROWS = (
    ("ROC AUC", "roc_auc"),
    ("Average precision", "average_precision"),
    ("Recall at 1% FPR", "recall_at_1%_fpr"),
    ("Recall at 2% FPR", "recall_at_2%_fpr"),
    ("Recall at 5% FPR", "recall_at_5%_fpr"),
    ("Precision top-100/day", "precision_top100_per_day"),
)


def format_metrics(metrics: dict[str, Any]) -> str:
    """A readable table of the metrics of run_backtest."""
    risk = metrics["risk_score"]
    kinds = list(metrics["per_model"])
    lines = []
    w = metrics["windows"]
    lines.append(f"Train  {w['train_start']} .. {w['train_end']}")
    lines.append(f"Test   {w['test_start']} .. {w['test_end']}")
    lines.append(f"Label delay {metrics['label_delay_days']:g} days")
    lines.append("")
    lines.extend(f"  {name:<28}{value:>12,}" for name, value in metrics["counts"].items())
    lines.append("")
    header = f"{'metric':<24}{'risk score':>12}" + "".join(f"{k:>18}" for k in kinds)
    lines.append(header)
    lines.append("-" * len(header))
    for label, key in RANKING_ROWS:
        row = f"{label:<24}{_fmt(risk.get(key)):>12}"
        row += "".join(f"{_fmt(metrics['per_model'][k].get(key)):>18}" for k in kinds)
        lines.append(row)
    lines.append("")
    lines.append("Outcome (review or block)")
    for label, key in (
        ("flag rate", "flag_rate"),
        ("recall", "outcome_recall"),
        ("precision", "outcome_precision"),
        ("false positive rate", "outcome_false_positive_rate"),
    ):
        lines.append(f"  {label:<22}{_fmt(risk.get(key)):>12}")
    lines.append("")
    lines.append(f"{'scenario':<22}{'fraud':>8}{'recall@2%FPR':>14}{'outcome recall':>16}")
    for name, row in risk.get("per_scenario", {}).items():
        lines.append(
            f"{name:<22}{row['fraud']:>8}{_fmt(row['recall_at_2%_fpr']):>14}"
            f"{_fmt(row.get('outcome_recall', float('nan'))):>16}"
        )
    lines.append("")
    lines.append("Timings (s): " + ", ".join(f"{k} {v}" for k, v in metrics["timings"].items()))
    return "\n".join(lines)
