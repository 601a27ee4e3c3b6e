"""Filters and sorting for case lists: the HTML queue and the API list use this one."""

from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.choices import ACTIVE_STATUSES, CaseResolution, CaseStatus
from cases.models import Case
from detection.models import Outcome
from detection.rules.defaults import DEFAULT_LIMITS, DYNAMIC_MIN_HISTORY, THRESHOLD_CODES

ACTIVE = "active"
STATUS_CHOICES = [(ACTIVE, "Active (not closed)"), *CaseStatus.choices]
OUTCOME_CHOICES = [(Outcome.REVIEW, "Review"), (Outcome.BLOCK, "Block")]
RULE_CHOICES = [
    (limit.code, limit.name.replace(" (k)", ""))
    for limit in DEFAULT_LIMITS
    if limit.code not in THRESHOLD_CODES and limit.code != DYNAMIC_MIN_HISTORY
]
# age value: (opened within, opened before) as timedeltas from now
AGE_RANGES = {
    "1h": (timedelta(hours=1), None),
    "24h": (timedelta(hours=24), None),
    "7d": (timedelta(days=7), None),
    "older_24h": (None, timedelta(hours=24)),
    "older_7d": (None, timedelta(days=7)),
}
AGE_CHOICES = [
    ("1h", "Opened in the last hour"),
    ("24h", "Opened in the last 24 hours"),
    ("7d", "Opened in the last 7 days"),
    ("older_24h", "Older than 24 hours"),
    ("older_7d", "Older than 7 days"),
]
# sort value: the column it orders by; a leading "-" reverses it.
SORT_COLUMNS = {
    "priority": "priority",
    "risk": "risk_score",
    "amount": "amount",
    "age": "-opened_at",  # youngest first
    "sla": "sla_due_at",  # due soonest first
}
SORT_CHOICES = [
    ("-priority", "Priority, highest first"),
    ("priority", "Priority, lowest first"),
    ("-risk", "Risk, highest first"),
    ("risk", "Risk, lowest first"),
    ("-amount", "Amount, largest first"),
    ("amount", "Amount, smallest first"),
    ("-age", "Age, oldest first"),
    ("age", "Age, newest first"),
    ("sla", "SLA, due soonest first"),
    ("-sla", "SLA, due latest first"),
]
DEFAULT_SORT = "-priority"
TIE_BREAK = ("-priority", "sla_due_at", "id")


def sort_order(value: str) -> list[str]:
    """order_by() arguments for a sort value such as '-amount' (unknown: the default)."""
    descending = value.startswith("-")
    column = SORT_COLUMNS.get(value.lstrip("-"))
    if column is None:
        return list(TIE_BREAK)
    if descending:
        column = column[1:] if column.startswith("-") else f"-{column}"
    return [column, *(key for key in TIE_BREAK if key.lstrip("-") != column.lstrip("-"))]


class CaseFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label="Any status"
    )
    outcome = django_filters.ChoiceFilter(choices=OUTCOME_CHOICES, empty_label="Any outcome")
    resolution = django_filters.ChoiceFilter(
        choices=CaseResolution.choices, empty_label="Any resolution"
    )
    min_risk = django_filters.NumberFilter(
        field_name="risk_score", lookup_expr="gte", label="Risk at least"
    )
    max_risk = django_filters.NumberFilter(
        field_name="risk_score", lookup_expr="lte", label="Risk at most"
    )
    min_amount = django_filters.NumberFilter(
        field_name="amount", lookup_expr="gte", label="Amount at least"
    )
    max_amount = django_filters.NumberFilter(
        field_name="amount", lookup_expr="lte", label="Amount at most"
    )
    age = django_filters.ChoiceFilter(
        choices=AGE_CHOICES, method="filter_age", empty_label="Any age", label="Age"
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        label="SLA",
        help_text="true: past the SLA and not closed; false: the others",
        widget=forms.Select(
            choices=[("", "Any SLA"), ("true", "Overdue"), ("false", "Within SLA or closed")]
        ),
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee",
        label="Assignee",
        help_text="'me', 'unassigned' or a username",
    )
    rule = django_filters.ChoiceFilter(
        choices=RULE_CHOICES, method="filter_rule", empty_label="Any rule", label="Rule hit"
    )
    transaction = django_filters.CharFilter(
        field_name="transaction__external_id", label="Transaction id"
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_sort", empty_label=None, label="Sort by"
    )

    class Meta:
        model = Case
        fields = [
            "status",
            "outcome",
            "resolution",
            "min_risk",
            "max_risk",
            "min_amount",
            "max_amount",
            "age",
            "overdue",
            "assignee",
            "rule",
            "transaction",
            "sort",
        ]

    def filter_status(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        if value == ACTIVE:
            return queryset.filter(status__in=ACTIVE_STATUSES)
        return queryset.filter(status=value)

    def filter_age(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        within, older_than = AGE_RANGES[value]
        now = timezone.now()
        if within is not None:
            queryset = queryset.filter(opened_at__gte=now - within)
        if older_than is not None:
            queryset = queryset.filter(opened_at__lt=now - older_than)
        return queryset

    def filter_overdue(self, queryset: QuerySet[Case], name: str, value: bool) -> QuerySet[Case]:
        overdue = Q(status__in=ACTIVE_STATUSES, sla_due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_assignee(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        value = value.strip()
        if value == "me":
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                return queryset.none()
            return queryset.filter(assignee_id=user.pk)
        if value == "unassigned":
            return queryset.filter(assignee__isnull=True)
        User = get_user_model()
        return queryset.filter(**{f"assignee__{User.USERNAME_FIELD}": value})

    def filter_rule(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        return queryset.filter(rule_codes__contains=f",{value},")

    def filter_sort(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        return queryset.order_by(*sort_order(value))
