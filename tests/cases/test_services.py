"""Case services: opening, claiming, assigning, deciding, concurrency, permissions."""

from datetime import timedelta

import pytest
from django.core import checks
from django.utils import timezone

from cases.choices import CaseEventKind, CaseResolution, CaseStatus, LabelSource
from cases.models import Case, CaseEvent, CaseEventChangeRefused, FeedbackLabel
from cases.services import (
    CaseActionInvalid,
    CaseChanged,
    CasePermissionDenied,
    case_assign,
    case_claim,
    case_claim_next,
    case_decide,
    case_note_add,
    case_open_for_score,
    case_reopen,
    cases_bulk_assign,
    cases_bulk_close,
    cases_open_for_scores,
)
from detection.signals import scores_stored_in_bulk
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def fresh(case: Case) -> Case:
    return Case.objects.select_related("transaction", "assignee").get(pk=case.pk)


# -- opening ----
def test_review_and_block_open_a_case_approve_does_not(make_score, settings):
    settings.SECUREFLOW_CASE_SLA_HOURS = {"review": 24.0, "block": 4.0}
    before = timezone.now()
    review = case_open_for_score(score=make_score(outcome="review", risk=0.6, amount="2500.00"))
    block = case_open_for_score(
        score=make_score(outcome="block", risk=0.95, amount="100.00", rules=("velocity_30s",))
    )
    assert case_open_for_score(score=make_score(outcome="approve", risk=0.1)) is None

    assert Case.objects.count() == 2
    assert review.status == CaseStatus.OPEN and review.resolution == ""
    assert review.priority == pytest.approx(0.6 * 2500)
    assert block.priority == pytest.approx(0.95 * 100)
    assert review.rule_codes == ",amount_limit_Q,"
    assert block.rule_code_list == ["velocity_30s"]
    assert review.version == 1
    # Block has the shorter SLA.
    assert review.sla_due_at - review.opened_at == timedelta(hours=24)
    assert block.sla_due_at - block.opened_at == timedelta(hours=4)
    assert review.opened_at >= before
    opened = CaseEvent.objects.get(case=review)
    assert opened.kind == CaseEventKind.OPENED and opened.actor is None
    assert opened.after["status"] == "open" and opened.after["outcome"] == "review"


def test_opening_is_idempotent(make_score):
    score = make_score()
    first = case_open_for_score(score=score)
    second = case_open_for_score(score=score)

    assert first.pk == second.pk
    assert Case.objects.count() == 1
    assert CaseEvent.objects.filter(kind=CaseEventKind.OPENED).count() == 1


def test_bulk_opening_skips_approvals_and_existing_cases(make_score):
    already = make_score(outcome="review")
    case_open_for_score(score=already)
    new_review = make_score(outcome="review", risk=0.5, amount="10.00")
    new_block = make_score(outcome="block", risk=0.99, amount="20.00")
    approved = make_score(outcome="approve", risk=0.01)
    ids = [already.pk, new_review.pk, new_block.pk, approved.pk]

    opened = cases_open_for_scores(score_ids=ids)
    again = cases_open_for_scores(score_ids=ids)

    assert {case.transaction_id for case in opened} == {
        new_review.transaction_id,
        new_block.transaction_id,
    }
    assert again == []
    assert Case.objects.count() == 3
    assert CaseEvent.objects.filter(kind=CaseEventKind.OPENED).count() == 3
    block_case = Case.objects.get(transaction_id=new_block.transaction_id)
    assert block_case.priority == pytest.approx(0.99 * 20)
    assert block_case.pk is not None and block_case.events.count() == 1


def test_bulk_signal_opens_cases(make_score):
    scores = [make_score(outcome="review") for _ in range(3)]

    scores_stored_in_bulk.send(sender=type(scores[0]), score_ids=[s.pk for s in scores])

    assert Case.objects.filter(transaction__score__in=scores).count() == 3


# -- claiming ----
def test_claim_next_takes_highest_priority_then_sla_soonest(make_case, investigator, colleague):
    low = make_case(outcome="review", risk=0.5, amount="100.00")  # priority 50
    high = make_case(outcome="review", risk=0.8, amount="1000.00")  # priority 800
    tie_review = make_case(outcome="review", risk=0.5, amount="600.00")  # 300, SLA 24 h
    tie_block = make_case(outcome="block", risk=0.5, amount="600.00")  # 300, SLA 4 h
    taken = make_case(outcome="review", risk=0.99, amount="90000.00")
    case_assign(case=taken, actor=colleague, assignee=colleague, expected_version=1)

    order = [case_claim_next(actor=investigator) for _ in range(4)]

    assert [c.pk for c in order] == [high.pk, tie_block.pk, tie_review.pk, low.pk]
    assert case_claim_next(actor=investigator) is None
    claimed = fresh(high)
    assert claimed.assignee == investigator and claimed.status == CaseStatus.IN_PROGRESS
    assert claimed.version == 2
    event = claimed.events.order_by("-id").first()
    assert event.kind == CaseEventKind.CLAIMED and event.actor == investigator
    assert event.before["assignee"] is None and event.after["assignee"] == "ivy"


def test_escalated_cases_go_to_senior_investigators_first(
    make_case, investigator, colleague, senior
):
    top = make_case(risk=0.9, amount="5000.00")
    escalated = make_case(risk=0.5, amount="100.00")
    case_decide(
        case=escalated,
        actor=colleague,
        action="escalate",
        note="Looks like a mule",
        expected_version=1,
    )

    assert case_claim_next(actor=investigator).pk == top.pk
    assert case_claim_next(actor=investigator) is None  # escalated is not for them
    claimed = case_claim_next(actor=senior)
    assert claimed.pk == escalated.pk
    assert claimed.status == CaseStatus.ESCALATED and claimed.assignee == senior


def test_claim_needs_an_investigator_role(make_case, make_user):
    make_case()
    outsider = make_user("olga", role=None)
    with pytest.raises(CasePermissionDenied):
        case_claim_next(actor=outsider)


# -- decisions ----
def test_approve_closes_labels_and_records_the_event(make_case, investigator):
    case = make_case(outcome="review")
    case_claim(case=case, actor=investigator, expected_version=1)

    case_decide(
        case=case,
        actor=investigator,
        action="approve",
        note="Customer confirmed by phone",
        expected_version=2,
    )

    case = fresh(case)
    assert case.status == CaseStatus.CLOSED
    assert case.resolution == CaseResolution.LEGITIMATE
    assert case.closed_by == investigator and case.closed_at is not None
    assert case.version == 3
    assert case.transaction.status == "approved"
    label = FeedbackLabel.objects.get(transaction=case.transaction)
    assert label.is_fraud is False
    assert label.source == LabelSource.CASE_DECISION
    assert label.created_by == investigator
    assert label.note == "Customer confirmed by phone"
    event = case.events.order_by("-id").first()
    assert event.kind == CaseEventKind.APPROVED
    assert event.actor == investigator
    assert event.before == {
        "status": "in_progress",
        "resolution": "",
        "assignee": "ivy",
        "version": 2,
        "transaction_status": "in_review",
    }
    assert event.after["status"] == "closed"
    assert event.after["resolution"] == "legitimate"
    assert event.after["transaction_status"] == "approved"
    assert event.note == "Customer confirmed by phone"


def test_reject_confirms_fraud(make_case, investigator):
    case = make_case(outcome="review")

    case_decide(case=case, actor=investigator, action="reject", expected_version=1)

    case = fresh(case)
    assert case.status == CaseStatus.CLOSED and case.resolution == CaseResolution.FRAUD
    assert case.assignee == investigator  # the decider owns an unassigned case
    assert case.transaction.status == "rejected"
    assert FeedbackLabel.objects.get(transaction=case.transaction).is_fraud is True
    assert case.events.filter(kind=CaseEventKind.REJECTED).count() == 1


def test_a_closed_case_cannot_be_decided_again(make_case, investigator):
    case = make_case()
    case_decide(case=case, actor=investigator, action="reject", expected_version=1)

    with pytest.raises(CaseActionInvalid, match="already closed"):
        case_decide(case=case, actor=investigator, action="approve", expected_version=2)
    assert FeedbackLabel.objects.count() == 1


def test_escalated_case_is_decided_by_a_senior_only(make_case, investigator, senior):
    case = make_case()
    case_decide(case=case, actor=investigator, action="escalate", expected_version=1)
    case = fresh(case)
    assert case.status == CaseStatus.ESCALATED and case.assignee is None

    with pytest.raises(CasePermissionDenied, match="escalated"):
        case_decide(case=case, actor=investigator, action="reject", expected_version=2)
    with pytest.raises(CaseActionInvalid, match="already escalated"):
        case_decide(case=case, actor=senior, action="escalate", expected_version=2)
    with pytest.raises(CaseActionInvalid, match="not a senior"):
        case_assign(case=case, actor=senior, assignee=investigator, expected_version=2)

    case_decide(case=case, actor=senior, action="reject", expected_version=2)
    assert fresh(case).resolution == CaseResolution.FRAUD


def test_force_approve_needs_senior_role_and_a_reason(
    make_case, investigator, senior, admin_user_sf
):
    case = make_case(outcome="block", rules=("velocity_30s",))

    with pytest.raises(CasePermissionDenied, match="force approve"):
        case_decide(case=case, actor=investigator, action="approve", note="ok", expected_version=1)
    with pytest.raises(CaseActionInvalid, match="reason"):
        case_decide(case=case, actor=senior, action="approve", note="  ", expected_version=1)
    assert fresh(case).status == CaseStatus.OPEN
    assert fresh(case).transaction.status == "blocked"
    assert FeedbackLabel.objects.count() == 0

    case_decide(
        case=case,
        actor=senior,
        action="approve",
        note="Customer in branch with ID",
        expected_version=1,
    )
    case = fresh(case)
    assert case.transaction.status == "force_approved"
    assert case.resolution == CaseResolution.LEGITIMATE
    # An investigator may still reject a blocked transaction; admins may force approve.
    other = make_case(outcome="block")
    case_decide(case=other, actor=admin_user_sf, action="approve", note="VIP", expected_version=1)
    assert fresh(other).transaction.status == "force_approved"


def test_stale_version_raises_case_changed_and_changes_nothing(make_case, investigator, colleague):
    case = make_case()
    seen_version = case.version
    case_note_add(case=case, actor=colleague, note="Calling the customer now")

    with pytest.raises(CaseChanged) as raised:
        case_decide(case=case, actor=investigator, action="approve", expected_version=seen_version)

    assert str(raised.value) == (
        "This case changed since you opened it (by bob: note). Review and try again."
    )
    case = fresh(case)
    assert case.status == CaseStatus.OPEN and case.version == 2
    assert case.transaction.status == "in_review"
    assert FeedbackLabel.objects.count() == 0
    assert not case.events.filter(kind=CaseEventKind.APPROVED).exists()


def test_two_decisions_from_the_same_page_the_second_is_refused(make_case, investigator, colleague):
    case = make_case()
    case_decide(case=case, actor=colleague, action="reject", expected_version=1)

    with pytest.raises(CaseChanged, match=r"by bob: rejected"):
        case_decide(case=case, actor=investigator, action="approve", expected_version=1)
    assert fresh(case).resolution == CaseResolution.FRAUD
    assert Transaction.objects.get(pk=case.transaction_id).status == "rejected"


def test_unknown_action_and_empty_note_are_refused(make_case, investigator):
    case = make_case()
    with pytest.raises(CaseActionInvalid):
        case_decide(case=case, actor=investigator, action="delete", expected_version=1)
    with pytest.raises(CaseActionInvalid):
        case_note_add(case=case, actor=investigator, note="   ")


def test_reopen_needs_a_senior_and_a_reason(make_case, investigator, senior):
    case = make_case(outcome="block")
    case_decide(case=case, actor=investigator, action="reject", expected_version=1)

    with pytest.raises(CasePermissionDenied):
        case_reopen(case=case, actor=investigator, note="mistake", expected_version=2)
    with pytest.raises(CaseActionInvalid):
        case_reopen(case=case, actor=senior, note="", expected_version=2)

    case_reopen(case=case, actor=senior, note="Customer disputes", expected_version=2)
    case = fresh(case)
    assert case.status == CaseStatus.IN_PROGRESS and case.resolution == ""
    assert case.assignee == senior and case.closed_at is None
    assert case.transaction.status == "blocked"
    assert case.events.filter(kind=CaseEventKind.REOPENED).count() == 1


# -- assignment ----
def test_assign_to_someone_without_the_role_is_refused(make_case, investigator, make_user):
    case = make_case()
    outsider = make_user("olga", role=None)
    with pytest.raises(CaseActionInvalid, match="no investigator role"):
        case_assign(case=case, actor=investigator, assignee=outsider, expected_version=1)

    case_assign(case=case, actor=investigator, assignee=investigator, expected_version=1)
    assert fresh(case).events.order_by("-id").first().kind == CaseEventKind.CLAIMED


def test_bulk_assign_reports_what_it_skipped(make_case, investigator, colleague):
    one, two, closed, stale = (make_case() for _ in range(4))
    case_decide(case=closed, actor=investigator, action="reject", expected_version=1)
    case_note_add(case=stale, actor=investigator, note="seen")

    result = cases_bulk_assign(
        selections={one.pk: 1, two.pk: None, closed.pk: 2, stale.pk: 1, 999999: None},
        assignee=colleague,
        actor=investigator,
        note="Morning split",
    )

    assert sorted(result.done) == sorted([one.pk, two.pk])
    reasons = dict(result.skipped)
    assert "closed" in reasons[closed.pk]
    assert "changed since you opened it" in reasons[stale.pk]
    assert reasons[999999] == "No such case."
    assert fresh(one).assignee == colleague and fresh(two).assignee == colleague
    assert fresh(stale).assignee is None
    event = fresh(one).events.order_by("-id").first()
    assert event.kind == CaseEventKind.BULK_ASSIGNED and event.note == "Morning split"


def test_bulk_close_labels_each_case_and_skips_what_needs_a_senior(make_case, investigator, senior):
    review_a = make_case(outcome="review")
    review_b = make_case(outcome="review")
    blocked = make_case(outcome="block")
    escalated = make_case(outcome="review")
    case_decide(case=escalated, actor=investigator, action="escalate", expected_version=1)

    with pytest.raises(CaseActionInvalid, match="note"):
        cases_bulk_close(
            selections={review_a.pk: 1}, actor=investigator, resolution="legitimate", note=""
        )

    result = cases_bulk_close(
        selections={review_a.pk: 1, review_b.pk: 1, blocked.pk: 1, escalated.pk: 2},
        actor=investigator,
        resolution="legitimate",
        note="Salary day, known pattern",
    )

    assert sorted(result.done) == sorted([review_a.pk, review_b.pk])
    reasons = dict(result.skipped)
    assert "force approve" in reasons[blocked.pk]
    assert "escalated" in reasons[escalated.pk]
    for case in (review_a, review_b):
        case = fresh(case)
        assert case.resolution == CaseResolution.LEGITIMATE
        assert case.transaction.status == "approved"
        assert case.events.order_by("-id").first().kind == CaseEventKind.BULK_CLOSED
    assert FeedbackLabel.objects.filter(is_fraud=False).count() == 2
    assert fresh(blocked).status == CaseStatus.OPEN

    senior_result = cases_bulk_close(
        selections={blocked.pk: 1, escalated.pk: 2},
        actor=senior,
        resolution="legitimate",
        note="Checked with the customer",
    )
    assert sorted(senior_result.done) == sorted([blocked.pk, escalated.pk])
    assert fresh(blocked).transaction.status == "force_approved"


# -- audit trail and settings ----
def test_case_events_cannot_be_changed_or_deleted(make_case):
    case = make_case()
    event = case.events.get()

    event.note = "rewritten"
    with pytest.raises(CaseEventChangeRefused):
        event.save()
    with pytest.raises(CaseEventChangeRefused):
        event.delete()
    with pytest.raises(CaseEventChangeRefused):
        CaseEvent.objects.filter(case=case).update(note="x")
    with pytest.raises(CaseEventChangeRefused):
        CaseEvent.objects.filter(case=case).delete()
    assert case.events.get().note == ""


def test_sla_setting_check(settings):
    from cases.checks import case_sla_settings

    settings.SECUREFLOW_CASE_SLA_HOURS = {"review": 24.0, "block": 4.0}
    assert case_sla_settings() == []
    settings.SECUREFLOW_CASE_SLA_HOURS = {"review": 4.0, "block": 8.0}
    assert [m.id for m in case_sla_settings()] == ["cases.W001"]
    settings.SECUREFLOW_CASE_SLA_HOURS = {"review": 0.0, "block": 8.0}
    messages = case_sla_settings()
    assert [m.id for m in messages] == ["cases.E001"]
    assert messages[0].level == checks.ERROR
