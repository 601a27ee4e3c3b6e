"""Label files imported in the background: who sees an import, its page while it runs, a
delivery that dies midway and the next one that finishes it (every row counted once,
stored at most once), and a real Celery worker killed in the middle of a file."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count

from cases import label_imports
from cases.choices import LabelImportStatus
from cases.label_imports import label_import_create, label_import_run
from cases.models import FeedbackLabel, LabelImport
from secureflow.core import roles
from tests.conftest import require, wait_for
from tests.workspace.conftest import login
from transactions.models import Account, Customer, Transaction

HEADER = "transaction_id,label,reported_at,source,note\n"
OCCURRED = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def make_transactions(count: int) -> None:
    account = Account.objects.create(
        customer=Customer.objects.create(external_id="C-1", name="Layla Haddad"), number="AE-1"
    )
    Transaction.objects.bulk_create(
        Transaction(
            external_id=f"TX-{n}",
            account=account,
            amount=Decimal("250.00"),
            occurred_at=OCCURRED + timedelta(minutes=n),
        )
        for n in range(count)
    )


def label_file(count: int, *, bad_every: int = 0) -> bytes:
    lines = [HEADER]
    for n in range(count):
        txn = f"TX-{n}" if not bad_every or n % bad_every else f"NOPE-{n}"
        lines.append(f"{txn},{'fraud' if n % 3 == 0 else 'legitimate'},2026-04-01T09:00:00Z,,\n")
    return "".join(lines).encode()


@pytest.fixture
def label_dir(settings, tmp_path):
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    return settings.SECUREFLOW_BATCH_DIR / "labels"


def create(owner, content: bytes, name: str = "cb.csv") -> LabelImport:
    return label_import_create(
        owner=owner, content=io.BytesIO(content), filename=name, default_source="chargeback"
    )


@pytest.mark.django_db
def test_an_import_is_seen_by_its_owner_and_admins_only(make_user, investigator, label_dir):
    make_transactions(2)
    job = create(investigator, label_file(2))
    url = f"/cases/labels/imports/{job.pk}/"

    assert login(investigator).get(url).status_code == 200
    assert login(make_user("admin-ada", roles.ADMIN)).get(url).status_code == 200
    assert login(make_user("otto")).get(url).status_code == 404  # another investigator's
    assert login(make_user("nobody", role=None)).get(url).status_code == 403
    from django.test import Client

    assert Client().get(url).status_code == 302  # to sign-in
    listing = login(make_user("olga")).get("/cases/labels/").content.decode()
    assert url not in listing


@pytest.mark.django_db
def test_the_page_polls_while_the_import_waits_and_stops_when_it_is_done(
    investigator, label_dir, django_capture_on_commit_callbacks
):
    make_transactions(3)
    job = create(investigator, label_file(3))
    client = login(investigator)
    url = f"/cases/labels/imports/{job.pk}/"
    assert Path(job.file_path).parent == label_dir

    waiting = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert waiting.lstrip().startswith('<section id="label-import-status"')
    assert 'hx-trigger="every 1s"' in waiting and "waiting for a worker" in waiting

    with django_capture_on_commit_callbacks(execute=True):
        label_import_run(import_id=job.pk)
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and 'data-status="done"' in done
    assert "3 rows: 3 labels stored, 0 already present, 0 rejected." in done
    assert not Path(job.file_path).exists()  # the file goes once imported


def error_file(client, job: LabelImport) -> list[str]:
    response = client.get(f"/cases/labels/imports/{job.pk}/errors.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="labels-{job.pk}-errors.csv"'
    return b"".join(response.streaming_content).decode().splitlines()


@pytest.mark.django_db
def test_a_delivery_that_dies_midway_is_finished_by_the_next_exactly_once(
    investigator, label_dir, settings, monkeypatch
):
    settings.SECUREFLOW_LABEL_PART_ROWS = 4
    make_transactions(10)
    job = create(investigator, label_file(10, bad_every=7))  # rows 0 and 7 are bad
    real_write = label_imports._write_part_errors
    calls = []

    def dies_after_the_second_parts_errors(*args, **kwargs):
        real_write(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # its error file is written, its labels not committed
            raise ConnectionError("worker lost")

    monkeypatch.setattr(label_imports, "_write_part_errors", dies_after_the_second_parts_errors)
    with pytest.raises(ConnectionError):
        label_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done) == (LabelImportStatus.RUNNING, 10, 4)
    assert FeedbackLabel.objects.count() == 3  # the first part only: rows 1-3
    client = login(investigator)
    header = "line,column,reason"
    # the second part's file is there, but not committed: not in the download
    assert error_file(client, job) == [header, "2,transaction_id,no transaction 'NOPE-0'"]

    label_import_run(import_id=job.pk)  # the task delivered again
    label_import_run(import_id=job.pk)  # and once more, after it is done: nothing

    job.refresh_from_db()
    assert job.status == LabelImportStatus.DONE
    assert (job.rows_done, job.rows_stored, job.rows_present, job.rows_rejected) == (10, 8, 0, 2)
    assert job.rows_stored + job.rows_present + job.rows_rejected == job.rows_total
    assert job.errors == [
        [2, "transaction_id", "no transaction 'NOPE-0'"],
        [9, "transaction_id", "no transaction 'NOPE-7'"],
    ]
    assert FeedbackLabel.objects.count() == 8
    assert FeedbackLabel.objects.filter(created_by=investigator, source="chargeback").count() == 8
    assert error_file(client, job) == [
        header,
        "2,transaction_id,no transaction 'NOPE-0'",
        "9,transaction_id,no transaction 'NOPE-7'",
    ]


@pytest.mark.django_db
def test_only_the_first_errors_are_kept_on_the_page_and_all_are_in_the_file(
    investigator, label_dir, monkeypatch
):
    monkeypatch.setattr(LabelImport, "ERRORS_KEPT", 3)
    job = create(investigator, label_file(5))  # no transactions: every row is bad
    label_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.rows_rejected, job.errors_total, len(job.errors)) == (5, 5, 3)
    client = login(investigator)
    page = client.get(f"/cases/labels/imports/{job.pk}/").content.decode()
    assert "5 errors in all; the first 3 are listed." in page
    assert "Download all 5 errors" in page
    lines = error_file(client, job)  # every one of them
    assert [line.split(",")[0] for line in lines] == ["line", "2", "3", "4", "5", "6"]


@pytest.mark.django_db
def test_a_file_gone_before_the_worker_reads_it_fails_the_import(investigator, label_dir):
    job = create(investigator, label_file(1))
    Path(job.file_path).unlink()
    label_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert job.status == LabelImportStatus.FAILED
    assert job.failure.startswith("The file could not be read:")
    page = login(investigator).get(f"/cases/labels/imports/{job.pk}/").content.decode()
    assert 'id="label-import-failure"' in page


@pytest.mark.django_db
def test_a_large_file_is_checked_at_once_in_part_and_read_whole_by_the_worker(
    investigator, label_dir
):
    """The page reads the first 64 KB (cut at a line end, so a character split there is not
    an error); the worker reads all of it as a stream."""
    make_transactions(2000)
    rows = "".join(
        f"TX-{n},fraud,2026-04-01T09:00:00Z,,Kunde bestätigt – Nr. {n} äöü\n" for n in range(2000)
    )
    content = (HEADER + rows).encode()
    assert len(content) > 2 * 64 * 1024
    job = create(investigator, content)
    label_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_stored) == ("done", 2000, 2000)
    assert FeedbackLabel.objects.get(transaction__external_id="TX-1999").note == (
        "Kunde bestätigt – Nr. 1999 äöü"
    )

    # a byte that is neither UTF-8 nor Windows-1252 past what the page reads: the import
    # fails with the reason, nothing is stored
    broken = create(investigator, content + b"TX-1,fraud,2026-04-02T09:00:00Z,,\x81\n")
    label_import_run(import_id=broken.pk)
    broken.refresh_from_db()
    assert broken.status == LabelImportStatus.FAILED
    assert "neither UTF-8 nor Windows-1252" in broken.failure
    assert FeedbackLabel.objects.count() == 2000


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_midway_and_the_next_one_import_every_row_once(
    redis_broker, celery_worker_factory, tmp_path, settings, make_user
):
    """Real worker processes on Redis and PostgreSQL, 100 parts of 40 rows."""
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    make_transactions(4000)
    owner = make_user("ivy")
    part_rows = {"SECUREFLOW_LABEL_PART_ROWS": "40"}

    first = celery_worker_factory(redis_broker, **part_rows)
    job = create(owner, label_file(4000, bad_every=100))  # queued once committed

    wait_for(
        lambda: LabelImport.objects.get(pk=job.pk).rows_done >= 200,
        timeout=240,
        interval=0.05,
        worker=first,
    )
    first.kill()
    done_at_kill = LabelImport.objects.get(pk=job.pk).rows_done
    assert 200 <= done_at_kill < 4000, "the kill must land in the middle of the file"
    bad_before_kill = len(range(0, done_at_kill, 100))  # rows 0, 100, 200 ... are bad
    assert FeedbackLabel.objects.count() == done_at_kill - bad_before_kill

    second = celery_worker_factory(redis_broker, **part_rows)
    wait_for(
        lambda: LabelImport.objects.get(pk=job.pk).status == LabelImportStatus.DONE,
        timeout=300,
        interval=0.5,
        worker=second,
    )
    job.refresh_from_db()
    assert (job.rows_total, job.rows_done, job.rows_stored) == (4000, 4000, 3960)
    assert (job.rows_present, job.rows_rejected, job.errors_total) == (0, 40, 40)
    assert FeedbackLabel.objects.count() == 3960
    doubled = (
        FeedbackLabel.objects.values("transaction_id", "is_fraud", "source", "known_at")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not doubled.exists()
    assert not Path(job.file_path or tmp_path / "none").exists()
