"""Filters of the delivery log (the HTML page and the API list use this one)."""

import django_filters
from django import forms

from alerts.choices import AlertChannel, DeliveryStatus, SuppressionReason
from alerts.models import AlertDelivery


class AlertDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    channel = django_filters.ChoiceFilter(choices=AlertChannel.choices)
    reason = django_filters.ChoiceFilter(
        choices=SuppressionReason.choices, label="Suppressed because"
    )
    destination = django_filters.CharFilter(lookup_expr="icontains", label="Destination")
    transaction = django_filters.CharFilter(
        field_name="transaction__external_id", label="Transaction id"
    )
    raised_from = django_filters.DateFilter(
        field_name="queued_at",
        lookup_expr="date__gte",
        label="Raised on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    raised_to = django_filters.DateFilter(
        field_name="queued_at",
        lookup_expr="date__lte",
        label="Raised on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AlertDelivery
        fields = [
            "status",
            "channel",
            "reason",
            "destination",
            "transaction",
            "raised_from",
            "raised_to",
        ]
