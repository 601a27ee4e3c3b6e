"""Chunks of one batch are processed at the same time by different workers (a chunk locks
its own row only), and a row stored by someone else between preparation and its chunk is
skipped as a duplicate, never stored twice or scored for this batch."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from detection.models import TransactionScore
from tests.conftest import require
from transactions.batches import services
from transactions.batches.services import (
    import_batch_create,
    import_batch_prepare,
    import_batch_run,
    import_chunk_process,
)
from transactions.choices import BatchSource, BatchStatus, ChunkStatus
from transactions.models import Account, Customer, ImportBatch, ImportBatchChunk, Transaction

HEADER = "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel"


pytestmark = pytest.mark.usefixtures("batch_settings")


def csv_text(prefix: str, rows: int) -> bytes:
    return (
        f"{HEADER}\n"
        + "".join(
            f"{prefix}{i},2026-03-01T10:{i // 60:02d}:{i % 60:02d}Z,C{i % 4},AE-{i % 4},"
            f"BEN-{i % 7},{10 + i}.00,AED,L,AE,web\n"
            for i in range(rows)
        )
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_two_chunks_of_a_batch_are_processed_at_the_same_time(monkeypatch):
    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    batch = import_batch_create(
        owner=None,
        source=BatchSource.CLI,
        content=csv_text("P", 20),
        chunk_size=10,
        enqueue=False,
    )
    assert import_batch_prepare(batch_id=batch.pk) is True
    first, second = ImportBatchChunk.objects.filter(batch=batch).order_by("index")

    inside_first = threading.Event()
    release_first = threading.Event()
    process = services._process_chunk

    def held(batch, chunk):
        if chunk.pk == first.pk:  # hold the first chunk's transaction open
            inside_first.set()
            assert release_first.wait(30)
        return process(batch, chunk)

    monkeypatch.setattr(services, "_process_chunk", held)
    errors: list[BaseException] = []

    def run_first() -> None:
        try:
            import_chunk_process(chunk_id=first.pk)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run_first)
    worker.start()
    try:
        assert inside_first.wait(30)
        # the first chunk's transaction is open and holds its lock: the second one is
        # processed and committed meanwhile (it would wait if the batch row were locked)
        done = threading.Event()
        result: list = []

        def run_second() -> None:
            try:
                result.append(import_chunk_process(chunk_id=second.pk))
            finally:
                done.set()
                connections.close_all()

        second_worker = threading.Thread(target=run_second)
        second_worker.start()
        assert done.wait(30), "the second chunk waited for the first one"
        second_worker.join(30)
        assert result and result[0].imported == 10 and not result[0].skipped
        assert ImportBatchChunk.objects.get(pk=second.pk).status == ChunkStatus.DONE
    finally:
        release_first.set()
        worker.join(60)
    assert not errors
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert (batch.rows_imported, batch.rows_scored, batch.chunks_done) == (20, 20, 2)
    assert TransactionScore.objects.filter(transaction__import_batch=batch).count() == 20


@pytest.mark.django_db
def test_a_row_stored_by_someone_else_after_preparation_is_a_duplicate():
    batch = import_batch_create(
        owner=None,
        source=BatchSource.CLI,
        content=csv_text("D", 12),
        chunk_size=5,
        enqueue=False,
    )
    assert import_batch_prepare(batch_id=batch.pk) is True
    # another import (or the API) stores row D6 before its chunk runs
    other = Transaction.objects.create(
        external_id="D6",
        account=Account.objects.get(number="AE-2"),
        amount=Decimal("1.00"),
        occurred_at="2026-03-01T09:00:00Z",
    )
    batch = import_batch_run(batch_id=batch.pk)

    assert batch.status == BatchStatus.DONE
    assert (batch.rows_total, batch.rows_imported, batch.rows_duplicate) == (12, 11, 1)
    assert batch.rows_scored == 11
    assert Transaction.objects.filter(external_id="D6").count() == 1
    other.refresh_from_db()
    assert other.import_batch_id is None and other.amount == Decimal("1.00")
    assert not TransactionScore.objects.filter(transaction=other).exists()
    mine = Transaction.objects.filter(import_batch=batch)
    assert mine.count() == 11
    assert TransactionScore.objects.filter(transaction__in=mine).count() == 11
    assert ImportBatch.objects.get(pk=batch.pk).rows_done == 12


@pytest.mark.django_db
def test_objects_inserted_in_one_statement_skip_stored_keys_and_get_their_ids():
    from django.utils import timezone

    from cases.models import Case, CaseEvent
    from transactions.fast_insert import insert_objects_postgresql

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    customer = Customer.objects.create(external_id="C-F", name="C-F")
    account = Account.objects.create(number="AE-F", customer=customer)
    now = timezone.now()
    txns = [
        Transaction.objects.create(
            external_id=f"F{i}", account=account, amount=Decimal("5.00"), occurred_at=now
        )
        for i in range(3)
    ]

    def case(txn: Transaction) -> Case:
        return Case(
            transaction=txn,
            outcome="review",
            risk_score=0.5,
            amount=txn.amount,
            priority=2.5,
            occurred_at=now,
            opened_at=now,
            sla_due_at=now,
        )

    existing = case(txns[1])
    existing.save()
    created = insert_objects_postgresql(
        connection, [case(t) for t in txns], conflict_field="transaction"
    )
    assert sorted(c.transaction_id for c in created) == [txns[0].pk, txns[2].pk]
    assert all(c.pk and not c._state.adding for c in created)
    assert Case.objects.count() == 3 and Case.objects.get(pk=existing.pk).transaction == txns[1]
    events = insert_objects_postgresql(
        connection,
        [CaseEvent(case=c, kind="opened", after={"status": "open", "n": [1, 2]}) for c in created],
    )
    assert [e.case_id for e in events] == [c.pk for c in created]
    stored = CaseEvent.objects.get(pk=events[0].pk)
    assert stored.after == {"status": "open", "n": [1, 2]} and stored.before == {}
