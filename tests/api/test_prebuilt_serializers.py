"""The real-time endpoint validates and answers with serializers built once per thread:
the result must be exactly what a fresh serializer gives, for good and bad bodies."""

import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from detection.models import TransactionScore
from tests.api.conftest import transaction_body
from transactions.api.serializers import (
    DecisionSerializer,
    TransactionSubmitSerializer,
    decision_data,
    submission_validated,
)


def _fresh(data):
    serializer = TransactionSubmitSerializer(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as error:
        return "error", error.detail
    return "ok", dict(serializer.validated_data)


def _prebuilt(data):
    try:
        return "ok", dict(submission_validated(data))
    except ValidationError as error:
        return "error", error.detail


BODIES = [
    transaction_body(),
    transaction_body(timestamp="2026-03-01T10:15:00", customer=""),
    transaction_body(amount=12.5, country="ae", currency="usd"),
    transaction_body(id="  padded  ", account=" A-1 "),
    transaction_body(id="   "),
    transaction_body(amount="-1"),
    transaction_body(amount="1e400"),
    transaction_body(timestamp="yesterday"),
    transaction_body(timestamp=12345),
    transaction_body(timestamp="1960-01-01T00:00:00Z"),
    transaction_body(transfer_type="Z", channel="pigeon"),
    transaction_body(country="ARE", counterparty_country="1"),
    {k: v for k, v in transaction_body().items() if k not in ("id", "amount")},
    {},
    None,
    [],
    [transaction_body()],
    "a string",
    42,
    {"id": None, "timestamp": None, "account": None, "amount": None},
]


@pytest.mark.parametrize("body", BODIES)
def test_same_result_as_a_fresh_serializer(body):
    assert _prebuilt(body) == _fresh(body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
FIELDS = list(transaction_body())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(
        st.sampled_from(FIELDS), JSON_VALUES | st.text(max_size=70), max_size=4
    ),
    dropped=st.sets(st.sampled_from(FIELDS), max_size=3),
)
def test_same_result_for_generated_bodies(changes, dropped):
    body = {k: v for k, v in transaction_body(**changes).items() if k not in dropped}
    assert _prebuilt(body) == _fresh(body)


def test_threads_get_their_own_serializers():
    results = []

    def work(n: int) -> None:
        for i in range(50):
            body = transaction_body(id=f"T-{n}-{i}", amount=str(n * 100 + i))
            results.append(_prebuilt(body) == _fresh(body))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200 and all(results)


@pytest.mark.django_db
def test_decision_body_is_the_serializers(token_client):
    client = token_client("bank")
    for n, amount in enumerate(["25.00", "99999.00", "150000.00"]):
        response = client.post(
            "/api/v1/transactions/", transaction_body(id=f"D-{n}", amount=amount), format="json"
        )
        assert response.status_code == 201, response.content
        score = TransactionScore.objects.select_related("transaction").get(
            transaction__external_id=f"D-{n}"
        )
        fresh = dict(DecisionSerializer(score).data)
        assert decision_data(score) == fresh
        assert response.json() == json.loads(JSONRenderer().render(fresh))
