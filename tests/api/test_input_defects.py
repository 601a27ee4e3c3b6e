"""Inputs an audit found answered with a 500 or an unclear error: deeply nested JSON, JSON
batch bodies over Django's in-memory limit, errors of the CSV downloads, and feedback
`known_at` times that cannot be."""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from cases.models import FeedbackLabel
from secureflow.core.parsers import JSONParser as SafeJSONParser
from tests.api.conftest import transaction_body
from transactions.models import ImportBatch, Transaction

URL = "/api/v1/transactions/"
BATCHES_URL = "/api/v1/batches/"
FEEDBACK_URL = "/api/v1/feedback/"
DEEP = "[" * 1100 + "]" * 1100
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def batch_dir(settings, tmp_path):
    """Batch inputs in this test's own folder."""
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    return settings


def post_raw(client: APIClient, url: str, payload: str | bytes):
    return client.post(url, payload, content_type="application/json")


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def batch_record(i: int) -> dict:
    return {
        "id": f"BIG-{i:06d}",
        "timestamp": "2026-03-01T10:00:00Z",
        "account": f"AE-{i % 50}",
        "customer": f"C-{i % 50}",
        "counterparty": f"BEN-{i % 300}",
        "amount": f"{100 + i % 900}.25",
        "currency": "AED",
        "transfer_type": "L",
        "country": "AE",
        "channel": "mobile",
    }


# -- 1. deeply nested JSON ------------------------------------------------------------------
def _nested_in_field(url: str) -> str:
    if url == URL:
        return json.dumps(transaction_body())[:-1] + ', "amount": ' + DEEP + "}"
    if url == FEEDBACK_URL:
        return '{"transaction": "T-1", "is_fraud": true, "note": ' + DEEP + "}"
    return '[{"id": "J1", "timestamp": "2026-03-01T10:00:00Z", "account": "A", "amount": ' + (
        DEEP + "}]"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", [URL, BATCHES_URL, FEEDBACK_URL])
@pytest.mark.parametrize("where", ["body", "field"])
def test_deeply_nested_json_is_a_400_parse_error(investigator_api, url, where):
    investigator_api.raise_request_exception = False
    payload = DEEP if where == "body" else _nested_in_field(url)

    response = post_raw(investigator_api, url, payload)

    body = assert_json_error(response, 400, "parse_error")
    assert "nested too deeply" in body["detail"], body
    assert Transaction.objects.count() == 0
    assert not ImportBatch.objects.exists()
    assert not FeedbackLabel.objects.exists()


def test_the_api_parses_json_with_the_safe_parser():
    parsers = api_settings.DEFAULT_PARSER_CLASSES
    assert parsers[0] is SafeJSONParser
    media_types = {parser.media_type for parser in parsers}
    assert {"application/json", "multipart/form-data"} <= media_types
    assert "application/x-www-form-urlencoded" in media_types


@pytest.mark.django_db
def test_realtime_json_still_parses_after_the_change(investigator_api):
    response = investigator_api.post(URL, transaction_body(), format="json")
    assert response.status_code == 201, response.content


# -- 5. JSON batch bodies up to SECUREFLOW_MAX_UPLOAD_MB --------------------------------------
@pytest.mark.django_db
def test_json_batch_larger_than_django_memory_limit_is_accepted(investigator_api):
    records = [batch_record(i) for i in range(40_000)]
    payload = json.dumps(records).encode()
    assert len(payload) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = post_raw(investigator_api, f"{BATCHES_URL}?mode=import", payload)

    assert response.status_code == 202, response.content[:500]
    batch = ImportBatch.objects.get(pk=response.json()["id"])
    assert batch.input_format == "json" and batch.mode == "import"
    with open(batch.input_path, "rb") as handle:
        stored = json.loads(handle.read())
    stored = stored["transactions"] if isinstance(stored, dict) else stored
    assert len(stored) == 40_000 and stored[-1]["id"] == "BIG-039999"


@pytest.mark.django_db
def test_json_batch_in_a_transactions_object_is_accepted(investigator_api):
    payload = json.dumps({"transactions": [batch_record(1), batch_record(2)]})
    response = post_raw(investigator_api, BATCHES_URL, payload)
    assert response.status_code == 202, response.content


@pytest.mark.django_db
def test_json_batch_over_the_upload_limit_is_413_stating_the_limit(investigator_api, batch_dir):
    batch_dir.SECUREFLOW_MAX_UPLOAD_MB = 1
    payload = json.dumps([batch_record(i) for i in range(7_000)]).encode()
    assert MB < len(payload) < 2 * MB

    body = assert_json_error(
        post_raw(investigator_api, BATCHES_URL, payload), 413, "request_too_large"
    )

    assert "largest accepted is 1 MB (SECUREFLOW_MAX_UPLOAD_MB)" in body["detail"], body
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "empty"),
        ('{"id": "J1"}', "Expected a JSON array"),
        ("[]", "empty"),
        ('[{"id": "J1", "account": "A"}]', "'timestamp'"),
    ],
)
def test_bad_json_batch_bodies_are_400_naming_transactions(investigator_api, payload, message):
    response = post_raw(investigator_api, BATCHES_URL, payload)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert message in " ".join(response.json()["transactions"]), response.json()
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["{not json", '[{"id": "J1"', b'[{"id": "\xff"}]'])
def test_malformed_json_batch_body_is_a_400_parse_error(investigator_api, payload):
    body = assert_json_error(post_raw(investigator_api, BATCHES_URL, payload), 400, "parse_error")
    assert "JSON" in body["detail"]
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_json_batch_in_another_charset_is_read_in_that_charset(investigator_api):
    record = {**batch_record(1), "counterparty": "Café Zürich"}
    payload = json.dumps([record], ensure_ascii=False).encode("latin-1")
    response = investigator_api.post(
        BATCHES_URL, payload, content_type="application/json; charset=latin-1"
    )
    assert response.status_code == 202, response.content
    batch = ImportBatch.objects.get(pk=response.json()["id"])
    with open(batch.input_path, "rb") as handle:
        assert json.loads(handle.read())[0]["counterparty"] == "Café Zürich"


@pytest.mark.django_db
def test_realtime_body_over_the_small_limit_is_413_stating_the_limit(investigator_api):
    payload = json.dumps(transaction_body(note="x" * (3 * MB)))

    body = assert_json_error(post_raw(investigator_api, URL, payload), 413, "request_too_large")

    assert "2.5 MB" in body["detail"], body
    assert Transaction.objects.count() == 0
    feedback = post_raw(investigator_api, FEEDBACK_URL, payload)
    assert "2.5 MB" in assert_json_error(feedback, 413, "request_too_large")["detail"]


# -- 4. errors of results.csv / errors.csv are JSON ------------------------------------------
@pytest.fixture
def batch_id(investigator_api) -> int:
    response = investigator_api.post(BATCHES_URL, [batch_record(1)], format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["results", "errors"])
def test_csv_download_errors_are_json(investigator_api, batch_id, name):
    url = f"{BATCHES_URL}{batch_id}/{name}.csv"

    not_found = investigator_api.get(f"{BATCHES_URL}999999/{name}.csv")
    assert_json_error(not_found, 404, "not_found")
    assert_json_error(APIClient().get(url), 401, "not_authenticated")

    ok = investigator_api.get(url)
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/csv")
    assert b"".join(ok.streaming_content).decode().startswith(("id,", "row,"))


@pytest.mark.django_db
def test_bad_results_filter_is_a_json_400_naming_the_filter(investigator_api, batch_id):
    response = investigator_api.get(
        f"{BATCHES_URL}{batch_id}/results.csv", {"outcome": "maybe", "min_risk": "NaN"}
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    errors = response.json()
    assert {"outcome", "min_risk"} <= set(errors), errors
    assert "ErrorDetail" not in response.content.decode()
    assert all(isinstance(m, str) for m in errors["outcome"])


# -- 6. feedback known_at --------------------------------------------------------------------
@pytest.fixture
def occurred_txn(investigator_api) -> Transaction:
    occurred = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    body = transaction_body(id="T-KNOWN", timestamp=occurred.isoformat())
    assert investigator_api.post(URL, body, format="json").status_code == 201
    return Transaction.objects.get(external_id="T-KNOWN")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("known_at", "message"),
    [
        ("2999-01-01T00:00:00Z", "future"),
        ("1971-01-01T00:00:00Z", "before the transaction"),
        ("0001-01-01T00:00:00+05:00", ""),
        ("9999-12-31T23:59:59-05:00", ""),
        (lambda txn: (txn.occurred_at - timedelta(seconds=1)).isoformat(), "before the"),
        (lambda txn: (timezone.now() + timedelta(minutes=30)).isoformat(), "future"),
    ],
)
def test_feedback_known_at_must_lie_between_the_transaction_and_now(
    investigator_api, occurred_txn, known_at, message
):
    value = known_at(occurred_txn) if callable(known_at) else known_at
    response = investigator_api.post(
        FEEDBACK_URL,
        {"transaction": "T-KNOWN", "is_fraud": True, "known_at": value},
        format="json",
    )

    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == ["known_at"], errors
    assert message in " ".join(errors["known_at"]), errors
    assert not FeedbackLabel.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "known_at",
    [
        None,
        lambda txn: txn.occurred_at.isoformat(),
        lambda txn: (timezone.now() + timedelta(minutes=2)).isoformat(),  # clock skew
        lambda txn: (txn.occurred_at + timedelta(hours=3)).isoformat(),
    ],
)
def test_feedback_known_at_in_range_is_recorded(investigator_api, occurred_txn, known_at):
    body = {"transaction": "T-KNOWN", "is_fraud": False}
    if known_at is not None:
        body["known_at"] = known_at(occurred_txn)
    response = investigator_api.post(FEEDBACK_URL, body, format="json")
    assert response.status_code == 201, response.content
    assert FeedbackLabel.objects.filter(transaction=occurred_txn).count() == 1
