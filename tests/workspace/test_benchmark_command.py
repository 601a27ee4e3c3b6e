"""benchmark_dashboard at a tiny size: every scenario runs and is reported."""

import json
from io import StringIO

from django.core.management import call_command

from tests.workspace.conftest import local
from tests.workspace.test_dashboard import Bank
from transactions.models import Transaction


def test_benchmark_dashboard_reports_every_scenario(account, other_account, tmp_path):
    bank = Bank(account)
    for day in (1, 2, 3):
        bank.txn(local(2026, 3, day), risk=0.3)
        bank.txn(local(2026, 3, day, 15), risk=0.7, outcome="review", codes=["monthly_cap"])
    out = StringIO()
    path = tmp_path / "figures.json"
    call_command(
        "benchmark_dashboard",
        "--renders",
        "2",
        "--cold",
        "1",
        "--checks",
        "3",
        "--json",
        str(path),
        stdout=out,
    )
    report = json.loads(path.read_text())
    assert report["transactions"] == 6
    assert report["default_range"] == ["2026-02-02", "2026-03-03"]
    names = set(report["scenarios"])
    assert {
        "dashboard, figures cached",
        "dashboard, rollup only",
        "dashboard, moving 7-day ranges",
        "dashboard, HTMX body only",
        "dashboard, cold rollup (30 days)",
        "settings",
        "check page (form)",
        "check: submit (HTMX, stored + scored)",
        "check: result page",
    } <= names
    for figures in report["scenarios"].values():
        assert figures["p50_ms"] > 0 and figures["p99_ms"] >= figures["p50_ms"]
        assert figures["queries"] > 0
    submitted = report["scenarios"]["check: submit (HTMX, stored + scored)"]
    assert sum(submitted["outcomes"].values()) == 3
    assert Transaction.objects.filter(external_id__startswith="CHK-").count() == 3 + 3  # warm-up
    assert "dashboard, rollup only" in out.getvalue()
