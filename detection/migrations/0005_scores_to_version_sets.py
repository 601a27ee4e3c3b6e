"""Move the per-decision model version links into shared version sets.

Every distinct combination of linked versions becomes one ModelVersionSet (key: the sorted
ids, comma-separated) and each decision points at its set. Decisions without links (the
rules alone) keep no set. The reverse recreates the link rows from the sets.
"""

import itertools

from django.db import migrations
from django.utils import timezone

UPDATE_CHUNK = 10_000


def _tables(apps):
    score = apps.get_model('detection', 'TransactionScore')
    version_set = apps.get_model('detection', 'ModelVersionSet')
    return score, score.model_versions.through, version_set, version_set.versions.through


def _forward_postgresql(schema_editor, score, links, version_set, members):
    q = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            'CREATE TEMPORARY TABLE sf_score_version_keys ON COMMIT DROP AS '
            'SELECT transactionscore_id AS score_id, '
            "string_agg(modelversion_id::text, ',' ORDER BY modelversion_id) AS key "
            f'FROM {q(links._meta.db_table)} GROUP BY transactionscore_id'
        )
        cursor.execute(
            f'INSERT INTO {q(version_set._meta.db_table)} (key, created_at) '
            'SELECT DISTINCT key, %s FROM sf_score_version_keys '
            'ON CONFLICT (key) DO NOTHING',
            [timezone.now()],
        )
        cursor.execute(
            f'INSERT INTO {q(members._meta.db_table)} (modelversionset_id, modelversion_id) '
            f"SELECT s.id, v::bigint FROM {q(version_set._meta.db_table)} s, "
            "unnest(string_to_array(s.key, ',')) AS v ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            f'UPDATE {q(score._meta.db_table)} t SET version_set_id = s.id '
            f'FROM sf_score_version_keys k JOIN {q(version_set._meta.db_table)} s '
            'ON s.key = k.key WHERE t.id = k.score_id'
        )


def _forward_generic(score, links, version_set, members, alias):
    set_ids: dict[str, int] = {}
    pending: dict[int, list[int]] = {}

    def set_id_for(version_ids):
        key = ','.join(str(pk) for pk in sorted(version_ids))
        if key not in set_ids:
            created = version_set.objects.using(alias).create(key=key, created_at=timezone.now())
            members.objects.using(alias).bulk_create(
                [members(modelversionset_id=created.pk, modelversion_id=pk) for pk in version_ids]
            )
            set_ids[key] = created.pk
        return set_ids[key]

    def flush(set_id):
        ids = pending.pop(set_id, [])
        if ids:
            score.objects.using(alias).filter(pk__in=ids).update(version_set_id=set_id)

    rows = (
        links.objects.using(alias)
        .order_by('transactionscore_id', 'modelversion_id')
        .values_list('transactionscore_id', 'modelversion_id')
        .iterator(chunk_size=UPDATE_CHUNK)
    )
    current, versions = None, []
    for score_id, version_id in itertools.chain(rows, [(None, None)]):
        if score_id != current and current is not None:
            set_id = set_id_for(versions)
            pending.setdefault(set_id, []).append(current)
            if len(pending[set_id]) >= UPDATE_CHUNK:
                flush(set_id)
            versions = []
        current = score_id
        versions.append(version_id)
    for set_id in list(pending):
        flush(set_id)


def scores_to_version_sets(apps, schema_editor):
    score, links, version_set, members = _tables(apps)
    if schema_editor.connection.vendor == 'postgresql':
        _forward_postgresql(schema_editor, score, links, version_set, members)
    else:
        _forward_generic(score, links, version_set, members, schema_editor.connection.alias)


def version_sets_to_links(apps, schema_editor):
    score, links, version_set, members = _tables(apps)
    q = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {q(links._meta.db_table)} (transactionscore_id, modelversion_id) '
            f'SELECT t.id, m.modelversion_id FROM {q(score._meta.db_table)} t '
            f'JOIN {q(members._meta.db_table)} m ON m.modelversionset_id = t.version_set_id'
        )


class Migration(migrations.Migration):

    dependencies = [
        ('detection', '0004_model_version_sets'),
    ]

    operations = [
        migrations.RunPython(scores_to_version_sets, version_sets_to_links),
    ]
