"""Cells of the CSV files SecureFlow writes for people to open in a spreadsheet.

Results, error files and backtest scores repeat what a bank's export or an API client sent:
transaction ids, account numbers, rejected values. A spreadsheet runs a cell that starts with
`=`, `+`, `-` or `@` (or a tab or carriage return before one of them) as a formula, so a value
such as `=HYPERLINK("http://...")` planted in an export would run on an investigator's
machine when the file is opened (CSV injection, OWASP). Such a text cell is written with a
leading `'`, which spreadsheets show as text and do not print; a plain number (`-12.50`,
`+971`) stays as it is. The stored data is never changed, only the cells written out.
"""

import re
from collections.abc import Iterable

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
_FORMULA_START_SET = frozenset(FORMULA_STARTS)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value: object) -> object:
    """`value`, with a leading `'` when it is text a spreadsheet would run as a formula."""
    return spreadsheet_safe_row((value,))[0]


def spreadsheet_safe_row(row: Iterable[object]) -> list[object]:
    """`spreadsheet_safe` of each value (the test is written out here, not called per cell:
    results files stream millions of rows)."""
    return [
        TEXT_MARK + value
        if isinstance(value, str)
        and value[:1] in _FORMULA_START_SET
        and not _NUMBER.fullmatch(value)
        else value
        for value in row
    ]


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text columns are made safe cell by cell."""
    safe = frame.copy()
    for column in safe.columns:
        if pd.api.types.is_object_dtype(safe[column]) or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(spreadsheet_safe)
    return safe
