"""Retraining data and the holdout on which champion and challenger are compared.

Features are computed once, with the batch path, for every stored transaction before the
end of the holdout; each row only sees the history and the fraud labels known before its
own time (a label counts from the moment the bank learned it), so the holdout features
are the ones live scoring would have computed. Then:

* training rows: before `train_until`, labelled as the bank knew them at `train_until`;
* holdout rows: from `train_until` to `as_of`, labelled as the bank knows them at
  `as_of`; only rows with a known label (fraud reported, feedback, or legitimate after
  the label delay without a report) are scored.

Champion and challenger are scored on the very same holdout arrays with the live
scoring engine (ScoringEngine.decide_batch: models, risk, rules, outcome), and measured
with detection.evaluation.detection_metrics, as the backtest does.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from cases.selectors import latest_labels
from detection.evaluation import detection_metrics
from detection.features.batch import compute_features_batch
from detection.features.clock import bank_time_zone, local_ns_array
from detection.features.db_frame import fraud_labels_frame, transactions_frame
from detection.features.spec import FEATURE_SPEC_HASH
from detection.ml.serving import ModelEnsemble
from detection.model_training import training_labels
from detection.models import ModelVersion
from detection.rules.engine import RuleSet
from detection.scoring.engine import ScoringEngine
from transactions.models import Transaction

NS_PER_DAY = 86_400 * 10**9


class RetrainingDataError(ValueError):
    """Not enough stored data to train or to compare."""


@dataclass
class Holdout:
    start: datetime
    end: datetime
    pks: np.ndarray  # database ids of the labelled holdout transactions, in time order
    X: np.ndarray
    y: np.ndarray  # bool, fraud
    amounts: np.ndarray
    transfer_types: np.ndarray
    currencies: np.ndarray
    days: np.ndarray  # local day index, for the top-100-per-day precision

    @property
    def digest(self) -> str:
        """SHA-256 of the ids and labels: equal digests mean the very same holdout."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.pks, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.y, dtype=np.int8).tobytes())
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": int(len(self.pks)),
            "fraud": int(self.y.sum()),
            "legitimate": int((~self.y).sum()),
            "digest": self.digest,
        }


@dataclass
class RetrainingData:
    X_train: np.ndarray
    y_train: np.ndarray  # 1 fraud, 0 legitimate, NaN unknown (as known at train_until)
    trained_from: datetime
    train_until: datetime
    as_of: datetime
    holdout: Holdout


def _utc(ns: int) -> datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()


def retraining_data(
    *,
    holdout_days: float,
    label_delay_days: float,
    as_of: datetime | None = None,
) -> RetrainingData:
    """Build the training rows and the labelled holdout (see the module docstring).

    `as_of` defaults to one second after the newest stored transaction."""
    queryset = Transaction.objects.all()
    if as_of is not None:
        queryset = queryset.filter(occurred_at__lt=as_of)
    frame = transactions_frame(queryset)
    if frame.empty:
        raise RetrainingDataError("there are no transactions to train on")
    ts = frame["ts"].to_numpy(dtype=np.int64)
    if as_of is None:
        latest = pd.Timestamp(int(ts.max()), tz="UTC").floor("s") + pd.Timedelta(seconds=1)
        as_of = latest.to_pydatetime()
    as_of_ns = int(pd.Timestamp(as_of).value)
    train_until = as_of - timedelta(days=holdout_days)
    until_ns = int(pd.Timestamp(train_until).value)
    train = np.flatnonzero(ts < until_ns)
    hold = np.flatnonzero(ts >= until_ns)
    if train.size < 2:
        raise RetrainingDataError(
            f"only {train.size} transactions before {train_until:%Y-%m-%d %H:%M}: "
            "not enough history before the holdout"
        )
    labels = fraud_labels_frame(label_delay_days=label_delay_days, known_before=as_of)
    X = compute_features_batch(frame, labels=labels, label_delay_days=label_delay_days)
    feedback_then = dict(
        latest_labels(known_before=train_until).values_list("transaction_id", "is_fraud")
    )
    y_train = training_labels(
        frame.iloc[train],
        cutoff_ns=until_ns,
        label_delay_days=label_delay_days,
        feedback=feedback_then,
    )
    feedback_now = dict(latest_labels(known_before=as_of).values_list("transaction_id", "is_fraud"))
    y_hold = training_labels(
        frame.iloc[hold],
        cutoff_ns=as_of_ns,
        label_delay_days=label_delay_days,
        feedback=feedback_now,
    )
    known = np.isfinite(y_hold)
    rows = hold[known]
    held = frame.iloc[rows]
    currencies = (
        held["currency"].fillna("AED").astype(str).to_numpy()
        if "currency" in held.columns
        else np.full(len(held), "AED", dtype=object)
    )
    holdout = Holdout(
        start=train_until,
        end=as_of,
        pks=held["pk"].to_numpy(dtype=np.int64),
        X=X[rows],
        y=y_hold[known] == 1,
        amounts=held["amount"].to_numpy(dtype=np.float64),
        transfer_types=held["transfer_type"].to_numpy(),
        currencies=currencies,
        days=local_ns_array(held["ts"].to_numpy(dtype=np.int64), bank_time_zone()) // NS_PER_DAY,
    )
    return RetrainingData(
        X_train=X[train],
        y_train=y_train,
        trained_from=_utc(int(ts[train].min())),
        train_until=train_until,
        as_of=as_of,
        holdout=holdout,
    )


def json_safe(value: Any) -> Any:
    """NaN and infinities -> None, numpy scalars -> Python (JSON columns refuse NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluate_versions(
    versions: Sequence[ModelVersion], holdout: Holdout, *, rule_set: RuleSet
) -> dict[str, Any]:
    """Score the holdout with the given versions as the live engine would (models, risk,
    rules, outcome) and measure it. `false_positive_rate` is the share of legitimate
    holdout transactions sent to review or block."""
    ensemble, errors = ModelEnsemble.load(
        {v.kind: v.artifact_path for v in versions},
        expected_feature_spec_hash=FEATURE_SPEC_HASH,
    )
    engine = ScoringEngine(ensemble, rule_set)
    if len(holdout.pks):
        batch = engine.decide_batch(
            holdout.X,
            amounts=holdout.amounts,
            transfer_types=holdout.transfer_types,
            currencies=holdout.currencies,
        )
        risk, flagged = batch.risk_score, batch.outcome != "approve"
    else:
        risk, flagged = np.zeros(0), np.zeros(0, dtype=bool)
    metrics = detection_metrics(holdout.y, risk, days=holdout.days, outcome_flagged=flagged)
    legit = ~holdout.y
    risk_flagged = risk >= rule_set.review_threshold
    metrics["false_positive_rate"] = metrics.get("outcome_false_positive_rate", float("nan"))
    metrics["model_false_positive_rate"] = (
        float(risk_flagged[legit].mean()) if legit.any() else float("nan")
    )
    metrics["review_threshold"] = rule_set.review_threshold
    metrics["holdout_digest"] = holdout.digest
    metrics["versions"] = [
        {"id": v.pk, "kind": v.kind, "version": v.version} for v in versions if v.kind not in errors
    ]
    if errors:
        metrics["refused_artifacts"] = {kind: err.reason for kind, err in errors.items()}
    return json_safe(metrics)
