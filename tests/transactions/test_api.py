"""The transactions API: submit for a decision, idempotency, validation, list and detail."""

from decimal import Decimal
from unittest import mock

import pytest
from rest_framework.test import APIClient

from detection.models import TransactionScore
from secureflow.core.api_keys import api_key_create
from transactions import services
from transactions.models import Account, Counterparty, Customer, Transaction

URL = "/api/v1/transactions/"


def body(**overrides: object) -> dict:
    data = {
        "id": "T-1001",
        "timestamp": "2026-03-01T10:15:00Z",
        "account": "AE-ACC-1",
        "customer": "C-1",
        "counterparty": "BEN-9",
        "counterparty_country": "ae",
        "amount": "250.50",
        "currency": "AED",
        "transfer_type": "L",
        "country": "AE",
        "channel": "mobile",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_submit_creates_transaction_and_returns_decision(investigator_api):
    response = investigator_api.post(URL, body(), format="json")

    assert response.status_code == 201, response.content
    decision = response.json()
    assert decision["transaction"] == "T-1001"
    assert decision["outcome"] in {"approve", "review", "block"}
    assert 0.0 <= decision["risk_score"] <= 1.0
    for key in ("reasons", "rule_hits", "contributions", "model_scores", "model_versions"):
        assert key in decision
    assert decision["latency_ms"] >= 0

    txn = Transaction.objects.select_related("account__customer", "counterparty").get()
    assert txn.external_id == "T-1001"
    assert txn.amount == Decimal("250.50")
    assert txn.account.number == "AE-ACC-1"
    assert txn.account.customer.external_id == "C-1"
    assert txn.counterparty.identifier == "BEN-9"
    assert txn.counterparty.country == "AE"
    assert txn.status != "received"
    score = TransactionScore.objects.get(transaction=txn)
    assert score.outcome == decision["outcome"]


@pytest.mark.django_db
def test_customer_defaults_to_account_and_amount_may_be_a_number(investigator_api):
    data = body(amount=99.5)
    del data["customer"], data["counterparty"], data["counterparty_country"]

    response = investigator_api.post(URL, data, format="json")

    assert response.status_code == 201, response.content
    txn = Transaction.objects.select_related("account__customer").get()
    assert txn.amount == Decimal("99.50")
    assert txn.counterparty is None
    assert txn.account.customer.external_id == "AE-ACC-1"


@pytest.mark.django_db
def test_existing_account_and_counterparty_are_reused(investigator_api):
    assert investigator_api.post(URL, body(), format="json").status_code == 201
    second = investigator_api.post(URL, body(id="T-1002"), format="json")

    assert second.status_code == 201, second.content
    assert Transaction.objects.count() == 2
    assert Account.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Counterparty.objects.count() == 1


@pytest.mark.django_db
def test_account_of_another_customer_is_400(investigator_api):
    assert investigator_api.post(URL, body(), format="json").status_code == 201

    response = investigator_api.post(URL, body(id="T-1002", customer="C-2"), format="json")

    assert response.status_code == 400
    assert "customer" in response.json()
    assert Transaction.objects.count() == 1


@pytest.mark.django_db
def test_replay_returns_stored_decision_without_a_second_row(investigator_api):
    first = investigator_api.post(URL, body(), format="json")
    replay = investigator_api.post(URL, body(amount="250.5"), format="json")

    assert first.status_code == 201
    assert replay.status_code == 200, replay.content
    assert replay.json()["transaction"] == "T-1001"
    assert replay.json()["outcome"] == first.json()["outcome"]
    assert replay.json()["scored_at"] == first.json()["scored_at"]
    assert Transaction.objects.count() == 1
    assert TransactionScore.objects.count() == 1


@pytest.mark.django_db
def test_same_id_with_different_body_is_409(investigator_api):
    assert investigator_api.post(URL, body(), format="json").status_code == 201

    response = investigator_api.post(URL, body(amount="999.00"), format="json")

    assert response.status_code == 409
    error = response.json()
    assert error["code"] == "idempotency_conflict"
    assert error["transaction"] == "T-1001"
    assert Transaction.objects.get().amount == Decimal("250.50")


@pytest.mark.django_db
def test_idempotency_key_replay_and_conflict(investigator_api):
    key = {"HTTP_IDEMPOTENCY_KEY": "key-abc"}
    assert investigator_api.post(URL, body(), format="json", **key).status_code == 201
    assert Transaction.objects.get().idempotency_key == "key-abc"

    assert investigator_api.post(URL, body(), format="json", **key).status_code == 200
    reused = investigator_api.post(URL, body(id="T-2000"), format="json", **key)

    assert reused.status_code == 409
    assert reused.json()["transaction"] == "T-1001"
    assert Transaction.objects.count() == 1


@pytest.mark.django_db
def test_concurrent_duplicate_insert_returns_the_stored_row(investigator, investigator_api):
    """The loser of a race misses the first lookup and hits the unique constraint."""
    assert investigator_api.post(URL, body(), format="json").status_code == 201
    data = {**body(), "timestamp": Transaction.objects.get().occurred_at, "amount": "250.50"}
    real_lookup = services._existing_transaction
    calls = iter([None])

    def lookup(**kwargs):
        return next(calls, None) or real_lookup(**kwargs)

    with mock.patch.object(services, "_existing_transaction", side_effect=lookup):
        txn, score, created = services.transaction_submit(data=data, user=investigator)

    assert created is False
    assert txn.external_id == "T-1001"
    assert score.transaction_id == txn.pk
    assert Transaction.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "1234567890123456.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": None}, "amount"),
        ({"transfer_type": "X"}, "transfer_type"),
        ({"channel": "fax"}, "channel"),
        ({"country": "ARE"}, "country"),
        ({"currency": "DIRHAM"}, "currency"),
        ({"id": ""}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"account": "   "}, "account"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(investigator_api, overrides, field):
    response = investigator_api.post(URL, body(**overrides), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_missing_required_fields_are_named(investigator_api):
    response = investigator_api.post(URL, {}, format="json")

    assert response.status_code == 400
    assert {"id", "timestamp", "account", "amount"} <= set(response.json())


@pytest.mark.django_db
def test_non_json_body_is_400(investigator_api):
    response = investigator_api.post(URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.django_db
def test_json_list_body_is_400(investigator_api):
    response = investigator_api.post(URL, [body()], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


@pytest.mark.django_db
def test_too_long_idempotency_key_is_400(investigator_api):
    response = investigator_api.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 200)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


@pytest.mark.django_db
def test_without_token_is_401(api_client):
    assert api_client.post(URL, body(), format="json").status_code == 401
    assert api_client.get(URL).status_code == 401


@pytest.mark.django_db
def test_user_without_role_is_403(make_user):
    user = make_user("nobody", role=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_create(user=user, name='tests').key}")

    assert client.post(URL, body(), format="json").status_code == 403
    assert client.get(URL).status_code == 403
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_admin_may_submit(admin_user_sf):
    client = APIClient()
    client.force_authenticate(admin_user_sf)

    assert client.post(URL, body(), format="json").status_code == 201


def _submit_three(client: APIClient) -> None:
    rows = [
        body(id="A-1", account="ACC-A", customer="CUS-A", timestamp="2026-03-01T08:00:00Z"),
        body(id="A-2", account="ACC-A", customer="CUS-A", timestamp="2026-03-02T08:00:00Z"),
        body(id="B-1", account="ACC-B", customer="CUS-B", timestamp="2026-03-03T08:00:00Z"),
    ]
    for row in rows:
        assert client.post(URL, row, format="json").status_code == 201


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


@pytest.mark.django_db
def test_list_filters(investigator_api):
    _submit_three(investigator_api)
    TransactionScore.objects.filter(transaction__external_id="A-2").update(
        risk_score=0.9, outcome="block"
    )

    assert _ids(investigator_api.get(URL)) == ["A-1", "A-2", "B-1"]
    assert _ids(investigator_api.get(URL, {"account": "ACC-A"})) == ["A-1", "A-2"]
    assert _ids(investigator_api.get(URL, {"customer": "CUS-B"})) == ["B-1"]
    assert _ids(investigator_api.get(URL, {"outcome": "block"})) == ["A-2"]
    assert _ids(investigator_api.get(URL, {"min_risk": "0.5"})) == ["A-2"]
    assert _ids(investigator_api.get(URL, {"max_risk": "0.5"})) == ["A-1", "B-1"]
    assert _ids(investigator_api.get(URL, {"occurred_after": "2026-03-02T00:00:00Z"})) == [
        "A-2",
        "B-1",
    ]
    assert _ids(investigator_api.get(URL, {"occurred_before": "2026-03-02T00:00:00Z"})) == ["A-1"]


@pytest.mark.django_db
def test_bad_filter_value_is_400(investigator_api):
    response = investigator_api.get(URL, {"min_risk": "high"})

    assert response.status_code == 400
    assert "min_risk" in response.json()


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_rows(investigator_api, django_assert_max_num_queries):
    _submit_three(investigator_api)
    for n in range(10):
        investigator_api.post(URL, body(id=f"X-{n}"), format="json")

    with django_assert_max_num_queries(8):
        response = investigator_api.get(URL)
    assert len(response.json()["results"]) == 13


@pytest.mark.django_db
def test_detail_includes_score(investigator_api):
    investigator_api.post(URL, body(), format="json")

    response = investigator_api.get(f"{URL}T-1001/")

    assert response.status_code == 200, response.content
    detail = response.json()
    assert detail["id"] == "T-1001"
    assert detail["account"] == "AE-ACC-1"
    assert detail["customer"] == "C-1"
    assert detail["amount"] == "250.50"
    assert detail["score"]["outcome"] in {"approve", "review", "block"}
    assert investigator_api.get(f"{URL}missing/").status_code == 404


@pytest.mark.django_db
def test_schema_endpoint(investigator_api):
    response = investigator_api.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/transactions/" in response.content
    assert b"/api/v1/feedback/" in response.content


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_posts_create_one_row(postgres_required, investigator):
    """Real concurrent requests on PostgreSQL: one 201, the others replay (200)."""
    import threading

    from django.db import connection

    token = api_key_create(user=investigator, name="tests").key
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def post() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            barrier.wait(timeout=10)
            statuses.append(client.post(URL, body(), format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] * 5 + [201]
    assert Transaction.objects.count() == 1
    assert TransactionScore.objects.count() == 1


@pytest.mark.django_db
def test_ids_with_slashes_and_dots_are_read_back_as_posted(investigator_api):
    """A bank's ids such as 2026/11/0042 are accepted by POST, so GET finds them too."""
    for external_id in ("2026/11/0042", "TX.2026"):
        created = investigator_api.post(URL, body(id=external_id), format="json")
        assert created.status_code == 201, created.content
        response = investigator_api.get(f"{URL}{external_id}/")
        assert response.status_code == 200, (external_id, response.content)
        assert response.json()["id"] == external_id
    assert investigator_api.get(f"{URL}2026/11/").status_code == 404
    assert len(investigator_api.get(URL).json()["results"]) == 2
