"""Filters for transaction lists (the HTML list and the API list use the same one)."""

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField

from detection.models import Outcome
from transactions.choices import Channel, TransactionStatus, TransferType
from transactions.models import Transaction

EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class BoundedIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 date/time from 1970-01-02 to 2199-12-31 (a far-off offset cannot overflow)."""

    def to_python(self, value: Any) -> datetime | None:
        try:
            parsed = super().to_python(value)
        except OverflowError:
            parsed = None
            out_of_range = True
        else:
            out_of_range = parsed is not None and not EARLIEST <= parsed < LATEST
        if out_of_range:
            raise forms.ValidationError(
                "Use a date/time between 1970-01-02 and 2199-12-31.", code="out_of_range"
            )
        return parsed


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class TransactionFilterSet(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__number", label="Account number")
    customer = django_filters.CharFilter(
        field_name="account__customer__external_id", label="Customer id"
    )
    counterparty = django_filters.CharFilter(
        field_name="counterparty__identifier", label="Counterparty"
    )
    outcome = django_filters.ChoiceFilter(field_name="score__outcome", choices=Outcome.choices)
    status = django_filters.ChoiceFilter(choices=TransactionStatus.choices)
    transfer_type = django_filters.ChoiceFilter(choices=TransferType.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    min_risk = django_filters.NumberFilter(
        field_name="score__risk_score", lookup_expr="gte", label="Risk score at least"
    )
    max_risk = django_filters.NumberFilter(
        field_name="score__risk_score", lookup_expr="lte", label="Risk score at most"
    )
    occurred_after = BoundedIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Occurred at or after (ISO 8601)"
    )
    occurred_before = BoundedIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label="Occurred before (ISO 8601)"
    )
    submitted_by = django_filters.CharFilter(
        field_name="submitted_by__username",
        label="Sent by (API client's or user's name)",
    )
    submitted_key = django_filters.CharFilter(
        field_name="submitted_key__prefix",
        label="API key (its first characters, as the admin lists them)",
    )

    class Meta:
        model = Transaction
        fields = [
            "account",
            "customer",
            "counterparty",
            "outcome",
            "status",
            "transfer_type",
            "channel",
            "min_risk",
            "max_risk",
            "occurred_after",
            "occurred_before",
            "submitted_by",
            "submitted_key",
        ]


class BatchResultFilterSet(django_filters.FilterSet):
    """Rows of a batch (the results page and results.csv)."""

    flagged = django_filters.BooleanFilter(
        method="filter_flagged", label="Flagged only (review or block)"
    )
    outcome = django_filters.ChoiceFilter(field_name="score__outcome", choices=Outcome.choices)
    min_risk = django_filters.NumberFilter(
        field_name="score__risk_score", lookup_expr="gte", label="Risk score at least"
    )
    max_risk = django_filters.NumberFilter(
        field_name="score__risk_score", lookup_expr="lte", label="Risk score at most"
    )
    sort = django_filters.OrderingFilter(
        fields=(
            ("score__risk_score", "risk"),
            ("occurred_at", "time"),
            ("amount", "amount"),
            ("external_id", "id"),
        ),
        label="Sort by",
    )

    class Meta:
        model = Transaction
        fields = ["flagged", "outcome", "min_risk", "max_risk"]

    def filter_flagged(
        self, queryset: QuerySet[Transaction], name: str, value: bool | None
    ) -> QuerySet[Transaction]:
        if value:
            return queryset.filter(score__outcome__in=[Outcome.REVIEW, Outcome.BLOCK])
        return queryset
