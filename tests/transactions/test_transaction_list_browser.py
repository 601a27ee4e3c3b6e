"""The transaction list in real Chromium: filters swap the table in place, pages walk
older and newer, a customer link narrows the list, a row opens its decision."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cases.services import case_open_for_score
from detection.models import TransactionScore
from secureflow.core import roles
from tests.e2e import conftest as e2e
from transactions.models import Account, Counterparty, Customer, Transaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def bank(transactional_db):
    layla = Account.objects.create(
        customer=Customer.objects.create(external_id="C-100", name="Layla Haddad"),
        number="AE899906667600000000047100",
    )
    omar = Account.objects.create(
        customer=Customer.objects.create(external_id="C-200", name="Omar Farouk"),
        number="AE939906667600000000654200",
    )
    # a bank's real identifiers are long: the table must not widen the page
    payee = Counterparty.objects.create(identifier="NG0703366676300000001999876543210")
    for n in range(70):
        account = layla if n % 2 else omar
        flagged = n % 5 == 0
        txn = Transaction.objects.create(
            external_id=f"T-{n:03d}",
            account=account,
            counterparty=payee,
            amount=Decimal("250.00") + n,
            transfer_type="L",
            country="AE",
            channel="web",
            occurred_at=START + timedelta(minutes=n),
            status="in_review" if flagged else "approved",
        )
        score = TransactionScore.objects.create(
            transaction=txn,
            risk_score=0.8 if flagged else 0.1,
            outcome="review" if flagged else "approve",
            reasons=["Amount above the usual"] if flagged else [],
        )
        if flagged:
            case_open_for_score(score=score)


def row_ids(page) -> list[str]:
    return page.locator("#transaction-table tbody tr.txn-row td.txn-id a").all_inner_texts()


def test_an_investigator_filters_pages_and_opens_a_transaction(page, make_user, bank):
    make_user("ivy", roles.INVESTIGATOR)
    e2e.log_in(page, "ivy", "pw-ivy-123!")
    page.locator("#nav-transactions").click()
    page.wait_for_url(re.compile(r"/transactions/$"))
    assert row_ids(page)[:2] == ["T-069", "T-068"]
    assert len(row_ids(page)) == 50
    # on a laptop screen the table scrolls inside its box; the page itself does not
    page.set_viewport_size({"width": 1024, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1360, "height": 900})

    # older, then newer: the table is swapped in place and the address follows
    page.locator("#page-older").click()
    page.wait_for_url(re.compile(r"cursor="))
    page.wait_for_function("() => !document.querySelector('#page-older')")
    e2e.htmx_settled(page)
    assert row_ids(page)[0] == "T-019" and len(row_ids(page)) == 20
    page.locator("#page-newer").click()
    page.wait_for_function(
        "() => document.querySelector('#transaction-table td.txn-id a')?.textContent === 'T-069'"
    )
    e2e.htmx_settled(page)

    # a filter from the form: only the flagged ones
    page.get_by_label("Outcome").select_option("review")
    page.wait_for_url(re.compile(r"outcome=review"))
    page.wait_for_function("() => document.querySelectorAll('tr.txn-row').length === 14")
    e2e.htmx_settled(page)
    assert row_ids(page) == [f"T-{n:03d}" for n in range(65, -1, -5)]
    assert page.locator("#transaction-filters").count() == 1
    e2e.screenshot(page, "transaction list flagged")

    # a customer's link narrows further, keeping the outcome filter
    page.locator("tr.txn-row", has_text="T-050").get_by_role("link", name="C-200").click()
    page.wait_for_url(re.compile(r"customer=C-200"))
    page.wait_for_function("() => document.querySelectorAll('tr.txn-row').length === 7")
    e2e.htmx_settled(page)
    assert page.get_by_label("Customer id").input_value() == "C-200"

    # a bad value is named beside its field, and clearing it brings the table back
    when = page.get_by_label("Occurred at or after (bank time)")
    when.fill("1960-01-01T10:00")
    when.dispatch_event("change")
    page.locator("#filter-errors").wait_for()
    e2e.htmx_settled(page)
    assert "Use a date/time between 1970-01-02 and 2199-12-31" in page.inner_text(
        "#transaction-filters"
    )
    page.get_by_label("Occurred at or after (bank time)").fill("")
    page.get_by_label("Occurred at or after (bank time)").dispatch_event("change")
    page.wait_for_function("() => document.querySelectorAll('tr.txn-row').length === 7")

    # a row opens its decision page; its case link opens the case
    page.get_by_role("link", name="T-040").click()
    page.wait_for_url(re.compile(r"/check/result/T-040/$"))
    page.locator("#outcome-banner").wait_for()
    page.go_back()
    page.locator("tr.txn-row", has_text="T-040").get_by_role(
        "link", name=re.compile("Case")
    ).click()
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
