"""Real-time decisions are matched against a cached alert audience: no query when nobody
can be interested, and every change in this process takes effect at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import audience as audience_module
from alerts.audience import cached_alert_audience
from alerts.models import AlertDelivery
from alerts.services import alert_subscription_create
from tests.api.conftest import transaction_body

URL = "/api/v1/transactions/"


def _alert_queries(client, body) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return [q["sql"] for q in ctx.captured_queries if "alerts_" in q["sql"]]


@pytest.mark.django_db
def test_no_query_when_nobody_listens(token_client):
    client = token_client("bank")
    assert _alert_queries(client, transaction_body(id="A-1"))  # the audience is read once
    assert _alert_queries(client, transaction_body(id="A-2")) == []


@pytest.mark.django_db
def test_a_new_subscription_takes_effect_at_once(token_client, make_user):
    client = token_client("bank")
    client.post(URL, transaction_body(id="A-1"), format="json")  # caches an empty audience
    listener = make_user("lee", email="lee@bank.test")
    alert_subscription_create(
        user=listener, channel="email", destination="lee@bank.test", min_risk=0.0
    )
    assert client.post(URL, transaction_body(id="A-2"), format="json").status_code == 201
    assert AlertDelivery.objects.filter(
        transaction__external_id="A-2", destination="lee@bank.test"
    ).exists()


@pytest.mark.django_db
def test_the_cached_audience_expires(make_user, settings, monkeypatch):
    settings.SECUREFLOW_ALERT_AUDIENCE_CACHE_SECONDS = 5
    clock = [500.0]
    monkeypatch.setattr(audience_module.time, "monotonic", lambda: clock[0])
    first = cached_alert_audience()
    assert cached_alert_audience() is first
    clock[0] += 5.5
    assert cached_alert_audience() is not first


@pytest.mark.django_db
def test_zero_reads_every_time(settings):
    settings.SECUREFLOW_ALERT_AUDIENCE_CACHE_SECONDS = 0
    with CaptureQueriesContext(connection) as ctx:
        cached_alert_audience()
        cached_alert_audience()
    assert len([q for q in ctx.captured_queries if "alerts_alertsubscription" in q["sql"]]) == 2
