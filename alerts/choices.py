from django.db import models


class AlertChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


class SuppressionReason(models.TextChoices):
    RATE_LIMITED = "rate_limited", "Rate limited"
    QUIET_HOURS = "quiet_hours", "Quiet hours"
