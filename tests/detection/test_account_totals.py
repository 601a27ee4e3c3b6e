"""Account transaction totals (PostgreSQL triggers): every way of writing transactions
keeps each account's count and id sum equal to its stored transactions, compaction keeps
them, and the real-time features trust an account's summary by them."""

from datetime import timedelta
from decimal import Decimal

from django.db import connection

from detection.features import account_totals, summaries
from detection.features.spec import FEATURE_INDEX
from detection.models import AccountFeatureSummary, AccountTransactionTotal
from tests.detection.test_counterparty_days import MIDNIGHT, _account, _call, _payment
from tests.detection.test_features_equivalence import _store, random_frame
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Counterparty, Transaction
from transactions.services import transaction_submit


def _stored_totals() -> dict[int, tuple[int, int]]:
    """account id -> (stored transactions, sum of their ids), from the table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, count(*), sum(id) FROM transactions_transaction GROUP BY 1"
        )
        return {account: (n, int(ids)) for account, n, ids in cursor.fetchall()}


def _kept_totals() -> dict[int, tuple[int, int]]:
    """The same, summed from the totals rows (accounts netting to nothing left out)."""
    kept: dict[int, tuple[int, int]] = {}
    for account, n, ids in AccountTransactionTotal.objects.values_list(
        "account_id", "transactions", "id_sum"
    ):
        before = kept.get(account, (0, 0))
        kept[account] = (before[0] + n, before[1] + int(ids))
    return {account: total for account, total in kept.items() if total != (0, 0)}


def _assert_totals_agree() -> None:
    assert _kept_totals() == _stored_totals()


def test_inserts_updates_and_deletes_keep_the_totals(postgres_required):
    account, other = _account("ACC-1"), _account("ACC-2")
    shop = Counterparty.objects.create(identifier="SHOP")
    txns = [_payment(account, shop, MIDNIGHT + timedelta(hours=i), f"T{i}") for i in range(5)]
    _assert_totals_agree()
    assert _kept_totals()[account.pk] == (5, sum(t.pk for t in txns))

    rows_before = AccountTransactionTotal.objects.count()
    Transaction.objects.filter(pk=txns[0].pk).update(status="review")  # nets to nothing
    assert AccountTransactionTotal.objects.count() == rows_before

    Transaction.objects.filter(pk__in=[txns[1].pk, txns[2].pk]).update(account=other)
    Transaction.objects.filter(pk=txns[3].pk).delete()
    Transaction.objects.bulk_create(
        Transaction(
            external_id=f"BULK-{i}",
            account=other if i % 2 else account,
            amount=Decimal("1.00"),
            occurred_at=MIDNIGHT + timedelta(days=3, minutes=i),
        )
        for i in range(30)
    )
    _assert_totals_agree()
    Transaction.objects.filter(account=other).delete()
    _assert_totals_agree()
    assert other.pk not in _kept_totals()


def test_compaction_folds_each_account_into_one_row(postgres_required):
    _store(random_frame(8, n=80))
    Transaction.objects.filter(external_id__in=["T0001", "T0002"]).delete()
    assert AccountTransactionTotal.objects.filter(compacted=False).count() > 3
    expected = _stored_totals()

    read, written = account_totals.compact()

    assert read > written == len(expected)
    assert _kept_totals() == expected
    accounts = list(AccountTransactionTotal.objects.values_list("account_id", flat=True))
    assert len(accounts) == len(set(accounts))  # one row per account
    assert account_totals.compact() == (0, 0)  # nothing left to fold
    _assert_totals_agree()


def test_rebuild_truncate_and_bulk_loads_by_copy(postgres_required):
    frame = generate_demo_bank(customers=12, days=15, seed=5, end=MIDNIGHT.date()).transactions
    bulk_load_frame(frame.iloc[: len(frame) // 2])
    bulk_load_frame(frame)  # the first half skipped, the rest COPYed
    _assert_totals_agree()
    AccountTransactionTotal.objects.all().delete()  # as after a restore without triggers
    assert account_totals.rebuild() == len(_stored_totals()) > 10
    _assert_totals_agree()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: TRUNCATE may run
        cursor.execute("TRUNCATE transactions_transaction CASCADE")
    assert AccountTransactionTotal.objects.count() == 0


def _submit(external_id: str, when, account: str = "ACC-1") -> Transaction:
    txn, _, created = transaction_submit(
        data={"id": external_id, "timestamp": when, "account": account, "amount": "10.00"},
        user=None,
    )
    assert created
    return txn


def test_a_summary_is_trusted_by_the_totals_and_refused_when_they_differ(
    postgres_required, monkeypatch
):
    reads = []
    decode = summaries.decode
    monkeypatch.setattr(summaries, "decode", lambda *a, **k: reads.append(1) or decode(*a, **k))
    _account("ACC-1")
    for i in range(3):
        _submit(f"N{i}", MIDNIGHT + timedelta(minutes=i))
    assert len(reads) == 2  # the first decision had no summary; the next two read it
    summary = AccountFeatureSummary.objects.get(account__number="ACC-1")
    assert summary.transaction_count == 3

    # totals that no longer match (as after a load that bypassed the triggers): the
    # summary is not trusted, and the history is read instead
    AccountTransactionTotal.objects.create(
        account_id=summary.account_id, transactions=1, id_sum=10**9, compacted=True
    )
    txn = _submit("N3", MIDNIGHT + timedelta(minutes=3))
    assert len(reads) == 2
    assert txn.score.features[FEATURE_INDEX["history_count"]] == 3  # the three stored

    # totals put right: the summary the last decision wrote named the totals it saw, so the
    # next decision reads the history once more and writes one that the one after reads
    AccountTransactionTotal.objects.filter(id_sum=10**9).delete()
    _submit("N4", MIDNIGHT + timedelta(minutes=4))
    assert len(reads) == 2
    txn = _submit("N5", MIDNIGHT + timedelta(minutes=5))
    assert len(reads) == 3
    assert txn.score.features[FEATURE_INDEX["history_count"]] == 5


def test_command_and_beat(postgres_required, settings):
    from detection.tasks import compact_account_totals

    entry = settings.CELERY_BEAT_SCHEDULE["account-totals-compact"]
    assert (entry["task"], entry["schedule"]) == (compact_account_totals.name, 60.0)
    account = _account()
    for i in range(3):
        _payment(account, None, MIDNIGHT + timedelta(minutes=i), f"P{i}")
    assert "Folded 3 account total rows into 1" in _call("account_totals")
    assert "Counted all stored transactions again: 1 accounts" in _call(
        "account_totals", "--rebuild"
    )
    _payment(account, None, MIDNIGHT + timedelta(minutes=9), "P9")
    assert compact_account_totals.apply().get() == [2, 1]
    _assert_totals_agree()
