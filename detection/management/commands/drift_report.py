import json
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from detection.drift import format_drift_report
from detection.selectors import drift_report

from .train_models import parse_moment


class Command(BaseCommand):
    help = (
        "Population stability index (PSI) of the main features and of the risk score: "
        "decisions of the last N days against the active models' training window."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=7, help="current window (days)")
        parser.add_argument("--as-of", help="end of the current window (default: now)")
        parser.add_argument("--json", help="also write the report to this file")

    def handle(self, *args: object, **options: object) -> None:
        as_of = parse_moment(options["as_of"]) if options["as_of"] else None
        report = drift_report(days=options["days"], as_of=as_of)
        self.stdout.write(format_drift_report(report))
        if options["json"]:
            data = asdict(report)
            data["level"] = report.level
            Path(options["json"]).write_text(json.dumps(data, indent=2, default=str))
