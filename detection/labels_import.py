"""Import fraud labels (chargebacks, customer confirmations) from a CSV file.

Columns (header names, any order; extra columns are ignored):

- transaction_id (required): the bank's transaction id, as imported or posted;
- label (required): fraud as `fraud`, `1`, `true`, `yes`, `chargeback`, `confirmed_fraud`;
  legitimate as `legitimate`, `legit`, `genuine`, `0`, `false`, `no`;
- reported_at (required): when the bank learned it (ISO 8601; without an offset, bank
  local time);
- source (optional): `chargeback`, `customer_confirmation`, `api` or `case_decision`;
  empty or absent: the default the caller gives;
- note (optional): free text.

Each bad row is reported with its line, column and reason; the good rows of the same file
are stored. Importing the same file again stores nothing new: a label is the same when
its transaction, verdict, source and reported time are.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cases.choices import LabelSource
from cases.models import FeedbackLabel
from transactions.models import Transaction

REQUIRED_COLUMNS = ("transaction_id", "label", "reported_at")
FRAUD_WORDS = {"fraud", "1", "true", "yes", "chargeback", "confirmed_fraud", "y"}
LEGIT_WORDS = {"legitimate", "legit", "genuine", "0", "false", "no", "n", "not_fraud"}
IMPORT_SOURCES = (
    LabelSource.CHARGEBACK,
    LabelSource.CUSTOMER_CONFIRMATION,
    LabelSource.API,
    LabelSource.CASE_DECISION,
)
CHUNK = 2_000


class LabelFileError(ValueError):
    """The file as a whole cannot be read (missing columns, not CSV)."""


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file (the header is line 1)
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass
class LabelImportResult:
    rows: int = 0
    created: int = 0
    already_present: int = 0
    errors: list[RowError] = field(default_factory=list)


def _parse_moment(value: str) -> datetime | None:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            return None
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


LabelRow = tuple[int, dict[str, str]]  # (line in the file, cells by lower-case column)


def read_label_rows(text: str) -> list[LabelRow]:
    """The non-blank rows of a label file's text; LabelFileError when the file is empty or
    lacks a required column."""
    return list(iter_label_rows(io.StringIO(text, newline="")))


def iter_label_rows(stream: TextIO) -> Iterator[LabelRow]:
    """The non-blank rows of a label file read from `stream` (text, opened with
    newline=""), one at a time; LabelFileError when the file is empty or lacks a required
    column (raised before the first row). The delimiter is the one of the header line."""
    first = stream.readline()
    try:
        delimiter = csv.Sniffer().sniff(first or ",", ",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(itertools.chain([first] if first else [], stream), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration as exc:
        raise LabelFileError("the file is empty") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise LabelFileError(
            f"missing column(s) {', '.join(missing)}; the header has: {', '.join(header)}"
        )
    return _rows(reader, header)


def _rows(reader: Any, header: list[str]) -> Iterator[LabelRow]:
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        yield (
            reader.line_num,
            {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)},
        )


def label_file_scan(path: str | Path) -> tuple[str, int]:
    """(encoding, row count) of a label file on disk, read once as a stream: UTF-8 (with
    or without BOM), else Windows-1252; LabelFileError when it is neither, is empty or
    lacks a required column."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with open(path, encoding=encoding, newline="") as stream:
                return encoding, sum(1 for _ in iter_label_rows(stream))
        except UnicodeDecodeError as exc:
            failure = exc
    raise LabelFileError(
        f"the file is neither UTF-8 nor Windows-1252 text ({failure.reason} in part of it)"
    )


def decode_label_file(content: bytes) -> str:
    """The text of an uploaded label file: UTF-8 (with or without BOM), else Windows-1252
    (which Latin-1 exports also read as)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise LabelFileError(
            f"the file is neither UTF-8 nor Windows-1252 text (byte {exc.start + 1})"
        ) from exc


def labels_import(
    *,
    path: str | Path | None = None,
    text: str | None = None,
    default_source: str = LabelSource.CHARGEBACK,
    created_by: AbstractBaseUser | None = None,
    sources: tuple[str, ...] = IMPORT_SOURCES,
) -> LabelImportResult:
    """Validate every row, store the good ones as FeedbackLabel rows (one transaction),
    skip the ones already stored, and report the bad ones (line, column, reason).
    `sources`: the label sources rows may carry (the page leaves out case decisions)."""
    if text is None:
        if path is None:
            raise LabelFileError("give a path or the text of the file")
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LabelFileError(f"the file is not UTF-8 text ({exc})") from exc
    return labels_store(
        read_label_rows(text),
        default_source=default_source,
        created_by=created_by,
        sources=sources,
    )


def labels_store(
    rows: list[LabelRow],
    *,
    default_source: str = LabelSource.CHARGEBACK,
    created_by: AbstractBaseUser | None = None,
    sources: tuple[str, ...] = IMPORT_SOURCES,
) -> LabelImportResult:
    """Validate `rows` (from read_label_rows), store the good ones in one database
    transaction, skip those already stored, and report the bad ones (line, column, reason).
    A file read in parts gives the same labels as read whole: each part sees the labels the
    parts before it stored."""
    if default_source not in sources:
        raise LabelFileError(f"'{default_source}' is not a label source")
    result = LabelImportResult(rows=len(rows))
    ids = {row["transaction_id"] for _, row in rows if row["transaction_id"]}
    txns: dict[str, tuple[int, datetime]] = {}
    id_list = sorted(ids)
    for start in range(0, len(id_list), CHUNK):
        for pk, external_id, occurred_at in Transaction.objects.filter(
            external_id__in=id_list[start : start + CHUNK]
        ).values_list("id", "external_id", "occurred_at"):
            txns[external_id] = (pk, occurred_at)

    now = timezone.now()
    candidates: list[tuple[int, tuple[int, bool, str, datetime], str]] = []
    for line, row in rows:
        errors = []
        external_id = row["transaction_id"]
        txn = txns.get(external_id)
        if not external_id:
            errors.append(RowError(line, "transaction_id", "missing"))
        elif txn is None:
            errors.append(RowError(line, "transaction_id", f"no transaction '{external_id}'"))
        word = row["label"].lower()
        is_fraud = True if word in FRAUD_WORDS else False if word in LEGIT_WORDS else None
        if is_fraud is None:
            reason = "missing" if not word else f"'{row['label']}' is not fraud or legitimate"
            errors.append(RowError(line, "label", reason))
        source = row.get("source", "").lower() or default_source
        if source not in sources:
            errors.append(
                RowError(line, "source", f"'{row['source']}' is not one of {', '.join(sources)}")
            )
        reported_at = _parse_moment(row["reported_at"]) if row["reported_at"] else None
        if reported_at is None:
            reason = (
                "missing"
                if not row["reported_at"]
                else f"'{row['reported_at']}' is not a date and time"
            )
            errors.append(RowError(line, "reported_at", reason))
        elif reported_at > now:
            errors.append(RowError(line, "reported_at", "is in the future"))
        elif txn is not None and reported_at < txn[1]:
            errors.append(RowError(line, "reported_at", "is before the transaction happened"))
        if errors:
            result.errors.extend(errors)
            continue
        candidates.append((line, (txn[0], is_fraud, source, reported_at), row.get("note", "")))

    with db_transaction.atomic():
        pks = sorted({key[0] for _, key, _ in candidates})
        existing: set[tuple[int, bool, str, datetime]] = set()
        for start in range(0, len(pks), CHUNK):
            existing.update(
                FeedbackLabel.objects.filter(
                    transaction_id__in=pks[start : start + CHUNK]
                ).values_list("transaction_id", "is_fraud", "source", "known_at")
            )
        new = []
        for _, key, note in candidates:
            if key in existing:
                result.already_present += 1
                continue
            existing.add(key)
            pk, is_fraud, source, reported_at = key
            new.append(
                FeedbackLabel(
                    transaction_id=pk,
                    is_fraud=is_fraud,
                    source=source,
                    known_at=reported_at,
                    created_by=created_by,
                    note=note,
                )
            )
        FeedbackLabel.objects.bulk_create(new, batch_size=1_000)
        result.created = len(new)
    return result
