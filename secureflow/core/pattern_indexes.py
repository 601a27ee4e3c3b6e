"""Dropping the `LIKE 'prefix%'` indexes PostgreSQL gets for unique or indexed text columns.

For every `CharField` with `unique=True` or `db_index=True`, Django's PostgreSQL backend
builds a second index with `varchar_pattern_ops` (named `..._like`) so that case-sensitive
`startswith` / `LIKE 'abc%'` filters can use an index. SecureFlow never filters these
columns that way (exact matches use the plain index; searches use `icontains`, which no
btree serves), so each such index only costs an index entry on every insert: on the
real-time path and in batch imports. `DropPatternIndexes` removes them from PostgreSQL and
does nothing on other databases. Reversing it does nothing: nothing relies on them, and
Django drops them with `IF EXISTS` when it alters such a field later. A later migration
that changes such a field's type (its max_length, say) makes Django build the index again:
follow it with another `DropPatternIndexes`.
"""

from typing import Any

from django.db import migrations

_FIND_SQL = """
SELECT i.relname
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
  JOIN pg_opclass o ON o.oid = x.indclass[0]
 WHERE t.relname = %s AND t.relnamespace = to_regnamespace(current_schema())
   AND x.indnatts = 1 AND a.attname = %s AND o.opcname = 'varchar_pattern_ops'
"""


def pattern_index_names(cursor: Any, table: str, column: str) -> list[str]:
    """Names of the single-column `varchar_pattern_ops` indexes on `table.column`."""
    cursor.execute(_FIND_SQL, [table, column])
    return sorted(row[0] for row in cursor.fetchall())


class DropPatternIndexes(migrations.RunPython):
    """Drop the `varchar_pattern_ops` indexes of `model_name`'s `fields` (PostgreSQL only)."""

    def __init__(self, app_label: str, model_name: str, fields: list[str]) -> None:
        self.target = (app_label, model_name, tuple(fields))
        super().__init__(self._drop, migrations.RunPython.noop, elidable=False)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        app_label, model_name, fields = self.target
        return (
            f"{__name__}.{type(self).__name__}",
            [app_label, model_name, list(fields)],
            {},
        )

    def describe(self) -> str:
        app_label, model_name, fields = self.target
        return f"Drop the LIKE-prefix indexes of {app_label}.{model_name} {', '.join(fields)}"

    def _drop(self, apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        app_label, model_name, fields = self.target
        model = apps.get_model(app_label, model_name)
        table = model._meta.db_table
        with connection.cursor() as cursor:
            for name in fields:
                column = model._meta.get_field(name).column
                for index in pattern_index_names(cursor, table, column):
                    quoted = connection.ops.quote_name(index)
                    schema_editor.execute(f"DROP INDEX IF EXISTS {quoted}")
