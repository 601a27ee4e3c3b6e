"""Label files uploaded on the labels page, imported by a Celery worker in parts.

The page only checks what it can at once (the encoding, the header's required columns,
the default source), keeps the file, and queues the import; a file of millions of rows
never holds a web request. The worker reads the file as `manage.py import_labels` does
(detection/labels_import.py) and stores it `SECUREFLOW_LABEL_PART_ROWS` rows at a time:
each part's labels and the import's counts are committed together, under a lock on the
import's row, so a second delivery of the task (a worker killed midway, a worker start
that queues the unfinished imports again) goes on after the last committed part and
counts nothing twice.
"""

import csv
import itertools
import logging
import shutil
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from cases.choices import REPORTED_LABEL_SOURCES, LabelImportStatus
from cases.models import LabelImport
from detection.labels_import import (
    LabelFileError,
    LabelRow,
    RowError,
    decode_label_file,
    iter_label_rows,
    label_file_scan,
    labels_store,
    read_label_rows,
)
from secureflow.core.retention import finished_files_purge
from transactions.batches.results import file_lines
from transactions.csv_cells import spreadsheet_safe_row

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64 * 1024  # read on the page: the header, and the encoding of what follows
ERROR_COLUMNS = ("line", "column", "reason")


def label_import_dir() -> Path:
    return Path(settings.SECUREFLOW_BATCH_DIR) / "labels"


def label_import_errors_dir(import_id: int) -> Path:
    """Every bad row of an import, one CSV file per part (named by its first row)."""
    return label_import_dir() / f"{import_id:08d}-errors"


def label_import_create(
    *, owner: AbstractBaseUser, content: BinaryIO, filename: str, default_source: str
) -> LabelImport:
    """Keep an uploaded label file (copied from `content`, never read whole into memory)
    and queue its import; LabelFileError (nothing kept) when its first 64 KB are not text
    or its header lacks a required column, or the default source is not offered. The file
    is written before the import's row, so no database transaction waits on the copy."""
    from cases.tasks import run_label_import

    if default_source not in REPORTED_LABEL_SOURCES:
        raise LabelFileError(f"'{default_source}' is not a label source")
    sample = content.read(SAMPLE_BYTES)
    whole_lines = sample.rsplit(b"\n", 1)[0] if len(sample) == SAMPLE_BYTES else sample
    read_label_rows(decode_label_file(whole_lines))  # raises for a file that cannot be read
    folder = label_import_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.csv"
    partial = path.with_suffix(".part")
    try:
        with partial.open("wb") as out:
            out.write(sample)
            shutil.copyfileobj(content, out, 1024 * 1024)
        partial.replace(path)
        with transaction.atomic():
            job = LabelImport.objects.create(
                owner=owner,
                original_filename=filename[:255],
                default_source=default_source,
                file_path=str(path),
            )
            transaction.on_commit(lambda: run_label_import.delay(job.pk))
    except BaseException:
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise
    return job


def label_import_run(*, import_id: int) -> LabelImport:
    """Import what is left of a label file (all of it the first time), part by part,
    reading it as a stream (one part in memory at a time)."""
    job = LabelImport.objects.select_related("owner").get(pk=import_id)
    if job.is_finished:
        return job
    LabelImport.objects.filter(pk=job.pk, status=LabelImportStatus.QUEUED).update(
        status=LabelImportStatus.RUNNING, started_at=timezone.now()
    )
    try:
        encoding, total = label_file_scan(job.file_path)
    except (OSError, LabelFileError) as exc:
        return label_import_fail(import_id=job.pk, message=f"The file could not be read: {exc}")
    LabelImport.objects.filter(pk=job.pk).update(rows_total=total)
    part_rows = max(int(settings.SECUREFLOW_LABEL_PART_ROWS), 1)
    with _RowCursor(job.file_path, encoding) as cursor:
        while _import_part(job, cursor, part_rows):
            pass
    return _finish(job.pk)


class _RowCursor:
    """The rows of a label file, read forward as a stream. The committed count never goes
    back, and this delivery's own position is never past it (a part is read and committed
    in one database transaction, or the delivery ends), so a part is always ahead."""

    def __init__(self, path: str, encoding: str) -> None:
        self.stream = open(path, encoding=encoding, newline="")  # noqa: SIM115 - see close
        self.rows = iter_label_rows(self.stream)
        self.position = 0  # rows read so far

    def take(self, start: int, count: int) -> list[LabelRow]:
        """`count` rows from row `start` on (fewer at the end of the file)."""
        skip = start - self.position  # rows another delivery committed meanwhile
        part = list(itertools.islice(self.rows, skip, skip + count))
        self.position = start + len(part)
        return part

    def __enter__(self) -> "_RowCursor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def _import_part(job: LabelImport, cursor: _RowCursor, part_rows: int) -> bool:
    """Store the next part not yet committed (whichever delivery of the task committed
    the ones before it); False when no row is left."""
    with transaction.atomic():
        locked = LabelImport.objects.select_for_update().get(pk=job.pk)
        part = cursor.take(locked.rows_done, part_rows)
        if not part:
            return False
        result = labels_store(
            part,
            default_source=job.default_source,
            created_by=job.owner,
            sources=REPORTED_LABEL_SOURCES,
        )
        if result.errors:  # written again, whole, if this part is done again
            _write_part_errors(job.pk, locked.rows_done, result.errors)
        room = max(LabelImport.ERRORS_KEPT - len(locked.errors), 0)
        locked.errors = locked.errors + [[e.line, e.column, e.reason] for e in result.errors[:room]]
        locked.errors_total += len(result.errors)
        locked.rows_done += len(part)
        locked.rows_stored += result.created
        locked.rows_present += result.already_present
        locked.rows_rejected += len({error.line for error in result.errors})
        locked.save(
            update_fields=[
                "errors",
                "errors_total",
                "rows_done",
                "rows_stored",
                "rows_present",
                "rows_rejected",
            ]
        )
        return True


def _write_part_errors(import_id: int, start: int, errors: Iterable[RowError]) -> None:
    folder = label_import_errors_dir(import_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{start:010d}.csv"
    partial = path.with_suffix(".part")
    with partial.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(
            spreadsheet_safe_row((e.line, e.column, e.reason)) for e in errors
        )
    partial.replace(path)


def label_import_error_file(job: LabelImport) -> Iterator[bytes]:
    """Every bad row of the committed parts of `job`, as CSV (line, column, reason) in
    file order: a part's file left by a delivery that did not commit is not read."""
    yield (",".join(ERROR_COLUMNS) + "\r\n").encode()
    folder = label_import_errors_dir(job.pk)
    for path in sorted(folder.glob("part-*.csv")) if folder.is_dir() else ():
        if int(path.stem.removeprefix("part-")) < job.rows_done:
            yield from file_lines(path)


def label_import_files_purge(*, finished_before: datetime, dry_run: bool = False) -> int:
    """Remove the error files of the imports finished before `finished_before` (file
    retention; the file itself went when the import ended); how many imports. The import's
    row stays, with its counts and its first errors."""
    return finished_files_purge(
        LabelImport.objects.only("pk"),
        finished=(LabelImportStatus.DONE, LabelImportStatus.FAILED),
        finished_before=finished_before,
        remove=lambda job: shutil.rmtree(label_import_errors_dir(job.pk), ignore_errors=True),
        dry_run=dry_run,
    )


def _finish(import_id: int) -> LabelImport:
    return _close(import_id, status=LabelImportStatus.DONE)


def label_import_fail(*, import_id: int, message: str) -> LabelImport:
    """Mark an unfinished import failed (the parts committed so far stay stored)."""
    logger.warning("Label import %s failed: %s", import_id, message)
    return _close(import_id, status=LabelImportStatus.FAILED, failure=message[:2000])


def _close(import_id: int, *, status: str, failure: str = "") -> LabelImport:
    """End an unfinished import with `status` and delete its file (after the commit)."""
    with transaction.atomic():
        job = LabelImport.objects.select_for_update().get(pk=import_id)
        if job.is_finished:
            return job
        path = job.file_path
        job.status, job.failure, job.file_path = status, failure, ""
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "failure", "file_path", "finished_at"])
        if path:
            transaction.on_commit(lambda: Path(path).unlink(missing_ok=True))
    return job
