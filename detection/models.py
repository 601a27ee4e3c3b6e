"""Rule limits and their history, model versions, and the stored scoring decision."""

from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Severity(models.TextChoices):
    REVIEW = "review", "Review"
    BLOCK = "block", "Block"


class Outcome(models.TextChoices):
    APPROVE = "approve", "Approve"
    REVIEW = "review", "Review"
    BLOCK = "block", "Block"


class RuleCategory(models.TextChoices):
    VELOCITY = "velocity", "Velocity"
    AMOUNT = "amount", "Amount per transfer type"
    MONTHLY = "monthly", "Monthly cap"
    DYNAMIC = "dynamic", "Dynamic limit"
    THRESHOLD = "threshold", "Outcome threshold"


class ModelKind(models.TextChoices):
    ISOLATION_FOREST = "isolation_forest", "Isolation forest"
    AUTOENCODER = "autoencoder", "Autoencoder"
    SUPERVISED = "supervised", "Supervised (feedback labels)"


class RuleLimit(models.Model):
    """One editable number the rules or the outcome use (a limit, a k, a threshold).

    Change it through services.rule_limit_update so that history is written."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=16, choices=RuleCategory.choices)
    value = models.DecimalField(max_digits=18, decimal_places=4)
    unit = models.CharField(max_length=24, blank=True, help_text="e.g. transfers, AED, × std")
    severity = models.CharField(
        max_length=8,
        choices=Severity.choices,
        default=Severity.REVIEW,
        help_text="What a hit asks for; not used by outcome thresholds.",
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RuleLimitChange(models.Model):
    """Who changed a limit, from what to what, when and why."""

    limit = models.ForeignKey(RuleLimit, on_delete=models.CASCADE, related_name="changes")
    old_value = models.DecimalField(max_digits=18, decimal_places=4)
    new_value = models.DecimalField(max_digits=18, decimal_places=4)
    old_enabled = models.BooleanField()
    new_enabled = models.BooleanField()
    old_severity = models.CharField(max_length=8, choices=Severity.choices, blank=True)
    new_severity = models.CharField(max_length=8, choices=Severity.choices, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.limit.code}: {self.old_value} → {self.new_value} ({self.changed_at:%Y-%m-%d})"
        )


class ModelVersion(models.Model):
    """A trained model artifact; at most one active version per kind."""

    kind = models.CharField(max_length=24, choices=ModelKind.choices)
    version = models.PositiveIntegerField()
    artifact_path = models.CharField(max_length=500)
    format_version = models.PositiveIntegerField(default=1)
    feature_spec_hash = models.CharField(max_length=64)
    trained_from = models.DateTimeField(null=True, blank=True)
    trained_until = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    is_shadow = models.BooleanField(
        default=False,
        help_text="Scores live transactions alongside the active versions without deciding.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="modelversion_kind_version"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(is_active=True), name="modelversion_one_active"
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(is_shadow=True), name="modelversion_one_shadow"
            ),
        ]

    def __str__(self) -> str:
        active = " (active)" if self.is_active else " (shadow)" if self.is_shadow else ""
        return f"{self.get_kind_display()} v{self.version}{active}"


class ModelVersionSet(models.Model):
    """The model versions that decided together, stored once per combination and shared by
    every decision they made (a decision points at its set instead of linking each version).
    Created on first use (detection/scoring/version_sets.py); never changed afterwards."""

    key = models.CharField(
        max_length=255, unique=True, help_text="The version ids, sorted, comma-separated."
    )
    versions = models.ManyToManyField(ModelVersion, related_name="version_sets")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Model versions {self.key}"

    @staticmethod
    def key_for(version_ids: Iterable[int]) -> str:
        return ",".join(str(pk) for pk in sorted({int(pk) for pk in version_ids}))


class TransactionScore(models.Model):
    """The stored decision on one transaction, with everything that explains it."""

    transaction = models.OneToOneField(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="score"
    )
    risk_score = models.FloatField(db_index=True, help_text="0 (safe) .. 1 (fraud)")
    outcome = models.CharField(max_length=8, choices=Outcome.choices, db_index=True)
    rule_hits = models.JSONField(default=list, blank=True)  # [{code, severity, reason, ...}]
    model_scores = models.JSONField(default=dict, blank=True)  # {kind: {raw, calibrated}}
    contributions = models.JSONField(default=list, blank=True)
    # [{feature, label, value, contribution, sentence}]
    reasons = models.JSONField(default=list, blank=True)  # plain-language sentences
    features = models.JSONField(default=list, blank=True)  # the vector used, spec order
    feature_spec_hash = models.CharField(max_length=64, blank=True)
    # The model versions that decided (null: the rules alone). No index: decisions are
    # never looked up by their set, and a set is never deleted (PROTECT).
    version_set = models.ForeignKey(
        ModelVersionSet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="scores",
        db_index=False,
    )
    latency_ms = models.FloatField(default=0.0)
    scored_at = models.DateTimeField(default=timezone.now, db_index=True)
    explained = models.BooleanField(default=False, help_text="Whether SHAP was computed.")

    class Meta:
        ordering = ["-scored_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_score__gte=0.0) & Q(risk_score__lte=1.0),
                name="score_risk_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.outcome} ({self.risk_score:.2f})"

    @property
    def model_versions(self) -> "models.QuerySet[ModelVersion]":
        """The model versions that made this decision (kind, newest first)."""
        if self.version_set_id is None:
            return ModelVersion.objects.none()
        return self.version_set.versions.all()


class AccountFeatureSummary(models.Model):
    """One account's feature history in summary form (detection/features/summaries.py):
    the running aggregates and the last 24 hours of transactions, kept up to date by
    every real-time decision so that the next one need not read the whole history.

    It says which stored transactions it covers by their count and the sum of their ids;
    when the account's stored transactions no longer give the same two figures (a batch
    import, a deletion), the summary is ignored and rebuilt from the history."""

    account = models.OneToOneField(
        "transactions.Account",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="feature_summary",
    )
    transaction_count = models.BigIntegerField()
    transaction_id_sum = models.DecimalField(max_digits=38, decimal_places=0)
    state = models.TextField(help_text="JSON: format, time zone, home country, aggregates.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Feature summary of account {self.account_id} ({self.transaction_count} txns)"


class AccountTransactionTotal(models.Model):
    """An account's stored transactions, counted and their ids summed, or a change to
    those totals (detection/features/account_totals.py). Written by PostgreSQL triggers
    on the transactions table and folded into one row per account by `compact()`; the
    real-time features sum them to check the account's feature summary instead of
    counting its whole history. The account is a plain id, as for CounterpartyDayCount."""

    account_id = models.BigIntegerField()
    transactions = models.IntegerField(help_text="Transactions added (or, when negative, removed).")
    id_sum = models.DecimalField(max_digits=38, decimal_places=0)
    compacted = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["account_id"], include=["transactions", "id_sum"], name="account_total"
            ),
            models.Index(
                fields=["account_id"],
                condition=models.Q(compacted=False),
                name="account_total_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Account {self.account_id}: {self.transactions:+d} transactions"


class CounterpartyDayCount(models.Model):
    """Payments to one counterparty on one UTC day, or a change to that count
    (detection/features/counterparty_days.py). Written by PostgreSQL triggers on the
    transactions table and folded into one row per day by `compact()`; the real-time
    features sum them instead of counting a counterparty's whole history. The
    counterparty is a plain id, not a foreign key: deleting transactions writes delta rows,
    which must not stand in the way of deleting their counterparty afterwards."""

    counterparty_id = models.BigIntegerField()
    day = models.DateField()
    transactions = models.IntegerField(help_text="Payments added (or, when negative, removed).")
    compacted = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["counterparty_id", "day"],
                include=["transactions"],
                name="counterparty_day",
            ),
            models.Index(
                fields=["counterparty_id", "day"],
                condition=models.Q(compacted=False),
                name="counterparty_day_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Counterparty {self.counterparty_id} on {self.day}: {self.transactions:+d}"


class RetrainingTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Command line"
    ADMIN = "admin", "Admin action"


class RetrainingStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class RetrainingDecision(models.TextChoices):
    PROMOTED = "promoted", "Challenger promoted"
    KEPT = "kept", "Champion kept"


class RetrainingRun(models.Model):
    """One champion-challenger round: challenger versions trained up to `train_until`,
    challenger and champion scored on the same labelled holdout, and the decision."""

    trigger = models.CharField(max_length=16, choices=RetrainingTrigger.choices)
    status = models.CharField(
        max_length=16, choices=RetrainingStatus.choices, default=RetrainingStatus.QUEUED
    )
    decision = models.CharField(max_length=16, choices=RetrainingDecision.choices, blank=True)
    reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    train_until = models.DateTimeField(
        null=True, blank=True, help_text="The challenger learned from transactions before this."
    )
    holdout_start = models.DateTimeField(null=True, blank=True)
    holdout_end = models.DateTimeField(null=True, blank=True)
    holdout = models.JSONField(
        default=dict, blank=True, help_text="Labelled holdout: rows, fraud, legitimate, digest."
    )
    champion_versions = models.ManyToManyField(
        ModelVersion, blank=True, related_name="runs_as_champion"
    )
    challenger_versions = models.ManyToManyField(
        ModelVersion, blank=True, related_name="runs_as_challenger"
    )
    champion_metrics = models.JSONField(default=dict, blank=True)
    challenger_metrics = models.JSONField(default=dict, blank=True)
    rule = models.JSONField(default=dict, blank=True, help_text="The promotion rule applied.")
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        outcome = self.get_decision_display() if self.decision else self.get_status_display()
        return f"Retraining #{self.pk} ({self.get_trigger_display()}): {outcome}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class PromotionTrigger(models.TextChoices):
    RETRAINING = "retraining", "Retraining (automatic)"
    TRAINING = "training", "Training with activation"
    MANUAL = "manual", "Manual promotion"
    ROLLBACK = "rollback", "Roll back"


class ModelPromotion(models.Model):
    """Audit of every change of the active model versions: who or what, from, to, why."""

    trigger = models.CharField(max_length=16, choices=PromotionTrigger.choices)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    from_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="promotions_from")
    to_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="promotions_to")
    reason = models.TextField(blank=True)
    retraining_run = models.ForeignKey(
        RetrainingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="promotions",
    )
    rolled_back_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rolled_back",
        help_text="The roll-back that undid this promotion.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} #{self.pk} at {self.created_at:%Y-%m-%d %H:%M}"


class ShadowScore(models.Model):
    """What the versions in shadow would have decided on a scored transaction. Never
    changes the stored decision; the champion's risk and outcome are copied for comparison."""

    score = models.OneToOneField(TransactionScore, on_delete=models.CASCADE, related_name="shadow")
    risk_score = models.FloatField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    champion_risk_score = models.FloatField()
    champion_outcome = models.CharField(max_length=8, choices=Outcome.choices)
    model_scores = models.JSONField(default=dict, blank=True)
    model_version_ids = models.JSONField(default=list, blank=True)
    shadow_key = models.CharField(
        max_length=200, blank=True, help_text="kind:version of the set that scored it."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.score_id}: shadow {self.outcome} ({self.risk_score:.2f})"
