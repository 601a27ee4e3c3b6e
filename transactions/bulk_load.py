"""Fast bulk loading of a canonical transactions frame (transactions/csv_schema.py).

    result = bulk_load_frame(frame)  # LoadResult(inserted=..., skipped=..., ...)

- Customers, accounts and counterparties are get-or-created by their external keys
  (customer id, account number, counterparty identifier); the transactions are then
  inserted in one database transaction.
- Rows whose `id` is already stored (or repeats an earlier row of the same frame) are
  skipped, so loading the same frame twice creates no duplicates.
- PostgreSQL: COPY into a temporary table, then INSERT ... ON CONFLICT DO NOTHING.
  SQLite: executemany of INSERT ... ON CONFLICT DO NOTHING in large batches.
- Historical rows: received_at = occurred_at and status = `status` (default "approved":
  the bank processed them at the time). The fraud label, when given, is stored as
  source_label (1 -> True, 0 -> False, missing -> NULL) with source_scenario; it is
  ground truth that came with the data and does not change the status.

The frame is expected to be clean (transactions/csv_reader.py produces such frames); an
invalid value raises ValueError naming the row and column instead of being dropped.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from transactions.choices import (
    AccountStatus,
    AccountType,
    Channel,
    CounterpartyKind,
    TransactionStatus,
)
from transactions.csv_schema import REQUIRED_COLUMNS, TRANSFER_TYPE_CODES
from transactions.csv_timestamps import localize_wall_time
from transactions.fast_insert import Constant, insert_rows
from transactions.models import Account, Counterparty, Customer, Transaction

SQLITE_MAX_PARAMS = 900
STRING_COLUMNS = (
    "customer",
    "counterparty",
    "currency",
    "transfer_type",
    "country",
    "channel",
    "home_country",
    "counterparty_country",
    "scenario",
)
TEXT_CASE = {
    "currency": "upper",
    "transfer_type": "upper",
    "country": "upper",
    "home_country": "upper",
    "counterparty_country": "upper",
    "channel": "lower",
}
SQLITE_LOAD_CACHE_KIB = 256 * 1024  # page cache while loading (index inserts stay in memory)
# an offset ends the value: Z, ±hh:mm, ±hhmm, or ±hh after a time (ISO 8601 allows all three)
_TZ_SUFFIX = r"(?:[zZ]|[+-]\d{2}:?\d{2}|[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?[+-]\d{2})$"
MAX_LENGTHS = {
    "id": 64,
    "customer": 64,
    "account": 64,
    "counterparty": 128,
    "currency": 3,
    "country": 2,
    "home_country": 2,
    "counterparty_country": 2,
    "scenario": 40,
}


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    skipped: int
    customers_created: int = 0
    accounts_created: int = 0
    counterparties_created: int = 0
    seconds: float = 0.0

    @property
    def received(self) -> int:
        return self.inserted + self.skipped


def bulk_load_frame(
    frame: pd.DataFrame,
    *,
    customers: pd.DataFrame | None = None,
    accounts: pd.DataFrame | None = None,
    counterparties: pd.DataFrame | None = None,
    status: str = TransactionStatus.APPROVED,
    import_batch_id: int | None = None,
    known_new: bool = False,
    using: str = "default",
) -> LoadResult:
    """Insert the frame's transactions (and any customers, accounts and counterparties
    they need) into the database.

    Optional detail frames describe entities the frame only names; they are used when an
    entity is created (never to update an existing one):
    customers: external_id, name, email, phone, home_country;
    accounts: number, customer, account_type, currency, opened_at;
    counterparties: identifier, kind, name, country.

    A `status` column in the frame gives each row its own status (blank: `status`);
    `import_batch_id` links the inserted transactions to their ImportBatch. `known_new`:
    the caller has just checked that no id is stored (PostgreSQL then skips its own
    check; a row stored meanwhile is still skipped, through a slower path).
    """
    started = time.perf_counter()
    data = canonical_frame(frame)
    received = len(data)
    data = data.loc[~data["id"].duplicated(keep="first")].reset_index(drop=True)
    if data.empty:
        return LoadResult(inserted=0, skipped=received, seconds=time.perf_counter() - started)

    connection = connections[using]
    with transaction.atomic(using=using), _large_sqlite_cache(connection):
        customer_ids, customers_created = _ensure_customers(connection, data, customers)
        account_ids, accounts_created = _ensure_accounts(connection, data, accounts, customer_ids)
        counterparty_ids, counterparties_created = _ensure_counterparties(
            connection, data, counterparties
        )
        inserted = _insert_transactions(
            connection,
            data,
            account_ids,
            counterparty_ids,
            status=status,
            import_batch_id=import_batch_id,
            check_existing=not known_new,
        )
    if connection.vendor == "postgresql" and inserted > 50_000:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Transaction._meta.db_table}")
    return LoadResult(
        inserted=inserted,
        skipped=received - inserted,
        customers_created=customers_created,
        accounts_created=accounts_created,
        counterparties_created=counterparties_created,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class EntityResult:
    customers_created: int
    accounts_created: int
    counterparties_created: int
    account_ids: dict[str, int] = field(default_factory=dict)  # number -> id
    counterparty_ids: dict[str, int] = field(default_factory=dict)  # identifier -> id


def ensure_entities(frame: pd.DataFrame, *, using: str = "default") -> EntityResult:
    """Create the customers, accounts and counterparties a clean canonical frame names
    (existing ones are left alone), in one database transaction, without inserting its
    transactions; returns the ids of the frame's accounts and counterparties with the
    counts. Loading the frame afterwards then only inserts transactions."""
    data = canonical_frame(frame)
    connection = connections[using]
    with transaction.atomic(using=using):
        customer_ids, customers_created = _ensure_customers(connection, data, None)
        account_ids, accounts_created = _ensure_accounts(connection, data, None, customer_ids)
        counterparty_ids, counterparties_created = _ensure_counterparties(connection, data, None)
    return EntityResult(
        customers_created,
        accounts_created,
        counterparties_created,
        account_ids=account_ids,
        counterparty_ids=counterparty_ids,
    )


def key_ids(
    model: type[models.Model], key: str, keys: list[str], *, using: str = "default"
) -> dict[str, int]:
    """{key value: primary key} of the stored rows of `model` whose `key` is in `keys`."""
    return _key_ids(connections[using], model, key, keys)


@contextmanager
def _large_sqlite_cache(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """A bigger SQLite page cache while loading: index inserts stay in memory."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


# --- the frame ------------------------------------------------------------------------


def canonical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every canonical column present and typed; ValueError when a
    value cannot be loaded (missing required value, negative amount, unknown code...)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"missing required columns: {', '.join(missing)}")
    n = len(frame)
    text: dict[str, np.ndarray] = {}
    for column in ("id", "account", *STRING_COLUMNS):
        if column in frame.columns:
            text[column] = _clean_text(frame[column], TEXT_CASE.get(column))
        else:
            text[column] = np.full(n, "", dtype=object)
    text["currency"] = np.where(text["currency"] == "", "AED", text["currency"])
    text["customer"] = np.where(text["customer"] == "", text["account"], text["customer"])

    for column in ("id", "account"):
        _reject(text[column] == "", column, "is required", text[column])
    for column, limit in MAX_LENGTHS.items():
        lengths = np.fromiter(map(len, text[column]), dtype=np.int64, count=n)
        _reject(lengths > limit, column, f"is longer than {limit}", text[column])
    _reject(
        (text["transfer_type"] != "") & ~np.isin(text["transfer_type"], list(TRANSFER_TYPE_CODES)),
        "transfer_type",
        f"is not one of {', '.join(sorted(TRANSFER_TYPE_CODES))}",
        text["transfer_type"],
    )
    _reject(
        (text["channel"] != "") & ~np.isin(text["channel"], list(Channel.values)),
        "channel",
        f"is not one of {', '.join(Channel.values)}",
        text["channel"],
    )

    if "status" in frame.columns:
        text["status"] = _clean_text(frame["status"], "lower")
        _reject(
            (text["status"] != "") & ~np.isin(text["status"], list(TransactionStatus.values)),
            "status",
            f"is not one of {', '.join(TransactionStatus.values)}",
            text["status"],
        )
    out = pd.DataFrame(text)
    out["timestamp"] = _timestamps(frame["timestamp"])
    _reject(out["timestamp"].isna(), "timestamp", "is not a timestamp", frame["timestamp"])

    amount = pd.to_numeric(frame["amount"], errors="coerce").astype(float)
    _reject(~np.isfinite(amount.to_numpy()), "amount", "is not a number", frame["amount"])
    _reject(amount < 0, "amount", "is negative", frame["amount"])
    _reject(amount >= 1e12, "amount", "is too large", frame["amount"])
    out["amount"] = amount.round(2).to_numpy()

    if "label" in frame.columns:
        label = frame["label"].reset_index(drop=True)
        if not pd.api.types.is_numeric_dtype(label) and not pd.api.types.is_bool_dtype(label):
            label = pd.Series(_clean_text(label, None)).replace("", np.nan)
        label = pd.to_numeric(label, errors="coerce").astype(float)
        _reject(label.notna() & ~label.isin([0.0, 1.0]), "label", "is not 1 or 0", frame["label"])
        out["label"] = label.to_numpy()
    else:
        out["label"] = np.nan
    return out


def _clean_text(values: pd.Series, case: str | None) -> np.ndarray:
    """Stripped text ('' for missing), optionally upper- or lower-cased. Each distinct
    value is cleaned once, which keeps this fast for millions of rows."""
    codes, uniques = pd.factorize(values.reset_index(drop=True), use_na_sentinel=True)
    cleaned = [str(u).strip() for u in np.asarray(uniques, dtype=object).tolist()]
    if case == "upper":
        cleaned = [u.upper() for u in cleaned]
    elif case == "lower":
        cleaned = [u.lower() for u in cleaned]
    table = np.array([*cleaned, ""], dtype=object)  # code -1 (missing) -> ""
    return table[codes]


def _text(values: pd.Series) -> pd.Series:
    return pd.Series(_clean_text(values, None), dtype=object)


def _reject(
    mask: pd.Series | np.ndarray, column: str, reason: str, values: pd.Series | np.ndarray
) -> None:
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        value = np.asarray(values, dtype=object)[row]
        raise ValueError(
            f"row {row}: column {column!r} {reason} (value {value!r}); "
            f"{int(mask.sum())} row(s) affected"
        )


def _timestamps(values: pd.Series) -> pd.Series:
    """UTC timestamps; text with an offset (or Z) keeps it, naive values are the bank's
    local time (settings.TIME_ZONE). Unparseable values become NaT."""
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _localize(values)
    text = values.fillna("").astype(str).str.strip()
    aware = text.str.contains(_TZ_SUFFIX, regex=True)
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    if aware.any():
        result[aware] = pd.to_datetime(
            text[aware], format="ISO8601", errors="coerce", utc=True
        ).astype("datetime64[us, UTC]")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
        result[~aware] = _localize(naive).astype("datetime64[us, UTC]")
    return result


def _localize(naive: pd.Series) -> pd.Series:
    """Naive times in the bank's time zone, as the CSV reader takes them: a time skipped
    by a daylight saving change moves forward past the gap, a repeated one is the earlier
    instant (csv_reader.localize_wall_time)."""
    return localize_wall_time(naive, settings.TIME_ZONE)


# --- timestamps as text ---------------------------------------------------------------


# --- entities -------------------------------------------------------------------------


def _first_per_key(keys: pd.Series, values: pd.Series) -> pd.Series:
    """For each key, its first non-empty value (keys without one are absent)."""
    present = values != ""
    return values[present].groupby(keys[present], sort=False).first()


def _all_keys(from_frame: pd.Series, details: pd.DataFrame | None, column: str) -> list[str]:
    """The frame's keys in order of appearance, then any others the detail frame lists."""
    keys = from_frame.loc[from_frame != ""].drop_duplicates().tolist()
    if details is not None and column in details.columns:
        seen = set(keys)
        extra = _text(details[column]).drop_duplicates()
        keys.extend(k for k in extra.tolist() if k and k not in seen)
    return keys


def _detail(details: pd.DataFrame | None, key: str, keys: list[str], column: str) -> list:
    if details is None or column not in details.columns:
        return [None] * len(keys)
    frame = details.assign(**{key: _text(details[key]).to_numpy()})
    indexed = frame.drop_duplicates(key).set_index(key)[column]
    return [None if _missing(v) else v for v in indexed.reindex(keys).tolist()]


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _ensure_customers(
    connection: BaseDatabaseWrapper, data: pd.DataFrame, details: pd.DataFrame | None
) -> tuple[dict[str, int], int]:
    keys = _all_keys(data["customer"], details, "external_id")
    existing = _key_ids(connection, Customer, "external_id", keys)
    missing = [k for k in keys if k not in existing]
    if not missing:
        return existing, 0
    home = _first_per_key(data["customer"], data["home_country"])
    names = _detail(details, "external_id", missing, "name")
    emails = _detail(details, "external_id", missing, "email")
    phones = _detail(details, "external_id", missing, "phone")
    homes = _detail(details, "external_id", missing, "home_country")
    created = insert_rows(
        connection,
        Customer,
        "external_id",
        {
            "external_id": missing,
            "name": [n or k for n, k in zip(names, missing)],
            "email": [e or "" for e in emails],
            "phone": [p or "" for p in phones],
            "home_country": [h or home.get(k, "") for h, k in zip(homes, missing)],
        },
    )
    existing.update(_key_ids(connection, Customer, "external_id", missing))
    return existing, created


def _ensure_accounts(
    connection: BaseDatabaseWrapper,
    data: pd.DataFrame,
    details: pd.DataFrame | None,
    customer_ids: dict[str, int],
) -> tuple[dict[str, int], int]:
    keys = _all_keys(data["account"], details, "number")
    existing = _key_ids(connection, Account, "number", keys)
    numbers = [k for k in keys if k not in existing]
    if not numbers:
        return existing, 0
    first = data.drop_duplicates("account").set_index("account")
    frame_owner = first["customer"].reindex(numbers).tolist()
    frame_currency = first["currency"].reindex(numbers).tolist()
    first_seen = data.groupby("account", sort=False)["timestamp"].min().reindex(numbers)
    owners = [
        o if o is not None else f
        for o, f in zip(_detail(details, "number", numbers, "customer"), frame_owner)
    ]
    unknown = sorted({o for o in owners if not _missing(o) and o not in customer_ids})
    if unknown:
        customer_ids.update(_key_ids(connection, Customer, "external_id", unknown))
    orphans = [n for n, o in zip(numbers, owners) if _missing(o) or o not in customer_ids]
    if orphans:
        raise ValueError(f"account {orphans[0]!r} has no known customer")
    now = timezone.now()
    opened_at = [
        pd.Timestamp(o) if o is not None else (now if pd.isna(f) else f)
        for o, f in zip(_detail(details, "number", numbers, "opened_at"), first_seen.tolist())
    ]
    created = insert_rows(
        connection,
        Account,
        "number",
        {
            "number": numbers,
            "customer_id": [customer_ids[o] for o in owners],
            "account_type": [
                t or AccountType.CURRENT
                for t in _detail(details, "number", numbers, "account_type")
            ],
            "currency": [
                c or (f if isinstance(f, str) and f else "AED")
                for c, f in zip(_detail(details, "number", numbers, "currency"), frame_currency)
            ],
            "status": [AccountStatus.ACTIVE] * len(numbers),
            "opened_at": pd.DatetimeIndex(pd.to_datetime(opened_at, utc=True)),
        },
    )
    existing.update(_key_ids(connection, Account, "number", numbers))
    return existing, created


def _ensure_counterparties(
    connection: BaseDatabaseWrapper, data: pd.DataFrame, details: pd.DataFrame | None
) -> tuple[dict[str, int], int]:
    keys = _all_keys(data["counterparty"], details, "identifier")
    existing = _key_ids(connection, Counterparty, "identifier", keys)
    missing = [k for k in keys if k not in existing]
    if not missing:
        return existing, 0
    country = _first_per_key(data["counterparty"], data["counterparty_country"])
    kinds = _detail(details, "identifier", missing, "kind")
    names = _detail(details, "identifier", missing, "name")
    countries = _detail(details, "identifier", missing, "country")
    created = insert_rows(
        connection,
        Counterparty,
        "identifier",
        {
            "identifier": missing,
            "kind": [k or CounterpartyKind.ACCOUNT for k in kinds],
            "name": [n or "" for n in names],
            "country": [c or country.get(k, "") for c, k in zip(countries, missing)],
        },
    )
    existing.update(_key_ids(connection, Counterparty, "identifier", missing))
    return existing, created


def _key_ids(
    connection: BaseDatabaseWrapper, model: type[models.Model], key: str, keys: list[str]
) -> dict[str, int]:
    if not keys:
        return {}
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(key).column)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} = ANY(%s)", [keys])  # noqa: S608
            found.update(cursor.fetchall())
            return found
        for start in range(0, len(keys), SQLITE_MAX_PARAMS):
            chunk = keys[start : start + SQLITE_MAX_PARAMS]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {column}, id FROM {table} WHERE {column} IN ({marks})", chunk)  # noqa: S608
            found.update(cursor.fetchall())
    return found


# --- transactions ---------------------------------------------------------------------


def _insert_transactions(
    connection: BaseDatabaseWrapper,
    data: pd.DataFrame,
    account_ids: dict[str, int],
    counterparty_ids: dict[str, int],
    *,
    status: str,
    import_batch_id: int | None = None,
    check_existing: bool = True,
) -> int:
    return insert_clean_transactions(
        data,
        account_ids=data["account"].map(account_ids).astype(np.int64),
        counterparty_ids=data["counterparty"].map(counterparty_ids).astype("Int64"),
        status=status,
        import_batch_id=import_batch_id,
        check_existing=check_existing,
        using=connection.alias,
    )


def insert_clean_transactions(
    data: pd.DataFrame,
    *,
    account_ids: pd.Series,
    counterparty_ids: pd.Series,
    ids: np.ndarray | None = None,
    status: str = TransactionStatus.APPROVED,
    import_batch_id: int | None = None,
    check_existing: bool = True,
    using: str = "default",
) -> int:
    """Insert the transactions of a clean canonical frame (canonical_frame, or the frame
    transactions/csv_reader.py returns) whose accounts and counterparties are stored:
    `account_ids` (int64) and `counterparty_ids` (Int64, missing for none) give their
    primary keys row by row, `ids` the transactions' own when reserved beforehand
    (fast_insert.reserve_ids). Rows whose id is stored are skipped; returns how many were
    inserted."""
    label = data["label"].to_numpy()
    source_label = np.full(len(data), None, dtype=object)
    source_label[label == 1.0] = True
    source_label[label == 0.0] = False
    stamps = pd.DatetimeIndex(data["timestamp"])
    statuses = np.full(len(data), status, dtype=object)
    if "status" in data.columns:
        given = data["status"].to_numpy(dtype=object)
        statuses = np.where(given != "", given, statuses)
    values = {
        "external_id": data["id"],
        "account_id": pd.Series(account_ids).reset_index(drop=True),
        "counterparty_id": pd.Series(counterparty_ids).reset_index(drop=True),
        "amount": data["amount"],
        "currency": data["currency"],
        "transfer_type": data["transfer_type"],
        "country": data["country"],
        "channel": data["channel"],
        "occurred_at": stamps,
        "received_at": stamps,
        "status": statuses,
        "source_label": source_label,
        "source_scenario": data["scenario"],
        "import_batch_id": Constant(import_batch_id),
    }
    if ids is not None:
        values["id"] = np.asarray(ids, dtype=np.int64)
    return insert_rows(
        connections[using], Transaction, "external_id", values, check_existing=check_existing
    )
