from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('detection', '0005_scores_to_version_sets'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='transactionscore',
            name='model_versions',
        ),
    ]
