"""Stored transactions and fraud labels as frames for the batch path (training, backtests).

`compute_features_batch(transactions_frame(qs), labels=fraud_labels_frame(...))` gives the
same vectors as `realtime.features_for_transaction` for each stored transaction.
"""

from datetime import datetime

import numpy as np
import pandas as pd
from django.db.models import QuerySet

from detection.features.clock import datetime_to_ns, label_delay_ns
from detection.features.frame import normalise_frame
from detection.features.realtime import LabelSource
from detection.features.spec import DEFAULT_LABEL_DELAY_DAYS
from transactions.models import Transaction

_FIELDS = (
    "id",
    "external_id",
    "occurred_at",
    "account__number",
    "account__customer__external_id",
    "account__customer__home_country",
    "counterparty__identifier",
    "counterparty__country",
    "amount",
    "currency",
    "transfer_type",
    "country",
    "channel",
    "source_label",
    "source_scenario",
)
_COLUMNS = (
    "pk",
    "id",
    "timestamp",
    "account",
    "customer",
    "home_country",
    "counterparty",
    "counterparty_country",
    "amount",
    "currency",
    "transfer_type",
    "country",
    "channel",
    "label",
    "scenario",
)


def transactions_frame(
    queryset: QuerySet[Transaction] | None = None, *, chunk_size: int = 20_000
) -> pd.DataFrame:
    """Transactions (default: all) as a normalised feature frame, in (occurred_at, id)
    order so that ties break as in the database. `pk` holds the database id, `id` the
    bank's transaction id, `label` the label supplied with the data."""
    queryset = Transaction.objects.all() if queryset is None else queryset
    rows = queryset.order_by("occurred_at", "id").values_list(*_FIELDS)
    raw = pd.DataFrame(list(rows.iterator(chunk_size=chunk_size)), columns=list(_COLUMNS))
    if raw.empty:
        raw = pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS})
        raw["timestamp"] = pd.Series(dtype="datetime64[ns, UTC]")
        raw["amount"] = pd.Series(dtype=np.float64)
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], utc=True)
    raw["amount"] = raw["amount"].astype(np.float64)
    raw["label"] = raw["label"].map({True: 1.0, False: 0.0})
    frame = normalise_frame(raw)
    frame["pk"] = raw["pk"].to_numpy()
    return frame


def fraud_labels_frame(
    *,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    label_source: LabelSource = "both",
    known_before: datetime | None = None,
) -> pd.DataFrame:
    """Fraud labels as `counterparty, ts, is_fraud, known_at` (epoch ns), by the same
    rules as realtime.counterparty_fraud_known_times: feedback labels decide where they
    exist (known at the first fraud label), data labels are known after the delay."""
    delay = label_delay_ns(label_delay_days)
    known: dict[int, tuple[str, int, int]] = {}
    with_cp = Transaction.objects.filter(counterparty__isnull=False)
    if label_source in ("data", "both"):
        for txn_id, cp, occurred_at in with_cp.filter(source_label=True).values_list(
            "id", "counterparty__identifier", "occurred_at"
        ):
            ts = datetime_to_ns(occurred_at)
            known[txn_id] = (cp, ts, ts + delay)
    if label_source in ("feedback", "both"):
        from cases.models import FeedbackLabel

        labels = FeedbackLabel.objects.filter(transaction__counterparty__isnull=False)
        if known_before is not None:
            labels = labels.filter(known_at__lt=known_before)
        rows = labels.order_by("transaction_id", "known_at", "id").values_list(
            "transaction_id",
            "transaction__counterparty__identifier",
            "transaction__occurred_at",
            "is_fraud",
            "known_at",
        )
        first_fraud: dict[int, int] = {}
        latest: dict[int, tuple[str, int, bool]] = {}
        for txn_id, cp, occurred_at, is_fraud, known_at in rows:
            latest[txn_id] = (cp, datetime_to_ns(occurred_at), is_fraud)
            if is_fraud and txn_id not in first_fraud:
                first_fraud[txn_id] = datetime_to_ns(known_at)
        for txn_id, (cp, ts, is_fraud) in latest.items():
            if is_fraud:
                known[txn_id] = (cp, ts, first_fraud[txn_id])
            else:
                known.pop(txn_id, None)
    values = list(known.values())
    return pd.DataFrame(
        {
            "counterparty": pd.Series([v[0] for v in values], dtype=object),
            "ts": np.array([v[1] for v in values], dtype=np.int64),
            "is_fraud": np.ones(len(values), dtype=bool),
            "known_at": np.array([v[2] for v in values], dtype=np.int64),
        }
    )
