from detection.features import account_totals
from detection.management.trigger_counts_command import TriggerCountsCommand


class Command(TriggerCountsCommand):
    help = (
        "Fold the accounts' transaction totals (PostgreSQL) into one row per account, as the "
        "scheduled task does every minute; with --rebuild, count every stored transaction "
        "again (after a restore that bypassed triggers)."
    )
    counts = account_totals.COUNTS
    what = "account total rows"
    rebuilt = "accounts"
