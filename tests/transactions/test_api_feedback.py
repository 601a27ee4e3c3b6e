"""The feedback API: labels from chargebacks, customer confirmations and other systems."""

import pytest
from rest_framework.test import APIClient

from cases.models import FeedbackLabel
from secureflow.core.api_keys import api_key_create

URL = "/api/v1/feedback/"


@pytest.fixture
def submitted(investigator_api) -> str:
    response = investigator_api.post(
        "/api/v1/transactions/",
        {
            "id": "T-77",
            "timestamp": "2026-03-01T10:15:00Z",
            "account": "ACC-7",
            "amount": "120.00",
            "transfer_type": "Q",
            "country": "AE",
            "channel": "web",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return "T-77"


@pytest.mark.django_db
def test_feedback_creates_label(investigator_api, investigator, submitted):
    response = investigator_api.post(
        URL,
        {"transaction": submitted, "is_fraud": True, "source": "chargeback", "note": "CB 4837"},
        format="json",
    )

    assert response.status_code == 201, response.content
    label = FeedbackLabel.objects.get()
    assert label.transaction.external_id == "T-77"
    assert label.is_fraud is True
    assert label.source == "chargeback"
    assert label.note == "CB 4837"
    assert label.created_by == investigator
    assert response.json()["transaction"] == "T-77"
    assert response.json()["created_by"] == investigator.username


@pytest.mark.django_db
def test_feedback_source_defaults_to_api(investigator_api, submitted):
    response = investigator_api.post(
        URL, {"transaction": submitted, "is_fraud": False}, format="json"
    )

    assert response.status_code == 201, response.content
    assert FeedbackLabel.objects.get().source == "api"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"transaction": "nope", "is_fraud": True}, "transaction"),
        ({"transaction": "T-77", "is_fraud": "maybe"}, "is_fraud"),
        ({"transaction": "T-77"}, "is_fraud"),
        ({"transaction": "T-77", "is_fraud": True, "source": "rumour"}, "source"),
        ({"transaction": "T-77", "is_fraud": True, "source": "case_decision"}, "source"),
    ],
)
def test_feedback_validation(investigator_api, submitted, payload, field):
    response = investigator_api.post(URL, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert FeedbackLabel.objects.count() == 0


@pytest.mark.django_db
def test_feedback_needs_token_and_role(api_client, make_user, submitted):
    payload = {"transaction": submitted, "is_fraud": True}
    assert api_client.post(URL, payload, format="json").status_code == 401

    user = make_user("nobody", role=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_create(user=user, name='tests').key}")
    assert client.post(URL, payload, format="json").status_code == 403
    assert FeedbackLabel.objects.count() == 0


# -- retries: one label however often a bank system sends it -----------------------------
def _post(client, payload, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, payload, format="json", **extra)


@pytest.mark.django_db
def test_a_retry_with_the_same_key_returns_the_stored_label(investigator_api, submitted):
    payload = {"transaction": submitted, "is_fraud": True, "source": "chargeback", "note": "CB 1"}

    first = _post(investigator_api, payload, key="cb-2026-0001")
    again = _post(investigator_api, payload, key="cb-2026-0001")

    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    label = FeedbackLabel.objects.get()
    assert label.idempotency_key == "cb-2026-0001"


@pytest.mark.django_db
def test_a_retry_without_known_at_matches_the_time_stored_first(investigator_api, submitted):
    payload = {"transaction": submitted, "is_fraud": False, "source": "customer_confirmation"}

    first = _post(investigator_api, payload, key="conf-9")
    stored_known_at = FeedbackLabel.objects.get().known_at
    again = _post(investigator_api, {**payload, "known_at": stored_known_at.isoformat()}, "conf-9")
    once_more = _post(investigator_api, payload, key="conf-9")

    assert (first.status_code, again.status_code, once_more.status_code) == (201, 200, 200)
    assert FeedbackLabel.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"is_fraud": False},
        {"source": "customer_confirmation"},
        {"note": "another note"},
        {"known_at": "2026-03-05T09:00:00Z"},
    ],
)
def test_a_key_used_for_another_label_is_a_conflict(investigator_api, submitted, change):
    payload = {
        "transaction": submitted,
        "is_fraud": True,
        "source": "chargeback",
        "known_at": "2026-03-04T09:00:00Z",
        "note": "CB 2",
    }
    first = _post(investigator_api, payload, key="cb-2")

    response = _post(investigator_api, {**payload, **change}, key="cb-2")

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "idempotency_conflict"
    assert body["label"] == first.json()["id"]
    assert "cb-2" in body["detail"]
    assert FeedbackLabel.objects.count() == 1
    assert FeedbackLabel.objects.get().is_fraud is True


@pytest.mark.django_db
def test_a_key_used_for_another_transaction_is_a_conflict(investigator_api, submitted):
    other = dict(
        id="T-78",
        timestamp="2026-03-01T11:00:00Z",
        account="ACC-7",
        amount="80.00",
        transfer_type="Q",
        country="AE",
        channel="web",
    )
    assert investigator_api.post("/api/v1/transactions/", other, format="json").status_code == 201
    assert (
        _post(investigator_api, {"transaction": submitted, "is_fraud": True}, "k").status_code
        == 201
    )

    response = _post(investigator_api, {"transaction": "T-78", "is_fraud": True}, key="k")

    assert response.status_code == 409, response.content
    assert "T-77" in response.json()["detail"]
    assert list(FeedbackLabel.objects.values_list("transaction__external_id", flat=True)) == [
        "T-77"
    ]


@pytest.mark.django_db
def test_keys_belong_to_their_client(investigator_api, submitted, token_client):
    other_client = token_client("cards-system")
    payload = {"transaction": submitted, "is_fraud": True, "source": "chargeback"}

    ours = _post(investigator_api, payload, key="batch-1")
    theirs = _post(other_client, {**payload, "is_fraud": False}, key="batch-1")

    assert (ours.status_code, theirs.status_code) == (201, 201)
    assert sorted(FeedbackLabel.objects.values_list("created_by__username", "is_fraud")) == [
        ("cards-system", False),
        ("ivy", True),
    ]


@pytest.mark.django_db
def test_the_same_fact_without_a_key_is_stored_once(investigator_api, submitted):
    payload = {
        "transaction": submitted,
        "is_fraud": True,
        "source": "chargeback",
        "known_at": "2026-03-04T09:00:00+04:00",
    }

    first = _post(investigator_api, payload)
    same_instant = _post(investigator_api, {**payload, "known_at": "2026-03-04T05:00:00Z"})
    other_source = _post(investigator_api, {**payload, "source": "customer_confirmation"})
    later = _post(investigator_api, {**payload, "known_at": "2026-03-06T09:00:00Z"})

    assert first.status_code == 201, first.content
    assert same_instant.status_code == 200
    assert same_instant.json()["id"] == first.json()["id"]
    assert (other_source.status_code, later.status_code) == (201, 201)
    assert FeedbackLabel.objects.count() == 3


@pytest.mark.django_db
def test_labels_without_key_or_time_are_each_stored(investigator_api, submitted):
    """Without a key or an explicit time nothing tells a retry from new evidence: each
    label is kept, the newest counting."""
    payload = {"transaction": submitted, "is_fraud": True}

    assert _post(investigator_api, payload).status_code == 201
    assert _post(investigator_api, {**payload, "is_fraud": False}).status_code == 201
    assert FeedbackLabel.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["k" * 129, "key\x07bell", "ключ"])
def test_a_bad_key_is_a_400_naming_the_header(investigator_api, submitted, key):
    response = _post(investigator_api, {"transaction": submitted, "is_fraud": True}, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert FeedbackLabel.objects.count() == 0
