"""Prepared statements: prepared once per database session, the same rows as the plain
query, still there after a rollback, prepared again on a new connection."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from secureflow.core.prepared import PreparedStatement
from tests.api.conftest import transaction_body

SQL = "SELECT %(a)s::int + %(b)s::int, %(a)s::int * 2"


@pytest.mark.django_db(transaction=True)
def test_prepared_once_per_session(postgres_required):
    statement = PreparedStatement("secureflow_test_sum", SQL)
    assert statement.prepare_sql.endswith("SELECT $1::int + $2::int, $1::int * 2")
    with CaptureQueriesContext(connection) as ctx:
        for a in range(3):
            with connection.cursor() as cursor:
                statement.execute(cursor, {"a": a, "b": 10})
                assert cursor.fetchone() == (a + 10, 2 * a)
    sent = [q["sql"] for q in ctx.captured_queries]
    assert sum(s.startswith("PREPARE") for s in sent) == 1
    assert sum(s.startswith("EXECUTE secureflow_test_sum(") for s in sent) == 3

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        with connection.cursor() as cursor:
            statement.execute(cursor, {"a": 1, "b": 1})
        raise ZeroDivisionError  # the transaction rolls back; the statement stays prepared
    with connection.cursor() as cursor:
        statement.execute(cursor, {"a": 2, "b": 2})
        assert cursor.fetchone() == (4, 4)

    connection.close()  # a new session prepares it again
    with CaptureQueriesContext(connection) as ctx, connection.cursor() as cursor:
        statement.execute(cursor, {"a": 5, "b": 5})
        assert cursor.fetchone() == (10, 10)
    assert ctx.captured_queries[0]["sql"].startswith("PREPARE")


@pytest.mark.django_db
def test_turned_off_runs_the_plain_query(postgres_required, settings):
    settings.SECUREFLOW_DB_PREPARED_STATEMENTS = False
    statement = PreparedStatement("secureflow_test_plain", SQL)
    with CaptureQueriesContext(connection) as ctx, connection.cursor() as cursor:
        statement.execute(cursor, {"a": 3, "b": 4})
        assert cursor.fetchone() == (7, 6)
    assert not any("PREPARE" in q["sql"] or "EXECUTE" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("prepared", [True, False])
def test_submission_with_and_without_prepared_statements(
    postgres_required, settings, token_client, prepared
):
    settings.SECUREFLOW_DB_PREPARED_STATEMENTS = prepared
    client = token_client("bank")
    first = client.post("/api/v1/transactions/", transaction_body(id="P-1"), format="json")
    second = client.post(
        "/api/v1/transactions/",
        transaction_body(id="P-2", timestamp="2026-03-01T10:16:00Z"),
        format="json",
    )
    replay = client.post("/api/v1/transactions/", transaction_body(id="P-1"), format="json")
    assert (first.status_code, second.status_code, replay.status_code) == (201, 201, 200)
    assert replay.json() == first.json()
