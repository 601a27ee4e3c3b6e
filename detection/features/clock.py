"""Time helpers shared by the batch and real-time feature paths.

Both paths work on integer epoch nanoseconds (UTC) and derive local wall-clock time by
adding the zone's UTC offset, so they agree to the nanosecond.
"""

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from detection.features.spec import DAY_NS, DEFAULT_LABEL_DELAY_DAYS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
FALLBACK_TIME_ZONE = "Asia/Dubai"


def bank_time_zone(tz: str | None = None) -> str:
    """The zone name to use: the one given, else settings.TIME_ZONE, else Asia/Dubai."""
    if tz:
        return tz
    try:
        from django.conf import settings

        return settings.TIME_ZONE or FALLBACK_TIME_ZONE
    except Exception:  # Django not configured (plain scripts)
        return FALLBACK_TIME_ZONE


@lru_cache(maxsize=16)
def zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def datetime_to_ns(value: datetime) -> int:
    """Aware datetime -> epoch nanoseconds (exact to the microsecond)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: features need an aware timestamp")
    return ((value - EPOCH) // _MICROSECOND) * 1000


def ns_to_datetime(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)


def label_delay_ns(days: float) -> int:
    return round(float(days) * DAY_NS)


DEFAULT_LABEL_DELAY_NS = label_delay_ns(DEFAULT_LABEL_DELAY_DAYS)


def local_ns(ts_ns: int, tz: tzinfo) -> int:
    """Local wall-clock time, as nanoseconds since 1970-01-01 00:00 local."""
    offset = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz).utcoffset()
    return ts_ns + (offset // _MICROSECOND) * 1000 if offset else ts_ns


def month_index_of_day(local_day: int) -> int:
    """Months since January 1970 of a local day number (days since 1970-01-01)."""
    d = date.fromordinal(EPOCH_ORDINAL + local_day)
    return (d.year - 1970) * 12 + d.month - 1


def local_ns_array(ts_ns: np.ndarray, tz_name: str) -> np.ndarray:
    """Vectorised local_ns for int64 epoch nanoseconds."""
    if len(ts_ns) == 0:
        return np.asarray(ts_ns, dtype=np.int64)
    index = pd.DatetimeIndex(np.asarray(ts_ns, dtype=np.int64).view("datetime64[ns]"))
    wall = index.tz_localize("UTC").tz_convert(tz_name).tz_localize(None)
    return np.asarray(wall.as_unit("ns").asi8, dtype=np.int64)


def month_index_array(local: np.ndarray) -> np.ndarray:
    """Months since January 1970 for local wall-clock nanoseconds."""
    days = np.floor_divide(local, DAY_NS).astype("datetime64[D]")
    return days.astype("datetime64[M]").astype(np.int64)
