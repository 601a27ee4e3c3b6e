"""The labels page in real Chromium: an investigator uploads a chargeback file from the
navigation, watches its import finish, and reads what was stored and what was rejected."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cases import tasks
from cases.label_imports import label_import_run
from cases.models import FeedbackLabel, LabelImport
from secureflow.core import roles
from tests.e2e import conftest as e2e
from transactions.models import Account, Customer, Transaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_investigator_uploads_a_chargeback_file(page, make_user, tmp_path, monkeypatch):
    queued: list[int] = []  # this test plays the worker
    monkeypatch.setattr(tasks.run_label_import, "delay", queued.append)
    account = Account.objects.create(
        customer=Customer.objects.create(external_id="C-1", name="Layla Haddad"), number="AE-1"
    )
    Transaction.objects.create(
        external_id="TX-1",
        account=account,
        amount=Decimal("250.00"),
        transfer_type="Q",
        country="AE",
        channel="web",
        occurred_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    )
    chargebacks = tmp_path / "chargebacks.csv"
    chargebacks.write_text(
        "transaction_id,label,reported_at,note\n"
        "TX-1,chargeback,2026-03-05T09:00:00+04:00,CB 4837\n"
        "TX-9,chargeback,2026-03-05T09:00:00+04:00,\n"
    )
    make_user("ivy", roles.INVESTIGATOR)
    e2e.log_in(page, "ivy", "pw-ivy-123!")

    page.locator("#nav-labels").click()
    page.wait_for_url(re.compile(r"/cases/labels/$"))
    page.locator("#labels-file").set_input_files(str(chargebacks))
    page.locator("#labels-upload-submit").click()

    page.wait_for_url(re.compile(r"/cases/labels/imports/\d+/$"))
    state = page.locator("#label-import-state")
    assert state.get_attribute("data-status") == "queued"
    assert "waiting for a worker" in state.inner_text()
    assert queued == [LabelImport.objects.get().pk]
    label_import_run(import_id=queued[0])  # the page polls and shows the result

    page.wait_for_selector('#label-import-state[data-status="done"]')
    summary = page.locator("#labels-summary")
    summary.wait_for()
    assert summary.inner_text() == "2 rows: 1 label stored, 0 already present, 1 rejected."
    assert page.locator("#labels-errors tbody tr").all_inner_texts() == [
        "3\ttransaction_id\tno transaction 'TX-9'"
    ]
    e2e.screenshot(page, "labels upload")
    page.locator("a", has_text="← Labels").click()
    page.wait_for_url(re.compile(r"/cases/labels/$"))
    assert "CB 4837" in page.locator("#labels-recent").inner_text()
    assert "chargebacks.csv" in page.locator("#labels-imports").inner_text()
    label = FeedbackLabel.objects.get()
    assert (label.transaction.external_id, label.is_fraud, label.source) == (
        "TX-1",
        True,
        "chargeback",
    )

    # the transaction link opens its decision page
    page.locator("#labels-recent a", has_text="TX-1").click()
    page.wait_for_url(re.compile(r"/check/result/TX-1/$"))
