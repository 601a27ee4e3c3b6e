"""Customers, their accounts, the counterparties they pay, and transactions."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from secureflow.core.models import TimeStampedModel
from transactions.choices import (
    AccountStatus,
    AccountType,
    BatchFormat,
    BatchMode,
    BatchSource,
    BatchStatus,
    Channel,
    ChunkStatus,
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
    # No single-column indexes on the two foreign keys: txn_account_time and
    # txn_counterparty_time lead with them (one index less to maintain per insert).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="transactions", db_index=False
    )
    counterparty = models.ForeignKey(
        Counterparty,
        on_delete=models.PROTECT,
        related_name="transactions",
        null=True,
        blank=True,
        db_index=False,
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
    )
    # Ground truth that came with the data (demo data, a labelled bank export).
    # Investigator decisions are stored as feedback labels in the cases app.
    source_label = models.BooleanField(
        null=True, blank=True, help_text="Fraud label supplied with the data, if any."
    )
    source_scenario = models.CharField(max_length=40, blank=True)
    # Set when the transaction arrived through the API or the check page: who sent it (an
    # API client's user, or the person on the page), the Idempotency-Key the client sent
    # (if any; each client's keys are its own) and a hash of the normalised request, to
    # tell a replay from a conflicting re-use of the same id or key.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,  # who sent a transaction stays on record: deactivate users
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # txn_client_idempotency_key leads with it
        editable=False,
    )
    # the API key it came with (an API client may hold several: one per system, or an old
    # and a new one while it moves); keys that sent transactions are revoked, not deleted
    submitted_key = models.ForeignKey(
        "core.ApiKey",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # txn_submitted_key: the rows that came with a key only
        editable=False,
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, editable=False)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # The batch (file or JSON array) that brought the transaction in, if any.
    import_batch = models.ForeignKey(
        "ImportBatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transactions",
    )

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            # covering: the real-time features read an account's history from the index
            models.Index(
                fields=["account", "occurred_at"],
                include=["id", "amount", "country", "channel", "counterparty"],
                name="txn_account_time",
            ),
            # covering: the real-time counterparty counts (all prior payments, distinct
            # payers in 7 days) read the index only, not thousands of table rows
            models.Index(
                fields=["counterparty", "occurred_at"],
                include=["account"],
                name="txn_counterparty_time",
            ),
            # the few payments labelled fraud in the data, per counterparty
            models.Index(
                fields=["counterparty", "occurred_at"],
                condition=models.Q(source_label=True),
                name="txn_counterparty_labelled",
            ),
            models.Index(
                fields=["submitted_key"],
                condition=models.Q(submitted_key__isnull=False),
                name="txn_submitted_key",
            ),
            models.Index(fields=["occurred_at"], name="txn_time"),
            models.Index(fields=["status"], name="txn_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=Decimal("0")), name="txn_amount_gte_0"),
            # a client's retry with the same key finds the transaction it sent; another
            # client's key of the same spelling is another key. Not partial: it also serves
            # the look-up of a user's transactions (PROTECT), and rows without a key (NULL)
            # never conflict.
            models.UniqueConstraint(
                fields=["submitted_by", "idempotency_key"], name="txn_client_idempotency_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.amount} {self.currency}"


class ImportMapping(TimeStampedModel):
    """A named column mapping (transactions/csv_schema.py format) for one bank's export."""

    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    mapping = models.JSONField(default=dict, help_text="Same format as a mapping JSON file.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportBatch(models.Model):
    """One file (or JSON array) of transactions imported, and optionally scored, in chunks.

    Counts: rows_total = rows_imported + rows_duplicate + rows_rejected once the batch is
    done. Rejected rows are listed (row, column, reason) in the error file; duplicates are
    rows whose transaction id was already stored (they are neither imported again nor
    re-scored). rows_done counts the rows handled so far (progress)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_batches",
    )
    source = models.CharField(max_length=8, choices=BatchSource.choices)
    input_format = models.CharField(
        max_length=8, choices=BatchFormat.choices, default=BatchFormat.CSV
    )
    mode = models.CharField(max_length=8, choices=BatchMode.choices, default=BatchMode.SCORE)
    original_filename = models.CharField(max_length=255, blank=True)
    mapping_name = models.CharField(max_length=80, blank=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="The mapping used.")
    status = models.CharField(
        max_length=8, choices=BatchStatus.choices, default=BatchStatus.QUEUED, db_index=True
    )
    chunk_size = models.PositiveIntegerField()
    input_bytes = models.BigIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    rows_scored = models.PositiveIntegerField(default=0)
    rows_flagged = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    # {"by_column": {column: count}, "first": [{line, column, reason, value}, ...]}
    error_summary = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True, help_text="Why the batch failed.")
    input_path = models.CharField(max_length=500)
    errors_path = models.CharField(max_length=500, blank=True)
    stage_path = models.CharField(max_length=500, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # seconds per phase
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_removed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the input file and the error CSV were removed (file retention).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        name = self.original_filename or f"{self.get_input_format_display()} batch"
        return f"#{self.pk} {name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (BatchStatus.DONE, BatchStatus.FAILED)

    @property
    def scores(self) -> bool:
        return self.mode == BatchMode.SCORE

    @property
    def progress_percent(self) -> int:
        if self.status == BatchStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))


class ImportBatchChunk(models.Model):
    """A slice of a batch's good rows, imported (and scored) in one database transaction."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_row = models.PositiveIntegerField(help_text="Position of its first row (0-based).")
    row_count = models.PositiveIntegerField()
    status = models.CharField(
        max_length=8, choices=ChunkStatus.choices, default=ChunkStatus.PENDING, db_index=True
    )
    rows_imported = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    rows_scored = models.PositiveIntegerField(default=0)
    rows_flagged = models.PositiveIntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="batchchunk_batch_index"),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} chunk {self.index} ({self.status})"
