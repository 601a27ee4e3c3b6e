"""The case queue and case page through the Django test client: roles, HTMX partials,
actions without JavaScript, conflicts, filters and query counts."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.choices import CaseResolution, CaseStatus
from cases.models import Case, FeedbackLabel
from cases.services import case_assign, case_decide, case_note_add
from transactions.choices import BatchSource
from transactions.models import Account, Counterparty, Customer, ImportBatch, Transaction

pytestmark = pytest.mark.django_db
QUEUE = reverse("cases:queue")
HTMX = {"HTTP_HX_REQUEST": "true"}


def detail_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


def action_url(case: Case) -> str:
    return reverse("cases:action", args=[case.pk])


@pytest.fixture
def ivy_client(client, investigator):
    client.force_login(investigator)
    return client


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queries_of(client: Client, url: str, params: dict | None = None) -> list[str]:
    """The SQL of one request (read before the next request clears the query log)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
        assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def case_ids_in(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'name="cases" value="(\d+):\d+"', html)]


# -- access ----
def test_anonymous_is_sent_to_login(client, make_case):
    case = make_case()
    for url in (QUEUE, detail_url(case)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    response = client.post(action_url(case), {"action": "reject", "version": 1})
    assert response.status_code == 302
    assert Case.objects.get().status == CaseStatus.OPEN


def test_user_without_a_role_gets_403(make_user, make_case):
    case = make_case()
    client = logged_in(make_user("olga", role=None))

    assert client.get(QUEUE).status_code == 403
    assert client.get(detail_url(case)).status_code == 403
    assert client.post(action_url(case), {"action": "reject", "version": 1}).status_code == 403
    assert client.post(reverse("cases:claim-next")).status_code == 403
    assert Case.objects.get().status == CaseStatus.OPEN


def test_csrf_is_enforced(investigator, make_case):
    case = make_case()
    client = Client(enforce_csrf_checks=True)
    client.force_login(investigator)

    response = client.post(action_url(case), {"action": "reject", "version": 1})

    assert response.status_code == 403
    assert Case.objects.get().status == CaseStatus.OPEN


# -- queue ----
def test_queue_full_page_and_htmx_partial(ivy_client, make_case):
    make_case()

    full = ivy_client.get(QUEUE)
    partial = ivy_client.get(QUEUE, **HTMX)
    boosted = ivy_client.get(QUEUE, HTTP_HX_BOOSTED="true", **HTMX)

    assert full.status_code == partial.status_code == boosted.status_code == 200
    full_html = full.content.decode()
    assert "<html" in full_html and 'id="queue-filters"' in full_html
    assert "vendor/htmx" in full_html and "secureflow/cases.js" in full_html
    assert "Claim next" in full_html and "<kbd>j</kbd>" in full_html
    partial_html = partial.content.decode()
    assert "<html" not in partial_html
    assert 'id="queue-results"' in partial_html
    assert 'hx-swap-oob="true"' in partial_html  # filters and tabs stay in step
    assert "<html" in boosted.content.decode()


def test_queue_default_shows_active_cases_by_priority(ivy_client, make_case, investigator):
    low = make_case(risk=0.5, amount="100.00")
    high = make_case(risk=0.9, amount="9000.00")
    closed = make_case(risk=0.99, amount="99999.00")
    case_decide(case=closed, actor=investigator, action="reject", expected_version=1)

    html = ivy_client.get(QUEUE).content.decode()

    assert case_ids_in(html) == [high.pk, low.pk]
    all_statuses = ivy_client.get(QUEUE, {"status": ""}).content.decode()
    assert case_ids_in(all_statuses) == [closed.pk, high.pk, low.pk]


def test_queue_filters_and_sorting(ivy_client, make_case, investigator, colleague):
    velocity = make_case(outcome="block", risk=0.95, amount="50.00", rules=("velocity_30s",))
    big = make_case(outcome="review", risk=0.6, amount="40000.00", rules=("amount_limit_L",))
    mine = make_case(outcome="review", risk=0.3, amount="700.00", rules=())
    case_assign(case=mine, actor=investigator, assignee=investigator, expected_version=1)
    theirs = make_case(outcome="review", risk=0.4, amount="800.00")
    case_assign(case=theirs, actor=colleague, assignee=colleague, expected_version=1)

    def ids(**params) -> list[int]:
        response = ivy_client.get(QUEUE, params)
        assert response.status_code == 200
        return case_ids_in(response.content.decode())

    assert ids(rule="velocity_30s") == [velocity.pk]
    assert ids(outcome="block") == [velocity.pk]
    assert ids(min_risk="0.5") == [big.pk, velocity.pk]
    assert ids(min_amount="500", max_amount="1000") == [theirs.pk, mine.pk]
    assert ids(assignee="me") == [mine.pk]
    assert ids(assignee="unassigned") == [big.pk, velocity.pk]
    assert ids(assignee="bob") == [theirs.pk]
    assert ids(status="in_progress") == [theirs.pk, mine.pk]
    assert ids(sort="-amount") == [big.pk, theirs.pk, mine.pk, velocity.pk]
    assert ids(sort="amount") == [velocity.pk, mine.pk, theirs.pk, big.pk]
    assert ids(sort="-risk")[0] == velocity.pk
    assert ids(sort="sla")[0] == velocity.pk  # block: the shorter SLA
    assert ids(age="1h") == ids()
    assert ids(age="older_24h") == []


def test_queue_bad_filter_value_is_reported(ivy_client, make_case):
    make_case()
    response = ivy_client.get(QUEUE, {"min_risk": "lots", "rule": "nope"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter a number." in html
    assert "Select a valid choice" in html


def test_overdue_cases_are_highlighted(ivy_client, make_case):
    case = make_case()
    Case.objects.filter(pk=case.pk).update(sla_due_at=timezone.now() - timedelta(hours=2))
    fresh = make_case()

    html = ivy_client.get(QUEUE).content.decode()
    rows = {
        int(pk): row
        for row, pk in re.findall(r'(<tr class="case-row[^"]*" data-href="/cases/(\d+)/")', html)
    }
    assert "overdue" in rows[case.pk]
    assert "overdue" not in rows[fresh.pk]
    assert ivy_client.get(QUEUE, {"overdue": "true"}).content.decode().count("case-row") == 1


def test_queue_paginates(ivy_client, make_case):
    for _ in range(55):
        make_case()
    first = ivy_client.get(QUEUE).content.decode()
    second = ivy_client.get(QUEUE, {"page": 2}).content.decode()
    assert len(case_ids_in(first)) == 50
    assert len(case_ids_in(second)) == 5
    assert "Page 1 of 2" in first and "55 cases" in first


def test_queue_query_count_does_not_grow_with_cases(ivy_client, make_score, colleague):
    """100 cases, with customers, counterparties and assignees: the same number of queries
    as 10 cases."""

    def make(n: int, start: int) -> None:
        for i in range(start, start + n):
            customer = Customer.objects.create(external_id=f"QC-{i}", name=f"Customer {i}")
            account = Account.objects.create(customer=customer, number=f"QA-{i}")
            payee = Counterparty.objects.create(identifier=f"QP-{i}", country="AE")
            from cases.services import case_open_for_score

            case = case_open_for_score(
                score=make_score(account=account, counterparty=payee, risk=0.5 + i / 1000)
            )
            if i % 2:
                case_assign(case=case, actor=colleague, assignee=colleague, expected_version=1)

    make(10, 0)
    ivy_client.get(QUEUE)  # warm the session
    ten = queries_of(ivy_client, QUEUE)
    make(90, 10)
    hundred = queries_of(ivy_client, QUEUE)
    by_amount = queries_of(ivy_client, QUEUE, {"status": "", "sort": "-amount", "rule": ""})
    assert len(case_ids_in(ivy_client.get(QUEUE).content.decode())) == 50

    assert len(hundred) == len(ten) == len(by_amount), hundred
    # session, user, roles, tab counts, investigators, page count, page, row details,
    # assignees: nine, and never one per row.
    assert 6 <= len(hundred) <= 10


def test_claim_next_redirects_to_the_case(ivy_client, make_case, investigator):
    top = make_case(risk=0.9, amount="5000.00")
    make_case(risk=0.1, amount="10.00")

    response = ivy_client.post(reverse("cases:claim-next"))

    assert response.status_code == 302
    assert response["Location"] == detail_url(top)
    assert Case.objects.get(pk=top.pk).assignee == investigator


def test_claim_next_with_nothing_left(ivy_client):
    response = ivy_client.post(reverse("cases:claim-next"), follow=True)
    assert "no unassigned case" in response.content.decode()


def test_bulk_assign_and_close_without_javascript(ivy_client, make_case, colleague):
    a, b, c = make_case(), make_case(), make_case()
    next_url = f"{QUEUE}?status=active"

    response = ivy_client.post(
        reverse("cases:bulk"),
        {
            "action": "assign",
            "cases": [f"{a.pk}:1", f"{b.pk}:1"],
            "assignee": colleague.pk,
            "next": next_url,
        },
    )
    assert response.status_code == 302 and response["Location"] == next_url
    assert Case.objects.get(pk=a.pk).assignee == colleague
    assert Case.objects.get(pk=c.pk).assignee is None

    response = ivy_client.post(
        reverse("cases:bulk"),
        {
            "action": "close",
            "cases": [f"{a.pk}:2", f"{c.pk}:1"],
            "resolution": "fraud",
            "note": "Same mule ring",
            "next": "https://evil.example/",
        },
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == QUEUE  # no open redirect
    assert "Closed 2 case(s)" in html
    assert set(Case.objects.filter(status=CaseStatus.CLOSED).values_list("pk", flat=True)) == {
        a.pk,
        c.pk,
    }
    assert FeedbackLabel.objects.filter(is_fraud=True).count() == 2


def test_bulk_close_needs_a_note_and_reports_stale_rows_with_htmx(ivy_client, make_case):
    a, b = make_case(), make_case()

    missing_note = ivy_client.post(
        reverse("cases:bulk"),
        {"action": "close", "cases": [f"{a.pk}:1"], "resolution": "fraud", "next": QUEUE},
        **HTMX,
    )
    assert missing_note.status_code == 400
    assert "needs a note" in missing_note.content.decode()
    assert Case.objects.get(pk=a.pk).status == CaseStatus.OPEN

    Case.objects.filter(pk=b.pk).update(version=5)
    response = ivy_client.post(
        reverse("cases:bulk"),
        {
            "action": "close",
            "cases": [f"{a.pk}:1", f"{b.pk}:1"],
            "resolution": "legitimate",
            "note": "Known payroll",
            "next": QUEUE,
        },
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="queue-results"' in html
    assert f"Case {b.pk} was not changed: This case changed since you opened it" in html
    assert Case.objects.get(pk=a.pk).resolution == CaseResolution.LEGITIMATE
    assert Case.objects.get(pk=b.pk).status == CaseStatus.OPEN


# -- case page ----
@pytest.fixture
def case_with_history(make_case, customer_account, senior):
    """A flagged transfer to a new payee by a customer with a month of ordinary history."""
    _, account = customer_account
    now = timezone.now()
    regular = Counterparty.objects.create(identifier="GROCER-1", name="Corner Grocer", country="AE")
    for day in range(1, 31):
        Transaction.objects.create(
            external_id=f"H-{day}",
            account=account,
            counterparty=regular,
            amount=Decimal("100.00") + day,
            transfer_type="L",
            country="AE",
            occurred_at=now - timedelta(days=day, hours=1),
            status="approved",
        )
    earlier = make_case(outcome="review", occurred_at=now - timedelta(days=3))
    case_decide(case=earlier, actor=senior, action="reject", expected_version=1)
    payee = Counterparty.objects.create(identifier="NEW-PAYEE-9", country="NG")
    return make_case(
        outcome="block",
        risk=0.97,
        amount="48000.00",
        counterparty=payee,
        occurred_at=now,
        rules=("velocity_30s",),
    )


def test_case_page_shows_decision_customer_view_and_history(ivy_client, case_with_history):
    case = case_with_history
    response = ivy_client.get(detail_url(case))
    html = response.content.decode()

    assert response.status_code == 200
    assert case.transaction.external_id in html
    assert "AED 48,000.00" in html
    assert "Rule velocity_30s was hit" in html  # rule reasons
    assert "Amount vs average" in html and 'class="bar"' in html  # contribution bars
    assert "new payee" in html
    assert "vendor/chart-4.6.1.umd.min.js" in html and 'id="case-history-data"' in html
    assert "Corner Grocer" in html  # counterparties
    assert "Month to date" in html and "Standard deviation" in html
    assert re.search(r"Frequency</dt><dd>1\.\d a day \(31 in 90 days\)", html)
    assert "confirmed fraud" in html  # the earlier case
    assert "<strong>fraud</strong>" in html  # its label
    assert "system</strong> opened" in html  # history
    assert 'data-shortcut="a"' in html and "<kbd>a</kbd>" in html
    assert "Force approve" in html


def test_case_page_says_how_the_transaction_came_in(ivy_client, make_case, make_user):
    client_user = make_user("card-switch", role=None)
    from_api, from_batch, loaded = make_case(), make_case(), make_case()
    Transaction.objects.filter(pk=from_api.transaction_id).update(submitted_by=client_user)
    batch = ImportBatch.objects.create(source=BatchSource.UPLOAD, chunk_size=100)
    Transaction.objects.filter(pk=from_batch.transaction_id).update(import_batch=batch)

    def received(case: Case) -> str:
        html = ivy_client.get(detail_url(case)).content.decode()
        return re.search(r"<dt>Received</dt><dd>(.*?)</dd>", html).group(1)

    assert received(from_api).endswith('from <span class="ident">card-switch</span>')
    assert received(from_batch).endswith(f"in batch {batch.pk}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", received(loaded))


def test_case_page_partial_is_the_panel(ivy_client, make_case):
    case = make_case()
    response = ivy_client.get(detail_url(case), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="case-panel"')
    assert "Customer view" not in html


def test_approve_without_javascript_redirects_and_records(ivy_client, make_case, investigator):
    case = make_case()

    response = ivy_client.post(
        action_url(case), {"action": "approve", "version": 1, "note": "Known merchant"}
    )

    assert response.status_code == 302 and response["Location"] == detail_url(case)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.resolution == CaseResolution.LEGITIMATE
    assert FeedbackLabel.objects.get().created_by == investigator
    page = ivy_client.get(detail_url(case)).content.decode()
    assert "Approved: the transaction is legitimate." in page
    assert "Known merchant" in page


def test_reject_with_htmx_answers_with_the_panel(ivy_client, make_case):
    case = make_case()

    response = ivy_client.post(action_url(case), {"action": "reject", "version": 1}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="case-panel"')
    assert "Rejected: confirmed fraud." in html
    assert 'name="version" value="2"' in html
    assert Case.objects.get(pk=case.pk).resolution == CaseResolution.FRAUD


def test_stale_page_gets_the_conflict_message(ivy_client, make_case, colleague):
    case = make_case()
    case_note_add(case=case, actor=colleague, note="On the phone with the customer")

    response = ivy_client.post(
        action_url(case), {"action": "approve", "version": 1, "note": "looks fine"}
    )
    html = response.content.decode()

    assert response.status_code == 409
    assert "This case changed since you opened it (by bob: note). Review and try again." in html
    assert "On the phone with the customer" in html  # the fresh case to review
    assert 'name="version" value="2"' in html
    assert "looks fine" in html  # the typed note is kept
    assert Case.objects.get(pk=case.pk).status == CaseStatus.OPEN

    htmx = ivy_client.post(action_url(case), {"action": "reject", "version": 1}, **HTMX)
    assert htmx.status_code == 409
    assert "<html" not in htmx.content.decode()
    assert "by bob: note" in htmx.content.decode()


def test_force_approve_needs_the_role_on_the_page_too(ivy_client, make_case, senior):
    case = make_case(outcome="block")
    page = ivy_client.get(detail_url(case)).content.decode()
    assert re.search(r'value="approve"[^>]*\s+disabled', page)

    response = ivy_client.post(action_url(case), {"action": "approve", "version": 1, "note": "x"})
    assert response.status_code == 403
    assert "senior investigator" in response.content.decode()

    no_reason = logged_in(senior).post(action_url(case), {"action": "approve", "version": 1})
    assert no_reason.status_code == 400
    assert "needs a reason" in no_reason.content.decode()

    done = logged_in(senior).post(
        action_url(case), {"action": "approve", "version": 1, "note": "ID checked in branch"}
    )
    assert done.status_code == 302
    assert Transaction.objects.get(pk=case.transaction_id).status == "force_approved"


def test_note_claim_assign_and_escalate_from_the_page(ivy_client, make_case, colleague, senior):
    case = make_case()

    assert ivy_client.post(action_url(case), {"action": "note", "version": 1}).status_code == 400
    ivy_client.post(action_url(case), {"action": "note", "version": 1, "note": "Checked KYC"})
    ivy_client.post(action_url(case), {"action": "claim", "version": 2})
    assert Case.objects.get(pk=case.pk).assignee.username == "ivy"
    ivy_client.post(action_url(case), {"action": "assign", "version": 3, "assignee": colleague.pk})
    assert Case.objects.get(pk=case.pk).assignee == colleague
    ivy_client.post(action_url(case), {"action": "escalate", "version": 4, "note": "Mule?"})
    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED and case.assignee is None
    assert list(case.events.values_list("kind", flat=True)) == [
        "opened",
        "note",
        "claimed",
        "assigned",
        "escalated",
    ]
    page = ivy_client.get(detail_url(case)).content.decode()
    assert "a senior investigator or an admin decides this case" in page
    assert 'value="approve"' not in page
    assert 'value="approve"' in logged_in(senior).get(detail_url(case)).content.decode()


def test_unknown_case_is_404(ivy_client):
    assert ivy_client.get(reverse("cases:detail", args=[424242])).status_code == 404
    response = ivy_client.post(
        reverse("cases:action", args=[424242]), {"action": "reject", "version": 1}
    )
    assert response.status_code == 404


def test_case_page_query_count_does_not_grow_with_history(ivy_client, make_case, colleague):
    case = make_case()
    few = queries_of(ivy_client, detail_url(case))
    for i in range(20):
        case_note_add(case=case, actor=colleague, note=f"note {i}")
    many = queries_of(ivy_client, detail_url(case))
    assert len(many) == len(few) <= 20, many
