"""What the check result shows, computed once for the template."""

import math
from typing import Any

from detection.models import TransactionScore
from detection.selectors import detection_thresholds
from secureflow.core import roles
from secureflow.workspace.choices import CheckActionKind
from secureflow.workspace.selectors import (
    account_behaviour,
    case_of_transaction,
    check_actions,
)
from secureflow.workspace.services import check_action_refusal
from transactions.models import Transaction

OUTCOME_TEXT = {
    "approve": ("Approved", "Nothing unusual enough to stop this transaction."),
    "review": ("Sent to review", "An investigator should look at this transaction."),
    "block": ("Blocked", "This transaction is stopped until an investigator approves it."),
}
GAUGE_RADIUS = 80


def _gauge(risk: float, review: float, block: float) -> dict[str, Any]:
    """Half-circle gauge geometry: the needle angle and threshold ticks (SVG, no JS)."""

    def point(value: float, radius: float) -> tuple[float, float]:
        angle = math.pi * (1 - max(0.0, min(1.0, value)))
        return (
            round(100 + radius * math.cos(angle), 2),
            round(100 - radius * math.sin(angle), 2),
        )

    ticks = []
    for name, value in (("review", review), ("block", block)):
        if math.isfinite(value):
            (x1, y1), (x2, y2) = point(value, GAUGE_RADIUS - 14), point(value, GAUGE_RADIUS + 10)
            ticks.append({"name": name, "value": value, "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    nx, ny = point(risk, GAUGE_RADIUS - 22)
    return {
        "percent": round(risk * 100, 1),
        "needle_x": nx,
        "needle_y": ny,
        "ticks": ticks,
    }


def contribution_bars(contributions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    positive = [c for c in contributions or [] if float(c.get("contribution") or 0) > 0]
    if not positive:
        return []
    top = max(float(c["contribution"]) for c in positive)
    return [
        {
            "label": c.get("label") or c.get("feature"),
            "feature": c.get("feature", ""),
            "sentence": c.get("sentence", ""),
            "value": float(c["contribution"]),
            "width": round(100 * float(c["contribution"]) / top, 1),
        }
        for c in positive
    ]


def check_result(*, txn: Transaction, user: Any) -> dict[str, Any]:
    """Context of the result panel for a stored, scored transaction."""
    try:
        score: TransactionScore | None = txn.score
    except TransactionScore.DoesNotExist:
        score = None
    thresholds = detection_thresholds()
    outcome = score.outcome if score else ""
    title, explanation = OUTCOME_TEXT.get(outcome, ("Not scored", ""))
    actions = list(check_actions(txn=txn))
    case = case_of_transaction(txn=txn)
    available = {
        kind: check_action_refusal(kind, outcome, txn.status, case=case) is None and not actions
        for kind in CheckActionKind.values
    }
    rule_codes = {hit.get("code") for hit in (score.rule_hits if score else [])}
    model_reasons = [
        reason
        for reason in (score.reasons if score else [])
        if reason not in {hit.get("reason") for hit in score.rule_hits}
    ]
    return {
        "txn": txn,
        "score": score,
        "outcome": outcome,
        "outcome_title": title,
        "outcome_explanation": explanation,
        "gauge": _gauge(score.risk_score if score else 0.0, thresholds.review, thresholds.block),
        "thresholds": thresholds,
        "behaviour": account_behaviour(
            account=txn.account, before=txn.occurred_at, before_id=txn.pk
        ),
        "rule_hits": score.rule_hits if score else [],
        "rule_codes": sorted(c for c in rule_codes if c),
        "model_reasons": model_reasons,
        "bars": contribution_bars(score.contributions if score else []),
        "actions": actions,
        "available": available,
        "can_force_approve": roles.can_force_approve(user),
        "case": case,
    }
