"""SMS alerts: a generic JSON-over-HTTP gateway, or Twilio's REST API."""

import base64
import json
import urllib.parse

from django.conf import settings

from alerts.channels.base import ChannelBackend, DeliveryError, Outgoing
from alerts.channels.http import http_post
from alerts.conf import alert_settings


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SmsGatewayChannel(ChannelBackend):
    """POST {"to", "message", "reference"} as JSON to SECUREFLOW_SMS_GATEWAY_URL, with
    `Authorization: Bearer SECUREFLOW_SMS_GATEWAY_TOKEN` when a token is set. Any 2xx is
    success; the reply's "id" (if any) is kept as the provider reference."""

    name = "gateway"

    def send(self, outgoing: Outgoing) -> str:
        url = settings.SECUREFLOW_SMS_GATEWAY_URL
        if not url:
            raise DeliveryError("SECUREFLOW_SMS_GATEWAY_URL is not set", permanent=True)
        headers = {"Content-Type": "application/json"}
        if settings.SECUREFLOW_SMS_GATEWAY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SECUREFLOW_SMS_GATEWAY_TOKEN}"
        body = json.dumps(
            {
                "to": outgoing.destination,
                "message": outgoing.message.short_text,
                "reference": f"secureflow-alert-{outgoing.delivery_id}",
            }
        ).encode()
        response = http_post(url, body=body, headers=headers, timeout=alert_settings().http_timeout)
        return str(_json(response.body).get("id") or "")


class TwilioChannel(ChannelBackend):
    """Twilio's Messages API: POST To/From/Body (form-encoded, HTTP Basic with the account
    SID and auth token) to {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{SID}/Messages.json."""

    name = "twilio"

    def send(self, outgoing: Outgoing) -> str:
        sid = settings.TWILIO_ACCOUNT_SID
        token = settings.TWILIO_AUTH_TOKEN
        sender = settings.TWILIO_FROM
        if not (sid and token and sender):
            raise DeliveryError(
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM must all be set",
                permanent=True,
            )
        base = settings.TWILIO_API_BASE_URL.rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid)}/Messages.json"
        auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
        body = urllib.parse.urlencode(
            {"To": outgoing.destination, "From": sender, "Body": outgoing.message.short_text}
        ).encode()
        response = http_post(
            url,
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"Basic {auth}",
                "Accept": "application/json",
            },
            timeout=alert_settings().http_timeout,
        )
        return str(_json(response.body).get("sid") or "")
