"""Customers, their accounts, the counterparties they pay, and transactions."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from secureflow.core.models import TimeStampedModel
from transactions.choices import (
    AccountStatus,
    AccountType,
    Channel,
    CounterpartyKind,
    TransactionStatus,
    TransferType,
)


class Customer(TimeStampedModel):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    home_country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Account(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    number = models.CharField(max_length=64, unique=True)
    account_type = models.CharField(
        max_length=16, choices=AccountType.choices, default=AccountType.CURRENT
    )
    currency = models.CharField(max_length=3, default="AED")
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class Counterparty(TimeStampedModel):
    """Who receives the money: a beneficiary account, a merchant or a terminal."""

    identifier = models.CharField(max_length=128, unique=True)
    kind = models.CharField(
        max_length=16, choices=CounterpartyKind.choices, default=CounterpartyKind.ACCOUNT
    )
    name = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        ordering = ["identifier"]
        verbose_name_plural = "counterparties"

    def __str__(self) -> str:
        return self.name or self.identifier


class Transaction(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transactions")
    counterparty = models.ForeignKey(
        Counterparty,
        on_delete=models.PROTECT,
        related_name="transactions",
        null=True,
        blank=True,
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="AED")
    transfer_type = models.CharField(
        max_length=1,
        choices=TransferType.choices,
        blank=True,
        help_text="Blank when the source has no transfer type; its features stay neutral.",
    )
    country = models.CharField(max_length=2, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16,
        choices=TransactionStatus.choices,
        default=TransactionStatus.RECEIVED,
        db_index=True,
    )
    # Ground truth that came with the data (demo data, a labelled bank export).
    # Investigator decisions are stored as feedback labels in the cases app.
    source_label = models.BooleanField(
        null=True, blank=True, help_text="Fraud label supplied with the data, if any."
    )
    source_scenario = models.CharField(max_length=40, blank=True)
    # Set when the transaction arrived through the API: the client's Idempotency-Key
    # (if it sent one) and a hash of the normalised request, to tell a replay from a
    # conflicting re-use of the same id or key.
    idempotency_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["account", "occurred_at"], name="txn_account_time"),
            models.Index(fields=["counterparty", "occurred_at"], name="txn_counterparty_time"),
            models.Index(fields=["occurred_at"], name="txn_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=Decimal("0")), name="txn_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.amount} {self.currency}"
