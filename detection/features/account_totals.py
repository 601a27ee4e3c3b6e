"""Each account's stored transactions, counted and their ids summed by PostgreSQL
triggers.

A real-time decision trusts the account's feature summary (summaries.py) only when it
covers exactly the account's stored transactions: the same count and the same sum of
ids. Counting them costs about 0.1 µs per transaction, 10 ms a decision for an account
with 100,000 (a payroll or a merchant's settlement account). Instead:

* statement-level triggers on the transactions table add delta rows (account, +n or -n,
  +sum or -sum of ids) for every insert and delete, and for every update that moves a
  transaction to another account. Whatever writes (the API, batch imports, the admin,
  `COPY`, plain SQL), the totals change in the same database transaction;
* delta rows are only ever inserted, never updated, so a batch import never holds a row
  lock that a real-time decision on one of its accounts would wait for;
* `compact()` (celery beat, every minute) folds each account's rows into one;
* the feature statement (detection/features/realtime.py) sums the account's rows, and
  counts its stored transactions only when some of them lie after the new one (a
  transaction arriving out of time order), which one index probe tells.

PostgreSQL only: on SQLite, the features count the stored transactions. After a restore
that bypassed triggers, `rebuild()` (`manage.py account_totals --rebuild`) counts
everything again.
"""

from detection.features.trigger_counts import TRANSACTIONS_TABLE as _TXN
from detection.features.trigger_counts import TriggerKeptCounts

_TOTALS = "detection_accounttransactiontotal"
# one compaction at a time (an advisory lock key of our own)
_COMPACT_LOCK = "secureflow.account_totals.compact"

_FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION secureflow_account_totals_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_TOTALS} (account_id, transactions, id_sum, compacted)
    SELECT account_id, count(*), sum(id), false FROM new_rows GROUP BY 1;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION secureflow_account_totals_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_TOTALS} (account_id, transactions, id_sum, compacted)
    SELECT account_id, -count(*), -sum(id), false FROM old_rows GROUP BY 1;
    RETURN NULL;
END $$;

-- rows after minus rows before, per account: an update that keeps the account nets to zero
CREATE OR REPLACE FUNCTION secureflow_account_totals_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {_TOTALS} (account_id, transactions, id_sum, compacted)
    SELECT account_id, sum(n), sum(ids), false
      FROM (SELECT account_id, 1 AS n, id AS ids FROM new_rows
            UNION ALL
            SELECT account_id, -1, -id FROM old_rows) AS moved
     GROUP BY 1
    HAVING sum(n) <> 0 OR sum(ids) <> 0;
    RETURN NULL;
END $$;
"""  # noqa: S608 - our own table names

# Writers wait while the totals are rebuilt (SHARE blocks inserts, updates and deletes,
# not reads), so that none is counted twice or missed.
_REBUILD_SQL = f"""
LOCK TABLE {_TXN} IN SHARE MODE;
DELETE FROM {_TOTALS};
INSERT INTO {_TOTALS} (account_id, transactions, id_sum, compacted)
SELECT account_id, count(*), sum(id), true FROM {_TXN} GROUP BY 1;
"""  # noqa: S608 - our own table names

# The accounts with delta rows get one row each, in one statement: rows inserted meanwhile
# by other transactions are not seen, so not deleted, and stay for the next compaction.
# Accounts that net to nothing are left out.
_COMPACT_SQL = f"""
WITH pending AS (
    SELECT DISTINCT account_id FROM {_TOTALS} WHERE NOT compacted
), moved AS (
    DELETE FROM {_TOTALS} a USING pending p WHERE a.account_id = p.account_id
    RETURNING a.account_id, a.transactions, a.id_sum
), folded AS (
    INSERT INTO {_TOTALS} (account_id, transactions, id_sum, compacted)
    SELECT account_id, sum(transactions), sum(id_sum), true
      FROM moved GROUP BY 1 HAVING sum(transactions) <> 0 OR sum(id_sum) <> 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)
"""  # noqa: S608 - our own table names


COUNTS = TriggerKeptCounts(
    name="secureflow_account_totals",
    counts_table=_TOTALS,
    functions_sql=_FUNCTIONS_SQL,
    rebuild_sql=_REBUILD_SQL,
    compact_sql=_COMPACT_SQL,
    compact_lock=_COMPACT_LOCK,
)
install = COUNTS.install
uninstall = COUNTS.uninstall
rebuild = COUNTS.rebuild  # rows written
compact = COUNTS.compact  # (rows read, rows written)
