"""The documented CSV schema for transactions and the column mapping any bank export uses.

Canonical columns (one row per transaction):

| column | required | meaning |
|---|---|---|
| id | yes | the bank's unique transaction id (re-importing the same id changes nothing) |
| timestamp | yes | when it happened; ISO 8601 (an offset is honoured, naive = bank local time) |
| account | yes | the paying account number |
| amount | yes | amount, >= 0, in the account currency |
| customer | no | the customer's id (defaults to the account number) |
| counterparty | no | beneficiary account, merchant or terminal id |
| currency | no | ISO 4217, default AED |
| transfer_type | no | O own-account, I internal, L local, Q quick payment, S overseas |
| country | no | ISO 3166 alpha-2 country of the transaction |
| channel | no | mobile, web, branch, atm, pos, api |
| home_country | no | the customer's home country (else inferred from history) |
| counterparty_country | no | the counterparty's country |
| label | no | 1 = fraud, 0 = legitimate (for backtests and training) |
| scenario | no | name of the fraud scenario, for per-scenario recall |

A mapping file (JSON) lets an export with other column names be read unchanged:

    {
      "columns": {"id": "TXN_REF", "timestamp": "TXN_DATE", "account": "FROM_ACCT",
                  "amount": "AMT", "counterparty": "TO_ACCT", "label": "IS_FRAUD"},
      "timestamp_format": "%d/%m/%Y %H:%M",   # strftime format; default ISO 8601
      "timezone": "Asia/Dubai",                # for naive timestamps; default the bank's
      "delimiter": ";",                        # default: detected
      "decimal": ",",                          # default: detected ("1.234,50" or "1234.50")
      "encoding": "latin-1",                   # default: UTF-8 (with or without BOM), else
                                               # Windows-1252 (Latin-1 with € ’ “ ”...)
      "values": {"transfer_type": {"SWIFT": "S", "OWN": "O"}, "label": {"Y": "1", "N": "0"}},
      "defaults": {"currency": "AED"}
    }

Every option is checked when the mapping is read (MappingError naming the option): the
time zone must be an IANA name, the format a strptime format pandas reads, the encoding a
text encoding, the delimiter one character other than a quote or a line break.
"""

import codecs
import json
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

CANONICAL_COLUMNS: tuple[str, ...] = (
    "id",
    "timestamp",
    "customer",
    "account",
    "counterparty",
    "amount",
    "currency",
    "transfer_type",
    "country",
    "channel",
    "home_country",
    "counterparty_country",
    "label",
    "scenario",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "timestamp", "account", "amount")
TRANSFER_TYPE_CODES = frozenset("OILQS")


class MappingError(ValueError):
    """The mapping file itself is invalid."""


@dataclass(frozen=True)
class ColumnMapping:
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source column
    timestamp_format: str | None = None
    timezone: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    def source_column(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": dict(self.columns),
            "timestamp_format": self.timestamp_format,
            "timezone": self.timezone,
            "delimiter": self.delimiter,
            "decimal": self.decimal,
            "encoding": self.encoding,
            "values": {k: dict(v) for k, v in self.values.items()},
            "defaults": dict(self.defaults),
        }


def mapping_from_dict(data: dict[str, Any]) -> ColumnMapping:
    if not isinstance(data, dict):
        raise MappingError("the mapping must be a JSON object")
    known = {
        "columns",
        "timestamp_format",
        "timezone",
        "delimiter",
        "decimal",
        "encoding",
        "values",
        "defaults",
    }
    unknown = set(data) - known
    if unknown:
        raise MappingError(f"unknown mapping keys: {', '.join(sorted(unknown))}")
    columns = data.get("columns") or {}
    if not isinstance(columns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise MappingError('"columns" must map canonical names to source column names')
    bad = set(columns) - set(CANONICAL_COLUMNS)
    if bad:
        raise MappingError(
            f"unknown canonical columns in mapping: {', '.join(sorted(bad))}; "
            f"known: {', '.join(CANONICAL_COLUMNS)}"
        )
    decimal = data.get("decimal")
    if decimal not in (None, ".", ","):
        raise MappingError('"decimal" must be "." or ","')
    delimiter = data.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise MappingError('"delimiter" must be a single character')
    if delimiter in FORBIDDEN_DELIMITERS:
        raise MappingError(
            f'"delimiter" cannot be {delimiter!r} (a quote, a line break or NUL); '
            "use e.g. , ; | or a tab"
        )
    values = data.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise MappingError('"values" must map a canonical column to {source value: value}')
    _check_canonical_keys("values", values)
    for column, table in values.items():
        _check_scalars(f'"values" of {column!r}', table)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise MappingError('"defaults" must be an object')
    _check_canonical_keys("defaults", defaults)
    _check_scalars('"defaults"', defaults)
    return ColumnMapping(
        columns=dict(columns),
        timestamp_format=_timestamp_format(data.get("timestamp_format")),
        timezone=_timezone(data.get("timezone")),
        delimiter=delimiter,
        decimal=decimal,
        encoding=_encoding(data.get("encoding")),
        values={k: {str(a): str(b) for a, b in v.items()} for k, v in values.items()},
        defaults={k: str(v) for k, v in defaults.items()},
    )


FORBIDDEN_DELIMITERS = frozenset({'"', "\r", "\n", "\x00"})


def _check_canonical_keys(option: str, data: dict[str, Any]) -> None:
    bad = set(data) - set(CANONICAL_COLUMNS)
    if bad:
        raise MappingError(
            f'unknown canonical columns in "{option}": {", ".join(sorted(map(str, bad)))}; '
            f"known: {', '.join(CANONICAL_COLUMNS)}"
        )


def _check_scalars(option: str, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if not isinstance(value, str | int | float):
            raise MappingError(
                f"{option}: the value for {key!r} must be a string or a number, "
                f"not {json.dumps(value)}"
            )


def _timestamp_format(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MappingError(
            '"timestamp_format" must be a strptime format such as "%d/%m/%Y %H:%M", '
            f"not {json.dumps(value)}"
        )
    if "%" not in value:
        raise MappingError(
            f'"timestamp_format" {value!r} has no % directive (e.g. "%d/%m/%Y %H:%M")'
        )
    try:
        pd.to_datetime(pd.Series(["2026-01-01"]), format=value, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise MappingError(f'"timestamp_format" {value!r} is not a valid format: {exc}') from exc
    return value


def _timezone(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MappingError(
            f'"timezone" must be an IANA time zone name such as "Asia/Dubai", '
            f"not {json.dumps(value)}"
        )
    try:
        zoneinfo.ZoneInfo(value)
        pd.Timestamp("2026-01-01").tz_localize(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, KeyError) as exc:
        raise MappingError(
            f'"timezone" {value!r} is not a known IANA time zone name (e.g. "Asia/Dubai", '
            '"Europe/Berlin", "UTC")'
        ) from exc
    return value


def _encoding(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MappingError(
            f'"encoding" must be the name of a text encoding such as "utf-8" or "cp1252", '
            f"not {json.dumps(value)}"
        )
    try:
        codecs.lookup(value)
        "".encode(value)  # a text encoding (not e.g. base64 or bz2_codec)
        b"".decode(value)
    except (LookupError, ValueError, TypeError) as exc:
        raise MappingError(f'"encoding" {value!r} is not a known text encoding: {exc}') from exc
    return value


def load_mapping(path: str | Path | None) -> ColumnMapping:
    if path is None:
        return ColumnMapping()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(f"mapping file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise MappingError(f"mapping file {path} is not valid JSON: {exc}") from exc
    return mapping_from_dict(data)
