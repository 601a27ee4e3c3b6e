"""Filters for transaction lists (the HTML list and the API list use the same one)."""

import django_filters

from detection.models import Outcome
from transactions.choices import Channel, TransactionStatus, TransferType
from transactions.models import Transaction


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
    occurred_after = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Occurred at or after (ISO 8601)"
    )
    occurred_before = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label="Occurred before (ISO 8601)"
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
        ]
