"""What individual features mean, on small hand-made histories."""

import math
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from detection.features.batch import compute_features_batch
from detection.features.frame import normalise_frame
from detection.features.history import FeatureState, FeatureTxn
from detection.features.realtime import features_for_transaction
from detection.features.spec import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    FEATURE_SPEC_HASH,
    FEATURES,
    N_FEATURES,
    NEUTRAL_VALUES,
)
from transactions.models import Account, Counterparty, Customer, Transaction


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"account": "A", "amount": 100.0, "counterparty": ""}
    return pd.DataFrame([{**base, "id": f"T{i}", **row} for i, row in enumerate(rows)])


def features(rows: list[dict], **kwargs) -> dict[str, np.ndarray]:
    matrix = compute_features_batch(frame(rows), tz="Asia/Dubai", **kwargs)
    return {name: matrix[:, j] for j, name in enumerate(FEATURE_NAMES)}


def test_spec_has_41_documented_features_and_a_stable_hash():
    assert N_FEATURES == 41 == len(set(FEATURE_NAMES))
    assert all(f.meaning and f.label and f.family for f in FEATURES)
    assert len(FEATURE_SPEC_HASH) == 64
    assert NEUTRAL_VALUES[FEATURE_INDEX["velocity_count_30s"]] == 1.0
    families = {f.family for f in FEATURES}
    assert {"velocity", "amount", "monthly", "international", "counterparty", "time"} <= families


def test_velocity_counts_include_the_current_transfer_and_windows_are_open():
    f = features(
        [
            {"timestamp": "2026-03-01T10:00:00+04:00"},
            {"timestamp": "2026-03-01T10:00:10+04:00"},
            {"timestamp": "2026-03-01T10:00:20+04:00"},
            {"timestamp": "2026-03-01T10:00:49+04:00"},
            {"timestamp": "2026-03-01T10:00:50+04:00"},  # the third is exactly 30 s back
            {"timestamp": "2026-03-01T10:10:20+04:00"},  # the third is exactly 10 min back
        ]
    )
    assert f["velocity_count_30s"].tolist() == [1, 2, 3, 2, 2, 1]
    assert f["velocity_count_10m"].tolist() == [1, 2, 3, 4, 5, 3]
    assert f["velocity_amount_sum_24h"].tolist() == [100, 200, 300, 400, 500, 600]
    assert f["velocity_log_seconds_since_prev"][1] == pytest.approx(math.log1p(10))
    assert f["velocity_log_seconds_since_prev"][0] == pytest.approx(math.log1p(30 * 86400))


def test_amount_history_uses_prior_transactions_only():
    amounts = [100, 200, 300, 400, 9000]
    f = features(
        [
            {"timestamp": f"2026-03-0{i + 1}T10:00:00+04:00", "amount": a}
            for i, a in enumerate(amounts)
        ]
    )
    assert f["history_count"].tolist() == [0, 1, 2, 3, 4]
    assert f["history_amount_mean"].tolist() == pytest.approx([0, 100, 150, 200, 250])
    assert f["history_amount_std"][3] == pytest.approx(np.std([100, 200, 300]))
    assert f["history_amount_max"].tolist() == [0, 100, 200, 300, 400]
    assert f["amount_ratio_to_mean"][3] == pytest.approx(2.0)
    assert f["amount_zscore"][3] == pytest.approx((400 - 200) / np.std([100, 200, 300]))
    assert f["amount_zscore"][4] == 50.0  # clipped
    assert f["amount_zscore"][:2].tolist() == [0, 0]  # fewer than 2 earlier transactions
    assert f["amount_ratio_to_mean"][0] == 1.0  # neutral with no history


def test_month_to_date_follows_the_bank_local_calendar():
    f = features(
        [
            {"timestamp": "2026-03-31T10:00:00+04:00", "amount": 1000},
            # 2026-03-31 21:30 UTC is already 1 April in Dubai
            {"timestamp": "2026-03-31T21:30:00Z", "amount": 50},
            {"timestamp": "2026-04-02T09:00:00+04:00", "amount": 25},
        ]
    )
    assert f["month_to_date_amount"].tolist() == [1000, 50, 75]
    assert f["month_to_date_count"].tolist() == [1, 1, 2]
    assert f["is_night"].tolist() == [0, 1, 0]  # 01:30 local


def test_weekend_is_saturday_and_sunday_in_local_time():
    # Friday 22:00 UTC is Saturday 02:00 in Dubai; Sunday 21:00 UTC is Monday 01:00
    f = features(
        [
            {"timestamp": "2026-03-06T19:00:00Z"},
            {"timestamp": "2026-03-06T22:00:00Z"},
            {"timestamp": "2026-03-08T12:00:00Z"},
            {"timestamp": "2026-03-08T21:00:00Z"},
        ]
    )
    assert f["is_weekend"].tolist() == [0, 1, 1, 0]
    hour = 23.0  # 19:00 UTC = 23:00 local
    assert f["hour_sin"][0] == pytest.approx(math.sin(2 * math.pi * hour / 24))


def test_home_country_falls_back_to_the_most_frequent_prior_country():
    rows = [
        {"timestamp": "2026-03-01T10:00:00+04:00", "country": "AE"},
        {"timestamp": "2026-03-02T10:00:00+04:00", "country": "AE"},
        {"timestamp": "2026-03-03T10:00:00+04:00", "country": "GB"},
        {"timestamp": "2026-03-04T10:00:00+04:00", "country": "GB"},
        {"timestamp": "2026-03-05T10:00:00+04:00", "country": ""},
    ]
    f = features(rows)
    assert f["is_international"].tolist() == [0, 0, 1, 1, 0]
    assert f["is_new_country"].tolist() == [0, 0, 1, 0, 0]
    assert f["history_international_ratio"][4] == pytest.approx(0.5)
    # with the customer's home country given, it wins
    given = features([{**r, "home_country": "GB"} for r in rows])
    assert given["is_international"].tolist() == [1, 1, 0, 0, 0]


def test_counterparty_senders_exclude_this_account_and_the_7_day_window():
    rows = [
        {"timestamp": "2026-03-01T10:00:00+04:00", "account": "A", "counterparty": "M"},
        {"timestamp": "2026-03-02T10:00:00+04:00", "account": "B", "counterparty": "M"},
        {"timestamp": "2026-03-03T10:00:00+04:00", "account": "B", "counterparty": "M"},
        {"timestamp": "2026-03-04T10:00:00+04:00", "account": "C", "counterparty": "M"},
        {"timestamp": "2026-03-08T10:00:00+04:00", "account": "A", "counterparty": "M"},
        {"timestamp": "2026-03-10T10:00:00+04:00", "account": "D", "counterparty": "M"},
    ]
    f = features(rows)
    # for D, B's last transfer is exactly 7 days back: outside the window
    assert f["counterparty_distinct_senders_7d"].tolist() == [0, 1, 1, 2, 2, 2]
    assert f["is_new_counterparty"].tolist() == [0, 0, 0, 0, 0, 0]  # first of each account
    assert f["counterparty_log_prior_count"][5] == pytest.approx(math.log1p(5))


def test_counterparty_fraud_labels_count_only_once_known():
    rows = [
        {"timestamp": "2026-03-01T10:00:00+04:00", "account": "A", "counterparty": "M", "label": 1},
        {"timestamp": "2026-03-05T10:00:00+04:00", "account": "B", "counterparty": "M", "label": 0},
        {"timestamp": "2026-03-08T10:00:01+04:00", "account": "C", "counterparty": "M", "label": 0},
    ]
    f = features(rows, label_delay_days=7.0)
    assert f["counterparty_fraud_count"].tolist() == [0, 0, 1]  # known on 03-08 10:00
    assert f["counterparty_fraud_rate"].tolist() == [0, 0, 1.0]  # 1 of 1 matured transfer
    assert features(rows, label_delay_days=10.0)["counterparty_fraud_count"].tolist() == [0, 0, 0]
    # explicit labels with the time the bank learned them
    labels = pd.DataFrame(
        {
            "counterparty": ["M"],
            "timestamp": ["2026-03-01T10:00:00+04:00"],
            "is_fraud": [True],
            "known_at": ["2026-03-02T00:00:00+04:00"],
        }
    )
    explicit = features(rows, labels=labels, label_delay_days=7.0)
    assert explicit["counterparty_fraud_count"].tolist() == [0, 1, 1]


def test_missing_optional_values_give_neutral_features():
    f = compute_features_batch(
        pd.DataFrame(
            {"timestamp": ["2026-03-01T10:00:00+04:00"], "account": ["A"], "amount": [5.0]}
        )
    )
    neutral = np.array(NEUTRAL_VALUES)
    same = [
        name
        for j, name in enumerate(FEATURE_NAMES)
        if name not in {"amount_log", "velocity_amount_sum_24h", "month_to_date_amount"}
        and not name.startswith("hour_")
        and name != "is_weekend"
    ]
    for name in same:
        j = FEATURE_INDEX[name]
        assert f[0, j] == neutral[j], name


def test_normalise_frame_reports_bad_rows_and_fills_columns():
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        normalise_frame(
            pd.DataFrame(
                {
                    "timestamp": ["2026-03-01T10:00:00Z"] * 2,
                    "account": ["A", "B"],
                    "amount": [1, -2],
                }
            )
        )
    out = normalise_frame(
        pd.DataFrame(
            {
                "timestamp": ["2026-03-01 10:00:00"],  # naive: bank local time
                "account": [42],
                "amount": ["10.5"],
                "country": [" ae "],
                "label": ["yes"],
            }
        ),
        tz="Asia/Dubai",
    )
    assert out.loc[0, "ts"] == pd.Timestamp("2026-03-01T06:00:00Z").value
    assert out.loc[0, "country"] == "AE" and out.loc[0, "channel"] == ""
    assert out.loc[0, "account"] == "42" and out.loc[0, "label"] == 1.0


def test_real_time_features_are_fast():
    state = FeatureState(labels=[("CP1", 0)])
    t = 1_767_225_600 * 10**9
    txns = []
    for i in range(3000):
        t += (37 + i % 500) * 10**9
        txns.append(
            FeatureTxn(
                ts=t,
                account=f"A{i % 20}",
                amount=100.0 + i % 900,
                transfer_type="L",
                country="AE",
                channel="mobile",
                home_country="AE",
                counterparty=f"CP{i % 50}",
                counterparty_country="AE",
            )
        )
    for txn in txns[:2500]:
        state.append(txn)
    start = time.perf_counter()
    for txn in txns[2500:]:
        state.features_for(txn)
    per_row_ms = (time.perf_counter() - start) / 500 * 1000
    assert per_row_ms < 0.5, per_row_ms  # about 0.015 ms on a developer machine


@pytest.mark.django_db
def test_unsaved_transaction_and_feedback_labels_from_the_database(django_user_model):
    from cases.models import FeedbackLabel

    customer = Customer.objects.create(external_id="C1", name="Ann", home_country="AE")
    account = Account.objects.create(customer=customer, number="ACC-1")
    other = Account.objects.create(customer=customer, number="ACC-2")
    mule = Counterparty.objects.create(identifier="MULE", country="NG")
    start = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    earlier = Transaction.objects.create(
        external_id="E1", account=other, counterparty=mule, amount=Decimal("900"),
        occurred_at=start,
    )  # fmt: skip
    FeedbackLabel.objects.create(
        transaction=earlier, is_fraud=True, source="chargeback", known_at=start + timedelta(days=1)
    )
    for i in range(3):
        Transaction.objects.create(
            external_id=f"A{i}", account=account, amount=Decimal("100"),
            occurred_at=start + timedelta(days=2, seconds=10 * i), country="AE",
        )  # fmt: skip
    new = Transaction(
        external_id="NEW", account=account, counterparty=mule, amount=Decimal("48000"),
        occurred_at=start + timedelta(days=2, seconds=20), transfer_type="S", country="NG",
    )  # fmt: skip
    f = features_for_transaction(new, label_delay_days=7.0, label_source="feedback")
    get = {name: f[j] for j, name in enumerate(FEATURE_NAMES)}
    assert get["velocity_count_30s"] == 4  # three stored (one at the same instant) + this one
    assert get["history_count"] == 3
    assert get["is_international"] == 1 and get["counterparty_is_foreign"] == 1
    assert get["counterparty_distinct_senders_7d"] == 1
    assert get["counterparty_fraud_count"] == 1  # feedback known after one day
    assert get["transfer_type_S"] == 1
