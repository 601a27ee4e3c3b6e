"""Batches end to end in-process: encodings, delimiters, decimal comma, mappings, size limit,
bad rows named precisely, totals that add up, re-imports without duplicates, chunks done
once, and features equal to the real-time path."""

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from detection.features.realtime import features_for_transaction
from detection.models import TransactionScore
from detection.signals import scores_stored_in_bulk
from transactions.batches.reading import BatchInputError
from transactions.batches.scoring import attach_entity_attributes, features_against_history
from transactions.batches.services import (
    import_batch_create,
    import_batch_prepare,
    import_batch_run,
    import_chunk_process,
)
from transactions.bulk_load import bulk_load_frame, ensure_entities
from transactions.choices import BatchFormat, BatchMode, BatchSource, BatchStatus
from transactions.csv_reader import read_transactions_csv
from transactions.csv_schema import mapping_from_dict
from transactions.demo_data import generate_demo_bank, write_canonical_csv
from transactions.models import ImportBatch, ImportBatchChunk, Transaction

HEADER = "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel"


pytestmark = pytest.mark.usefixtures("batch_settings")


def run(content, **kwargs) -> ImportBatch:
    kwargs.setdefault("source", BatchSource.CLI)
    batch = import_batch_create(owner=None, content=content, enqueue=False, **kwargs)
    return import_batch_run(batch_id=batch.pk)


def error_rows(batch: ImportBatch) -> list[dict]:
    with open(batch.errors_path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_totals_add_up(batch: ImportBatch) -> None:
    assert batch.status == BatchStatus.DONE
    assert batch.rows_total == batch.rows_imported + batch.rows_duplicate + batch.rows_rejected
    assert batch.rows_done == batch.rows_total
    assert batch.chunks_done == batch.chunks_total
    assert Transaction.objects.filter(import_batch=batch).count() == batch.rows_imported
    if batch.mode == BatchMode.SCORE:
        assert batch.rows_scored == batch.rows_imported
        assert (
            TransactionScore.objects.filter(transaction__import_batch=batch).count()
            == batch.rows_imported
        )


@pytest.mark.django_db
def test_bad_rows_are_named_and_good_rows_of_the_same_file_are_imported_and_scored():
    text = (
        f"{HEADER}\n"
        "T1,2026-03-01T10:00:00+04:00,C1,AE-1,BEN-1,120.50,AED,L,AE,mobile\n"
        "T2,yesterday,C1,AE-1,BEN-1,10,AED,L,AE,mobile\n"
        "T3,2026-03-01T11:00:00+04:00,C1,AE-1,BEN-2,-4,AED,L,AE,mobile\n"
        "T4,2026-03-01T12:00:00+04:00,C1,AE-1,BEN-2,7,AED,X,UAE,fax\n"
        "T1,2026-03-01T13:00:00+04:00,C1,AE-1,BEN-2,8,AED,L,AE,web\n"
        "T6,2026-03-01T14:00:00+04:00,C1\n"
        "T7,2026-03-01T15:00:00+04:00,C2,AE-2,,99,AED,S,GB,web\n"
    )
    batch = run(text.encode(), mode=BatchMode.SCORE)

    assert (batch.rows_total, batch.rows_imported, batch.rows_rejected) == (7, 2, 5)
    assert batch.rows_duplicate == 0
    assert_totals_add_up(batch)
    assert set(Transaction.objects.values_list("external_id", flat=True)) == {"T1", "T7"}
    found = {(int(r["row"]), r["column"]): r for r in error_rows(batch)}
    assert "not a valid date-time" in found[(3, "timestamp")]["reason"]
    assert found[(3, "timestamp")]["value"] == "yesterday"
    assert found[(4, "amount")]["reason"] == "must be zero or more"
    assert "transfer type" in found[(5, "transfer_type")]["reason"]
    assert "two-letter country" in found[(5, "country")]["reason"]
    assert "is not a channel" in found[(5, "channel")]["reason"]
    assert found[(6, "id")]["reason"] == "duplicate id in this file (first on line 2)"
    assert found[(7, "*")]["reason"] == "expected 10 fields, found 3"
    summary = batch.error_summary
    assert summary["rows"] == 5 and summary["errors"] == 7
    assert summary["first"][0] == {
        "line": 3,
        "column": "timestamp",
        "reason": found[(3, "timestamp")]["reason"],
        "value": "yesterday",
    }
    t1 = Transaction.objects.get(external_id="T1")
    assert t1.amount == Decimal("120.50") and t1.import_batch_id == batch.pk
    assert t1.status in {"approved", "in_review", "blocked"}
    assert t1.score.outcome in {"approve", "review", "block"}


@pytest.mark.django_db
def test_utf8_with_bom_and_latin1_are_both_read():
    rows = "T1,2026-03-01T10:00:00Z,C1,AE-1,Café Zürich,10.00,AED,L,AE,pos\n"
    with_bom = run(b"\xef\xbb\xbf" + f"{HEADER}\n{rows}".encode(), mode=BatchMode.IMPORT)
    assert_totals_add_up(with_bom)
    assert with_bom.rows_imported == 1
    latin = run(f"{HEADER}\n{rows.replace('T1', 'T2')}".encode("latin-1"), mode=BatchMode.IMPORT)
    assert_totals_add_up(latin)
    names = set(Transaction.objects.values_list("counterparty__identifier", flat=True))
    assert names == {"Café Zürich"}  # the same counterparty: both decoded to the same text


@pytest.mark.django_db
def test_semicolon_delimiter_and_decimal_comma_are_detected():
    text = (
        "id;timestamp;account;amount;transfer_type\n"
        "S1;2026-03-01T10:00:00Z;AE-9;1.234,56;L\n"
        "S2;2026-03-01T11:00:00Z;AE-9;7,5;Q\n"
    )
    batch = run(text.encode(), mode=BatchMode.IMPORT)
    assert_totals_add_up(batch)
    amounts = dict(Transaction.objects.values_list("external_id", "amount"))
    assert amounts == {"S1": Decimal("1234.56"), "S2": Decimal("7.50")}


@pytest.mark.django_db
def test_tab_and_pipe_delimiters_and_options_beside_the_mapping():
    tab = "id\ttimestamp\taccount\tamount\nP1\t2026-03-01T10:00:00Z\tAE-5\t12.5\n"
    assert run(tab.encode(), mode=BatchMode.IMPORT).rows_imported == 1
    # "1,500" is ambiguous: read with decimal "," it is 1.5, with "." it is 1500
    pipe = "id|timestamp|account|amount\nP2|2026-03-01T10:00:00Z|AE-5|1,500\n"
    from transactions.batches.reading import mapping_with_options

    mapping = mapping_with_options(None, delimiter="|", decimal=".")
    assert run(pipe.encode(), mode=BatchMode.IMPORT, mapping=mapping).rows_imported == 1
    assert Transaction.objects.get(external_id="P2").amount == Decimal("1500.00")


@pytest.mark.django_db
def test_bank_export_is_read_unchanged_through_the_backtest_mapping_format(tmp_path):
    text = (
        "REF;WHEN;FROM;TO;AMT;TYPE;FRAUD;BRANCH NOTE\n"
        "X1;01/03/2026 09:30;ACC-1;Boulangerie Élysée;1.234,50;SWIFT;Y;é\n"
        "X2;02/03/2026 23:59;ACC-1;M2;7,25;OWN;N;\n"
        "X3;31/02/2026 10:00;ACC-1;M2;7,25;OWN;N;\n"
    )
    mapping = mapping_from_dict(
        {
            "columns": {
                "id": "REF",
                "timestamp": "WHEN",
                "account": "FROM",
                "counterparty": "TO",
                "amount": "AMT",
                "transfer_type": "TYPE",
                "label": "FRAUD",
            },
            "timestamp_format": "%d/%m/%Y %H:%M",
            "timezone": "Asia/Dubai",
            "encoding": "latin-1",
            "values": {"transfer_type": {"SWIFT": "S", "OWN": "O"}, "label": {"Y": "1", "N": "0"}},
        }
    )
    batch = run(text.encode("latin-1"), mapping=mapping, mode=BatchMode.IMPORT)
    assert (batch.rows_imported, batch.rows_rejected) == (2, 1)
    assert batch.mapping["columns"]["id"] == "REF"
    x1 = Transaction.objects.select_related("counterparty").get(external_id="X1")
    assert (x1.amount, x1.transfer_type, x1.source_label) == (Decimal("1234.50"), "S", True)
    assert x1.counterparty.identifier == "Boulangerie Élysée"
    assert x1.occurred_at == datetime(2026, 3, 1, 5, 30, tzinfo=UTC)
    [error] = error_rows(batch)
    assert (error["row"], error["column"]) == ("4", "timestamp")
    assert "%d/%m/%Y %H:%M" in error["reason"]


def test_oversized_upload_is_refused_with_the_limit_named(batch_settings, db):
    batch_settings.SECUREFLOW_MAX_UPLOAD_MB = 1
    big = (
        f"{HEADER}\n" + "T1,2026-03-01T10:00:00Z,C1,AE-1,B,1.00,AED,L,AE,web\n" * 25_000
    ).encode()
    assert len(big) > 1024 * 1024
    with pytest.raises(
        BatchInputError, match=r"largest accepted is 1 MB \(SECUREFLOW_MAX_UPLOAD_MB\)"
    ):
        import_batch_create(owner=None, source=BatchSource.API, content=big, enqueue=False)
    assert not ImportBatch.objects.exists()
    # the command line reads a file of any size
    batch = import_batch_create(owner=None, source=BatchSource.CLI, content=big, enqueue=False)
    assert batch.input_bytes == len(big)


@pytest.mark.django_db
def test_file_without_required_columns_or_empty_is_refused_at_once():
    with pytest.raises(BatchInputError, match="missing required column\\(s\\) 'amount'"):
        import_batch_create(
            owner=None, source=BatchSource.API, content=b"id,timestamp,account\n1,2,3\n"
        )
    with pytest.raises(BatchInputError, match="empty"):
        import_batch_create(owner=None, source=BatchSource.API, content=b"")
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_json_records_with_bad_items_named_by_position():
    records = [
        {"id": "J1", "timestamp": "2026-03-01T10:00:00Z", "account": "AE-7", "amount": 12.5},
        {"id": "J2", "timestamp": "2026-03-01T10:01:00Z", "account": "AE-7", "amount": "abc"},
        "not an object",
        {"id": "J4", "timestamp": "2026-03-01T10:02:00Z", "account": "AE-7", "amount": [1]},
        {"id": "J5", "timestamp": "2026-03-01T10:03:00Z", "account": "AE-7", "amount": 0,
         "transfer_type": "S", "label": True},
    ]  # fmt: skip
    batch = run(json.dumps(records).encode(), input_format=BatchFormat.JSON)
    assert (batch.rows_total, batch.rows_imported, batch.rows_rejected) == (5, 2, 3)
    assert_totals_add_up(batch)
    found = {(int(r["row"]), r["column"]): r["reason"] for r in error_rows(batch)}
    assert found == {
        (2, "amount"): "is not a number",
        (3, "*"): "is not an object of transaction fields",
        (4, "amount"): "must be a string, a number or null",
    }
    j5 = Transaction.objects.get(external_id="J5")
    assert (j5.amount, j5.transfer_type, j5.source_label) == (Decimal("0.00"), "S", True)


@pytest.mark.django_db
def test_reimporting_the_same_file_creates_no_duplicates():
    text = f"{HEADER}\n" + "".join(
        f"R{i},2026-03-01T10:{i:02d}:00Z,C1,AE-1,BEN-{i % 3},{10 + i}.00,AED,L,AE,web\n"
        for i in range(30)
    )
    first = run(text.encode(), chunk_size=7)
    assert first.rows_imported == 30 and first.chunks_total == 5
    assert_totals_add_up(first)
    again = run(text.encode(), chunk_size=7)
    assert (again.rows_imported, again.rows_duplicate, again.rows_rejected) == (0, 30, 0)
    assert_totals_add_up(again)
    assert Transaction.objects.count() == 30
    assert TransactionScore.objects.count() == 30
    assert again.chunks_total == 0


@pytest.mark.django_db
def test_an_id_stored_for_another_transaction_is_a_conflict_not_a_duplicate():
    """The same export again: duplicates. The same ids for other transactions (another
    account, amount or time): rejected, naming what differs, and the stored ones kept."""
    lines = [
        "S1,2026-03-01T10:00:00Z,C1,AE-1,BEN-1,10.50,AED,L,AE,web",
        "S2,2026-03-01T10:01:00Z,C1,AE-1,BEN-1,20.00,AED,L,AE,web",
        "S3,2026-03-01T10:02:00Z,C1,AE-1,BEN-1,30.00,AED,L,AE,web",
    ]
    run(f"{HEADER}\n{chr(10).join(lines)}\n".encode())
    again = [
        "S1,2026-03-01T14:00:00+04:00,C1,AE-1,BEN-1,10.5,AED,L,AE,web",  # the same instant
        "S2,2026-03-01T10:01:00Z,C1,AE-1,BEN-1,2000.00,AED,L,AE,web",  # another amount
        "S3,2026-03-01T10:09:00Z,C2,AE-2,BEN-1,30.00,AED,L,AE,web",  # another account, time
        "S4,2026-03-01T10:03:00Z,C1,AE-1,BEN-1,40.00,AED,L,AE,web",  # new
    ]
    batch = run(f"{HEADER}\n{chr(10).join(again)}\n".encode())

    assert (batch.rows_imported, batch.rows_duplicate, batch.rows_rejected) == (1, 1, 2)
    assert_totals_add_up(batch)
    errors = {row["row"]: row for row in error_rows(batch)}
    assert errors["3"]["column"] == "id" and errors["3"]["value"] == "S2"
    assert "(amount differ)" in errors["3"]["reason"]
    assert "(account, timestamp differ)" in errors["4"]["reason"]
    assert Transaction.objects.get(external_id="S2").amount == Decimal("20.00")
    assert Transaction.objects.count() == 4


@pytest.mark.django_db
def test_chunk_delivered_twice_is_done_once_and_flagged_scores_are_signalled():
    text = f"{HEADER}\n" + "".join(
        # the same second, many transfers: the velocity rules flag them
        f"V{i},2026-03-01T10:00:{i % 5:02d}Z,C1,AE-1,BEN-{i},{100 + i}.00,AED,Q,AE,mobile\n"
        for i in range(12)
    )
    batch = import_batch_create(
        owner=None, source=BatchSource.CLI, content=text.encode(), chunk_size=5, enqueue=False
    )
    assert import_batch_prepare(batch_id=batch.pk) is True
    assert import_batch_prepare(batch_id=batch.pk) is False  # prepared once
    received: list[list[int]] = []

    def listener(sender, score_ids, **kwargs):
        received.append(list(score_ids))

    scores_stored_in_bulk.connect(listener)
    try:
        chunks = list(ImportBatchChunk.objects.filter(batch=batch).order_by("index"))
        first = import_chunk_process(chunk_id=chunks[0].pk)
        again = import_chunk_process(chunk_id=chunks[0].pk)
        assert not first.skipped and first.imported == 5
        assert again.skipped and again.imported == 0
        batch.refresh_from_db()
        assert (batch.rows_done, batch.rows_total, batch.chunks_done) == (5, 12, 1)
        assert batch.status == BatchStatus.RUNNING
        for chunk in chunks[1:]:
            import_chunk_process(chunk_id=chunk.pk)
    finally:
        scores_stored_in_bulk.disconnect(listener)
    batch.refresh_from_db()
    assert_totals_add_up(batch)
    flagged = set(
        TransactionScore.objects.filter(outcome__in=["review", "block"]).values_list(
            "id", flat=True
        )
    )
    assert flagged and {i for ids in received for i in ids} == flagged
    score = TransactionScore.objects.filter(id__in=flagged).first()
    assert score.reasons and score.rule_hits and len(score.features) == 41


@pytest.mark.django_db
def test_batch_features_equal_the_real_time_path_for_every_row(tmp_path):
    end = timezone.localdate() + timedelta(days=1)
    bank = generate_demo_bank(customers=25, days=40, seed=8, end=end)
    frame = bank.transactions
    cut = len(frame) * 2 // 3
    bulk_load_frame(frame.iloc[:cut])  # stored history; the rest arrives as a file
    path = tmp_path / "rest.csv"
    write_canonical_csv(frame.iloc[cut:], path)

    # the batch path's vectors, computed as the batch computes them
    parsed = read_transactions_csv(path)
    rows = parsed.frame.sort_values(["timestamp", "line"], kind="stable").reset_index(drop=True)
    ensure_entities(rows)
    X = features_against_history(attach_entity_attributes(rows))
    by_id = dict(zip(rows["id"].tolist(), X))

    batch = run(path, chunk_size=200)
    assert_totals_add_up(batch)
    assert batch.rows_imported == len(frame) - cut == len(by_id)
    # every imported row: real-time features from the stored history == batch features
    txns = Transaction.objects.filter(import_batch=batch).select_related(
        "account__customer", "counterparty"
    )
    for txn in txns:
        expected = features_for_transaction(txn)
        np.testing.assert_allclose(by_id[txn.external_id], expected, rtol=1e-9, atol=1e-9)
    # flagged rows keep the vector they were scored with
    kept = TransactionScore.objects.filter(transaction__import_batch=batch).exclude(features=[])
    assert kept.exists()
    for external_id, features in kept.values_list("transaction__external_id", "features"):
        np.testing.assert_allclose(features, by_id[external_id], rtol=1e-9, atol=1e-9)


def test_error_file_is_csv_with_header_when_nothing_is_rejected(db):
    batch = run(f"{HEADER}\nOK1,2026-03-01T10:00:00Z,C1,AE-1,,5,AED,L,AE,web\n".encode())
    assert error_rows(batch) == []
    with open(batch.errors_path, encoding="utf-8") as handle:
        assert handle.readline().strip() == "row,column,reason,value"


@pytest.mark.django_db
def test_unfinished_batches_are_queued_again_all_or_when_stalled(
    django_capture_on_commit_callbacks,
):
    from datetime import timedelta as td

    from transactions.batches.services import import_batches_resume

    text = f"{HEADER}\nQ1,2026-03-01T10:00:00Z,C1,AE-1,,5,AED,L,AE,web\n".encode()
    queued = import_batch_create(owner=None, source=BatchSource.CLI, content=text, enqueue=False)
    stalled = import_batch_create(owner=None, source=BatchSource.CLI, content=text, enqueue=False)
    done = run(text)
    ImportBatch.objects.filter(pk=stalled.pk).update(
        status=BatchStatus.RUNNING, updated_at=timezone.now() - td(hours=1)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert import_batches_resume() == [queued.pk, stalled.pk]
    assert len(callbacks) == 2
    with django_capture_on_commit_callbacks() as callbacks:
        assert import_batches_resume(stalled_for=td(minutes=15)) == [stalled.pk]
    assert len(callbacks) == 1
    assert done.status == BatchStatus.DONE
