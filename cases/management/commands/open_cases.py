"""Score stored transactions that have no decision yet and open cases for the flagged ones.

    python manage.py open_cases --days 7 [--max-cases 3000]
    python manage.py open_cases --since 2026-11-01 --until 2026-11-15

For history loaded in bulk (demo data, a bank's export): transactions posted through the API
or a batch import are scored and get their cases as they arrive.
"""

from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cases.backfill import open_cases_for_unscored
from transactions.models import Transaction


def _moment(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"not a date or date-time: {value!r}")
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Score stored transactions without a decision and open cases for the flagged ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help="the last N days before the newest stored transaction (default 7)",
        )
        parser.add_argument("--since", help="from this date or date-time (bank local time)")
        parser.add_argument("--until", help="up to this date or date-time (exclusive)")
        parser.add_argument(
            "--max-cases", type=int, default=None, help="open at most N cases, newest first"
        )

    def handle(self, *args: object, **options: object) -> None:
        until = _moment(options["until"]) if options["until"] else None
        if options["since"]:
            if options["days"] is not None:
                raise CommandError("use --days or --since, not both")
            since = _moment(options["since"])
        else:
            newest = (
                Transaction.objects.order_by("-occurred_at")
                .values_list("occurred_at", flat=True)
                .first()
            )
            if newest is None:
                raise CommandError("there are no transactions")
            days = 7.0 if options["days"] is None else float(options["days"])
            if days <= 0:
                raise CommandError("--days must be above 0")
            since = (until or newest + timedelta(microseconds=1)) - timedelta(days=days)
        if options["max_cases"] is not None and options["max_cases"] < 0:
            raise CommandError("--max-cases cannot be negative")
        result = open_cases_for_unscored(
            since=since, until=until, max_cases=options["max_cases"], log=self.stdout.write
        )
        seconds = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
        self.stdout.write(
            f"Scored {result.stored:,} flagged of {result.window_rows - result.already_scored:,} "
            f"unscored transactions since {since:%Y-%m-%d %H:%M}; opened "
            f"{result.cases_opened:,} cases ({seconds})"
        )
