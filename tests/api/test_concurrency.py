"""Parallel submissions for one account on PostgreSQL: no lost updates in the features.

What "correct" means: transaction_submit locks the account row (SELECT ... FOR UPDATE) for
its database transaction, so submissions for one account are scored one at a time, each
seeing every transaction of the account committed before it; ids are taken under the lock,
so id order is commit order. Hence, for each stored score, every velocity count equals
1 + the number of the account's transactions that committed earlier (smaller id) and lie
in the window before it (time <= its own) — exactly what a replay of the final table in
commit order gives. With all timestamps equal, the k-th committed sees k - 1 earlier ones.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from detection.features.spec import FEATURE_INDEX
from detection.models import TransactionScore
from secureflow.core.api_keys import api_key_create
from tests.api.conftest import transaction_body
from transactions.models import Transaction

URL = "/api/v1/transactions/"
THREADS = 10
WINDOWS = {
    "velocity_count_30s": timedelta(seconds=30),
    "velocity_count_10m": timedelta(minutes=10),
    "velocity_count_1h": timedelta(hours=1),
    "velocity_count_24h": timedelta(hours=24),
}


def _post_in_parallel(token: str, bodies: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def post(body: dict) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            barrier.wait(timeout=30)
            statuses.append(client.post(URL, body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def _stored(account: str) -> list[tuple[Transaction, list[float]]]:
    rows = Transaction.objects.filter(account__number=account).order_by("id")
    scores = dict(TransactionScore.objects.values_list("transaction_id", "features"))
    return [(txn, scores[txn.pk]) for txn in rows]


@pytest.mark.django_db(transaction=True)
def test_same_instant_the_kth_committed_sees_k_minus_1(postgres_required, investigator):
    token = api_key_create(user=investigator, name="tests").key
    when = "2026-03-01T10:15:00Z"
    bodies = [
        transaction_body(id=f"SAME-{i}", account="ACC-RACE", timestamp=when, counterparty="")
        for i in range(THREADS)
    ]

    assert _post_in_parallel(token, bodies) == [201] * THREADS

    stored = _stored("ACC-RACE")
    assert len(stored) == THREADS
    for k, (_txn, features) in enumerate(stored, start=1):
        for name in WINDOWS:
            assert features[FEATURE_INDEX[name]] == k, (name, k)
        assert features[FEATURE_INDEX["history_count"]] == k - 1


@pytest.mark.django_db(transaction=True)
def test_burst_in_30_seconds_matches_commit_order_replay(postgres_required, investigator):
    token = api_key_create(user=investigator, name="tests").key
    start = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    # ten transfers within 27 s, posted at once: arrival order is up to the threads
    bodies = [
        transaction_body(
            id=f"BURST-{i}",
            account="ACC-BURST",
            timestamp=(start + timedelta(seconds=3 * i)).isoformat(),
            amount=f"{100 + i}.00",
        )
        for i in range(THREADS)
    ]

    assert _post_in_parallel(token, bodies) == [201] * THREADS

    stored = _stored("ACC-BURST")
    assert len(stored) == THREADS
    for txn, features in stored:
        earlier = [
            other
            for other, _ in stored
            if other.pk < txn.pk and other.occurred_at <= txn.occurred_at
        ]
        for name, window in WINDOWS.items():
            expected = 1 + sum(1 for o in earlier if o.occurred_at > txn.occurred_at - window)
            assert features[FEATURE_INDEX[name]] == expected, (txn.external_id, name)
        assert features[FEATURE_INDEX["history_count"]] == len(earlier)
        total = sum(float(o.amount) for o in earlier) + float(txn.amount)
        assert features[FEATURE_INDEX["velocity_amount_sum_24h"]] == pytest.approx(total)
    # the last one committed saw every earlier transfer that precedes it in time
    last, last_features = stored[-1]
    preceding = sum(1 for o, _ in stored[:-1] if o.occurred_at <= last.occurred_at)
    assert last_features[FEATURE_INDEX["velocity_count_30s"]] == 1 + preceding
