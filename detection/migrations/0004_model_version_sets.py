import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('detection', '0003_retraining_shadow_promotions'),
    ]

    operations = [
        migrations.CreateModel(
            name='ModelVersionSet',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(help_text='The version ids, sorted, comma-separated.', max_length=255, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('versions', models.ManyToManyField(related_name='version_sets', to='detection.modelversion')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='transactionscore',
            name='version_set',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='scores', to='detection.modelversionset'),
        ),
    ]
