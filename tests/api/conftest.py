"""Fixtures for the API tests: a token client whose rate-limit counters are its own."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def token_client(make_user):
    """Make an API client for a new user in a role (each has its own token, so its own
    rate-limit counters)."""

    def _make(username: str, role: str | None = "Investigator") -> APIClient:
        user = make_user(username, role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return client

    return _make


def transaction_body(**overrides: object) -> dict:
    data = {
        "id": "T-1001",
        "timestamp": "2026-03-01T10:15:00Z",
        "account": "AE-ACC-1",
        "customer": "C-1",
        "counterparty": "BEN-9",
        "counterparty_country": "AE",
        "amount": "250.50",
        "currency": "AED",
        "transfer_type": "L",
        "country": "AE",
        "channel": "mobile",
    }
    data.update(overrides)
    return data
