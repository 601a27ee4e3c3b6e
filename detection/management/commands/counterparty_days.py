import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from detection.features import counterparty_days


class Command(BaseCommand):
    help = (
        "Fold the per-day payment counts of the counterparties (PostgreSQL) into one row per "
        "counterparty and day, as the scheduled task does every minute; with --rebuild, "
        "count every stored transaction again (after a restore that bypassed triggers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="count all stored transactions again"
        )

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("Counterparty day counts are kept on PostgreSQL only; nothing to do.")
            return
        started = time.perf_counter()
        if options["rebuild"]:
            written = counterparty_days.rebuild()
            self.stdout.write(
                f"Counted all stored transactions again: {written:,} counterparty days "
                f"in {time.perf_counter() - started:.1f} s"
            )
            return
        read, written = counterparty_days.compact()
        self.stdout.write(
            f"Folded {read:,} counterparty day rows into {written:,} "
            f"in {time.perf_counter() - started:.1f} s"
        )
