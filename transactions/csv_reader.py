"""Read a transactions CSV (any bank's export, through a ColumnMapping) into a clean frame.

Every rejected row is reported with its line number, column and reason; the good rows of
the same file are returned; received = accepted + rejected always holds.
"""

import codecs
import csv
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transactions.choices import Channel
from transactions.csv_amounts import parse_amounts
from transactions.csv_arrays import each_distinct, flags
from transactions.csv_columns import read_regular_columns
from transactions.csv_schema import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    TRANSFER_TYPE_CODES,
    ColumnMapping,
)
from transactions.csv_timestamps import OUT_OF_RANGE, parse_timestamps

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
MAX_LENGTHS = (("account", 64), ("customer", 64), ("counterparty", 128), ("scenario", 40))


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
    """The text of a file: in `encoding` when given, else UTF-8 (with or without a byte
    order mark), else Windows-1252 (see _decode). Bytes that are not UTF-8 in a UTF-8 file
    come back as lone surrogates (surrogateescape); the reader rejects the rows holding
    them."""
    return _decode(raw, encoding)[0]


def _decode(raw: bytes, encoding: str | None) -> tuple[str, bool]:
    """(text, whether it may hold bytes that are not UTF-8 as lone surrogates).

    Without an encoding: UTF-8 when the bytes are UTF-8. Otherwise the file is still taken
    as UTF-8 when it starts with a UTF-8 byte order mark, or when it has valid multi-byte
    UTF-8 characters, at least as many as invalid bytes (a UTF-8 export with a stray byte:
    Latin-1 text almost never forms a valid UTF-8 sequence); only the rows holding the
    invalid bytes are then rejected. Any other file is Windows-1252 (the
    superset of Latin-1 that Windows and Excel write: € ’ “ ” are read as such, not as
    control characters), or Latin-1 when it uses the five bytes Windows-1252 leaves
    undefined."""
    if encoding:
        try:
            return raw.decode(encoding), False
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise CsvFormatError(
                f"the file is not valid {encoding}: byte {raw[exc.start : exc.start + 1]!r} at "
                f"line {line} (byte offset {exc.start}) cannot be decoded ({exc.reason})"
            ) from exc
        except LookupError as exc:
            raise CsvFormatError(f"the file is not valid {encoding}: {exc}") from exc
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    invalid = len(_SURROGATES.findall(text))
    multibyte = len(_NON_ASCII.findall(text)) - invalid
    if raw.startswith(codecs.BOM_UTF8) or (multibyte > 0 and multibyte >= invalid):
        return text, True
    try:
        return raw.decode("cp1252"), False
    except UnicodeDecodeError:
        return raw.decode("latin-1"), False


_SURROGATES = re.compile("[\ud800-\udfff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


def _shown(value: str) -> str:
    """A value as an error report shows it: bytes that were not UTF-8 as \\xNN and NUL as
    \\x00 (the error file is UTF-8 and PostgreSQL refuses NUL)."""
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    if _SURROGATES.search(value):
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape
            raw = value.encode("utf-8", "backslashreplace")
        value = raw.decode("utf-8", "backslashreplace")
    return value


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
    text, bad_bytes = _decode(raw, mapping.encoding)
    suspect = bad_bytes or "\x00" in text  # rows to check for invalid bytes and NUL
    delimiter = mapping.delimiter or sniff_delimiter(text)
    regular = None if bad_bytes else read_regular_columns(text, delimiter)
    if regular is not None:  # the usual export: read column-wise at C speed
        lines = np.arange(regular.first_line, regular.first_line + regular.rows, dtype=np.int64)
        return _parse_columns(
            [_header_name(h) for h in regular.header],
            regular.columns,
            lines,
            [],
            regular.rows,
            mapping,
            default_timezone,
            delimiter == ",",
            suspect,
        )
    with _field_size_limit(len(text)):
        header, records, lines, broken = _read_records(text, delimiter, mapping)
    header = [_header_name(h) for h in header]
    return _collect_rows(
        header, records, lines, broken, mapping, default_timezone, delimiter == ",", suspect
    )


def _header_name(name: str) -> str:
    name = name.strip()
    return _SURROGATES.sub("\ufffd", name) if _SURROGATES.search(name) else name


_FIELD_LIMIT_LOCK = threading.Lock()


@contextmanager
def _field_size_limit(size: int) -> Iterator[None]:
    """The csv module refuses a field over 128 KB (csv.field_size_limit) with an exception
    that would fail the whole file: while reading, any field of the file is allowed (the
    file is in memory already); an oversized value is then rejected by its column's check."""
    with _FIELD_LIMIT_LOCK:
        previous = csv.field_size_limit()
        csv.field_size_limit(max(previous, size + 1))
        try:
            yield
        finally:
            csv.field_size_limit(previous)


def _read_records(
    text: str, delimiter: str, mapping: ColumnMapping
) -> tuple[list[str], list[list[str]], Sequence[int], list[RowError]]:
    """(header, records, the line each record starts on, lines rejected for a broken quote)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvFormatError("the file is empty (no header row)") from exc
    first_line = reader.line_num + 1
    records = list(reader)
    if reader.line_num == first_line - 1 + len(records):  # one line per record
        return header, records, range(first_line, first_line + len(records)), []
    # quoted fields span lines: read again, noting where each record starts
    read = {mapping.source_column(c) for c in CANONICAL_COLUMNS}
    single_line = [i for i, name in enumerate(header) if _header_name(name) in read]
    return _records_with_lines(text, delimiter, len(header), single_line)


BROKEN_QUOTE_EOF = (
    'has a quote (") that is never closed (the field would run to the end of the file): '
    "this line is rejected and reading goes on with the next line"
)


def _records_with_lines(
    text: str, delimiter: str, width: int, single_line: Sequence[int] = ()
) -> tuple[list[str], list[list[str]], list[int], list[RowError]]:
    """Records with the line each starts on. A record that runs over several lines is a
    quoted field with line breaks when it has the header's number of fields and the line
    breaks are in columns the mapping does not read (none of the canonical columns holds
    one: `single_line` are their positions); any other, or one whose quote is still open
    at the end of the file, is a quote left open by mistake, which would swallow the lines
    after it: its first line is rejected and reading starts again on the next line, so no
    line goes uncounted."""
    physical = io.StringIO(text, newline="").readlines()
    position = 0  # physical lines handed to the csv reader

    def feed() -> Iterator[str]:
        nonlocal position
        while position < len(physical):
            position += 1
            yield physical[position - 1]

    reader = csv.reader(feed(), delimiter=delimiter)
    header = next(reader)
    records: list[list[str]] = []
    lines: list[int] = []
    broken: list[RowError] = []
    while True:
        start = position + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        spanned = position - start + 1
        if spanned > 1:
            reason = None
            if len(record) != width:
                reason = (
                    f'has a quote (") that runs over {spanned} lines into a record of '
                    f"{len(record)} fields (expected {width}): this line is rejected and "
                    "reading goes on with the next line"
                )
            elif position == len(physical) and _open_at_end(physical[start - 1 :], delimiter):
                reason = BROKEN_QUOTE_EOF
            elif any("\n" in record[i] or "\r" in record[i] for i in single_line):
                reason = (
                    f'has a quote (") that runs over {spanned} lines into a value that '
                    "cannot hold a line break: this line is rejected and reading goes on "
                    "with the next line"
                )
            if reason is not None:
                value = physical[start - 1].rstrip("\r\n")[:80]
                broken.append(RowError(start, "*", reason, _shown(value)))
                position = start  # go on with the line after it
                reader = csv.reader(feed(), delimiter=delimiter)
                continue
        records.append(record)
        lines.append(start)
    return header, records, lines, broken


def _open_at_end(lines: list[str], delimiter: str) -> bool:
    """Whether a quoted field is still open at the end of these lines."""
    try:
        for _ in csv.reader(iter(lines), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _collect_rows(
    header: list[str],
    records: list[list[str]],
    lines: Sequence[int],
    broken: list[RowError],
    mapping: ColumnMapping,
    default_timezone: str,
    delimiter_is_comma: bool,
    suspect: bool,
) -> ParsedTransactions:
    """Drop blank lines, reject records with the wrong number of fields, parse the rest."""
    width = len(header)
    errors: list[RowError] = list(broken)
    rows: list[list[str]] = []
    kept: list[int] = []
    received = len(broken)
    lengths = list(map(len, records))
    if all(n == width for n in lengths):  # the usual file: nothing to drop or reject
        rows, kept, received = records, list(lines), received + len(records)
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
        header, rows, kept, errors, received, mapping, default_timezone, delimiter_is_comma, suspect
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
    return _parse_rows(
        header, rows, lines, errors, len(records), mapping, default_timezone, False, True
    )


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
    suspect: bool = False,
) -> ParsedTransactions:
    check_header(header, mapping)
    raw_columns = list(zip(*rows)) if rows else [()] * len(header)
    return _parse_columns(
        header,
        raw_columns,
        lines,
        errors,
        received,
        mapping,
        default_timezone,
        delimiter_is_comma,
        suspect,
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
    suspect: bool = False,
) -> ParsedTransactions:
    """Parse and check the records given column by column (raw_columns[i]: the values of
    header[i], one per record, in the order of `lines`). `suspect`: the input may hold NUL
    characters or bytes that are not UTF-8 (rows holding them are rejected)."""
    check_header(header, mapping)
    columns = _select_columns(raw_columns, len(lines), header, mapping)
    good, row_errors = _validate(
        columns,
        np.asarray(lines, dtype=np.int64),
        mapping,
        default_timezone,
        delimiter_is_comma,
        suspect,
    )
    errors.extend(row_errors)
    errors.sort(key=lambda e: (e.line, e.column))
    return ParsedTransactions(frame=good, errors=errors, received=received)


def check_header(header: list[str], mapping: ColumnMapping) -> None:
    """Raise CsvFormatError naming the required columns the header lacks, or a column the
    mapping reads that the header names more than once."""
    missing = [
        f"'{c}'" + (f" (mapped from '{mapping.source_column(c)}')" if c in mapping.columns else "")
        for c in REQUIRED_COLUMNS
        if mapping.source_column(c) not in header
    ]
    if missing:
        raise CsvFormatError(
            f"missing required column(s) {', '.join(missing)}; the header has: {', '.join(header)}"
        )
    read = {mapping.source_column(c) for c in CANONICAL_COLUMNS}
    twice = [name for name, count in Counter(header).items() if count > 1 and name in read]
    if twice:
        where = "; ".join(
            f"'{name}' is columns "
            + " and ".join(str(i) for i, h in enumerate(header, start=1) if h == name)
            for name in twice
        )
        raise CsvFormatError(
            f"the header names a column more than once ({where}): which one holds the "
            "value is unclear; rename or remove the copies"
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
                values = each_distinct(values, str.strip)
        else:
            values[:] = ""
        value_map = mapping.values.get(column)
        if value_map:
            values = each_distinct(values, lambda v, m=value_map: m.get(v, v))
        default = mapping.defaults.get(column)
        if default is not None:
            values = np.where(values == "", default, values)
        out[column] = values
    return out


DISTINCT_EVERY_ROW = frozenset({"id", "timestamp", "amount"})


def _validate(
    columns: dict[str, np.ndarray],
    lines: np.ndarray,
    mapping: ColumnMapping,
    default_tz: str,
    delimiter_is_comma: bool,
    suspect: bool = False,
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
            value = "" if values is None else _shown(str(values[i])[:80])
            errors.append(RowError(int(lines[i]), column, reason, value))
        bad[mask] = True

    if suspect:  # NUL (PostgreSQL refuses it, as the API does) and bytes that are not UTF-8
        for column in CANONICAL_COLUMNS:
            reject(
                flags(columns[column], lambda v: "\x00" in v),
                column,
                "contains a NUL character (\\x00)",
            )
            reject(
                flags(columns[column], lambda v: _SURROGATES.search(v) is not None),
                column,
                "contains bytes that are not valid UTF-8 text",
            )

    for column in REQUIRED_COLUMNS:
        reject(columns[column] == "", column, "is required")

    ids = columns["id"]
    reject(_lengths(ids) > 64, "id", "is longer than 64 characters")

    timestamps, out_of_range = parse_timestamps(
        columns["timestamp"], mapping, mapping.timezone or default_tz
    )
    expected = mapping.timestamp_format or "ISO 8601, e.g. 2026-03-01T14:05:00+04:00"
    reject(out_of_range, "timestamp", OUT_OF_RANGE)
    reject(
        timestamps.isna().to_numpy() & (columns["timestamp"] != "") & ~out_of_range,
        "timestamp",
        f"is not a valid date-time (expected {expected})",
    )

    amounts, amount_reasons = parse_amounts(columns["amount"], mapping.decimal, delimiter_is_comma)
    for reason in sorted(set(amount_reasons.values())):
        mask = np.zeros(n, dtype=bool)
        mask[[i for i, r in amount_reasons.items() if r == reason]] = True
        reject(mask, "amount", reason)
    with np.errstate(invalid="ignore"):
        reject(amounts < 0, "amount", "must be zero or more")
        reject(amounts >= MAX_AMOUNT, "amount", "is too large")

    upper = {
        c: each_distinct(columns[c], str.upper)
        for c in ("transfer_type", "country", "currency", "home_country", "counterparty_country")
    }
    reject(
        flags(upper["transfer_type"], lambda v: v != "" and v not in TRANSFER_TYPE_CODES),
        "transfer_type",
        "is not a transfer type (expected O, I, L, Q or S)",
    )
    for c in ("country", "home_country", "counterparty_country"):
        reject(
            flags(upper[c], lambda v: v != "" and _COUNTRY.fullmatch(v) is None),
            c,
            "is not a two-letter country code (ISO 3166 alpha-2)",
        )
    reject(
        flags(upper["currency"], lambda v: v != "" and _CURRENCY.fullmatch(v) is None),
        "currency",
        "is not a three-letter currency code (ISO 4217)",
    )
    channel = each_distinct(columns["channel"], str.lower)
    reject(
        flags(channel, lambda v: v != "" and v not in CHANNEL_VALUES),
        "channel",
        f"is not a channel (expected one of {', '.join(sorted(CHANNEL_VALUES))})",
    )
    label_text = each_distinct(columns["label"], str.lower)
    labels = each_distinct(label_text, lambda v: LABEL_VALUES.get(v, np.nan)).astype(float)
    reject(
        (label_text != "") & np.isnan(labels),
        "label",
        "is not a label (expected 1/0, true/false, fraud/legit)",
    )
    for column, limit in MAX_LENGTHS:
        reject(
            flags(columns[column], lambda v, limit=limit: len(v) > limit),
            column,
            f"is longer than {limit} characters",
        )

    # an id repeated in the file: the first valid row with it is imported, the later
    # valid ones rejected (an invalid row never takes the id from a valid one)
    valid = ~bad & (ids != "")
    duplicated = np.zeros(n, dtype=bool)
    duplicated[valid] = pd.Series(ids[valid]).duplicated(keep="first").to_numpy()
    if duplicated.any():
        first_line: dict[str, int] = {}
        for ident, line in zip(ids[valid].tolist(), lines[valid].tolist()):
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
