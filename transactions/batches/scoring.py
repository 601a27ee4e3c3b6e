"""Scoring many rows at once against the stored history, as the real-time path would.

A batch's rows (clean, canonical, in time order) are scored like this:

1. `attach_entity_attributes`: the customer's home country and the counterparty's country
   as stored (real-time scoring reads them from the database, so the batch does too);
2. `features_against_history`: the stored transactions of the batch's accounts and
   counterparties, the batch rows after them, and the fraud labels known from feedback
   and from the data go through the vectorised feature path (detection/features/batch.py);
   every batch row gets the vector real-time scoring would compute once the rows before
   it are stored;
3. `decide_rows`: rules and models over the whole matrix (ScoringEngine.decide_batch),
   then explanations for the flagged rows: SHAP for up to `shap_rows` of them (supervised
   model, else isolation forest), the autoencoder's reconstruction-error shares for the
   rest. Approved rows keep their scores and rule hits without an explanation.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from detection.features.batch import compute_features_batch
from detection.features.clock import bank_time_zone, label_delay_ns
from detection.features.db_frame import fraud_labels_frame, transactions_frame
from detection.features.frame import FEATURE_INPUT_COLUMNS, normalise_frame
from detection.features.spec import DEFAULT_LABEL_DELAY_DAYS
from detection.ml import explain
from detection.ml.manifest import AUTOENCODER
from detection.scoring.engine import ScoringEngine
from detection.scoring.sentences import top_contributions
from transactions.models import Account, Counterparty, Customer, Transaction

LOOKUP_CHUNK = 900  # keys per IN (...) query (SQLite's parameter limit)
POSTGRES_LOOKUP_CHUNK = 20_000
SQLITE_FILTER_LIMIT = 30_000  # SQLite, more keys than this: read all stored history
REASONS_FROM_CONTRIBUTIONS = 3
SHAP_KINDS = ("supervised", "isolation_forest")
FLAGGED = ("review", "block")
NOTHING: list = []


@dataclass
class ScoredRows:
    risk_score: np.ndarray
    outcome: np.ndarray  # of str
    model_scores: dict[str, np.ndarray]  # kind and kind_raw -> per-row scores
    rule_hits: list[Sequence[dict[str, Any]]]
    reasons: list[list[str]]
    contributions: list[list[dict[str, Any]]]
    explained: np.ndarray  # bool: SHAP computed
    model_version_ids: list[int]

    @property
    def flagged(self) -> np.ndarray:
        return np.isin(self.outcome, FLAGGED)

    def __len__(self) -> int:
        return len(self.risk_score)


def _values_by_key(
    model: type[Account] | type[Counterparty] | type[Customer],
    key: str,
    keys: list[str],
    *fields: str,
) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    size = POSTGRES_LOOKUP_CHUNK if connection.vendor == "postgresql" else LOOKUP_CHUNK
    for start in range(0, len(keys), size):
        part = keys[start : start + size]
        for row in model.objects.filter(**{f"{key}__in": part}).values_list(key, *fields):
            out[row[0]] = row[1:]
    return out


def _lookup(keys: np.ndarray, table: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """table[key] for every key ('' when the value is empty or missing) and whether the
    key is in the table, vectorised."""
    positions = pd.Index(list(table), dtype=object).get_indexer(keys)
    values = np.array([*(v or "" for v in table.values()), ""], dtype=object)
    return values[positions], positions >= 0


def _first_per_key(keys: np.ndarray, values: np.ndarray) -> dict[str, str]:
    """For each key, its first non-empty value in row order."""
    given = values != ""
    firsts = pd.Series(values[given], index=pd.Index(keys[given], dtype=object))
    firsts = firsts[~firsts.index.duplicated(keep="first")]
    return dict(zip(firsts.index.tolist(), firsts.tolist()))


def attach_entity_attributes(rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` with the account's customer, its home country and the counterparty's country
    as stored. Accounts and counterparties not stored yet take what loading the rows would
    store: the row's customer, and the first home / counterparty country given for it."""
    rows = rows.copy()
    account = rows["account"].to_numpy(dtype=object)
    customer = rows["customer"].fillna("").astype(str).to_numpy(dtype=object)
    customer = np.where(customer == "", account, customer)
    accounts = _values_by_key(
        Account,
        "number",
        pd.unique(account).tolist(),
        "customer__external_id",
        "customer__home_country",
    )
    stored_owner, known_account = _lookup(account, {a: v[0] for a, v in accounts.items()})
    stored_home, _ = _lookup(account, {a: v[1] for a, v in accounts.items()})
    owner = np.where(known_account, stored_owner, customer)
    given_home = _first_per_key(owner, rows["home_country"].fillna("").to_numpy(dtype=object))
    new_owners = pd.unique(owner[~known_account]).tolist()
    customers = _values_by_key(Customer, "external_id", new_owners, "home_country")
    customer_home, known_customer = _lookup(owner, {c: v[0] for c, v in customers.items()})
    first_home, _ = _lookup(owner, given_home)
    rows["customer"] = owner
    rows["home_country"] = np.where(
        known_account, stored_home, np.where(known_customer, customer_home, first_home)
    )
    cps = rows["counterparty"].fillna("").to_numpy(dtype=object)
    known = _values_by_key(Counterparty, "identifier", [c for c in pd.unique(cps) if c], "country")
    stored_country, known_cp = _lookup(cps, {c: v[0] for c, v in known.items()})
    given_country = _first_per_key(
        cps, rows["counterparty_country"].fillna("").to_numpy(dtype=object)
    )
    first_country, _ = _lookup(cps, given_country)
    rows["counterparty_country"] = np.where(known_cp, stored_country, first_country)
    return rows


def _history_ids_postgresql(account_pks: list[int], counterparty_pks: list[int]) -> list[int]:
    """Ids of the stored transactions of these accounts or counterparties: an index probe
    per key (OFFSET 0 keeps each probe a nested loop), whatever the table's size."""
    table = connection.ops.quote_name(Transaction._meta.db_table)
    sql = (
        "SELECT x.id FROM unnest(%s::bigint[]) AS a(id) CROSS JOIN LATERAL "  # noqa: S608
        f"(SELECT t.id FROM {table} t WHERE t.account_id = a.id OFFSET 0) x "
        "UNION SELECT y.id FROM unnest(%s::bigint[]) AS c(id) CROSS JOIN LATERAL "
        f"(SELECT t.id FROM {table} t WHERE t.counterparty_id = c.id OFFSET 0) y"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_pks, counterparty_pks])
        return [row[0] for row in cursor.fetchall()]


def stored_history(rows: pd.DataFrame) -> pd.DataFrame:
    """Stored transactions of the rows' accounts and of their counterparties, as a
    normalised feature frame (on SQLite, with very many keys, all stored transactions:
    the extra rows change no feature of the batch rows)."""
    accounts = rows["account"].drop_duplicates().tolist()
    cps = [c for c in pd.unique(rows["counterparty"].to_numpy(dtype=object)) if c]
    postgres = connection.vendor == "postgresql"
    if not postgres and len(accounts) + len(cps) > SQLITE_FILTER_LIMIT:
        return transactions_frame(Transaction.objects.all())
    account_pks = [v[0] for v in _values_by_key(Account, "number", accounts, "id").values()]
    cp_pks = [v[0] for v in _values_by_key(Counterparty, "identifier", cps, "id").values()]
    if not account_pks and not cp_pks:
        return transactions_frame(Transaction.objects.none())
    if postgres:
        ids = _history_ids_postgresql(account_pks, cp_pks)
        condition = Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    else:
        condition = Q(account_id__in=account_pks) | Q(counterparty_id__in=cp_pks)
    queryset = Transaction.objects.filter(condition)
    return transactions_frame(queryset)


def _fraud_labels(history_labels: pd.DataFrame, rows: pd.DataFrame, delay_ns: int) -> pd.DataFrame:
    """Stored fraud labels plus those the batch rows carry (known after the delay, as
    they will be once stored)."""
    label = rows["label"].to_numpy(dtype=np.float64)
    cps = rows["counterparty"].to_numpy(dtype=object)
    fraud = (label == 1.0) & (cps != "")
    ts = rows["ts"].to_numpy(dtype=np.int64)[fraud]
    extra = pd.DataFrame(
        {
            "counterparty": pd.Series(cps[fraud], dtype=object),
            "ts": ts,
            "is_fraud": np.ones(len(ts), dtype=bool),
            "known_at": ts + delay_ns,
        }
    )
    if history_labels.empty:
        return extra
    return pd.concat([history_labels, extra], ignore_index=True)


CASE = {"transfer_type": str.upper, "country": str.upper, "channel": str.lower}
CASE.update(home_country=str.upper, counterparty_country=str.upper)


def _text(values: pd.Series, case: Any = None) -> np.ndarray:
    """Stripped (and cased) text, '' for missing; each distinct value handled once."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    clean = [str(u).strip() for u in uniques.tolist()]
    if case is not None:
        clean = [case(u) for u in clean]
    table = np.array([*clean, ""], dtype=object)
    return table[codes]


def feature_input(rows: pd.DataFrame) -> pd.DataFrame:
    """The feature input frame (detection/features/frame.py) of clean canonical rows with
    a tz-aware `timestamp`, built directly (the same values normalise_frame gives)."""
    stamps = pd.DatetimeIndex(rows["timestamp"])
    if stamps.tz is None:
        return normalise_frame(rows, tz=bank_time_zone())
    out = {
        "ts": stamps.tz_convert("UTC").as_unit("ns").asi8.astype(np.int64),
        "amount": rows["amount"].to_numpy(dtype=np.float64),
    }
    for column in ("account", "counterparty", *CASE):
        out[column] = _text(rows[column], CASE.get(column))
    label = rows["label"] if "label" in rows.columns else pd.Series(np.nan, index=rows.index)
    out["label"] = pd.to_numeric(label, errors="coerce").to_numpy(dtype=np.float64)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(rows)))
    return frame[[*FEATURE_INPUT_COLUMNS, "label"]]


def features_against_history(
    rows: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
) -> np.ndarray:
    """The feature matrix of `rows` (canonical, with stored entity attributes) as if each
    were scored in real time after the stored history and the rows before it."""
    tz = bank_time_zone()
    batch = feature_input(rows)
    if history is None:
        history = stored_history(rows)
    columns = [*FEATURE_INPUT_COLUMNS, "label"]
    combined = pd.concat(
        [history[columns], batch[columns]], ignore_index=True
    )  # history first: a stored row comes before a batch row at the same time
    labels = _fraud_labels(
        fraud_labels_frame(label_delay_days=label_delay_days),
        batch,
        label_delay_ns(label_delay_days),
    )
    X = compute_features_batch(combined, labels=labels, label_delay_days=label_delay_days, tz=tz)
    return X[len(history) :]


def _explainer(engine: ScoringEngine) -> tuple[Any, str | None]:
    ensemble = engine.ensemble
    if ensemble is None:
        return None, None
    for kind in SHAP_KINDS:
        model = ensemble.get(kind)
        if model is not None:
            return model, kind
    return None, None


def decide_rows(
    engine: ScoringEngine, X: np.ndarray, rows: pd.DataFrame, *, shap_rows: int
) -> ScoredRows:
    """Decisions for every row, explanations for the flagged ones (see module doc)."""
    amounts = rows["amount"].to_numpy(dtype=np.float64)
    currencies = rows["currency"].fillna("AED").astype(str).to_numpy(dtype=object)
    batch = engine.decide_batch(
        X,
        amounts=amounts,
        transfer_types=rows["transfer_type"].fillna("").astype(str).to_numpy(dtype=object),
        currencies=currencies,
    )
    n = len(X)
    # Rows without reasons or contributions share one empty list (never changed in place).
    reasons: list[list[str]] = [NOTHING] * n
    contributions: list[list[dict[str, Any]]] = [NOTHING] * n
    explained = np.zeros(n, dtype=bool)
    flagged = np.flatnonzero(np.isin(batch.outcome, FLAGGED))
    for i in flagged:
        reasons[i] = [hit["reason"] for hit in batch.rule_hits[i]]

    model, kind = _explainer(engine)
    with_shap = flagged[: max(shap_rows, 0)] if model is not None else flagged[:0]
    rest = flagged[len(with_shap) :]
    groups: list[tuple[np.ndarray, np.ndarray, str]] = []
    if len(with_shap):
        groups.append((with_shap, explain.contributions(model, X[with_shap]), kind))
        explained[with_shap] = True
    if len(rest) and engine.ensemble is not None:
        errors = engine.ensemble.autoencoder_feature_errors(X[rest])
        if errors is not None:
            totals = errors.sum(axis=1, keepdims=True)
            shares = np.divide(errors, totals, out=np.zeros_like(errors), where=totals > 0)
            groups.append((rest, shares, AUTOENCODER))
    for index, values, source in groups:
        for j, i in enumerate(index.tolist()):
            found = top_contributions(
                X[i],
                values[j],
                amount=float(amounts[i]),
                currency=str(currencies[i] or "AED"),
                source=source,
            )
            contributions[i] = found
            reasons[i] = reasons[i] + [c["sentence"] for c in found[:REASONS_FROM_CONTRIBUTIONS]]
    return ScoredRows(
        risk_score=batch.risk_score,
        outcome=batch.outcome,
        model_scores=batch.model_scores,
        rule_hits=batch.rule_hits,
        reasons=reasons,
        contributions=contributions,
        explained=explained,
        model_version_ids=list(engine.model_version_ids),
    )
