"""Each feedback label carries its transaction's counterparty, kept by PostgreSQL
triggers, so that the real-time features find a payee's labels by an index on the labels
(detection/features/realtime.py, row 3) instead of joining all labels to all of the
payee's transactions: with 60,000 labels that join cost a decision about 20 ms, and grew
with every case an investigator closed.

* a row trigger on the labels sets the counterparty from the transaction on every insert
  (the ORM, bulk inserts, `COPY`) and when a label is moved to another transaction;
* a statement-level trigger on the transactions table follows a transaction that moves
  to another counterparty.

PostgreSQL only: elsewhere the column stays empty and the features join the labels to
the transactions (the ORM reference in realtime.py)."""

from typing import Any

_LABELS = "cases_feedbacklabel"
_TXN = "transactions_transaction"

_INSTALL_SQL = f"""
CREATE OR REPLACE FUNCTION secureflow_label_counterparty_set() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.counterparty_id := (SELECT counterparty_id FROM {_TXN} WHERE id = NEW.transaction_id);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS secureflow_label_counterparty_set ON {_LABELS};
CREATE TRIGGER secureflow_label_counterparty_set
    BEFORE INSERT OR UPDATE OF transaction_id ON {_LABELS}
    FOR EACH ROW EXECUTE FUNCTION secureflow_label_counterparty_set();

CREATE OR REPLACE FUNCTION secureflow_label_counterparty_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {_LABELS} f SET counterparty_id = n.counterparty_id
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE f.transaction_id = n.id AND n.counterparty_id IS DISTINCT FROM o.counterparty_id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS secureflow_label_counterparty_moved ON {_TXN};
CREATE TRIGGER secureflow_label_counterparty_moved AFTER UPDATE ON {_TXN}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION secureflow_label_counterparty_moved();
"""  # noqa: S608 - our own table names

# labels whose counterparty is not their transaction's (all of them before the triggers
# existed; after a restore or load that bypassed triggers, the labels it wrote)
_REFILL_SQL = f"""
UPDATE {_LABELS} f SET counterparty_id = t.counterparty_id
  FROM {_TXN} t
 WHERE t.id = f.transaction_id AND f.counterparty_id IS DISTINCT FROM t.counterparty_id
"""  # noqa: S608 - our own table names

_UNINSTALL_SQL = f"""
DROP TRIGGER IF EXISTS secureflow_label_counterparty_set ON {_LABELS};
DROP TRIGGER IF EXISTS secureflow_label_counterparty_moved ON {_TXN};
DROP FUNCTION IF EXISTS secureflow_label_counterparty_set();
DROP FUNCTION IF EXISTS secureflow_label_counterparty_moved();
"""


def install(schema_editor: Any) -> None:
    """Create the triggers and fill the column for the labels already stored (PostgreSQL;
    elsewhere nothing)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_INSTALL_SQL)
        schema_editor.execute(_REFILL_SQL)


def refill(connection: Any) -> int:
    """Set every label's counterparty from its transaction where they differ; returns how
    many labels changed (PostgreSQL; elsewhere 0, the column is not used)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_REFILL_SQL)
        return cursor.rowcount


def uninstall(schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_UNINSTALL_SQL)
