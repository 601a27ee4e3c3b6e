"""Commands: import_transactions, score_csv (stores nothing, decides as an import would),
benchmark_batch (tiny sizes)."""

import csv
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from detection.models import TransactionScore
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank, write_canonical_csv
from transactions.models import ImportBatch, Transaction

pytestmark = pytest.mark.usefixtures("batch_settings")


@pytest.fixture
def bank_files(db, tmp_path):
    """A stored history and the next weeks of the same bank as a CSV file."""
    bank = generate_demo_bank(
        customers=20, days=30, seed=4, end=timezone.localdate() + timedelta(days=1)
    )
    frame = bank.transactions
    cut = len(frame) // 2
    bulk_load_frame(frame.iloc[:cut])
    path = tmp_path / "next.csv"
    write_canonical_csv(frame.iloc[cut:], path)
    return path, len(frame) - cut


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_import_transactions_prints_totals_and_names_bad_rows(db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "id;timestamp;account;amount\n"
        "I1;2026-03-01T10:00:00Z;AE-1;12,50\n"
        "I2;2026-03-01T10:01:00Z;AE-1;-3,00\n"
        "I3;2026-03-01T10:02:00Z;;4,00\n",
        encoding="latin-1",
    )
    out = run("import_transactions", str(path))
    assert "received            3" in out
    assert "imported            1" in out
    assert "rejected            2" in out
    assert "row 3, column amount: must be zero or more" in out
    assert "row 4, column account: is required" in out
    assert "scored" not in out  # import only without --score
    assert list(Transaction.objects.values_list("external_id", "status")) == [("I1", "approved")]
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.mode, batch.original_filename) == ("cli", "import", "export.csv")

    again = run("import_transactions", str(path))
    assert "duplicates          1" in again
    assert Transaction.objects.count() == 1


def test_import_transactions_with_mapping_file_and_score(db, tmp_path):
    mapping = tmp_path / "bank.json"
    mapping.write_text(
        json.dumps(
            {"columns": {"id": "Ref", "timestamp": "Date", "account": "Acct", "amount": "Amt"}}
        )
    )
    path = tmp_path / "export.csv"
    path.write_text("Ref,Date,Acct,Amt\nM1,2026-03-01T10:00:00Z,AE-4,99.00\n")
    out = run("import_transactions", str(path), mapping=str(mapping), score=True)
    assert "imported            1" in out and "scored              1" in out
    assert TransactionScore.objects.get().transaction.external_id == "M1"


def test_import_transactions_refuses_an_unreadable_file(db, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("name,city\nAda,Dubai\n")
    with pytest.raises(CommandError, match="missing required column\\(s\\) 'id', 'timestamp'"):
        run("import_transactions", str(path))
    with pytest.raises(CommandError, match="no such file"):
        run("import_transactions", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="mapping file not found"):
        run("import_transactions", str(path), mapping=str(tmp_path / "nope.json"))


def test_score_csv_stores_nothing_and_decides_as_the_import_does(bank_files, tmp_path):
    path, n = bank_files
    before = (Transaction.objects.count(), TransactionScore.objects.count())
    out_path = tmp_path / "scored.csv"
    out = run("score_csv", str(path), str(out_path))
    assert "(nothing stored)" in out and f"scored     {n:>10,}" in out
    assert (Transaction.objects.count(), TransactionScore.objects.count()) == before
    scored = read(out_path)
    assert len(scored) == n
    assert [int(r["line"]) for r in scored] == list(range(2, n + 2))
    assert {r["stored"] for r in scored} == {"no"}

    run("import_transactions", str(path), score=True)
    stored = {
        external_id: (risk, outcome, reasons)
        for external_id, risk, outcome, reasons in TransactionScore.objects.values_list(
            "transaction__external_id", "risk_score", "outcome", "reasons"
        )
    }
    for row in scored:
        risk, outcome, reasons = stored[row["id"]]
        assert float(row["risk_score"]) == pytest.approx(risk, abs=1e-6)
        assert row["outcome"] == outcome
        assert row["reasons"] == " | ".join(reasons)
    assert any(r["outcome"] != "approve" for r in scored)

    # once stored, the same file gives back the stored decisions
    again = tmp_path / "again.csv"
    run("score_csv", str(path), str(again))
    assert [(r["id"], r["outcome"], r["stored"]) for r in read(again)] == [
        (r["id"], r["outcome"], "yes") for r in scored
    ]


def test_score_csv_writes_rejected_rows_beside_the_output(db, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "id,timestamp,account,amount\nS1,2026-03-01T10:00:00Z,AE-1,5\nS2,never,AE-1,5\n"
    )
    out = run("score_csv", str(path), str(tmp_path / "out.csv"))
    assert "rejected            1" in out
    assert [r["id"] for r in read(tmp_path / "out.csv")] == ["S1"]
    [error] = read(tmp_path / "out.errors.csv")
    assert (error["row"], error["column"], error["value"]) == ("3", "timestamp", "never")


def test_score_csv_writes_formulas_as_text(db, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "id,timestamp,account,amount\n"
        "=1+2,2026-03-01T10:00:00Z,@AE-1,5\n"
        "S2,2026-03-01T10:01:00Z,AE-1,+cmd\n"
    )
    run("score_csv", str(path), str(tmp_path / "out.csv"))
    [row] = read(tmp_path / "out.csv")
    assert (row["id"], row["account"], row["amount"]) == ("'=1+2", "'@AE-1", "5.00")
    [error] = read(tmp_path / "out.errors.csv")
    assert (error["row"], error["column"], error["value"]) == ("3", "amount", "'+cmd")


def test_benchmark_batch_prints_rows_per_second_and_writes_json(db, tmp_path):
    target = tmp_path / "bench.json"
    out = run(
        "benchmark_batch", rows=400, days=20, seed=3, chunk_size=150, workers=1, json=str(target)
    )
    assert "rows/s" in out and "chunks: store scores" in out
    report = json.loads(target.read_text())
    assert report["rows"] == report["imported"] == report["scored"] == 400
    assert report["chunks"] == 3 and report["database"] in ("sqlite", "postgresql")
    assert report["rows_per_second"] > 0
    assert report["phases"]["decide_seconds"] > 0 and report["phases"]["import_seconds"] > 0
    assert Transaction.objects.count() == 400 == TransactionScore.objects.count()
    with pytest.raises(CommandError, match="already stored"):
        run("benchmark_batch", rows=400, days=20, seed=3, workers=1)


@pytest.mark.django_db(transaction=True)
def test_chunks_processed_two_at_a_time_store_every_row_once(tmp_path):
    from django.db import connection
    from django.db.models import Count

    from tests.conftest import require
    from transactions.batches.services import import_batch_create, import_batch_run

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    bank = generate_demo_bank(
        customers=30, days=30, seed=6, end=timezone.localdate() + timedelta(days=1)
    )
    path = tmp_path / "batch.csv"
    write_canonical_csv(bank.transactions, path)
    batch = import_batch_create(
        owner=None, source="cli", content=path, chunk_size=97, enqueue=False
    )
    batch = import_batch_run(batch_id=batch.pk, workers=2)
    n = len(bank.transactions)
    assert batch.status == "done" and batch.chunks_done == batch.chunks_total > 5
    assert batch.rows_imported == batch.rows_scored == n == batch.rows_total
    assert Transaction.objects.filter(import_batch=batch).count() == n
    scores = TransactionScore.objects.filter(transaction__import_batch=batch)
    assert scores.count() == n
    assert not scores.values("transaction_id").annotate(c=Count("id")).filter(c__gt=1).exists()
