"""The dashboard rollup: upkeep round, build command, the periodic task on a real worker."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from secureflow.celery import app
from secureflow.workspace import rollup
from secureflow.workspace.models import DailyActivity
from secureflow.workspace.tasks import dashboard_rollup_maintain
from tests.conftest import require, wait_for
from tests.workspace.conftest import local
from tests.workspace.test_dashboard import Bank


@pytest.fixture
def spread(account):
    """One scored transaction a day for 10 days up to today, and one on 1 Jan 2026."""
    bank = Bank(account)
    today = rollup.bank_today()
    for back in range(10):
        day = today - timedelta(days=back)
        bank.txn(local(day.year, day.month, day.day, 0, 5), risk=0.2)
    bank.txn(local(2026, 1, 1), risk=0.9, outcome="block", codes=["monthly_cap"])
    return bank


def test_upkeep_builds_recent_and_missing_days_most_urgent_first(spread):
    today = rollup.bank_today()
    done = rollup.daily_activity_maintain(backfill_days=10, max_days=4)
    # recent days first (today, yesterday), then missing days newest first
    assert done == sorted([today - timedelta(days=n) for n in range(4)])
    done = rollup.daily_activity_maintain(backfill_days=10, max_days=31)
    # recent days were aggregated less than a minute ago: only the rest of the window
    assert done == sorted(today - timedelta(days=n) for n in range(4, 10))
    rows = {r.day: r for r in DailyActivity.objects.all()}
    assert len(rows) == 10 and all(r.transactions == 1 and r.scored == 1 for r in rows.values())
    # nothing new: recent days are younger than a minute, old ones are there
    assert rollup.daily_activity_maintain(backfill_days=10) == []


def test_upkeep_reaggregates_stale_days_outside_its_window(spread):
    call_command("dashboard_rollup", "--all", stdout=StringIO())
    old = DailyActivity.objects.get(day=local(2026, 1, 1).date())
    assert (old.transactions, old.block) == (1, 1)
    spread.txn(local(2026, 1, 1, 15), risk=0.1)  # a late batch row for an old day
    assert rollup.daily_activity_maintain(backfill_days=10) == [old.day]
    old.refresh_from_db()
    assert (old.transactions, old.block, old.stale) == (2, 1, False)


def test_recent_days_follow_the_clock(spread):
    rollup.daily_activity_maintain(backfill_days=10)
    today = rollup.bank_today()
    DailyActivity.objects.update(refreshed_at=timezone.now() - timedelta(minutes=2))
    assert rollup.daily_activity_maintain(backfill_days=10) == [today - timedelta(1), today]


def test_command_builds_a_range(spread):
    out = StringIO()
    call_command("dashboard_rollup", "--from", "2026-01-01", "--to", "2026-01-03", stdout=out)
    assert "Aggregated 3 days (2026-01-01 to 2026-01-03), 1 transactions" in out.getvalue()
    assert DailyActivity.objects.count() == 3


def test_the_periodic_task_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["dashboard-rollup"]
    assert entry["task"] == dashboard_rollup_maintain.name
    assert entry["task"] in app.tasks


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_upkeep(redis_broker, celery_worker_factory, account):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    bank = Bank(account)
    today = rollup.bank_today()
    bank.txn(local(today.year, today.month, today.day, 0, 1), risk=0.95, outcome="block")
    with app.connection_for_write(redis_broker) as conn:
        worker = celery_worker_factory(redis_broker)
        dashboard_rollup_maintain.apply_async(connection=conn)
    row = wait_for(lambda: DailyActivity.objects.filter(day=today).first(), worker=worker)
    assert (row.transactions, row.scored, row.block) == (1, 1, 1)
    assert row.risk_histogram[19] == 1


def test_the_task_warms_the_default_range_model_figures(account):
    from secureflow.workspace.selectors import dashboard_default_range, model_health

    bank = Bank(account)
    today = rollup.bank_today()
    bank.txn(local(today.year, today.month, today.day, 0, 1), risk=0.95, outcome="block")
    date_from, date_to = dashboard_default_range()
    assert model_health(date_from=date_from, date_to=date_to, compute=False) is None
    assert dashboard_rollup_maintain() >= 1
    cached = model_health(date_from=date_from, date_to=date_to, compute=False)
    assert cached["precision"].flagged == 1
