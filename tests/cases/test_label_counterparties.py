"""Feedback labels carry their transaction's counterparty (PostgreSQL triggers), and the
real-time features find a payee's labels by it: the same figures as the ORM reference,
whatever was moved after the label was written."""

from bisect import bisect_left
from datetime import timedelta
from io import StringIO

import numpy as np
from django.core.management import call_command
from django.db import connection

from cases.models import FeedbackLabel
from detection.features import realtime
from detection.features.clock import datetime_to_ns
from detection.features.spec import FEATURE_INDEX, N_FEATURES
from tests.detection.test_counterparty_days import (
    MIDNIGHT,
    _account,
    _features_agree,
    _payment,
    payee_counts,
)
from transactions.models import Counterparty, Transaction


def _label(txn: Transaction, *, hours: int = 2, is_fraud: bool = True) -> FeedbackLabel:
    return FeedbackLabel.objects.create(
        transaction=txn,
        is_fraud=is_fraud,
        source="chargeback",
        known_at=txn.occurred_at + timedelta(hours=hours),
    )


def _counterparties() -> dict[int, int | None]:
    return dict(FeedbackLabel.objects.values_list("id", "counterparty_id"))


def test_labels_take_their_transactions_counterparty_and_follow_it(postgres_required):
    account = _account()
    shop, mule = (Counterparty.objects.create(identifier=i) for i in ("SHOP", "MULE"))
    paid = [_payment(account, shop, MIDNIGHT + timedelta(hours=i), f"P{i}") for i in range(4)]
    one = _label(paid[0])
    bulk = FeedbackLabel.objects.bulk_create(
        FeedbackLabel(transaction=t, is_fraud=False, source="api", known_at=t.occurred_at)
        for t in paid[1:3]
    )
    assert set(_counterparties().values()) == {shop.pk}

    Transaction.objects.filter(pk=paid[0].pk).update(counterparty=mule)  # a corrected payee
    Transaction.objects.filter(pk=paid[1].pk).update(counterparty=None)
    Transaction.objects.filter(pk=paid[2].pk).update(status="review")  # no move
    FeedbackLabel.objects.filter(pk=bulk[1].pk).update(transaction=paid[3])
    Transaction.objects.filter(pk=paid[3].pk).update(counterparty=mule)
    assert _counterparties() == {one.pk: mule.pk, bulk[0].pk: None, bulk[1].pk: mule.pk}


def test_features_find_a_payees_labels_after_the_payments_moved(postgres_required):
    account, other = _account("ACC-1"), _account("ACC-2")
    shop, mule = (Counterparty.objects.create(identifier=i) for i in ("SHOP", "MULE"))
    paid = [
        _payment(account if i % 2 else other, shop, MIDNIGHT + timedelta(hours=i), f"P{i}")
        for i in range(12)
    ]
    for txn in paid[:6]:
        _label(txn, is_fraud=txn.pk % 3 != 0)
    Transaction.objects.filter(pk__in=[t.pk for t in paid[:3]]).update(counterparty=mule)
    later = [_payment(account, p, MIDNIGHT + timedelta(days=2), f"L-{p.pk}") for p in (shop, mule)]
    moved = Transaction.objects.filter(pk__in=[t.pk for t in paid] + [t.pk for t in later])
    compared = _features_agree(list(moved.order_by("occurred_at", "id")), delay_days=0.0)
    assert compared == 2 * len(paid + later)
    mule_probe = Transaction.objects.get(external_id=f"L-{mule.pk}")
    assert _fraud_count(mule_probe) == sum(1 for t in paid[:3] if t.pk % 3 != 0)


def _fraud_count(probe: Transaction) -> float:
    state = payee_counts(probe, delay_days=0.0, label_source="feedback")
    out = np.zeros(N_FEATURES)
    state.fill(out, datetime_to_ns(probe.occurred_at), probe.account_id, 0)
    return out[FEATURE_INDEX["counterparty_fraud_count"]]


def test_the_command_refills_labels_written_past_the_triggers(postgres_required):
    account = _account()
    shop, mule = (Counterparty.objects.create(identifier=i) for i in ("SHOP", "MULE"))
    paid = [_payment(account, shop, MIDNIGHT + timedelta(hours=i), f"P{i}") for i in range(3)]
    kept = _label(paid[0])
    with connection.cursor() as cursor:  # as a restore or load with triggers off would
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: ALTER may run
        cursor.execute("ALTER TABLE cases_feedbacklabel DISABLE TRIGGER USER")
        try:
            missed = _label(paid[1])
            wrong = _label(paid[2])
            FeedbackLabel.objects.filter(pk=wrong.pk).update(counterparty_id=mule.pk)
        finally:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE cases_feedbacklabel ENABLE TRIGGER USER")
    assert _counterparties() == {kept.pk: shop.pk, missed.pk: None, wrong.pk: mule.pk}

    out = StringIO()
    call_command("label_counterparties", stdout=out)

    assert _counterparties() == {kept.pk: shop.pk, missed.pk: shop.pk, wrong.pk: shop.pk}
    assert "of 2 feedback labels" in out.getvalue()
    call_command("label_counterparties", stdout=(again := StringIO()))
    assert "of 0 feedback labels" in again.getvalue()


def _labels(txn: Transaction, *verdicts: tuple[bool, int]) -> None:
    """Labels on `txn`: (is fraud, known this many hours after midnight), in this order."""
    for is_fraud, hours in verdicts:
        FeedbackLabel.objects.create(
            transaction=txn,
            is_fraud=is_fraud,
            source="chargeback",
            known_at=MIDNIGHT + timedelta(hours=hours),
        )


def test_a_payees_fraud_count_follows_each_transactions_newest_label(postgres_required):
    payer, other = _account("ACC-1"), _account("ACC-2")
    shop = Counterparty.objects.create(identifier="SHOP")
    paid = [_payment(payer, shop, MIDNIGHT + timedelta(minutes=i), f"P{i}") for i in range(4)]
    _labels(paid[0], (False, 1), (True, 30))  # cleared, then confirmed fraud at 30 h
    _labels(paid[1], (True, 2), (False, 3))  # reported, then cleared: not fraud
    _labels(paid[2], (True, 4), (True, 5))  # fraud since 4 h
    _labels(paid[3], (True, 6), (False, 6))  # both at 6 h: the newer label (cleared) wins
    late = _payment(payer, shop, MIDNIGHT + timedelta(hours=50), "LATE")
    _labels(late, (True, 10))  # dated before its own transaction

    at = {h: _payment(other, shop, MIDNIGHT + timedelta(hours=h), f"AT-{h}") for h in (20, 40)}

    # at 20 h only P2 is known fraud: P0's fraud label comes at 30 h, LATE is after 20 h
    assert payee_counts(at[20], delay_days=0).fraud_count == 1
    assert payee_counts(at[40], delay_days=0).fraud_count == 2
    # the same figures as the ORM reference
    for probe in at.values():
        reference = realtime.load_counterparty_state(
            counterparty_id=shop.pk, before=probe.occurred_at, before_id=probe.pk
        )
        expected = bisect_left(reference.fraud_known, datetime_to_ns(probe.occurred_at))
        assert payee_counts(probe, delay_days=0).fraud_count == expected
