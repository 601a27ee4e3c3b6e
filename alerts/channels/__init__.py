"""Alert channel backends, chosen per channel from settings (and so the environment).

SECUREFLOW_ALERT_EMAIL_BACKEND / _SMS_BACKEND / _WEBHOOK_BACKEND take a short name
("email", "console", "gateway", "twilio", "webhook") or a dotted path to a ChannelBackend
subclass. Left empty, SMS uses Twilio when TWILIO_ACCOUNT_SID is set, else the JSON gateway
when SECUREFLOW_SMS_GATEWAY_URL is set, else the console; e-mail goes through Django's
EMAIL_BACKEND (the console unless EMAIL_HOST or DJANGO_EMAIL_BACKEND is set).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from alerts.channels.base import ChannelBackend, DeliveryError, Outgoing
from alerts.choices import AlertChannel

BACKENDS = {
    "console": "alerts.channels.console.ConsoleChannel",
    "email": "alerts.channels.email.EmailChannel",
    "gateway": "alerts.channels.sms.SmsGatewayChannel",
    "twilio": "alerts.channels.sms.TwilioChannel",
    "webhook": "alerts.channels.webhook.WebhookChannel",
}

__all__ = ["BACKENDS", "ChannelBackend", "DeliveryError", "Outgoing", "backend_for"]


def backend_name(channel: str) -> str:
    """The configured backend of a channel (a short name or a dotted path)."""
    if channel == AlertChannel.EMAIL:
        return settings.SECUREFLOW_ALERT_EMAIL_BACKEND or "email"
    if channel == AlertChannel.SMS:
        if settings.SECUREFLOW_ALERT_SMS_BACKEND:
            return settings.SECUREFLOW_ALERT_SMS_BACKEND
        if settings.TWILIO_ACCOUNT_SID:
            return "twilio"
        if settings.SECUREFLOW_SMS_GATEWAY_URL:
            return "gateway"
        return "console"
    if channel == AlertChannel.WEBHOOK:
        return settings.SECUREFLOW_ALERT_WEBHOOK_BACKEND or "webhook"
    raise ValueError(f"Unknown alert channel {channel!r}")


def backend_for(channel: str) -> ChannelBackend:
    name = backend_name(channel)
    backend_class = import_string(BACKENDS.get(name, name))
    if not issubclass(backend_class, ChannelBackend):
        raise TypeError(f"{name} is not an alert channel backend")
    return backend_class()
