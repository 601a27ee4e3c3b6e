"""API shapes for submitting transactions and reading their decisions."""

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from detection.models import TransactionScore
from detection.scoring.version_sets import version_set_refs
from transactions.choices import Channel, TransferType
from transactions.models import Transaction

COUNTRY = RegexValidator(r"^[A-Za-z]{2}$", "Use a two-letter ISO 3166 country code.")
CURRENCY = RegexValidator(r"^[A-Za-z]{3}$", "Use a three-letter ISO 4217 currency code.")
# Timestamps the feature code (epoch nanoseconds, local calendar) handles exactly.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _choice_messages(choices: list[tuple[str, str]]) -> dict[str, str]:
    codes = ", ".join(value for value, _ in choices)
    return {"invalid_choice": f'"{{input}}" is not a valid choice; use one of: {codes}.'}


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\x00]*\\S[^\\x00]*$"}
)
class IdentifierField(serializers.CharField):
    """A required id: at most 64 characters, not blank (surrounding spaces are trimmed)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": "^\\d{1,12}(\\.\\d{1,2})?$",
        "description": "At least 0, at most 12 digits before the point and 2 after; "
        "a JSON number is accepted too.",
    }
)
class AmountField(serializers.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_digits=14, decimal_places=2, min_value=Decimal("0"), coerce_to_string=True, **kwargs
        )


class BoundedDateTimeField(serializers.DateTimeField):
    """ISO 8601 (without an offset: the bank's local time), from 1970-01-02 to 2199."""

    default_error_messages = {
        "out_of_range": "Use a timestamp between 1970-01-02 and 2199-12-31.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601, e.g. 2026-03-01T10:15:00Z")
        parsed = super().to_internal_value(value)
        if not EARLIEST <= parsed < LATEST:
            self.fail("out_of_range")
        return parsed


class TransactionSubmitSerializer(serializers.Serializer):
    """What a bank system posts for a real-time decision."""

    id = IdentifierField(help_text="The bank's transaction id.")
    timestamp = BoundedDateTimeField(
        help_text="When it happened, ISO 8601; without an offset, the bank's local time."
    )
    account = IdentifierField(help_text="The account number.")
    customer = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Customer id; the account number when omitted.",
    )
    counterparty = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    counterparty_country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default="", validators=[COUNTRY]
    )
    amount = AmountField(help_text="In the account currency.")
    currency = serializers.CharField(
        max_length=3, required=False, default="AED", validators=[CURRENCY]
    )
    transfer_type = serializers.ChoiceField(
        choices=TransferType.choices,
        required=False,
        allow_blank=True,
        default="",
        error_messages=_choice_messages(TransferType.choices),
    )
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default="", validators=[COUNTRY]
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        allow_blank=True,
        default="",
        error_messages=_choice_messages(Channel.choices),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("id", "account", "customer", "counterparty"):
            attrs[name] = attrs.get(name, "").strip()
        for name in ("id", "account"):
            if not attrs[name]:
                raise serializers.ValidationError({name: "This field may not be blank."})
        for name in ("currency", "country", "counterparty_country"):
            attrs[name] = (attrs.get(name) or "").upper()
        return attrs


class ModelVersionRefSerializer(serializers.Serializer):
    kind = serializers.CharField()
    version = serializers.IntegerField()


class DecisionSerializer(serializers.ModelSerializer):
    """The stored decision on one transaction."""

    transaction = serializers.CharField(source="transaction.external_id", read_only=True)
    status = serializers.CharField(source="transaction.status", read_only=True)
    model_versions = serializers.SerializerMethodField()

    class Meta:
        model = TransactionScore
        fields = [
            "transaction",
            "status",
            "risk_score",
            "outcome",
            "reasons",
            "rule_hits",
            "contributions",
            "model_scores",
            "model_versions",
            "latency_ms",
            "scored_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ModelVersionRefSerializer(many=True))
    def get_model_versions(self, score: TransactionScore) -> list[dict[str, Any]]:
        # set by the scoring service on a decision it has just stored (no query)
        refs = getattr(score, "model_version_refs", None)
        if refs is not None:
            return refs
        return version_set_refs(score.version_set_id)


class ScoreSummarySerializer(DecisionSerializer):
    class Meta(DecisionSerializer.Meta):
        fields = [
            "risk_score",
            "outcome",
            "reasons",
            "rule_hits",
            "contributions",
            "model_scores",
            "model_versions",
            "latency_ms",
            "scored_at",
        ]
        read_only_fields = fields


class TransactionSerializer(serializers.ModelSerializer):
    """A stored transaction with its decision (null when it was never scored)."""

    id = serializers.CharField(source="external_id", read_only=True)
    timestamp = serializers.DateTimeField(source="occurred_at", read_only=True)
    account = serializers.CharField(source="account.number", read_only=True)
    customer = serializers.CharField(source="account.customer.external_id", read_only=True)
    counterparty = serializers.CharField(
        source="counterparty.identifier", read_only=True, default=None, allow_null=True
    )
    counterparty_country = serializers.CharField(
        source="counterparty.country", read_only=True, default=None, allow_null=True
    )
    # who sent it: the API client's or the check page user's name (null: a batch, a load)
    submitted_by = serializers.CharField(
        source="submitted_by.username", read_only=True, default=None, allow_null=True
    )
    # the first characters of the API key it came with (null: no key)
    submitted_key = serializers.CharField(
        source="submitted_key.prefix", read_only=True, default=None, allow_null=True
    )
    # one nested serializer for every row (its fields built once per list, not per row);
    # a transaction never scored has no score row and shows null
    score = ScoreSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "timestamp",
            "account",
            "customer",
            "counterparty",
            "counterparty_country",
            "amount",
            "currency",
            "transfer_type",
            "country",
            "channel",
            "status",
            "received_at",
            "submitted_by",
            "submitted_key",
            "score",
        ]
        read_only_fields = fields


class IdempotencyConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    transaction = serializers.CharField()


# -- the real-time path: serializers built once per thread ---------------------------------
# Building a serializer's fields (copying every declared field, introspecting the model)
# costs more than validating a body with them. The hot endpoint keeps one instance of each
# serializer per thread, its fields built on first use, and calls it directly: the same
# fields, messages and output as a fresh instance (a test compares them), none of its
# per-request state (`is_valid`, `.data`) used.
_prebuilt = threading.local()


def _prebuilt_serializer(cls: type[serializers.Serializer]) -> serializers.Serializer:
    serializers_by_class = getattr(_prebuilt, "by_class", None)
    if serializers_by_class is None:
        serializers_by_class = _prebuilt.by_class = {}
    serializer = serializers_by_class.get(cls)
    if serializer is None:
        serializer = cls()
        _ = serializer.fields  # build and bind the fields now
        serializers_by_class[cls] = serializer
    return serializer


def submission_validated(data: Any) -> dict[str, Any]:
    """`TransactionSubmitSerializer(data=data)`'s validated data; raises the same
    ValidationError as `is_valid(raise_exception=True)`."""
    try:
        return _prebuilt_serializer(TransactionSubmitSerializer).run_validation(data)
    except serializers.ValidationError as error:
        detail = error.detail
        if (
            isinstance(detail, list)
            and len(detail) == 1
            and getattr(detail[0], "code", "") == ("null")
        ):
            # as Serializer.errors words a body of JSON null
            detail = {api_settings.NON_FIELD_ERRORS_KEY: [ErrorDetail("No data provided", "null")]}
        raise serializers.ValidationError(detail) from None


def decision_data(score: TransactionScore) -> dict[str, Any]:
    """`DecisionSerializer(score).data`."""
    return _prebuilt_serializer(DecisionSerializer).to_representation(score)
