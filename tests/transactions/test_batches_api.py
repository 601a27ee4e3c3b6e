"""Batches API: 202 with the batch, progress, results.csv and errors.csv, validation, limits,
roles and ownership, and the OpenAPI schema."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from secureflow.core import roles
from secureflow.core.api_keys import api_key_create
from transactions.batches.services import (
    import_batch_prepare,
    import_batch_run,
    import_chunk_process,
)
from transactions.choices import BatchStatus
from transactions.models import ImportBatch, ImportBatchChunk, ImportMapping, Transaction

URL = "/api/v1/batches/"
HEADER = "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country,channel"
GOOD_ROWS = "".join(
    f"A{i},2026-03-01T10:{i:02d}:00Z,C1,AE-1,BEN-{i % 4},{50 + i}.00,AED,L,AE,web\n"
    for i in range(10)
)
BURST = "".join(
    f"B{i},2026-03-02T09:00:0{i}Z,C2,AE-2,NEW-{i},{900 + i}.00,AED,Q,AE,mobile\n" for i in range(4)
)
BAD_ROWS = (
    "X1,not-a-time,C1,AE-1,BEN-1,5.00,AED,L,AE,web\n"
    "X2,2026-03-01T11:00:00Z,C1,AE-1,BEN-1,five,AED,L,AE,web\n"
)


pytestmark = pytest.mark.usefixtures("batch_settings")


def client_for(user) -> APIClient:
    client = APIClient()
    key = api_key_create(user=user, name="tests").key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def upload(client: APIClient, text: str, name: str = "export.csv", **fields):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), **fields}
    return client.post(URL, data, format="multipart")


def read_csv(response) -> list[dict]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.django_db
def test_upload_returns_202_with_the_queued_batch_and_queues_the_work(
    investigator, investigator_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(investigator_api, f"{HEADER}\n{GOOD_ROWS}")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["mode"] == "score"
    assert body["source"] == "api" and body["original_filename"] == "export.csv"
    assert body["owner"] == investigator.username
    assert response["Location"] == body["url"]
    assert body["url"].endswith(f"{URL}{body['id']}/")
    assert body["results_url"].endswith(f"{URL}{body['id']}/results.csv")
    assert body["errors_url"].endswith(f"{URL}{body['id']}/errors.csv")
    assert len(callbacks) == 1  # the coordinating task, sent once the batch is committed
    batch = ImportBatch.objects.get(pk=body["id"])
    assert batch.owner == investigator
    with open(batch.input_path, encoding="utf-8") as handle:
        assert handle.read() == f"{HEADER}\n{GOOD_ROWS}"


@pytest.mark.django_db
def test_progress_results_and_errors_follow_the_batch(investigator_api):
    response = upload(investigator_api, f"{HEADER}\n{GOOD_ROWS}{BURST}{BAD_ROWS}")
    batch_id = response.json()["id"]
    batch = ImportBatch.objects.get(pk=batch_id)
    batch.chunk_size = 5
    batch.save(update_fields=["chunk_size"])
    detail = f"{URL}{batch_id}/"

    import_batch_prepare(batch_id=batch_id)
    first = ImportBatchChunk.objects.filter(batch_id=batch_id).order_by("index").first()
    import_chunk_process(chunk_id=first.pk)
    running = investigator_api.get(detail).json()
    assert running["status"] == "running"
    assert (running["rows_total"], running["rows_rejected"]) == (16, 2)
    assert running["rows_done"] == 2 + 5 and running["chunks_done"] == 1
    assert running["chunks_total"] == 3
    assert 0 < running["progress"] < 100
    assert running["errors"]["rows"] == 2
    first_error = running["errors"]["first"][0]
    assert (first_error["line"], first_error["column"]) == (16, "timestamp")
    assert first_error["value"] == "not-a-time"
    assert "not a valid date-time" in first_error["reason"]

    import_batch_run(batch_id=batch_id)
    done = investigator_api.get(detail).json()
    assert done["status"] == "done" and done["progress"] == 100
    assert (done["rows_imported"], done["rows_scored"], done["rows_rejected"]) == (14, 14, 2)
    assert (
        done["rows_total"] == done["rows_imported"] + done["rows_duplicate"] + done["rows_rejected"]
    )
    assert done["rows_flagged"] >= 1

    results = investigator_api.get(f"{detail}results.csv")
    assert results.status_code == 200 and results["Content-Type"].startswith("text/csv")
    rows = read_csv(results)
    assert [r["id"] for r in rows] == [f"A{i}" for i in range(10)] + [f"B{i}" for i in range(4)]
    stored = {t.external_id: t.score for t in Transaction.objects.select_related("score")}
    for row in rows:
        score = stored[row["id"]]
        assert float(row["risk_score"]) == pytest.approx(score.risk_score, abs=1e-6)
        assert row["outcome"] == score.outcome
        assert row["reasons"] == " | ".join(score.reasons)
    flagged = [r for r in rows if r["outcome"] in ("review", "block")]
    assert flagged and all(r["reasons"] for r in flagged)
    assert any("B" in r["id"] for r in flagged)  # four transfers in four seconds

    errors = read_csv(investigator_api.get(f"{detail}errors.csv"))
    assert [(e["row"], e["column"], e["reason"], e["value"]) for e in errors] == [
        ("16", "timestamp", first_error["reason"], "not-a-time"),
        ("17", "amount", "is not a number", "five"),
    ]


@pytest.mark.django_db
def test_results_and_errors_write_formulas_as_text(investigator_api):
    """Values from the export that a spreadsheet would run are written with a leading ';
    what is stored and shown elsewhere is the value as sent."""
    formula_id = '=HYPERLINK("http://127.0.0.1/x","open")'
    rows = (
        f'"{formula_id.replace(chr(34), chr(34) * 2)}",2026-03-01T10:00:00Z,C1,@AE-1,BEN-1,'
        "50.00,AED,L,AE,web\n"
        "F2,2026-03-01T10:01:00Z,C1,AE-1,BEN-1,=1+2,AED,L,AE,web\n"
        "F3,2026-03-01T10:02:00Z,C1,AE-1,BEN-1,-12.50,AED,L,AE,web\n"
    )
    batch_id = upload(investigator_api, f"{HEADER}\n{rows}").json()["id"]
    import_batch_run(batch_id=batch_id)
    detail = f"{URL}{batch_id}/"
    assert Transaction.objects.get(account__number="@AE-1").external_id == formula_id

    [result] = read_csv(investigator_api.get(f"{detail}results.csv"))
    assert (result["id"], result["account"]) == ("'" + formula_id, "'@AE-1")
    assert result["amount"] == "50.00" and float(result["risk_score"]) >= 0

    errors = read_csv(investigator_api.get(f"{detail}errors.csv"))
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [
        ("3", "amount", "'=1+2"),
        ("4", "amount", "-12.50"),  # a plain number stays as it is
    ]
    first = investigator_api.get(detail).json()["errors"]["first"]
    assert [e["value"] for e in first] == ["=1+2", "-12.50"]  # JSON: as sent


@pytest.mark.django_db
def test_json_array_is_accepted_and_bad_items_are_named(investigator_api):
    records = [
        {"id": "J1", "timestamp": "2026-03-01T10:00:00Z", "account": "AE-3", "amount": 10},
        {"id": "J2", "timestamp": "2026-03-01T10:05:00Z", "account": "AE-3"},
        {"id": "J3", "timestamp": "2026-03-01T10:06:00Z", "account": "AE-3", "amount": "7.5"},
    ]
    response = investigator_api.post(f"{URL}?mode=import", records, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["input_format"], body["mode"]) == ("json", "import")
    import_batch_run(batch_id=body["id"])
    done = investigator_api.get(body["url"]).json()
    assert (done["rows_total"], done["rows_imported"], done["rows_rejected"]) == (3, 2, 1)
    assert done["rows_scored"] == 0
    [error] = read_csv(investigator_api.get(f"{URL}{body['id']}/errors.csv"))
    assert (error["row"], error["column"], error["reason"]) == ("2", "amount", "is required")
    rows = read_csv(investigator_api.get(f"{URL}{body['id']}/results.csv"))
    assert [(r["id"], r["outcome"]) for r in rows] == [("J1", ""), ("J3", "")]


def csv_file(text: str = f"{HEADER}\n{GOOD_ROWS}") -> SimpleUploadedFile:
    return SimpleUploadedFile("f.csv", text.encode(), content_type="text/csv")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_data", "field", "message"),
    [
        (lambda: {}, "file", "No file was submitted."),
        (
            lambda: {"file": csv_file("id,timestamp,account\n1,2,3\n")},
            "file",
            "missing required column(s) 'amount'",
        ),
        (lambda: {"file": csv_file("")}, "file", "empty"),
        (
            lambda: {"file": csv_file(), "mapping": SimpleUploadedFile("m.json", b"{not json")},
            "mapping",
            "not valid JSON",
        ),
        (
            lambda: {
                "file": csv_file(),
                "mapping": SimpleUploadedFile("m.json", b'{"columns": {"amout": "AMT"}}'),
            },
            "mapping",
            "unknown canonical columns",
        ),
        (
            lambda: {"file": csv_file(), "mapping_name": "nope"},
            "mapping_name",
            "No saved mapping is named 'nope'.",
        ),
        (lambda: {"file": csv_file(), "mode": "later"}, "mode", "is not a valid choice"),
        (lambda: {"file": csv_file(), "delimiter": "#"}, "delimiter", "is not a valid choice"),
        (lambda: {"file": csv_file(), "encoding": "klingon"}, "encoding", "Unknown encoding"),
    ],
)
def test_bad_upload_is_400_naming_the_field(investigator_api, make_data, field, message):
    response = investigator_api.post(URL, make_data(), format="multipart")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "params", "field", "message"),
    [
        ({"id": "J1"}, "", "transactions", "Expected a JSON array"),
        ([], "", "transactions", "empty"),
        ([{"id": "J1", "account": "A"}], "", "transactions", "'timestamp'"),
        ([{"id": "J1"}], "?mode=later", "mode", "'later' is not a mode"),
    ],
)
def test_bad_json_body_is_400_naming_the_field(investigator_api, body, params, field, message):
    response = investigator_api.post(f"{URL}{params}", body, format="json")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()[field])


@pytest.mark.django_db
def test_oversized_upload_is_413_with_the_limit(investigator_api, batch_settings):
    batch_settings.SECUREFLOW_MAX_UPLOAD_MB = 1
    row = "A1,2026-03-01T10:00:00Z,C1,AE-1,BEN-1,50.00,AED,L,AE,web\n"
    just_over = f"{HEADER}\n" + row * (1024 * 1024 // len(row) + 10)
    response = upload(investigator_api, just_over)
    assert response.status_code == 413, response.content
    assert "largest accepted is 1 MB (SECUREFLOW_MAX_UPLOAD_MB)" in response.json()["detail"]
    far_over = f"{HEADER}\n" + row * (3 * 1024 * 1024 // len(row))
    response = upload(investigator_api, far_over)  # refused from its Content-Length
    assert response.status_code == 413
    assert "SECUREFLOW_MAX_UPLOAD_MB" in response.json()["detail"]
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_saved_mapping_and_options_read_a_bank_export(investigator_api, admin_user_sf):
    ImportMapping.objects.create(
        name="gulf-bank",
        mapping={
            "columns": {"id": "REF", "timestamp": "WHEN", "account": "FROM", "amount": "AMT"},
            "timestamp_format": "%d/%m/%Y %H:%M",
        },
        created_by=admin_user_sf,
    )
    text = "REF|WHEN|FROM|AMT\nG1|01/03/2026 09:30|AE-8|1.234,50\n"
    response = upload(
        investigator_api, text, mapping_name="gulf-bank", delimiter="|", decimal=",", mode="import"
    )
    assert response.status_code == 202, response.content
    assert response.json()["mapping_name"] == "gulf-bank"
    import_batch_run(batch_id=response.json()["id"])
    assert str(Transaction.objects.get(external_id="G1").amount) == "1234.50"


@pytest.mark.django_db
def test_roles_and_ownership(make_user, investigator, investigator_api, admin_user_sf):
    mine = upload(investigator_api, f"{HEADER}\n{GOOD_ROWS}").json()["id"]
    other = make_user("olga", roles.INVESTIGATOR)
    theirs = upload(client_for(other), f"{HEADER}\n{GOOD_ROWS}").json()["id"]

    listed = investigator_api.get(URL).json()
    ids = (
        [b["id"] for b in listed["results"]]
        if isinstance(listed, dict)
        else [b["id"] for b in listed]
    )
    assert ids == [mine]
    for path in ("", "results.csv", "errors.csv"):
        assert investigator_api.get(f"{URL}{theirs}/{path}").status_code == 404
    assert investigator_api.get(f"{URL}{mine}/results.csv").status_code == 200

    admin = client_for(admin_user_sf)
    listed = admin.get(URL).json()
    ids = (
        [b["id"] for b in listed["results"]]
        if isinstance(listed, dict)
        else [b["id"] for b in listed]
    )
    assert sorted(ids) == sorted([mine, theirs])
    assert admin.get(f"{URL}{theirs}/").status_code == 200

    nobody = client_for(make_user("norole", None))
    assert nobody.get(URL).status_code == 403
    assert upload(nobody, f"{HEADER}\n{GOOD_ROWS}").status_code == 403
    assert nobody.get(f"{URL}{mine}/results.csv").status_code == 403
    anonymous = APIClient()
    assert anonymous.get(f"{URL}{mine}/").status_code in (401, 403)
    assert upload(anonymous, f"{HEADER}\n{GOOD_ROWS}").status_code in (401, 403)
    assert ImportBatch.objects.count() == 2


@pytest.mark.django_db
def test_failed_batch_reports_the_reason(investigator_api):
    response = upload(investigator_api, f"{HEADER}\n{GOOD_ROWS}")
    batch = ImportBatch.objects.get(pk=response.json()["id"])
    with open(batch.input_path, "w", encoding="utf-8") as handle:
        handle.write("something else entirely\n")  # the stored file became unreadable
    import_batch_run(batch_id=batch.pk)
    body = investigator_api.get(f"{URL}{batch.pk}/").json()
    assert body["status"] == BatchStatus.FAILED
    assert "missing required column(s)" in body["error_message"]


@pytest.mark.django_db
def test_schema_documents_the_batch_endpoints(investigator_api):
    response = investigator_api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    create = paths["/api/v1/batches/"]["post"]
    assert "202" in create["responses"]
    assert set(create["requestBody"]["content"]) >= {"multipart/form-data", "application/json"}
    assert "/api/v1/batches/{id}/" in paths
    results = paths["/api/v1/batches/{id}/results/"]["get"]
    assert "text/csv" in results["responses"]["200"]["content"]
    assert "/api/v1/batches/{id}/errors/" in paths
