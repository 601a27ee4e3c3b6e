"""The distinct other senders to a payee in 7 days are counted up to a cap, the same way
on every path: the batch features, the in-memory replay, the ORM reference and the
PostgreSQL statement (which counts the window's newest payments first, and the whole
window only when those neither hold it all nor reach the cap)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from detection.features import realtime
from detection.features.batch import compute_features_batch
from detection.features.spec import COUNTERPARTY_SENDERS_CAP, FEATURE_INDEX
from tests.detection.test_counterparty_days import _features_agree, payee_counts
from tests.detection.test_features_equivalence import assert_same_features, replay_in_memory
from transactions.models import Account, Counterparty, Customer, Transaction

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
SENDERS = "counterparty_distinct_senders_7d"


def payee_frame(others: int, *, repeats: int = 1, early: int = 0) -> pd.DataFrame:
    """Payments to one payee: `others` accounts in the last 7 days (each `repeats` times,
    several at the same instant), `early` other accounts once each before them but in the
    window, older ones outside it, then the probe account's."""
    rows = []

    def pay(ref: str, account: str, when: datetime) -> None:
        rows.append(
            {
                "id": ref,
                "timestamp": when.isoformat(),
                "account": account,
                "counterparty": "BILLER",
                "amount": 25.0,
            }
        )

    for i in range(40):  # outside the window
        pay(f"OLD-{i}", f"OLD-ACC-{i}", NOW - timedelta(days=8, minutes=i))
    pay("OWN-0", "PROBE", NOW - timedelta(days=1))  # the probe's own: never counted
    for i in range(early):
        pay(f"E-{i}", f"EARLY-{i:04d}", NOW - timedelta(days=6, hours=12) + timedelta(seconds=i))
    for r in range(repeats):
        for i in range(others):
            # pairs of accounts pay at the same microsecond
            when = NOW - timedelta(days=6) + timedelta(minutes=r * 20 + i // 2)
            pay(f"P-{r}-{i}", f"ACC-{i:04d}", when)
    pay("PROBE-1", "PROBE", NOW)
    return pd.DataFrame(rows)


def _probe_value(features: np.ndarray, frame: pd.DataFrame) -> float:
    return features[frame.index[frame["id"] == "PROBE-1"][0], FEATURE_INDEX[SENDERS]]


CAP = COUNTERPARTY_SENDERS_CAP
CASES = [
    # (others, repeats, early, expected)
    (CAP - 1, 1, 0, CAP - 1),
    (CAP, 1, 0, CAP),
    (CAP + 30, 2, 0, CAP),
    (3, 60, 0, 3),  # many payments from few senders: exact
    # windows longer than the payments the database reads first (10 x the cap)
    (CAP + 30, 9, 0, CAP),  # the newest payments reach the cap
    (5, 220, 0, 5),  # they do not: the whole window is counted
    (5, 220, CAP + 20, CAP),  # ... and its older part holds the senders
]


@pytest.mark.parametrize(("others", "repeats", "early", "expected"), CASES)
def test_batch_and_in_memory_replay_count_up_to_the_cap(others, repeats, early, expected):
    frame = payee_frame(others, repeats=repeats, early=early)
    batch = compute_features_batch(frame, label_delay_days=7.0)
    assert _probe_value(batch, frame) == expected
    assert_same_features(batch, replay_in_memory(frame, label_delay_days=7.0))


def _store_payee(frame: pd.DataFrame) -> dict[str, Transaction]:
    payee = Counterparty.objects.create(identifier="BILLER", country="AE")
    accounts: dict[str, Account] = {}
    for number in frame["account"].unique():
        customer = Customer.objects.create(external_id=f"C-{number}", name=number)
        accounts[number] = Account.objects.create(customer=customer, number=number)
    stored = Transaction.objects.bulk_create(
        Transaction(
            external_id=r.id,
            account=accounts[r.account],
            counterparty=payee,
            amount=Decimal("25.00"),
            occurred_at=datetime.fromisoformat(r.timestamp),
        )
        for r in frame.itertuples()
    )
    return {t.external_id: t for t in stored}


def _postgres_senders(probe: Transaction, *, before_id: int) -> int:
    return payee_counts(probe, before_id=before_id).distinct_other_senders


@pytest.mark.parametrize(("others", "repeats", "early", "expected"), CASES)
def test_postgresql_counts_up_to_the_cap_and_matches_the_reference(
    postgres_required, others, repeats, early, expected
):
    frame = payee_frame(others, repeats=repeats, early=early)
    stored = _store_payee(frame)
    probe = stored["PROBE-1"]
    assert _postgres_senders(probe, before_id=probe.pk) == expected
    assert _postgres_senders(probe, before_id=realtime.UNSAVED_ID) == expected
    # the whole feature vector, for the probe and a sample of the payments before it
    payments = list(stored.values())
    sample = [probe, stored["OWN-0"], *payments[:: max(len(payments) // 12, 1)]]
    assert _features_agree(sample, delay_days=7.0) == 2 * len(sample)
