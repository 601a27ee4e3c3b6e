"""A batch's files as CSV: the rejected rows (written once when the input is read) and the
scored rows (streamed from the database). Cells a spreadsheet would run as a formula are
written as text (transactions/csv_cells.py)."""

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from transactions.csv_cells import spreadsheet_safe_row
from transactions.csv_reader import RowError

ERROR_COLUMNS = ("row", "column", "reason", "value")
RESULT_COLUMNS = (
    "id",
    "timestamp",
    "account",
    "amount",
    "currency",
    "risk_score",
    "outcome",
    "reasons",
    "status",
)
REASON_SEPARATOR = " | "
FIRST_ERRORS = 100  # rejected rows kept on the batch itself (all are in the error file)


def write_error_file(path: Path, errors: Iterable[RowError]) -> None:
    """The rejected rows: row (line in the file, header = 1; position in a JSON array),
    column, reason and the value found. Written under a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ERROR_COLUMNS)
        writer.writerows(
            spreadsheet_safe_row((e.line, e.column, e.reason, e.value)) for e in errors
        )
    tmp.replace(path)


def error_summary(errors: list[RowError]) -> dict[str, object]:
    """Counts per column and the first rejected rows, kept on the batch."""
    by_column: dict[str, int] = {}
    rows: set[int] = set()
    for error in errors:
        by_column[error.column] = by_column.get(error.column, 0) + 1
        rows.add(error.line)
    return {
        "errors": len(errors),
        "rows": len(rows),
        "by_column": dict(sorted(by_column.items(), key=lambda item: -item[1])),
        "first": [e.as_dict() for e in errors[:FIRST_ERRORS]],
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text line by line (for a StreamingHttpResponse)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(list(header))
    for row in rows:
        yield writer.writerow(spreadsheet_safe_row(row))


def file_lines(path: Path, *, block_size: int = 256 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            yield block


def result_record(
    external_id: str,
    occurred_at: object,
    account: str,
    amount: object,
    currency: str,
    risk_score: float | None,
    outcome: str | None,
    reasons: list[str] | None,
    status: str,
) -> tuple:
    iso = occurred_at.isoformat() if hasattr(occurred_at, "isoformat") else occurred_at
    return (
        external_id,
        iso,
        account,
        amount,
        currency,
        "" if risk_score is None else f"{risk_score:.6f}",
        outcome or "",
        REASON_SEPARATOR.join(reasons or []),
        status,
    )


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> int:
    """Write rows to a CSV file (temporary name, then renamed); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(header))
        for row in rows:
            writer.writerow(spreadsheet_safe_row(row))
            count += 1
    tmp.replace(path)
    return count
