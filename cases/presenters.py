"""What the case pages show, shaped for the templates (reads go through selectors)."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseStatus
from cases.filtersets import DEFAULT_SORT
from cases.models import Case, CaseEvent
from cases.selectors import (
    case_events,
    case_neighbours,
    counterparty_times_paid,
    customer_baseline,
    customer_counterparties,
    customer_labels,
    customer_previous_cases,
    customer_recent_transactions,
    investigators,
)
from cases.services import can_work_escalations
from detection.models import Outcome
from secureflow.core import roles
from transactions.choices import TransactionStatus

TOP_CONTRIBUTIONS = 8
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
    score = getattr(txn, "score", None)
    baseline = customer_baseline(customer_id=customer.pk, before=txn.occurred_at)
    recent = customer_recent_transactions(customer_id=customer.pk, until=txn.occurred_at)
    previous_id, next_id = case_neighbours(case=case)
    context.update(
        {
            "score": score,
            "rule_hits": (score.rule_hits if score else []) or [],
            "reasons": (score.reasons if score else []) or [],
            "contributions": contribution_bars(score.contributions if score else []),
            "customer": customer,
            "baseline": baseline,
            "ratio_to_average": baseline.ratio_to_average(txn.amount),
            "chart": chart_data(recent, transaction_id=txn.pk),
            "recent": list(reversed(recent))[:RECENT_TABLE_ROWS],
            "counterparties": customer_counterparties(
                customer_id=customer.pk, before=txn.occurred_at
            ),
            "times_paid": counterparty_times_paid(
                customer_id=customer.pk, counterparty_id=txn.counterparty_id, before=txn.occurred_at
            )
            if txn.counterparty_id
            else None,
            "previous_cases": list(
                customer_previous_cases(customer_id=customer.pk, exclude_case_id=case.pk)
            ),
            "labels": list(customer_labels(customer_id=customer.pk)),
            "previous_case_id": previous_id,
            "next_case_id": next_id,
        }
    )
    return context
