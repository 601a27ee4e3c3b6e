"""Generate a deterministic demo bank with labelled fraud and load it (and/or write CSV).

    python manage.py generate_demo_data --customers 1000 --days 120 --seed 42
    python manage.py generate_demo_data --customers 200 --days 60 --seed 1 \\
        --end 2026-11-01 --csv var/demo.csv --no-load

The same --customers, --days, --seed and --end (and the same SECUREFLOW_TIME_ZONE) always
give the same bank, down to the transaction ids; --end defaults to today's date in UTC, so
fix it to reproduce a run on another day. The window is the --days days before --end.
Loading is idempotent: running the same command again inserts nothing new.
"""

from datetime import UTC, date, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank, write_canonical_csv


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--end must be a date as YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = "Generate a deterministic demo bank with labelled fraud scenarios and load it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=1000)
        parser.add_argument("--days", type=int, default=120)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--end",
            type=_date,
            default=None,
            help="day after the last generated day, YYYY-MM-DD (default: today in UTC)",
        )
        parser.add_argument("--csv", default=None, help="also write the canonical CSV here")
        parser.add_argument(
            "--no-load", action="store_true", help="do not insert into the database"
        )

    def handle(self, *args: object, **options: object) -> None:
        customers = int(options["customers"])
        days = int(options["days"])
        if customers < 1 or days < 1:
            raise CommandError("--customers and --days must be at least 1")
        end = options["end"] or datetime.now(UTC).date()
        if options["no_load"] and not options["csv"]:
            raise CommandError("--no-load without --csv would produce nothing")

        bank = generate_demo_bank(
            customers=customers,
            days=days,
            seed=int(options["seed"]),
            end=end,
            time_zone=settings.TIME_ZONE,
        )
        summary = bank.summary()
        out = self.stdout
        out.write(
            f"Generated demo bank {bank.tag}: {bank.start:%Y-%m-%d %H:%M} to "
            f"{bank.end:%Y-%m-%d %H:%M} UTC ({days} days before {end.isoformat()}, seed "
            f"{options['seed']}) in {bank.seconds:.1f} s"
        )
        for name in ("customers", "accounts", "counterparties", "transactions"):
            out.write(f"  {name:<15} {summary[name]:>10,}")
        total = max(summary["transactions"], 1)
        out.write(f"  {'fraud':<15} {summary['fraud']:>10,} ({summary['fraud'] / total:.2%})")
        for name, count in bank.fraud_by_scenario().items():
            out.write(f"    {name:<20} {count:>7,}")

        if options["csv"]:
            write_canonical_csv(bank.transactions, options["csv"])
            out.write(f"Wrote {options['csv']}")
        if options["no_load"]:
            return
        result = bulk_load_frame(
            bank.transactions,
            customers=bank.customers,
            accounts=bank.accounts,
            counterparties=bank.counterparties,
        )
        out.write(
            f"Loaded in {result.seconds:.1f} s: {result.inserted:,} transactions inserted, "
            f"{result.skipped:,} already present; created {result.customers_created:,} "
            f"customers, {result.accounts_created:,} accounts, "
            f"{result.counterparties_created:,} counterparties"
        )
