"""File retention: the files of batches and label imports finished long ago are removed
(by the daily task or the command); their rows stay and their downloads answer 410."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from cases.label_imports import label_import_create, label_import_run
from cases.models import LabelImport
from secureflow.core.retention import old_files_purge
from secureflow.core.tasks import purge_old_files
from tests.workspace.conftest import login
from transactions.batches.services import import_batch_create, import_batch_run
from transactions.choices import BatchSource, BatchStatus
from transactions.models import ImportBatch

HEADER = "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel"
ROWS = (
    "R1,2026-03-01T10:00:00Z,C1,AE-1,BEN-1,50.00,AED,L,AE,web\n"
    "R2,not-a-time,C1,AE-1,BEN-1,5.00,AED,L,AE,web\n"
)


@pytest.fixture
def files(settings, tmp_path):
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    settings.SECUREFLOW_FILE_RETENTION_DAYS = 30
    return settings


def finished_batch(owner, *, days_ago: float, name: str) -> ImportBatch:
    batch = import_batch_create(
        owner=owner,
        source=BatchSource.API,
        content=f"{HEADER}\n{ROWS.replace('R', name)}".encode(),
        original_filename=f"{name}.csv",
        enqueue=False,
    )
    batch = import_batch_run(batch_id=batch.pk)
    assert batch.status == BatchStatus.DONE and batch.rows_rejected == 1
    ImportBatch.objects.filter(pk=batch.pk).update(
        finished_at=timezone.now() - timedelta(days=days_ago)
    )
    return ImportBatch.objects.get(pk=batch.pk)


def finished_label_import(owner, *, days_ago: float) -> LabelImport:
    job = label_import_create(
        owner=owner,
        content=io.BytesIO(b"transaction_id,label,reported_at,source,note\nNOPE-1,fraud,,,\n"),
        filename="cb.csv",
        default_source="chargeback",
    )
    job = label_import_run(import_id=job.pk)
    assert job.rows_rejected == 1
    LabelImport.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - timedelta(days=days_ago)
    )
    return LabelImport.objects.get(pk=job.pk)


def errors_dir(job: LabelImport) -> Path:
    return Path(django_settings.SECUREFLOW_BATCH_DIR) / "labels" / f"{job.pk:08d}-errors"


@pytest.mark.django_db
def test_old_files_go_recent_and_unfinished_ones_stay(files, investigator, investigator_api):
    old = finished_batch(investigator, days_ago=31, name="O")
    recent = finished_batch(investigator, days_ago=29, name="N")
    running = import_batch_create(
        owner=investigator,
        source=BatchSource.API,
        content=f"{HEADER}\n{ROWS.replace('R', 'U')}".encode(),
        enqueue=False,
    )
    ImportBatch.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=60))
    old_labels = finished_label_import(investigator, days_ago=40)
    recent_labels = finished_label_import(investigator, days_ago=1)
    old_folder = Path(old.input_path).parent
    assert old_folder.is_dir() and Path(old.errors_path).exists()
    assert errors_dir(old_labels).is_dir()

    assert purge_old_files() == {"batches": 1, "label_imports": 1}  # the daily task

    assert not old_folder.exists()
    assert Path(recent.input_path).exists() and Path(recent.errors_path).exists()
    assert Path(running.input_path).exists()  # unfinished, however old
    assert not errors_dir(old_labels).exists()
    assert errors_dir(recent_labels).is_dir()
    old.refresh_from_db()
    assert old.files_removed_at is not None
    assert (old.rows_imported, old.rows_rejected) == (1, 1)  # the row and its counts stay
    assert old.error_summary["first"][0]["column"] == "timestamp"
    assert ImportBatch.objects.get(pk=recent.pk).files_removed_at is None

    # the downloads say what happened; results still come from the stored transactions
    gone = investigator_api.get(f"/api/v1/batches/{old.pk}/errors.csv")
    assert gone.status_code == 410
    assert gone.json()["code"] == "files_removed"
    # the job finished 31 days before the purge: the message says so (not the setting)
    assert "31 days after its job finished (file retention" in gone.json()["detail"]
    results = investigator_api.get(f"/api/v1/batches/{old.pk}/results.csv")
    assert results.status_code == 200
    assert b"O1" in b"".join(results.streaming_content)
    assert investigator_api.get(f"/api/v1/batches/{old.pk}/").json()["files_removed_at"]
    assert investigator_api.get(f"/api/v1/batches/{recent.pk}/errors.csv").status_code == 200
    page = login(investigator)
    labels_gone = page.get(f"/cases/labels/imports/{old_labels.pk}/errors.csv")
    assert labels_gone.status_code == 410
    assert b"40 days after its job finished" in labels_gone.content
    assert b"was removed on" in page.get(f"/cases/labels/imports/{old_labels.pk}/").content
    assert page.get(f"/cases/labels/imports/{recent_labels.pk}/errors.csv").status_code == 200
    assert b"were removed on" in page.get(f"/batches/{old.pk}/").content
    assert b"download-errors" in page.get(f"/batches/{recent.pk}/").content

    # a second pass finds nothing more to remove
    assert purge_old_files() == {"batches": 0, "label_imports": 0}


@pytest.mark.django_db
def test_the_command_counts_first_with_dry_run_and_zero_days_keep_everything(
    files, investigator, capsys
):
    old = finished_batch(investigator, days_ago=10, name="D")
    call_command("purge_files", "--older-than-days", "5", "--dry-run")
    assert "Would remove the files of 1 batches and 0 label imports" in capsys.readouterr().out
    assert Path(old.input_path).exists()

    call_command("purge_files")  # the setting: 30 days
    assert "Removed the files of 0 batches" in capsys.readouterr().out
    assert Path(old.input_path).exists()

    files.SECUREFLOW_FILE_RETENTION_DAYS = 0
    assert old_files_purge().batches == 0
    call_command("purge_files")
    assert "files are kept" in capsys.readouterr().out
    assert Path(old.input_path).exists()

    call_command("purge_files", "--older-than-days", "5")
    assert "Removed the files of 1 batches" in capsys.readouterr().out
    assert not Path(old.input_path).parent.exists()


def test_the_daily_task_is_scheduled():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["files-purge-old"]
    assert schedule["task"] == "secureflow.core.tasks.purge_old_files"
    assert schedule["schedule"] == 86400.0
