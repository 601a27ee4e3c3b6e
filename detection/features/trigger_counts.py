"""Counts kept by PostgreSQL triggers on the transactions table, as delta rows that
writers only ever insert and a periodic compaction folds (counterparty_days.py,
account_totals.py): installing, rebuilding and compacting them."""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

TRANSACTIONS_TABLE = "transactions_transaction"
# (event, function suffix, transition tables) of the statement-level triggers; a trigger
# and the function it runs share the name `{name}_{suffix}`
_EVENTS = (
    ("INSERT", "inserted", "REFERENCING NEW TABLE AS new_rows"),
    ("DELETE", "deleted", "REFERENCING OLD TABLE AS old_rows"),
    ("UPDATE", "updated", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("TRUNCATE", "truncated", ""),
)


@dataclass(frozen=True)
class TriggerKeptCounts:
    name: str  # prefix of the trigger functions and triggers
    counts_table: str
    # CREATE FUNCTION {name}_inserted(), _deleted(), _updated(): statement-level trigger
    # functions reading the transition tables new_rows / old_rows (a truncate empties the
    # counts table: that function is written here)
    functions_sql: str
    rebuild_sql: str  # every count again from the stored transactions
    compact_sql: str  # one statement answering (rows read, rows written)
    compact_lock: str  # the advisory lock key that keeps compactions one at a time

    @property
    def install_sql(self) -> str:
        """The trigger functions and the triggers on the transactions table."""
        parts = [
            self.functions_sql,
            f"""
CREATE OR REPLACE FUNCTION {self.name}_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {self.counts_table};
    RETURN NULL;
END $$;
""",  # noqa: S608 - our own table name
        ]
        for event, suffix, transitions in _EVENTS:
            trigger = f"{self.name}_{suffix}"
            parts.append(
                f"DROP TRIGGER IF EXISTS {trigger} ON {TRANSACTIONS_TABLE};\n"
                f"CREATE TRIGGER {trigger} AFTER {event} ON {TRANSACTIONS_TABLE}\n"
                f"    {transitions} FOR EACH STATEMENT EXECUTE FUNCTION {trigger}();\n"
            )
        return "\n".join(parts)

    @property
    def uninstall_sql(self) -> str:
        return "".join(
            f"DROP TRIGGER IF EXISTS {self.name}_{suffix} ON {TRANSACTIONS_TABLE};\n"
            f"DROP FUNCTION IF EXISTS {self.name}_{suffix}();\n"
            for _, suffix, _ in _EVENTS
        )

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
