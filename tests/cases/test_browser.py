"""The case pages in real Chromium: keyboard shortcuts, HTMX swaps, the conflict message,
the customer's chart."""

import re

import pytest

from cases.models import Case
from cases.services import case_note_add
from tests.e2e.conftest import htmx_settled, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_work_a_case_with_the_keyboard(page, live_server, make_case, investigator, colleague):  # noqa: F811
    low = make_case(outcome="review", risk=0.4, amount="200.00")
    top = make_case(outcome="review", risk=0.9, amount="9000.00", rules=("velocity_10m",))
    blocked = make_case(outcome="block", risk=0.99, amount="30.00", rules=("velocity_30s",))

    log_in(page, "ivy", "pw-ivy-123!")
    page.goto("/cases/")
    assert page.locator("tr.case-row").count() == 3
    screenshot(page, "cases-queue")

    # Filters swap the table in place and keep the address bar in step.
    page.evaluate("window.__sameDocument = true")
    page.select_option("#id_outcome", "block")
    page.wait_for_url(re.compile(r"outcome=block"))
    page.wait_for_function("() => document.querySelectorAll('tr.case-row').length === 1")
    htmx_settled(page)  # the filter form swapped in answers events once htmx has processed it
    assert page.evaluate("window.__sameDocument") is True
    page.select_option("#id_outcome", "")
    page.wait_for_function("() => document.querySelectorAll('tr.case-row').length === 3")
    htmx_settled(page)

    # j selects the first row (highest priority), o opens it.
    page.keyboard.press("j")
    assert "selected" in (page.locator("tr.case-row").first.get_attribute("class") or "")
    page.keyboard.press("o")
    page.wait_for_url(f"**/cases/{top.pk}/")
    page.wait_for_function(
        "() => { const c = document.getElementById('case-history-chart');"
        " return window.Chart && c && window.Chart.getChart(c) !== undefined; }"
    )

    # n focuses the note; e escalates; the panel is swapped without leaving the page.
    page.evaluate("window.__sameDocument = true")
    page.keyboard.press("n")
    page.keyboard.type("Payee looks like a mule account")
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    page.get_by_text("Escalated to the senior investigators.").wait_for()
    htmx_settled(page)
    assert page.evaluate("window.__sameDocument") is True
    assert "Payee looks like a mule account" in page.locator("#case-panel").inner_text()
    assert Case.objects.get(pk=top.pk).status == "escalated"
    screenshot(page, "cases-detail-escalated")

    # A colleague writes on another case while this investigator has it open.
    page.goto(f"/cases/{low.pk}/")
    case_note_add(case=low, actor=colleague, note="Customer called: it was them")
    page.keyboard.press("r")
    conflict = page.locator(".conflict")
    conflict.wait_for()
    htmx_settled(page)
    assert conflict.inner_text() == (
        "This case changed since you opened it (by bob: note). Review and try again."
    )
    assert "Customer called: it was them" in page.locator("#case-panel").inner_text()
    assert Case.objects.get(pk=low.pk).status == "open"
    screenshot(page, "cases-detail-conflict")
    # Reviewed: now the decision goes through.
    page.keyboard.press("a")
    page.get_by_text("Approved: the transaction is legitimate.").wait_for()
    assert Case.objects.get(pk=low.pk).resolution == "legitimate"

    # An investigator cannot force approve: the button is disabled and "a" does nothing.
    page.goto(f"/cases/{blocked.pk}/")
    assert page.locator('button[value="approve"]').is_disabled()
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert Case.objects.get(pk=blocked.pk).status == "open"

    # Bulk from the queue: x selects rows, Assign swaps the table with the result.
    extra = make_case(outcome="review", risk=0.3, amount="100.00")
    page.goto("/cases/?status=open")
    page.evaluate("window.__sameDocument = true")
    for _ in range(2):
        page.keyboard.press("j")
        page.keyboard.press("x")
    page.select_option("#bulk-form select[name=assignee]", label="bob")
    page.click("#bulk-form button[value=assign]")
    page.get_by_text(re.compile(r"Assigned to bob 2 case\(s\)")).wait_for()
    assert page.evaluate("window.__sameDocument") is True
    assigned = set(Case.objects.filter(assignee=colleague).values_list("pk", flat=True))
    assert assigned == {blocked.pk, extra.pk}
