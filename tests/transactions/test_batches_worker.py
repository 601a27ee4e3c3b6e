"""A batch in real Celery worker processes (Redis broker, PostgreSQL): the worker is killed
(SIGKILL) in the middle of the batch, a new worker finishes it, and every row is imported
and scored exactly once."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from detection.models import TransactionScore
from tests.conftest import require, wait_for
from transactions.batches.services import import_batch_create
from transactions.choices import BatchSource, BatchStatus, ChunkStatus
from transactions.demo_data import generate_demo_bank, write_canonical_csv
from transactions.models import ImportBatch, ImportBatchChunk, Transaction

CHUNK_ROWS = 40  # small chunks: the batch takes many of them, so a kill lands mid-way


def chunks_done(batch_id: int) -> int:
    return ImportBatchChunk.objects.filter(batch_id=batch_id, status=ChunkStatus.DONE).count()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_mid_batch_then_new_worker_completes_it_exactly_once(
    redis_broker, celery_worker_factory, tmp_path, settings
):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    bank = generate_demo_bank(
        customers=60, days=60, seed=21, end=timezone.localdate() + timedelta(days=1)
    )
    frame = bank.transactions.iloc[:4000]
    path = tmp_path / "batch.csv"
    write_canonical_csv(frame, path)

    first = celery_worker_factory(redis_broker, SECUREFLOW_MODEL_DIR=str(tmp_path / "models"))
    batch = import_batch_create(
        owner=None, source=BatchSource.CLI, content=path, chunk_size=CHUNK_ROWS
    )  # queued for the workers once committed (this test commits: transaction=True)

    total = wait_for(
        lambda: ImportBatch.objects.get(pk=batch.pk).chunks_total,
        timeout=240,
        interval=0.2,
        worker=first,
    )
    assert total == 100
    wait_for(lambda: chunks_done(batch.pk) >= 5, timeout=240, interval=0.05, worker=first)
    first.kill()  # SIGKILL: no clean shutdown, the chunk in hand is lost with the process
    assert first.proc.returncode == -9
    done_at_kill = chunks_done(batch.pk)
    assert 5 <= done_at_kill < total, "the kill must land in the middle of the batch"
    assert ImportBatch.objects.get(pk=batch.pk).status == BatchStatus.RUNNING
    # what the killed worker committed is whole chunks: imported rows == done chunks' rows
    assert Transaction.objects.filter(import_batch=batch).count() == done_at_kill * CHUNK_ROWS

    second = celery_worker_factory(redis_broker, SECUREFLOW_MODEL_DIR=str(tmp_path / "models"))
    wait_for(
        lambda: ImportBatch.objects.get(pk=batch.pk).status == BatchStatus.DONE,
        timeout=300,
        interval=0.5,
        worker=second,
    )
    batch.refresh_from_db()
    assert (batch.rows_total, batch.rows_imported, batch.rows_rejected) == (4000, 4000, 0)
    assert batch.rows_duplicate == 0 and batch.rows_scored == 4000
    assert batch.rows_done == batch.rows_total and batch.chunks_done == total
    assert chunks_done(batch.pk) == total

    imported = Transaction.objects.filter(import_batch=batch)
    assert imported.count() == 4000
    assert set(imported.values_list("external_id", flat=True)) == set(frame["id"])
    scores = TransactionScore.objects.filter(transaction__import_batch=batch)
    assert scores.count() == 4000
    doubled = scores.values("transaction_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not doubled.exists()
    assert not imported.filter(score__isnull=True).exists()
    log = second.log()
    assert "resume_import_batches" in log  # the new worker queued the unfinished batch again
    assert "process_import_chunk" in log and "succeeded" in log
