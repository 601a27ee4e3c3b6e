"""An investigator's day in real Chromium against a live server and a real Celery worker:
check a suspicious transaction, upload a CSV and watch it finish, claim a case and reject it,
and see the dashboard figures follow."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Case
from detection.services import rule_limits_ensure_defaults
from secureflow.core import roles
from secureflow.workspace.rollup import (
    daily_activity_maintain,
    daily_activity_refresh,
    days_between,
)
from tests.conftest import wait_for
from tests.e2e.conftest import htmx_settled, log_in, screenshot
from tests.workspace.conftest import add_history
from transactions.models import Account, Customer, ImportBatch, Transaction

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def bank(transactional_db):
    """Two customers with a month of ordinary history each."""
    rule_limits_ensure_defaults()  # transactional tests empty what the migrations filled
    start = timezone.now() - timedelta(days=30)
    layla = Customer.objects.create(external_id="C-100", name="Layla Haddad", home_country="AE")
    omar = Customer.objects.create(external_id="C-200", name="Omar Farouk", home_country="AE")
    first = Account.objects.create(customer=layla, number="AE-100-1")
    second = Account.objects.create(customer=omar, number="AE-200-1")
    add_history(first, ["120.00", "180.00", "240.00", "90.00", "150.00"], start=start)
    add_history(second, ["60.00", "75.00", "80.00"], start=start)
    return first, second


def batch_csv(tmp_path):
    now = timezone.now().replace(microsecond=0)
    rows = [
        "id,timestamp,customer,account,counterparty,amount,currency,transfer_type,country",
        f"B-1,{(now - timedelta(hours=3)).isoformat()},C-200,AE-200-1,M-77,70.00,AED,L,AE",
        f"B-2,{(now - timedelta(hours=2)).isoformat()},C-200,AE-200-1,M-78,65.50,AED,L,AE",
        f"B-3,{(now - timedelta(hours=1)).isoformat()},C-200,AE-200-1,X-9,90000.00,AED,S,RU",
        "B-4,not-a-date,C-200,AE-200-1,M-79,10.00,AED,L,AE",
    ]
    path = tmp_path / "evening-export.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def kpi(page, name: str) -> int:
    return int(page.locator(f"#kpi-{name}").inner_text().replace(",", "").strip())


def test_investigator_day(page, live_server, bank, make_user, worker_for_live_server, tmp_path):
    make_user("ivy", roles.INVESTIGATOR)
    worker = worker_for_live_server
    log_in(page, "ivy", "pw-ivy-123!")

    # The dashboard as the day starts.
    today = timezone.localdate()
    daily_activity_maintain()
    page.goto(f"/dashboard/?date_from={today - timedelta(days=40)}&date_to={today}")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-daily') !== undefined")
    transactions_before = kpi(page, "transactions")
    open_before = kpi(page, "open-cases")
    assert transactions_before == Transaction.objects.count() == 8
    assert open_before == 0
    screenshot(page, "day 1 dashboard before")

    # Check a suspicious transaction: it is flagged, with reasons, in place.
    page.goto("/check/")
    page.get_by_label("Find customer or account").fill("layla")
    page.wait_for_function("() => document.querySelector('#id_account')?.value === 'AE-100-1'")
    htmx_settled(page)
    page.get_by_label("Amount").fill("15000")
    page.get_by_label("Transfer type").select_option("Q")
    page.locator("#check-submit").click()
    banner = page.locator("#outcome-banner")
    expect(banner).to_contain_text(re.compile("review|block", re.I))
    expect(page.locator("#rule-reasons")).to_contain_text("limit")
    screenshot(page, "day 2 check flagged")
    checked = Transaction.objects.get(external_id__startswith="CHK-")
    assert checked.status in {"in_review", "blocked"}
    assert Case.objects.filter(transaction=checked).exists()

    # Upload a CSV (one bad row) and watch the worker finish it.
    page.goto("/batches/")
    page.locator("#batch-file").set_input_files(str(batch_csv(tmp_path)))
    page.locator("#batch-upload-submit").click()
    page.wait_for_url(re.compile(r"/batches/\d+/"))
    screenshot(page, "day 3 batch running")
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "done", timeout=120_000)
    expect(page.locator("#count-received")).to_have_text("4")
    expect(page.locator("#count-imported")).to_have_text("3")
    expect(page.locator("#count-rejected")).to_have_text("1")
    expect(page.locator("#batch-rejected")).to_contain_text("timestamp")
    page.locator("#batch-results-table").wait_for()
    expect(page.locator("#batch-results-table")).to_contain_text("B-3")
    screenshot(page, "day 4 batch done")
    batch = ImportBatch.objects.get()
    assert batch.rows_imported == 3 and batch.rows_rejected == 1
    flagged_upload = Transaction.objects.get(external_id="B-3")
    assert flagged_upload.status in {"in_review", "blocked"}, worker.log()[-2000:]
    wait_for(lambda: Case.objects.count() == 2, timeout=30)

    # Claim the next case from the queue and reject it as confirmed fraud.
    page.goto("/cases/")
    expect(page.locator("#queue-results")).to_contain_text("B-3")
    screenshot(page, "day 5 case queue")
    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(re.compile(r"/cases/\d+/"))
    case = Case.objects.get(assignee__username="ivy")
    expect(page.locator("main")).to_contain_text(case.transaction.external_id)
    page.locator("#case-note").fill("Customer denies the transfer; card blocked.")
    page.get_by_role("button", name=re.compile("Reject", re.I)).click()
    expect(page.locator("#case-panel")).to_contain_text("Rejected: confirmed fraud.")
    screenshot(page, "day 6 case rejected")
    case.refresh_from_db()
    assert case.status == "closed" and case.resolution == "fraud"
    assert case.transaction.status == "rejected"
    assert case.transaction.labels.filter(is_fraud=True).exists()
    assert case.events.filter(kind="rejected", actor__username="ivy").exists()

    # The dashboard follows: more transactions, one case left open.
    # The periodic task refreshes the last days within a minute; do its work now. (A wider
    # range than before: the assembled figures are cached for a few seconds per range.)
    daily_activity_refresh(days=days_between(today - timedelta(days=41), today))
    page.goto(f"/dashboard/?date_from={today - timedelta(days=41)}&date_to={today}")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-daily') !== undefined")
    assert kpi(page, "transactions") == transactions_before + 4
    assert kpi(page, "open-cases") == 1
    screenshot(page, "day 7 dashboard after")
