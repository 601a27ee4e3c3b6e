"""Cases and the feedback labels that train the models."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from cases.choices import LabelSource


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

    class Meta:
        ordering = ["-known_at", "-id"]
        indexes = [models.Index(fields=["transaction", "known_at"], name="label_txn_known")]

    def __str__(self) -> str:
        verdict = "fraud" if self.is_fraud else "legitimate"
        return f"{self.transaction_id}: {verdict} ({self.get_source_display()})"
