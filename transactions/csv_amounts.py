"""Amounts of the CSV reader: a decimal point or comma (given, or detected from the file),
thousands separators only in groups of three, never more than 2 decimal places (as the
real-time API); a value that cannot be read exactly is rejected with the reason, never
changed. Vectorised, with per-value Python only for the values numpy cannot read."""

import re
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from transactions.csv_arrays import each_distinct

MAX_DECIMAL_PLACES = 2  # as the real-time API (transactions/api/serializers.py AmountField)


_SPACES = str.maketrans("", "", " \t\u00a0\u202f'")
_GROUPING = " \u00a0\u202f'"


def _amount_pattern(decimal: str) -> re.Pattern[str]:
    """A valid amount with this decimal separator: digits, or digits in groups of three
    separated by the other separator, a space or an apostrophe (one kind per value); an
    optional fraction; an exponent only for plain digits with a decimal point."""
    other = "," if decimal == "." else "."
    group = re.escape(other + _GROUPING)
    exponent = r"(?:[eE][+-]?\d+)?" if decimal == "." else ""
    d = re.escape(decimal)
    return re.compile(
        rf"[+-]?(?:(?P<plain>\d*)(?:{d}(?P<pfrac>\d*))?{exponent}"
        rf"|(?P<head>\d{{1,3}})(?P<sep>[{group}])\d{{3}}(?:(?P=sep)\d{{3}})*"
        rf"(?:{d}(?P<gfrac>\d*))?)"
    )


_AMOUNT = {".": _amount_pattern("."), ",": _amount_pattern(",")}


def _amount_one(text: str, decimal: str) -> tuple[float, str | None]:
    """(value, None) or (NaN, the reason) for one amount."""
    other = "," if decimal == "." else "."
    match = _AMOUNT[decimal].fullmatch(text)
    if match is None or not any(c.isdigit() for c in text):
        if other in text and any(c.isdigit() for c in text):
            return np.nan, (
                f"uses '{other}' but this file's decimal separator is '{decimal}' ('{other}' "
                "is accepted only between groups of three digits, e.g. "
                + ("1,234,567.89)" if decimal == "." else "1.234.567,89)")
            )
        return np.nan, "is not a number"
    plain = text.translate(_SPACES).replace(other, "").replace(decimal, ".")
    try:
        number = Decimal(plain)
    except InvalidOperation:
        return np.nan, "is not a number"
    if not number.is_finite():
        return np.nan, "is not a number"
    if -number.as_tuple().exponent > MAX_DECIMAL_PLACES:
        return np.nan, DECIMALS
    return float(number), None


DECIMALS = f"has more than {MAX_DECIMAL_PLACES} decimal places (they are not rounded)"


def _amount_evidence(text: str) -> int:
    """+1 when the value can only be read with a decimal comma (it has a comma),
    -1 when only with a decimal point (it has a separator), else 0."""
    if "," not in text and "." not in text:
        return 0
    point = _amount_one(text, ".")[1] is None
    comma = _amount_one(text, ",")[1] is None
    if comma and not point and "," in text:
        return 1
    if point and not comma:
        return -1
    return 0


def parse_amounts(
    values: np.ndarray, decimal: str | None, delimiter_is_comma: bool
) -> tuple[np.ndarray, dict[int, str]]:
    """(amounts as floats, NaN when invalid; {row: reason} for the invalid ones).

    Spaces, non-breaking spaces, apostrophes and the separator that is not the decimal
    one group thousands, only in groups of three digits; any other use of a separator, or
    more than 2 decimal places (the real-time API's rule), makes the amount invalid: a
    value is never changed. The decimal separator is given or detected (a comma when more
    values can only be read with a decimal comma, like "7,25" or "1.234,50", than with a
    decimal point, like "7.25" or "1,234"; never when the delimiter is a comma)."""
    n = len(values)
    present = values != ""
    numbers = np.array(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"), float)
    comma_read: np.ndarray | None = None  # _comma_numbers of every row, when known
    if decimal is None:
        decimal = "."
        if not delimiter_is_comma and n:
            text = values.astype(np.dtypes.StringDType())
            comma = np.flatnonzero(np.strings.find(text, ",") >= 0)
            if len(comma):  # only a value with a comma can call for a decimal comma
                comma_numbers = _comma_numbers(values[comma])
                comma_read = np.full(n, np.nan)
                comma_read[comma] = comma_numbers
                commas = int(np.count_nonzero(~np.isnan(comma_numbers)))  # "7,25": surely
                unread = np.isnan(numbers) & present  # "1 234.50", "12,345.67"...
                unread[comma[~np.isnan(comma_numbers)]] = False
                others = np.flatnonzero(unread)
                evidence = each_distinct(values[others], _amount_evidence).astype(int)
                point = (np.strings.find(text, ".") >= 0) & ~np.isnan(numbers)
                places = _point_decimals(values, point)
                points = int(np.count_nonzero(point & (places <= MAX_DECIMAL_PLACES)))
                points += int((evidence < 0).sum())
                if commas + int((evidence > 0).sum()) > points:
                    decimal = ","
    fast = ~np.isnan(numbers)
    if fast.any():  # read by pandas: only the places after the point remain to be checked
        text = values[fast].astype(np.dtypes.StringDType())
        slow = np.strings.find(text, "e") >= 0
        slow |= np.strings.find(text, "E") >= 0
        if decimal == ",":
            slow |= np.strings.find(text, ".") >= 0
            places = np.zeros(len(text), dtype=np.int64)
        else:
            places = _point_decimals(values[fast], np.ones(len(text), dtype=bool))
        index = np.flatnonzero(fast)
        numbers[index[slow]] = np.nan  # read one by one below
        numbers[index[~slow & (places > MAX_DECIMAL_PLACES)]] = np.nan
        fast[index[slow | (places > MAX_DECIMAL_PLACES)]] = False
    retry = np.flatnonzero(~fast & present)
    if decimal == "," and len(retry):  # "7,25": at C speed
        simple = _comma_numbers(values[retry]) if comma_read is None else comma_read[retry]
        read = ~np.isnan(simple)
        numbers[retry[read]] = simple[read]
        retry = retry[~read]
    reasons: dict[int, str] = {}
    if len(retry):
        parsed = each_distinct(values[retry], lambda v: _amount_one(v, decimal))
        for i, (number, reason) in zip(retry.tolist(), parsed.tolist()):
            numbers[i] = number
            if reason is not None:
                reasons[i] = reason
    return numbers, reasons


def _comma_numbers(values: np.ndarray) -> np.ndarray:
    """The values written with one decimal comma and at most 2 decimals ("7,25", "1234,5"),
    read; NaN for any other."""
    numbers = np.full(len(values), np.nan)
    text = values.astype(np.dtypes.StringDType())
    comma = np.strings.rfind(text, ",")
    simple = (np.strings.count(text, ",") == 1) & (
        np.strings.str_len(text) - comma - 1 <= MAX_DECIMAL_PLACES
    )
    simple &= (np.strings.find(text, "e") < 0) & (np.strings.find(text, "E") < 0)
    if simple.any():
        replaced = np.strings.replace(text[simple], ",", ".").astype(object)
        numbers[simple] = pd.to_numeric(pd.Series(replaced, dtype=object), errors="coerce")
    return numbers


def _point_decimals(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Digits after the last '.' of each value where `where` (0 elsewhere, or without one)."""
    places = np.zeros(len(values), dtype=np.int64)
    if where.any():
        text = values[where].astype(np.dtypes.StringDType())
        point = np.strings.rfind(text, ".")
        places[where] = np.where(point >= 0, np.strings.str_len(text) - point - 1, 0)
    return places
