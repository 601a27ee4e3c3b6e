"""benchmark_scoring at tiny sizes: every figure is there and positive."""

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.slow


def _positive_numbers(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _positive_numbers(inner, f"{path}.{key}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, value


def test_benchmark_command_writes_positive_figures(tmp_path, capsys):
    out = tmp_path / "bench.json"
    call_command(
        "benchmark_scoring",
        "--rows",
        "60",
        "--batch-rows",
        "5000",
        "--naive-rows",
        "3",
        "--customers",
        "60",
        "--days",
        "90",
        "--epochs",
        "1",
        "--json",
        str(out),
    )
    results = json.loads(out.read_text())
    for section in ("single", "naive", "batch", "memory", "training", "data"):
        assert section in results, section
    for mode in ("no_shap", "with_shap", "features_only", "decision_only"):
        stats = results["single"][mode]
        assert 0 < stats["p50_ms"] <= stats["p99_ms"], mode
        assert stats["n"] == 60
    assert results["naive"]["per_row"]["n"] == 3
    assert results["naive"]["speedup_p50"] > 1
    batch = results["batch"]
    assert batch["rows"] == 5000
    for key in ("tx_per_second", "features_tx_per_second", "decide_tx_per_second"):
        assert batch[key] > 0
    assert all(v > 0 for v in results["memory"].values())
    assert set(results["training"]["models"]) >= {"isolation_forest", "autoencoder"}
    serving = results["serving"]
    assert results["serving_peak_rss_mb"] == results["memory"]["serving_peak_rss_mb"] > 0
    assert (serving["decisions"], serving["shap_decisions"]) == (10_000, 1_000)
    numbers = dict(_positive_numbers(results))
    skipped = {".config.naive_rows", ".config.label_delay_days"}
    assert all(v > 0 for k, v in numbers.items() if k not in skipped), numbers
    printed = capsys.readouterr().out
    assert "speed-up over the naive path" in printed
    assert "batch:" in printed
    assert "serving_peak_rss_mb" in printed
