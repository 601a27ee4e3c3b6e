"""The LIKE-prefix (`varchar_pattern_ops`) indexes of the ingestion tables are gone on
PostgreSQL, the unique indexes they doubled still hold, and the operation drops them."""

import pytest
from django.apps import apps
from django.db import IntegrityError, connection
from django.db import transaction as db_transaction
from django.db.migrations.loader import MigrationLoader

from secureflow.core.pattern_indexes import DropPatternIndexes, pattern_index_names
from transactions.models import Customer

DROPPED = [
    ("transactions", "transaction", "external_id"),
    ("transactions", "transaction", "idempotency_key"),
    ("transactions", "customer", "external_id"),
    ("transactions", "account", "number"),
    ("transactions", "counterparty", "identifier"),
    ("detection", "transactionscore", "outcome"),
]
# the index an exact match of each column uses: the column itself, unless named here
EXACT_MATCH_INDEX = {
    ("transactions", "transaction", "idempotency_key"): ["submitted_by_id", "idempotency_key"],
}


def _table_and_column(app_label: str, model_name: str, field: str) -> tuple[str, str]:
    model = apps.get_model(app_label, model_name)
    return model._meta.db_table, model._meta.get_field(field).column


def _index_columns(table: str) -> list[list[str]]:
    """The columns of each index and unique constraint of `table`, in index order."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [spec["columns"] for spec in constraints.values() if spec["index"] or spec["unique"]]


@pytest.mark.parametrize(("app_label", "model_name", "field"), DROPPED)
def test_migrated_database_has_no_pattern_index(postgres_required, app_label, model_name, field):
    table, column = _table_and_column(app_label, model_name, field)
    with connection.cursor() as cursor:
        assert pattern_index_names(cursor, table, column) == []
    # the exact-match index stays
    expected = EXACT_MATCH_INDEX.get((app_label, model_name, field), [column])
    assert any(columns[: len(expected)] == expected for columns in _index_columns(table))


@pytest.mark.django_db(transaction=True)
def test_unique_ids_still_enforced(postgres_required):
    Customer.objects.create(external_id="C-UNIQUE", name="One")
    with pytest.raises(IntegrityError), db_transaction.atomic():
        Customer.objects.create(external_id="C-UNIQUE", name="Two")


@pytest.mark.django_db(transaction=True)
def test_operation_drops_a_pattern_index(postgres_required):
    table, column = _table_and_column("transactions", "transaction", "external_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE INDEX "txn_external_id_pattern_probe" ON "{table}" '
            f'("{column}" varchar_pattern_ops)'
        )
        assert pattern_index_names(cursor, table, column) == ["txn_external_id_pattern_probe"]
    operation = DropPatternIndexes("transactions", "transaction", ["external_id"])
    state = MigrationLoader(connection).project_state()
    with connection.schema_editor() as editor:
        operation.database_forwards("transactions", editor, state, state)
    with connection.cursor() as cursor:
        assert pattern_index_names(cursor, table, column) == []
    assert [column] in _index_columns(table)


def test_operation_deconstructs_to_its_arguments():
    operation = DropPatternIndexes("detection", "transactionscore", ["outcome"])
    path, args, kwargs = operation.deconstruct()
    assert path == "secureflow.core.pattern_indexes.DropPatternIndexes"
    assert (args, kwargs) == (["detection", "transactionscore", ["outcome"]], {})
