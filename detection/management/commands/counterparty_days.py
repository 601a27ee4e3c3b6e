from detection.features import counterparty_days
from detection.management.trigger_counts_command import TriggerCountsCommand


class Command(TriggerCountsCommand):
    help = (
        "Fold the per-day payment counts of the counterparties (PostgreSQL) into one row per "
        "counterparty and day, as the scheduled task does every minute; with --rebuild, "
        "count every stored transaction again (after a restore that bypassed triggers)."
    )
    counts = counterparty_days.COUNTS
    what = "counterparty day rows"
    rebuilt = "counterparty days"
