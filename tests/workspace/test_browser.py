"""The workspace pages in real Chromium: HTMX swaps, search as you type, inline edits."""

import re

import pytest

from detection.models import RuleLimitChange
from detection.services import rule_limits_ensure_defaults
from secureflow.core import roles
from tests.e2e import conftest as e2e
from tests.workspace.conftest import add_history, local
from tests.workspace.test_dashboard import Bank
from transactions.models import Account, Customer, Transaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
log_in, screenshot = e2e.log_in, e2e.screenshot


@pytest.fixture
def people(make_user):
    rule_limits_ensure_defaults()  # transactional tests empty the tables the migrations filled
    return {
        "senior": make_user("sam", roles.SENIOR_INVESTIGATOR),
        "admin": make_user("ada", roles.ADMIN, is_staff=True),
    }


@pytest.fixture
def accounts(transactional_db):
    layla = Customer.objects.create(external_id="C-100", name="Layla Haddad", home_country="AE")
    omar = Customer.objects.create(external_id="C-200", name="Omar Farouk", home_country="AE")
    first = Account.objects.create(customer=layla, number="AE-100-1")
    Account.objects.create(customer=omar, number="AE-200-1")
    add_history(first, ["100.00", "200.00", "300.00"], start=local(2026, 3, 1))
    return first


def test_check_a_transaction_in_place_then_approve_it_anyway(page, live_server, people, accounts):
    log_in(page, "sam", "pw-sam-123!")
    page.goto("/check/")
    page.get_by_label("Find customer or account").fill("omar")
    page.wait_for_function(
        "() => document.querySelector('#id_account')?.value === 'AE-200-1'", timeout=10_000
    )
    e2e.htmx_settled(page)
    page.get_by_label("Find customer or account").fill("layla")
    page.wait_for_function("() => document.querySelector('#id_account')?.value === 'AE-100-1'")
    e2e.htmx_settled(page)
    page.get_by_label("Amount").fill("15000")
    page.get_by_label("Transfer type").select_option("Q")
    page.get_by_label("Occurred at").fill("2026-03-20T12:00")
    page.locator("#check-submit").click()

    banner = page.locator("#outcome-banner")
    banner.wait_for()
    assert "Sent to review" in banner.inner_text()
    assert "above the quick payment limit" in page.locator("#rule-reasons").inner_text()
    assert page.locator("#behaviour-mean").inner_text().startswith("200.00")
    page.wait_for_url(re.compile(r"/check/result/CHK-"))
    assert page.locator("#check-form").count() == 1  # still there: no page load
    e2e.htmx_settled(page)
    screenshot(page, "workspace check result")

    page.locator("#force-approve-reason").fill("Customer confirmed by phone")
    page.locator("#action-force-approve").click()
    page.locator("#action-log").wait_for()
    e2e.htmx_settled(page)
    assert "Approved anyway" in page.locator("#action-log").inner_text()
    first = Transaction.objects.get(external_id__startswith="CHK-")
    assert first.status == "approved"  # a review case approved by a senior investigator

    # the next check from the same form is a new transaction
    page.get_by_label("Amount").fill("120")
    page.get_by_label("Transfer type").select_option("L")
    page.locator("#check-submit").click()
    page.wait_for_function(
        "() => document.querySelector('#check-result-card')?.dataset.outcome === 'approve'"
    )
    e2e.htmx_settled(page)
    assert Transaction.objects.filter(external_id__startswith="CHK-").count() == 2

    # a validation error lands next to its field
    page.get_by_label("Amount").fill("")
    page.locator("#check-submit").click()
    page.locator("#error-amount").wait_for()


def test_admin_edits_a_limit_inline_and_the_history_follows(page, live_server, people, accounts):
    log_in(page, "ada", "pw-ada-123!")
    page.goto("/settings/")
    page.locator("#edit-amount_limit_Q").click()
    page.locator("#limit-amount-limit-Q-value").fill("750")
    page.locator("#limit-amount-limit-Q-reason").fill("Card testing wave")
    page.locator("#limit-amount_limit_Q-save").click()
    page.wait_for_function(
        "() => document.querySelector('#limit-amount_limit_Q-value')?.textContent.startsWith('750')"
    )
    assert "Card testing wave" in page.locator("#limit-history").inner_text()
    assert RuleLimitChange.objects.get().new_value == 750
    e2e.htmx_settled(page)
    screenshot(page, "workspace settings")

    page.locator("#edit-review_threshold").click()
    page.locator("#limit-review-threshold-value").fill("0.95")
    page.locator("#limit-review-threshold-reason").fill("try")
    page.locator("#limit-review_threshold-save").click()
    page.locator("#limit-review_threshold-value-error").wait_for()
    assert "block threshold" in page.locator("#limit-review_threshold-value-error").inner_text()


def test_dashboard_draws_charts_and_changes_range_in_place(page, live_server, people, accounts):
    bank = Bank(accounts)
    for day in range(1, 11):
        bank.txn(local(2026, 3, day), risk=0.2)
        bank.txn(local(2026, 3, day, 14), risk=0.7, outcome="review", codes=["monthly_cap"])
    log_in(page, "sam", "pw-sam-123!")
    page.goto("/dashboard/")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-daily') !== undefined")
    assert page.locator("#kpi-transactions").inner_text() == "23"
    page.locator("#drift-panel").wait_for()  # loaded after the figures
    screenshot(page, "workspace dashboard")

    page.locator("#range-7d").click()
    page.wait_for_url(re.compile(r"date_from=2026-03-04&date_to=2026-03-10"))
    page.wait_for_function(
        "() => document.querySelector('#kpi-transactions')?.textContent === '14'"
    )
    # the chart is drawn again after the swap: wait until the new one exists
    page.wait_for_function("() => Chart.getChart('chart-daily')?.data.labels.length === 7")
