"""Reads for cases and feedback labels."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Avg,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    StdDev,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models import (
    Case as Conditional,
)
from django.utils import timezone

from cases.choices import ACTIVE_STATUSES, CaseStatus, LabelImportStatus
from cases.models import Case, CaseEvent, FeedbackLabel, LabelImport
from secureflow.core import roles
from transactions.models import Account, Transaction

BASELINE_DAYS = 90
RECENT_TRANSACTIONS = 60
QUEUE_ORDER = ("-priority", "sla_due_at", "id")


# -- labels ------------------------------------------------------------------------------
def latest_labels(*, known_before: datetime | None = None) -> QuerySet[FeedbackLabel]:
    """The newest label of each labelled transaction (optionally as known at a moment)."""
    labels = FeedbackLabel.objects.all()
    if known_before is not None:
        labels = labels.filter(known_at__lt=known_before)
    newest = labels.filter(transaction_id=OuterRef("transaction_id")).order_by("-known_at", "-id")
    return labels.filter(id=Subquery(newest.values("id")[:1]))


def recent_labels(*, limit: int = 50) -> QuerySet[FeedbackLabel]:
    """The labels recorded last (newest first), for the labels page."""
    return FeedbackLabel.objects.select_related("transaction", "created_by").order_by(
        "-created_at", "-id"
    )[:limit]


def labels_frame(*, known_before: datetime | None = None) -> pd.DataFrame:
    """Labels as a frame: transaction_id, is_fraud, known_at (UTC)."""
    rows = latest_labels(known_before=known_before).values_list(
        "transaction_id", "is_fraud", "known_at"
    )
    frame = pd.DataFrame(list(rows), columns=["transaction_id", "is_fraud", "known_at"])
    frame["known_at"] = pd.to_datetime(frame["known_at"], utc=True)
    return frame


# -- the queue ---------------------------------------------------------------------------
def case_queue() -> QuerySet[Case]:
    """Every case, most urgent first. Filter and sort it with CaseFilterSet.

    Filtering, sorting and paging read the cases table and its indexes alone (what the
    queue filters on is copied onto the case); only the page's rows then touch the
    transactions table (queue_row_details, or cases_with_transactions for the API)."""
    return Case.objects.prefetch_related("assignee").order_by(*QUEUE_ORDER)


def cases_with_transactions() -> QuerySet[Case]:
    """case_queue() with each case's transaction, account, customer and counterparty
    (one more query per page, whatever its size)."""
    return case_queue().prefetch_related(
        Prefetch(
            "transaction",
            queryset=Transaction.objects.select_related("account__customer", "counterparty"),
        )
    )


@dataclass(frozen=True)
class RowDetails:
    transaction: str
    customer: str


def queue_row_details(*, transaction_ids: list[int]) -> dict[int, RowDetails]:
    """What a queue row shows about its transaction, for a page of cases, in one query."""
    rows = Transaction.objects.filter(id__in=transaction_ids).values_list(
        "id", "external_id", "account__customer__name"
    )
    return {pk: RowDetails(external_id, customer) for pk, external_id, customer in rows}


def cases_claimable(*, user: AbstractBaseUser) -> QuerySet[Case]:
    """Unassigned cases `user` may claim, in claim order: highest priority first, SLA due
    soonest on ties. Senior investigators and admins see escalated cases first."""
    from cases.services import can_work_escalations

    if can_work_escalations(user):
        return (
            Case.objects.filter(
                assignee__isnull=True, status__in=(CaseStatus.OPEN, CaseStatus.ESCALATED)
            )
            .annotate(
                escalated_first=Conditional(
                    When(status=CaseStatus.ESCALATED, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("escalated_first", *QUEUE_ORDER)
        )
    return Case.objects.filter(assignee__isnull=True, status=CaseStatus.OPEN).order_by(*QUEUE_ORDER)


def case_neighbours(*, case: Case) -> tuple[int | None, int | None]:
    """The previous and next active case in the default queue order (for j / k)."""
    active = Case.objects.filter(status__in=ACTIVE_STATUSES)
    after = (
        Q(priority__lt=case.priority)
        | Q(priority=case.priority, sla_due_at__gt=case.sla_due_at)
        | Q(priority=case.priority, sla_due_at=case.sla_due_at, id__gt=case.pk)
    )
    before = (
        Q(priority__gt=case.priority)
        | Q(priority=case.priority, sla_due_at__lt=case.sla_due_at)
        | Q(priority=case.priority, sla_due_at=case.sla_due_at, id__lt=case.pk)
    )
    next_id = active.filter(after).order_by(*QUEUE_ORDER).values_list("id", flat=True).first()
    previous_id = (
        active.filter(before)
        .order_by("priority", "-sla_due_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    return previous_id, next_id


def case_queue_counts(*, user: AbstractBaseUser) -> dict[str, int]:
    """Counts for the queue tabs, in one query."""
    return Case.objects.filter(status__in=ACTIVE_STATUSES).aggregate(
        active=Count("id"),
        mine=Count("id", filter=Q(assignee_id=user.pk)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        overdue=Count("id", filter=Q(sla_due_at__lt=timezone.now())),
    )


def investigators() -> QuerySet:
    """Users who may work cases (for assignment), by username."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=roles.ALL_ROLES) | Q(is_superuser=True))
        .distinct()
        .order_by(User.USERNAME_FIELD)
    )


# -- one case ----------------------------------------------------------------------------
def case_for_page(*, case_id: int) -> Case:
    """A case with its transaction, decision, customer and people, in one query."""
    return (
        Case.objects.select_related(
            "transaction__account__customer",
            "transaction__counterparty",
            "transaction__score",
            "transaction__submitted_by",
            "transaction__submitted_key",
            "assignee",
            "closed_by",
        )
    ).get(pk=case_id)


def case_events(*, case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("actor").order_by("created_at", "id")


# -- the customer's 360° view ---------------------------------------------------------------
# The customer's transactions are read by account id (a handful of accounts), so that every
# read below uses the (account, occurred_at) index instead of scanning by time.
def customer_account_ids(*, customer_id: int) -> list[int]:
    return list(Account.objects.filter(customer_id=customer_id).values_list("id", flat=True))


@dataclass(frozen=True)
class Baseline:
    """The customer's behaviour before the transaction (BASELINE_DAYS days)."""

    days: int
    count: int
    average: Decimal | None
    maximum: Decimal | None
    std: float | None
    per_day: float
    month_to_date: Decimal
    month_to_date_count: int

    def ratio_to_average(self, amount: Decimal) -> float | None:
        if not self.average:
            return None
        return float(amount) / float(self.average)


def customer_baseline(*, account_ids: list[int], before: datetime) -> Baseline:
    """Average, max, standard deviation and frequency of the customer's transactions in
    the BASELINE_DAYS days before `before`, and month-to-date spending (bank local time,
    the month of `before`, up to it), in one query."""
    start = before - timedelta(days=BASELINE_DAYS)
    local = timezone.localtime(before)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    stats = Transaction.objects.filter(
        account_id__in=account_ids, occurred_at__gte=start, occurred_at__lt=before
    ).aggregate(
        count=Count("id"),
        average=Avg("amount"),
        maximum=Max("amount"),
        std=StdDev("amount"),
        first=Min("occurred_at"),
        month_to_date=Sum("amount", filter=Q(occurred_at__gte=month_start)),
        month_to_date_count=Count("id", filter=Q(occurred_at__gte=month_start)),
    )
    count = stats["count"] or 0
    span_days = (before - stats["first"]).total_seconds() / 86400 if stats["first"] else 0.0
    return Baseline(
        days=BASELINE_DAYS,
        count=count,
        average=Decimal(stats["average"]).quantize(Decimal("0.01"))
        if stats["average"] is not None
        else None,
        maximum=stats["maximum"],
        std=float(stats["std"]) if stats["std"] is not None else None,
        per_day=count / max(span_days, 1.0) if count else 0.0,
        month_to_date=stats["month_to_date"] or Decimal("0"),
        month_to_date_count=stats["month_to_date_count"] or 0,
    )


def customer_recent_transactions(
    *, account_ids: list[int], until: datetime, limit: int = RECENT_TRANSACTIONS
) -> list[dict[str, Any]]:
    """The customer's last `limit` transactions up to `until` (included), oldest first,
    with their detection outcome."""
    rows = list(
        Transaction.objects.filter(account_id__in=account_ids, occurred_at__lte=until)
        .order_by("-occurred_at", "-id")
        .values(
            "id",
            "external_id",
            "occurred_at",
            "amount",
            "currency",
            "transfer_type",
            "country",
            "status",
            "counterparty__identifier",
            "score__outcome",
        )[:limit]
    )
    rows.reverse()
    return rows


def customer_counterparties(
    *, account_ids: list[int], before: datetime, limit: int = 8
) -> list[dict[str, Any]]:
    """Whom the customer paid most often in the BASELINE_DAYS days before `before`."""
    return list(
        Transaction.objects.filter(
            account_id__in=account_ids,
            occurred_at__gte=before - timedelta(days=BASELINE_DAYS),
            occurred_at__lt=before,
            counterparty__isnull=False,
        )
        .values(
            "counterparty_id",
            "counterparty__identifier",
            "counterparty__name",
            "counterparty__country",
        )
        .annotate(count=Count("id"), total=Sum("amount"), last_at=Max("occurred_at"))
        .order_by("-count", "-total")[:limit]
    )


def counterparty_times_paid(
    *, account_ids: list[int], counterparty_id: int, before: datetime
) -> int:
    """How many times the customer paid this counterparty before (0: a new payee)."""
    return Transaction.objects.filter(
        account_id__in=account_ids,
        counterparty_id=counterparty_id,
        occurred_at__lt=before,
    ).count()


def customer_previous_cases(
    *, account_ids: list[int], exclude_case_id: int, limit: int = 10
) -> QuerySet[Case]:
    return (
        Case.objects.filter(transaction__account_id__in=account_ids)
        .exclude(pk=exclude_case_id)
        .select_related("transaction", "assignee")
        .order_by("-opened_at", "-id")[:limit]
    )


def customer_labels(*, account_ids: list[int], limit: int = 10) -> QuerySet[FeedbackLabel]:
    return (
        FeedbackLabel.objects.filter(transaction__account_id__in=account_ids)
        .select_related("transaction", "created_by")
        .order_by("-known_at", "-id")[:limit]
    )


# -- label files ---------------------------------------------------------------------------
def label_imports_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[LabelImport]:
    """Admins see every label file; investigators see their own."""
    return roles.owned_rows_visible_to(LabelImport.objects.select_related("owner"), user)


def label_imports_unfinished() -> list[int]:
    return list(
        LabelImport.objects.filter(
            status__in=(LabelImportStatus.QUEUED, LabelImportStatus.RUNNING)
        ).values_list("pk", flat=True)
    )
