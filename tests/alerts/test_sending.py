"""Alerts leave through real protocol peers on 127.0.0.1: SMTP (aiosmtpd) and HTTP
(SMS gateway, Twilio-shaped API, webhook receiver). Celery runs the tasks in this process."""

import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

from alerts.channels.webhook import webhook_signature_valid
from alerts.conf import retry_delay
from alerts.models import AlertDelivery
from alerts.services import (
    alert_deliveries_retry,
    alert_delivery_send,
    alert_subscription_create,
)
from alerts.tasks import deliver_alert
from tests.alerts.conftest import make_scored

pytestmark = pytest.mark.django_db


def open_case_id(score):
    from django.apps import apps

    try:
        case_model = apps.get_model("cases", "Case")
    except LookupError:
        return None
    case = case_model.objects.filter(transaction_id=score.transaction_id).first()
    return case.pk if case else None


def scored(account, capture, **kwargs):
    with capture(execute=True):
        return make_scored(account, **kwargs)


def test_email_alert_reaches_smtp_server_in_plain_language(
    investigator, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    alert_subscription_create(user=investigator, channel="email", destination="Ivy@Bank.test")
    score = scored(
        account,
        django_capture_on_commit_callbacks,
        risk=0.97,
        outcome="block",
        external_id="TXN-MAIL-1",
    )

    [mail] = smtp_settings.messages
    assert mail.rcpt_tos == ["ivy@bank.test"]
    assert mail.mail_from == "alerts@bank.test"
    assert (
        mail.subject
        == "SecureFlow alert: block AED 48,000.00 from account AE-0009-1234 (risk 0.97)"
    )
    body = mail.body
    assert "Transaction TXN-MAIL-1 was blocked by SecureFlow." in body
    assert "Account:     AE-0009-1234 (Mariam Haddad)" in body
    assert "Risk score:  0.97 (outcome: block)" in body
    assert "  - Amount AED 48,000.00 is 9.3× this account's average" in body
    assert "  - 3 transfers in 30 seconds; limit is 2" in body
    assert "A fourth reason" not in body  # top three only
    case_id = open_case_id(score)
    if case_id is not None:  # the cases app opens a case for a flagged transaction
        assert f"Open the case: http://127.0.0.1:8000/cases/{case_id}/" in body
    else:
        assert "Transaction details: http://127.0.0.1:8000/api/v1/transactions/TXN-MAIL-1/" in body
    assert mail.message["X-SecureFlow-Transaction"] == "TXN-MAIL-1"

    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.status == "sent" and delivery.attempts == 1 and delivery.sent_at
    assert delivery.provider_reference == mail.message["Message-ID"]
    assert delivery.payload["subject"] == mail.subject


def test_alert_without_a_case_links_to_the_transaction_api(
    investigator, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.SECUREFLOW_BASE_URL = "https://fraud.bank.test/"
    alert_subscription_create(
        user=investigator, channel="email", destination="ivy@bank.test", min_risk=0.4
    )
    score = scored(
        account,
        django_capture_on_commit_callbacks,
        risk=0.45,
        outcome="approve",
        external_id="T/approve 1",
        reasons=[],
    )
    assert open_case_id(score) is None
    [mail] = smtp_settings.messages
    assert "Transaction T/approve 1 was approved but scored above the alert threshold" in mail.body
    assert "Why:" not in mail.body
    assert (
        "Transaction details: https://fraud.bank.test/api/v1/transactions/T%2Fapprove%201/"
        in mail.body
    )


def test_sms_through_the_json_gateway(
    investigator, account, http_server, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms/send")
    settings.SECUREFLOW_SMS_GATEWAY_TOKEN = "gw-token-from-env"
    alert_subscription_create(user=investigator, channel="sms", destination="+971 50 123 4567")
    score = scored(account, django_capture_on_commit_callbacks, risk=0.93, outcome="review")

    [request] = http_server.to("/sms/send")
    assert request.headers["Authorization"] == "Bearer gw-token-from-env"
    assert request.headers["Content-Type"] == "application/json"
    sent = request.json()
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert sent["to"] == "+971501234567"
    assert sent["reference"] == f"secureflow-alert-{delivery.pk}"
    assert sent["message"].startswith("SecureFlow: AED 48,000.00 from acct AE-0009-1234 was sent")
    assert "risk 0.93" in sent["message"] and len(sent["message"]) <= 320
    assert delivery.status == "sent" and delivery.provider_reference == "gw-1"


def test_sms_through_twilio_rest_api(
    investigator, account, http_server, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/not-used")
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = "twilio-token-from-env"
    settings.TWILIO_FROM = "+15005550006"
    settings.TWILIO_API_BASE_URL = http_server.url("")
    alert_subscription_create(user=investigator, channel="sms", destination="+971501234567")
    score = scored(account, django_capture_on_commit_callbacks, risk=0.96, outcome="block")

    path = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
    [request] = http_server.to(path)
    assert http_server.to("/not-used") == []
    user, _, password = (
        base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
    ).partition(":")
    assert (user, password) == (settings.TWILIO_ACCOUNT_SID, "twilio-token-from-env")
    form = urllib.parse.parse_qs(request.body.decode())
    assert form["To"] == ["+971501234567"]
    assert form["From"] == ["+15005550006"]
    assert "was blocked" in form["Body"][0]
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.status == "sent"
    assert delivery.provider_reference.startswith("SM")


def test_webhook_is_signed_over_timestamp_and_body(
    investigator, account, http_server, eager_celery, django_capture_on_commit_callbacks
):
    subscription = alert_subscription_create(
        user=investigator, channel="webhook", destination=http_server.url("/hooks/fraud")
    )
    score = scored(
        account, django_capture_on_commit_callbacks, risk=0.92, outcome="review", external_id="W-1"
    )

    [request] = http_server.to("/hooks/fraud")
    assert {"X-SecureFlow-Timestamp", "X-SecureFlow-Signature"} <= set(request.headers.keys())
    timestamp = request.headers["X-SecureFlow-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 30
    expected = hmac.new(
        subscription.webhook_secret.encode(),
        timestamp.encode() + b"." + request.body,
        hashlib.sha256,
    ).hexdigest()
    assert request.headers["X-SecureFlow-Signature"] == f"sha256={expected}"
    assert webhook_signature_valid(
        subscription.webhook_secret,
        timestamp=timestamp,
        body=request.body,
        signature=request.headers["X-SecureFlow-Signature"],
    )
    assert not webhook_signature_valid(
        "another-secret",
        timestamp=timestamp,
        body=request.body,
        signature=request.headers["X-SecureFlow-Signature"],
    )
    assert not webhook_signature_valid(
        subscription.webhook_secret,
        timestamp=str(int(timestamp) - 3600),
        body=request.body,
        signature=request.headers["X-SecureFlow-Signature"],
    )
    data = json.loads(request.body)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert request.headers["X-SecureFlow-Delivery"] == str(delivery.pk)
    assert data["event"] == "transaction.flagged"
    assert data["transaction"]["id"] == "W-1"
    assert data["transaction"]["amount"] == "48000.00"
    assert data["risk_score"] == pytest.approx(0.92)
    assert data["outcome"] == "review"
    assert data["rule_hits"] == ["velocity_30s"]
    assert len(data["reasons"]) == 3
    assert delivery.status == "sent"


def test_gateway_failing_twice_then_succeeding_is_retried(
    investigator,
    account,
    http_server,
    settings,
    fast_retries,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms")
    http_server.plan("/sms", 503, 500)
    alert_subscription_create(user=investigator, channel="sms", destination="+971501234567")
    score = scored(account, django_capture_on_commit_callbacks, risk=0.95)

    requests = http_server.to("/sms")
    assert [r.status for r in requests] == [503, 500, 200]
    assert len({r.json()["reference"] for r in requests}) == 1
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.status == "sent"
    assert delivery.attempts == 3
    assert "HTTP 500" in delivery.last_error  # the error before success stays visible


def test_gateway_always_failing_ends_failed_and_other_alerts_still_go(
    make_user,
    account,
    http_server,
    smtp_settings,
    settings,
    fast_retries,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms")
    http_server.always("/sms", 502)
    ivy = make_user("ivy")
    alert_subscription_create(user=ivy, channel="sms", destination="+971501234567")
    alert_subscription_create(user=ivy, channel="email", destination="ivy@bank.test")
    alert_subscription_create(
        user=make_user("omar"), channel="webhook", destination=http_server.url("/hook")
    )
    score = scored(account, django_capture_on_commit_callbacks, risk=0.99, outcome="block")

    by_channel = {
        d.channel: d for d in AlertDelivery.objects.filter(transaction_id=score.transaction_id)
    }
    sms = by_channel["sms"]
    assert sms.status == "failed"
    assert sms.attempts == 3  # SECUREFLOW_ALERT_MAX_ATTEMPTS
    assert sms.last_error.startswith(f"HTTP 502 from {http_server.url('/sms')}")
    assert len(http_server.to("/sms")) == 3
    assert by_channel["email"].status == "sent"
    assert by_channel["webhook"].status == "sent"
    assert len(smtp_settings.messages) == 1 and len(http_server.to("/hook")) == 1

    # An admin retries the failed alert after the gateway is fixed.
    http_server.always("/sms", 200)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_deliveries_retry(delivery_ids=[sms.pk, by_channel["email"].pk]) == [sms.pk]
    sms.refresh_from_db()
    assert sms.status == "sent" and sms.attempts == 1
    assert len(smtp_settings.messages) == 1  # the sent e-mail was not sent again


def test_client_error_is_permanent_and_not_retried(
    investigator,
    account,
    http_server,
    settings,
    fast_retries,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms")
    http_server.always("/sms", 400)
    alert_subscription_create(user=investigator, channel="sms", destination="+971501234567")
    score = scored(account, django_capture_on_commit_callbacks, risk=0.95)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "HTTP 400" in delivery.last_error and "21211" in delivery.last_error
    assert len(http_server.to("/sms")) == 1


def test_unreachable_smtp_server_is_retried_then_failed(
    investigator, account, settings, fast_retries, eager_celery, django_capture_on_commit_callbacks
):
    from tests.alerts.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    score = scored(account, django_capture_on_commit_callbacks, risk=0.95)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert "Could not reach the mail server 127.0.0.1" in delivery.last_error


def test_redelivered_task_never_sends_a_sent_alert_again(
    investigator, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    score = scored(account, django_capture_on_commit_callbacks, risk=0.95)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    assert delivery.status == "sent"

    assert deliver_alert.apply(args=(delivery.pk,)).get() == "sent"  # the broker redelivers
    assert alert_delivery_send(delivery_id=delivery.pk).status == "sent"
    assert len(smtp_settings.messages) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_claim_held_by_another_worker_is_left_until_its_lease_ends(
    investigator, account, smtp_settings, settings
):
    from datetime import timedelta

    from django.utils import timezone

    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    score = make_scored(account, risk=0.95)  # not sent: no commit callbacks run here
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status="sending", claimed_at=timezone.now(), attempts=1
    )
    held = alert_delivery_send(delivery_id=delivery.pk)
    assert held.status == "sending" and held.retry_in > 30
    assert smtp_settings.messages == []

    # The worker holding it died: after the lease the alert is claimed and sent.
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert alert_delivery_send(delivery_id=delivery.pk).status == "sent"
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and len(smtp_settings.messages) == 1


def test_backoff_grows_exponentially_and_is_capped(settings):
    settings.SECUREFLOW_ALERT_RETRY_BASE_SECONDS = 30
    settings.SECUREFLOW_ALERT_RETRY_MAX_SECONDS = 200
    assert [retry_delay(attempts=n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 200, 200]


def test_failed_attempt_schedules_the_next_one_with_backoff(
    investigator, account, http_server, settings
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms")
    settings.SECUREFLOW_ALERT_RETRY_BASE_SECONDS = 30
    http_server.always("/sms", 500)
    alert_subscription_create(user=investigator, channel="sms", destination="+971501234567")
    score = make_scored(account, risk=0.95)
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)

    first = alert_delivery_send(delivery_id=delivery.pk)
    second = alert_delivery_send(delivery_id=delivery.pk)
    assert (first.status, first.retry_in) == ("queued", 30)
    assert (second.status, second.retry_in) == ("queued", 60)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "queued"
    assert 55 < (delivery.next_attempt_at - delivery.queued_at).total_seconds() < 120


def test_lost_messages_are_requeued(
    investigator, account, smtp_settings, eager_celery, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.services import alert_deliveries_requeue_due

    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")
    score = make_scored(account, risk=0.95)  # the commit hook never ran: the message is lost
    delivery = AlertDelivery.objects.get(transaction_id=score.transaction_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_deliveries_requeue_due() == []  # not overdue yet
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_deliveries_requeue_due() == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(smtp_settings.messages) == 1


def test_long_reasons_are_cut_so_the_sms_keeps_its_link(
    investigator, account, http_server, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SECUREFLOW_SMS_GATEWAY_URL = http_server.url("/sms")
    alert_subscription_create(user=investigator, channel="sms", destination="+971501234567")
    scored(
        account,
        django_capture_on_commit_callbacks,
        risk=0.95,
        external_id="LONG-1",
        reasons=["An unusually long explanation " * 30],
    )
    [request] = http_server.to("/sms")
    message = request.json()["message"]
    # at most one SMS pair; a cut that lands on a space drops that space (so 319 or 320,
    # depending on how many digits the link's id has)
    assert 319 <= len(message) <= 320
    assert "... http://127.0.0.1:8000/" in message
    cut = message.split("Why: ", 1)[1].split("... http", 1)[0]
    assert ("An unusually long explanation " * 30).startswith(cut) and len(cut) > 150
    assert message.endswith("/") and ("/cases/" in message or "/transactions/LONG-1/" in message)
