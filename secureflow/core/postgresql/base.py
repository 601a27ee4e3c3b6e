"""Django's PostgreSQL backend with a connection health check that costs no round trip.

With persistent connections (CONN_MAX_AGE) and CONN_HEALTH_CHECKS, Django checks the
connection at the start of every request with `SELECT 1`: one more round trip and one more
statement for PostgreSQL on every real-time decision. When PostgreSQL ends a session (a
restart, `pg_terminate_backend`, `idle_session_timeout`), the server sends the client a
FATAL message and closes the socket, so the socket of an ended session has something to
read. An idle session's socket has nothing to read: this backend then trusts the
connection without asking the server, and falls back to Django's `SELECT 1` whenever
anything arrived (or the socket can't be polled). A server that vanished without closing
its sockets (a network partition) is found by the next statement, as it would be by a
`SELECT 1` that waits for the TCP timeout.

JSON columns without an encoder of their own are written with `secureflow.core.fast_json`
(orjson, the same values as `json.dumps`): a real-time decision stores five of them.
"""

import select
from typing import Any

from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import Jsonb

from secureflow.core import fast_json


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_json_value(self, value: Any, encoder: Any) -> Any:
        if encoder is None:
            return Jsonb(value, dumps=fast_json.dumps)
        return super().adapt_json_value(value, encoder)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self) -> bool:
        raw = self.connection
        if raw is None or raw.closed:
            return False
        if not server_has_spoken(raw.fileno()):
            return True
        return super().is_usable()


def server_has_spoken(fd: int) -> bool:
    """Whether anything arrived on an idle session's socket (or it can't be polled)."""
    poller = select.poll()
    try:
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
