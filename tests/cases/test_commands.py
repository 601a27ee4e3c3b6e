"""benchmark_pages at a tiny size, and open_cases on a small demo bank (rules only)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.choices import CaseEventKind
from cases.management.commands import benchmark_pages
from cases.models import Case, CaseEvent
from cases.services import case_open_for_score
from detection.models import TransactionScore
from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import reset_engine
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank

pytestmark = pytest.mark.django_db


def test_benchmark_pages_reports_every_page(make_case, tmp_path, monkeypatch):
    for _ in range(3):
        make_case()
    # the three cases' transactions: deep API pages start after the 1st and the 2nd row
    monkeypatch.setattr(benchmark_pages, "DEEP_API_ROWS", (1, 2, 500_000))
    out = StringIO()
    path = tmp_path / "pages.json"

    call_command(
        "benchmark_pages",
        "--renders",
        "3",
        "--warmup",
        "1",
        "--page",
        "transactions api=/api/v1/transactions/",
        "--json",
        str(path),
        stdout=out,
    )

    report = json.loads(path.read_text())
    assert report["cases"] == 3 and report["renders"] == 3
    names = set(report["pages"])
    assert {"case queue", "case detail", "transactions api"} <= names
    deep = report["pages"]["API transactions (pages 10k, 100k, 500k rows deep)"]
    assert len(deep["urls"]) == 2 and all("?cursor=" in url for url in deep["urls"])
    assert report["pages"]["API transactions (busiest account)"]["bytes"] > 0
    for name, figures in report["pages"].items():
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"], name
        assert figures["queries"] > 0 and figures["bytes"] > 0, name
    assert "case detail" in out.getvalue()


def test_benchmark_pages_refuses_bad_arguments(make_case):
    with pytest.raises(CommandError):
        call_command("benchmark_pages", "--renders", "0")
    with pytest.raises(CommandError):
        call_command("benchmark_pages", "--page", "no-url")
    with pytest.raises(CommandError):
        call_command("benchmark_pages", "--only", "nothing")


def test_benchmark_pages_skips_detail_without_cases(tmp_path):
    path = tmp_path / "pages.json"
    call_command("benchmark_pages", "--renders", "1", "--json", str(path), stdout=StringIO())
    report = json.loads(path.read_text())
    assert report["pages"]["case detail"] == {"skipped": "nothing to show"}
    assert report["pages"]["case queue"]["p50_ms"] > 0
    assert report["pages"]["API transactions (busiest account)"] == {"skipped": "nothing to show"}


@pytest.fixture
def rules_only(settings, tmp_path):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    invalidate_rule_set()
    yield
    reset_engine()
    invalidate_rule_set()


def test_open_cases_scores_the_unscored_and_opens_cases_once(rules_only):
    end = timezone.localdate() + timedelta(days=1)
    bank = generate_demo_bank(customers=60, days=20, seed=5, end=end)
    bulk_load_frame(bank.transactions)
    out = StringIO()

    call_command("open_cases", "--days", "20", stdout=out)

    cases = Case.objects.select_related("transaction__score")
    assert cases.exists(), out.getvalue()
    assert TransactionScore.objects.count() == cases.count()  # only flagged ones stored
    for case in cases:
        score = case.transaction.score
        assert score.outcome in ("review", "block") and score.rule_hits and score.reasons
        assert case.outcome == score.outcome
        assert case.rule_code_list == sorted({hit["code"] for hit in score.rule_hits})
        status = {"review": "in_review", "block": "blocked"}[score.outcome]
        assert case.transaction.status == status
    assert CaseEvent.objects.filter(kind=CaseEventKind.OPENED).count() == cases.count()
    assert f"opened {cases.count():,} cases" in out.getvalue()

    # Again: nothing new to score, nothing opened twice.
    call_command("open_cases", "--days", "20", stdout=StringIO())
    assert Case.objects.count() == cases.count()
    assert CaseEvent.objects.count() == cases.count()


def test_open_cases_respects_the_cap_newest_first(rules_only):
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=60, days=20, seed=5, end=end).transactions)

    call_command("open_cases", "--days", "20", "--max-cases", "2", stdout=StringIO())
    capped = set(Case.objects.values_list("pk", flat=True))
    call_command("open_cases", "--days", "20", stdout=StringIO())  # the rest

    everything = list(Case.objects.order_by("-occurred_at", "-pk"))
    assert len(capped) == 2 and len(everything) > 2
    assert {case.pk for case in everything[:2]} == capped


def test_open_cases_leaves_existing_cases_alone(rules_only, make_score):
    existing = case_open_for_score(score=make_score(outcome="review"))
    call_command("open_cases", "--days", "1", stdout=StringIO())
    assert Case.objects.get(pk=existing.pk).version == 1
    with pytest.raises(CommandError):
        call_command("open_cases", "--days", "1", "--since", "2026-01-01")


def test_a_failing_page_is_reported_and_the_others_still_measured(make_case, tmp_path):
    make_case()
    path = tmp_path / "pages.json"
    with pytest.raises(CommandError, match="missing page"):
        call_command(
            "benchmark_pages",
            "--renders",
            "1",
            "--only",
            "case queue",
            "--only",
            "missing page",
            "--page",
            "missing page=/no/such/page/",
            "--json",
            str(path),
            stdout=StringIO(),
            stderr=StringIO(),
        )
    report = json.loads(path.read_text())
    assert "404" in report["pages"]["missing page"]["error"]
    assert report["pages"]["case queue"]["p50_ms"] > 0
