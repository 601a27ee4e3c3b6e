"""Replay a labelled transactions file in time order and measure detection.

    python manage.py backtest --csv bank.csv --train-start 2026-05-05 --train-end 2026-10-02 \
        --test-start 2026-10-02 --test-end 2026-11-01 --out scores.csv --json metrics.json

Isolated from the live data: no table is read or written; models live in a temporary
directory for the run only.
"""

import json
import math
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.backtest import (
    DEFAULT_EXPLAIN_CAP,
    DEFAULT_LABEL_DELAY_DAYS,
    DEFAULT_MAX_LEGIT_LABELS,
    BacktestError,
    format_metrics,
    make_windows,
    read_labelled_csv,
    run_backtest,
)
from transactions.csv_cells import spreadsheet_safe_frame
from transactions.csv_reader import CsvFormatError
from transactions.csv_schema import MappingError, load_mapping

MAX_ERRORS_SHOWN = 10


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    return value


class Command(BaseCommand):
    help = (
        "Backtest the detection pipeline on a labelled CSV: train on one window, score "
        "another, write per-transaction scores and detection metrics. Touches no table."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", required=True, help="labelled transactions CSV")
        parser.add_argument("--mapping", default=None, help="column mapping JSON")
        parser.add_argument("--train-start", required=True, help="date or ISO datetime")
        parser.add_argument("--train-end", required=True, help="exclusive")
        parser.add_argument("--test-start", required=True)
        parser.add_argument("--test-end", required=True, help="exclusive")
        parser.add_argument("--label-delay-days", type=float, default=DEFAULT_LABEL_DELAY_DAYS)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--epochs", type=int, default=30, help="autoencoder epochs")
        parser.add_argument(
            "--explain-cap",
            type=int,
            default=DEFAULT_EXPLAIN_CAP,
            help="flagged rows explained with SHAP; the rest get rule + autoencoder reasons",
        )
        parser.add_argument(
            "--max-legit-labels",
            type=int,
            default=DEFAULT_MAX_LEGIT_LABELS,
            help="legitimate labels sampled for the supervised model (all fraud labels kept)",
        )
        parser.add_argument("--out", required=True, help="scores CSV to write")
        parser.add_argument("--json", default=None, help="metrics JSON to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            windows = make_windows(
                train_start=options["train_start"],
                train_end=options["train_end"],
                test_start=options["test_start"],
                test_end=options["test_end"],
            )
            mapping = load_mapping(options["mapping"])
            path = Path(options["csv"])
            if not path.is_file():
                raise CommandError(f"file not found: {path}")
            parsed = read_labelled_csv(path, mapping, default_timezone=settings.TIME_ZONE)
        except (BacktestError, MappingError, CsvFormatError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

        self.stderr.write(
            f"Read {parsed.received:,} rows: {parsed.accepted:,} accepted, "
            f"{parsed.rejected:,} rejected"
        )
        for error in parsed.errors[:MAX_ERRORS_SHOWN]:
            self.stderr.write(
                f"  line {error.line}, column {error.column}: {error.reason}"
                + (f" ({error.value!r})" if error.value else "")
            )
        if len(parsed.errors) > MAX_ERRORS_SHOWN:
            self.stderr.write(f"  ... and {len(parsed.errors) - MAX_ERRORS_SHOWN:,} more")

        try:
            result = run_backtest(
                parsed.frame,
                windows,
                label_delay_days=options["label_delay_days"],
                seed=options["seed"],
                ae_epochs=options["epochs"],
                explain_cap=options["explain_cap"],
                max_legit_labels=options["max_legit_labels"] or None,
                progress=lambda message: self.stderr.write(message, ending="\n"),
            )
        except BacktestError as exc:
            raise CommandError(str(exc)) from exc

        spreadsheet_safe_frame(result.scores).to_csv(options["out"], index=False)
        metrics = {
            **result.metrics,
            "rows": {
                "received": parsed.received,
                "accepted": parsed.accepted,
                "rejected": parsed.rejected,
            },
        }
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps(_json_safe(metrics), indent=2, allow_nan=False), encoding="utf-8"
            )
        self.stdout.write(format_metrics(result.metrics))
        self.stdout.write(f"Wrote {len(result.scores):,} scores to {options['out']}")
        if options["json"]:
            self.stdout.write(f"Wrote metrics to {options['json']}")
        sys.stdout.flush()
