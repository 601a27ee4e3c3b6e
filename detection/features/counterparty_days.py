"""Each counterparty's payments per day, kept by PostgreSQL triggers.

The real-time features count a counterparty's prior payments: all of them, and the
matured ones (old enough for a fraud label to be known). Counting its stored
transactions costs about 0.3 µs per payment: a biller with a million payments would add
some 300 ms to every decision on a payment to it. Instead:

* statement-level triggers on the transactions table add delta rows (counterparty, UTC
  day, +n or -n) for every insert and delete, and for every update that moves a
  transaction to another counterparty or day. Whatever writes (the API, batch imports,
  the admin, `COPY`, plain SQL), the counts change in the same database transaction;
* delta rows are only ever inserted, never updated, so concurrent payments to one payee
  never wait on each other's row lock (a batch import holding such locks for a whole chunk
  would otherwise stall the real-time decisions on its payees);
* `compact()` (celery beat, every minute) folds each day's rows into one;
* the feature statement (detection/features/realtime.py) sums the rows of the days up to
  the transaction's day and subtracts that day's payments after the transaction, which
  it counts in the transactions (none for a new transaction).

A count then costs one row per day with payments (plus the deltas since the last
compaction) and at most a day of payments, whatever the counterparty's history. The
distinct senders of the last 7 days are counted, up to 100, from the window's newest
1,000 payments where those settle it (realtime.py).

PostgreSQL only: on SQLite, the features count the stored transactions. After a restore
that bypassed triggers (`session_replication_role = replica`, `pg_restore
--disable-triggers`), `rebuild()` (`manage.py counterparty_days --rebuild`) counts
everything again.
"""

from detection.features.trigger_counts import TRANSACTIONS_TABLE as _TXN
from detection.features.trigger_counts import TriggerKeptCounts

_DAYS = "detection_counterpartydaycount"
_DAY = "(occurred_at AT TIME ZONE 'UTC')::date"
# one compaction at a time (an advisory lock key of our own)
_COMPACT_LOCK = "secureflow.counterparty_days.compact"

_FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION secureflow_counterparty_days_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_DAYS} (counterparty_id, day, transactions, compacted)
    SELECT counterparty_id, {_DAY}, count(*), false
      FROM new_rows WHERE counterparty_id IS NOT NULL GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION secureflow_counterparty_days_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_DAYS} (counterparty_id, day, transactions, compacted)
    SELECT counterparty_id, {_DAY}, -count(*), false
      FROM old_rows WHERE counterparty_id IS NOT NULL GROUP BY 1, 2;
    RETURN NULL;
END $$;

-- rows after minus rows before, per counterparty and day: a status change nets to zero
CREATE OR REPLACE FUNCTION secureflow_counterparty_days_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_DAYS} (counterparty_id, day, transactions, compacted)
    SELECT counterparty_id, day, sum(n), false
      FROM (SELECT counterparty_id, {_DAY} AS day, 1 AS n FROM new_rows
             WHERE counterparty_id IS NOT NULL
            UNION ALL
            SELECT counterparty_id, {_DAY}, -1 FROM old_rows
             WHERE counterparty_id IS NOT NULL) AS moved
     GROUP BY 1, 2
    HAVING sum(n) <> 0;
    RETURN NULL;
END $$;
"""  # noqa: S608 - our own table names

# Writers wait while the counts are rebuilt (SHARE blocks inserts, updates and deletes,
# not reads), so that none is counted twice or missed.
_REBUILD_SQL = f"""
LOCK TABLE {_TXN} IN SHARE MODE;
DELETE FROM {_DAYS};
INSERT INTO {_DAYS} (counterparty_id, day, transactions, compacted)
SELECT counterparty_id, {_DAY}, count(*), true
  FROM {_TXN} WHERE counterparty_id IS NOT NULL GROUP BY 1, 2;
"""  # noqa: S608 - our own table names

# The (counterparty, day) pairs with delta rows are replaced by one row each, in one
# statement: rows inserted meanwhile by other transactions are not seen, so not deleted,
# and stay for the next compaction. Days that net to zero are left out.
_COMPACT_SQL = f"""
WITH pending AS (
    SELECT DISTINCT counterparty_id, day FROM {_DAYS} WHERE NOT compacted
), moved AS (
    DELETE FROM {_DAYS} d USING pending p
     WHERE d.counterparty_id = p.counterparty_id AND d.day = p.day
    RETURNING d.counterparty_id, d.day, d.transactions
), folded AS (
    INSERT INTO {_DAYS} (counterparty_id, day, transactions, compacted)
    SELECT counterparty_id, day, sum(transactions), true
      FROM moved GROUP BY 1, 2 HAVING sum(transactions) <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)
"""  # noqa: S608 - our own table names


COUNTS = TriggerKeptCounts(
    name="secureflow_counterparty_days",
    counts_table=_DAYS,
    functions_sql=_FUNCTIONS_SQL,
    rebuild_sql=_REBUILD_SQL,
    compact_sql=_COMPACT_SQL,
    compact_lock=_COMPACT_LOCK,
)
install = COUNTS.install
uninstall = COUNTS.uninstall
rebuild = COUNTS.rebuild  # rows written
compact = COUNTS.compact  # (rows read, rows written)
