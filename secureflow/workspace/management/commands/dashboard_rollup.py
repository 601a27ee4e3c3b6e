"""Build or rebuild the dashboard's daily rollup for a range (after loading history).

    python manage.py dashboard_rollup [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--all]

Without dates: the last 90 days up to the newest transaction. --all: every day from the
oldest to the newest transaction. Days are aggregated a week at a time and stored as
they are done, so an interrupted run keeps what it finished.
"""

import time
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from secureflow.workspace import rollup
from transactions.models import Transaction

DEFAULT_DAYS = 90


class Command(BaseCommand):
    help = "Build or rebuild the dashboard's daily rollup."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat)
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat)
        parser.add_argument("--all", action="store_true", help="every day with transactions")

    def handle(self, *args: object, **options: Any) -> None:
        newest = rollup.newest_day()
        if newest is None:
            self.stdout.write("No transactions: nothing to aggregate.")
            return
        date_to = options["date_to"] or newest
        if options["all"]:
            oldest = Transaction.objects.order_by("occurred_at").values_list(
                "occurred_at", flat=True
            )[:1]
            date_from = timezone.localdate(oldest[0], rollup.bank_zone())
        else:
            date_from = options["date_from"] or date_to - timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            raise CommandError("--from is after --to")
        rollup.watermark_advance()
        days = rollup.days_between(date_from, date_to)
        started = time.perf_counter()
        done = 0
        for i in range(0, len(days), rollup.WINDOW_DAYS):
            rows = rollup.daily_activity_refresh(days=days[i : i + rollup.WINDOW_DAYS])
            done += sum(row.transactions for row in rows)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Aggregated {len(days)} days ({date_from} to {date_to}), {done:,} transactions, "
            f"in {elapsed:.1f} s"
        )
