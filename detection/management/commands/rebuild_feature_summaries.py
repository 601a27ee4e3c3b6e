import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from detection.features.summaries import rebuild_summaries


class Command(BaseCommand):
    help = (
        "Write every account's feature summary from its stored history (PostgreSQL), e.g. "
        "after a bulk load: the next real-time decision of each account then reads one row "
        "instead of its whole history. Decisions rebuild missing or outdated summaries "
        "themselves; this only saves them the first read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", type=int, action="append", dest="accounts", help="account id (repeat)"
        )

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("Feature summaries are kept on PostgreSQL only; nothing to do.")
            return
        started = time.perf_counter()
        written = rebuild_summaries(account_ids=options["accounts"])
        self.stdout.write(
            f"Wrote {written:,} account feature summaries in {time.perf_counter() - started:.1f} s"
        )
