"""Claim next under concurrency on PostgreSQL: real threads, real connections, row locks."""

import threading
import time
from collections import Counter

import pytest
from django.db import connection, connections
from django.db import transaction as db_transaction

from cases.models import Case
from cases.services import case_claim_next
from secureflow.core import roles
from tests.conftest import require

pytestmark = pytest.mark.django_db(transaction=True)


def require_postgres() -> None:
    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")


def test_concurrent_claims_never_hand_out_a_case_twice(make_case, make_user):
    require_postgres()
    cases = [make_case(risk=0.5 + i / 100, amount="100.00") for i in range(24)]
    people = [make_user(f"inv{i}", roles.INVESTIGATOR) for i in range(6)]
    start = threading.Barrier(len(people))
    claims: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(person) -> None:
        try:
            start.wait(timeout=30)
            while True:
                case = case_claim_next(actor=person)
                if case is None:
                    return
                with lock:
                    claims.append((person.username, case.pk))
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    claimed_ids = [pk for _, pk in claims]
    assert Counter(claimed_ids).most_common(1)[0][1] == 1, "a case was claimed twice"
    assert sorted(claimed_ids) == sorted(case.pk for case in cases)
    by_case = dict((pk, user) for user, pk in claims)
    for case in Case.objects.select_related("assignee"):
        assert case.assignee.username == by_case[case.pk]
        assert case.events.filter(kind="claimed").count() == 1


def test_a_locked_case_is_skipped_not_waited_for(make_case, make_user):
    """While one investigator's claim holds the top case, the next claim gets the second
    case at once (SKIP LOCKED) instead of waiting or taking the same one."""
    require_postgres()
    top = make_case(risk=0.9, amount="1000.00")
    second = make_case(risk=0.5, amount="1000.00")
    first_person = make_user("first", roles.INVESTIGATOR)
    second_person = make_user("second", roles.INVESTIGATOR)
    holding = threading.Event()
    release = threading.Event()
    seen: dict[str, int] = {}

    def hold_top() -> None:
        try:
            with db_transaction.atomic():
                case = case_claim_next(actor=first_person)
                seen["first"] = case.pk
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_top)
    holder.start()
    assert holding.wait(timeout=30)
    try:
        started = time.monotonic()
        other = case_claim_next(actor=second_person)
        waited = time.monotonic() - started
        seen["second"] = other.pk
    finally:
        release.set()
        holder.join(timeout=30)

    assert seen == {"first": top.pk, "second": second.pk}
    assert waited < 5, f"the second claim waited {waited:.1f} s for the first one's lock"
