"""Demo bank generator, bulk loader and the generate_demo_data command."""

import io
import re
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection

from detection.features.db_frame import transactions_frame
from transactions import fast_insert
from transactions.bulk_load import LoadResult, bulk_load_frame
from transactions.csv_reader import read_transactions_csv
from transactions.csv_schema import CANONICAL_COLUMNS
from transactions.demo_data import (
    SCENARIOS,
    STRUCTURING_LIMITS,
    generate_demo_bank,
    write_canonical_csv,
)
from transactions.fast_insert import utc_timestamp_text
from transactions.models import Account, Counterparty, Customer, Transaction

END = date(2026, 11, 1)
TZ = "Asia/Dubai"


@pytest.fixture(scope="module")
def bank():
    """A moderately sized bank: every scenario occurs."""
    return generate_demo_bank(customers=300, days=60, seed=11, end=END)


@pytest.fixture(scope="module")
def small_bank():
    return generate_demo_bank(customers=30, days=20, seed=5, end=END)


@pytest.fixture(scope="module")
def history(bank):
    """The moderate bank's transactions oldest first, with local time and prior-history
    facts per row (new counterparty / country for the customer, account's prior mean)."""
    t = bank.transactions.sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True)
    t["local"] = t["timestamp"].dt.tz_convert(TZ)
    t["new_counterparty"] = ~t.duplicated(["customer", "counterparty"])
    t["new_country"] = ~t.duplicated(["customer", "country"])
    t["prior_mean"] = t.groupby("customer")["amount"].transform(
        lambda s: s.shift().expanding().mean()
    )
    t["prior_count"] = t.groupby("customer").cumcount()
    return t


def _incidents(frame: pd.DataFrame, scenario: str) -> pd.core.groupby.DataFrameGroupBy:
    return frame[frame["scenario"] == scenario].groupby("customer")


# --- determinism ------------------------------------------------------------------------


def test_same_arguments_give_identical_bank_and_csv(small_bank):
    again = generate_demo_bank(customers=30, days=20, seed=5, end=END)
    for name in ("transactions", "customers", "accounts", "counterparties"):
        pd.testing.assert_frame_equal(getattr(small_bank, name), getattr(again, name))
    first, second = io.StringIO(), io.StringIO()
    write_canonical_csv(small_bank.transactions, first)
    write_canonical_csv(again.transactions, second)
    assert first.getvalue() == second.getvalue()


def test_other_seed_or_end_gives_another_bank(small_bank):
    other_seed = generate_demo_bank(customers=30, days=20, seed=6, end=END)
    assert other_seed.tag != small_bank.tag
    assert set(other_seed.transactions["id"]).isdisjoint(small_bank.transactions["id"])
    assert set(other_seed.customers["name"]) != set(small_bank.customers["name"])
    amounts = sorted(small_bank.transactions["amount"])
    assert sorted(other_seed.transactions["amount"]) != amounts

    other_end = generate_demo_bank(customers=30, days=20, seed=5, end=date(2026, 11, 2))
    assert other_end.tag != small_bank.tag
    assert other_end.end - small_bank.end == pd.Timedelta(days=1)


# --- the bank -----------------------------------------------------------------------------


def test_window_entities_and_basic_invariants(small_bank):
    t = small_bank.transactions
    assert list(t.columns) == list(CANONICAL_COLUMNS)
    # --end is exclusive and means midnight in the bank's time zone.
    assert small_bank.end == pd.Timestamp("2026-11-01T00:00", tz=TZ)
    assert small_bank.start == pd.Timestamp("2026-10-12T00:00", tz=TZ)
    assert t["timestamp"].min() >= small_bank.start
    assert t["timestamp"].max() < small_bank.end
    assert t["timestamp"].is_monotonic_increasing
    assert t["id"].is_unique
    assert (t["amount"] >= 0).all() and (t["amount"] == t["amount"].round(2)).all()
    assert set(t["transfer_type"]) <= set("OILQS")
    assert set(t["currency"]) == {"AED"}
    assert len(small_bank.customers) == 30
    assert small_bank.customers["external_id"].is_unique
    assert small_bank.accounts["number"].is_unique
    per_customer = small_bank.accounts.groupby("customer").size()
    assert per_customer.between(1, 2).all() and len(per_customer) == 30
    # Every referenced key exists in the detail frames, and the details are consistent.
    assert set(t["customer"]) <= set(small_bank.customers["external_id"])
    assert set(t["account"]) <= set(small_bank.accounts["number"])
    assert set(t["counterparty"]) == set(small_bank.counterparties["identifier"])
    owner = small_bank.accounts.set_index("number")["customer"]
    assert (owner[t["account"]].to_numpy() == t["customer"].to_numpy()).all()
    home = small_bank.customers.set_index("external_id")["home_country"]
    assert (home[t["customer"]].to_numpy() == t["home_country"].to_numpy()).all()
    assert small_bank.customers["email"].str.match(r"^[a-z.]+\d+@example\.(com|net|org)$").all()


def test_account_numbers_are_valid_ibans(small_bank):
    def valid(iban: str) -> bool:
        rearranged = iban[4:] + iban[:4]
        return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1

    assert all(valid(n) for n in small_bank.accounts["number"])
    assert small_bank.accounts["number"].str.len().eq(23).all()  # UAE IBAN length
    accounts = small_bank.counterparties.query("kind == 'account'")["identifier"]
    assert all(valid(n) for n in accounts)


def test_everyday_behaviour_looks_like_a_bank(bank, history):
    legit = history[history["label"] == 0]
    amounts = legit["amount"]
    assert amounts.quantile(0.99) / amounts.median() > 10  # heavy tail
    hours = legit["local"].dt.hour
    assert 0.002 < (hours < 5).mean() < 0.05  # a few at night
    assert hours.between(8, 22).mean() > 0.85
    weekday = legit["local"].dt.day_of_week
    assert set(weekday) == set(range(7))
    shares = legit["transfer_type"].value_counts(normalize=True)
    assert set(shares.index) == set("OILQS")
    assert shares["Q"] > 0.5 and shares["S"] > 0.02 and shares["O"] > 0.005
    assert (legit.loc[legit["transfer_type"] == "S", "counterparty_country"] != "AE").all()
    assert set(legit["channel"]) >= {"mobile", "web", "pos", "atm", "branch"}
    # Mostly AE customers, some with another home country; some travel abroad.
    homes = bank.customers["home_country"].value_counts(normalize=True)
    assert 0.75 < homes["AE"] < 0.97
    quick = legit[legit["transfer_type"] == "Q"]
    abroad = quick[quick["country"] != quick["home_country"]]
    assert 0.01 < len(abroad) / len(quick) < 0.3
    # Trips: a customer's foreign shop payments cluster in few days, not spread out.
    days_abroad = abroad.groupby("customer")["local"].agg(lambda s: s.dt.date.nunique())
    assert days_abroad.median() <= 14
    # Recurring counterparties: each customer pays mostly a small set of its own.
    top5 = legit.groupby(["customer", "counterparty"]).size().groupby(level=0)
    share = top5.apply(lambda s: s.nlargest(5).sum() / s.sum())
    assert share.median() > 0.4
    # Customer-specific amount levels: medians differ a lot between customers.
    medians = quick.groupby("customer")["amount"].median()
    assert medians.quantile(0.9) / medians.quantile(0.1) > 2.5


# --- fraud ---------------------------------------------------------------------------------


def test_fraud_rate_and_every_scenario_present(bank):
    t = bank.transactions
    rate = t["label"].mean()
    assert 0.005 <= rate <= 0.01
    assert set(t.loc[t["label"] == 1, "scenario"]) == set(SCENARIOS)
    assert (t.loc[t["label"] == 0, "scenario"] == "").all()
    counts = bank.fraud_by_scenario()
    assert all(counts[name] > 0 for name in SCENARIOS)
    assert sum(counts.values()) == int(t["label"].sum())


def test_fraud_only_after_some_history(bank, history):
    fraud = history[history["label"] == 1]
    assert (fraud["timestamp"] >= bank.start + pd.Timedelta(days=7)).all()
    first_fraud = fraud.groupby("customer")["prior_count"].min()
    assert (first_fraud >= 5).all()
    # A customer is the victim of one scenario.
    assert (fraud.groupby("customer")["scenario"].nunique() == 1).all()


def test_account_takeover_is_night_abroad_new_payee_and_large(history):
    for _, rows in _incidents(history, "account_takeover"):
        first = rows.iloc[0]
        assert 1 <= len(rows) <= 3
        assert first["local"].hour < 5
        assert first["country"] != first["home_country"]
        assert first["new_country"] and first["new_counterparty"]
        assert rows["counterparty"].nunique() == 1
        assert (rows["amount"] >= 3 * first["prior_mean"]).all()
        assert rows["timestamp"].max() - rows["timestamp"].min() <= pd.Timedelta(hours=1)


def test_card_testing_is_a_burst_of_tiny_payments(history):
    legit_small = history[(history["label"] == 0)]
    for _, rows in _incidents(history, "card_testing"):
        assert 5 <= len(rows) <= 20
        assert (rows["amount"] <= 15).all()
        assert rows["timestamp"].max() - rows["timestamp"].min() <= pd.Timedelta(minutes=15)
        assert set(rows["transfer_type"]) == {"Q"}
        assert set(rows["channel"]) <= {"web", "pos", "mobile"}
        assert rows["account"].nunique() == 1
    # Legitimate customers do not make 5 payments within 10 minutes.
    stamps = legit_small.groupby("account")["timestamp"]
    bursts = stamps.apply(
        lambda s: int((s.diff(4) <= pd.Timedelta(minutes=10)).sum()) if len(s) >= 5 else 0
    )
    assert bursts.sum() < 0.001 * len(legit_small)


def test_structuring_stays_just_under_the_limit(history):
    for _, rows in _incidents(history, "structuring"):
        assert 3 <= len(rows) <= 6
        assert rows["transfer_type"].nunique() == 1
        limit = STRUCTURING_LIMITS[rows["transfer_type"].iloc[0]]
        assert ((rows["amount"] >= 0.9 * limit) & (rows["amount"] < limit)).all()
        assert rows["timestamp"].max() - rows["timestamp"].min() < pd.Timedelta(days=2)
        assert rows["local"].dt.hour.between(9, 18).all()


def test_dormant_drain_follows_30_quiet_days(history):
    for _, rows in _incidents(history, "dormant_drain"):
        account = rows["account"].iloc[0]
        assert rows["account"].nunique() == 1 and 2 <= len(rows) <= 4
        start = rows["timestamp"].min()
        before = history[(history["account"] == account) & (history["timestamp"] < start)]
        assert len(before) >= 5  # it had a history...
        assert start - before["timestamp"].max() >= pd.Timedelta(days=30)  # ...then silence
        assert (rows["amount"] >= 3_000).all()
        assert rows["amount"].sum() > 5 * before["amount"].mean()
        assert rows["timestamp"].max() - start <= pd.Timedelta(hours=4)
        after = history[(history["account"] == account) & (history["timestamp"] > start)]
        assert (after["label"] == 1).all()


def test_overseas_transfer_goes_to_a_new_unusual_country(history):
    for _, rows in _incidents(history, "overseas_transfer"):
        first = rows.iloc[0]
        assert set(rows["transfer_type"]) == {"S"}
        assert first["counterparty_country"] not in ("AE", first["home_country"])
        assert first["new_counterparty"] and first["new_country"]
        assert (rows["amount"] >= 8_000).all()
        assert (rows["amount"] >= 3 * first["prior_mean"]).all()


def test_mule_counterparty_is_paid_by_many_new_victims(history):
    mules = history[history["scenario"] == "mule_counterparty"].groupby("counterparty")
    assert len(mules) >= 1
    for identifier, rows in mules:
        assert rows["customer"].nunique() >= 2
        assert rows["timestamp"].max() - rows["timestamp"].min() <= pd.Timedelta(days=3)
        firsts = rows.drop_duplicates("customer")
        assert firsts["new_counterparty"].all()
        # Nobody pays the mule account except its victims.
        assert (history.loc[history["counterparty"] == identifier, "label"] == 1).all()


# --- CSV -----------------------------------------------------------------------------------


def test_csv_follows_the_canonical_schema_and_reads_back(small_bank, tmp_path):
    path = tmp_path / "demo.csv"
    write_canonical_csv(small_bank.transactions, path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(raw.columns) == list(CANONICAL_COLUMNS)
    assert raw["timestamp"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$").all()
    assert raw["amount"].str.match(r"^\d+\.\d\d$").all()
    assert set(raw["label"]) <= {"0", "1"}
    assert (raw.loc[raw["label"] == "0", "scenario"] == "").all()

    parsed = read_transactions_csv(path, default_timezone=TZ)
    assert parsed.errors == [] and parsed.accepted == len(small_bank.transactions)
    frame = parsed.frame
    expected = small_bank.transactions
    assert frame["id"].tolist() == expected["id"].tolist()
    assert (frame["timestamp"] == expected["timestamp"]).all()
    assert np.allclose(frame["amount"], expected["amount"])
    assert frame["label"].tolist() == expected["label"].astype(float).tolist()


def test_timestamp_text_matches_python_formatting():
    stamps = pd.to_datetime(
        ["2026-01-02T03:04:05Z", "1999-12-31T23:59:59.250000Z", "2026-07-01T00:00:00+04:00"],
        utc=True,
        format="ISO8601",
    )
    assert utc_timestamp_text(stamps).tolist() == [
        "2026-01-02 03:04:05",
        "1999-12-31 23:59:59.250000",
        "2026-06-30 20:00:00",
    ]
    iso = utc_timestamp_text(stamps, separator="T", suffix="+00:00")
    assert iso[0] == "2026-01-02T03:04:05+00:00"


# --- loading -------------------------------------------------------------------------------


def _load(bank_) -> LoadResult:
    return bulk_load_frame(
        bank_.transactions,
        customers=bank_.customers,
        accounts=bank_.accounts,
        counterparties=bank_.counterparties,
    )


@pytest.mark.django_db
def test_load_stores_the_bank_and_a_second_load_adds_nothing(small_bank):
    first = _load(small_bank)
    n = len(small_bank.transactions)
    assert (first.inserted, first.skipped) == (n, 0)
    assert first.customers_created == 30
    assert first.accounts_created == len(small_bank.accounts)
    assert first.counterparties_created == len(small_bank.counterparties)
    counts = (
        Transaction.objects.count(),
        Customer.objects.count(),
        Account.objects.count(),
        Counterparty.objects.count(),
    )
    assert counts == (n, 30, len(small_bank.accounts), len(small_bank.counterparties))

    second = _load(small_bank)
    assert (second.inserted, second.skipped) == (0, n)
    assert (second.customers_created, second.accounts_created) == (0, 0)
    assert second.counterparties_created == 0
    assert Transaction.objects.count() == n and Customer.objects.count() == 30

    # What is stored reads back as the generated frame.
    stored = transactions_frame()
    expected = small_bank.transactions.sort_values(["timestamp", "id"]).reset_index(drop=True)
    stored = stored.sort_values(["ts", "id"]).reset_index(drop=True)
    for column in ("id", "customer", "account", "counterparty", "transfer_type", "channel"):
        assert stored[column].tolist() == expected[column].tolist(), column
    for column in ("country", "home_country", "counterparty_country", "scenario"):
        assert stored[column].tolist() == expected[column].tolist(), column
    expected_ns = expected["timestamp"].astype("datetime64[ns, UTC]").astype("int64")
    assert (stored["ts"].to_numpy() == expected_ns.to_numpy()).all()
    assert np.allclose(stored["amount"], expected["amount"], atol=0.001)
    assert stored["label"].tolist() == expected["label"].astype(float).tolist()


@pytest.mark.django_db
def test_loaded_rows_have_historical_status_and_entity_details(small_bank):
    _load(small_bank)
    row = small_bank.transactions.iloc[len(small_bank.transactions) // 2]
    stored = Transaction.objects.select_related("account__customer", "counterparty").get(
        external_id=row["id"]
    )
    assert stored.amount == Decimal(f"{row['amount']:.2f}")
    assert stored.occurred_at == row["timestamp"].to_pydatetime()
    assert stored.received_at == stored.occurred_at
    assert stored.status == "approved"
    assert stored.source_label is bool(row["label"])
    customer = small_bank.customers.set_index("external_id").loc[row["customer"]]
    assert stored.account.customer.name == customer["name"]
    assert stored.account.customer.email == customer["email"]
    assert stored.account.customer.home_country == customer["home_country"]
    account = small_bank.accounts.set_index("number").loc[row["account"]]
    assert stored.account.account_type == account["account_type"]
    assert stored.account.opened_at == account["opened_at"].to_pydatetime()
    counterparty = small_bank.counterparties.set_index("identifier").loc[row["counterparty"]]
    assert stored.counterparty.kind == counterparty["kind"]
    assert stored.counterparty.name == counterparty["name"]
    assert stored.counterparty.country == counterparty["country"]
    fraud = Transaction.objects.filter(source_label=True)
    assert fraud.count() == int(small_bank.transactions["label"].sum())
    assert Transaction.objects.filter(source_label=False).exclude(source_scenario="").count() == 0


@pytest.mark.django_db
def test_partial_overlap_inserts_only_new_rows(small_bank):
    t = small_bank.transactions
    half = bulk_load_frame(t.iloc[: len(t) // 2])
    assert half.inserted == len(t) // 2
    both = bulk_load_frame(pd.concat([t, t.iloc[:5]]))  # repeats inside the frame, too
    assert both.inserted == len(t) - len(t) // 2
    assert both.skipped == len(t) // 2 + 5
    assert Transaction.objects.count() == len(t)


@pytest.mark.django_db
def test_minimal_frame_with_text_values_and_defaults(settings):
    frame = pd.DataFrame(
        {
            "id": ["m1", "m2", "m3"],
            "timestamp": ["2026-03-01T10:00:00", "2026-03-01T10:00:00Z", "2026-03-01 12:00"],
            "account": ["ACC-1", "ACC-1", " ACC-2 "],
            "amount": ["10.005", "0", "99.9"],
            "counterparty": ["", "shop 1", "shop 1"],
            "transfer_type": ["q", "", "L"],
            "label": ["", "1", "0"],
        }
    )
    result = bulk_load_frame(frame)
    assert (result.inserted, result.customers_created, result.accounts_created) == (3, 2, 2)
    assert result.counterparties_created == 1
    m1, m2, m3 = (Transaction.objects.get(external_id=i) for i in ("m1", "m2", "m3"))
    # Naive timestamps are the bank's local time (Asia/Dubai, UTC+4).
    assert m1.occurred_at == pd.Timestamp("2026-03-01T06:00:00Z").to_pydatetime()
    assert m2.occurred_at == pd.Timestamp("2026-03-01T10:00:00Z").to_pydatetime()
    assert m3.account.number == "ACC-2" and m3.account.customer.external_id == "ACC-2"
    assert (m1.transfer_type, m1.counterparty, m1.source_label) == ("Q", None, None)
    assert (m2.source_label, m3.source_label) == (True, False)
    assert m1.currency == "AED" and m1.account.opened_at == m1.occurred_at
    assert m2.counterparty_id == m3.counterparty_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("amount", "-1", "is negative"),
        ("amount", "ten", "is not a number"),
        ("timestamp", "yesterday", "is not a timestamp"),
        ("transfer_type", "X", "is not one of"),
        ("id", "", "is required"),
        ("label", "2", "is not 1 or 0"),
    ],
)
def test_invalid_value_names_row_and_column_and_loads_nothing(column, value, reason):
    frame = pd.DataFrame(
        {
            "id": ["ok", "bad"],
            "timestamp": ["2026-03-01T10:00:00Z"] * 2,
            "account": ["A1", "A1"],
            "amount": ["1.00", "2.00"],
            "transfer_type": ["L", "L"],
            "label": ["0", "0"],
        }
    )
    frame.loc[1, column] = value
    with pytest.raises(ValueError, match=rf"row 1: column '{column}' {reason}"):
        bulk_load_frame(frame)
    assert Transaction.objects.count() == 0 and Customer.objects.count() == 0


@pytest.mark.django_db
def test_postgres_falls_back_to_on_conflict_when_keys_appear_concurrently(
    postgres_required, small_bank, monkeypatch
):
    t = small_bank.transactions
    bulk_load_frame(t.iloc[:10])
    # Pretend nothing is stored yet, as if another session inserted the rows meanwhile:
    # the direct COPY hits the unique index and the staging path takes over.
    monkeypatch.setattr(fast_insert, "_existing_keys_postgres", lambda *args, **kwargs: set())
    result = bulk_load_frame(t.iloc[:50])
    assert (result.inserted, result.skipped) == (40, 10)
    assert Transaction.objects.count() == 50
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM transactions_transaction")
        assert cursor.fetchone()[0] == 50


# --- the command -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_writes_csv_without_loading(tmp_path):
    path = tmp_path / "bank.csv"
    out = io.StringIO()
    call_command(
        "generate_demo_data",
        "--customers=20",
        "--days=15",
        "--seed=3",
        "--end=2026-10-01",
        f"--csv={path}",
        "--no-load",
        stdout=out,
    )
    expected = generate_demo_bank(customers=20, days=15, seed=3, end=date(2026, 10, 1))
    buffer = io.StringIO()
    write_canonical_csv(expected.transactions, buffer)
    assert path.read_text() == buffer.getvalue()
    assert Transaction.objects.count() == 0
    text = out.getvalue()
    assert re.search(rf"transactions\s+{len(expected.transactions):,}\n", text)
    assert "customers" in text and "account_takeover" in text


@pytest.mark.django_db
def test_command_loads_once_and_is_idempotent():
    args = ["generate_demo_data", "--customers=25", "--days=15", "--seed=9", "--end=2026-10-01"]
    first, second = io.StringIO(), io.StringIO()
    call_command(*args, stdout=first)
    count = Transaction.objects.count()
    assert count > 0 and Customer.objects.count() == 25
    call_command(*args, stdout=second)
    assert Transaction.objects.count() == count and Customer.objects.count() == 25
    assert f"{count:,} transactions inserted" in first.getvalue()
    assert f"0 transactions inserted, {count:,} already present" in second.getvalue()
