"""Counts kept by PostgreSQL triggers on the transactions table, as delta rows that
writers only ever insert and a periodic compaction folds (counterparty_days.py,
account_totals.py): installing, rebuilding and compacting them."""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction


@dataclass(frozen=True)
class TriggerKeptCounts:
    install_sql: str  # the trigger functions and triggers
    uninstall_sql: str
    rebuild_sql: str  # every count again from the stored transactions
    compact_sql: str  # one statement answering (rows read, rows written)
    compact_lock: str  # the advisory lock key that keeps compactions one at a time

    def install(self, schema_editor: Any) -> None:
        """Create the triggers and count the transactions already stored (PostgreSQL;
        elsewhere nothing)."""
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.install_sql)
            schema_editor.execute(self.rebuild_sql)

    def uninstall(self, schema_editor: Any) -> None:
        """Drop the triggers and their functions (PostgreSQL; elsewhere nothing)."""
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.uninstall_sql)

    def rebuild(self) -> int:
        """Count every stored transaction again; returns the rows written. PostgreSQL
        only (elsewhere 0)."""
        if connection.vendor != "postgresql":
            return 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(self.rebuild_sql)
            return cursor.rowcount

    def compact(self) -> tuple[int, int]:
        """Fold the delta rows: returns (rows read, rows written). PostgreSQL only
        (elsewhere (0, 0))."""
        if connection.vendor != "postgresql":
            return 0, 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.compact_lock])
            cursor.execute(self.compact_sql)
            read, written = cursor.fetchone()
            return int(read), int(written)
