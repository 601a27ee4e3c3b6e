"""fast_json writes what json writes (as values), and JSON columns on PostgreSQL use it."""

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

import numpy as np
import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.features.history import AccountHistory, FeatureTxn
from detection.features.summaries import decode, encode
from secureflow.core import fast_json


@dataclass
class Point:
    x: int
    y: int


class Level(IntEnum):
    LOW = 1


class Label(str):
    pass


def same_as_json(value) -> None:
    text = fast_json.dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert fast_json.loads(text) == json.loads(text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_reads_back_as_json_wrote_it(value):
    same_as_json(value)


@pytest.mark.parametrize(
    "value",
    [
        {"features": [0.1, 1e16, 1e-05, -0.0, 5e-324, 1.7976931348623157e308, 3, -7]},
        [{"code": "velocity_10m", "reason": "5 payments in 10 minutes — über the limit"}],
        {"raw": 0.53, "calibrated": None},
        {"big": 2**70},  # past 64 bits: orjson refuses, json writes it
        {1: "int key", 2.5: "float key"},  # json turns keys into strings; orjson refuses
        (1, 2, (3, 4)),
        {"numpy": np.float64(0.25), "count": 4},  # a numpy scalar: json's float subclass path
        {Label("key"): [Level.LOW, Label("text")]},  # subclasses: json's way
    ],
)
def test_values_orjson_would_write_differently_read_back_the_same(value):
    same_as_json(value)


def test_nan_and_infinity_are_written_as_json_writes_them():
    value = {"nan": math.nan, "inf": math.inf, "list": [1.5, -math.inf]}
    text = fast_json.dumps(value)
    assert text == json.dumps(value, separators=(",", ":"))  # NaN / Infinity, not null
    loaded = fast_json.loads(text)
    assert math.isnan(loaded["nan"]) and loaded["inf"] == math.inf


def test_refused_values_raise_as_json_does():
    with pytest.raises(TypeError):
        fast_json.dumps({"set": {1, 2}})
    with pytest.raises(TypeError):
        fast_json.dumps({"when": datetime(2026, 12, 4, tzinfo=UTC)})
    with pytest.raises(TypeError):
        fast_json.dumps([Point(1, 2)])
    with pytest.raises(ValueError):
        fast_json.loads("{not json")


def test_a_feature_summary_reads_back_whole():
    history = AccountHistory(tz="Asia/Dubai")
    start = 1_796_000_000_000_000_000  # epoch nanoseconds: past 2**53, within 64 bits
    for i, amount in enumerate([120.5, 0.01, 48_000.0, 1e-05, 333.33]):
        history.append(
            FeatureTxn(
                ts=start + i * 3_600_000_000_123,
                account="A-1",
                amount=amount,
                transfer_type="O",
                country="FR" if i % 2 else "AE",
                channel="mobile",
                home_country="AE",
                counterparty=f"CP-{i % 3}",
            )
        )
    text = encode(history, home_country="AE", tz_name="Asia/Dubai")
    restored = decode(text, home_country="AE", tz_name="Asia/Dubai")
    assert restored is not None
    assert restored.to_summary() == history.to_summary()
    assert restored.to_summary()["seen_counterparties"] == ["CP-0", "CP-1", "CP-2"]
    assert decode(text, home_country="FR", tz_name="Asia/Dubai") is None
    assert decode("{broken", home_country="AE", tz_name="Asia/Dubai") is None


@pytest.mark.django_db
def test_json_columns_on_postgresql_store_the_values(postgres_required):
    from detection.models import TransactionScore
    from transactions.models import Account, Customer, Transaction

    assert connection.ops.adapt_json_value({"a": 1}, None)._dumps is fast_json.dumps
    customer = Customer.objects.create(external_id="C-JSON")
    account = Account.objects.create(number="A-JSON", customer=customer)
    txn = Transaction.objects.create(
        external_id="T-JSON", account=account, amount="10.00", occurred_at="2026-12-01T10:00Z"
    )
    features = [0.1, 1e16, 1e-05, 2.0, 123456789.125]
    contributions = [{"feature": "amount", "label": "Amount — AED", "contribution": -0.03}]
    score = TransactionScore.objects.create(
        transaction=txn,
        risk_score=0.5,
        outcome="review",
        features=features,
        contributions=contributions,
        model_scores={"autoencoder": {"raw": 0.2, "calibrated": None}},
    )
    stored = TransactionScore.objects.get(pk=score.pk)
    assert stored.features == features
    assert stored.contributions == contributions
    assert stored.model_scores == {"autoencoder": {"raw": 0.2, "calibrated": None}}
    assert TransactionScore.objects.filter(model_scores__autoencoder__raw=0.2).exists()
