"""Check a transaction: form, decision in place (HTMX) or on the result page, actions."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cases.models import Case, FeedbackLabel
from detection.models import RuleLimit, TransactionScore
from detection.services import rule_limit_update
from secureflow.workspace.models import CheckAction
from tests.workspace.conftest import HTMX, add_history, local, login
from transactions.models import Transaction

URL = "/check/"


def form_data(owner, **overrides) -> dict:
    data = {
        "submission_id": "CHK-TEST-1",
        "account": owner.number,
        "amount": "15000.00",
        "transfer_type": "Q",
        "country": "ae",
        "counterparty": "BEN-77",
        "counterparty_country": "",
        "channel": "mobile",
        "occurred_at": "2026-03-20T12:00",
    }
    data.update(overrides)
    return data


@pytest.fixture
def history(account):
    add_history(account, ["400.00"], start=local(2026, 2, 15))
    add_history(account, ["100.00", "200.00", "300.00"], start=local(2026, 3, 1))
    return account


def test_urls_are_where_the_product_says():
    assert reverse("workspace:check") == URL
    assert reverse("workspace:settings") == "/settings/"
    assert reverse("workspace:dashboard") == "/dashboard/"


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    response = client.post(URL, {})
    assert response.status_code == 302
    assert Transaction.objects.count() == 0


def test_user_without_role_is_refused(nobody, account):
    client = login(nobody)
    assert client.get(URL).status_code == 403
    assert client.post(URL, form_data(account)).status_code == 403
    assert Transaction.objects.count() == 0


def test_form_page_has_the_fields_and_a_fresh_submission_id(investigator, account):
    response = login(investigator).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for element_id in (
        "check-form",
        "account-search",
        "id_account",
        "id_amount",
        "id_transfer_type",
        "id_country",
        "id_counterparty",
        "id_occurred_at",
        "check-submit",
    ):
        assert f'id="{element_id}"' in html, element_id
    assert "O — Own-account transfer" in html and "S — Overseas transfer" in html
    first = re.search(r'id="id_submission_id" value="([^"]+)"', html).group(1)
    again = login(investigator).get(URL).content.decode()
    assert first != re.search(r'id="id_submission_id" value="([^"]+)"', again).group(1)


def test_full_post_stores_scores_opens_case_and_shows_result_page(investigator, history):
    client = login(investigator)
    response = client.post(URL, form_data(history))

    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:check-result", args=["CHK-TEST-1"])
    txn = Transaction.objects.select_related("account__customer", "counterparty").get(
        external_id="CHK-TEST-1"
    )
    assert txn.amount == Decimal("15000.00")
    assert txn.transfer_type == "Q"
    assert txn.country == "AE"
    assert txn.counterparty.identifier == "BEN-77"
    assert txn.account == history
    assert txn.occurred_at == local(2026, 3, 20)
    score = TransactionScore.objects.get(transaction=txn)
    assert score.outcome == "review"
    assert [hit["code"] for hit in score.rule_hits] == ["amount_limit_Q"]
    assert txn.status == "in_review"
    case = Case.objects.get(transaction=txn)

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="outcome-banner outcome-review"' in html
    assert "Sent to review" in html
    assert "Amount AED 15,000 is above the quick payment limit of AED 10,000" in html
    assert f'href="{reverse("cases:detail", args=[case.pk])}"' in html
    assert 'id="risk-gauge"' in html
    # the account's normal behaviour before the check: 400, 100, 200, 300
    assert re.search(r'id="behaviour-mean">250\.00 AED', html)
    assert re.search(r'id="behaviour-max">400\.00 AED', html)
    assert re.search(r'id="behaviour-std">129\.10 AED', html)
    assert re.search(r'id="behaviour-mtd">600\.00 AED', html)
    assert "(3 transfers)" in html
    # 4 transactions over the 33 days since the first one
    assert re.search(r'id="behaviour-per-day">0\.12<', html)


def test_htmx_post_returns_the_result_in_place(investigator, history):
    response = login(investigator).post(URL, form_data(history), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="check-result-card"' in html
    assert 'data-outcome="review"' in html
    assert "above the quick payment limit" in html
    assert response["HX-Push-Url"] == reverse("workspace:check-result", args=["CHK-TEST-1"])
    # the form gets a new submission id for the next check
    oob = re.search(r'<input[^>]*id="id_submission_id"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in oob
    assert 'value="CHK-TEST-1"' not in oob
    assert Transaction.objects.filter(external_id="CHK-TEST-1").count() == 1


def test_same_form_submitted_twice_is_stored_once(investigator, history):
    client = login(investigator)
    first = client.post(URL, form_data(history), **HTMX)
    second = client.post(URL, form_data(history), **HTMX)
    assert first.status_code == second.status_code == 200
    assert Transaction.objects.filter(external_id="CHK-TEST-1").count() == 1
    assert TransactionScore.objects.filter(transaction__external_id="CHK-TEST-1").count() == 1
    assert Case.objects.filter(transaction__external_id="CHK-TEST-1").count() == 1


def test_same_form_id_with_other_values_asks_to_submit_again(investigator, history):
    client = login(investigator)
    client.post(URL, form_data(history))
    response = client.post(URL, form_data(history, amount="20.00"), **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "already submitted with other values" in html
    assert 'value="CHK-TEST-1"' not in html
    assert Transaction.objects.count() == 5


def test_approved_transaction_has_no_reasons_to_show(investigator, history):
    response = login(investigator).post(
        URL, form_data(history, amount="150.00", transfer_type="L"), follow=True
    )
    html = response.content.decode()
    assert 'class="outcome-banner outcome-approve"' in html
    assert 'id="no-reasons"' in html
    assert 'id="action-confirm"' in html
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": ""}, "amount", "This field is required."),
        ({"amount": "-5"}, "amount", "greater than or equal to 0.01"),
        ({"country": "UAE"}, "country", "at most 2 characters"),
        ({"country": "1A"}, "country", "two-letter country code"),
        ({"transfer_type": "X"}, "transfer_type", "Select a valid choice"),
        ({"account": "NOPE-1"}, "account", "There is no account NOPE-1."),
        ({"account": ""}, "account", "Choose the account the money leaves from."),
        ({"occurred_at": "2999-01-01T10:00"}, "occurred_at", "cannot lie in the future"),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time."),
    ],
)
def test_validation_errors_are_shown_next_to_the_field(
    investigator, history, overrides, field, message
):
    client = login(investigator)
    full = client.post(URL, form_data(history, **overrides))
    assert full.status_code == 422
    html = full.content.decode()
    errors = re.findall(rf'<p class="error" id="error-{field}">([^<]*)</p>', html)
    assert any(message in e.replace("&#x27;", "'") for e in errors), errors
    assert "<html" in html

    partial = client.post(URL, form_data(history, **overrides), **HTMX)
    assert partial.status_code == 422
    assert partial["HX-Retarget"] == "#check-form"
    assert partial["HX-Reswap"] == "outerHTML"
    assert f'id="error-{field}"' in partial.content.decode()
    assert not Transaction.objects.filter(external_id="CHK-TEST-1").exists()


def test_account_search_narrows_the_select(investigator, account, other_account):
    client = login(investigator)
    response = client.get("/check/accounts/", {"q": "omar"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="AE-200-1" selected' in html
    assert "AE-100-1" not in html
    assert "1 match for" in html
    by_number = client.get("/check/accounts/", {"q": "ae-100"}, **HTMX).content.decode()
    assert "Layla Haddad" in by_number and "AE-200-1" not in by_number
    # without JavaScript the search is a GET of the page itself
    page = client.get(URL, {"q": "omar"}).content.decode()
    assert 'value="AE-200-1" selected' in page and "AE-100-1" not in page
    assert client.get("/check/accounts/", {"q": "omar"}).status_code == 302


def test_counterparty_suggestions(investigator, history):
    client = login(investigator)
    client.post(URL, form_data(history))
    html = client.get("/check/counterparties/", {"counterparty": "ben"}, **HTMX).content.decode()
    assert '<option value="BEN-77">' in html


# -- actions -------------------------------------------------------------------------
def action_url(external_id: str = "CHK-TEST-1") -> str:
    return reverse("workspace:check-action", args=[external_id])


def submit(user, owner, **overrides):
    login(user).post(URL, form_data(owner, **overrides))
    return Transaction.objects.get(external_id=overrides.get("submission_id", "CHK-TEST-1"))


def test_plain_investigator_cannot_force_approve(investigator, history):
    txn = submit(investigator, history)
    client = login(investigator)
    page = client.get(reverse("workspace:check-result", args=[txn.external_id]))
    assert 'id="force-approve-unavailable"' in page.content.decode()
    assert 'id="action-force-approve"' not in page.content.decode()

    data = {"kind": "force_approve", "reason": "Customer phoned"}
    assert client.post(action_url(), data).status_code == 403
    refused = client.post(action_url(), data, **HTMX)
    assert refused.status_code == 403
    assert "needs a senior investigator or an admin" in refused.content.decode()
    txn.refresh_from_db()
    assert txn.status == "in_review"
    assert not CheckAction.objects.exists()
    assert Case.objects.get(transaction=txn).status == "open"


def test_senior_force_approves_a_blocked_transaction_with_a_reason(
    investigator, senior, admin_user_sf, history
):
    limit = RuleLimit.objects.get(code="amount_limit_Q")
    rule_limit_update(
        limit=limit, value=limit.value, enabled=True, severity="block", changed_by=admin_user_sf
    )
    from detection.rules.cache import invalidate_rule_set

    invalidate_rule_set()
    txn = submit(investigator, history)
    assert txn.status == "blocked"
    client = login(senior)

    no_reason = client.post(action_url(), {"kind": "force_approve", "reason": " "}, **HTMX)
    assert no_reason.status_code == 422
    assert re.search(r'id="error-reason">[^<]*needs a reason', no_reason.content.decode())

    response = client.post(
        action_url(), {"kind": "force_approve", "reason": "Customer confirmed by phone"}, **HTMX
    )
    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert 'id="action-log"' in html and "Customer confirmed by phone" in html
    txn.refresh_from_db()
    assert txn.status == "force_approved"
    record = CheckAction.objects.get(transaction=txn)
    assert (record.kind, record.actor, record.status_before, record.status_after) == (
        "force_approve",
        senior,
        "blocked",
        "force_approved",
    )
    case = Case.objects.get(transaction=txn)
    assert record.case_id == case.pk
    assert (case.status, case.resolution) == ("closed", "legitimate")
    assert case.events.filter(kind="approved", actor=senior).exists()
    label = FeedbackLabel.objects.get(transaction=txn)
    assert label.is_fraud is False

    # one decision per transaction
    again = client.post(action_url(), {"kind": "reject"}, **HTMX)
    assert again.status_code == 422
    assert "Already decided" in again.content.decode()


def test_reject_is_recorded_with_status_label_and_audit(investigator, history):
    txn = submit(investigator, history, amount="150.00", transfer_type="L")
    assert txn.status == "approved"
    response = login(investigator).post(action_url(), {"kind": "reject", "reason": "Not me"})
    assert response.status_code == 302
    txn.refresh_from_db()
    assert txn.status == "rejected"
    record = CheckAction.objects.get(transaction=txn)
    assert (record.kind, record.reason, record.status_after) == ("reject", "Not me", "rejected")
    assert record.case_id is None
    assert FeedbackLabel.objects.get(transaction=txn).is_fraud is True
    page = login(investigator).get(response["Location"]).content.decode()
    assert "<strong>Rejected</strong> by ivy" in page


def test_confirm_keeps_an_approved_transaction_approved(investigator, history):
    txn = submit(investigator, history, amount="150.00", transfer_type="L")
    response = login(investigator).post(action_url(), {"kind": "confirm"}, **HTMX)
    assert response.status_code == 200
    txn.refresh_from_db()
    assert txn.status == "approved"
    assert CheckAction.objects.get(transaction=txn).kind == "confirm"
    assert not FeedbackLabel.objects.filter(transaction=txn).exists()


def test_confirm_is_refused_for_a_flagged_transaction(investigator, history):
    txn = submit(investigator, history)
    response = login(investigator).post(action_url(), {"kind": "confirm"}, **HTMX)
    assert response.status_code == 422
    assert "Only an approved transaction can be confirmed" in response.content.decode()
    txn.refresh_from_db()
    assert txn.status == "in_review"


def test_reject_of_a_flagged_transaction_closes_its_case(investigator, history):
    txn = submit(investigator, history)
    response = login(investigator).post(action_url(), {"kind": "reject"}, **HTMX)
    assert response.status_code == 200
    txn.refresh_from_db()
    assert txn.status == "rejected"
    case = Case.objects.get(transaction=txn)
    assert (case.status, case.resolution) == ("closed", "fraud")


@pytest.mark.parametrize("kind", ["reject", "force_approve"])
def test_a_closed_case_is_not_overturned_from_the_check_page(
    investigator, senior, make_user, history, kind
):
    """A case closed as legitimate stays so: changing its decision means reopening the case
    (senior investigators and admins), recorded as a case event."""
    from cases.services import case_decide

    txn = submit(investigator, history)
    case = Case.objects.get(transaction=txn)
    case_decide(
        case=case, actor=senior, action="approve", note="Known payee", expected_version=None
    )
    case.refresh_from_db()
    txn.refresh_from_db()
    assert (case.status, case.resolution, txn.status) == ("closed", "legitimate", "approved")
    actor = senior if kind == "force_approve" else make_user("junior")

    response = login(actor).post(action_url(), {"kind": kind, "reason": "Looks odd"}, **HTMX)

    assert response.status_code == 422
    assert f"Case {case.pk} on this transaction is closed" in response.content.decode()
    txn.refresh_from_db()
    case.refresh_from_db()
    assert (case.status, case.resolution, txn.status) == ("closed", "legitimate", "approved")
    assert list(
        FeedbackLabel.objects.filter(transaction=txn).values_list("is_fraud", flat=True)
    ) == [False]
    assert not CheckAction.objects.filter(transaction=txn).exists()
    page = login(actor).get(reverse("workspace:check-result", args=[txn.external_id]))
    html = page.content.decode()
    assert 'id="action-reject"' not in html
    assert f"case #{case.pk}</a> is closed: reopen the case" in html


def test_unknown_transaction_is_404(investigator, db):
    client = login(investigator)
    assert client.get(reverse("workspace:check-result", args=["NOPE"])).status_code == 404
    assert client.post(action_url("NOPE"), {"kind": "reject"}).status_code == 404
