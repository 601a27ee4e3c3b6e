"""Celery tasks of the cases app: label files. Each takes an id and calls one service.

Messages are acknowledged after the task (acks_late), so the import of a worker that died
is delivered again; the import goes on after its last committed part
(cases/label_imports.py). A worker that starts queues the unfinished imports again.
"""

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, InterfaceError, OperationalError

from cases.label_imports import label_import_fail, label_import_run
from cases.selectors import label_imports_unfinished

logger = logging.getLogger(__name__)


class LabelImportTask(Task):
    """Marks the import failed when the task gives up (after its retries)."""

    abstract = True

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        import_id = args[0] if args else kwargs.get("import_id")
        try:
            label_import_fail(import_id=import_id, message=f"{type(exc).__name__}: {exc}")
        except DatabaseError:
            logger.exception("Could not mark label import %s failed", import_id)


@shared_task(
    base=LabelImportTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    time_limit=4 * 3600,
    soft_time_limit=4 * 3600 - 60,
)
def run_label_import(import_id: int) -> int:
    return label_import_run(import_id=import_id).rows_done


@shared_task
def resume_label_imports() -> list[int]:
    unfinished = label_imports_unfinished()
    for import_id in unfinished:
        run_label_import.delay(import_id)
    return unfinished


@worker_ready.connect
def _resume_on_worker_start(sender: Any = None, **kwargs: Any) -> None:
    try:
        resume_label_imports.delay()
    except Exception:  # the broker is down: the next worker start will try again
        logger.exception("Could not queue the resumption of unfinished label imports")
