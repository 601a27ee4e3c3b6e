"""Webhook alerts: a JSON POST signed with HMAC-SHA256 over "<timestamp>.<body>".

Headers: X-SecureFlow-Timestamp (Unix seconds), X-SecureFlow-Signature
("sha256=<hex digest>"), X-SecureFlow-Delivery (the delivery id, stable across retries, so
a receiver can ignore a repeat), X-SecureFlow-Event. A receiver recomputes the digest with
the shared secret and rejects old timestamps (see `webhook_signature_valid`).
"""

import hashlib
import hmac
import json
import time

from django.conf import settings

from alerts.channels.base import ChannelBackend, DeliveryError, Outgoing
from alerts.channels.http import http_post
from alerts.conf import alert_settings
from alerts.messages import WEBHOOK_EVENT

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def webhook_signature_valid(
    secret: str,
    *,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """For receivers: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature or "")


class WebhookChannel(ChannelBackend):
    name = "webhook"

    def send(self, outgoing: Outgoing) -> str:
        secret = outgoing.signing_secret or settings.SECUREFLOW_WEBHOOK_SECRET
        if not secret:
            raise DeliveryError(
                "No webhook signing secret: set one on the subscription or rule, or "
                "SECUREFLOW_WEBHOOK_SECRET",
                permanent=True,
            )
        body = json.dumps(outgoing.message.data, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        http_post(
            outgoing.destination,
            body=body,
            headers={
                "Content-Type": "application/json",
                "X-SecureFlow-Event": WEBHOOK_EVENT,
                "X-SecureFlow-Delivery": str(outgoing.delivery_id),
                "X-SecureFlow-Timestamp": timestamp,
                "X-SecureFlow-Signature": webhook_signature(secret, timestamp, body),
            },
            timeout=alert_settings().http_timeout,
            guard_destination=True,
        )
        return f"webhook-{outgoing.delivery_id}"
