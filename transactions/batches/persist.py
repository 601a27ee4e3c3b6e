"""Store many decisions at once: TransactionScore rows (COPY on PostgreSQL, batched inserts
on SQLite) pointing at their set of model versions, and nothing twice (a transaction has at
most one score).
"""

import json
import time
from typing import Any

import numpy as np
import pandas as pd
from django.db import connections
from django.utils import timezone

from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import TransactionScore
from detection.scoring.version_sets import version_set_id
from transactions.batches.scoring import ScoredRows
from transactions.bulk_load import bulk_load_frame, insert_clean_transactions, key_ids
from transactions.fast_insert import Constant, insert_rows, reserve_ids
from transactions.models import Transaction

SQLITE_CHUNK = 900
EMPTY_LIST = "[]"


def _numbers(values: np.ndarray) -> list[str]:
    """JSON numbers as json.dumps writes Python floats (shortest repr), null when not
    finite, converted at C speed."""
    values = np.asarray(values, dtype=np.float64)
    out = list(map(repr, values.tolist()))
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = "null"
    return out


def _model_scores_json(model_scores: dict[str, np.ndarray], rows: np.ndarray) -> list[str]:
    """{"kind": {"calibrated": c, "raw": r}, ...} per row, as ScoringEngine.decide stores it."""
    kinds = [k for k in model_scores if not k.endswith("_raw")]
    if not kinds:
        return ["{}"] * len(rows)
    template = (
        "{"
        + ", ".join(f'{json.dumps(kind)}: {{"calibrated": %s, "raw": %s}}' for kind in kinds)
        + "}"
    )
    columns = []
    for kind in kinds:
        columns.append(_numbers(model_scores[kind][rows]))
        columns.append(_numbers(model_scores.get(f"{kind}_raw", model_scores[kind])[rows]))
    return list(map(template.__mod__, zip(*columns)))


def _json_per_row(values: list[Any], rows: np.ndarray, keep: np.ndarray) -> list[str]:
    """JSON of values[i] for the rows where `keep`, '[]' elsewhere."""
    return [json.dumps(values[i]) if k and values[i] else EMPTY_LIST for i, k in zip(rows, keep)]


def store_scores(
    *,
    transaction_ids: np.ndarray,
    scored: ScoredRows,
    rows: np.ndarray,
    X: np.ndarray,
    latency_ms: float,
    timings: dict[str, float] | None = None,
    using: str = "default",
) -> dict[int, int]:
    """Store the decisions of scored rows `rows` for the transactions `transaction_ids`
    (same order). Transactions that already have a score keep it. Flagged rows also keep
    their feature vector, reasons and contributions. Returns {transaction id: score id}
    of the flagged rows stored (for scores_stored_in_bulk)."""
    if len(rows) == 0:
        return {}
    timings = {} if timings is None else timings
    started = time.perf_counter()
    connection = connections[using]
    rows = np.asarray(rows, dtype=np.int64)
    txn_ids = np.asarray(transaction_ids, dtype=np.int64)
    flagged = scored.flagged[rows]
    risk = np.clip(np.nan_to_num(scored.risk_score[rows], nan=0.0), 0.0, 1.0)
    hits = [
        json.dumps(list(scored.rule_hits[i])) if len(scored.rule_hits[i]) else EMPTY_LIST
        for i in rows.tolist()
    ]
    features = [
        json.dumps(X[i].tolist()) if f else EMPTY_LIST for i, f in zip(rows.tolist(), flagged)
    ]
    model_scores = _model_scores_json(scored.model_scores, rows)
    reasons = _json_per_row(scored.reasons, rows.tolist(), flagged)
    contributions = _json_per_row(scored.contributions, rows.tolist(), flagged)
    timings["scores_json_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    insert_rows(
        connection,
        TransactionScore,
        "transaction_id",
        {
            "transaction_id": txn_ids,
            "risk_score": risk,
            "outcome": scored.outcome[rows],
            "rule_hits": hits,
            "model_scores": model_scores,
            "contributions": contributions,
            "reasons": reasons,
            "features": features,
            "feature_spec_hash": Constant(FEATURE_SPEC_HASH),
            "latency_ms": Constant(float(latency_ms)),
            "scored_at": Constant(timezone.now()),
            "explained": scored.explained[rows],
            "version_set_id": Constant(version_set_id(scored.model_version_ids, using=using)),
        },
        check_existing=False,  # the transactions were stored by this very transaction
    )
    timings["scores_copy_seconds"] = time.perf_counter() - started
    flagged_txns = txn_ids[flagged].tolist()
    return key_ids(TransactionScore, "transaction_id", flagged_txns, using=using)


def store_transactions(
    *, rows: pd.DataFrame, batch_id: int, using: str = "default"
) -> tuple[np.ndarray, np.ndarray]:
    """Insert a chunk's transactions (clean rows, checked for stored ids when the batch was
    prepared). Returns the positions of the rows this call inserted and their transaction
    ids; a row whose id was stored meanwhile (by someone else) is skipped. On PostgreSQL
    the ids are reserved first and the staged entity ids used, so nothing is looked up."""
    connection = connections[using]
    resolved = {"account_id", "counterparty_id"} <= set(rows.columns)
    if connection.vendor == "postgresql" and resolved:
        ids = reserve_ids(connection, Transaction, len(rows))
        inserted = insert_clean_transactions(
            rows,
            account_ids=rows["account_id"],
            counterparty_ids=rows["counterparty_id"],
            ids=ids,
            import_batch_id=batch_id,
            check_existing=False,
            using=using,
        )
        if inserted == len(rows):
            return np.arange(len(rows)), ids
    else:
        bulk_load_frame(rows, import_batch_id=batch_id, known_new=True, using=using)
    ours = batch_transaction_ids(batch_id=batch_id, external_ids=rows["id"].tolist(), using=using)
    positions = np.flatnonzero(rows["id"].isin(ours).to_numpy())
    return positions, np.array([ours[i] for i in rows["id"].iloc[positions].tolist()], np.int64)


def batch_transaction_ids(
    *, batch_id: int, external_ids: list[str], using: str = "default"
) -> dict[str, int]:
    """{external id: id} of the given transactions that the batch stored."""
    connection = connections[using]
    table = connection.ops.quote_name(Transaction._meta.db_table)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT external_id, id FROM {table} "  # noqa: S608
                "WHERE external_id = ANY(%s) AND import_batch_id = %s",
                [external_ids, batch_id],
            )
            found.update(cursor.fetchall())
            return found
        for start in range(0, len(external_ids), SQLITE_CHUNK):
            part = external_ids[start : start + SQLITE_CHUNK]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT external_id, id FROM {table} "  # noqa: S608
                f"WHERE external_id IN ({marks}) AND import_batch_id = %s",
                [*part, batch_id],
            )
            found.update(cursor.fetchall())
    return found
