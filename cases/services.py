"""Writes for cases and feedback labels.

Every change to a case happens here, inside one database transaction: the case row is
locked, its `version` compared with the one the investigator saw (optimistic concurrency:
a stale page gets CaseChanged, never a silent overwrite), the change applied, `version`
bumped and a CaseEvent written with who, what, when and the state before and after.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection
from django.db import transaction as db_transaction
from django.utils import timezone

from cases.choices import (
    CaseAction,
    CaseEventKind,
    CaseResolution,
    CaseStatus,
    LabelSource,
)
from cases.models import Case, CaseEvent, FeedbackLabel
from detection.models import Outcome, TransactionScore
from secureflow.core import roles
from secureflow.core.row_insert import insert_row
from transactions.choices import TransactionStatus
from transactions.fast_insert import insert_objects_postgresql
from transactions.models import Transaction

FLAGGED_OUTCOMES = (Outcome.REVIEW, Outcome.BLOCK)
RULE_CODES_MAX_LENGTH = 500
OPEN_CHUNK = 1000
# The transaction status a case goes back to when it is reopened.
STATUS_FOR_OUTCOME = {
    Outcome.REVIEW: TransactionStatus.IN_REVIEW,
    Outcome.BLOCK: TransactionStatus.BLOCKED,
}


# -- errors ------------------------------------------------------------------------------
class CaseError(Exception):
    """A case action that cannot be done; `message` says why, in words for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CaseChanged(CaseError):
    """Somebody changed the case after the investigator loaded it."""

    def __init__(self, *, case: Case, expected_version: int, last_event: CaseEvent | None):
        self.case = case
        self.expected_version = expected_version
        self.last_event = last_event
        if last_event is not None:
            who = last_event.actor.get_username() if last_event.actor else "the system"
            what = f"by {who}: {last_event.get_kind_display().lower()}"
        else:
            what = "by another change"
        super().__init__(f"This case changed since you opened it ({what}). Review and try again.")


class CasePermissionDenied(CaseError):
    """The actor's role does not allow this action."""


class CaseActionInvalid(CaseError):
    """The action does not fit the case's state or lacks what it needs (a reason)."""


# -- helpers ---------------------------------------------------------------------------
def can_work_escalations(user: AbstractBaseUser | None) -> bool:
    """Senior investigators and admins decide escalated cases (and may force approve)."""
    return user is not None and roles.can_force_approve(user)


def case_sla_due_at(*, outcome: str, opened_at: datetime) -> datetime:
    """When a case opened at `opened_at` must be decided (SECUREFLOW_CASE_SLA_HOURS)."""
    hours = settings.SECUREFLOW_CASE_SLA_HOURS
    return opened_at + timedelta(hours=float(hours.get(outcome, hours[Outcome.REVIEW])))


def priority_for(*, risk_score: float, amount: Decimal | float) -> float:
    """A case's priority: risk score × amount (the expected loss)."""
    return float(risk_score) * float(amount)


def rule_codes_text(rule_hits: Iterable[dict[str, Any]]) -> str:
    """',code_a,code_b,' from stored rule hits (what the queue's rule filter matches)."""
    codes = sorted({str(hit.get("code", "")) for hit in rule_hits if hit.get("code")})
    text = "," + ",".join(codes) + "," if codes else ""
    while len(text) > RULE_CODES_MAX_LENGTH and codes:
        codes.pop()
        text = "," + ",".join(codes) + ","
    return text


def _require_investigator(actor: AbstractBaseUser) -> None:
    if actor is None or not roles.is_investigator(actor):
        raise CasePermissionDenied("Working cases needs the Investigator or Admin role.")


def _username(user: AbstractBaseUser | None) -> str | None:
    return user.get_username() if user is not None else None


def _snapshot(case: Case, txn_status: str | None = None) -> dict[str, Any]:
    return {
        "status": case.status,
        "resolution": case.resolution,
        "assignee": _username(case.assignee),
        "version": case.version,
        **({"transaction_status": txn_status} if txn_status is not None else {}),
    }


def _locked_case(case_id: int) -> Case:
    return Case.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=case_id)


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is None or case.version == expected_version:
        return
    last_event = CaseEvent.objects.filter(case=case).select_related("actor").order_by("-id").first()
    raise CaseChanged(case=case, expected_version=expected_version, last_event=last_event)


def _event(
    *,
    case: Case,
    actor: AbstractBaseUser | None,
    kind: str,
    before: dict[str, Any],
    note: str = "",
    txn_status: str | None = None,
) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case,
        actor=actor,
        kind=kind,
        before=before,
        after=_snapshot(case, txn_status),
        note=note,
    )


def _save(case: Case, *fields: str) -> None:
    case.version += 1
    case.save(update_fields=[*fields, "version", "updated_at"])


# -- labels ------------------------------------------------------------------------------
@db_transaction.atomic
def feedback_label_create(
    *,
    txn: Transaction,
    is_fraud: bool,
    source: str,
    known_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
    note: str = "",
) -> FeedbackLabel:
    return FeedbackLabel.objects.create(
        transaction=txn,
        is_fraud=is_fraud,
        source=source,
        known_at=known_at or timezone.now(),
        created_by=created_by,
        note=note,
    )


# -- opening -----------------------------------------------------------------------------
def _new_case(score: TransactionScore, txn: Transaction, now: datetime) -> Case:
    risk = float(score.risk_score)
    return Case(
        transaction_id=txn.pk,
        status=CaseStatus.OPEN,
        outcome=score.outcome,
        risk_score=risk,
        amount=txn.amount,
        currency=txn.currency,
        priority=priority_for(risk_score=risk, amount=txn.amount),
        rule_codes=rule_codes_text(score.rule_hits or ()),
        occurred_at=txn.occurred_at,
        opened_at=now,
        sla_due_at=case_sla_due_at(outcome=score.outcome, opened_at=now),
    )


def _opened_event(case: Case) -> CaseEvent:
    return CaseEvent(
        case=case,
        actor=None,
        kind=CaseEventKind.OPENED,
        created_at=case.opened_at,
        after={
            "status": case.status,
            "outcome": case.outcome,
            "risk_score": case.risk_score,
            "priority": case.priority,
            "sla_due_at": case.sla_due_at.isoformat(),
            "version": case.version,
        },
    )


def case_open_for_score(*, score: TransactionScore) -> Case | None:
    """Open the case of a flagged (review / block) decision; None for an approval.

    Idempotent: a transaction has at most one case, and scoring it again returns the case
    it already has (also when two scorings race: the unique constraint decides)."""
    if score.outcome not in FLAGGED_OUTCOMES:
        return None  # an approval costs no query and no savepoint
    if connection.vendor == "postgresql":  # the real-time path: two prepared inserts
        case = _new_case(score, score.transaction, timezone.now())
        if not insert_row(case, ignore_conflicts=True):
            return Case.objects.get(transaction_id=score.transaction_id)
        insert_row(_opened_event(case))
        return case
    return _case_open_for_score(score)


@db_transaction.atomic
def _case_open_for_score(score: TransactionScore) -> Case:
    existing = Case.objects.filter(transaction_id=score.transaction_id).first()
    if existing is not None:
        return existing
    case = _new_case(score, score.transaction, timezone.now())
    try:
        with db_transaction.atomic():
            case.save(force_insert=True)
    except IntegrityError:
        return Case.objects.get(transaction_id=score.transaction_id)
    _opened_event(case).save()
    return case


@db_transaction.atomic
def cases_open_for_scores(*, score_ids: Iterable[int]) -> list[Case]:
    """Open the cases of many stored decisions at once (a batch chunk); returns the cases
    opened now. Approvals and transactions that already have a case are left alone."""
    ids = sorted(set(score_ids))
    opened: list[Case] = []
    for start in range(0, len(ids), OPEN_CHUNK):
        chunk = ids[start : start + OPEN_CHUNK]
        scores = list(
            TransactionScore.objects.filter(id__in=chunk, outcome__in=FLAGGED_OUTCOMES)
            .filter(transaction__case__isnull=True)
            .select_related("transaction")
            .only(
                "id",
                "risk_score",
                "outcome",
                "rule_hits",
                "transaction__id",
                "transaction__amount",
                "transaction__currency",
                "transaction__occurred_at",
            )
        )
        if not scores:
            continue
        now = timezone.now()
        new = [_new_case(score, score.transaction, now) for score in scores]
        if connection.vendor == "postgresql":
            # one statement each; a case another process opened meanwhile is skipped (first
            # wins), exactly as the one-by-one path below
            created = insert_objects_postgresql(connection, new, conflict_field="transaction")
            insert_objects_postgresql(connection, [_opened_event(case) for case in created])
            opened.extend(created)
            continue
        try:
            with db_transaction.atomic():
                created = Case.objects.bulk_create(new)
        except IntegrityError:
            # Another process opened some of them meanwhile: one by one, first wins.
            created = []
            for score in scores:
                with db_transaction.atomic():
                    case = _new_case(score, score.transaction, now)
                    try:
                        with db_transaction.atomic():
                            case.save(force_insert=True)
                    except IntegrityError:
                        continue
                    created.append(case)
        CaseEvent.objects.bulk_create([_opened_event(case) for case in created])
        opened.extend(created)
    return opened


# -- assignment --------------------------------------------------------------------------
def _assign(
    case: Case,
    *,
    actor: AbstractBaseUser,
    assignee: AbstractBaseUser,
    kind: str,
    note: str = "",
) -> Case:
    if case.status == CaseStatus.CLOSED:
        raise CaseActionInvalid("This case is closed. Reopen it before assigning it.")
    if not roles.is_investigator(assignee):
        raise CaseActionInvalid(
            f"{assignee.get_username()} cannot work cases (no investigator role)."
        )
    if case.status == CaseStatus.ESCALATED and not can_work_escalations(assignee):
        raise CaseActionInvalid(
            f"This case is escalated: {assignee.get_username()} is not a senior "
            "investigator or an admin."
        )
    if case.assignee_id == assignee.pk:
        return case
    before = _snapshot(case)
    case.assignee = assignee
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS
    _save(case, "assignee", "status")
    _event(case=case, actor=actor, kind=kind, before=before, note=note)
    return case


@db_transaction.atomic
def case_assign(
    *,
    case: Case,
    actor: AbstractBaseUser,
    assignee: AbstractBaseUser,
    expected_version: int | None,
    note: str = "",
) -> Case:
    """Give a case to an investigator (a senior one if the case is escalated)."""
    _require_investigator(actor)
    locked = _locked_case(case.pk)
    _check_version(locked, expected_version)
    kind = CaseEventKind.CLAIMED if assignee.pk == actor.pk else CaseEventKind.ASSIGNED
    return _assign(locked, actor=actor, assignee=assignee, kind=kind, note=note)


@db_transaction.atomic
def case_claim(*, case: Case, actor: AbstractBaseUser, expected_version: int | None) -> Case:
    """Take a case for yourself."""
    return case_assign(case=case, actor=actor, assignee=actor, expected_version=expected_version)


@db_transaction.atomic
def case_claim_next(*, actor: AbstractBaseUser) -> Case | None:
    """Assign the actor the most urgent unassigned case: highest priority, then the SLA
    due soonest. Senior investigators and admins get escalated cases first.

    Safe under concurrency: the candidate row is locked with SKIP LOCKED (PostgreSQL), so
    two investigators claiming at once get two different cases. On SQLite the write
    transaction itself is exclusive."""
    _require_investigator(actor)
    from cases.selectors import cases_claimable

    candidates = cases_claimable(user=actor).select_for_update(skip_locked=True, of=("self",))
    case = candidates.first()
    if case is None:
        return None
    return _assign(case, actor=actor, assignee=actor, kind=CaseEventKind.CLAIMED)


# -- decisions ---------------------------------------------------------------------------
def _needs_force_approval(case: Case, txn: Transaction) -> bool:
    return case.outcome == Outcome.BLOCK or txn.status == TransactionStatus.BLOCKED


def _close(
    case: Case,
    txn: Transaction,
    *,
    actor: AbstractBaseUser,
    resolution: str,
    note: str,
    kind: str,
) -> Case:
    """Close `case` (locked, active) as legitimate or fraud: transaction status, label,
    event. Checks everything before writing anything."""
    if case.status == CaseStatus.ESCALATED and not can_work_escalations(actor):
        raise CasePermissionDenied(
            "This case is escalated: a senior investigator or an admin decides it."
        )
    if resolution == CaseResolution.LEGITIMATE:
        if _needs_force_approval(case, txn):
            if not roles.can_force_approve(actor):
                raise CasePermissionDenied(
                    "The transaction was blocked: approving it (force approve) needs a "
                    "senior investigator or an admin."
                )
            if not note.strip():
                raise CaseActionInvalid(
                    "Force approving a blocked transaction needs a reason in the note."
                )
            new_status = TransactionStatus.FORCE_APPROVED
        else:
            new_status = TransactionStatus.APPROVED
    elif resolution == CaseResolution.FRAUD:
        new_status = TransactionStatus.REJECTED
    else:
        raise CaseActionInvalid(f"'{resolution}' is not a resolution.")

    before = _snapshot(case, txn.status)
    now = timezone.now()
    case.status = CaseStatus.CLOSED
    case.resolution = resolution
    case.closed_at = now
    case.closed_by = actor
    if case.assignee_id is None:
        case.assignee = actor
    _save(case, "status", "resolution", "closed_at", "closed_by", "assignee")
    txn.status = new_status
    txn.save(update_fields=["status"])
    feedback_label_create(
        txn=txn,
        is_fraud=resolution == CaseResolution.FRAUD,
        source=LabelSource.CASE_DECISION,
        known_at=now,
        created_by=actor,
        note=note,
    )
    return _event(
        case=case, actor=actor, kind=kind, before=before, note=note, txn_status=txn.status
    )


def _locked_transaction(case: Case) -> Transaction:
    return Transaction.objects.select_for_update().get(pk=case.transaction_id)


@db_transaction.atomic
def case_decide(
    *,
    case: Case,
    actor: AbstractBaseUser,
    action: str,
    note: str = "",
    expected_version: int | None,
) -> Case:
    """approve: the transaction is legitimate (status approved, or force approved when it
    was blocked: senior investigator or admin, with a reason); reject: confirmed fraud
    (status rejected); both close the case and record a feedback label. escalate: hand the
    case to the senior investigators (unassigned, status escalated).

    Raises CaseChanged when the case's version is not `expected_version`."""
    _require_investigator(actor)
    locked = _locked_case(case.pk)
    _check_version(locked, expected_version)
    note = note.strip()
    if action not in (CaseAction.APPROVE, CaseAction.REJECT, CaseAction.ESCALATE):
        raise CaseActionInvalid(f"'{action}' is not a decision (approve, reject, escalate).")
    if locked.status == CaseStatus.CLOSED:
        raise CaseActionInvalid(
            f"This case is already closed ({locked.get_resolution_display().lower()})."
        )
    if action == CaseAction.ESCALATE:
        if locked.status == CaseStatus.ESCALATED:
            raise CaseActionInvalid("This case is already escalated.")
        before = _snapshot(locked)
        locked.status = CaseStatus.ESCALATED
        locked.assignee = None
        _save(locked, "status", "assignee")
        _event(case=locked, actor=actor, kind=CaseEventKind.ESCALATED, before=before, note=note)
        return locked
    txn = _locked_transaction(locked)
    if action == CaseAction.APPROVE:
        _close(
            locked,
            txn,
            actor=actor,
            resolution=CaseResolution.LEGITIMATE,
            note=note,
            kind=CaseEventKind.APPROVED,
        )
    else:
        _close(
            locked,
            txn,
            actor=actor,
            resolution=CaseResolution.FRAUD,
            note=note,
            kind=CaseEventKind.REJECTED,
        )
    return locked


@db_transaction.atomic
def case_note_add(
    *, case: Case, actor: AbstractBaseUser, note: str, expected_version: int | None = None
) -> CaseEvent:
    """Add a note to a case (open or closed). A note counts as a change: somebody deciding
    on an older page is told to read it first."""
    _require_investigator(actor)
    note = note.strip()
    if not note:
        raise CaseActionInvalid("A note cannot be empty.")
    locked = _locked_case(case.pk)
    _check_version(locked, expected_version)
    before = _snapshot(locked)
    _save(locked)
    return _event(case=locked, actor=actor, kind=CaseEventKind.NOTE, before=before, note=note)


@db_transaction.atomic
def case_reopen(
    *, case: Case, actor: AbstractBaseUser, note: str, expected_version: int | None
) -> Case:
    """Reopen a closed case (senior investigator or admin, with a reason). The transaction
    goes back to the status its detection outcome gave it; earlier labels stay as history
    and the next decision records a newer one."""
    _require_investigator(actor)
    locked = _locked_case(case.pk)
    _check_version(locked, expected_version)
    if locked.status != CaseStatus.CLOSED:
        raise CaseActionInvalid("Only a closed case can be reopened.")
    if not can_work_escalations(actor):
        raise CasePermissionDenied("Reopening a case needs a senior investigator or an admin.")
    note = note.strip()
    if not note:
        raise CaseActionInvalid("Reopening a case needs a reason in the note.")
    txn = _locked_transaction(locked)
    before = _snapshot(locked, txn.status)
    locked.status = CaseStatus.IN_PROGRESS
    locked.resolution = ""
    locked.closed_at = None
    locked.closed_by = None
    locked.assignee = actor
    _save(locked, "status", "resolution", "closed_at", "closed_by", "assignee")
    txn.status = STATUS_FOR_OUTCOME.get(locked.outcome, TransactionStatus.IN_REVIEW)
    txn.save(update_fields=["status"])
    _event(
        case=locked,
        actor=actor,
        kind=CaseEventKind.REOPENED,
        before=before,
        note=note,
        txn_status=txn.status,
    )
    return locked


# -- bulk ----------------------------------------------------------------------------------
@dataclass
class BulkResult:
    """What a bulk action did: the cases changed and, for the others, why not."""

    done: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _bulk_locked(selections: Mapping[int, int | None]) -> tuple[list[Case], BulkResult]:
    result = BulkResult()
    ids = sorted(selections)
    # Locks taken in id order: two bulk actions over overlapping cases cannot deadlock.
    cases = list(
        Case.objects.select_for_update(of=("self",))
        .select_related("assignee")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    found = {case.pk for case in cases}
    result.skipped.extend((pk, "No such case.") for pk in ids if pk not in found)
    return cases, result


def _bulk_apply(
    cases: list[Case],
    selections: Mapping[int, int | None],
    result: BulkResult,
    apply: Any,
) -> BulkResult:
    for case in cases:
        try:
            with db_transaction.atomic():
                _check_version(case, selections.get(case.pk))
                apply(case)
        except CaseError as error:
            result.skipped.append((case.pk, error.message))
        else:
            result.done.append(case.pk)
    result.skipped.sort()
    return result


@db_transaction.atomic
def cases_bulk_assign(
    *,
    selections: Mapping[int, int | None],
    assignee: AbstractBaseUser,
    actor: AbstractBaseUser,
    note: str = "",
) -> BulkResult:
    """Assign many cases to one investigator. `selections` maps case id to the version
    the actor saw (None: do not check). Cases that cannot be assigned are reported in
    `skipped` with the reason; the others are assigned."""
    _require_investigator(actor)
    if not roles.is_investigator(assignee):
        raise CaseActionInvalid(
            f"{assignee.get_username()} cannot work cases (no investigator role)."
        )
    cases, result = _bulk_locked(selections)
    return _bulk_apply(
        cases,
        selections,
        result,
        lambda case: _assign(
            case,
            actor=actor,
            assignee=assignee,
            kind=CaseEventKind.BULK_ASSIGNED,
            note=note.strip(),
        ),
    )


@db_transaction.atomic
def cases_bulk_close(
    *,
    selections: Mapping[int, int | None],
    actor: AbstractBaseUser,
    resolution: str,
    note: str,
) -> BulkResult:
    """Close many cases with one resolution and one note, with the same effect as deciding
    each (transaction status, feedback label, event). A note is required. Cases already
    closed, escalated cases (unless the actor is senior) and blocked transactions closed as
    legitimate without the force-approve role are skipped with the reason."""
    _require_investigator(actor)
    note = note.strip()
    if not note:
        raise CaseActionInvalid("Closing cases in bulk needs a note.")
    if resolution not in CaseResolution.values:
        raise CaseActionInvalid(f"'{resolution}' is not a resolution.")
    cases, result = _bulk_locked(selections)
    transactions = {
        txn.pk: txn
        for txn in Transaction.objects.select_for_update()
        .filter(pk__in=[case.transaction_id for case in cases])
        .order_by("pk")
    }

    def close(case: Case) -> None:
        if case.status == CaseStatus.CLOSED:
            raise CaseActionInvalid("Already closed.")
        _close(
            case,
            transactions[case.transaction_id],
            actor=actor,
            resolution=resolution,
            note=note,
            kind=CaseEventKind.BULK_CLOSED,
        )

    return _bulk_apply(cases, selections, result, close)
