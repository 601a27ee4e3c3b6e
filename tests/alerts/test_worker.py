"""A real Celery worker process sends the alerts: on Redis (+ PostgreSQL in CI) when this run
uses Redis, on the embedded filesystem broker otherwise."""

from datetime import UTC, datetime

import pytest

from alerts.models import AlertDelivery
from alerts.services import alert_subscription_create
from tests.alerts.conftest import make_scored
from tests.conftest import wait_for


def post_transaction(api, external_id: str, amount: str, when: datetime):
    response = api.post(
        "/api/v1/transactions/",
        {
            "id": external_id,
            "timestamp": when.isoformat(),
            "account": "AE-WORKER-1",
            "customer": "C-WORKER",
            "counterparty": "NEW-PAYEE",
            "counterparty_country": "NG",
            "amount": amount,
            "transfer_type": "S",
            "country": "NG",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_transaction_scored_through_the_api_is_emailed_by_a_worker(
    investigator, investigator_api, smtp_server, worker_broker, celery_worker_factory
):
    broker_url, worker_env = worker_broker
    worker = celery_worker_factory(broker_url, **worker_env, **smtp_server.env())
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")

    now = datetime.now(UTC).replace(microsecond=0)
    decisions = [post_transaction(investigator_api, f"API-W-{i}", "900.00", now) for i in range(2)]
    blocked = post_transaction(investigator_api, "API-W-2", "31000.00", now)
    assert blocked["outcome"] == "block", blocked  # three transfers in 30 seconds
    assert all(d["outcome"] != "block" for d in decisions)

    mail = wait_for(lambda: smtp_server.messages, timeout=120, worker=worker)[0]
    assert mail.rcpt_tos == ["ivy@bank.test"]
    assert "block AED 31,000.00 from account AE-WORKER-1" in mail.subject
    assert "Transaction API-W-2 was blocked by SecureFlow." in mail.body
    assert "in 30 seconds; limit is 2" in mail.body
    delivery = wait_for(
        lambda: AlertDelivery.objects.filter(status="sent").first(), timeout=30, worker=worker
    )
    assert delivery.transaction.external_id == "API-W-2" and delivery.attempts == 1
    assert AlertDelivery.objects.count() == 1  # the first two were not alerts


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_worker_retries_with_backoff_and_a_dead_endpoint_does_not_hold_up_the_rest(
    make_user, account, smtp_server, http_server, worker_broker, celery_worker_factory
):
    broker_url, worker_env = worker_broker
    http_server.plan("/sms", 500, 503)  # then 200
    http_server.always("/hook", 500)
    worker = celery_worker_factory(
        broker_url,
        **worker_env,
        **smtp_server.env(),
        SECUREFLOW_SMS_GATEWAY_URL=http_server.url("/sms"),
        SECUREFLOW_ALERT_RETRY_BASE_SECONDS="0.4",
        SECUREFLOW_ALERT_MAX_ATTEMPTS="3",
    )
    ivy = make_user("ivy")
    alert_subscription_create(user=ivy, channel="sms", destination="+971501234567")
    alert_subscription_create(user=ivy, channel="webhook", destination=http_server.url("/hook"))
    alert_subscription_create(user=ivy, channel="email", destination="ivy@bank.test")
    score = make_scored(account, risk=0.97, outcome="block")  # commits: handed to the worker

    def settled():
        rows = AlertDelivery.objects.filter(transaction_id=score.transaction_id)
        return (
            {d.channel: d for d in rows}
            if all(d.status in {"sent", "failed"} for d in rows)
            else None
        )

    by_channel = wait_for(settled, timeout=120, worker=worker)
    sms, hook, mail = by_channel["sms"], by_channel["webhook"], by_channel["email"]
    assert (sms.status, sms.attempts) == ("sent", 3)
    calls = http_server.to("/sms")
    assert [c.status for c in calls] == [500, 503, 200]
    # Exponential backoff between attempts: 0.4 s, then 0.8 s.
    assert calls[1].received_at - calls[0].received_at >= 0.35
    assert calls[2].received_at - calls[1].received_at >= 0.7
    assert (hook.status, hook.attempts) == ("failed", 3)
    assert hook.last_error.startswith(f"HTTP 500 from {http_server.url('/hook')}")
    assert len(http_server.to("/hook")) == 3
    assert mail.status == "sent" and len(smtp_server.messages) == 1
