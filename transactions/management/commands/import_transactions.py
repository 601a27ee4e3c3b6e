"""Import a transactions file (CSV, or JSON with --format json), optionally scoring it.

    python manage.py import_transactions PATH [--mapping M.json | --mapping-name NAME]
        [--score] [--delimiter ';'] [--decimal ','] [--encoding latin-1] [--chunk-size N]

Runs in this process through the same services as the Celery workers, and prints the
totals: received = imported + duplicates + rejected. Rejected rows are listed (row,
column, reason) in the batch's error file, whose path is printed.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from transactions.batches.reading import BatchInputError, mapping_with_options
from transactions.batches.services import import_batch_create, import_batch_run
from transactions.choices import BatchFormat, BatchMode, BatchSource, BatchStatus
from transactions.csv_schema import MappingError, load_mapping
from transactions.models import ImportBatch, ImportMapping


def mapping_from_options(options: dict) -> tuple[object, str]:
    """The mapping the options ask for (a file, a saved mapping, or none) with the
    delimiter / decimal / encoding options applied."""
    name = options.get("mapping_name") or ""
    try:
        if options.get("mapping") and name:
            raise CommandError("give --mapping or --mapping-name, not both")
        if name:
            saved = ImportMapping.objects.filter(name=name).first()
            if saved is None:
                raise CommandError(f"no saved mapping named {name!r}")
            base: object = saved.mapping
        else:
            base = load_mapping(options.get("mapping"))
        mapping = mapping_with_options(
            base,
            delimiter=options.get("delimiter"),
            decimal=options.get("decimal"),
            encoding=options.get("encoding"),
        )
    except (MappingError, BatchInputError) as exc:
        raise CommandError(str(exc)) from exc
    return mapping, name


def add_reading_options(parser: CommandParser) -> None:
    parser.add_argument("--mapping", help="column mapping JSON file (transactions/csv_schema.py)")
    parser.add_argument("--mapping-name", help="a saved mapping (Django admin: Import mappings)")
    parser.add_argument("--delimiter", help="',', ';', '|' or 'tab' (default: detected)")
    parser.add_argument(
        "--decimal", choices=[".", ","], help="decimal separator (default: detected)"
    )
    parser.add_argument("--encoding", help="file encoding (default: UTF-8, else Latin-1)")


def print_totals(stdout: object, batch: ImportBatch, seconds: float) -> None:
    write = stdout.write
    write(f"Batch {batch.pk}: {batch.get_status_display().lower()} in {seconds:.1f} s")
    if batch.status == BatchStatus.FAILED:
        write(f"  {batch.error_message}")
        return
    write(f"  received   {batch.rows_total:>10,}")
    write(f"  imported   {batch.rows_imported:>10,}")
    write(f"  duplicates {batch.rows_duplicate:>10,}  (already stored: not imported again)")
    write(f"  rejected   {batch.rows_rejected:>10,}")
    if batch.mode == BatchMode.SCORE:
        write(f"  scored     {batch.rows_scored:>10,}")
        write(f"  flagged    {batch.rows_flagged:>10,}  (review or block)")
    if batch.rows_rejected:
        write(f"  errors: {batch.errors_path}")
        for error in batch.error_summary.get("first", [])[:10]:
            write(f"    row {error['line']}, column {error['column']}: {error['reason']}")
    if seconds > 0 and batch.rows_total:
        write(f"  {batch.rows_total / seconds:,.0f} rows/s")


class Command(BaseCommand):
    help = "Import a transactions CSV (or JSON) file; with --score, score every new row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        add_reading_options(parser)
        parser.add_argument("--score", action="store_true", help="score the imported rows")
        parser.add_argument(
            "--format", choices=BatchFormat.values, default=None, help="default: from the name"
        )
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["path"]))
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        mapping, name = mapping_from_options(options)
        input_format = options["format"] or (
            BatchFormat.JSON if path.suffix.lower() == ".json" else BatchFormat.CSV
        )
        started = time.perf_counter()
        try:
            batch = import_batch_create(
                owner=None,
                source=BatchSource.CLI,
                content=path,
                input_format=input_format,
                original_filename=path.name,
                mapping=mapping,
                mapping_name=name,
                mode=BatchMode.SCORE if options["score"] else BatchMode.IMPORT,
                chunk_size=options["chunk_size"],
                enqueue=False,
            )
        except (BatchInputError, ValueError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        batch = import_batch_run(
            batch_id=batch.pk, progress=lambda message: self.stderr.write(f"  {message}")
        )
        print_totals(self.stdout, batch, time.perf_counter() - started)
        if batch.status == BatchStatus.FAILED:
            raise CommandError(batch.error_message)
