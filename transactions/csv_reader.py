"""Read a transactions CSV (any bank's export, through a ColumnMapping) into a clean frame.

Every rejected row is reported with its line number, column and reason; the good rows of
the same file are returned; received = accepted + rejected always holds.
"""

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transactions.choices import Channel
from transactions.csv_columns import read_regular_columns
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
    regular = read_regular_columns(text, delimiter)
    if regular is not None:  # the usual export: read column-wise at C speed
        lines = np.arange(regular.first_line, regular.first_line + regular.rows, dtype=np.int64)
        return _parse_columns(
            [h.strip() for h in regular.header],
            regular.columns,
            lines,
            [],
            regular.rows,
            mapping,
            default_timezone,
            delimiter == ",",
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvFormatError("the file is empty (no header row)") from exc
    header = [h.strip() for h in header]
    width = len(header)
    first_line = reader.line_num + 1
    records = list(reader)
    if reader.line_num == first_line - 1 + len(records):
        lines = range(first_line, first_line + len(records))  # one line per record
    else:  # quoted fields span lines: read again, noting where each record starts
        records, lines = _records_with_lines(text, delimiter)
    return _collect_rows(header, records, lines, width, mapping, default_timezone, delimiter == ",")


def _records_with_lines(text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    records: list[list[str]] = []
    lines: list[int] = []
    last_line = reader.line_num
    for record in reader:
        records.append(record)
        lines.append(last_line + 1)
        last_line = reader.line_num
    return records, lines


def _collect_rows(
    header: list[str],
    records: list[list[str]],
    lines: Sequence[int],
    width: int,
    mapping: ColumnMapping,
    default_timezone: str,
    delimiter_is_comma: bool,
) -> ParsedTransactions:
    """Drop blank lines, reject records with the wrong number of fields, parse the rest."""
    errors: list[RowError] = []
    rows: list[list[str]] = []
    kept: list[int] = []
    received = 0
    lengths = list(map(len, records))
    if all(n == width for n in lengths):  # the usual file: nothing to drop or reject
        rows, kept, received = records, list(lines), len(records)
    else:
        for record, n, line in zip(records, lengths, lines):
            if n == 0 or (n == 1 and not record[0].strip()):
                continue  # blank line: not a row
            received += 1
            if n != width:
                errors.append(RowError(line, "*", f"expected {width} fields, found {n}", ""))
                continue
            rows.append(record)
            kept.append(line)
    return _parse_rows(
        header, rows, kept, errors, received, mapping, default_timezone, delimiter_is_comma
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
    lines: Sequence[int],
    errors: list[RowError],
    received: int,
    mapping: ColumnMapping,
    default_timezone: str,
    delimiter_is_comma: bool,
) -> ParsedTransactions:
    check_header(header, mapping)
    raw_columns = list(zip(*rows)) if rows else [()] * len(header)
    return _parse_columns(
        header, raw_columns, lines, errors, received, mapping, default_timezone, delimiter_is_comma
    )


def _parse_columns(
    header: list[str],
    raw_columns: Sequence[Sequence[str]],
    lines: Sequence[int],
    errors: list[RowError],
    received: int,
    mapping: ColumnMapping,
    default_timezone: str,
    delimiter_is_comma: bool,
) -> ParsedTransactions:
    """Parse and check the records given column by column (raw_columns[i]: the values of
    header[i], one per record, in the order of `lines`)."""
    check_header(header, mapping)
    columns = _select_columns(raw_columns, len(lines), header, mapping)
    good, row_errors = _validate(
        columns, np.asarray(lines, dtype=np.int64), mapping, default_timezone, delimiter_is_comma
    )
    errors.extend(row_errors)
    errors.sort(key=lambda e: (e.line, e.column))
    return ParsedTransactions(frame=good, errors=errors, received=received)


def _each_distinct(values: np.ndarray, function: Callable[[Any], Any]) -> np.ndarray:
    """function(v) for every value, computed once per distinct value (fast for the many
    repeated values of a column: codes, countries, accounts)."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    codes, uniques = pd.factorize(values)
    results = np.empty(len(uniques), dtype=object)
    results[:] = [function(u) for u in uniques.tolist()]
    return results[codes]


def _flags(values: np.ndarray, function: Callable[[Any], bool]) -> np.ndarray:
    return _each_distinct(values, function).astype(bool)


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
    raw_columns: Sequence[Sequence[str]], n: int, header: list[str], mapping: ColumnMapping
) -> dict[str, np.ndarray]:
    """Canonical column -> stripped text values (object arrays), through the mapping."""
    position = {}
    for index, name in enumerate(header):
        position.setdefault(name, index)
    out: dict[str, np.ndarray] = {}
    for column in CANONICAL_COLUMNS:
        name = mapping.source_column(column)
        values = np.empty(n, dtype=object)
        if name in position and n:
            raw = raw_columns[position[name]]
            if column in DISTINCT_EVERY_ROW:  # hashing would not save any work
                values[:] = [v.strip() for v in raw]
            else:
                values[:] = raw
                values = _each_distinct(values, str.strip)
        else:
            values[:] = ""
        value_map = mapping.values.get(column)
        if value_map:
            values = _each_distinct(values, lambda v, m=value_map: m.get(v, v))
        default = mapping.defaults.get(column)
        if default is not None:
            values = np.where(values == "", default, values)
        out[column] = values
    return out


DISTINCT_EVERY_ROW = frozenset({"id", "timestamp", "amount"})
_AWARE = re.compile(r"(?:[zZ]|[+-]\d{2}:?\d{2})$")


def _parse_timestamps(values: np.ndarray, mapping: ColumnMapping, default_tz: str) -> pd.Series:
    tz = mapping.timezone or default_tz
    if mapping.timestamp_format:
        parsed = pd.Series(pd.to_datetime(values, format=mapping.timestamp_format, errors="coerce"))
        if getattr(parsed.dt, "tz", None) is None:
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    result = pd.Series(pd.NaT, index=pd.RangeIndex(len(values)), dtype="datetime64[ns, UTC]")
    # a time zone suffix lies within the last 6 characters: look at each distinct ending once
    endings = np.array([v[-6:] for v in values.tolist()], dtype=object)
    aware = _flags(endings, lambda v: _AWARE.search(v) is not None)
    if aware.any():
        result.loc[aware] = pd.to_datetime(
            values[aware], format="ISO8601", errors="coerce", utc=True
        ).astype("datetime64[ns, UTC]")
    naive = ~aware & (values != "")
    if naive.any():
        parsed = pd.Series(pd.to_datetime(values[naive], format="ISO8601", errors="coerce"))
        localized = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        result.loc[naive] = localized.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy()
    return result


_COMMA_DECIMAL = re.compile(r"-?\d{1,3}(\.\d{3})*,\d+|-?\d+,\d{1,2}")
_SPACES = str.maketrans("", "", " \t\u00a0'")


def _parse_amounts(values: np.ndarray, decimal: str | None, delimiter_is_comma: bool) -> np.ndarray:
    """Amounts as floats (NaN when unreadable). Spaces, non-breaking spaces and
    apostrophes group thousands; the decimal separator is given or detected: a comma when
    most values look like "1.234,50" or "7,25" (and the delimiter is not a comma)."""
    n = len(values)
    if decimal is None:
        decimal = "."
        if not delimiter_is_comma and n:
            fullmatch = _COMMA_DECIMAL.fullmatch
            with_comma = [v.translate(_SPACES) for v in values if "," in v]
            matches = sum(1 for v in with_comma if fullmatch(v))
            if matches / n > 0.5:
                decimal = ","
    if decimal == ",":
        text = np.array(
            [v.translate(_SPACES).replace(".", "").replace(",", ".") for v in values],
            dtype=object,
        )
        return pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(float)
    numbers = np.array(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), float)
    retry = np.flatnonzero(np.isnan(numbers) & (values != ""))
    if len(retry):  # "1,234.50", "1 234.50": drop the grouping, then read again
        cleaned = [values[i].translate(_SPACES).replace(",", "") for i in retry.tolist()]
        numbers[retry] = pd.to_numeric(pd.Series(cleaned, dtype=object), errors="coerce").to_numpy(
            float
        )
    return numbers


def _validate(
    columns: dict[str, np.ndarray],
    lines: np.ndarray,
    mapping: ColumnMapping,
    default_tz: str,
    delimiter_is_comma: bool,
) -> tuple[pd.DataFrame, list[RowError]]:
    errors: list[RowError] = []
    n = len(lines)
    bad = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, column: str, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        values = columns.get(column)
        for i in np.flatnonzero(mask).tolist():
            value = "" if values is None else str(values[i])[:80]
            errors.append(RowError(int(lines[i]), column, reason, value))
        bad[mask] = True

    for column in REQUIRED_COLUMNS:
        reject(columns[column] == "", column, "is required")

    ids = columns["id"]
    duplicated = pd.Series(ids).duplicated(keep="first").to_numpy() & (ids != "")
    if duplicated.any():
        first_line: dict[str, int] = {}
        for ident, line in zip(ids.tolist(), lines.tolist()):
            first_line.setdefault(ident, line)
        for i in np.flatnonzero(duplicated).tolist():
            ident = ids[i]
            errors.append(
                RowError(
                    int(lines[i]),
                    "id",
                    f"duplicate id in this file (first on line {first_line[ident]})",
                    ident,
                )
            )
        bad[duplicated] = True
    reject(_lengths(ids) > 64, "id", "is longer than 64 characters")

    timestamps = _parse_timestamps(columns["timestamp"], mapping, mapping.timezone or default_tz)
    expected = mapping.timestamp_format or "ISO 8601, e.g. 2026-03-01T14:05:00+04:00"
    reject(
        timestamps.isna().to_numpy() & (columns["timestamp"] != ""),
        "timestamp",
        f"is not a valid date-time (expected {expected})",
    )

    amounts = _parse_amounts(columns["amount"], mapping.decimal, delimiter_is_comma)
    with np.errstate(invalid="ignore"):
        reject(np.isnan(amounts) & (columns["amount"] != ""), "amount", "is not a number")
        reject(amounts < 0, "amount", "must be zero or more")
        reject(amounts >= MAX_AMOUNT, "amount", "is too large")

    upper = {
        c: _each_distinct(columns[c], str.upper)
        for c in ("transfer_type", "country", "currency", "home_country", "counterparty_country")
    }
    reject(
        _flags(upper["transfer_type"], lambda v: v != "" and v not in TRANSFER_TYPE_CODES),
        "transfer_type",
        "is not a transfer type (expected O, I, L, Q or S)",
    )
    for c in ("country", "home_country", "counterparty_country"):
        reject(
            _flags(upper[c], lambda v: v != "" and _COUNTRY.fullmatch(v) is None),
            c,
            "is not a two-letter country code (ISO 3166 alpha-2)",
        )
    reject(
        _flags(upper["currency"], lambda v: v != "" and _CURRENCY.fullmatch(v) is None),
        "currency",
        "is not a three-letter currency code (ISO 4217)",
    )
    channel = _each_distinct(columns["channel"], str.lower)
    reject(
        _flags(channel, lambda v: v != "" and v not in CHANNEL_VALUES),
        "channel",
        f"is not a channel (expected one of {', '.join(sorted(CHANNEL_VALUES))})",
    )
    label_text = _each_distinct(columns["label"], str.lower)
    labels = _each_distinct(label_text, lambda v: LABEL_VALUES.get(v, np.nan)).astype(float)
    reject(
        (label_text != "") & np.isnan(labels),
        "label",
        "is not a label (expected 1/0, true/false, fraud/legit)",
    )
    for column, limit in (("account", 64), ("customer", 64), ("counterparty", 128)):
        reject(
            _flags(columns[column], lambda v, limit=limit: len(v) > limit),
            column,
            f"is longer than {limit} characters",
        )

    keep = ~bad
    customer = np.where(columns["customer"] != "", columns["customer"], columns["account"])
    currency = np.where(upper["currency"] != "", upper["currency"], "AED")
    out = pd.DataFrame(
        {
            "id": ids[keep],
            "timestamp": timestamps.to_numpy(dtype="datetime64[ns]")[keep],
            "customer": customer[keep],
            "account": columns["account"][keep],
            "counterparty": columns["counterparty"][keep],
            "amount": np.round(amounts, 2)[keep],
            "currency": currency[keep],
            "transfer_type": upper["transfer_type"][keep],
            "country": upper["country"][keep],
            "channel": channel[keep],
            "home_country": upper["home_country"][keep],
            "counterparty_country": upper["counterparty_country"][keep],
            "label": labels[keep],
            "scenario": columns["scenario"][keep],
            "line": lines[keep],
        }
    )
    out["timestamp"] = out["timestamp"].dt.tz_localize("UTC")
    return out, errors


_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _lengths(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))
