"""The check page's audit trail and the dashboard's daily rollup."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from secureflow.workspace.choices import CheckActionKind


class CheckAction(models.Model):
    """Who acted on a checked transaction's decision, how, why, and the status change.

    Written once by services.check_action_record; when the transaction has a case, the
    case's own audit event is written too (cases.services.case_decide)."""

    transaction = models.ForeignKey(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="check_actions"
    )
    kind = models.CharField(max_length=16, choices=CheckActionKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    status_before = models.CharField(max_length=16)
    status_after = models.CharField(max_length=16)
    case_id = models.BigIntegerField(
        null=True, blank=True, help_text="The case decided with this action, if any."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["transaction", "created_at"], name="checkaction_txn_time")]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.get_kind_display()} by {self.actor_id}"


class DailyActivity(models.Model):
    """One bank-local day of transactions and decisions, aggregated for the dashboard.

    Rebuilt from the transactions and scores by workspace.rollup (never edited by hand):
    missing days on first view, recent days when older than a minute, older days when
    marked stale (new rows or scores for that day) or after ROLLUP_MAX_AGE."""

    day = models.DateField(primary_key=True)
    transactions = models.PositiveIntegerField(default=0)
    scored = models.PositiveIntegerField(default=0)
    review = models.PositiveIntegerField(default=0)
    block = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    flagged_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    risk_histogram = models.JSONField(default=list, help_text="Scored transactions per bin.")
    rule_codes = models.JSONField(default=dict, help_text="{rule code: flagged hits}")
    top_factors = models.JSONField(
        default=dict, help_text="{strongest model factor: flagged transactions}"
    )
    stale = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["day"]
        verbose_name_plural = "daily activity"

    def __str__(self) -> str:
        return f"{self.day}: {self.transactions} transactions"


class RollupWatermark(models.Model):
    """The newest transaction and score ids the rollup has looked at (one row)."""

    transaction_id = models.BigIntegerField(default=0)
    score_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"transactions ≤ {self.transaction_id}, scores ≤ {self.score_id}"
