"""benchmark_api at a tiny size: a real gunicorn, a separate load process, every request
answered 2xx and stored with its score, figures printed and written."""

import json

import pytest
from django.core.management import call_command
from django.db import connection

from detection.models import ModelVersion, TransactionScore
from transactions.models import Transaction

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_benchmark_api_runs_end_to_end(tmp_path, settings, capsys):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    out = tmp_path / "bench.json"

    call_command(
        "benchmark_api",
        "--requests",
        "30",
        "--concurrency",
        "1,4",
        "--warmup",
        "10",
        "--workers",
        "2",
        "--demo-customers",
        "25",
        "--demo-days",
        "14",
        "--json",
        str(out),
    )

    results = json.loads(out.read_text())
    assert ModelVersion.objects.filter(is_active=True).exists()  # trained for the run
    for level in ("1", "4"):
        run = results["runs"][0][level]
        assert run["requests"] == 30 and run["concurrency"] == int(level)
        assert run["statuses"] == {"201": 30}
        assert run["persisted"] == 30
        assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
        assert run["throughput_per_s"] > 0
        assert results["median"][level]["p99_ms"] == run["p99_ms"]
        assert run["server_cpu_ms_per_request"] > 0  # read from /proc (Linux)
        if connection.vendor == "postgresql":  # the sessions of the server's threads
            assert run["database_cpu_ms_per_request"] > 0
    bench = Transaction.objects.filter(external_id__startswith="BENCH-")
    assert bench.count() == 10 + 30 + 30
    assert TransactionScore.objects.filter(transaction__in=bench).count() == 70
    # the production layout by default: sync workers, one request per connection
    assert results["config"]["server"] == "gunicorn sync"
    assert results["config"]["workers"] == 2 and results["config"]["threads"] == 1
    printed = capsys.readouterr().out
    assert "median of 1 run(s),   4 clients" in printed
