"""Retries of one label arriving together on PostgreSQL: real threads, real connections."""

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from cases.feedback import LabelRequest, feedback_label_record
from cases.models import FeedbackLabel
from secureflow.core.idempotency import IdempotencyConflict
from tests.conftest import require
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)
SENDERS = 8


def _transaction(external_id: str, account) -> Transaction:
    return Transaction.objects.create(
        external_id=external_id,
        account=account,
        amount="50.00",
        occurred_at=timezone.now(),
        transfer_type="Q",
        country="AE",
        channel="web",
    )


def _send_together(requests: list[tuple[LabelRequest, str | None]], client) -> list[object]:
    start = threading.Barrier(len(requests))
    outcomes: list[object] = [None] * len(requests)

    def send(i: int) -> None:
        request, key = requests[i]
        try:
            start.wait(timeout=30)
            outcomes[i] = feedback_label_record(request=request, client=client, idempotency_key=key)
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            outcomes[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_retries_sent_together_store_one_label(make_user, customer_account):
    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    client = make_user("cards-system")
    txn = _transaction("T-1", customer_account[1])
    with_key = LabelRequest(txn=txn, is_fraud=True, source="chargeback", known_at=None, note="")
    known_at = timezone.now().replace(microsecond=0)
    same_fact = LabelRequest(txn=txn, is_fraud=False, source="api", known_at=known_at, note="")

    keyed = _send_together([(with_key, "cb-1")] * SENDERS, client)
    unkeyed = _send_together([(same_fact, None)] * SENDERS, client)

    for outcomes in (keyed, unkeyed):
        assert all(not isinstance(o, BaseException) for o in outcomes), outcomes
        assert sum(o.created for o in outcomes) == 1
        assert len({o.label.pk for o in outcomes}) == 1
    assert FeedbackLabel.objects.count() == 2


def test_one_key_sent_for_two_transactions_together_stores_one(make_user, customer_account):
    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    client = make_user("cards-system")
    account = customer_account[1]
    first, second = _transaction("T-1", account), _transaction("T-2", account)
    requests = [
        (LabelRequest(txn=txn, is_fraud=True, source="chargeback", known_at=None, note=""), "k")
        for txn in [first, second] * (SENDERS // 2)
    ]

    outcomes = _send_together(requests, client)

    stored = FeedbackLabel.objects.get()
    created = [o for o in outcomes if not isinstance(o, BaseException) and o.created]
    conflicts = [o for o in outcomes if isinstance(o, IdempotencyConflict)]
    replays = [o for o in outcomes if not isinstance(o, BaseException) and not o.created]
    assert len(created) == 1
    assert len(created) + len(conflicts) + len(replays) == SENDERS
    assert len(conflicts) == SENDERS // 2  # every request for the other transaction
    assert all(o.label.pk == stored.pk for o in replays)
