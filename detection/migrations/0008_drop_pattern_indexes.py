from django.db import migrations

from secureflow.core.pattern_indexes import DropPatternIndexes


class Migration(migrations.Migration):
    dependencies = [
        ("detection", "0007_account_feature_summaries"),
    ]

    operations = [
        DropPatternIndexes("detection", "transactionscore", ["outcome"]),
    ]
