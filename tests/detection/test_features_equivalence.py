"""The batch path and the real-time path give the same features for the same history."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from detection.features.batch import compute_features_batch
from detection.features.frame import normalise_frame
from detection.features.history import FeatureState, FeatureTxn
from detection.features.realtime import features_for_transaction
from detection.features.spec import FEATURE_NAMES, N_FEATURES
from transactions.models import Account, Counterparty, Customer, Transaction

HOMES = {"ACC-1": "AE", "ACC-2": "AE", "ACC-3": "GB", "ACC-4": "", "ACC-5": "", "ACC-6": "IN"}
COUNTERPARTIES = {
    "CP-A": "AE",
    "CP-B": "AE",
    "CP-C": "GB",
    "CP-D": "",
    "CP-E": "NG",
    "CP-F": "AE",
    "CP-MULE": "AE",
}


def random_frame(seed: int, n: int = 260) -> pd.DataFrame:
    """A multi-account history with bursts, ties, month ends and missing values."""
    rng = np.random.default_rng(seed)
    accounts = list(HOMES)
    start = datetime(2026, 1, 27, 18, 0, tzinfo=UTC)
    gaps = rng.choice(
        [0, 1, 7, 25, 90, 400, 3_000, 20_000, 90_000, 400_000], size=n, p=[0.05] + [0.95 / 9] * 9
    )
    times = [start]
    for gap in gaps[1:]:
        times.append(times[-1] + timedelta(seconds=int(gap), microseconds=int(rng.integers(0, 3))))
    rows = []
    for i, when in enumerate(times):
        account = accounts[int(rng.integers(0, len(accounts)))]
        if rng.random() < 0.15 and rows:  # same account again right away: bursts and ties
            account = rows[-1]["account"]
        cp = str(rng.choice([*COUNTERPARTIES, ""]))
        amount = float(np.round(rng.lognormal(6, 1.4), 2))
        if rng.random() < 0.1:
            amount = float(rng.integers(1, 60) * 1000)
        offset = "Z" if i % 2 else "+04:00"
        shown = (
            when
            if offset == "Z"
            else when.astimezone(datetime.fromisoformat("2026-01-01T00:00+04:00").tzinfo)
        )
        label = rng.choice([1.0, 0.0, 0.0, 0.0, 0.0, np.nan])
        rows.append(
            {
                "id": f"T{i:04d}",
                "timestamp": shown.isoformat().replace("+00:00", "Z"),
                "account": account,
                "counterparty": cp,
                "amount": amount,
                "transfer_type": str(rng.choice(["O", "I", "L", "Q", "S", "", "S"])),
                "country": str(rng.choice(["AE", "AE", "AE", "GB", "NG", "IN", ""])),
                "channel": str(rng.choice(["mobile", "web", "branch", "atm", "pos", "api", ""])),
                "home_country": HOMES[account],
                "counterparty_country": COUNTERPARTIES.get(cp, ""),
                "label": label,
            }
        )
    return pd.DataFrame(rows)


def feature_txn_of(r: pd.Series) -> FeatureTxn:
    """A row of a normalised frame as the real-time feature code sees it."""
    return FeatureTxn(
        ts=int(r["ts"]),
        account=r["account"],
        amount=float(r["amount"]),
        transfer_type=r["transfer_type"],
        country=r["country"],
        channel=r["channel"],
        home_country=r["home_country"],
        counterparty=r["counterparty"],
        counterparty_country=r["counterparty_country"],
    )


def replay_in_memory(frame: pd.DataFrame, *, label_delay_days: float) -> np.ndarray:
    """Feed rows one by one, in time order, through the real-time path."""
    f = normalise_frame(frame)
    delay_ns = round(label_delay_days * 86_400 * 1_000_000_000)
    labels = [
        (cp, ts + delay_ns)
        for cp, ts, label in zip(f["counterparty"], f["ts"], f["label"])
        if cp and label == 1.0
    ]
    state = FeatureState(label_delay_days=label_delay_days, labels=labels)
    out = np.zeros((len(f), N_FEATURES))
    for row in np.lexsort((np.arange(len(f)), f["ts"].to_numpy())):
        out[row] = state.score_and_append(feature_txn_of(f.iloc[row]))
    return out


def assert_same_features(batch: np.ndarray, realtime: np.ndarray) -> None:
    assert batch.shape == realtime.shape
    for j, name in enumerate(FEATURE_NAMES):
        np.testing.assert_allclose(
            realtime[:, j], batch[:, j], rtol=1e-9, atol=1e-9, err_msg=f"feature {name}"
        )


@pytest.mark.parametrize(("seed", "delay"), [(1, 7.0), (2, 0.0), (3, 0.5)])
def test_batch_matches_in_memory_replay(seed, delay):
    frame = random_frame(seed)
    batch = compute_features_batch(frame, label_delay_days=delay, tz="Asia/Dubai")
    assert_same_features(batch, replay_in_memory(frame, label_delay_days=delay))
    # the data really exercises the interesting cases
    col = {name: batch[:, j] for j, name in enumerate(FEATURE_NAMES)}
    assert col["velocity_count_30s"].max() >= 3
    assert col["is_new_country"].sum() > 0 and col["is_international"].sum() > 0
    assert col["counterparty_distinct_senders_7d"].max() >= 2
    assert col["counterparty_fraud_count"].max() >= 1
    assert set(np.unique(col["month_to_date_count"])) > {1.0}


def test_batch_matches_replay_when_optional_columns_are_missing():
    frame = random_frame(4)[["id", "timestamp", "account", "amount", "counterparty"]]
    batch = compute_features_batch(frame, label_delay_days=7.0)
    assert_same_features(batch, replay_in_memory(frame, label_delay_days=7.0))
    col = {name: batch[:, j] for j, name in enumerate(FEATURE_NAMES)}
    for name in ("is_international", "is_new_country", "transfer_type_S", "channel_digital"):
        assert not col[name].any(), name


def test_row_order_of_the_frame_does_not_matter():
    frame = random_frame(5)
    shuffled = frame.sample(frac=1.0, random_state=0)
    # ties keep their relative order when the frame is sorted by time first
    ordered = frame.assign(_t=normalise_frame(frame)["ts"]).sort_values("_t", kind="stable")
    reference = compute_features_batch(ordered.drop(columns="_t"))
    by_id = dict(zip(ordered["id"], reference))
    again = compute_features_batch(shuffled)
    without_ties = ~normalise_frame(shuffled)["ts"].duplicated(keep=False).to_numpy()
    for row_id, row, keep in zip(shuffled["id"], again, without_ties):
        if keep:
            np.testing.assert_allclose(row, by_id[row_id], rtol=1e-12)


def _store(frame: pd.DataFrame) -> list[Transaction]:
    """Save the frame as customers, accounts, counterparties and transactions."""
    f = normalise_frame(frame)
    accounts = {}
    for number in sorted(set(f["account"])):
        customer = Customer.objects.create(
            external_id=f"C-{number}", name=number, home_country=HOMES[number]
        )
        accounts[number] = Account.objects.create(customer=customer, number=number)
    counterparties = {
        key: Counterparty.objects.create(identifier=key, country=country)
        for key, country in COUNTERPARTIES.items()
    }
    rows = [
        Transaction(
            external_id=r.id,
            account=accounts[r.account],
            counterparty=counterparties.get(r.counterparty),
            amount=Decimal(str(r.amount)),
            transfer_type=r.transfer_type,
            country=r.country,
            channel=r.channel,
            occurred_at=datetime.fromtimestamp(0, UTC) + timedelta(microseconds=r.ts // 1000),
            source_label=None if np.isnan(r.label) else bool(r.label),
        )
        for r in f.itertuples()
    ]
    return Transaction.objects.bulk_create(rows)  # ids follow row order: ties by id


@pytest.mark.django_db
def test_batch_matches_features_loaded_from_the_database():
    frame = random_frame(6, n=160)
    delay = 2.0
    batch = compute_features_batch(frame, label_delay_days=delay)
    stored = _store(frame)
    by_external_id = {
        t.external_id: t
        for t in Transaction.objects.select_related("account__customer", "counterparty")
    }
    from_db = np.zeros_like(batch)
    for i, txn in enumerate(stored):
        from_db[i] = features_for_transaction(
            by_external_id[txn.external_id], label_delay_days=delay, label_source="data"
        )
    assert_same_features(batch, from_db)


@pytest.mark.django_db
def test_frames_read_from_the_database_match_real_time_with_feedback_labels():
    from cases.models import FeedbackLabel
    from detection.features.db_frame import fraud_labels_frame, transactions_frame

    frame = random_frame(7, n=120)
    stored = _store(frame)
    rng = np.random.default_rng(7)
    with_cp = [t for t in stored if t.counterparty_id is not None]
    for txn in rng.choice(with_cp, size=25, replace=False):
        # some confirm fraud a few hours later, some clear a data label as legitimate
        FeedbackLabel.objects.create(
            transaction=txn,
            is_fraud=bool(rng.random() < 0.6),
            source="case_decision",
            known_at=txn.occurred_at + timedelta(hours=int(rng.integers(1, 72))),
        )
    delay = 3.0
    db_frame = transactions_frame()
    batch = compute_features_batch(
        db_frame, labels=fraud_labels_frame(label_delay_days=delay), label_delay_days=delay
    )
    assert batch[:, FEATURE_NAMES.index("counterparty_fraud_count")].max() >= 1
    by_pk = {
        t.pk: t for t in Transaction.objects.select_related("account__customer", "counterparty")
    }
    from_db = np.array(
        [
            features_for_transaction(by_pk[pk], label_delay_days=delay, label_source="both")
            for pk in db_frame["pk"]
        ]
    )
    assert_same_features(batch, from_db)
