"""The frame the batch feature path reads, built from canonical-schema columns.

`normalise_frame(df)` takes a DataFrame with the canonical CSV columns (see
transactions/csv_schema.py) and returns one with exactly what the features need:

| column | dtype | notes |
|---|---|---|
| ts | int64 | epoch nanoseconds, UTC (from `timestamp`; naive = bank local time) |
| account | str | required |
| amount | float64 | required, >= 0 |
| counterparty, transfer_type, country, channel | str | '' when missing |
| home_country, counterparty_country | str | '' when missing |
| label | float64 | 1.0 fraud, 0.0 legitimate, NaN unknown (optional input) |

Country codes and the transfer type are upper-cased, the channel lower-cased.

`id`, `customer`, `currency` and `scenario` are passed through when present. Rows keep
their order; the row order breaks ties between equal timestamps. Missing optional columns
are filled with '' (features then take neutral values). A frame that already has `ts` is
accepted as is (normalising twice changes nothing).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from detection.features.clock import bank_time_zone

TEXT_COLUMNS: dict[str, str] = {
    "account": "",
    "counterparty": "",
    "transfer_type": "upper",
    "country": "upper",
    "channel": "lower",
    "home_country": "upper",
    "counterparty_country": "upper",
}
PASSTHROUGH_COLUMNS = ("id", "customer", "currency", "scenario")
FEATURE_INPUT_COLUMNS = ("ts", "amount", *TEXT_COLUMNS)


def timestamps_to_ns(values: Any, *, tz: str | None = None) -> np.ndarray:
    """ISO 8601 strings, datetimes or datetime64 values -> int64 epoch nanoseconds.

    Naive values are taken as bank local time."""
    series = pd.Series(values)
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype=np.int64)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series, format="ISO8601")
        except (ValueError, TypeError):
            # mixed UTC offsets: parse every value to UTC
            series = pd.to_datetime(series, format="ISO8601", utc=True)
    if series.isna().any():
        bad = [int(i) for i in np.flatnonzero(series.isna().to_numpy())[:5]]
        raise ValueError(f"timestamp missing or unreadable in rows {bad}")
    if series.dt.tz is None:
        series = series.dt.tz_localize(bank_time_zone(tz))
    utc = series.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("ns")
    return utc.to_numpy().view(np.int64)


def _text(df: pd.DataFrame, column: str, case: str) -> np.ndarray:
    if column not in df.columns:
        return np.full(len(df), "", dtype=object)
    series = df[column]
    values = series.astype(object).where(series.notna(), "").astype(str).str.strip()
    if case == "upper":
        values = values.str.upper()
    elif case == "lower":
        values = values.str.lower()
    return values.to_numpy(dtype=object)


def _labels(df: pd.DataFrame) -> np.ndarray:
    if "label" not in df.columns:
        return np.full(len(df), np.nan)
    series = df["label"]
    if series.dtype == bool:
        return series.to_numpy(dtype=np.float64)
    mapped = series.astype(object).map(
        lambda v: (
            {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}.get(v.lower(), v)
            if isinstance(v, str)
            else v
        )
    )
    return pd.to_numeric(mapped, errors="coerce").to_numpy(dtype=np.float64)


def is_normalised(df: pd.DataFrame) -> bool:
    return (
        all(c in df.columns for c in FEATURE_INPUT_COLUMNS)
        and df["ts"].dtype == np.int64
        and df["amount"].dtype == np.float64
    )


def normalise_frame(df: pd.DataFrame, *, tz: str | None = None) -> pd.DataFrame:
    """Canonical-schema rows -> the feature input frame described in the module doc."""
    if is_normalised(df):
        return df.reset_index(drop=True)
    n = len(df)
    for column in ("account", "amount"):
        if column not in df.columns:
            raise ValueError(f"column '{column}' is required")
    if "ts" in df.columns:
        ts = timestamps_to_ns(df["ts"].to_numpy(), tz=tz)
    elif "timestamp" in df.columns:
        ts = timestamps_to_ns(df["timestamp"].to_numpy(), tz=tz)
    else:
        raise ValueError("column 'timestamp' is required")
    amount = pd.to_numeric(df["amount"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(amount) | (amount < 0))
    if len(bad):
        raise ValueError(f"amount missing, unreadable or negative in rows {bad[:5].tolist()}")
    if df["account"].isna().any():
        bad = np.flatnonzero(df["account"].isna().to_numpy())
        raise ValueError(f"account missing in rows {bad[:5].tolist()}")
    out: dict[str, Any] = {}
    for column in PASSTHROUGH_COLUMNS:
        if column in df.columns:
            out[column] = df[column].to_numpy()
    out["ts"] = ts
    out["amount"] = amount
    for column, case in TEXT_COLUMNS.items():
        out[column] = _text(df, column, case)
    out["label"] = _labels(df)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def frame_from_csv_columns(
    columns: Mapping[str, Sequence[Any]], *, tz: str | None = None
) -> pd.DataFrame:
    """Column name -> values (canonical schema) -> the feature input frame."""
    return normalise_frame(pd.DataFrame(dict(columns)), tz=tz)


def normalise_labels(
    labels: pd.DataFrame, *, delay_ns: int, tz: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fraud labels -> (counterparty keys, known-at epoch ns) of the fraud labels only.

    Columns: `counterparty`, the labelled transaction's time as `ts` (int ns) or
    `timestamp`, `is_fraud`, and optionally `known_at` (when the bank learned it). Without
    `known_at` a label is known at transaction time + the delay."""
    if len(labels) == 0:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    is_fraud = labels["is_fraud"].fillna(False).astype(bool).to_numpy()
    labels = labels.loc[is_fraud]
    counterparty = _text(labels, "counterparty", "")
    time_column = "ts" if "ts" in labels.columns else "timestamp"
    ts = timestamps_to_ns(labels[time_column].to_numpy(), tz=tz)
    known = ts + delay_ns
    if "known_at" in labels.columns:
        has_known = labels["known_at"].notna().to_numpy()
        if has_known.any():
            known_values = labels["known_at"].to_numpy()[has_known]
            known[has_known] = timestamps_to_ns(known_values, tz=tz)
    keep = counterparty != ""
    return counterparty[keep], known[keep]
