"""The commands that fold or rebuild counts kept by triggers (counterparty_days,
account_totals)."""

import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from detection.features.trigger_counts import TriggerKeptCounts


class TriggerCountsCommand(BaseCommand):
    counts: TriggerKeptCounts
    what: str  # e.g. "counterparty day rows"
    rebuilt: str  # what a rebuilt row is, e.g. "counterparty days"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="count all stored transactions again"
        )

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write(f"The {self.rebuilt} are kept on PostgreSQL only; nothing to do.")
            return
        started = time.perf_counter()
        if options["rebuild"]:
            written = self.counts.rebuild()
            self.stdout.write(
                f"Counted all stored transactions again: {written:,} {self.rebuilt} "
                f"in {time.perf_counter() - started:.1f} s"
            )
            return
        read, written = self.counts.compact()
        self.stdout.write(
            f"Folded {read:,} {self.what} into {written:,} in {time.perf_counter() - started:.1f} s"
        )
