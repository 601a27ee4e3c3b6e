"""Open cases for stored transactions that were never scored (demo data, a bank's history
loaded in bulk): features for the whole history with the vectorised batch path, decisions
for the window's unscored transactions, full explanations (rule reasons, SHAP) for the
flagged ones, their decisions stored, their cases opened.

The scoring signals are not sent: this is a backfill, not live traffic, so no alert goes
out for a transaction that happened weeks ago.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db import transaction as db_transaction
from django.utils import timezone

from cases.models import Case
from cases.services import cases_open_for_scores
from detection.features.batch import compute_features_batch
from detection.features.clock import datetime_to_ns
from detection.features.db_frame import fraud_labels_frame, transactions_frame
from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import TransactionScore
from detection.scoring.loader import get_engine
from detection.scoring.service import STATUS_FOR_OUTCOME
from detection.scoring.version_sets import version_set_id
from transactions.models import Transaction

STORE_CHUNK = 1000


@dataclass
class BackfillResult:
    history_rows: int = 0
    window_rows: int = 0
    already_scored: int = 0
    flagged: int = 0
    stored: int = 0
    cases_opened: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _say(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)


def open_cases_for_unscored(
    *,
    since: datetime,
    until: datetime | None = None,
    max_cases: int | None = None,
    log: Callable[[str], None] | None = None,
) -> BackfillResult:
    """Score the transactions that occurred in [since, until) and have no stored decision,
    and open cases for the flagged ones (at most `max_cases`, the most recent first)."""
    result = BackfillResult()
    started = time.perf_counter()
    frame = transactions_frame()
    result.history_rows = len(frame)
    _say(log, f"history: {len(frame):,} transactions")
    X = compute_features_batch(frame, labels=fraud_labels_frame())
    result.seconds["features"] = time.perf_counter() - started

    ts = frame["ts"].to_numpy(dtype=np.int64)
    in_window = ts >= datetime_to_ns(since)
    if until is not None:
        in_window &= ts < datetime_to_ns(until)
    rows = np.flatnonzero(in_window)
    pks = frame["pk"].to_numpy()
    scored = set(
        TransactionScore.objects.filter(transaction_id__in=pks[rows].tolist()).values_list(
            "transaction_id", flat=True
        )
    )
    result.window_rows = len(rows)
    result.already_scored = len(scored)
    if scored:
        rows = rows[~np.isin(pks[rows], list(scored))]
    _say(log, f"window: {result.window_rows:,} transactions, {len(rows):,} without a decision")

    t0 = time.perf_counter()
    engine = get_engine()
    amounts = frame["amount"].to_numpy(dtype=np.float64)
    transfer_types = frame["transfer_type"].to_numpy()
    currencies = frame["currency"].to_numpy()
    batch = engine.decide_batch(
        X[rows],
        amounts=amounts[rows],
        transfer_types=transfer_types[rows],
        currencies=currencies[rows],
    )
    flagged = rows[np.asarray(batch.outcome) != "approve"]
    result.flagged = len(flagged)
    flagged = flagged[np.argsort(-ts[flagged], kind="stable")]  # most recent first
    if max_cases is not None:
        flagged = flagged[:max_cases]
    result.seconds["decide_batch"] = time.perf_counter() - t0
    _say(log, f"flagged: {result.flagged:,}; explaining and storing {len(flagged):,}")

    t0 = time.perf_counter()
    for start in range(0, len(flagged), STORE_CHUNK):
        chunk = flagged[start : start + STORE_CHUNK]
        opened = _store_and_open(engine, X, chunk, pks, amounts, transfer_types, currencies)
        result.stored += len(chunk)
        result.cases_opened += opened
        _say(log, f"  {result.stored:,} stored, {result.cases_opened:,} cases opened")
    result.seconds["explain_store_open"] = time.perf_counter() - t0
    result.seconds["total"] = time.perf_counter() - started
    return result


@db_transaction.atomic
def _store_and_open(
    engine: object,
    X: np.ndarray,
    chunk: np.ndarray,
    pks: np.ndarray,
    amounts: np.ndarray,
    transfer_types: np.ndarray,
    currencies: np.ndarray,
) -> int:
    scores = []
    version_ids: list[int] = []
    now = timezone.now()
    for i in chunk:
        decision = engine.decide(
            X[i],
            amount=float(amounts[i]),
            transfer_type=str(transfer_types[i] or ""),
            currency=str(currencies[i] or "AED"),
            explain_with_shap=True,
        )
        version_ids = decision.model_version_ids
        scores.append(
            TransactionScore(
                transaction_id=int(pks[i]),
                risk_score=decision.risk_score,
                outcome=decision.outcome,
                rule_hits=decision.rule_hits,
                model_scores=decision.model_scores,
                contributions=decision.contributions,
                reasons=decision.reasons,
                features=X[i].tolist(),
                feature_spec_hash=FEATURE_SPEC_HASH,
                latency_ms=decision.latency_ms,
                scored_at=now,
                explained=decision.explained,
            )
        )
    set_id = version_set_id(version_ids)
    for score in scores:
        score.version_set_id = set_id
    stored = TransactionScore.objects.bulk_create(scores)
    for outcome, status in STATUS_FOR_OUTCOME.items():
        ids = [score.transaction_id for score in stored if score.outcome == outcome]
        if ids:
            Transaction.objects.filter(pk__in=ids).update(status=status)
    before = Case.objects.count()
    cases_open_for_scores(score_ids=[score.pk for score in stored])
    return Case.objects.count() - before
