"""The generic fast insert used by bulk loading and batch storage.

    inserted = insert_rows(connection, Model, "external_id", {"attname": values, ...})

Rows are given column-wise (numpy arrays, lists or a `Constant`); rows whose conflict field
value is already stored are skipped. PostgreSQL: COPY into a temporary table, then INSERT ...
ON CONFLICT DO NOTHING. SQLite: executemany of INSERT ... ON CONFLICT DO NOTHING in batches.
"""

import io
import json
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

import numpy as np
import pandas as pd
from django.db import IntegrityError, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

SQLITE_BATCH = 100_000
POSTGRES_BATCH = 250_000


@cache
def _time_of_day_text() -> np.ndarray:
    return np.array(
        [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)],
        dtype=object,
    )


def utc_timestamp_text(
    stamps: pd.Series | pd.DatetimeIndex, *, separator: str = " ", suffix: str = ""
) -> np.ndarray:
    """UTC timestamps as 'YYYY-MM-DD HH:MM:SS[.ffffff]' + suffix, fast for millions of
    rows (Django's SQLite format with separator ' ' and no suffix; ISO 8601 with
    separator 'T' and suffix '+00:00')."""
    index = pd.DatetimeIndex(stamps)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    micros = index.to_numpy().astype("datetime64[us]").astype(np.int64)
    seconds, fraction = np.divmod(micros, 1_000_000)
    day, second_of_day = np.divmod(seconds, 86_400)
    days, inverse = np.unique(day, return_inverse=True)
    day_text = np.datetime_as_string(days.astype("datetime64[D]")).astype(object)
    text = (day_text + separator)[inverse] + _time_of_day_text()[second_of_day]
    with_fraction = fraction != 0
    if with_fraction.any():
        text[with_fraction] = text[with_fraction] + np.array(
            [f".{f:06d}" for f in fraction[with_fraction]], dtype=object
        )
    if suffix:
        text = text + suffix
    return text


def insert_rows(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    conflict_field: str,
    values: dict[str, object],
    *,
    check_existing: bool = True,
) -> int:
    """Insert rows given column-wise (by field attname); rows whose conflict_field value is
    already stored are skipped. Fields not given get their default (auto_now fields: now);
    the primary key is given only by a caller that reserved the values (reserve_ids).
    Returns the number of rows inserted. Without `check_existing`, PostgreSQL copies at
    once and looks for stored keys only if the copy hits one."""
    count = len(next(iter(values.values())))
    if count == 0:
        return 0
    now = timezone.now()
    pk = model._meta.pk.attname
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or pk in values]
    columns: list[tuple[models.Field, object]] = []
    for field in fields:
        if field.attname in values:
            columns.append((field, values[field.attname]))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            columns.append((field, Constant(now)))
        elif field.has_default() or field.null:
            columns.append((field, Constant(field.get_default() if field.has_default() else None)))
        else:
            raise ValueError(f"{model.__name__}.{field.name} needs a value")
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f, _ in columns)
    conflict = connection.ops.quote_name(model._meta.get_field(conflict_field).column)
    if connection.vendor == "postgresql":
        keys = values[conflict_field]
        keys = keys.tolist() if hasattr(keys, "tolist") else list(keys)
        return _copy_postgres(
            connection, table, names, conflict, columns, keys, check_existing=check_existing
        )
    return _executemany_sqlite(connection, table, names, conflict, columns, count)


def reserve_ids(
    connection: BaseDatabaseWrapper, model: type[models.Model], count: int
) -> np.ndarray:
    """`count` new primary key values of `model` taken from its sequence (PostgreSQL), for
    rows inserted with their ids given: nothing has to be read back after the insert."""
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)


def insert_objects_postgresql(
    connection: BaseDatabaseWrapper,
    objs: list[models.Model],
    *,
    conflict_field: str | None = None,
) -> list[models.Model]:
    """Insert unsaved instances of one model in one statement (PostgreSQL), their values
    sent as one array per column (none of the ORM's per-value preparation). Returns the
    instances inserted, with their primary key set; with `conflict_field` (a unique
    field), instances whose value is already stored are skipped."""
    if not objs:
        return []
    model = type(objs[0])
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = []
    for field in fields:
        values = [field.pre_save(obj, True) for obj in objs]
        if isinstance(field, models.JSONField):
            values = [None if v is None else json.dumps(v, cls=field.encoder) for v in values]
        columns.append(values)
    quote = connection.ops.quote_name
    key = meta.get_field(conflict_field) if conflict_field else meta.pk
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays})"
        + (f" ON CONFLICT ({quote(key.column)}) DO NOTHING" if conflict_field else "")
        + f" RETURNING {quote(meta.pk.column)}, {quote(key.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, columns)
        returned = cursor.fetchall()
    if conflict_field is None:  # no key to match on: rows come back in insertion order
        for obj, (pk, _) in zip(objs, returned):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
        return list(objs)
    by_key = {getattr(obj, key.attname): obj for obj in objs}
    inserted = []
    for pk, value in returned:
        obj = by_key[value]
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
        inserted.append(obj)
    return inserted


@dataclass(frozen=True)
class Constant:
    value: object


def _column_values(field: models.Field, values: object, start: int, stop: int, vendor: str) -> list:
    """Python values of one column for rows [start, stop), ready for the database."""
    internal = field.get_internal_type()
    if isinstance(values, Constant):
        return [_encode_scalar(values.value, internal, vendor)] * (stop - start)
    if internal == "DateTimeField":
        stamps = pd.DatetimeIndex(values)[start:stop]
        if vendor == "postgresql":
            return utc_timestamp_text(stamps, suffix="+00").tolist()
        return utc_timestamp_text(stamps).tolist()
    chunk = values[start:stop]
    if isinstance(chunk, pd.Series):
        if internal == "DecimalField":
            numbers = chunk.to_numpy(dtype=float)
            if vendor == "postgresql":
                return [f"{x:.2f}" for x in numbers.tolist()]
            return np.round(numbers, 2).tolist()
        if isinstance(chunk.dtype, pd.Int64Dtype):
            return [None if v is pd.NA else int(v) for v in chunk.tolist()]
        chunk = chunk.to_numpy()
    if isinstance(chunk, np.ndarray):
        if chunk.dtype.kind in "iu":
            return chunk.tolist()
        chunk = chunk.tolist()
    if internal == "BooleanField" and vendor != "postgresql":
        return [None if v is None else int(v) for v in chunk]
    return list(chunk)


def _encode_scalar(value: object, internal: str, vendor: str) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = pd.DatetimeIndex([value])
        suffix = "+00" if vendor == "postgresql" else ""
        return utc_timestamp_text(stamp, suffix=suffix)[0]
    if isinstance(value, bool):
        return value if vendor == "postgresql" else int(value)
    if isinstance(value, Decimal | float) and internal == "DecimalField":
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _executemany_sqlite(
    connection: BaseDatabaseWrapper,
    table: str,
    names: str,
    conflict: str,
    columns: list[tuple[models.Field, object]],
    count: int,
) -> int:
    marks = ", ".join(["%s"] * len(columns))
    sql = (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, count, SQLITE_BATCH):
            stop = min(start + SQLITE_BATCH, count)
            data = _batch(columns, start, stop, "sqlite")
            cursor.executemany(sql, list(zip(*data)))
            inserted += max(cursor.rowcount, 0)
    return inserted


def _batch(
    columns: list[tuple[models.Field, object]], start: int, stop: int, vendor: str
) -> list[list]:
    """The database values of rows [start, stop), column by column (a column object given
    twice, like occurred_at and received_at, is converted once)."""
    done: dict[int, list] = {}
    out = []
    for field, values in columns:
        key = id(values)
        if key not in done or isinstance(values, Constant):
            done[key] = _column_values(field, values, start, stop, vendor)
        out.append(done[key])
    return out


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NONE = type(None)


_BOOL_TEXT = {True: "t", False: "f", None: "\\N"}


def _copy_text(values: list) -> list[str]:
    """One column as COPY text-format fields: escaped strings, numbers as text, booleans
    as t/f, NULL (None, NaN) as \\N. The usual columns (all text, all integers, all
    floats, booleans) are converted in one pass at C speed."""
    kinds = set(map(type, values))
    if kinds == {str}:
        if _needs_escape("".join(values)):
            return [v.translate(_COPY_ESCAPES) for v in values]
        return values
    if kinds == {int}:
        return list(map(str, values))
    if kinds == {float}:
        out = list(map(repr, values))
        missing = np.flatnonzero(np.isnan(np.asarray(values, dtype=np.float64)))
        for i in missing.tolist():
            out[i] = "\\N"
        return out
    if kinds <= {bool, _NONE}:
        return list(map(_BOOL_TEXT.__getitem__, values))
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append("\\N")
        elif isinstance(v, str):
            out.append(v.translate(_COPY_ESCAPES) if _needs_escape(v) else v)
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        else:
            out.append(str(v))
    return out


def _needs_escape(value: str) -> bool:
    return "\\" in value or "\t" in value or "\n" in value or "\r" in value


def _take(values: object, rows: np.ndarray) -> object:
    if isinstance(values, Constant):
        return values
    if isinstance(values, pd.Series):
        return values.iloc[rows].reset_index(drop=True)
    if isinstance(values, pd.Index | np.ndarray):
        return values[rows]
    return [values[i] for i in rows.tolist()]


def _existing_keys_postgres(
    connection: BaseDatabaseWrapper, table: str, conflict: str, keys: list[str]
) -> set[str]:
    with connection.cursor() as cursor:
        if len(keys) <= 10_000:
            cursor.execute(
                f"SELECT {conflict} FROM {table} WHERE {conflict} = ANY(%s)",  # noqa: S608
                [keys],
            )
            return {row[0] for row in cursor.fetchall()}
        key_type = "bigint" if isinstance(keys[0], int) else "text"
        cursor.execute("DROP TABLE IF EXISTS sf_bulk_keys")
        cursor.execute(f"CREATE TEMPORARY TABLE sf_bulk_keys (key {key_type})")
        buffer = io.StringIO("\n".join(map(str, _copy_text(keys))) + "\n")
        cursor.cursor.copy_expert("COPY sf_bulk_keys (key) FROM STDIN", buffer)
        cursor.execute(
            f"SELECT k.key FROM sf_bulk_keys k JOIN {table} t ON t.{conflict} = k.key"  # noqa: S608
        )
        found = {row[0] for row in cursor.fetchall()}
        cursor.execute("DROP TABLE sf_bulk_keys")
    return found


def _copy_rows(
    connection: BaseDatabaseWrapper,
    target: str,
    names: str,
    columns: list[tuple[models.Field, object]],
    count: int,
) -> None:
    with connection.cursor() as cursor:
        for start in range(0, count, POSTGRES_BATCH):
            stop = min(start + POSTGRES_BATCH, count)
            data = [_copy_text(values) for values in _batch(columns, start, stop, "postgresql")]
            lines = map("\t".join, zip(*data))
            buffer = io.StringIO("\n".join(lines) + "\n")
            cursor.cursor.copy_expert(f"COPY {target} ({names}) FROM STDIN", buffer)


def _copy_postgres(
    connection: BaseDatabaseWrapper,
    table: str,
    names: str,
    conflict: str,
    columns: list[tuple[models.Field, object]],
    keys: list[str],
    *,
    check_existing: bool = True,
) -> int:
    """COPY the rows whose key is not stored yet straight into the table. If another
    session stores one of those keys meanwhile, fall back to a staging table and
    INSERT ... ON CONFLICT DO NOTHING."""
    from psycopg2 import IntegrityError as DatabaseIntegrityError

    existing = (
        _existing_keys_postgres(connection, table, conflict, keys) if check_existing else set()
    )
    if existing:
        rows = np.flatnonzero([k not in existing for k in keys])
        columns = [(field, _take(values, rows)) for field, values in columns]
        count = len(rows)
    else:
        count = len(keys)
    if count == 0:
        return 0
    try:
        with transaction.atomic(using=connection.alias):
            _copy_rows(connection, table, names, columns, count)
        return count
    except (IntegrityError, DatabaseIntegrityError):
        pass
    stage = "sf_bulk_stage"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {stage} AS SELECT {names} FROM {table} WITH NO DATA"  # noqa: S608
        )
    _copy_rows(connection, stage, names, columns, count)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {stage}")
    return inserted
