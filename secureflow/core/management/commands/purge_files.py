"""python manage.py purge_files [--older-than-days N] [--dry-run]

Remove the files (uploaded batch files, CSVs of rejected rows, label import error files) of
the jobs that finished more than N days ago (default: SECUREFLOW_FILE_RETENTION_DAYS), as
the daily beat task does. The jobs' rows stay.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secureflow.core.retention import old_files_purge, retention_days


class Command(BaseCommand):
    help = "Remove the files of batches and label imports that finished long ago."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help="jobs finished more than this many days ago (default: "
            "SECUREFLOW_FILE_RETENTION_DAYS)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, remove nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is None:
            days = retention_days()
            if days <= 0:
                self.stdout.write("SECUREFLOW_FILE_RETENTION_DAYS is 0: files are kept.")
                return
        if days < 1:
            raise CommandError("--older-than-days must be at least 1")
        report = old_files_purge(days=days, dry_run=options["dry_run"])
        verb = "Would remove" if options["dry_run"] else "Removed"
        self.stdout.write(
            f"{verb} the files of {report.batches} batches and {report.label_imports} "
            f"label imports finished over {report.days} days ago."
        )
