from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from cases.models import Case
from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import ModelVersion, TransactionScore
from transactions.models import Transaction


class Command(BaseCommand):
    help = (
        "Prepare a demo installation once: demo bank data when the database has no "
        "transactions, trained models when none is active, decisions and cases for the "
        "last days of the demo when nothing was scored yet, and the dashboard's rollup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=1000)
        parser.add_argument("--days", type=int, default=120)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args: object, **options: object) -> None:
        if not Transaction.objects.exists():
            self.stdout.write("==> Generating demo bank data")
            call_command(
                "generate_demo_data",
                customers=options["customers"],
                days=options["days"],
                seed=options["seed"],
                stdout=self.stdout,
            )
        active = ModelVersion.objects.filter(is_active=True)
        if not active.filter(feature_spec_hash=FEATURE_SPEC_HASH).exists():
            # none yet, or trained on an earlier definition of the features (refused)
            self.stdout.write("==> Training detection models (about a minute)")
            call_command("train_models", stdout=self.stdout)
        if not TransactionScore.objects.exists() and not Case.objects.exists():
            self.stdout.write("==> Scoring the last week of the demo and opening its cases")
            call_command("open_cases", days=7, stdout=self.stdout)
            self.stdout.write("==> Building the dashboard's daily figures")
            call_command("dashboard_rollup", all=True, stdout=self.stdout)
            if connection.vendor == "postgresql":
                self.stdout.write("==> Summarising each account's history for real-time scoring")
                call_command("rebuild_feature_summaries", stdout=self.stdout)
                call_command("counterparty_days", stdout=self.stdout)
