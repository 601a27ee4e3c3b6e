"""Who wants to hear about which flagged transactions, and every alert sent (or not)."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from alerts.choices import AlertChannel, DeliveryStatus, SuppressionReason
from alerts.destinations import normalise_destination, normalise_destinations, validate_time_zone
from transactions.choices import TransferType

TRANSFER_TYPE_CODES = {code for code, _ in TransferType.choices}


def default_time_zone() -> str:
    return settings.TIME_ZONE


class AlertFilters(models.Model):
    """Which scored transactions an alert is for. A transaction matches when its risk score
    is at or above `min_risk` (or it was blocked and `include_blocked` is on), its transfer
    type is one of `transfer_types` (blank: any), and its amount is at least `min_amount`
    (blank: any; compared in the transaction's own currency)."""

    min_risk = models.FloatField(
        default=0.90,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Alert at or above this risk score (0–1).",
    )
    include_blocked = models.BooleanField(
        default=True,
        help_text="Also alert on every blocked transaction, whatever its risk score "
        "(a rule can block a transaction the models score low).",
    )
    transfer_types = models.CharField(
        max_length=8,
        blank=True,
        help_text="Transfer type codes (O, I, L, Q, S); blank for all.",
    )
    min_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Only transactions of at least this amount; blank for any.",
    )

    class Meta:
        abstract = True

    def clean_filters(self) -> None:
        codes = "".join(sorted(set((self.transfer_types or "").replace(",", "").upper())))
        unknown = set(codes) - TRANSFER_TYPE_CODES
        if unknown:
            raise ValidationError(
                {"transfer_types": f"Unknown transfer type(s): {', '.join(sorted(unknown))}."}
            )
        self.transfer_types = codes

    def transfer_type_names(self) -> list[str]:
        names = dict(TransferType.choices)
        return [names[c] for c in self.transfer_types]


class AlertSubscription(AlertFilters):
    """One person's wish to be alerted on one channel at one destination."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    channel = models.CharField(max_length=8, choices=AlertChannel.choices)
    destination = models.CharField(
        max_length=255, help_text="E-mail address, phone number (+971…) or webhook URL."
    )
    quiet_hours_start = models.TimeField(
        null=True, blank=True, help_text="Start of quiet hours (local time)."
    )
    quiet_hours_end = models.TimeField(
        null=True, blank=True, help_text="End of quiet hours (local time)."
    )
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="Time zone of the quiet hours and of the times in the message.",
    )
    webhook_secret = models.CharField(
        max_length=128,
        blank=True,
        help_text="Signs webhook calls (HMAC-SHA256); the server-wide secret when blank.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__username", "channel", "destination"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "destination"], name="alertsub_user_channel_dest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_channel_display()} {self.destination}"

    def clean(self) -> None:
        self.clean_filters()
        if self.channel and self.destination:
            try:
                self.destination = normalise_destination(self.channel, self.destination)
            except ValidationError as exc:
                raise ValidationError({"destination": exc.messages}) from exc
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValidationError("Give both the start and the end of quiet hours, or neither.")
        if self.quiet_hours_start is not None and self.quiet_hours_start == self.quiet_hours_end:
            raise ValidationError("Quiet hours need a different start and end.")

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_hours_start is not None and self.quiet_hours_end is not None


class AlertRule(AlertFilters):
    """An organisation-wide alert managed by admins: everyone in a role group (by e-mail)
    and/or fixed destinations."""

    name = models.CharField(max_length=120, unique=True)
    channel = models.CharField(max_length=8, choices=AlertChannel.choices)
    recipient_group = models.ForeignKey(
        Group,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Everyone in this role with an e-mail address (e-mail channel only).",
    )
    destinations = models.TextField(
        blank=True, help_text="Fixed destinations, one a line (addresses, numbers or URLs)."
    )
    webhook_secret = models.CharField(
        max_length=128,
        blank=True,
        help_text="Signs webhook calls (HMAC-SHA256); the server-wide secret when blank.",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.clean_filters()
        if self.channel:
            try:
                self.destinations = "\n".join(
                    normalise_destinations(self.channel, self.destinations)
                )
            except ValidationError as exc:
                raise ValidationError({"destinations": exc.messages}) from exc
        if self.recipient_group_id and self.channel and self.channel != AlertChannel.EMAIL:
            raise ValidationError(
                {"recipient_group": "A role group can only be alerted by e-mail."}
            )
        if not self.recipient_group_id and not self.destinations:
            raise ValidationError("Choose a role group or give at least one destination.")

    def destination_list(self) -> list[str]:
        return [line for line in self.destinations.splitlines() if line.strip()]


class AlertDelivery(models.Model):
    """One alert to one destination about one transaction: queued, then sent or failed
    (with every attempt counted), or suppressed (rate limit, quiet hours) and not sent.
    At most one per transaction, channel and destination."""

    transaction = models.ForeignKey(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="alert_deliveries"
    )
    score = models.ForeignKey(
        "detection.TransactionScore",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alert_deliveries",
    )
    subscription = models.ForeignKey(
        AlertSubscription,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alert_deliveries",
    )
    channel = models.CharField(max_length=8, choices=AlertChannel.choices)
    destination = models.CharField(max_length=255)
    status = models.CharField(
        max_length=12,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.QUEUED,
        db_index=True,
    )
    reason = models.CharField(
        max_length=16,
        choices=SuppressionReason.choices,
        blank=True,
        help_text="Why a suppressed alert was not sent.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_reference = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="What was sent.")

    class Meta:
        ordering = ["-queued_at", "-id"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "channel", "destination"],
                name="alertdelivery_one_per_txn_channel_dest",
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.SUPPRESSED) | ~Q(reason=""),
                name="alertdelivery_suppressed_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "destination", "queued_at"], name="alertdelivery_rate"),
            models.Index(fields=["status", "next_attempt_at"], name="alertdelivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.destination}: {self.status}"
