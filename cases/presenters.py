"""What the case pages show, shaped for the templates (reads go through selectors)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone

from cases.choices import ACTIVE_STATUSES, CaseResolution, CaseStatus
from cases.filtersets import DEFAULT_SORT
from cases.models import Case, CaseEvent
from cases.selectors import (
    RowDetails,
    case_events,
    case_neighbours,
    counterparty_times_paid,
    customer_account_ids,
    customer_baseline,
    customer_counterparties,
    customer_labels,
    customer_previous_cases,
    customer_recent_transactions,
    investigators,
    queue_row_details,
)
from cases.services import can_work_escalations
from detection.models import Outcome
from secureflow.core import roles
from transactions.choices import TransactionStatus

TOP_CONTRIBUTIONS = 8
URL_PLACEHOLDER = 987654321
RECENT_TABLE_ROWS = 10
SNAPSHOT_LABELS = {
    "status": "Status",
    "resolution": "Resolution",
    "assignee": "Assignee",
    "transaction_status": "Transaction",
}
# Queue columns that sort: (key, label); the first click sorts the "interesting" way.
SORTABLE = {
    "priority": "-priority",
    "risk": "-risk",
    "amount": "-amount",
    "age": "-age",
    "sla": "sla",
}


def sort_links(query: QueryDict) -> dict[str, dict[str, str]]:
    """For each sortable column: the URL that sorts by it (or reverses it) and the arrow."""
    current = query.get("sort") or DEFAULT_SORT
    links = {}
    for key, first in SORTABLE.items():
        if current.lstrip("-") == key:
            target = key if current.startswith("-") else f"-{key}"
            arrow = "▼" if current.startswith("-") else "▲"
        else:
            target, arrow = first, ""
        data = query.copy()
        data["sort"] = target
        data.pop("page", None)
        links[key] = {"url": f"{reverse('cases:queue')}?{data.urlencode()}", "arrow": arrow}
    return links


def duration_text(seconds: float) -> str:
    """A short duration: '45s', '12m', '3h 05m', '2d 4h'."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class QueueRow:
    """One queue row, formatted once in Python (a page has 50 of them)."""

    pk: str
    version: str
    url: str
    transaction: str
    customer: str
    priority: str
    risk: str
    amount: str
    outcome: str
    outcome_label: str
    rules: list[str]
    status: str
    assignee: str
    opened_at: str
    age: str
    sla_due_at: str
    sla: str
    overdue: bool
    active: bool


def queue_rows(cases: list[Case], *, now: datetime) -> list[QueueRow]:
    rows = []
    # One reverse() for the page: the detail URL of case 987654321, with the id swapped in.
    url_pattern = reverse("cases:detail", args=[URL_PLACEHOLDER])
    details = queue_row_details(transaction_ids=[case.transaction_id for case in cases])
    missing = RowDetails("", "")
    statuses = dict(CaseStatus.choices)
    resolutions = dict(CaseResolution.choices)
    outcomes = dict(Outcome.choices)
    for case in cases:
        active = case.status in ACTIVE_STATUSES
        overdue = active and case.sla_due_at < now
        if overdue:
            sla = f"overdue {duration_text((now - case.sla_due_at).total_seconds())}"
        elif active:
            sla = f"in {duration_text((case.sla_due_at - now).total_seconds())}"
        else:
            sla = "—"
        status = statuses.get(case.status, case.status)
        if case.resolution:
            status = f"{status}: {resolutions.get(case.resolution, case.resolution).lower()}"
        txn = details.get(case.transaction_id, missing)
        rows.append(
            QueueRow(
                pk=str(case.pk),
                version=str(case.version),
                url=url_pattern.replace(str(URL_PLACEHOLDER), str(case.pk)),
                transaction=txn.transaction,
                customer=txn.customer,
                priority=f"{case.priority:,.0f}",
                risk=f"{case.risk_score:.2f}",
                amount=f"{case.currency} {case.amount:,.2f}",
                outcome=case.outcome,
                outcome_label=outcomes.get(case.outcome, case.outcome),
                rules=case.rule_code_list,
                status=status,
                assignee=case.assignee.get_username() if case.assignee_id else "",
                opened_at=_local(case.opened_at),
                age=duration_text((now - case.opened_at).total_seconds()),
                sla_due_at=_local(case.sla_due_at),
                sla=sla,
                overdue=overdue,
                active=active,
            )
        )
    return rows


@dataclass(frozen=True)
class Change:
    label: str
    before: Any
    after: Any


def event_changes(event: CaseEvent) -> list[Change]:
    before, after = event.before or {}, event.after or {}
    return [
        Change(label, before.get(key), after.get(key))
        for key, label in SNAPSHOT_LABELS.items()
        if before and key in after and before.get(key) != after.get(key)
    ]


def other_reasons(score: Any) -> list[str]:
    """The decision's reasons that are not already listed as rule hits."""
    if score is None:
        return []
    hits = {hit.get("reason") for hit in score.rule_hits or []}
    return [reason for reason in score.reasons or [] if reason not in hits]


def contribution_bars(contributions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top contributions with a bar width in percent of the largest one."""
    top = sorted(contributions or [], key=lambda c: abs(c.get("contribution") or 0), reverse=True)
    top = top[:TOP_CONTRIBUTIONS]
    largest = max((abs(c.get("contribution") or 0) for c in top), default=0) or 1.0
    return [
        {
            **c,
            "width": round(100 * abs(c.get("contribution") or 0) / largest, 1),
            "negative": (c.get("contribution") or 0) < 0,
        }
        for c in top
    ]


def chart_data(rows: list[dict[str, Any]], *, transaction_id: int) -> dict[str, Any]:
    """Chart.js input for the customer's recent transactions: this one, flagged ones and
    the rest in three colours."""
    points = []
    for row in rows:
        if row["id"] == transaction_id:
            kind = "this"
        elif row["score__outcome"] in (Outcome.REVIEW, Outcome.BLOCK) or row["status"] in (
            TransactionStatus.REJECTED,
            TransactionStatus.BLOCKED,
        ):
            kind = "flagged"
        else:
            kind = "normal"
        local = timezone.localtime(row["occurred_at"])
        points.append(
            {
                "label": local.strftime("%d %b %H:%M"),
                "amount": float(row["amount"]),
                "kind": kind,
                "id": row["external_id"],
            }
        )
    return {"currency": rows[-1]["currency"] if rows else "AED", "points": points}


def case_page_context(request: HttpRequest, case: Case, *, full_page: bool) -> dict[str, Any]:
    txn = case.transaction
    user = request.user
    events = list(case_events(case=case))
    for event in events:
        event.changes = event_changes(event)
    needs_force = case.outcome == Outcome.BLOCK or txn.status == TransactionStatus.BLOCKED
    context: dict[str, Any] = {
        "case": case,
        "txn": txn,
        "events": events,
        "notes": [event for event in events if event.note],
        "investigators": list(investigators()),
        "needs_force_approval": needs_force,
        "can_force_approve": roles.can_force_approve(user),
        "can_work_escalations": can_work_escalations(user),
        "is_mine": case.assignee_id == user.pk,
        "is_closed": case.status == CaseStatus.CLOSED,
        "is_escalated": case.status == CaseStatus.ESCALATED,
        "now": timezone.now(),
    }
    if not full_page:
        return context
    customer = txn.account.customer
    accounts = customer_account_ids(customer_id=customer.pk)
    score = getattr(txn, "score", None)
    baseline = customer_baseline(account_ids=accounts, before=txn.occurred_at)
    recent = customer_recent_transactions(account_ids=accounts, until=txn.occurred_at)
    previous_id, next_id = case_neighbours(case=case)
    context.update(
        {
            "score": score,
            "rule_hits": (score.rule_hits if score else []) or [],
            "reasons": other_reasons(score),
            "contributions": contribution_bars(score.contributions if score else []),
            "customer": customer,
            "baseline": baseline,
            "ratio_to_average": baseline.ratio_to_average(txn.amount),
            "chart": chart_data(recent, transaction_id=txn.pk),
            "recent": list(reversed(recent))[:RECENT_TABLE_ROWS],
            "counterparties": customer_counterparties(account_ids=accounts, before=txn.occurred_at),
            "times_paid": counterparty_times_paid(
                account_ids=accounts, counterparty_id=txn.counterparty_id, before=txn.occurred_at
            )
            if txn.counterparty_id
            else None,
            "previous_cases": list(
                customer_previous_cases(account_ids=accounts, exclude_case_id=case.pk)
            ),
            "labels": list(customer_labels(account_ids=accounts)),
            "previous_case_id": previous_id,
            "next_case_id": next_id,
        }
    )
    return context
