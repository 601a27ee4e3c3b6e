"""Cases (one per flagged transaction), their audit events, and the feedback labels that
train the models."""

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cases.choices import (
    ACTIVE_STATUSES,
    CaseEventKind,
    CaseResolution,
    CaseStatus,
    LabelImportStatus,
    LabelSource,
)
from detection.models import Outcome


class FeedbackLabel(models.Model):
    """What the bank learned about a transaction: fraud or legitimate, from whom, when.

    `known_at` is when the bank learned it; features and training only use labels known
    before the moment they describe (a chargeback arrives days after the fraud)."""

    transaction = models.ForeignKey(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="labels"
    )
    is_fraud = models.BooleanField()
    source = models.CharField(max_length=32, choices=LabelSource.choices)
    known_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    idempotency_key = models.CharField(
        max_length=128,
        null=True,
        blank=True,
        editable=False,
        help_text="The API client's Idempotency-Key, unique per client.",
    )
    counterparty_id = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The transaction's counterparty, set by the database (PostgreSQL).",
    )

    class Meta:
        ordering = ["-known_at", "-id"]
        constraints = [
            # a client's retry with the same key finds the label it stored (cases.feedback)
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="label_client_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["transaction", "known_at"], name="label_txn_known"),
            # a payee's labels for the real-time features (cases/label_counterparties.py),
            # read from the index alone, each transaction's labels newest last
            models.Index(
                fields=["counterparty_id", "transaction", "known_at", "id"],
                include=["is_fraud"],
                condition=models.Q(counterparty_id__isnull=False),
                name="label_counterparty_verdicts",
            ),
        ]

    def __str__(self) -> str:
        verdict = "fraud" if self.is_fraud else "legitimate"
        return f"{self.transaction_id}: {verdict} ({self.get_source_display()})"


class Case(models.Model):
    """An investigator's work item: one flagged transaction (outcome review or block).

    What the queue filters and sorts on (outcome, risk, amount, priority, rule codes, the
    transaction's time) is copied from the score and the transaction when the case opens,
    so the queue reads one table. Change a case only through cases.services: every change
    bumps `version` (optimistic concurrency) and writes a CaseEvent."""

    transaction = models.OneToOneField(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="case"
    )
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    resolution = models.CharField(max_length=16, choices=CaseResolution.choices, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    risk_score = models.FloatField(help_text="Risk score of the decision that opened the case.")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="AED")
    priority = models.FloatField(help_text="Risk score × amount: expected loss.")
    rule_codes = models.CharField(
        max_length=500,
        blank=True,
        help_text="Codes of the rules that hit, comma-separated with a leading and "
        "trailing comma (',velocity_30s,amount_limit_Q,').",
    )
    occurred_at = models.DateTimeField(help_text="When the transaction happened.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
    )
    opened_at = models.DateTimeField(default=timezone.now)
    sla_due_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "sla_due_at", "id"]
        indexes = [
            # The default queue: active cases by priority, SLA-soonest first on ties.
            models.Index(
                models.F("priority").desc(),
                "sla_due_at",
                "id",
                name="case_active_priority",
                condition=Q(status__in=ACTIVE_STATUSES),
            ),
            # Claim next: unassigned cases someone may claim.
            models.Index(
                models.F("priority").desc(),
                "sla_due_at",
                "id",
                name="case_claimable",
                condition=Q(
                    assignee__isnull=True,
                    status__in=(CaseStatus.OPEN, CaseStatus.ESCALATED),
                ),
            ),
            models.Index(
                fields=["sla_due_at"],
                name="case_active_sla",
                condition=Q(status__in=ACTIVE_STATUSES),
            ),
            models.Index(fields=["status", "opened_at"], name="case_status_opened"),
            models.Index(fields=["assignee", "status"], name="case_assignee_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=CaseStatus.CLOSED) & ~Q(resolution=""))
                | (~Q(status=CaseStatus.CLOSED) & Q(resolution="")),
                name="case_resolution_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_active and self.sla_due_at is not None and self.sla_due_at < timezone.now()

    @property
    def rule_code_list(self) -> list[str]:
        return [code for code in self.rule_codes.split(",") if code]


class CaseEventChangeRefused(Exception):
    """Case events are an audit trail: written once, never changed or deleted."""


class CaseEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise CaseEventChangeRefused("Case events cannot be changed.")

    def delete(self) -> NoReturn:
        raise CaseEventChangeRefused("Case events cannot be deleted.")


class CaseEvent(models.Model):
    """Who did what to a case, when, with the state before and after. Immutable."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the system did it (a case opened by scoring).",
    )
    kind = models.CharField(max_length=16, choices=CaseEventKind.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="caseevent_case_time")]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise CaseEventChangeRefused("Case events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise CaseEventChangeRefused("Case events cannot be deleted.")


class LabelImport(models.Model):
    """A label file uploaded on the labels page, imported by a Celery worker in parts.

    Each part's labels and the counts below are committed together, so a worker that dies
    midway is followed by one that starts after the last committed part: every row is
    counted once and stored at most once. rows_total = stored + present + rejected once
    done. The file is deleted when the import ends; its first errors stay here."""

    ERRORS_KEPT = 500

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="label_imports",
    )
    original_filename = models.CharField(max_length=255, blank=True)
    default_source = models.CharField(max_length=32, choices=LabelSource.choices)
    file_path = models.CharField(max_length=500, blank=True, editable=False)
    status = models.CharField(
        max_length=8, choices=LabelImportStatus.choices, default=LabelImportStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_stored = models.PositiveIntegerField(default=0)
    rows_present = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first errors: [line, column, reason]."
    )
    errors_total = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_removed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the error CSV files were removed (file retention).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"label file {self.pk} {self.original_filename}"

    @property
    def is_finished(self) -> bool:
        return self.status in (LabelImportStatus.DONE, LabelImportStatus.FAILED)
