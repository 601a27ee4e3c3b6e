"""import_labels: chargebacks and confirmations from CSV, row errors, idempotency, and the
labels reaching the counterparty features (from when they are known) and training."""

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import FeedbackLabel
from detection.features.realtime import features_for_transaction
from detection.features.spec import FEATURE_INDEX
from detection.labels_import import labels_import
from detection.model_training import training_set
from transactions.models import Account, Counterparty, Customer, Transaction

T0 = timezone.make_aware(datetime(2026, 3, 1, 10, 0))


@pytest.fixture
def txns(db):
    customer = Customer.objects.create(external_id="c1", name="C One", home_country="AE")
    other = Customer.objects.create(external_id="c2", name="C Two", home_country="AE")
    a1 = Account.objects.create(customer=customer, number="A-1")
    a2 = Account.objects.create(customer=other, number="A-2")
    mule = Counterparty.objects.create(identifier="MULE-1", country="AE")

    def make(external_id: str, account: Account, hours: float, **extra) -> Transaction:
        return Transaction.objects.create(
            external_id=external_id,
            account=account,
            amount=Decimal(extra.pop("amount", "500.00")),
            occurred_at=T0 + timedelta(hours=hours),
            transfer_type="L",
            country="AE",
            counterparty=mule,
            **extra,
        )

    return {
        "first": make("TX-1", a1, 0),
        "second": make("TX-2", a1, 1),
        "before_known": make("TX-3", a2, 20),  # the chargeback arrives at 24 h
        "after_known": make("TX-4", a2, 30),
    }


def write(tmp_path, text: str):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


GOOD_AND_BAD = (
    "transaction_id,label,source,reported_at,note\n"
    "TX-1,fraud,chargeback,2026-03-02T10:00:00+04:00,card stolen\n"  # line 2: good
    "TX-2,legitimate,customer_confirmation,2026-03-02 12:00,\n"  # line 3: good (local time)
    "TX-404,fraud,chargeback,2026-03-02T10:00:00+04:00,\n"  # line 4: unknown transaction
    "TX-2,maybe,chargeback,2026-03-02T10:00:00+04:00,\n"  # line 5: bad label
    "TX-2,fraud,chargeback,yesterday,\n"  # line 6: bad time
    "TX-2,fraud,rumour,2026-03-02T10:00:00+04:00,\n"  # line 7: bad source
    "TX-2,fraud,chargeback,2026-02-01T10:00:00+04:00,\n"  # line 8: before the transaction
    "TX-2,fraud,,2099-01-01T00:00:00+04:00,\n"  # line 9: in the future
    ",,chargeback,,\n"  # line 10: three missing values
    "TX-4,1,,2026-03-03T00:00:00+04:00,\n"  # line 11: good, default source
)


def test_bad_rows_are_reported_and_good_rows_stored_once(txns, tmp_path, capsys):
    path = write(tmp_path, GOOD_AND_BAD)
    call_command("import_labels", str(path))
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert errors == [
        "line 4, column transaction_id: no transaction 'TX-404'",
        "line 5, column label: 'maybe' is not fraud or legitimate",
        "line 6, column reported_at: 'yesterday' is not a date and time",
        "line 7, column source: 'rumour' is not one of chargeback, customer_confirmation, "
        "api, case_decision",
        "line 8, column reported_at: is before the transaction happened",
        "line 9, column reported_at: is in the future",
        "line 10, column transaction_id: missing",
        "line 10, column label: missing",
        "line 10, column reported_at: missing",
    ]
    assert "10 rows: 3 labels stored, 0 already present, 7 rejected" in captured.out
    labels = {label.transaction.external_id: label for label in FeedbackLabel.objects.all()}
    assert set(labels) == {"TX-1", "TX-2", "TX-4"}
    assert labels["TX-1"].is_fraud and labels["TX-1"].source == "chargeback"
    assert labels["TX-1"].known_at == T0 + timedelta(days=1)
    assert labels["TX-1"].note == "card stolen"
    assert not labels["TX-2"].is_fraud and labels["TX-2"].source == "customer_confirmation"
    assert labels["TX-2"].known_at == timezone.make_aware(datetime(2026, 3, 2, 12, 0))
    assert labels["TX-4"].is_fraud and labels["TX-4"].source == "chargeback"

    # the same file again: nothing new; a file with one more row adds that row only
    call_command("import_labels", str(path))
    assert "0 labels stored, 3 already present, 7 rejected" in capsys.readouterr().out
    assert FeedbackLabel.objects.count() == 3
    more = write(tmp_path, GOOD_AND_BAD + "TX-2,fraud,chargeback,2026-03-05T00:00:00+04:00,\n")
    result = labels_import(path=more)
    assert (result.created, result.already_present, len(result.errors)) == (1, 3, 9)
    assert FeedbackLabel.objects.count() == 4


def test_file_level_errors(txns, tmp_path):
    with pytest.raises(CommandError, match="missing column.*reported_at"):
        call_command("import_labels", str(write(tmp_path, "transaction_id,label\nTX-1,1\n")))
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_labels", str(tmp_path / "absent.csv"))
    # semicolons and a byte-order mark are read as well
    path = tmp_path / "semi.csv"
    path.write_bytes(b"\xef\xbb\xbftransaction_id;label;reported_at\nTX-1;fraud;2026-03-02\n")
    assert labels_import(path=path).created == 1


def test_imported_labels_reach_features_from_when_known_and_the_training_labels(txns, tmp_path):
    # TX-1 to the mule counterparty is charged back 24 h later
    labels_import(text="transaction_id,label,reported_at\nTX-1,fraud,2026-03-02T10:00:00+04:00\n")
    cp_fraud = FEATURE_INDEX["counterparty_fraud_count"]
    before = features_for_transaction(txns["before_known"])
    after = features_for_transaction(txns["after_known"])
    assert before[cp_fraud] == 0  # at 20 h the bank did not know yet
    assert after[cp_fraud] == 1  # at 30 h it did

    # training sees the label once known before the cutoff, and it overrides the data
    txns["second"].source_label = True
    txns["second"].save()
    data = training_set(until=T0 + timedelta(hours=31), label_delay_days=7.0)
    y = dict(zip(data.frame["id"], data.y))
    assert y["TX-1"] == 1.0  # chargeback known at 24 h < cutoff
    assert np.isnan(y["TX-2"])  # data label: known only after the 7-day delay
    early = training_set(until=T0 + timedelta(hours=23), label_delay_days=7.0)
    assert np.isnan(dict(zip(early.frame["id"], early.y))["TX-1"])
    late = training_set(until=T0 + timedelta(days=9), label_delay_days=7.0)
    assert dict(zip(late.frame["id"], late.y))["TX-2"] == 1.0
