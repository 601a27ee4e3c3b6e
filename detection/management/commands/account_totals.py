import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from detection.features import account_totals


class Command(BaseCommand):
    help = (
        "Fold the accounts' transaction totals (PostgreSQL) into one row per account, as the "
        "scheduled task does every minute; with --rebuild, count every stored transaction "
        "again (after a restore that bypassed triggers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="count all stored transactions again"
        )

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("Account totals are kept on PostgreSQL only; nothing to do.")
            return
        started = time.perf_counter()
        if options["rebuild"]:
            written = account_totals.rebuild()
            self.stdout.write(
                f"Counted all stored transactions again: {written:,} accounts "
                f"in {time.perf_counter() - started:.1f} s"
            )
            return
        read, written = account_totals.compact()
        self.stdout.write(
            f"Folded {read:,} account total rows into {written:,} "
            f"in {time.perf_counter() - started:.1f} s"
        )
