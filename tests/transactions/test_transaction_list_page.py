"""The transaction list page (/transactions/): roles, filters, keyset pages, CSV export."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from cases.services import case_open_for_score
from detection.models import TransactionScore
from secureflow.core import roles
from tests.workspace.conftest import login
from transactions.models import Account, Counterparty, Customer, Transaction

URL = "/transactions/"
HTMX = {"HTTP_HX_REQUEST": "true"}
DUBAI = ZoneInfo("Asia/Dubai")
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def bank(db):
    layla = Customer.objects.create(external_id="C-100", name="Layla Haddad")
    omar = Customer.objects.create(external_id="C-200", name="Omar Farouk")
    return {
        "layla": Account.objects.create(customer=layla, number="AE-100-1"),
        "omar": Account.objects.create(customer=omar, number="AE-200-1"),
        "shop": Counterparty.objects.create(identifier="MERCHANT-7"),
    }


def add(
    account: Account,
    external_id: str,
    *,
    minutes: int,
    amount: str = "100.00",
    outcome: str | None = "approve",
    risk: float = 0.05,
    counterparty: Counterparty | None = None,
    reasons: list[str] | None = None,
) -> Transaction:
    txn = Transaction.objects.create(
        external_id=external_id,
        account=account,
        counterparty=counterparty,
        amount=Decimal(amount),
        transfer_type="Q",
        country="AE",
        channel="mobile",
        occurred_at=START + timedelta(minutes=minutes),
        status={"approve": "approved", "review": "in_review", "block": "blocked"}.get(
            outcome or "", "received"
        ),
    )
    if outcome is not None:
        score = TransactionScore.objects.create(
            transaction=txn, risk_score=risk, outcome=outcome, reasons=reasons or []
        )
        if outcome != "approve":
            case_open_for_score(score=score)
    return txn


def ids_on(response) -> list[str]:
    return [row.external_id for row in response.context["rows"]]


def cursor_of(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("cursor", [None])[0]


# -- who may see it ------------------------------------------------------------------------
def test_anonymous_users_are_sent_to_sign_in(db):
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_users_without_a_role_are_refused(make_user):
    assert login(make_user("nora", role=None)).get(URL).status_code == 403


@pytest.mark.parametrize("role", [roles.INVESTIGATOR, roles.SENIOR_INVESTIGATOR, roles.ADMIN])
def test_every_role_reads_the_list(make_user, bank, role):
    add(bank["layla"], "T-1", minutes=1)
    response = login(make_user("someone", role)).get(URL)
    assert response.status_code == 200
    assert ids_on(response) == ["T-1"]


def test_the_page_is_linked_from_the_navigation(investigator, bank):
    body = login(investigator).get("/cases/").content.decode()
    assert 'id="nav-transactions"' in body and 'href="/transactions/"' in body


# -- what a row shows -------------------------------------------------------------------------
def test_rows_come_newest_first_with_decision_case_and_links(investigator, bank):
    add(bank["layla"], "T-OLD", minutes=1, amount="1234.5")
    flagged = add(
        bank["layla"], "T-FLAG", minutes=5, outcome="block", risk=0.93, counterparty=bank["shop"]
    )
    add(bank["omar"], "T-NEW", minutes=9, outcome=None)

    response = login(investigator).get(URL)

    assert ids_on(response) == ["T-NEW", "T-FLAG", "T-OLD"]
    rows = {row.external_id: row for row in response.context["rows"]}
    assert rows["T-OLD"].amount == "AED 1,234.50"
    assert rows["T-OLD"].occurred_at == "2026-11-01 12:01:00"  # bank local time (UTC+4)
    assert rows["T-FLAG"].risk == "0.93" and rows["T-FLAG"].outcome_label == "Block"
    assert rows["T-FLAG"].case_url == f"/cases/{flagged.case.pk}/"
    assert rows["T-FLAG"].url == "/check/result/T-FLAG/"
    assert rows["T-NEW"].risk == "" and rows["T-NEW"].case_url == ""
    body = response.content.decode()
    assert "not scored" in body
    assert f'href="/cases/{flagged.case.pk}/"' in body
    assert 'href="/transactions/?counterparty=MERCHANT-7"' in body


def test_a_page_costs_the_same_queries_whatever_its_rows(
    investigator, bank, django_assert_max_num_queries
):
    for n in range(60):
        add(bank["layla"], f"T-{n:03d}", minutes=n, outcome="review" if n % 3 else "approve")
    client = login(investigator)
    client.get(URL)  # the session and the user's groups, read once
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    assert len(response.context["rows"]) == 50


# -- filters (the API's FilterSet) -------------------------------------------------------------
def test_filters_narrow_the_list(investigator, bank):
    add(bank["layla"], "T-1", minutes=1, risk=0.10)
    add(bank["layla"], "T-2", minutes=2, outcome="review", risk=0.71, counterparty=bank["shop"])
    add(bank["omar"], "T-3", minutes=3, outcome="block", risk=0.95, counterparty=bank["shop"])
    add(bank["omar"], "T-4", minutes=240)
    client = login(investigator)

    def listed(**query) -> list[str]:
        response = client.get(URL, query)
        assert response.status_code == 200, response.content
        return ids_on(response)

    assert listed(customer="C-100") == ["T-2", "T-1"]
    assert listed(account="AE-200-1") == ["T-4", "T-3"]
    assert listed(counterparty="MERCHANT-7") == ["T-3", "T-2"]
    assert listed(outcome="review") == ["T-2"]
    assert listed(min_risk="0.5") == ["T-3", "T-2"]
    assert listed(min_risk="0.5", max_risk="0.9") == ["T-2"]
    # a datetime-local box sends bank local time without an offset: 12:02 in Dubai
    assert listed(occurred_after="2026-11-01T12:02") == ["T-4", "T-3", "T-2"]
    assert listed(occurred_before="2026-11-01T12:02:30") == ["T-2", "T-1"]
    # an API client's ISO 8601 time with an offset means the same instant
    assert listed(occurred_after="2026-11-01T08:03:00Z") == ["T-4", "T-3"]
    assert listed(customer="C-999") == []


def test_a_filtered_empty_list_says_so(investigator, bank):
    add(bank["layla"], "T-1", minutes=1)
    body = login(investigator).get(URL, {"customer": "C-999"}).content.decode()
    assert "No transactions match these filters." in body


def test_bad_filter_values_are_named_beside_their_field(investigator, bank):
    add(bank["layla"], "T-1", minutes=1)
    response = login(investigator).get(
        URL, {"min_risk": "high", "occurred_after": "yesterday", "outcome": "maybe"}
    )
    assert response.status_code == 400
    fields = {field.name: field for field in response.context["filter_fields"]}
    assert fields["min_risk"].errors == ["Enter a number."]
    assert fields["occurred_after"].errors == ["Enter a valid date/time."]
    assert "maybe is not one of the available choices" in fields["outcome"].errors[0]
    assert fields["min_risk"].value == "high"  # kept as typed, to be corrected
    body = response.content.decode()
    assert 'id="filter-errors"' in body and "transaction-table" not in body


def test_date_filters_are_shown_in_the_box_as_bank_local_time(investigator, bank):
    response = login(investigator).get(URL, {"occurred_after": "2026-11-01T08:00:00Z"})
    fields = {field.name: field for field in response.context["filter_fields"]}
    assert fields["occurred_after"].kind == "datetime-local"
    assert fields["occurred_after"].label == "Occurred at or after (bank time)"
    assert fields["occurred_after"].value == "2026-11-01T12:00"


def test_narrowing_links_keep_the_other_filters_and_start_from_the_first_page(investigator, bank):
    for n in range(60):
        add(bank["layla"], f"T-{n:03d}", minutes=n, outcome="review", risk=0.7)
    client = login(investigator)
    first = client.get(URL, {"outcome": "review"})
    older = client.get(first.context["next_url"])
    row = older.context["rows"][0]
    query = parse_qs(urlsplit(row.customer_url).query)
    assert query == {"outcome": ["review"], "customer": ["C-100"]}


# -- keyset pages -----------------------------------------------------------------------------
def test_walking_older_then_newer_shows_every_transaction_once(investigator, bank):
    # runs of equal times: pages must break inside a run without losing or repeating a row
    for n in range(123):
        add(bank["layla"], f"T-{n:03d}", minutes=n // 7)
    expected = [txn.external_id for txn in Transaction.objects.order_by("-occurred_at", "-id")]
    client = login(investigator)

    seen, pages, url = [], [], URL
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(ids_on(response))
        seen += ids_on(response)
        url = response.context["next_url"]
    assert seen == expected
    assert [len(p) for p in pages] == [50, 50, 23]
    assert "page-older" not in response.content.decode()

    back = [ids_on(response)]
    url = response.context["previous_url"]
    while url:
        response = client.get(url)
        back.append(ids_on(response))
        url = response.context["previous_url"]
    assert back == pages[::-1]
    assert response.context["first_page"]
    assert "page-newer" not in response.content.decode()


def test_page_links_keep_the_filters(investigator, bank):
    for n in range(55):
        add(bank["omar"], f"T-{n:03d}", minutes=n, risk=0.6, outcome="review")
    add(bank["layla"], "T-LAYLA", minutes=30, risk=0.6, outcome="review")
    client = login(investigator)
    first = client.get(URL, {"account": "AE-200-1"})
    second = client.get(first.context["next_url"])
    assert len(ids_on(second)) == 5 and "T-LAYLA" not in ids_on(second)
    assert parse_qs(urlsplit(second.context["previous_url"]).query)["account"] == ["AE-200-1"]


def test_a_tampered_page_link_shows_the_newest_page_with_a_notice(investigator, bank):
    add(bank["layla"], "T-1", minutes=1)
    response = login(investigator).get(URL, {"cursor": "not-a-cursor"})
    assert response.status_code == 200
    assert ids_on(response) == ["T-1"]
    assert "This page link is not valid" in response.content.decode()


# -- HTMX ---------------------------------------------------------------------------------------
def test_an_htmx_request_gets_the_results_and_the_filter_form_out_of_band(investigator, bank):
    add(bank["layla"], "T-1", minutes=1)
    body = login(investigator).get(URL, {"customer": "C-100"}, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="transaction-results"')
    assert 'id="transaction-filters"' in body and 'hx-swap-oob="true"' in body
    assert "<html" not in body


def test_an_htmx_request_with_a_bad_filter_shows_the_errors(investigator, bank):
    response = login(investigator).get(URL, {"max_risk": "x"}, **HTMX)
    assert response.status_code == 400  # swapped in: the page's htmx config allows 400
    body = response.content.decode()
    assert "Enter a number." in body and 'id="filter-errors"' in body


# -- CSV export ---------------------------------------------------------------------------------
def read_csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="transactions-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_holds_the_filtered_rows_with_decisions(investigator, bank):
    add(bank["layla"], "T-1", minutes=1)
    flagged = add(
        bank["layla"],
        "T-2",
        minutes=2,
        outcome="block",
        risk=0.93,
        counterparty=bank["shop"],
        reasons=["Amount above the limit", "New country"],
    )
    add(bank["omar"], "T-3", minutes=3)

    rows = read_csv(login(investigator).get(URL, {"customer": "C-100", "format": "csv"}))

    assert [row["id"] for row in rows] == ["T-2", "T-1"]
    assert rows[0] == {
        "id": "T-2",
        "timestamp": "2026-11-01T08:02:00+00:00",
        "customer": "C-100",
        "account": "AE-100-1",
        "counterparty": "MERCHANT-7",
        "amount": "100.00",
        "currency": "AED",
        "transfer_type": "Q",
        "channel": "mobile",
        "country": "AE",
        "risk_score": "0.930000",
        "outcome": "block",
        "reasons": "Amount above the limit | New country",
        "status": "blocked",
        "case": str(flagged.case.pk),
    }
    assert rows[1]["case"] == "" and rows[1]["counterparty"] == ""


def test_export_cells_a_spreadsheet_would_run_are_written_as_text(investigator, bank):
    add(bank["layla"], "=HYPERLINK(1)", minutes=1, outcome=None)
    rows = read_csv(login(investigator).get(URL, {"format": "csv"}))
    assert rows[0]["id"] == "'=HYPERLINK(1)"
    assert rows[0]["risk_score"] == "" and rows[0]["outcome"] == ""


def test_the_export_stops_at_its_row_limit_newest_first(investigator, bank, monkeypatch):
    monkeypatch.setattr("transactions.views.transaction_list.EXPORT_MAX_ROWS", 3)
    for n in range(5):
        add(bank["layla"], f"T-{n}", minutes=n)
    rows = read_csv(login(investigator).get(URL, {"format": "csv"}))
    assert [row["id"] for row in rows] == ["T-4", "T-3", "T-2"]


def test_the_export_link_carries_the_filters_not_the_page(investigator, bank):
    for n in range(55):
        add(bank["layla"], f"T-{n:03d}", minutes=n)
    client = login(investigator)
    second = client.get(client.get(URL, {"account": "AE-100-1"}).context["next_url"])
    query = parse_qs(urlsplit(second.context["export_url"]).query)
    assert query == {"account": ["AE-100-1"], "format": ["csv"]}


def test_an_export_with_bad_filters_is_the_page_with_its_errors(investigator, bank):
    response = login(investigator).get(URL, {"format": "csv", "min_risk": "x"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
