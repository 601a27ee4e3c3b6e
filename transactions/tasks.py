"""Celery tasks of the transactions app: batches. Each takes an id and calls one service.

`run_import_batch` coordinates: it prepares the batch (once) and fans out one
`process_import_chunk` per chunk not done yet. Messages are acknowledged after the task
(acks_late), so a task whose worker died is delivered again; a chunk is processed in one
database transaction and marked done in it, so a second delivery of a done chunk does
nothing. A worker that starts queues the unfinished batches again (`resume_import_batches`),
which picks up the chunk a killed worker was in the middle of; the beat schedule queues
again the batches without progress for 15 minutes (`resume_stalled_batches`).
"""

import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, InterfaceError, OperationalError

from transactions.batches.services import (
    import_batch_dispatch,
    import_batch_fail,
    import_batches_resume,
    import_chunk_process,
)

logger = logging.getLogger(__name__)

RETRY_ON = (OperationalError, InterfaceError)
STALLED_MINUTES = 15.0
RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": RETRY_ON,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


class BatchTask(Task):
    """Marks the batch failed when a task gives up (after its retries)."""

    abstract = True

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        batch_id = self.batch_id_for(*args, **kwargs)
        if batch_id is None:
            return
        try:
            import_batch_fail(batch_id=batch_id, message=f"{type(exc).__name__}: {exc}")
        except DatabaseError:
            logger.exception("Could not mark batch %s failed", batch_id)

    def batch_id_for(self, *args: Any, **kwargs: Any) -> int | None:
        return None


class RunBatchTask(BatchTask):
    def batch_id_for(self, batch_id: int, *args: Any, **kwargs: Any) -> int | None:
        return batch_id


class ChunkTask(BatchTask):
    def batch_id_for(self, chunk_id: int, *args: Any, **kwargs: Any) -> int | None:
        from transactions.models import ImportBatchChunk

        return (
            ImportBatchChunk.objects.filter(pk=chunk_id).values_list("batch_id", flat=True).first()
        )


@shared_task(base=RunBatchTask, time_limit=4 * 3600, soft_time_limit=4 * 3600 - 60, **RETRY)
def run_import_batch(batch_id: int) -> list[int]:
    """Prepare a batch and queue its chunks."""
    return import_batch_dispatch(batch_id=batch_id)


@shared_task(base=ChunkTask, time_limit=1800, soft_time_limit=1740, **RETRY)
def process_import_chunk(chunk_id: int) -> dict[str, int | bool]:
    """Import (and score) one chunk of a batch."""
    result = import_chunk_process(chunk_id=chunk_id)
    return {"imported": result.imported, "scored": result.scored, "skipped": result.skipped}


@shared_task(acks_late=True)
def resume_import_batches() -> list[int]:
    """Queue the unfinished batches again."""
    return import_batches_resume()


@shared_task(acks_late=True)
def resume_stalled_batches(minutes: float = STALLED_MINUTES) -> list[int]:
    """Queue again the unfinished batches without progress for a while (beat schedule)."""
    return import_batches_resume(stalled_for=timedelta(minutes=minutes))


@worker_ready.connect
def _resume_on_worker_start(sender: Any = None, **kwargs: Any) -> None:
    try:
        resume_import_batches.delay()
    except Exception:  # the broker is down: the next worker start will try again
        logger.exception("Could not queue the resumption of unfinished batches")
