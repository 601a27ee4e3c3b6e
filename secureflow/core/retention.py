"""File retention: the files of batches and label imports that finished long ago.

Uploaded batch files, their CSVs of rejected rows and the error files of label imports stay
under `SECUREFLOW_BATCH_DIR` for `SECUREFLOW_FILE_RETENTION_DAYS` days after their job
finished (default 90; 0 keeps them for ever). A daily Celery beat task
(`secureflow.core.tasks.purge_old_files`) and `python manage.py purge_files` remove older
ones. The jobs' rows stay, with their counts and first errors; their downloads of rejected
rows then answer 410 Gone, saying when the file was removed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone


@dataclass(frozen=True)
class PurgeReport:
    days: int
    batches: int
    label_imports: int


def files_removed_message(job: Model) -> str:
    """What a download of a job's removed file answers (410 Gone)."""
    day = timezone.localtime(job.files_removed_at).date().isoformat()
    age = (job.files_removed_at - job.finished_at).days
    return (
        f"This file was removed on {day}, {age} days after its job finished (file retention, "
        "SECUREFLOW_FILE_RETENTION_DAYS); the counts and the first rejected rows are kept."
    )


def finished_files_purge(
    jobs: QuerySet,
    *,
    finished: tuple[str, ...],
    finished_before: datetime,
    remove: Callable[[Any], None],
    dry_run: bool = False,
) -> int:
    """Call `remove` on each job of `jobs` in a `finished` status since before
    `finished_before` whose files are still there, and stamp its `files_removed_at`; how
    many jobs (with `dry_run`, counted only)."""
    stale = jobs.filter(
        status__in=finished, finished_at__lt=finished_before, files_removed_at__isnull=True
    )
    count = 0
    for job in stale.iterator(chunk_size=500):
        count += 1
        if not dry_run:
            remove(job)
            type(job).objects.filter(pk=job.pk).update(files_removed_at=timezone.now())
    return count


def retention_days() -> int:
    return int(settings.SECUREFLOW_FILE_RETENTION_DAYS)


def old_files_purge(*, days: int | None = None, dry_run: bool = False) -> PurgeReport:
    """Remove the files of the jobs finished more than `days` (default: the setting) ago;
    with `days` 0, nothing (the files are kept for ever)."""
    # imported here: both call finished_files_purge of this module
    from cases.label_imports import label_import_files_purge
    from transactions.batches.retention import batch_files_purge

    days = retention_days() if days is None else days
    if days <= 0:
        return PurgeReport(days=days, batches=0, label_imports=0)
    before = timezone.now() - timedelta(days=days)
    return PurgeReport(
        days=days,
        batches=batch_files_purge(finished_before=before, dry_run=dry_run),
        label_imports=label_import_files_purge(finished_before=before, dry_run=dry_run),
    )
