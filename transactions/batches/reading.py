"""A batch's input: size limit, the header check done at upload, and reading all rows.

CSV files are read by transactions/csv_reader.py: UTF-8 with or without a byte order mark
(a UTF-8 file with a few bytes that are not UTF-8 stays UTF-8, the rows holding them are
rejected), else Windows-1252 (or the mapping's "encoding"); the delimiter (, ; tab |) and a
decimal comma are detected unless the mapping (or the upload's options) says which. JSON
input is a list of objects with the canonical keys (or the mapping's source names).
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

from django.conf import settings

from detection.features.clock import bank_time_zone
from secureflow.core.request_size import MB, max_upload_bytes
from transactions.choices import BatchFormat
from transactions.csv_reader import (
    CsvFormatError,
    ParsedTransactions,
    check_header,
    read_header,
    read_transactions_csv,
    read_transactions_records,
)
from transactions.csv_schema import ColumnMapping, MappingError, mapping_from_dict

HEAD_BYTES = 64 * 1024
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t", "|": "|"}


class BatchInputError(ValueError):
    """The input as a whole cannot be taken; `field` names the part of the request."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_size(size: int) -> None:
    """Refuse an input larger than SECUREFLOW_MAX_UPLOAD_MB."""
    limit = max_upload_bytes()
    if size > limit:
        raise BatchInputError(
            f"The file is {size / MB:,.1f} MB; the largest accepted is "
            f"{settings.SECUREFLOW_MAX_UPLOAD_MB} MB (SECUREFLOW_MAX_UPLOAD_MB)."
        )


def mapping_with_options(
    mapping: ColumnMapping | dict[str, Any] | None,
    *,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
) -> ColumnMapping:
    """The mapping with the options given beside it (they win over the mapping's own)."""
    if mapping is None:
        mapping = ColumnMapping()
    elif isinstance(mapping, dict):
        try:
            mapping = mapping_from_dict(mapping)
        except MappingError as exc:
            raise BatchInputError(str(exc), field="mapping") from exc
    changes: dict[str, str] = {}
    if delimiter:
        if delimiter not in DELIMITERS:
            raise BatchInputError("The delimiter must be one of , ; | or tab.", field="delimiter")
        changes["delimiter"] = DELIMITERS[delimiter]
    if decimal:
        if decimal not in (".", ","):
            raise BatchInputError('The decimal separator must be "." or ",".', field="decimal")
        changes["decimal"] = decimal
    if encoding:
        try:
            "".encode(encoding)
        except LookupError as exc:
            raise BatchInputError(f"Unknown encoding {encoding!r}.", field="encoding") from exc
        changes["encoding"] = encoding
    return dataclasses.replace(mapping, **changes) if changes else mapping


def load_mapping_bytes(raw: bytes) -> ColumnMapping:
    """A mapping JSON file's content, as the backtest reads it."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchInputError(f"The mapping is not valid JSON: {exc}", field="mapping") from exc
    try:
        return mapping_from_dict(data)
    except MappingError as exc:
        raise BatchInputError(str(exc), field="mapping") from exc


def check_csv_head(head: bytes, mapping: ColumnMapping) -> list[str]:
    """Read the header from the first bytes of a CSV file and check the required columns
    are there (so that a wrong file is refused at upload, not later in a worker)."""
    cut = head.rfind(b"\n")
    if len(head) >= HEAD_BYTES and cut > 0:
        head = head[:cut]
    try:
        header, _ = read_header(head, mapping)
        check_header(header, mapping)
    except CsvFormatError as exc:
        raise BatchInputError(f"The file cannot be imported: {exc}.") from exc
    return header


def parse_json_records(raw: bytes | str | list) -> list[Any]:
    """A JSON body: a list of transaction objects, or {"transactions": [...]}."""
    data = raw
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BatchInputError(
                f"The body is not valid JSON: {exc}", field="transactions"
            ) from exc
    if isinstance(data, dict) and "transactions" in data:
        data = data["transactions"]
    if not isinstance(data, list):
        raise BatchInputError(
            "Expected a JSON array of transactions (objects with id, timestamp, account, "
            "amount, ...).",
            field="transactions",
        )
    if not data:
        raise BatchInputError("The list of transactions is empty.", field="transactions")
    return data


def check_json_records(records: list[Any], mapping: ColumnMapping) -> None:
    keys: set[str] = set()
    for item in records:
        if isinstance(item, dict):
            keys.update(item)
    try:
        check_header(sorted(keys), mapping)
    except CsvFormatError as exc:
        raise BatchInputError(
            f"No transaction has the required field(s): {exc}.", field="transactions"
        ) from exc


def read_batch_input(
    path: str | Path, input_format: str, mapping: ColumnMapping
) -> ParsedTransactions:
    """Every row of a stored batch input: the good rows as a canonical frame (with their
    line) and the rejected ones as errors. CsvFormatError when the file as a whole is
    unreadable."""
    tz = bank_time_zone()
    if input_format == BatchFormat.JSON:
        try:
            records = parse_json_records(Path(path).read_bytes())
        except BatchInputError as exc:
            raise CsvFormatError(exc.message) from exc
        return read_transactions_records(records, mapping, default_timezone=tz)
    return read_transactions_csv(path, mapping, default_timezone=tz)
