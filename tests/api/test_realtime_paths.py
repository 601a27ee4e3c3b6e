"""The one-round-trip PostgreSQL feature load gives what the ORM reference functions give."""

from bisect import bisect_left
from datetime import timedelta

import numpy as np
import pytest

from cases.models import FeedbackLabel
from detection.features import realtime
from detection.features.clock import datetime_to_ns, label_delay_ns
from detection.features.spec import N_FEATURES
from tests.detection.test_features_equivalence import _store, random_frame
from transactions.models import Transaction


@pytest.mark.django_db
@pytest.mark.parametrize("label_source", ["both", "data", "feedback"])
@pytest.mark.parametrize("delay_days", [2.0, 0.0])
def test_postgresql_load_matches_orm_load(postgres_required, label_source, delay_days):
    stored = _store(random_frame(11, n=150))
    rng = np.random.default_rng(3)
    with_cp = [t for t in stored if t.counterparty_id is not None]
    labelled = rng.choice(with_cp, size=20, replace=False)
    for txn in labelled:
        FeedbackLabel.objects.create(
            transaction=txn,
            is_fraud=bool(rng.random() < 0.6),
            source="chargeback",
            known_at=txn.occurred_at + timedelta(hours=int(rng.integers(1, 72))),
        )
    # second opinions: later ones, and ones known at the same moment (the newer id wins)
    for i, txn in enumerate(labelled[:10]):
        first = FeedbackLabel.objects.filter(transaction=txn).get()
        FeedbackLabel.objects.create(
            transaction=txn,
            is_fraud=not first.is_fraud if i % 3 else first.is_fraud,
            source="customer_confirmation",
            known_at=first.known_at + timedelta(days=int(rng.integers(0, 3))),
        )
    # a label dated before its own transaction (as a bank's feed may send): it must not
    # reach the features of transactions before that one
    for txn in labelled[10:14]:
        FeedbackLabel.objects.create(
            transaction=txn,
            is_fraud=True,
            source="api",
            known_at=txn.occurred_at - timedelta(days=3),
        )
    txns = list(Transaction.objects.select_related("account__customer", "counterparty"))
    # saved transactions (ties by id), and an unsaved one after everything stored
    probe = Transaction(
        account=txns[-1].account,
        counterparty=txns[-1].counterparty,
        amount=txns[-1].amount,
        occurred_at=txns[-1].occurred_at,
    )
    for txn in [*txns, probe]:
        before_id = txn.pk if txn.pk is not None else realtime.UNSAVED_ID
        for before in (before_id, None):
            history, state = realtime._load_state_postgresql(
                account_id=txn.account_id,
                counterparty_id=txn.counterparty_id,
                before=txn.occurred_at,
                before_id=before,
                home_country=txn.account.customer.home_country,
                label_delay_days=delay_days,
                label_source=label_source,
                tz=None,
            )
            reference = realtime.load_account_history(
                account_id=txn.account_id, before=txn.occurred_at, before_id=before
            )
            assert history.times == reference.times
            assert history.running_sums == reference.running_sums
            assert history.counterparties == reference.counterparties
            assert history.country_counts == reference.country_counts
            assert (history.month, history.month_sum, history.month_count) == (
                reference.month,
                reference.month_sum,
                reference.month_count,
            )
            if txn.counterparty_id is None:
                assert state is None
                continue
            expected = realtime.load_counterparty_state(
                counterparty_id=txn.counterparty_id,
                before=txn.occurred_at,
                before_id=before,
                label_delay_days=delay_days,
                label_source=label_source,
            )
            # the database counts what the reference derives from its lists: the
            # counterparty features must come out equal
            ts, delay = datetime_to_ns(txn.occurred_at), label_delay_ns(delay_days)
            got, want = np.zeros(N_FEATURES), np.zeros(N_FEATURES)
            state.fill(got, ts, txn.account_id, delay)
            expected.fill(want, ts, txn.account_id, delay)
            assert got.tolist() == want.tolist()
            assert state.fraud_count == bisect_left(expected.fraud_known, ts)
