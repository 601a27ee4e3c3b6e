"""Per-day counterparty counts (PostgreSQL triggers): every way of writing transactions
keeps them equal to the stored transactions, compaction keeps their sums, and the
real-time features read from them give what the ORM reference gives."""

import threading
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db import transaction as db_transaction

from detection.features import counterparty_days, realtime
from detection.features.clock import datetime_to_ns, label_delay_ns
from detection.features.spec import N_FEATURES
from detection.models import CounterpartyDayCount
from tests.detection.test_features_equivalence import _store, random_frame
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Account, Counterparty, Customer, Transaction

MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)


def _stored_counts() -> dict[tuple[int, object], int]:
    """(counterparty id, UTC day) -> stored transactions, counted from the table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT counterparty_id, (occurred_at AT TIME ZONE 'UTC')::date, count(*) "
            "FROM transactions_transaction WHERE counterparty_id IS NOT NULL GROUP BY 1, 2"
        )
        return {(cp, day): n for cp, day, n in cursor.fetchall()}


def _kept_counts() -> dict[tuple[int, object], int]:
    """The same, summed from the per-day rows (days netting to zero left out)."""
    kept: dict[tuple[int, object], int] = {}
    for cp, day, n in CounterpartyDayCount.objects.values_list(
        "counterparty_id", "day", "transactions"
    ):
        kept[(cp, day)] = kept.get((cp, day), 0) + n
    return {key: n for key, n in kept.items() if n}


def _assert_counts_agree() -> None:
    assert _kept_counts() == _stored_counts()


def _account(number: str = "ACC-1") -> Account:
    customer = Customer.objects.create(external_id=f"C-{number}", name=number, home_country="AE")
    return Account.objects.create(customer=customer, number=number)


def _payment(account: Account, counterparty: Counterparty | None, when: datetime, ref: str):
    return Transaction.objects.create(
        external_id=ref,
        account=account,
        counterparty=counterparty,
        amount=Decimal("10.00"),
        occurred_at=when,
    )


def _features_agree(txns: list[Transaction], *, delay_days: float) -> int:
    """The PostgreSQL counterparty figures equal the ORM reference's for each transaction
    (as stored, ties by id) and for a new one at its time; returns the comparisons made."""
    compared = 0
    for txn in txns:
        for before_id in (txn.pk, realtime.UNSAVED_ID):
            _, state = realtime._load_state_postgresql(
                account_id=txn.account_id,
                counterparty_id=txn.counterparty_id,
                before=txn.occurred_at,
                before_id=before_id,
                home_country="AE",
                label_delay_days=delay_days,
                label_source="both",
                tz=None,
            )
            expected = realtime.load_counterparty_state(
                counterparty_id=txn.counterparty_id,
                before=txn.occurred_at,
                before_id=before_id,
                label_delay_days=delay_days,
            )
            ts, delay = datetime_to_ns(txn.occurred_at), label_delay_ns(delay_days)
            got, want = np.zeros(N_FEATURES), np.zeros(N_FEATURES)
            state.fill(got, ts, txn.account_id, delay)
            expected.fill(want, ts, txn.account_id, delay)
            assert got.tolist() == want.tolist(), (txn.external_id, before_id, delay_days)
            assert state.prior_count == expected.n_older + len(expected.times)
            compared += 1
    return compared


def test_inserts_updates_and_deletes_keep_the_counts(postgres_required):
    account, other = _account("ACC-1"), _account("ACC-2")
    shop = Counterparty.objects.create(identifier="SHOP")
    biller = Counterparty.objects.create(identifier="BILLER")
    txns = [
        _payment(account, shop, MIDNIGHT - timedelta(microseconds=1), "A"),
        _payment(account, shop, MIDNIGHT, "B"),
        _payment(other, shop, MIDNIGHT + timedelta(hours=5), "C"),
        _payment(other, biller, MIDNIGHT + timedelta(days=3), "D"),
        _payment(account, None, MIDNIGHT, "E"),
    ]
    _assert_counts_agree()
    assert _kept_counts()[(shop.pk, MIDNIGHT.date())] == 2

    rows_before = CounterpartyDayCount.objects.count()
    Transaction.objects.filter(pk=txns[1].pk).update(status="review")  # nets to zero
    assert CounterpartyDayCount.objects.count() == rows_before

    moved = txns[2]
    moved.counterparty = biller
    moved.occurred_at = MIDNIGHT - timedelta(days=40)  # a late correction to another day
    moved.save()
    Transaction.objects.filter(pk=txns[4].pk).update(counterparty=shop)
    Transaction.objects.filter(pk=txns[3].pk).delete()
    Transaction.objects.bulk_create(
        [
            Transaction(
                external_id=f"BULK-{i}",
                account=account,
                counterparty=shop if i % 3 else biller,
                amount=Decimal("1.00"),
                occurred_at=MIDNIGHT + timedelta(days=10, hours=7 * i),
            )
            for i in range(30)
        ]
    )
    _assert_counts_agree()
    assert (biller.pk, (MIDNIGHT + timedelta(days=3)).date()) not in _kept_counts()


def test_compaction_folds_each_day_into_one_row(postgres_required):
    account = _account()
    shop = Counterparty.objects.create(identifier="SHOP")
    txns = [_payment(account, shop, MIDNIGHT + timedelta(hours=3 * i), f"T{i}") for i in range(20)]
    Transaction.objects.filter(pk=txns[0].pk).delete()
    Transaction.objects.filter(pk__in=[t.pk for t in txns[1:8]]).update(
        occurred_at=MIDNIGHT - timedelta(days=2)
    )
    assert CounterpartyDayCount.objects.filter(compacted=False).count() > 10
    expected = _stored_counts()

    read, written = counterparty_days.compact()

    assert read > written == len(expected)
    assert _kept_counts() == expected
    assert CounterpartyDayCount.objects.filter(compacted=False).count() == 0
    pairs = list(CounterpartyDayCount.objects.values_list("counterparty_id", "day"))
    assert len(pairs) == len(set(pairs))  # one row per day
    assert counterparty_days.compact() == (0, 0)  # nothing left to fold

    _payment(account, shop, MIDNIGHT + timedelta(hours=30), "AGAIN")  # a folded day
    assert counterparty_days.compact() == (2, 1)
    _assert_counts_agree()


def test_rebuild_and_truncate(postgres_required):
    _store(random_frame(4, n=120))
    _assert_counts_agree()
    CounterpartyDayCount.objects.all().delete()  # as after a restore without triggers
    assert _kept_counts() == {}
    written = counterparty_days.rebuild()
    assert written == len(_stored_counts()) > 10
    _assert_counts_agree()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: TRUNCATE may run
        cursor.execute("TRUNCATE transactions_transaction CASCADE")
    assert CounterpartyDayCount.objects.count() == 0


def test_bulk_loads_by_copy_keep_the_counts(postgres_required):
    frame = generate_demo_bank(customers=15, days=20, seed=3, end=MIDNIGHT.date()).transactions
    cut = len(frame) // 2
    first = bulk_load_frame(frame.iloc[:cut])
    again = bulk_load_frame(frame)  # the first part is skipped, the rest COPYed
    assert (first.inserted, again.inserted, again.skipped) == (cut, len(frame) - cut, cut)
    assert len(_stored_counts()) > 20
    _assert_counts_agree()


@pytest.mark.parametrize("delay_days", [7.0, 1.5, 0.0])
def test_features_from_day_counts_match_the_reference(postgres_required, delay_days):
    stored = _store(random_frame(21, n=160))
    account = stored[0].account
    shop = Counterparty.objects.get(
        identifier=sorted({t.counterparty.identifier for t in stored if t.counterparty})[0]
    )
    # payments on both sides of a UTC midnight, one at it exactly, one a label delay before
    midnight = datetime.combine(stored[-1].occurred_at.astimezone(UTC).date(), time(), UTC)
    offsets = [timedelta(0), -timedelta(microseconds=1), timedelta(1), -timedelta(delay_days)]
    extra = [
        _payment(account, shop, midnight + offset, f"EDGE-{i}") for i, offset in enumerate(offsets)
    ]
    txns = list(
        Transaction.objects.filter(counterparty__isnull=False).order_by("occurred_at", "id")
    )
    assert CounterpartyDayCount.objects.filter(compacted=False).exists()
    assert _features_agree(txns, delay_days=delay_days) == 2 * len(txns)
    counterparty_days.compact()
    again = [*extra, *txns[::5]]
    assert _features_agree(again, delay_days=delay_days) == 2 * len(again)


def payee_counts(
    probe: Transaction,
    *,
    before_id: int | None = None,
    delay_days: float = 7.0,
    label_source: realtime.LabelSource = "both",
) -> realtime.CounterpartyCounts:
    """The payee's figures for `probe` from the PostgreSQL feature statement (as stored,
    ties by id, unless `before_id` says otherwise)."""
    _, state = realtime._load_state_postgresql(
        account_id=probe.account_id,
        counterparty_id=probe.counterparty_id,
        before=probe.occurred_at,
        before_id=probe.pk if before_id is None else before_id,
        home_country="AE",
        label_delay_days=delay_days,
        label_source=label_source,
        tz=None,
    )
    return state


def _prior_and_matured(probe: Transaction) -> tuple[int, int]:
    """The payee's prior and matured counts for `probe` (as stored), label delay 7 days."""
    state = payee_counts(probe)
    return state.prior_count, state.matured_count


def test_features_read_the_day_rows(postgres_required):
    """The features do read the per-day rows: a wrong row changes the prior count."""
    account = _account()
    shop = Counterparty.objects.create(identifier="SHOP")
    for i in range(6):
        _payment(account, shop, MIDNIGHT - timedelta(days=10 - i), f"OLD-{i}")
    probe = _payment(account, shop, MIDNIGHT, "NOW")
    assert _prior_and_matured(probe) == (6, 4)
    CounterpartyDayCount.objects.create(
        counterparty_id=shop.pk, day=(MIDNIGHT - timedelta(days=20)).date(), transactions=100
    )
    assert _prior_and_matured(probe) == (106, 104)


@pytest.mark.django_db(transaction=True)
def test_compaction_beside_an_open_writer_loses_nothing(postgres_required):
    """A payment committed after a compaction started (its delta row not yet visible) is
    kept for the next compaction, never dropped or counted twice."""
    account = _account()
    shop = Counterparty.objects.create(identifier="SHOP")
    for i in range(5):
        _payment(account, shop, MIDNIGHT + timedelta(minutes=i), f"P{i}")
    inserted, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with db_transaction.atomic():
                _payment(account, shop, MIDNIGHT + timedelta(hours=1), "OPEN")
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert inserted.wait(10)
    assert counterparty_days.compact() == (5, 1)  # the open writer's row is not seen
    release.set()
    thread.join(10)
    _assert_counts_agree()
    assert _kept_counts()[(shop.pk, MIDNIGHT.date())] == 6
    assert counterparty_days.compact() == (2, 1)
    assert list(CounterpartyDayCount.objects.values_list("transactions", flat=True)) == [6]


def test_command(postgres_required):
    account = _account()
    shop = Counterparty.objects.create(identifier="SHOP")
    for i in range(3):
        _payment(account, shop, MIDNIGHT + timedelta(minutes=i), f"P{i}")
    out = _call("counterparty_days")
    assert "Folded 3 counterparty day rows into 1" in out
    out = _call("counterparty_days", "--rebuild")
    assert "Counted all stored transactions again: 1 counterparty days" in out
    _assert_counts_agree()


def _call(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_beat_folds_the_days_every_minute(postgres_required, settings):
    from detection.tasks import compact_counterparty_days

    entry = settings.CELERY_BEAT_SCHEDULE["counterparty-days-compact"]
    assert entry["task"] == compact_counterparty_days.name
    assert entry["schedule"] == 60.0
    account = _account()
    shop = Counterparty.objects.create(identifier="SHOP")
    for i in range(4):
        _payment(account, shop, MIDNIGHT + timedelta(days=i % 2), f"P{i}")
    assert compact_counterparty_days.apply().get() == [4, 2]
    _assert_counts_agree()
