"""The feedback API: labels from chargebacks, customer confirmations and other systems."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.models import FeedbackLabel

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
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.post(URL, payload, format="json").status_code == 403
    assert FeedbackLabel.objects.count() == 0
