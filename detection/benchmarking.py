"""End-to-end scoring benchmark: single transactions, batches and the naive library path.

:func:`run_benchmark` needs no database: it generates a demo bank in memory, trains small
models (isolation forest, autoencoder, gradient boosting) whose artifacts are written to
a temporary directory and loaded back the way serving loads them, then measures

* **single**: one transaction at a time, in time order, as the scoring service does it:
  features from the in-memory history (``FeatureState``), rules, every model and the
  decision, without SHAP and without any database write; then the same with SHAP;
* **batch**: ``compute_features_batch`` + ``ScoringEngine.decide_batch`` on a large frame,
  as transactions per second, with the two parts timed separately;
* **naive**: the same single-transaction decision with the models called through their
  libraries (scikit-learn ``decision_function`` / ``predict_proba``, ``StandardScaler``
  and Keras ``predict``) instead of the exported numpy arrays;
* peak resident memory (``ru_maxrss``) after each stage;
* **serving memory**: the peak resident memory of a separate Python process that loads
  only the serving code (models from the written artifacts, rules, scoring engine; no
  TensorFlow, no Django) and decides rows of the batch frame one at a time, without and
  with SHAP. It always serves the freshly trained artifacts and the default limits.

Imports TensorFlow (training, naive path): run it from a command, never from a web process.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detection.features.batch import compute_features_batch
from detection.features.clock import label_delay_ns
from detection.features.frame import normalise_frame
from detection.features.history import FeatureState, FeatureTxn
from detection.features.spec import FEATURE_NAMES, FEATURE_SPEC_HASH
from detection.ml.artifacts import write_artifact
from detection.ml.autoencoder import build_served_autoencoder, fit_keras_autoencoder
from detection.ml.isolation_forest import (
    build_served_isolation_forest,
    train_isolation_forest_estimator,
)
from detection.ml.manifest import AUTOENCODER, ISOLATION_FOREST, SUPERVISED, ArtifactManifest
from detection.ml.scaling import fit_scaler
from detection.ml.serving import ModelEnsemble
from detection.ml.supervised import (
    build_served_supervised,
    has_enough_labels,
    train_supervised_estimator,
)
from detection.model_training import training_labels
from detection.rules.engine import RuleSet
from detection.scoring.engine import SEVERITY_RANK, ScoringEngine
from detection.scoring.risk import combine_risk_one

DEFAULT_LABEL_DELAY_DAYS = 7.0
DEFAULT_END = date(2026, 11, 1)
TX_PER_CUSTOMER_DAY = 1.1  # what the demo generator produces, roughly
MAX_TRAIN_ROWS = 200_000
WARMUP_ROWS = 20
SERVING_ROWS = 10_000  # decisions without SHAP in the serving-memory process
SERVING_SHAP_ROWS = 1_000  # decisions with SHAP in the serving-memory process
PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Run with `python -c` in a fresh process; argv[1] is a JSON object of paths.
SERVING_SCRIPT = """
import json, resource, sys, time
from pathlib import Path

import numpy as np

from detection.ml.serving import ModelEnsemble
from detection.rules.engine import RuleSet
from detection.scoring.engine import ScoringEngine

job = json.loads(sys.argv[1])
started = time.perf_counter()
ensemble, errors = ModelEnsemble.load(
    {kind: Path(path) for kind, path in job["paths"].items()},
    expected_feature_spec_hash=job["feature_spec_hash"],
)
if errors:
    raise SystemExit(f"artifacts were refused: {errors}")
engine = ScoringEngine(ensemble, RuleSet.defaults())
rows = np.load(job["rows"])
X, amounts = rows["X"], rows["amounts"].tolist()
transfer_types, currencies = rows["transfer_types"].tolist(), rows["currencies"].tolist()
for count, shap in ((job["decisions"], False), (job["shap_decisions"], True)):
    for j in range(count):
        i = j % len(X)
        engine.decide(
            X[i],
            amount=amounts[i],
            transfer_type=transfer_types[i],
            currency=currencies[i],
            explain_with_shap=shap,
        )
try:  # this process's own peak: Linux carries ru_maxrss over from the parent across exec
    status = Path("/proc/self/status").read_text()
    peak_mb = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:"))
    peak_mb /= 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 1024
print(json.dumps({
    "peak_rss_mb": peak_mb,
    "seconds": time.perf_counter() - started,
    "tensorflow_imported": "tensorflow" in sys.modules,
    "django_imported": "django" in sys.modules,
}))
"""


@dataclass
class BenchmarkConfig:
    rows: int = 2_000  # single transactions timed
    batch_rows: int = 1_000_000
    naive_rows: int = 50
    customers: int | None = None  # default: enough for batch_rows over `days`
    days: int = 180
    seed: int = 7
    ae_epochs: int = 5
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS


def max_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def latency_stats(ms: np.ndarray) -> dict[str, float]:
    ms = np.asarray(ms, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "n": int(ms.size),
    }


def _manifest(kind: str) -> ArtifactManifest:
    return ArtifactManifest(
        kind=kind,
        feature_spec_hash=FEATURE_SPEC_HASH,
        feature_names=list(FEATURE_NAMES),
        window_start="",
        window_end="",
    )


@dataclass
class TrainedModels:
    ensemble: ModelEnsemble  # loaded back from the written artifacts
    iforest: Any  # scikit-learn IsolationForest
    booster: Any | None  # scikit-learn HistGradientBoostingClassifier
    keras_model: Any
    standard_scaler: Any  # scikit-learn StandardScaler with the served scaler's statistics
    served_scaler: Any
    seconds: float
    artifact_paths: dict[str, Path] = field(default_factory=dict)  # gone unless out_dir


def train_models(
    X: np.ndarray, y: np.ndarray, *, seed: int, ae_epochs: int, out_dir: Path | None = None
) -> TrainedModels:
    """Fit the three model kinds on (a time-ordered sample of) X, export them as serving
    does, write the artifacts to `out_dir` (default: a temporary directory removed at
    once) and load them back."""
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows = np.arange(len(X))
    if rows.size > MAX_TRAIN_ROWS:
        rows = np.sort(rng.choice(rows, size=MAX_TRAIN_ROWS, replace=False))
    X_t, y_t = X[rows], y[rows]
    normal = X_t[y_t != 1]
    iforest = train_isolation_forest_estimator(normal, seed=seed)
    served = [build_served_isolation_forest(iforest, _manifest(ISOLATION_FOREST), normal)]
    scaler = fit_scaler(normal)
    fit = fit_keras_autoencoder(scaler.transform(normal), seed=seed, epochs=ae_epochs)
    served.append(build_served_autoencoder(fit, scaler, _manifest(AUTOENCODER)))
    booster = None
    if has_enough_labels(y_t):
        booster = train_supervised_estimator(X_t, y_t, seed=seed)
        served.append(build_served_supervised(booster, _manifest(SUPERVISED)))
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="secureflow-bench-") as tmp:
            paths = {model.kind: write_artifact(model, Path(tmp)) for model in served}
            ensemble, errors = ModelEnsemble.load(
                paths, expected_feature_spec_hash=FEATURE_SPEC_HASH
            )
    else:
        paths = {model.kind: write_artifact(model, out_dir) for model in served}
        ensemble, errors = ModelEnsemble.load(paths, expected_feature_spec_hash=FEATURE_SPEC_HASH)
    if errors:
        raise RuntimeError(f"benchmark artifacts were refused: {errors}")
    standard = StandardScaler().fit(normal)
    return TrainedModels(
        ensemble=ensemble,
        iforest=iforest,
        booster=booster,
        keras_model=fit.model,
        standard_scaler=standard,
        served_scaler=scaler,
        seconds=time.perf_counter() - started,
        artifact_paths={kind: Path(path) for kind, path in paths.items()},
    )


def measure_serving_memory(
    artifact_paths: dict[str, Path],
    X: np.ndarray,
    *,
    amounts: np.ndarray,
    transfer_types: np.ndarray,
    currencies: np.ndarray,
    work_dir: Path,
    decisions: int = SERVING_ROWS,
    shap_decisions: int = SERVING_SHAP_ROWS,
) -> dict[str, Any]:
    """Peak RSS of a fresh process that loads only the serving code and the artifacts and
    decides `decisions` rows without SHAP, then `shap_decisions` with (cycling over X)."""
    rows_file = work_dir / "serving-rows.npz"
    np.savez(
        rows_file,
        X=np.ascontiguousarray(X, dtype=np.float64),
        amounts=np.asarray(amounts, dtype=np.float64),
        transfer_types=np.array([str(t) for t in transfer_types], dtype=str),
        currencies=np.array([str(c or "AED") for c in currencies], dtype=str),
    )
    job = {
        "paths": {kind: str(path) for kind, path in artifact_paths.items()},
        "feature_spec_hash": FEATURE_SPEC_HASH,
        "rows": str(rows_file),
        "decisions": decisions,
        "shap_decisions": shap_decisions,
    }
    done = subprocess.run(
        [sys.executable, "-c", SERVING_SCRIPT, json.dumps(job)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"serving-memory process failed: {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "peak_rss_mb": report["peak_rss_mb"],
        "seconds": report["seconds"],
        "decisions": decisions,
        "shap_decisions": shap_decisions,
        "tensorflow_imported": report["tensorflow_imported"],
        "django_imported": report["django_imported"],
    }


def _feature_txns(frame: pd.DataFrame) -> list[FeatureTxn]:
    columns = [
        frame[c].tolist()
        for c in (
            "ts",
            "account",
            "amount",
            "transfer_type",
            "country",
            "channel",
            "home_country",
            "counterparty",
            "counterparty_country",
        )
    ]
    return [FeatureTxn(*values) for values in zip(*columns)]


def _naive_decider(
    models: TrainedModels, ensemble: ModelEnsemble, rule_set: RuleSet
) -> Callable[[np.ndarray, float, str, str], tuple[float, str]]:
    """One decision with every model called through its library, one row at a time."""
    iforest, booster, keras_model = models.iforest, models.booster, models.keras_model
    standard = models.standard_scaler
    served_scaler = models.served_scaler
    calibrators = {kind: ensemble.get(kind).calibrator for kind in ensemble.kinds}

    def decide(x: np.ndarray, amount: float, transfer_type: str, currency: str) -> tuple:
        row = x[None, :]
        scores: dict[str, float] = {}
        raw_if = float(-iforest.score_samples(row)[0])
        iforest.decision_function(row)
        scores[ISOLATION_FOREST] = calibrators[ISOLATION_FOREST].one(raw_if)
        standard.transform(row)  # what a scikit-learn pipeline would pay per row
        z = served_scaler.transform(row).astype(np.float32)
        recon = keras_model.predict(z, verbose=0)
        raw_ae = float(np.mean((recon - z) ** 2))
        scores[AUTOENCODER] = calibrators[AUTOENCODER].one(raw_ae)
        if booster is not None and SUPERVISED in calibrators:
            scores[SUPERVISED] = float(booster.predict_proba(row)[0, 1])
        risk = combine_risk_one(scores)
        hits = rule_set.evaluate(x, amount=amount, transfer_type=transfer_type, currency=currency)
        outcome = rule_set.outcome_for_score(risk)
        severity = rule_set.strongest(hits)
        if severity and SEVERITY_RANK[severity] > SEVERITY_RANK[outcome]:
            outcome = severity
        return risk, outcome

    return decide


def run_benchmark(
    config: BenchmarkConfig,
    *,
    ensemble: ModelEnsemble | None = None,
    rule_set: RuleSet | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every measurement; see the module docstring. ``ensemble``/``rule_set`` replace
    the freshly trained models / the default limits (e.g. the active production ones)."""
    from transactions.demo_data import generate_demo_bank

    say = progress or (lambda message: None)
    results: dict[str, Any] = {"config": dict(config.__dict__)}
    memory: dict[str, float] = {"start_mb": max_rss_mb()}
    customers = config.customers or max(
        50, math.ceil(config.batch_rows / (config.days * TX_PER_CUSTOMER_DAY))
    )
    results["config"]["customers"] = customers

    say(f"generating {customers:,} customers × {config.days} days")
    t0 = time.perf_counter()
    bank = generate_demo_bank(
        customers=customers, days=config.days, seed=config.seed, end=DEFAULT_END
    )
    tx = bank.transactions.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame = normalise_frame(tx)
    n = len(frame)
    results["data"] = {
        "transactions": n,
        "fraud": int(np.nansum(frame["label"].to_numpy() == 1)),
        "generate_seconds": round(time.perf_counter() - t0, 3),
    }

    say(f"features and training on {n:,} transactions")
    t0 = time.perf_counter()
    X_all = compute_features_batch(frame, label_delay_days=config.label_delay_days)
    features_seconds = time.perf_counter() - t0
    ts = frame["ts"].to_numpy(dtype=np.int64)
    y = training_labels(
        frame,
        cutoff_ns=int(ts[-1]) + 1,
        label_delay_days=config.label_delay_days,
        feedback={},
    )
    artifacts = tempfile.TemporaryDirectory(prefix="secureflow-bench-")
    artifact_dir = Path(artifacts.name)
    models = train_models(
        X_all, y, seed=config.seed, ae_epochs=config.ae_epochs, out_dir=artifact_dir
    )
    served = ensemble if ensemble is not None else models.ensemble
    engine = ScoringEngine(served, rule_set or RuleSet.defaults())
    results["training"] = {
        "features_seconds": round(features_seconds, 3),
        "train_seconds": round(models.seconds, 3),
        "models": list(served.kinds),
    }
    memory["after_training_mb"] = max_rss_mb()
    del X_all

    # --- single transactions ---------------------------------------------------------
    n_single = min(config.rows + WARMUP_ROWS, n - 1)
    split = n - n_single
    say(f"loading history of {split:,} transactions into memory")
    t0 = time.perf_counter()
    delay = label_delay_ns(config.label_delay_days)
    fraud = frame["label"].to_numpy() == 1
    labels = zip(frame["counterparty"].to_numpy()[fraud].tolist(), (ts[fraud] + delay).tolist())
    state = FeatureState(
        label_delay_days=config.label_delay_days,
        labels=((cp, known) for cp, known in labels if cp),
    )
    txns = _feature_txns(frame)
    for txn in txns[:split]:
        state.append(txn)
    results["single"] = {"history_load_seconds": round(time.perf_counter() - t0, 3)}
    memory["after_history_mb"] = max_rss_mb()

    say(f"scoring {n_single:,} single transactions")
    currencies = frame["currency"].fillna("AED").astype(str).tolist()
    feature_ms = np.empty(n_single)
    decide_ms = np.empty(n_single)
    shap_ms = np.empty(n_single)
    scored_x = np.empty((n_single, len(FEATURE_NAMES)))
    perf = time.perf_counter
    for j, txn in enumerate(txns[split:]):
        i = split + j
        t_start = perf()
        x = state.features_for(txn)
        t_features = perf()
        engine.decide(
            x,
            amount=txn.amount,
            transfer_type=txn.transfer_type,
            currency=currencies[i],
            explain_with_shap=False,
        )
        t_decided = perf()
        engine.decide(
            x,
            amount=txn.amount,
            transfer_type=txn.transfer_type,
            currency=currencies[i],
            explain_with_shap=True,
        )
        t_shap = perf()
        state.append(txn)
        feature_ms[j] = t_features - t_start
        decide_ms[j] = t_decided - t_features
        shap_ms[j] = t_shap - t_decided
        scored_x[j] = x
    feature_ms, decide_ms, shap_ms = (
        a[WARMUP_ROWS:] * 1e3 for a in (feature_ms, decide_ms, shap_ms)
    )
    results["single"].update(
        {
            "no_shap": latency_stats(feature_ms + decide_ms),
            "with_shap": latency_stats(feature_ms + shap_ms),
            "features_only": latency_stats(feature_ms),
            "decision_only": latency_stats(decide_ms),
        }
    )
    memory["after_single_mb"] = max_rss_mb()

    # --- naive path --------------------------------------------------------------------
    n_naive = min(config.naive_rows, len(feature_ms))
    say(f"naive path on {n_naive} transactions")
    naive = _naive_decider(models, models.ensemble, engine.rule_set)
    first = split + WARMUP_ROWS
    for k in range(min(3, n_naive)):  # warm up Keras
        naive(
            scored_x[WARMUP_ROWS + k], txns[first + k].amount, txns[first + k].transfer_type, "AED"
        )
    naive_ms = np.empty(n_naive)
    for k in range(n_naive):
        txn = txns[first + k]
        t_start = perf()
        naive(scored_x[WARMUP_ROWS + k], txn.amount, txn.transfer_type, currencies[first + k])
        naive_ms[k] = (perf() - t_start) * 1e3 + feature_ms[k]
    fast_same_rows = feature_ms[:n_naive] + decide_ms[:n_naive]
    results["naive"] = {
        "per_row": latency_stats(naive_ms),
        "numpy_same_rows": latency_stats(fast_same_rows),
        "speedup_p50": float(np.median(naive_ms) / np.median(fast_same_rows)),
        "speedup_mean": float(naive_ms.mean() / fast_same_rows.mean()),
    }
    del txns, state

    # --- batch ---------------------------------------------------------------------------
    n_batch = min(config.batch_rows, n)
    say(f"batch scoring {n_batch:,} transactions")
    batch_frame = frame.iloc[:n_batch]
    t0 = time.perf_counter()
    X = compute_features_batch(batch_frame, label_delay_days=config.label_delay_days)
    t_features = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.decide_batch(
        X,
        amounts=batch_frame["amount"].to_numpy(dtype=np.float64),
        transfer_types=batch_frame["transfer_type"].to_numpy(),
        currencies=batch_frame["currency"].to_numpy(),
    )
    t_decide = time.perf_counter() - t0
    total = t_features + t_decide
    results["batch"] = {
        "rows": n_batch,
        "features_seconds": round(t_features, 3),
        "decide_seconds": round(t_decide, 3),
        "total_seconds": round(total, 3),
        "tx_per_second": n_batch / total,
        "features_tx_per_second": n_batch / t_features,
        "decide_tx_per_second": n_batch / t_decide,
    }
    memory["after_batch_mb"] = max_rss_mb()

    # --- serving memory, in a process of its own ---------------------------------------
    say(f"serving process: {SERVING_ROWS:,} decisions, {SERVING_SHAP_ROWS:,} with SHAP")
    tail = slice(max(0, n_batch - SERVING_ROWS), n_batch)
    try:
        serving = measure_serving_memory(
            models.artifact_paths,
            X[tail],
            amounts=batch_frame["amount"].to_numpy(dtype=np.float64)[tail],
            transfer_types=batch_frame["transfer_type"].to_numpy()[tail],
            currencies=batch_frame["currency"].to_numpy()[tail],
            work_dir=artifact_dir,
        )
    finally:
        artifacts.cleanup()
    results["serving"] = {k: v for k, v in serving.items() if not isinstance(v, bool)}
    results["serving"]["peak_rss_mb"] = round(serving["peak_rss_mb"], 1)
    results["memory"] = {k: round(v, 1) for k, v in memory.items()}
    results["memory"]["serving_peak_rss_mb"] = round(serving["peak_rss_mb"], 1)
    results["serving_peak_rss_mb"] = results["memory"]["serving_peak_rss_mb"]
    return results


TARGETS = {
    "single p50 (ms)": ("single.no_shap.p50_ms", 0.3, "max"),
    "single p99 (ms)": ("single.no_shap.p99_ms", 1.0, "max"),
    "batch (tx/s)": ("batch.tx_per_second", 50_000, "min"),
    "serving peak RSS (MiB)": ("serving_peak_rss_mb", 300, "max"),
}


def _get(results: dict[str, Any], dotted: str) -> Any:
    value: Any = results
    for part in dotted.split("."):
        value = value[part]
    return value


def format_results(results: dict[str, Any]) -> str:
    """A readable summary of run_benchmark's results."""
    s, nv, b, mem = results["single"], results["naive"], results["batch"], results["memory"]
    lines = [
        f"Data: {results['data']['transactions']:,} transactions "
        f"({results['config']['customers']:,} customers × {results['config']['days']} days); "
        f"models: {', '.join(results['training']['models'])}",
        "",
        f"{'single transaction':<34}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'n':>8}",
    ]
    for label, stats in (
        ("features + rules + models + decision", s["no_shap"]),
        ("  features (in-memory history)", s["features_only"]),
        ("  rules + models + decision", s["decision_only"]),
        ("same with SHAP", s["with_shap"]),
        ("naive (sklearn + Keras per row)", nv["per_row"]),
        ("numpy, same rows", nv["numpy_same_rows"]),
    ):
        lines.append(
            f"{label:<34}{stats['p50_ms']:>10.3f}{stats['p99_ms']:>10.3f}"
            f"{stats['mean_ms']:>10.3f}{stats['n']:>8}"
        )
    lines += [
        f"speed-up over the naive path: {nv['speedup_p50']:.0f}× (p50), "
        f"{nv['speedup_mean']:.0f}× (mean)",
        "",
        f"batch: {b['rows']:,} rows in {b['total_seconds']:.2f} s = {b['tx_per_second']:,.0f} tx/s "
        f"(features {b['features_seconds']:.2f} s = {b['features_tx_per_second']:,.0f} tx/s; "
        f"rules + models {b['decide_seconds']:.2f} s = {b['decide_tx_per_second']:,.0f} tx/s)",
        "",
        "peak RSS (MiB) of this benchmark process: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in mem.items() if k != "serving_peak_rss_mb"),
        f"serving_peak_rss_mb {results['serving_peak_rss_mb']:,.1f}: peak RSS of a serving "
        f"process (artifacts + rules + scoring engine) after "
        f"{results['serving']['decisions']:,} decisions and "
        f"{results['serving']['shap_decisions']:,} with SHAP",
        "",
    ]
    for label, (path, target, kind) in TARGETS.items():
        value = _get(results, path)
        ok = value <= target if kind == "max" else value >= target
        bound = "≤" if kind == "max" else "≥"
        lines.append(f"target {label} {bound} {target:g}: {value:,.3f} {'met' if ok else 'MISSED'}")
    return "\n".join(lines)
