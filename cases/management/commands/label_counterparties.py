"""Set each feedback label's counterparty from its transaction where they differ."""

from django.core.management.base import BaseCommand
from django.db import connection

from cases import label_counterparties


class Command(BaseCommand):
    help = (
        "Set each feedback label's counterparty from its transaction (PostgreSQL), as the "
        "triggers do: after a restore or load that bypassed triggers."
    )

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("Nothing to do: only PostgreSQL keeps the labels' counterparty.")
            return
        changed = label_counterparties.refill(connection)
        self.stdout.write(f"Set the counterparty of {changed:,} feedback labels.")
