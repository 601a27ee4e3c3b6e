"""Every API error is JSON with a reason; bad input is a 400 naming the field, never a 500."""

import json
import logging
from unittest import mock

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from tests.api.conftest import transaction_body
from transactions.api import views as transaction_views
from transactions.models import Transaction

URL = "/api/v1/transactions/"
FEEDBACK_URL = "/api/v1/feedback/"


def post_raw(client: APIClient, payload: str, url: str = URL, **extra):
    return client.post(url, payload, content_type="application/json", **extra)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ('{"amount": true}', "amount", "valid number"),
        ('{"amount": {"value": 1}}', "amount", "valid number"),
        ('{"amount": 1e400}', "amount", "valid number"),
        ('{"amount": 123456789012345678901234567890}', "amount", "digits"),
        ('{"amount": "-0.01"}', "amount", "greater than or equal to 0"),
        ('{"timestamp": "2026-02-30T10:00:00Z"}', "timestamp", "format"),
        ('{"timestamp": "0001-01-01T00:00:00+05:00"}', "timestamp", ""),
        ('{"timestamp": "9999-12-31T23:59:59-05:00"}', "timestamp", ""),
        ('{"timestamp": "1969-12-31T23:59:59Z"}', "timestamp", "between 1970"),
        ('{"timestamp": 1767225600}', "timestamp", "format"),
        ('{"transfer_type": "X"}', "transfer_type", "use one of: O, I, L, Q, S"),
        ('{"channel": "pigeon"}', "channel", "use one of"),
        ('{"id": {"a": 1}}', "id", "valid string"),
        ('{"id": "T\\u0000"}', "id", "Null characters"),
        ('{"counterparty": "\\ud800"}', "counterparty", "Surrogate"),
        ('{"country": 12}', "country", "two-letter"),
    ],
)
def test_bad_fields_are_400_naming_field_and_reason(investigator_api, payload, field, reason):
    # spliced as text: the JSON goes to the server exactly as written (e.g. 1e400)
    (name,) = json.loads(payload.replace("1e400", "0"))
    base = {k: v for k, v in transaction_body().items() if k != name}
    response = post_raw(investigator_api, json.dumps(base)[:-1] + ", " + payload[1:])

    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert isinstance(errors[field], list) and errors[field]
    assert reason.lower() in " ".join(errors[field]).lower(), errors[field]
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["[]", '"a string"', "42", "null", "true"])
def test_non_object_bodies_are_400(investigator_api, payload):
    response = post_raw(investigator_api, payload)

    assert response.status_code == 400, response.content
    assert "non_field_errors" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["{not json", '{"amount": NaN}', '{"amount": Infinity}', ""])
def test_malformed_json_is_400_parse_error(investigator_api, payload):
    response = post_raw(investigator_api, payload)

    if payload == "":  # no body at all: every required field is named
        assert response.status_code == 400
        assert {"id", "timestamp", "account", "amount"} <= set(response.json())
    else:
        assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_idempotency_key_must_be_printable_ascii(investigator_api):
    response = investigator_api.post(
        URL, transaction_body(), format="json", HTTP_IDEMPOTENCY_KEY="key\x07bell"
    )

    assert response.status_code == 400
    assert response.json()["Idempotency-Key"] == ["Use printable ASCII characters only."]


@pytest.mark.django_db
def test_status_codes_other_than_400_are_json(investigator_api, api_client, token_client):
    assert_error(api_client.post(URL, transaction_body(), format="json"), 401, "not_authenticated")
    assert_error(token_client("norole", role=None).get(URL), 403, "permission_denied")
    assert_error(investigator_api.get(f"{URL}no-such-id/"), 404, "not_found")
    assert_error(investigator_api.get(f"{URL}bad%00id/"), 404, "not_found")
    assert_error(investigator_api.get(f"{URL}{'x' * 500}/"), 404, "not_found")
    assert_error(investigator_api.get("/api/v1/no-such-endpoint/"), 404, "not_found")
    assert_error(investigator_api.put(URL, {}, format="json"), 405, "method_not_allowed")
    assert_error(investigator_api.delete(f"{URL}T-1/"), 405, "method_not_allowed")
    assert_error(
        investigator_api.post(URL, "id=1", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert investigator_api.post(URL, transaction_body(), format="json").status_code == 201
    conflict = investigator_api.post(URL, transaction_body(amount="1.00"), format="json")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"


@pytest.mark.django_db
def test_an_unexpected_failure_is_a_logged_json_500(investigator_api, caplog):
    investigator_api.raise_request_exception = False
    with (
        mock.patch.object(transaction_views, "transaction_submit", side_effect=RuntimeError("x")),
        caplog.at_level(logging.ERROR, logger="secureflow.api"),
    ):
        response = investigator_api.post(URL, transaction_body(), format="json")

    assert_error(response, 500, "server_error")
    assert "RuntimeError" in caplog.text


@pytest.mark.django_db
def test_page_size_is_capped_and_a_huge_limit_is_no_500(investigator_api):
    assert investigator_api.post(URL, transaction_body(), format="json").status_code == 201

    huge = investigator_api.get(URL, {"limit": str(10**30)})
    assert huge.status_code == 200, huge.content
    assert len(huge.json()["results"]) == 1
    assert huge.json()["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"min_risk": "NaN"}, "min_risk"),
        ({"occurred_after": "not a date"}, "occurred_after"),
        ({"outcome": "maybe"}, "outcome"),
        ({"account": "A\x00B"}, "account"),
        ({"occurred_after": "0001-01-01T00:00:00+05:00"}, "occurred_after"),
        ({"occurred_before": "9999-12-31T23:59:59-05:00"}, "occurred_before"),
        ({"occurred_before": "1900-01-01T00:00:00Z"}, "occurred_before"),
        ({"min_risk": "1e400"}, "min_risk"),
    ],
)
def test_bad_list_filters_are_400_naming_the_filter(investigator_api, query, field):
    response = investigator_api.get(URL, query)

    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.django_db
def test_feedback_errors_name_the_field(investigator_api):
    unknown = investigator_api.post(
        FEEDBACK_URL, {"transaction": "nope", "is_fraud": True}, format="json"
    )
    assert unknown.status_code == 400
    assert "transaction" in unknown.json()
    assert_error(post_raw(investigator_api, "{", url=FEEDBACK_URL), 400, "parse_error")
    wrong_type = investigator_api.post(
        FEEDBACK_URL, {"transaction": "x", "is_fraud": "perhaps"}, format="json"
    )
    assert "is_fraud" in wrong_type.json()


@pytest.mark.django_db
def test_schema_documents_errors_and_docs_use_local_assets(investigator_api):
    schema = investigator_api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    submit = document["paths"]["/api/v1/transactions/"]["post"]["responses"]
    for code in ("201", "400", "401", "403", "409", "429"):
        assert code in submit, code
    assert "ThrottledError" in document["components"]["schemas"]
    feedback = document["paths"]["/api/v1/feedback/"]["post"]["responses"]
    assert {"400", "401", "403", "429"} <= set(feedback)

    docs = investigator_api.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    assets = [part.split('"')[0] for part in html.replace("'", '"').split('"/static/')[1:]]
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        assert finders.find(asset), f"static asset missing: {asset}"
