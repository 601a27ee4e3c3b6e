"""The shipped rule limits and outcome thresholds (admins edit them afterwards)."""

from decimal import Decimal

from django.db import migrations

# code, name, category, value, unit, severity, description
DEFAULTS = [
    (
        "velocity_30s",
        "Transfers in 30 seconds",
        "velocity",
        "2",
        "transfers",
        "block",
        "More transfers than this from one account within 30 seconds is a hit.",
    ),
    (
        "velocity_10m",
        "Transfers in 10 minutes",
        "velocity",
        "5",
        "transfers",
        "review",
        "More transfers than this from one account within 10 minutes is a hit.",
    ),
    (
        "velocity_1h",
        "Transfers in 1 hour",
        "velocity",
        "15",
        "transfers",
        "review",
        "More transfers than this from one account within 1 hour is a hit.",
    ),
    (
        "amount_limit_O",
        "Own-account transfer limit",
        "amount",
        "200000",
        "AED",
        "review",
        "Largest single own-account transfer (O) allowed without review.",
    ),
    (
        "amount_limit_I",
        "Internal transfer limit",
        "amount",
        "100000",
        "AED",
        "review",
        "Largest single internal transfer (I) allowed without review.",
    ),
    (
        "amount_limit_L",
        "Local transfer limit",
        "amount",
        "50000",
        "AED",
        "review",
        "Largest single local transfer to another bank (L) allowed without review.",
    ),
    (
        "amount_limit_Q",
        "Quick payment limit",
        "amount",
        "10000",
        "AED",
        "review",
        "Largest single quick payment (Q) allowed without review.",
    ),
    (
        "amount_limit_S",
        "Overseas transfer limit",
        "amount",
        "25000",
        "AED",
        "review",
        "Largest single overseas transfer (S) allowed without review.",
    ),
    (
        "monthly_cap",
        "Monthly cap",
        "monthly",
        "200000",
        "AED",
        "review",
        "Most one account may send in a calendar month (bank local time), this transfer included.",
    ),
    (
        "dynamic_limit_k",
        "Dynamic limit (k)",
        "dynamic",
        "4",
        "× std",
        "review",
        "An amount above the account's mean + k × standard deviation of its earlier amounts is a hit.",
    ),
    (
        "dynamic_limit_min_history",
        "Dynamic limit: history needed",
        "dynamic",
        "10",
        "transactions",
        "review",
        "The dynamic limit applies only once the account has at least this many earlier transactions.",
    ),
    (
        "review_threshold",
        "Review threshold",
        "threshold",
        "0.5",
        "risk score",
        "review",
        "A risk score at or above this sends the transaction to review.",
    ),
    (
        "block_threshold",
        "Block threshold",
        "threshold",
        "0.9",
        "risk score",
        "block",
        "A risk score at or above this blocks the transaction.",
    ),
]


def create_defaults(apps, schema_editor):
    RuleLimit = apps.get_model("detection", "RuleLimit")
    for code, name, category, value, unit, severity, description in DEFAULTS:
        RuleLimit.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "value": Decimal(value),
                "unit": unit,
                "severity": severity,
                "description": description,
            },
        )


def remove_defaults(apps, schema_editor):
    RuleLimit = apps.get_model("detection", "RuleLimit")
    RuleLimit.objects.filter(code__in=[row[0] for row in DEFAULTS], changes__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("detection", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
