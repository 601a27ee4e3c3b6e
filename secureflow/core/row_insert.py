"""Insert one model instance with a single prepared statement (PostgreSQL hot paths).

`Model.save()` compiles its INSERT on every call, and catching a duplicate needs a
savepoint (two more round trips). `insert_row` sends one prepared
`INSERT ... [ON CONFLICT DO NOTHING] RETURNING id` and sets the instance's primary key.
"""

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

from secureflow.core.prepared import PreparedStatement

_statements: dict[tuple[type[Model], bool], PreparedStatement] = {}


_fields: dict[tuple[type[Model], tuple[str, ...]], list[Any]] = {}


def insert_fields(model: type[Model], *, exclude: tuple[str, ...] = ()) -> list[Any]:
    """The columns an INSERT of `model` writes (not the primary key, not `exclude`)."""
    fields = _fields.get((model, exclude))
    if fields is None:
        fields = _fields[(model, exclude)] = [
            field
            for field in model._meta.concrete_fields
            if not field.primary_key and field.attname not in exclude
        ]
    return fields


def insert_columns(
    model: type[Model], *, prefix: str, exclude: tuple[str, ...] = ()
) -> tuple[str, str]:
    """("col, ...", "%(prefix0)s, ...") for an INSERT of `model`: its column list and its
    value placeholders, named as `row_values` names the values."""
    fields = insert_fields(model, exclude=exclude)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(f"%({prefix}{i})s" for i in range(len(fields)))
    return columns, values


def _statement(model: type[Model], ignore_conflicts: bool) -> PreparedStatement:
    statement = _statements.get((model, ignore_conflicts))
    if statement is None:
        quote = connection.ops.quote_name
        columns, values = insert_columns(model, prefix="v")
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        statement = _statements[(model, ignore_conflicts)] = PreparedStatement(
            f"secureflow_insert_{model._meta.db_table}{'_ignore' if ignore_conflicts else ''}",
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
            f"VALUES ({values}){conflict} RETURNING {quote(model._meta.pk.column)}",
        )
    return statement


def row_values(
    instance: Model, *, prefix: str = "v", exclude: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The instance's column values as the database takes them, named {prefix}0, {prefix}1..."""
    db = connections[DEFAULT_DB_ALIAS]  # `connection` itself, looked up once, not per field
    return {
        f"{prefix}{i}": field.get_db_prep_save(field.pre_save(instance, True), db)
        for i, field in enumerate(insert_fields(type(instance), exclude=exclude))
    }


def mark_saved(instance: Model, pk: Any) -> None:
    """Make `instance` what `save()` would have left: its primary key set, not adding."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS  # `connection`'s alias


def insert_row(instance: Model, *, ignore_conflicts: bool = False) -> bool:
    """Insert `instance` (PostgreSQL); with ignore_conflicts, False (and nothing stored)
    when a unique constraint already holds a row like it."""
    with connection.cursor() as cursor:
        _statement(type(instance), ignore_conflicts).execute(cursor, row_values(instance))
        row = cursor.fetchone()
    if row is None:
        return False
    mark_saved(instance, row[0])
    return True
