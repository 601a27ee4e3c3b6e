"""Account feature summaries give the features of the whole history, and are ignored when
they no longer describe the stored transactions."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from detection.features import summaries
from detection.features.frame import normalise_frame
from detection.features.history import AccountHistory, FeatureTxn
from detection.features.realtime import features_for_transaction
from detection.models import AccountFeatureSummary
from tests.detection.test_features_equivalence import (
    COUNTERPARTIES,
    HOMES,
    feature_txn_of,
    random_frame,
)
from transactions.models import Account, Counterparty, Customer, Transaction
from transactions.services import transaction_submit


def _in_time_order(seed: int, *, n: int):
    """A normalised random history, in time order (ties in row order), indexed 0..n-1."""
    f = normalise_frame(random_frame(seed, n=n))
    return f.iloc[np.lexsort((np.arange(len(f)), f["ts"].to_numpy()))].reset_index(drop=True)


def test_a_summary_round_trip_gives_the_features_of_the_whole_history():
    f = _in_time_order(31, n=400)
    full: dict[str, AccountHistory] = {}
    stored: dict[str, str] = {}  # the account's summary text after its last transaction
    trimmed_any = False
    for _, r in f.iterrows():
        account = r["account"]
        txn = feature_txn_of(r)
        history = full.setdefault(account, AccountHistory())
        expected = history.features_for(txn)
        if account in stored:
            again = summaries.decode(
                stored[account], home_country=r["home_country"], tz_name="Asia/Dubai"
            )
            assert again is not None
            assert again.features_for(txn).tolist() == expected.tolist()
            again.append(txn)
            trimmed_any |= again.offset > 0
            stored[account] = summaries.encode(
                again, home_country=r["home_country"], tz_name="Asia/Dubai"
            )
        else:
            fresh = AccountHistory()
            fresh.append(txn)
            stored[account] = summaries.encode(
                fresh, home_country=r["home_country"], tz_name="Asia/Dubai"
            )
        history.append(txn)
        # the stored summary is the whole history, trimmed
        kept = json.loads(stored[account])
        assert kept["count"] == history.count
        assert kept["s1"] == history.s1 and kept["s2"] == history.s2
        assert (kept["month"], kept["month_sum"], kept["month_count"]) == (
            history.month,
            history.month_sum,
            history.month_count,
        )
        assert kept["running_sums"][-1] == history.running_sums[-1]
        assert kept["times"] == history.times[kept["offset"] :]
    assert trimmed_any


def test_a_summary_is_refused_for_another_zone_home_country_or_format():
    history = AccountHistory()
    history.append(FeatureTxn(ts=10**18, account=1, amount=5.0, country="AE"))
    text = summaries.encode(history, home_country="AE", tz_name="Asia/Dubai")
    assert summaries.decode(text, home_country="AE", tz_name="Asia/Dubai") is not None
    assert summaries.decode(text, home_country="GB", tz_name="Asia/Dubai") is None
    assert summaries.decode(text, home_country="AE", tz_name="Europe/London") is None
    older = json.loads(text) | {"format": summaries.SUMMARY_FORMAT - 1}
    assert summaries.decode(json.dumps(older), home_country="AE", tz_name="Asia/Dubai") is None
    assert summaries.decode("{not json", home_country="AE", tz_name="Asia/Dubai") is None


def test_a_trimmed_history_refuses_a_transaction_whose_window_it_dropped():
    day = 86_400 * 10**9
    history = AccountHistory()
    for k in range(4):
        history.append(FeatureTxn(ts=10**18 + k * 2 * day, account=1, amount=1.0))
    history.trim()
    assert history.offset == 3 and history.count == 4
    with pytest.raises(ValueError, match="trimmed"):
        history.features_for(FeatureTxn(ts=10**18 + 4 * day + 1, account=1, amount=1.0))
    history.features_for(FeatureTxn(ts=10**18 + 7 * day, account=1, amount=1.0))


# -- PostgreSQL: the real-time path -----------------------------------------------------


def _accounts() -> dict[str, Account]:
    accounts = {}
    for number, home in HOMES.items():
        customer = Customer.objects.create(
            external_id=f"C-{number}", name=number, home_country=home
        )
        accounts[number] = Account.objects.create(customer=customer, number=number)
    return accounts


def _submission(r, when: datetime, external_id: str) -> dict:
    return {
        "id": external_id,
        "timestamp": when,
        "account": r["account"],
        "customer": f"C-{r['account']}",
        "counterparty": r["counterparty"],
        "counterparty_country": COUNTERPARTIES.get(r["counterparty"], ""),
        "amount": Decimal(str(r["amount"])),
        "currency": "AED",
        "transfer_type": r["transfer_type"],
        "country": r["country"],
        "channel": r["channel"],
    }


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=ts // 1000)


@pytest.fixture
def summary_reads(monkeypatch) -> dict[str, int]:
    """How many real-time decisions read a summary (and found it current)."""
    seen = {"current": 0, "refused": 0}
    decode = summaries.decode

    def counting(*args, **kwargs):
        history = decode(*args, **kwargs)
        seen["current" if history is not None else "refused"] += 1
        return history

    monkeypatch.setattr(summaries, "decode", counting)
    return seen


@pytest.mark.django_db
def test_real_time_decisions_from_summaries_match_the_whole_history(
    postgres_required, summary_reads
):
    accounts = _accounts()
    f = _in_time_order(41, n=240)
    for k, r in f.iterrows():
        when = _at(int(r["ts"]))
        if k == 100:
            # a transaction loaded by a batch import: no summary knows it
            Transaction.objects.create(
                external_id="BULK-1",
                account=accounts["ACC-1"],
                amount=Decimal("900.00"),
                occurred_at=when - timedelta(seconds=1),
                country="NG",
            )
        if k == 150:
            Customer.objects.filter(external_id="C-ACC-3").update(home_country="AE")
        if k == 200:
            # an out-of-order arrival: older than the account's newest transaction
            older = f[(f["account"] == "ACC-2") & (f.index < k)].iloc[-2]
            txn, _, _ = transaction_submit(
                data=_submission(older, _at(int(older["ts"])) + timedelta(microseconds=1), "LATE"),
                user=None,
            )
            _assert_matches_reference(txn)
        txn, _, created = transaction_submit(data=_submission(r, when, f"RT-{k}"), user=None)
        assert created
        _assert_matches_reference(txn)
    # most decisions read a current summary; the first of each account, the one after the
    # bulk load, after the home-country change and around the late arrival read rows
    assert summary_reads["current"] >= len(f) - 20
    assert summary_reads["refused"] >= 1  # the home-country change
    summary = AccountFeatureSummary.objects.get(account=accounts["ACC-1"])
    stored = Transaction.objects.filter(account=accounts["ACC-1"])
    assert summary.transaction_count == stored.count()
    assert summary.transaction_id_sum == sum(stored.values_list("id", flat=True))


def _assert_matches_reference(txn: Transaction) -> None:
    reference = Transaction.objects.select_related("account__customer", "counterparty").get(
        pk=txn.pk
    )
    assert txn.score.features == features_for_transaction(reference).tolist(), txn.external_id


@pytest.mark.django_db
def test_rebuilt_summaries_are_read_by_the_next_decision(postgres_required, summary_reads):
    accounts = _accounts()
    f = normalise_frame(random_frame(43, n=120))
    rows = [
        Transaction(
            external_id=f"B-{k}",
            account=accounts[r["account"]],
            amount=Decimal(str(r["amount"])),
            country=r["country"],
            channel=r["channel"],
            occurred_at=_at(int(r["ts"])),
        )
        for k, r in f.iterrows()
    ]
    Transaction.objects.bulk_create(rows)
    assert summaries.rebuild_summaries() == len(set(f["account"]))
    later = int(f["ts"].max()) + 60 * 10**9
    for k, (number, r) in enumerate(f.groupby("account").last().iterrows()):
        txn, _, _ = transaction_submit(
            data=_submission(r.to_dict() | {"account": number}, _at(later + k), f"N-{k}"), user=None
        )
        _assert_matches_reference(txn)
    assert summary_reads == {"current": len(set(f["account"])), "refused": 0}


@pytest.mark.django_db
def test_rebuild_command_writes_one_summary_per_account_with_transactions(postgres_required):
    from io import StringIO

    from django.core.management import call_command

    accounts = _accounts()
    Transaction.objects.create(
        external_id="ONE",
        account=accounts["ACC-2"],
        amount=Decimal("10.00"),
        occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    out = StringIO()
    call_command("rebuild_feature_summaries", stdout=out)
    assert "Wrote 1 account feature summaries" in out.getvalue()
    summary = AccountFeatureSummary.objects.get()
    assert (summary.account_id, summary.transaction_count) == (accounts["ACC-2"].id, 1)
    assert json.loads(summary.state)["times"] == [
        int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 10**9
    ]


@pytest.mark.django_db
def test_an_edited_transaction_or_renamed_counterparty_drops_the_summaries_it_touches(
    postgres_required, summary_reads
):
    accounts = _accounts()
    f = _in_time_order(47, n=80)
    for k, r in f.iterrows():
        transaction_submit(data=_submission(r, _at(int(r["ts"])), f"E-{k}"), user=None)
    later = int(f["ts"].max())
    edited = Transaction.objects.filter(account=accounts["ACC-1"]).order_by("id").first()
    edited.amount = Decimal("98765.00")
    edited.save()  # e.g. in the admin
    assert not AccountFeatureSummary.objects.filter(account=accounts["ACC-1"]).exists()
    # a status change keeps it
    kept = Transaction.objects.filter(account=accounts["ACC-2"]).first()
    kept.status = "approved"
    kept.save(update_fields=["status"])
    assert AccountFeatureSummary.objects.filter(account=accounts["ACC-2"]).exists()
    # renaming a counterparty drops the summaries of every account that paid it
    renamed = Counterparty.objects.get(identifier="CP-A")
    payers = set(Transaction.objects.filter(counterparty=renamed).values_list("account", flat=True))
    renamed.identifier = "CP-A-RENAMED"
    renamed.save()
    assert payers and not AccountFeatureSummary.objects.filter(account__in=payers).exists()
    for k, number in enumerate(
        ("ACC-1", "ACC-2", *sorted(a.number for a in Account.objects.filter(pk__in=payers)))
    ):
        r = f[f["account"] == number].iloc[-1]
        txn, _, _ = transaction_submit(
            data=_submission(r, _at(later + (k + 1) * 10**9), f"AFTER-{k}"), user=None
        )
        _assert_matches_reference(txn)
