from django.db import migrations

from secureflow.core.pattern_indexes import DropPatternIndexes


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0005_covering_history_indexes"),
    ]

    operations = [
        DropPatternIndexes("transactions", "transaction", ["external_id", "idempotency_key"]),
        DropPatternIndexes("transactions", "customer", ["external_id"]),
        DropPatternIndexes("transactions", "account", ["number"]),
        DropPatternIndexes("transactions", "counterparty", ["identifier"]),
    ]
