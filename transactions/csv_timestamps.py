"""Timestamps of the CSV reader: ISO 8601 with any offset, or naive in the mapping's (or the
bank's) time zone, or a mapping's strptime format; outside 1970-01-02 .. 2199-12-31 (the
real-time API's range) a value is out of range. Vectorised: a million rows are parsed in
one pandas call per kind of value."""

import re

import numpy as np
import pandas as pd

from transactions.csv_arrays import each_distinct, flags
from transactions.csv_schema import ColumnMapping

# Timestamps the feature code handles exactly: the real-time API's range
# (transactions/api/serializers.py EARLIEST / LATEST), compared as instants (UTC).
EARLIEST = pd.Timestamp("1970-01-02", tz="UTC")
LATEST = pd.Timestamp("2200-01-01", tz="UTC")
OUT_OF_RANGE = "is out of range (use a timestamp between 1970-01-02 and 2199-12-31)"

# an offset Z, ±hh:mm or ±hhmm ends the value (looked for in its last 6 characters)
_AWARE = re.compile(r"(?:[zZ]|[+-]\d{2}:\d{2}|[+-]\d{4})$")
# ±hh after a digit: a time with an hour-only offset, or a date such as 2026-01-10
_MAYBE_HOUR_OFFSET = re.compile(r"\d[+-]\d{2}$")
_HOUR_OFFSET = re.compile(r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?[+-]\d{2}$")
_NAIVE_EARLIEST = pd.Timestamp("1969-12-31")  # a day either side of the range: any offset
_NAIVE_LATEST = pd.Timestamp("2200-01-02")


def parse_timestamps(
    values: np.ndarray, mapping: ColumnMapping, default_tz: str
) -> tuple[pd.Series, np.ndarray]:
    """(UTC timestamps, NaT when unreadable or out of range; the out-of-range mask).

    A value with an offset (Z, ±hh:mm, ±hhmm or ±hh, as ISO 8601 allows) keeps it; a naive
    one is the mapping's (or the bank's) local time: a wall time skipped by a daylight
    saving change moves forward by the gap, a repeated one is the earlier instant (see
    localize_wall_time); a value outside 1970-01-02 .. 2199-12-31 (UTC) is out of range."""
    tz = mapping.timezone or default_tz
    n = len(values)
    result = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")  # UTC
    out_of_range = np.zeros(n, dtype=bool)
    fmt = mapping.timestamp_format
    if fmt:
        present = values != ""
        if "%z" in fmt or "%Z" in fmt:  # every value carries its offset
            result[present] = _utc_values(_to_datetime(values[present], fmt, utc=True))
        else:
            naive = _to_datetime(values[present], fmt, utc=False)
            stamps, early = _localize_in_range(naive, tz)
            result[present] = _utc_values(stamps)
            out_of_range[np.flatnonzero(present)[early]] = True
    else:
        # a time zone suffix lies within the last 6 characters: look at each distinct
        # ending once
        endings = np.array([v[-6:] for v in values.tolist()], dtype=object)
        aware = flags(endings, lambda v: _AWARE.search(v) is not None)
        maybe = ~aware & flags(endings, lambda v: _MAYBE_HOUR_OFFSET.search(v) is not None)
        if maybe.any():
            aware[maybe] = flags(values[maybe], lambda v: _HOUR_OFFSET.search(v) is not None)
        if aware.any():
            result[aware] = _utc_values(_to_datetime(values[aware], "ISO8601", utc=True))
        naive = ~aware & (values != "")
        if naive.any():
            stamps, early = _localize_in_range(_to_datetime(values[naive], "ISO8601"), tz)
            result[naive] = _utc_values(stamps)
            out_of_range[np.flatnonzero(naive)[early]] = True
    parsed = ~np.isnat(result)
    outside = np.zeros(n, dtype=bool)
    outside[parsed] = (result[parsed] < _EARLIEST_US) | (result[parsed] >= _LATEST_US)
    out_of_range |= outside
    result[outside] = np.datetime64("NaT")
    stamps = pd.Series(result.astype("datetime64[ns]")).dt.tz_localize("UTC")
    return stamps, out_of_range


_EARLIEST_US = EARLIEST.tz_localize(None).to_datetime64().astype("datetime64[us]")
_LATEST_US = LATEST.tz_localize(None).to_datetime64().astype("datetime64[us]")


def _utc_values(stamps: pd.Series) -> np.ndarray:
    """UTC times as datetime64[us] values (no Timestamp objects made)."""
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _to_datetime(values: np.ndarray, fmt: str, *, utc: bool = False) -> pd.Series:
    """The values parsed (NaT when unreadable), datetime64[us] (naive) or [us, UTC]. A
    file whose values pandas cannot parse together (offsets mixed in with naive values,
    dates beyond its range...) is parsed value by value."""
    dtype = "datetime64[us, UTC]" if utc else "datetime64[us]"
    try:
        parsed = pd.Series(pd.to_datetime(values, format=fmt, errors="coerce", utc=utc))
        if not utc and getattr(parsed.dt, "tz", None) is not None:
            raise ValueError("offsets where none was expected")
        return parsed.astype(dtype)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        pass
    return pd.Series(each_distinct(values, lambda v: _to_datetime_one(v, fmt, utc))).astype(dtype)


def _to_datetime_one(value: str, fmt: str, utc: bool) -> pd.Timestamp:
    try:
        stamp = pd.to_datetime(value, format=fmt, utc=utc)
        if not utc and stamp.tzinfo is not None:
            return pd.NaT
        return stamp.as_unit("us")
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT


def _localize_in_range(naive: pd.Series, tz: str) -> tuple[pd.Series, np.ndarray]:
    """(localize_wall_time of the naive times, the mask of those far out of range, NaT)."""
    early = (naive.notna() & ((naive < _NAIVE_EARLIEST) | (naive >= _NAIVE_LATEST))).to_numpy()
    if early.any():
        naive = naive.copy()
        naive[early] = pd.NaT
    return localize_wall_time(naive.reset_index(drop=True), tz), early


def localize_wall_time(naive: pd.Series, tz: str) -> pd.Series:
    """Naive wall times in `tz`, as UTC. A time that does not exist (skipped when the
    clocks go forward) becomes the first time after the gap (02:30 → 03:00+02:00 in Berlin
    on the last Sunday of March); a time that happens twice (clocks going back) is the
    earlier of the two instants (the offset before the change: 02:30 on the last Sunday of
    October in Berlin is 02:30+02:00). bulk_load does the same for the frames it is given."""
    localized = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    twice = (localized.isna() & naive.notna()).to_numpy()
    if twice.any():
        repeated = naive[twice]
        first = repeated.dt.tz_localize(
            tz, ambiguous=np.ones(len(repeated), dtype=bool), nonexistent="shift_forward"
        )
        second = repeated.dt.tz_localize(
            tz, ambiguous=np.zeros(len(repeated), dtype=bool), nonexistent="shift_forward"
        )
        localized = localized.copy()
        localized[twice] = np.minimum(
            first.dt.tz_convert("UTC").to_numpy(), second.dt.tz_convert("UTC").to_numpy()
        )
    return localized.dt.tz_convert("UTC")
