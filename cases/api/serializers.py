"""API shapes for feedback labels posted by bank systems and for cases."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.choices import LabelSource
from cases.models import Case, CaseEvent, FeedbackLabel
from transactions.models import Transaction

# Investigator decisions are recorded through the case workflow, not posted as feedback.
API_LABEL_SOURCES = [
    (value, label) for value, label in LabelSource.choices if value != LabelSource.CASE_DECISION
]
# how far a bank system's clock may run ahead of ours
KNOWN_AT_CLOCK_SKEW = timedelta(minutes=5)


class FeedbackCreateSerializer(serializers.Serializer):
    transaction = serializers.SlugRelatedField(
        slug_field="external_id",
        queryset=Transaction.objects.all(),
        help_text="The bank's transaction id.",
    )
    is_fraud = serializers.BooleanField()
    source = serializers.ChoiceField(choices=API_LABEL_SOURCES, default=LabelSource.API)
    known_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the bank learned it: not before the transaction, not in the future "
        "(5 minutes of clock difference allowed). Default: now.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        known_at = attrs.get("known_at")
        if known_at is None:
            return attrs
        if known_at > timezone.now() + KNOWN_AT_CLOCK_SKEW:
            raise serializers.ValidationError(
                {"known_at": ["This time lies in the future; send when the bank learned it."]},
                code="future",
            )
        occurred_at = attrs["transaction"].occurred_at
        if known_at < occurred_at:
            raise serializers.ValidationError(
                {
                    "known_at": [
                        "This time is before the transaction happened "
                        f"({occurred_at.isoformat()}); the bank cannot have learned it then."
                    ]
                },
                code="before_transaction",
            )
        return attrs


class FeedbackLabelSerializer(serializers.ModelSerializer):
    transaction = serializers.CharField(source="transaction.external_id", read_only=True)
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = FeedbackLabel
        fields = [
            "id",
            "transaction",
            "is_fraud",
            "source",
            "known_at",
            "note",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class LabelKeyConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    label = serializers.IntegerField(help_text="The label stored under this key.")


class CaseEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.get_username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = CaseEvent
        fields = ["id", "kind", "actor", "before", "after", "note", "created_at"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    transaction = serializers.CharField(source="transaction.external_id", read_only=True)
    account = serializers.CharField(source="transaction.account.number", read_only=True)
    customer = serializers.CharField(
        source="transaction.account.customer.external_id", read_only=True
    )
    counterparty = serializers.CharField(
        source="transaction.counterparty.identifier",
        read_only=True,
        default=None,
        allow_null=True,
    )
    transaction_status = serializers.CharField(source="transaction.status", read_only=True)
    assignee = serializers.CharField(
        source="assignee.get_username", read_only=True, default=None, allow_null=True
    )
    rule_codes = serializers.ListField(
        source="rule_code_list", child=serializers.CharField(), read_only=True
    )
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "transaction",
            "account",
            "customer",
            "counterparty",
            "transaction_status",
            "status",
            "resolution",
            "outcome",
            "risk_score",
            "amount",
            "currency",
            "priority",
            "rule_codes",
            "occurred_at",
            "assignee",
            "opened_at",
            "sla_due_at",
            "overdue",
            "closed_at",
            "version",
        ]
        read_only_fields = fields


class CaseDetailSerializer(CaseSerializer):
    reasons = serializers.SerializerMethodField()
    rule_hits = serializers.SerializerMethodField()
    contributions = serializers.SerializerMethodField()
    events = CaseEventSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "reasons", "rule_hits", "contributions", "events"]
        read_only_fields = fields

    def _score(self, case: Case) -> object | None:
        return getattr(case.transaction, "score", None)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_reasons(self, case: Case) -> list:
        score = self._score(case)
        return list(score.reasons or []) if score else []

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_rule_hits(self, case: Case) -> list:
        score = self._score(case)
        return list(score.rule_hits or []) if score else []

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_contributions(self, case: Case) -> list:
        score = self._score(case)
        return list(score.contributions or []) if score else []
