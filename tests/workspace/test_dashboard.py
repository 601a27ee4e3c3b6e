"""Dashboard: the numbers match the data, date filter, partial vs full page, query count."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Case, FeedbackLabel
from cases.services import case_open_for_score
from detection.models import TransactionScore
from detection.rules.cache import get_rule_set
from secureflow.core import roles
from secureflow.workspace.models import DailyActivity
from tests.workspace.conftest import HTMX, local, login
from transactions.models import Transaction

URL = "/dashboard/"
RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-03"}


class Bank:
    """Transactions and decisions created one by one, so the test knows every figure."""

    def __init__(self, account):
        self.account = account
        self.n = 0

    def txn(self, when, *, amount="100.00", risk=None, outcome="approve", codes=(), factor=None):
        self.n += 1
        txn = Transaction.objects.create(
            external_id=f"D-{self.n}",
            account=self.account,
            amount=Decimal(amount),
            transfer_type="L",
            country="AE",
            occurred_at=when,
            status={"approve": "approved", "review": "in_review", "block": "blocked"}[outcome],
        )
        if risk is not None:
            TransactionScore.objects.create(
                transaction=txn,
                risk_score=risk,
                outcome=outcome,
                rule_hits=[{"code": c, "severity": outcome, "reason": c} for c in codes],
                contributions=[{"feature": "amount_log", "label": factor, "contribution": 0.5}]
                if factor
                else [],
            )
        return txn


@pytest.fixture
def bank(account):
    """1 Mar: 4 scored (1 review) + 1 unscored; 2 Mar: 3 scored (1 review, 1 block);
    3 Mar: nothing; 28 Feb and 4 Mar: outside the range."""
    b = Bank(account)
    b.txn(local(2026, 3, 1, 9), risk=0.01)
    b.txn(local(2026, 3, 1, 10), risk=0.12)
    b.txn(local(2026, 3, 1, 11), risk=0.33)
    b.flag1 = b.txn(
        local(2026, 3, 1, 23, 30),
        amount="20000.00",
        risk=0.62,
        outcome="review",
        codes=["amount_limit_Q"],
        factor="Amount",
    )
    b.txn(local(2026, 3, 1, 13))  # not scored
    # 2 Mar 00:30 in Dubai is 1 Mar 20:30 UTC: it counts on 2 Mar (bank local day)
    b.txn(local(2026, 3, 2, 0, 30), risk=0.04)
    b.flag2 = b.txn(
        local(2026, 3, 2, 12),
        amount="900.00",
        risk=0.55,
        outcome="review",
        codes=["velocity_10m", "velocity_1h"],
        factor="Transfers in 10 minutes",
    )
    b.flag3 = b.txn(
        local(2026, 3, 2, 15),
        amount="50000.00",
        risk=0.97,
        outcome="block",
        codes=["amount_limit_Q"],
        factor="Amount",
    )
    b.txn(local(2026, 2, 28, 12), risk=0.99, outcome="block", codes=["monthly_cap"])
    b.txn(local(2026, 3, 4, 12), risk=0.5, outcome="review", codes=["monthly_cap"])
    return b


def daily_rows(html: str) -> dict[str, list[str]]:
    table = re.search(r'<table class="data" id="table-daily">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r'<tr data-day="([\d-]+)">(.*?)</tr>', table, re.S)
    return {day: re.findall(r'<td class="num">([^<]*)</td>', cells) for day, cells in rows}


def histogram(html: str) -> list[int]:
    table = re.search(r'id="table-histogram">(.*?)</table>', html, re.S).group(1)
    return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', table)]


def kpi(html: str, name: str) -> str:
    return re.search(rf'id="kpi-{name}">([^<]*)<', html).group(1).strip()


def test_anonymous_and_roleless_users_are_kept_out(client, nobody):
    assert client.get(URL).status_code == 302
    assert login(nobody).get(URL).status_code == 403


def test_figures_match_the_data(investigator, bank):
    for txn in (bank.flag1, bank.flag2, bank.flag3):
        case_open_for_score(score=txn.score)  # what scoring does for every flag
    # a label on a transaction that was not flagged is not an outcome of a worked case
    FeedbackLabel.objects.create(
        transaction=Transaction.objects.get(external_id="D-1"), is_fraud=True, source="api"
    )
    FeedbackLabel.objects.create(transaction=bank.flag1, is_fraud=True, source="chargeback")
    FeedbackLabel.objects.create(transaction=bank.flag2, is_fraud=True, source="api")
    # the newest label of a transaction counts: flag2 turned out legitimate
    FeedbackLabel.objects.create(
        transaction=bank.flag2,
        is_fraud=False,
        source="customer_confirmation",
        known_at=bank.flag2.occurred_at.replace(year=2027),
    )
    FeedbackLabel.objects.create(transaction=bank.flag3, is_fraud=True, source="api")

    response = login(investigator).get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()

    assert daily_rows(html) == {
        # transactions, scored, review, block, flag rate
        "2026-03-01": ["5", "4", "1", "0", "25.00 %"],
        "2026-03-02": ["3", "3", "1", "1", "66.67 %"],
        "2026-03-03": ["0", "0", "0", "0", "—"],
    }
    assert kpi(html, "transactions") == "8"
    assert kpi(html, "flagged") == "3"
    assert kpi(html, "flag-rate") == "42.86 %"  # 3 of 7 scored
    bins = histogram(html)
    assert len(bins) == 20 and sum(bins) == 7
    assert bins[0] == 2 and bins[2] == 1 and bins[6] == 1  # 0.01, 0.04 | 0.12 | 0.33
    assert bins[11] == 1 and bins[12] == 1 and bins[19] == 1  # 0.55 | 0.62 | 0.97
    rules = dict(re.findall(r'data-code="(\w+)">.*?class="bar-value">(\d+)<', html, re.S))
    assert rules == {"amount_limit_Q": "2", "velocity_10m": "1", "velocity_1h": "1"}
    assert "Quick payment limit" in html  # rule codes shown by name
    assert re.search(r'id="feedback-fraud">2<', html)
    assert re.search(r'id="feedback-legitimate">1<', html)
    assert kpi(html, "precision") == "66.7 %"

    charts = re.search(r'id="dashboard-data" type="application/json">(.*?)</script>', html, re.S)
    assert '"transactions": [5, 3, 0]' in charts.group(1)
    assert '"flagged": [1, 2, 0]' in charts.group(1)


def test_date_filter(investigator, bank):
    html = login(investigator).get(URL, {"date_from": "2026-03-02", "date_to": "2026-03-04"})
    html = html.content.decode()
    assert list(daily_rows(html)) == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert kpi(html, "transactions") == "4"
    assert kpi(html, "flagged") == "3"
    assert re.search(r'data-code="monthly_cap">', html)
    assert 'value="2026-03-02"' in html and 'value="2026-03-04"' in html


def test_default_range_ends_on_the_newest_data_when_nothing_is_recent(investigator, bank):
    html = login(investigator).get(URL).content.decode()
    days = list(daily_rows(html))
    assert days[-1] == "2026-03-04" and days[0] == "2026-02-03" and len(days) == 30
    assert kpi(html, "transactions") == "10"


def test_htmx_gets_the_body_only_and_invalid_ranges_are_explained(investigator, bank):
    client = login(investigator)
    partial = client.get(URL, RANGE, **HTMX)
    html = partial.content.decode()
    assert partial.status_code == 200
    assert html.lstrip().startswith('<div id="dashboard-body"')
    assert "<html" not in html and 'id="chart-daily"' in html
    full = client.get(URL, RANGE).content.decode()
    assert "<html" in full and "chart-4.6.1.umd.min.js" in full
    assert 'hx-push-url="true"' in full

    bad = client.get(URL, {"date_from": "2026-03-05", "date_to": "2026-03-01"}, **HTMX)
    assert bad.status_code == 422
    assert "The end date is before the start date." in bad.content.decode()


def test_query_count_does_not_grow_with_the_data(investigator, bank):
    """Same number of queries for a cold view (no rollup rows, nothing cached) of a range
    with 8 transactions and with 80; new rows cost a fixed few on the next view only."""
    client = login(investigator)

    def cold_queries() -> int:
        cache.clear()
        client.get(URL, RANGE)  # the rollup's watermark takes in any new rows
        cache.clear()
        DailyActivity.objects.all().delete()
        get_rule_set()  # the rule cache checks the limits' version at most every 2 s
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL, RANGE).status_code == 200
        return len(ctx.captured_queries)

    small = cold_queries()
    for day in (1, 2, 3):
        for hour in range(8, 20):
            bank.txn(local(2026, 3, day, hour, 15), risk=hour / 24, outcome="approve")
            bank.txn(local(2026, 3, day, hour, 45), risk=0.8, outcome="review", codes=["x"])
    large = cold_queries()
    assert large == small

    with CaptureQueriesContext(connection) as ctx:
        client.get(URL, RANGE)  # same range again: the assembled figures are cached
    assert len(ctx.captured_queries) < small
    assert len(ctx.captured_queries) <= 4


def test_new_rows_reach_the_rollup(investigator, bank, django_capture_on_commit_callbacks):
    client = login(investigator)
    before = client.get(URL, RANGE).content.decode()
    assert daily_rows(before)["2026-03-02"][0] == "3"

    bank.txn(local(2026, 3, 2, 18), risk=0.7, outcome="review", codes=["monthly_cap"])
    cache.clear()  # the short-lived figures cache; the rollup finds the new id by itself
    after = client.get(URL, RANGE).content.decode()
    assert daily_rows(after)["2026-03-02"] == ["4", "4", "2", "1", "75.00 %"]

    # a stored decision that changes in place (same score row) marks its day stale
    from detection.scoring.service import transaction_score

    with django_capture_on_commit_callbacks(execute=True):
        transaction_score(txn=bank.flag3)  # rules only now: approve
    cache.clear()
    rescored = client.get(URL, RANGE).content.decode()
    assert daily_rows(rescored)["2026-03-02"] == ["4", "4", "2", "0", "50.00 %"]


def test_open_and_overdue_cases(investigator, bank):
    for txn in (bank.flag1, bank.flag2, bank.flag3):
        case_open_for_score(score=txn.score)
    Case.objects.filter(transaction=bank.flag3).update(sla_due_at=local(2026, 3, 3))
    html = login(investigator).get(URL, RANGE).content.decode()
    assert re.search(r'id="kpi-open-cases" href="/cases/">3<', html)
    assert kpi(html, "overdue-cases") == "1"
    assert 'id="table-alerts"' in html


def test_home_links_investigators_to_their_pages(investigator, bank, nobody):
    html = login(investigator).get(reverse("home")).content.decode()
    for element_id in ("home-cases", "home-check", "home-dashboard", "home-settings"):
        assert f'id="{element_id}"' in html
    assert 'id="home-open-cases">0<' in html
    roleless = login(nobody).get(reverse("home")).content.decode()
    assert 'id="home-no-role"' in roleless and 'id="home-cases"' not in roleless


def test_model_health_loads_after_the_figures_and_is_cached(investigator, account):
    from secureflow.workspace.rollup import bank_today

    bank = Bank(account)
    today = bank_today()
    noon = local(today.year, today.month, today.day, 0, 30)
    flagged = bank.txn(noon, risk=0.8, outcome="review", codes=["monthly_cap"])
    bank.txn(noon, risk=0.95, outcome="block", codes=["monthly_cap"])
    bank.txn(noon, risk=0.1)
    FeedbackLabel.objects.create(transaction=flagged, is_fraud=True, source="chargeback")
    client = login(investigator)
    query = {"date_from": today.isoformat(), "date_to": today.isoformat()}

    page = client.get(URL, query).content.decode()
    lazy = re.search(r'<section class="card wide" id="model-health"[^>]*>', page).group(0)
    assert 'hx-trigger="load"' in lazy and "/dashboard/models/?date_from=" in lazy

    panel = client.get("/dashboard/models/", query, **HTMX)
    html = panel.content.decode()
    assert panel.status_code == 200 and "<html" not in html
    assert 'id="drift-none"' in html  # no trained model in this test
    assert 'id="shadow-none"' in html
    assert re.search(r'id="model-precision">100\.0 %<', html)  # 1 labelled flag, fraud
    assert "Flagged</dt><dd>2 " in html

    # the next dashboard view has the cached panel in place, no second request
    page = client.get(URL, query).content.decode()
    assert 'id="drift-panel"' in page and 'hx-trigger="load"' not in page
    full = client.get("/dashboard/models/", query)
    assert "<html" in full.content.decode()
    assert login_required_for_models(investigator)


def login_required_for_models(investigator) -> bool:
    from django.test import Client

    return Client().get("/dashboard/models/").status_code == 302


@pytest.mark.django_db
def test_the_dashboard_says_which_model_it_scores_without(make_user, refused_model):
    page = login(make_user("ivy")).get(URL).content.decode()

    assert 'id="models-refused"' in page
    assert "Scoring without the isolation forest model: its artifact was refused" in page
    assert "isolation_forest-gone" not in page  # file names are for admins

    admin_page = login(make_user("ada", roles.ADMIN)).get(URL).content.decode()
    assert "isolation_forest-gone" in admin_page and "does not exist" in admin_page


@pytest.mark.django_db
def test_the_dashboard_has_no_model_notice_while_every_active_model_loads(make_user):
    assert 'id="models-refused"' not in login(make_user("ivy")).get(URL).content.decode()


@pytest.mark.django_db
def test_the_dashboard_names_a_model_the_worker_scores_batches_without(make_user):
    from django.utils import timezone

    from secureflow.core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(
        hostname="celery@batch-1",
        seen_at=timezone.now(),
        refused_models={"supervised": "artifact directory does not exist"},
    )

    page = login(make_user("ivy")).get(URL).content.decode()

    assert "Scoring without the supervised (feedback labels) model" in page
