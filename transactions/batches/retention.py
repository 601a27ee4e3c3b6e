"""Removing the files of batches finished long ago (file retention).

A finished batch keeps its folder (the file as received and the CSV of rejected rows) until
`SECUREFLOW_FILE_RETENTION_DAYS` after it finished; then `batch_files_purge` removes the
folder and stamps `files_removed_at`. The batch's row stays: its counts, the first rejected
rows (`error_summary`) and its transactions and scores (`results.csv` is read from them).
"""

from datetime import datetime
from pathlib import Path

from django.utils import timezone

from transactions.batches import storage
from transactions.choices import BatchStatus
from transactions.models import ImportBatch


def batch_files_purge(*, finished_before: datetime, dry_run: bool = False) -> int:
    """Remove the folders of the batches finished before `finished_before`; how many."""
    batches = ImportBatch.objects.filter(
        status__in=(BatchStatus.DONE, BatchStatus.FAILED),
        finished_at__lt=finished_before,
        files_removed_at__isnull=True,
    ).only("pk", "input_path")
    count = 0
    for batch in batches.iterator(chunk_size=500):
        count += 1
        if dry_run:
            continue
        folder = Path(batch.input_path).parent if batch.input_path else None
        # the batch's own folder (named by its id, as storage.batch_dir names it), never more
        if folder is not None and folder.name == storage.batch_dir(batch.pk).name:
            storage.remove_tree(folder)
        ImportBatch.objects.filter(pk=batch.pk).update(files_removed_at=timezone.now())
    return count
