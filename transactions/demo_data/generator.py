"""Generate a whole demo bank: customers, accounts, counterparties and a labelled
transaction history in the canonical CSV layout (transactions/csv_schema.py).

The output is deterministic: the same (customers, days, seed, end, time zone) always give
byte-identical frames and CSV. `end` is the day after the last generated day (exclusive),
midnight in the bank's time zone, so the history never reaches into the future when `end`
is today. Timestamps are UTC; hours of the day (night, office hours) follow the bank's
time zone.
"""

import csv
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from transactions.csv_schema import CANONICAL_COLUMNS
from transactions.demo_data.activity import generate_everyday_activity
from transactions.demo_data.identifiers import run_tag
from transactions.demo_data.profiles import CHANNELS, KINDS, TRANSFER_TYPES, build_profile
from transactions.demo_data.rows import RowBlock
from transactions.demo_data.scenarios import SCENARIOS, inject_fraud

DEFAULT_TIME_ZONE = "Asia/Dubai"
CURRENCY = "AED"


@dataclass
class DemoBank:
    customers: pd.DataFrame  # external_id, name, email, phone, home_country
    accounts: pd.DataFrame  # number, customer, account_type, currency, opened_at
    counterparties: pd.DataFrame  # identifier, kind, name, country
    transactions: pd.DataFrame  # canonical columns, timestamp as datetime64[ns, UTC]
    tag: str
    start: pd.Timestamp  # first instant of the window (UTC)
    end: pd.Timestamp  # end of the window, exclusive (UTC)
    seconds: float = 0.0  # generation time
    timings: dict[str, float] = field(default_factory=dict)

    def fraud_by_scenario(self) -> dict[str, int]:
        counts = self.transactions.loc[self.transactions["label"] == 1, "scenario"]
        found = counts.value_counts()
        return {name: int(found.get(name, 0)) for name in SCENARIOS}

    def summary(self) -> dict[str, int]:
        return {
            "customers": len(self.customers),
            "accounts": len(self.accounts),
            "counterparties": len(self.counterparties),
            "transactions": len(self.transactions),
            "fraud": int(self.transactions["label"].sum()),
        }


def generate_demo_bank(
    *,
    customers: int,
    days: int,
    seed: int,
    end: date,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> DemoBank:
    """A deterministic demo bank for `days` days before `end` (exclusive)."""
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    tag = run_tag(seed=seed, customers=customers, days=days, end=end.isoformat())
    profile_seed, activity_seed, fraud_seed = np.random.SeedSequence(seed).spawn(3)
    start_day = np.datetime64(end, "D") - np.timedelta64(days, "D")

    profile = build_profile(
        customers=customers, days=days, tag=tag, rng=np.random.default_rng(profile_seed)
    )
    timings["profiles"] = time.perf_counter() - started
    legit, counts = generate_everyday_activity(
        profile, start=start_day, rng=np.random.default_rng(activity_seed)
    )
    timings["activity"] = time.perf_counter() - started - sum(timings.values())
    fraud, cutoff = inject_fraud(profile, legit, counts, np.random.default_rng(fraud_seed))
    legit = legit.take(legit.seconds < cutoff[legit.account])
    rows = RowBlock.concat([legit, fraud])
    rows = rows.take(np.lexsort((rows.account, rows.seconds)))
    timings["fraud"] = time.perf_counter() - started - sum(timings.values())

    local = start_day.astype("datetime64[s]") + rows.seconds.astype("timedelta64[s]")
    timestamps = (
        pd.DatetimeIndex(local.astype("datetime64[ns]"))
        .tz_localize(
            time_zone, ambiguous=np.ones(len(rows), dtype=bool), nonexistent="shift_forward"
        )
        .tz_convert("UTC")
    )
    window = (
        pd.DatetimeIndex(np.array([start_day, np.datetime64(end, "D")]).astype("datetime64[ns]"))
        .tz_localize(time_zone)
        .tz_convert("UTC")
    )

    # Keep only the counterparties that were paid, renumbered in order of first use.
    cp = profile.counterparties.arrays()
    used, inverse = np.unique(rows.counterparty, return_inverse=True)
    cp_identifier = cp["identifier"][used]
    cp_country = cp["country"][used]
    counterparties = pd.DataFrame(
        {
            "identifier": cp_identifier,
            "kind": KINDS[cp["kind"][used]],
            "name": cp["name"][used],
            "country": cp_country,
        }
    )

    ids = np.array([f"TXN-{tag}-{i + 1:08d}" for i in range(len(rows))], dtype=object)
    scenario_names = np.array(("",) + SCENARIOS, dtype=object)
    country = cp_country[inverse]
    transactions = pd.DataFrame(
        {
            "id": ids,
            "timestamp": timestamps,
            "customer": profile.customer_ids[rows.customer],
            "account": profile.account_numbers[rows.account],
            "counterparty": cp_identifier[inverse],
            "amount": rows.amount,
            "currency": CURRENCY,
            "transfer_type": TRANSFER_TYPES[rows.transfer_type],
            "country": country,
            "channel": CHANNELS[rows.channel],
            "home_country": profile.home[rows.customer],
            "counterparty_country": country,
            "label": (rows.scenario > 0).astype(np.int8),
            "scenario": scenario_names[rows.scenario],
        },
        columns=list(CANONICAL_COLUMNS),
    )
    customers_frame = pd.DataFrame(
        {
            "external_id": profile.customer_ids,
            "name": profile.names,
            "email": profile.emails,
            "phone": profile.phones,
            "home_country": profile.home,
        }
    )
    opened = pd.DatetimeIndex(
        (start_day - profile.account_opened.astype("timedelta64[D]")).astype("datetime64[ns]")
    ).tz_localize("UTC")
    accounts = pd.DataFrame(
        {
            "number": profile.account_numbers,
            "customer": profile.customer_ids[profile.account_customer],
            "account_type": profile.account_types,
            "currency": CURRENCY,
            "opened_at": opened,
        }
    )
    timings["frames"] = time.perf_counter() - started - sum(timings.values())
    return DemoBank(
        customers=customers_frame,
        accounts=accounts,
        counterparties=counterparties,
        transactions=transactions,
        tag=tag,
        start=window[0],
        end=window[1],
        seconds=time.perf_counter() - started,
        timings=timings,
    )


def write_canonical_csv(transactions: pd.DataFrame, target: str | Path | IO[str]) -> None:
    """Write a canonical transactions frame as CSV: ISO 8601 UTC timestamps with offset
    (2026-05-01T09:30:00+00:00), amounts with two decimals, label 1/0 (empty when
    unknown), scenario name or empty."""
    from transactions.fast_insert import utc_timestamp_text  # needs Django; generation does not

    columns = [c for c in CANONICAL_COLUMNS if c in transactions.columns]
    values: list[list] = []
    for column in columns:
        series = transactions[column]
        if column == "timestamp":
            stamps = pd.DatetimeIndex(pd.to_datetime(series, utc=True))
            values.append(utc_timestamp_text(stamps, separator="T", suffix="+00:00").tolist())
        elif column == "amount":
            values.append([f"{x:.2f}" for x in series.to_numpy(dtype=float).tolist()])
        elif column == "label":
            label = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            values.append(np.where(label == 1, "1", np.where(label == 0, "0", "")).tolist())
        else:
            values.append(series.fillna("").astype(str).tolist())
    if isinstance(target, str | Path):
        with open(target, "w", newline="", encoding="utf-8") as handle:
            _write_rows(handle, columns, values)
    else:
        _write_rows(target, columns, values)


def _write_rows(handle: IO[str], columns: list[str], values: list[list]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*values))
