"""benchmark_alerts at a tiny size: its own SMTP server and worker, real alerts, figures."""

import json

import pytest
from django.core.management import call_command

from alerts.models import AlertDelivery, AlertSubscription
from transactions.models import Transaction


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_benchmark_alerts_measures_real_deliveries(worker_broker, tmp_path, capsys):
    out = tmp_path / "alerts-bench.json"
    call_command(
        "benchmark_alerts",
        "--count",
        "4",
        "--interval",
        "0.02",
        "--concurrency",
        "1",
        "--json",
        str(out),
    )
    printed = capsys.readouterr().out
    assert "scoring commit -> SMTP server received" in printed
    assert "alerts received   4 / 4" in printed
    result = json.loads(out.read_text())
    assert result["count"] == 4 and result["received"] == 4
    assert result["statuses"] == {"sent": 4}
    assert (
        0
        < result["latency_ms"]["p50"]
        <= result["latency_ms"]["p95"]
        <= result["latency_ms"]["max"]
    )
    assert result["models"] == "none (rules only)"
    # Its rows are removed afterwards.
    assert not Transaction.objects.exists()
    assert not AlertDelivery.objects.exists() and not AlertSubscription.objects.exists()


def test_benchmark_alerts_refuses_bad_arguments():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("benchmark_alerts", "--count", "0")
