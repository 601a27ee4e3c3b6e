"""Measure alert delivery latency: scoring commit -> SMTP server receiving the e-mail.

    python manage.py benchmark_alerts --count 200 --json alerts-bench.json

Starts its own SMTP server on 127.0.0.1 and its own Celery worker process on the configured
database and broker. Use a database and broker of its own (see alerts/benchmarking.py).
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.benchmarking import AlertBenchmarkConfig, format_result, run_alert_benchmark


class Command(BaseCommand):
    help = (
        "Submit transactions that cross the alert threshold and time each alert e-mail from "
        "the scoring commit to a local SMTP server, through a real worker process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=200, help="alerts timed")
        parser.add_argument(
            "--interval", type=float, default=0.05, help="seconds between submissions"
        )
        parser.add_argument("--accounts", type=int, default=5)
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
        parser.add_argument(
            "--timeout", type=float, default=180.0, help="seconds to wait for every alert"
        )
        parser.add_argument("--keep", action="store_true", help="keep the benchmark's rows")
        parser.add_argument("--json", default=None, help="write the results here")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["count"] < 1 or options["accounts"] < 1 or options["concurrency"] < 1:
            raise CommandError("--count, --accounts and --concurrency must be at least 1")
        if options["interval"] < 0:
            raise CommandError("--interval cannot be negative")
        config = AlertBenchmarkConfig(
            count=options["count"],
            interval=options["interval"],
            accounts=options["accounts"],
            concurrency=options["concurrency"],
            timeout=options["timeout"],
            keep=options["keep"],
        )
        try:
            result = run_alert_benchmark(config, log=self.stderr.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_result(result))
        if options["json"]:
            path = Path(options["json"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
            self.stdout.write(f"  results written to {path}")
