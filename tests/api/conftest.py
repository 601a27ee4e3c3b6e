"""Request bodies for the API tests (the `token_client` fixture lives in tests/conftest.py)."""


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
