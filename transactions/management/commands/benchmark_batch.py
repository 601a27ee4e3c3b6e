"""Batch throughput end to end: import + score + store a generated CSV.

    python manage.py benchmark_batch [--rows 1000000] [--seed 7] [--chunk-size N]
        [--workers 2] [--json PATH] [--csv PATH]

Generates a demo bank (transactions/demo_data) of about --rows transactions over --days
days, writes it as a canonical CSV, then runs it as a batch through the same services the
Celery workers run (read and check the file, create customers / accounts /
counterparties, features against the stored history, then chunk after chunk: rules,
models, explanations of flagged rows, transactions and scores stored, the receivers of
scores_stored_in_bulk (cases, alerts) run), against the
configured database (PostgreSQL when DATABASE_URL points at it). Prints rows per second
end to end (from the file on disk to every score committed) with the phase breakdown;
--json also writes the figures. --workers N processes N chunks at once (forked processes
with their own database connections, as N Celery workers would). Generating the CSV is
timed separately. The preparation phases run once, one after the other; the chunk phases
are summed over the chunks (with several at a time they overlap, so their sum can exceed
the wall time of the chunks).

The generated bank is new to the database (its ids carry the seed): run again with another
--seed, or the rows are already stored.
"""

import gc
import json
import math
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from detection.scoring.loader import get_engine
from transactions.batches.services import import_batch_create, import_batch_run
from transactions.choices import BatchMode, BatchSource, BatchStatus
from transactions.demo_data import generate_demo_bank, write_canonical_csv
from transactions.models import Transaction

TX_PER_CUSTOMER_DAY = 1.1  # what the demo generator produces, roughly
TARGET_ROWS_PER_SECOND = 5_000
PREPARE_PHASES = (  # once per batch, one after the other
    ("read and check the file", "read_seconds"),
    ("customers, accounts, counterparties", "entities_seconds"),
    ("features against stored history", "features_seconds"),
    ("stage chunks", "stage_seconds"),
)
CHUNK_PHASES = (  # per chunk, summed over the chunks (with several at a time they overlap)
    ("chunks: read staged rows", "chunk_read_seconds"),
    ("chunks: rules, models, explanations", "decide_seconds"),
    ("chunks: store transactions", "import_seconds"),
    ("chunks: store scores", "store_scores_seconds"),
    ("chunks: check foreign keys", "constraints_seconds"),
    ("chunks: receivers of flagged scores", "flagged_receivers_seconds"),
)
STORE_SCORE_PARTS = (
    ("decisions as JSON", "scores_json_seconds"),
    ("copy the scores", "scores_copy_seconds"),
)


class Command(BaseCommand):
    help = "Benchmark batch import + scoring + storage of a generated CSV (rows/s end to end)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--days", type=int, default=180)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--chunk-size", type=int, default=None)
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="chunks processed at once, as that many Celery workers (PostgreSQL; default 2)",
        )
        parser.add_argument("--json", default=None, help="write the figures as JSON here")
        parser.add_argument("--csv", default=None, help="keep the generated CSV here")

    def handle(self, *args: object, **options: object) -> None:
        rows = int(options["rows"])
        days = int(options["days"])
        if rows < 1 or days < 1:
            raise CommandError("--rows and --days must be at least 1")
        say = self.stdout.write
        customers = max(5, math.ceil(1.1 * rows / (days * TX_PER_CUSTOMER_DAY)))
        t0 = time.perf_counter()
        while True:  # enough customers for --rows transactions over --days days
            bank = generate_demo_bank(
                customers=customers,
                days=days,
                seed=int(options["seed"]),
                end=timezone.localdate() + timedelta(days=1),
                time_zone=settings.TIME_ZONE,
            )
            if len(bank.transactions) >= rows:
                break
            customers = math.ceil(customers * 1.25 * rows / max(len(bank.transactions), 1))
        frame = bank.transactions.iloc[:rows]
        if Transaction.objects.filter(external_id=str(frame["id"].iloc[0])).exists():
            raise CommandError(
                f"the rows of seed {options['seed']} are already stored (an earlier run): "
                "pass another --seed"
            )
        with tempfile.TemporaryDirectory(prefix="secureflow-batch-bench-") as tmp:
            path = Path(options["csv"] or Path(tmp) / "transactions.csv")
            write_canonical_csv(frame, path)
            generate_seconds = time.perf_counter() - t0
            del bank, frame  # the measured run starts with the file on disk, as a worker does
            gc.collect()
            size_mb = path.stat().st_size / 2**20
            say(
                f"Generated {rows:,} transactions ({customers:,} customers, {days} days, "
                f"{size_mb:,.1f} MB CSV) in {generate_seconds:.1f} s"
            )
            engine = get_engine(max_age=0)
            models = sorted(engine.ensemble.kinds) if engine.ensemble else []
            if not models:
                say("No active models: scoring with the rules alone (run setup_demo first).")
            say(f"Database: {connection.vendor}; models: {', '.join(models) or 'none'}")

            started = time.perf_counter()
            batch = import_batch_create(
                owner=None,
                source=BatchSource.CLI,
                content=path,
                original_filename=path.name,
                mode=BatchMode.SCORE,
                chunk_size=options["chunk_size"],
                enqueue=False,
            )
            batch = import_batch_run(
                batch_id=batch.pk, progress=self._progress, workers=int(options["workers"])
            )
            total = time.perf_counter() - started
        if batch.status != BatchStatus.DONE:
            raise CommandError(f"the batch failed: {batch.error_message}")
        report = self._report(batch, total, generate_seconds, models, size_mb)
        report["workers"] = int(options["workers"]) if connection.vendor == "postgresql" else 1
        self._print(report)
        if options["json"]:
            Path(str(options["json"])).write_text(json.dumps(report, indent=2) + "\n")
            say(f"Wrote {options['json']}")

    def _progress(self, message: str) -> None:
        self.stderr.write(f"  {message}")

    @staticmethod
    def _report(
        batch: Any, total: float, generate_seconds: float, models: list[str], size_mb: float
    ) -> dict[str, Any]:
        timings = batch.timings or {}
        phases = {
            key: round(float(timings.get(key, 0.0)), 3)
            for _, key in (*PREPARE_PHASES, *CHUNK_PHASES)
        }
        prepared = sum(phases[key] for _, key in PREPARE_PHASES)
        in_chunks = sum(phases[key] for _, key in CHUNK_PHASES)
        chunk_total = float(timings.get("chunk_seconds", in_chunks))
        phases["chunk_other_seconds"] = round(max(chunk_total - in_chunks, 0.0), 3)
        phases["chunks_wall_seconds"] = round(max(total - prepared, 0.0), 3)
        store_scores = {key: round(float(timings.get(key, 0.0)), 3) for _, key in STORE_SCORE_PARTS}
        return {
            "database": connection.vendor,
            "rows": batch.rows_total,
            "imported": batch.rows_imported,
            "duplicates": batch.rows_duplicate,
            "rejected": batch.rows_rejected,
            "scored": batch.rows_scored,
            "flagged": batch.rows_flagged,
            "chunks": batch.chunks_total,
            "chunk_size": batch.chunk_size,
            "csv_mb": round(size_mb, 1),
            "models": models,
            "generate_seconds": round(generate_seconds, 3),
            "total_seconds": round(total, 3),
            "rows_per_second": round(batch.rows_total / total, 1) if total else 0.0,
            "target_rows_per_second": TARGET_ROWS_PER_SECOND,
            "phases": phases,
            "store_scores": store_scores,
            "batch_id": batch.pk,
        }

    def _print(self, report: dict[str, Any]) -> None:
        say = self.stdout.write
        total = report["total_seconds"]
        say(
            f"Batch of {report['rows']:,} rows on {report['database']}: "
            f"{total:.1f} s end to end = {report['rows_per_second']:,.0f} rows/s "
            f"(target {TARGET_ROWS_PER_SECOND:,})"
        )
        say(
            f"  imported {report['imported']:,}, scored {report['scored']:,}, flagged "
            f"{report['flagged']:,}, rejected {report['rejected']:,}, duplicates "
            f"{report['duplicates']:,}; {report['chunks']} chunks of {report['chunk_size']:,}, "
            f"{report['workers']} at a time"
        )
        phases = report["phases"]

        def line(label: str, seconds: float, indent: int = 2) -> None:
            share = f"{100 * seconds / total:>5.1f} %" if total else ""
            say(f"{' ' * indent}{label:<{42 - indent}}{seconds:>9.2f} s {share}")

        for label, key in PREPARE_PHASES:
            line(label, phases[key])
        line(f"chunks, {report['workers']} at a time (wall)", phases["chunks_wall_seconds"])
        say("    summed over the chunks (with several at a time they overlap):")
        for label, key in (*CHUNK_PHASES, ("chunks: other (bookkeeping)", "chunk_other_seconds")):
            say(f"    {label:<38}{phases[key]:>9.2f} s")
            if key == "store_scores_seconds":
                for part_label, part in STORE_SCORE_PARTS:
                    say(f"      {part_label:<36}{report['store_scores'][part]:>9.2f} s")
