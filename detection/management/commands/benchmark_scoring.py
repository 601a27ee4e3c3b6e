"""Measure scoring latency and throughput in one run.

    python manage.py benchmark_scoring --json bench.json

Needs no database: demo data are generated in memory and small models trained into a
temporary directory. With --use-active the active model versions and the stored rule
limits are served instead (the naive path still uses freshly trained models).
"""

import json
import math
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.benchmarking import BenchmarkConfig, format_results, run_benchmark


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Command(BaseCommand):
    help = (
        "Benchmark single-transaction scoring (with and without SHAP), batch throughput "
        "and the naive library path; print and optionally write JSON."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", default=None, help="write the results here")
        parser.add_argument("--rows", type=int, default=2000, help="single transactions timed")
        parser.add_argument("--batch-rows", type=int, default=1_000_000)
        parser.add_argument("--naive-rows", type=int, default=50)
        parser.add_argument(
            "--customers", type=int, default=None, help="default: enough for --batch-rows"
        )
        parser.add_argument("--days", type=int, default=180)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--epochs", type=int, default=5, help="autoencoder epochs")
        parser.add_argument(
            "--use-active",
            action="store_true",
            help="serve the active model versions and stored rule limits",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rows"] < 1 or options["batch_rows"] < 1 or options["naive_rows"] < 1:
            raise CommandError("--rows, --batch-rows and --naive-rows must be at least 1")
        config = BenchmarkConfig(
            rows=options["rows"],
            batch_rows=options["batch_rows"],
            naive_rows=options["naive_rows"],
            customers=options["customers"],
            days=options["days"],
            seed=options["seed"],
            ae_epochs=options["epochs"],
        )
        ensemble = rule_set = None
        if options["use_active"]:
            from detection.rules.cache import get_rule_set
            from detection.scoring.loader import active_versions, load_ensemble

            versions = active_versions()
            if not versions:
                raise CommandError("there are no active model versions (train_models first)")
            ensemble, _, _ = load_ensemble(versions)
            if not ensemble:
                raise CommandError("no active model artifact could be loaded")
            rule_set = get_rule_set()
        results = run_benchmark(
            config,
            ensemble=ensemble,
            rule_set=rule_set,
            progress=lambda message: self.stderr.write(message),
        )
        self.stdout.write(format_results(results))
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps(_json_safe(results), indent=2, allow_nan=False), encoding="utf-8"
            )
            self.stdout.write(f"Wrote {options['json']}")
