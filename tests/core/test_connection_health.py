"""The PostgreSQL health check: an idle session is trusted without a statement; a session
the server ended is found and replaced before the request uses it."""

import select

import psycopg2
import pytest
from django.db import connection, connections


@pytest.fixture
def other_session(postgres_required):
    """A second session on the test database, outside Django."""
    other = psycopg2.connect(**connection.get_connection_params())
    yield other
    other.close()


def _backend_pid(sql: str = "SELECT pg_backend_pid()") -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[-1]


def _last_statement(other, pid: int) -> str:
    with other.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def _wait_readable(fd: int, seconds: float = 5.0) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    assert poller.poll(seconds * 1000), "the server did not end the session"


@pytest.mark.django_db(transaction=True)
def test_backend_is_ours(postgres_required):
    from secureflow.core.postgresql.base import DatabaseWrapper

    assert isinstance(connections["default"], DatabaseWrapper)


@pytest.mark.django_db(transaction=True)
def test_idle_session_passes_without_a_statement(other_session):
    pid = _backend_pid("SELECT 'health-marker', pg_backend_pid()")
    assert connection.is_usable()
    assert _last_statement(other_session, pid) == "SELECT 'health-marker', pg_backend_pid()"


@pytest.mark.django_db(transaction=True)
def test_ended_session_is_replaced_before_use(other_session):
    pid = _backend_pid()
    with other_session.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    _wait_readable(connection.connection.fileno())
    assert not connection.is_usable()

    # what a request does first: the check closes the dead session...
    connection.health_check_enabled = True
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.connection is None
    # ...and its first statement runs on a new one
    assert _backend_pid() != pid


@pytest.mark.django_db(transaction=True)
def test_closed_connection_is_not_usable(postgres_required):
    connection.ensure_connection()
    connection.connection.close()
    assert not connection.is_usable()
    connection.close()
