"""Writes of the investigator workspace: acting on a checked transaction's decision."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction as db_transaction

from cases.choices import LabelSource
from cases.services import feedback_label_create
from secureflow.core import roles
from secureflow.workspace.choices import CheckActionKind
from secureflow.workspace.models import CheckAction
from transactions.choices import TransactionStatus
from transactions.models import Transaction

FLAGGED_STATUSES = (TransactionStatus.IN_REVIEW, TransactionStatus.BLOCKED)
DECIDABLE_STATUSES = (TransactionStatus.APPROVED, *FLAGGED_STATUSES)


def check_action_refusal(
    kind: str, outcome: str, status: str, *, case: Any | None = None
) -> str | None:
    """Why `kind` is not possible for this decision (None when it is). A transaction whose
    case is closed keeps the case's decision: changing it means reopening the case (senior
    investigators and admins), where the change is recorded as a case event."""
    if kind != CheckActionKind.CONFIRM and case is not None and not case.is_active:
        return (
            f"Case {case.pk} on this transaction is closed: reopen the case to change its decision."
        )
    if kind == CheckActionKind.CONFIRM:
        if outcome != "approve" or status != TransactionStatus.APPROVED:
            return "Only an approved transaction can be confirmed."
    elif kind == CheckActionKind.FORCE_APPROVE:
        if outcome == "approve" or status not in FLAGGED_STATUSES:
            return "Only a transaction sent to review or blocked can be approved anyway."
    elif kind == CheckActionKind.REJECT:
        if status not in DECIDABLE_STATUSES:
            return "This transaction can no longer be rejected."
    else:
        return f"'{kind}' is not an action."
    return None


def _decide_case(*, case: object, kind: str, actor: AbstractBaseUser, reason: str) -> None:
    """Close the transaction's case through the cases app (status, label, case event)."""
    from cases.choices import CaseAction
    from cases.services import CaseError, CasePermissionDenied, case_decide

    action = CaseAction.REJECT if kind == CheckActionKind.REJECT else CaseAction.APPROVE
    try:
        case_decide(
            case=case,
            actor=actor,
            action=action,
            note=reason,
            expected_version=case.version,  # type: ignore[attr-defined]
        )
    except CasePermissionDenied as refused:
        raise PermissionDenied(str(refused)) from refused
    except CaseError as error:
        raise ValidationError(str(error)) from error


@db_transaction.atomic
def check_action_record(
    *, txn: Transaction, kind: str, actor: AbstractBaseUser, reason: str = ""
) -> CheckAction:
    """Act on a checked transaction's decision and keep an audit record.

    confirm: an approved transaction stays approved. force_approve ("approve anyway"): a
    transaction sent to review or blocked is approved; senior investigators and admins
    only, with a reason. reject: the transaction is refused as fraud. One decision per
    transaction. A transaction with an active case is decided through the case
    (cases.services.case_decide: case event, status, feedback label); otherwise the status
    is set here and approve-anyway / reject record a feedback label.

    Raises PermissionDenied (role) or ValidationError (not possible, reason missing)."""
    if not roles.is_investigator(actor):
        raise PermissionDenied("Acting on a decision needs the Investigator role.")
    reason = reason.strip()
    if kind == CheckActionKind.FORCE_APPROVE:
        if not roles.can_force_approve(actor):
            raise PermissionDenied(
                "Approving a flagged transaction anyway needs a senior investigator or an admin."
            )
        if not reason:
            raise ValidationError({"reason": "Approving anyway needs a reason."})
    locked = (
        Transaction.objects.select_for_update(of=("self",)).select_related("score").get(pk=txn.pk)
    )
    previous = CheckAction.objects.filter(transaction=locked).select_related("actor").first()
    if previous is not None:
        raise ValidationError(
            f"Already decided: {previous.get_kind_display().lower()} by "
            f"{previous.actor.get_username()}."
        )
    from secureflow.workspace.selectors import case_of_transaction

    case = case_of_transaction(txn=locked)
    outcome = locked.score.outcome if hasattr(locked, "score") else ""
    refusal = check_action_refusal(kind, outcome, locked.status, case=case)
    if refusal:
        raise ValidationError(refusal)
    status_before = locked.status
    if case is not None and case.is_active and kind != CheckActionKind.CONFIRM:
        _decide_case(case=case, kind=kind, actor=actor, reason=reason)
        locked.refresh_from_db(fields=["status"])
    else:
        if kind == CheckActionKind.REJECT:
            locked.status = TransactionStatus.REJECTED
        elif kind == CheckActionKind.FORCE_APPROVE:
            locked.status = TransactionStatus.FORCE_APPROVED
        locked.save(update_fields=["status"])
        if kind != CheckActionKind.CONFIRM:
            feedback_label_create(
                txn=locked,
                is_fraud=kind == CheckActionKind.REJECT,
                source=LabelSource.CASE_DECISION,
                created_by=actor,
                note=reason,
            )
    return CheckAction.objects.create(
        transaction=locked,
        kind=kind,
        actor=actor,
        reason=reason,
        status_before=status_before,
        status_after=locked.status,
        case_id=case.pk if case is not None else None,
    )
