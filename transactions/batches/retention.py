"""Removing the files of batches finished long ago (file retention).

A finished batch keeps its folder (the file as received and the CSV of rejected rows) until
`SECUREFLOW_FILE_RETENTION_DAYS` after it finished; then `batch_files_purge` removes the
folder and stamps `files_removed_at`. The batch's row stays: its counts, the first rejected
rows (`error_summary`) and its transactions and scores (`results.csv` is read from them).
"""

from datetime import datetime
from pathlib import Path

from secureflow.core.retention import finished_files_purge
from transactions.batches import storage
from transactions.choices import BatchStatus
from transactions.models import ImportBatch


def _remove_folder(batch: ImportBatch) -> None:
    folder = Path(batch.input_path).parent if batch.input_path else None
    # the batch's own folder (named by its id, as storage.batch_dir names it), never more
    if folder is not None and folder.name == storage.batch_dir(batch.pk).name:
        storage.remove_tree(folder)


def batch_files_purge(*, finished_before: datetime, dry_run: bool = False) -> int:
    """Remove the folders of the batches finished before `finished_before`; how many."""
    return finished_files_purge(
        ImportBatch.objects.only("pk", "input_path"),
        finished=(BatchStatus.DONE, BatchStatus.FAILED),
        finished_before=finished_before,
        remove=_remove_folder,
        dry_run=dry_run,
    )
