"""Read a transactions CSV (any bank's export, through a ColumnMapping) into a clean frame.

Every rejected row is reported with its line number, column and reason; the good rows of
the same file are returned; received = accepted + rejected always holds.
"""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transactions.choices import Channel
from transactions.csv_schema import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    TRANSFER_TYPE_CODES,
    ColumnMapping,
)

LABEL_VALUES = {
    "1": 1.0,
    "true": 1.0,
    "yes": 1.0,
    "y": 1.0,
    "fraud": 1.0,
    "0": 0.0,
    "false": 0.0,
    "no": 0.0,
    "n": 0.0,
    "legit": 0.0,
    "legitimate": 0.0,
}
CHANNEL_VALUES = frozenset(Channel.values)
MAX_AMOUNT = 1e12
_TZ_SUFFIX = r"(?:[zZ]|[+-]\d{2}:?\d{2})$"


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (no header, missing required columns...)."""


@dataclass(frozen=True)
class RowError:
    line: int  # line number in the file (the header is line 1)
    column: str
    reason: str
    value: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "value": self.value,
        }


@dataclass
class ParsedTransactions:
    frame: pd.DataFrame  # canonical columns + "line"; timestamp is tz-aware UTC
    errors: list[RowError] = field(default_factory=list)
    received: int = 0

    @property
    def accepted(self) -> int:
        return len(self.frame)

    @property
    def rejected(self) -> int:
        return self.received - self.accepted


def decode_bytes(raw: bytes, encoding: str | None = None) -> str:
    if encoding:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise CsvFormatError(f"the file is not valid {encoding}: {exc}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        counts = {d: first.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def read_transactions_csv(
    source: str | Path | bytes,
    mapping: ColumnMapping | None = None,
    *,
    default_timezone: str = "Asia/Dubai",
) -> ParsedTransactions:
    mapping = mapping or ColumnMapping()
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    text = decode_bytes(raw, mapping.encoding)
    delimiter = mapping.delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvFormatError("the file is empty (no header row)") from exc
    header = [h.strip() for h in header]
    width = len(header)

    rows: list[list[str]] = []
    lines: list[int] = []
    errors: list[RowError] = []
    received = 0
    last_line = reader.line_num
    for record in reader:
        line = last_line + 1
        last_line = reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line: not a row
        received += 1
        if len(record) != width:
            errors.append(RowError(line, "*", f"expected {width} fields, found {len(record)}", ""))
            continue
        rows.append(record)
        lines.append(line)

    return _parse_rows(
        header, rows, lines, errors, received, mapping, default_timezone, delimiter == ","
    )


def read_transactions_records(
    records: list[Any],
    mapping: ColumnMapping | None = None,
    *,
    default_timezone: str = "Asia/Dubai",
) -> ParsedTransactions:
    """Read transactions given as JSON objects (one per transaction, canonical keys or the
    mapping's source names). A row's "line" is its position in the list (the first is 1).
    Values may be strings, numbers, booleans or null; an item that is not an object, or a
    value that is a list or an object, rejects the row."""
    mapping = mapping or ColumnMapping()
    header: list[str] = []
    seen: set[str] = set()
    for item in records:
        if isinstance(item, dict):
            for key in item:
                if key not in seen:
                    seen.add(key)
                    header.append(str(key))
    rows: list[list[str]] = []
    lines: list[int] = []
    errors: list[RowError] = []
    for position, item in enumerate(records, start=1):
        if not isinstance(item, dict):
            errors.append(
                RowError(position, "*", "is not an object of transaction fields", _short(item))
            )
            continue
        bad = [k for k, v in item.items() if isinstance(v, dict | list)]
        if bad:
            errors.extend(
                RowError(position, k, "must be a string, a number or null", _short(item[k]))
                for k in bad
            )
            continue
        rows.append([_json_text(item.get(name)) for name in header])
        lines.append(position)
    return _parse_rows(header, rows, lines, errors, len(records), mapping, default_timezone, False)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _short(value: Any) -> str:
    return json.dumps(value, default=str)[:80]


def _parse_rows(
    header: list[str],
    rows: list[list[str]],
    lines: list[int],
    errors: list[RowError],
    received: int,
    mapping: ColumnMapping,
    default_timezone: str,
    delimiter_is_comma: bool,
) -> ParsedTransactions:
    source_frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame = _select_columns(source_frame, header, mapping)
    frame["line"] = np.asarray(lines, dtype=np.int64)
    good, row_errors = _validate(frame, mapping, default_timezone, delimiter_is_comma)
    errors.extend(row_errors)
    errors.sort(key=lambda e: (e.line, e.column))
    return ParsedTransactions(frame=good, errors=errors, received=received)


def check_header(header: list[str], mapping: ColumnMapping) -> None:
    """Raise CsvFormatError naming the required columns the header lacks."""
    missing = [
        f"'{c}'" + (f" (mapped from '{mapping.source_column(c)}')" if c in mapping.columns else "")
        for c in REQUIRED_COLUMNS
        if mapping.source_column(c) not in header
    ]
    if missing:
        raise CsvFormatError(
            f"missing required column(s) {', '.join(missing)}; the header has: {', '.join(header)}"
        )


def read_header(head: bytes, mapping: ColumnMapping | None = None) -> tuple[list[str], str]:
    """The header row and the delimiter of a CSV file from its first bytes."""
    mapping = mapping or ColumnMapping()
    text = decode_bytes(head, mapping.encoding)
    if not text.strip():
        raise CsvFormatError("the file is empty (no header row)")
    delimiter = mapping.delimiter or sniff_delimiter(text)
    first = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    return [column.strip() for column in first], delimiter


def _select_columns(
    source: pd.DataFrame, header: list[str], mapping: ColumnMapping
) -> pd.DataFrame:
    check_header(header, mapping)
    out = pd.DataFrame(index=source.index)
    for column in CANONICAL_COLUMNS:
        name = mapping.source_column(column)
        if name in source.columns:
            values = source[name].astype(str).str.strip()
        else:
            values = pd.Series("", index=source.index, dtype=object)
        value_map = mapping.values.get(column)
        if value_map:
            values = values.map(lambda v, m=value_map: m.get(v, v))
        default = mapping.defaults.get(column)
        if default is not None:
            values = values.where(values != "", default)
        out[column] = values
    return out


def _parse_timestamps(values: pd.Series, mapping: ColumnMapping, default_tz: str) -> pd.Series:
    tz = mapping.timezone or default_tz
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if mapping.timestamp_format:
        parsed = pd.to_datetime(values, format=mapping.timestamp_format, errors="coerce")
        if getattr(parsed.dt, "tz", None) is None:
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    aware = values.str.contains(_TZ_SUFFIX, regex=True)
    if aware.any():
        result.loc[aware] = pd.to_datetime(
            values[aware], format="ISO8601", errors="coerce", utc=True
        ).astype("datetime64[ns, UTC]")
    naive = ~aware & (values != "")
    if naive.any():
        parsed = pd.to_datetime(values[naive], format="ISO8601", errors="coerce")
        localized = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        result.loc[naive] = localized.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return result


def _parse_amounts(values: pd.Series, decimal: str | None, delimiter_is_comma: bool) -> pd.Series:
    text = values.str.replace(r"[\s\u00a0']", "", regex=True)
    if decimal is None:
        comma_decimal = text.str.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d+|-?\d+,\d{1,2}")
        decimal = "," if (not delimiter_is_comma and comma_decimal.mean() > 0.5) else "."
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _validate(
    frame: pd.DataFrame, mapping: ColumnMapping, default_tz: str, delimiter_is_comma: bool
) -> tuple[pd.DataFrame, list[RowError]]:
    errors: list[RowError] = []
    bad = np.zeros(len(frame), dtype=bool)
    lines = frame["line"].to_numpy()

    def reject(mask: pd.Series | np.ndarray, column: str, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        values = frame[column].to_numpy() if column in frame else None
        for i in np.flatnonzero(mask):
            value = "" if values is None else str(values[i])[:80]
            errors.append(RowError(int(lines[i]), column, reason, value))
        bad[mask] = True

    for column in REQUIRED_COLUMNS:
        reject(frame[column] == "", column, "is required")

    duplicated = frame["id"].duplicated(keep="first") & (frame["id"] != "")
    if duplicated.any():
        first_line = frame.drop_duplicates("id").set_index("id")["line"]
        for i in np.flatnonzero(duplicated.to_numpy()):
            ident = frame["id"].iat[i]
            errors.append(
                RowError(
                    int(lines[i]),
                    "id",
                    f"duplicate id in this file (first on line {int(first_line[ident])})",
                    ident,
                )
            )
        bad[duplicated.to_numpy()] = True
    reject(frame["id"].str.len() > 64, "id", "is longer than 64 characters")

    timestamps = _parse_timestamps(frame["timestamp"], mapping, mapping.timezone or default_tz)
    expected = mapping.timestamp_format or "ISO 8601, e.g. 2026-03-01T14:05:00+04:00"
    reject(
        timestamps.isna() & (frame["timestamp"] != ""),
        "timestamp",
        f"is not a valid date-time (expected {expected})",
    )

    amounts = _parse_amounts(frame["amount"], mapping.decimal, delimiter_is_comma)
    reject(amounts.isna() & (frame["amount"] != ""), "amount", "is not a number")
    reject(amounts < 0, "amount", "must be zero or more")
    reject(amounts >= MAX_AMOUNT, "amount", "is too large")

    upper = {c: frame[c].str.upper() for c in ("transfer_type", "country", "currency")}
    for c in ("home_country", "counterparty_country"):
        upper[c] = frame[c].str.upper()
    reject(
        (upper["transfer_type"] != "") & ~upper["transfer_type"].isin(TRANSFER_TYPE_CODES),
        "transfer_type",
        "is not a transfer type (expected O, I, L, Q or S)",
    )
    for c in ("country", "home_country", "counterparty_country"):
        reject(
            (upper[c] != "") & ~upper[c].str.fullmatch(r"[A-Z]{2}"),
            c,
            "is not a two-letter country code (ISO 3166 alpha-2)",
        )
    reject(
        (upper["currency"] != "") & ~upper["currency"].str.fullmatch(r"[A-Z]{3}"),
        "currency",
        "is not a three-letter currency code (ISO 4217)",
    )
    channel = frame["channel"].str.lower()
    reject(
        (channel != "") & ~channel.isin(CHANNEL_VALUES),
        "channel",
        f"is not a channel (expected one of {', '.join(sorted(CHANNEL_VALUES))})",
    )
    label_text = frame["label"].str.lower()
    labels = label_text.map(LABEL_VALUES)
    reject(
        (label_text != "") & labels.isna(),
        "label",
        "is not a label (expected 1/0, true/false, fraud/legit)",
    )
    for column, limit in (("account", 64), ("customer", 64), ("counterparty", 128)):
        reject(frame[column].str.len() > limit, column, f"is longer than {limit} characters")

    keep = ~bad
    out = pd.DataFrame(
        {
            "id": frame["id"].to_numpy()[keep],
            "timestamp": timestamps.to_numpy()[keep],
            "customer": frame["customer"]
            .where(frame["customer"] != "", frame["account"])
            .to_numpy()[keep],
            "account": frame["account"].to_numpy()[keep],
            "counterparty": frame["counterparty"].to_numpy()[keep],
            "amount": amounts.round(2).to_numpy()[keep],
            "currency": upper["currency"].where(upper["currency"] != "", "AED").to_numpy()[keep],
            "transfer_type": upper["transfer_type"].to_numpy()[keep],
            "country": upper["country"].to_numpy()[keep],
            "channel": channel.to_numpy()[keep],
            "home_country": upper["home_country"].to_numpy()[keep],
            "counterparty_country": upper["counterparty_country"].to_numpy()[keep],
            "label": labels.astype(float).to_numpy()[keep],
            "scenario": frame["scenario"].to_numpy()[keep],
            "line": lines[keep],
        }
    )
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    return out.reset_index(drop=True), errors
