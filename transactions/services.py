"""Writes for the transactions app: taking in a transaction for a real-time decision."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection
from django.db import transaction as db_transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from detection.features.realtime import feature_txn
from detection.features.summaries import SummaryWrite, summary_after
from detection.models import AccountFeatureSummary, TransactionScore
from detection.scoring.service import (
    STATUS_FOR_OUTCOME,
    decision_for_new_transaction,
    transaction_score,
    transaction_score_build,
    transaction_score_create,
    transaction_score_stored,
)
from secureflow.core.idempotency import IdempotencyConflict
from secureflow.core.models import ApiKey
from secureflow.core.prepared import PreparedStatement
from secureflow.core.row_insert import insert_columns, mark_saved, row_values
from transactions.models import Account, Counterparty, Customer, Transaction

CENT = Decimal("0.01")


def request_fingerprint(data: dict[str, Any]) -> str:
    """A stable hash of a normalised submission; equal requests give equal hashes."""
    occurred_at: datetime = data["timestamp"]
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    canonical = {
        "id": data["id"],
        "timestamp": occurred_at.astimezone(UTC).isoformat(),
        "account": data["account"],
        "customer": data.get("customer") or data["account"],
        "counterparty": data.get("counterparty") or "",
        "counterparty_country": (data.get("counterparty_country") or "").upper(),
        "amount": str(Decimal(data["amount"]).quantize(CENT)),
        "currency": (data.get("currency") or "AED").upper(),
        "transfer_type": data.get("transfer_type") or "",
        "country": (data.get("country") or "").upper(),
        "channel": data.get("channel") or "",
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def _stored_fingerprint(txn: Transaction) -> str:
    """The fingerprint of a stored transaction (recomputed for rows loaded in bulk)."""
    if txn.request_fingerprint:
        return txn.request_fingerprint
    return request_fingerprint(
        {
            "id": txn.external_id,
            "timestamp": txn.occurred_at,
            "account": txn.account.number,
            "customer": txn.account.customer.external_id,
            "counterparty": txn.counterparty.identifier if txn.counterparty else "",
            "counterparty_country": txn.counterparty.country if txn.counterparty else "",
            "amount": txn.amount,
            "currency": txn.currency,
            "transfer_type": txn.transfer_type,
            "country": txn.country,
            "channel": txn.channel,
        }
    )


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _partial(model: type[Model], values: dict[str, Any]) -> Model:
    """A model instance from some of its columns (the others load when first read)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(DEFAULT_DB_ALIAS, names, [values[name] for name in names])


# PostgreSQL, one round trip for what a submission needs to know first: ids of a stored
# transaction with this id or with this client's Idempotency-Key (an array: no ORDER BY /
# min(), which could walk the primary key), the account row locked with its customer's id
# and home country, and the counterparty. The lock is taken in a materialized CTE so that a
# missing account still gives a row.
_SUBMISSION_LOOKUP_SQL = """
WITH acc AS MATERIALIZED (
    SELECT a.id, a.customer_id, c.external_id, c.home_country
      FROM {account} a JOIN {customer} c ON c.id = a.customer_id
     WHERE a.number = %(account)s
       FOR UPDATE OF a
)
SELECT ARRAY(SELECT t.id FROM {txn} t
              WHERE t.external_id = %(external_id)s
                 OR (t.submitted_by_id = %(client)s AND t.idempotency_key = %(key)s)
              LIMIT 2),
       acc.id, acc.customer_id, acc.external_id, acc.home_country, cp.id, cp.country
  FROM (SELECT 1) one
  LEFT JOIN acc ON true
  LEFT JOIN {counterparty} cp ON cp.identifier = %(counterparty)s
"""
_submission_lookup: PreparedStatement | None = None


@dataclass
class _Lookup:
    existing_ids: list[int]
    account: Account | None
    counterparty: Counterparty | None


def _lookup_postgresql(
    *, data: dict[str, Any], idempotency_key: str | None, client_id: int | None
) -> _Lookup:
    global _submission_lookup
    if _submission_lookup is None:
        _submission_lookup = PreparedStatement(
            "secureflow_submission_lookup",
            _SUBMISSION_LOOKUP_SQL.format(
                account=_table(Account),
                customer=_table(Customer),
                txn=_table(Transaction),
                counterparty=_table(Counterparty),
            ),
        )
    with connection.cursor() as cursor:
        _submission_lookup.execute(
            cursor,
            {
                "account": data["account"],
                "external_id": data["id"],
                "key": idempotency_key,
                "client": client_id,
                "counterparty": data.get("counterparty") or None,
            },
        )
        ids, account_id, customer_id, customer_ref, home_country, cp_id, cp_country = (
            cursor.fetchone()
        )
    account = None
    if account_id is not None:
        account = _partial(
            Account, {"id": account_id, "number": data["account"], "customer_id": customer_id}
        )
        account.customer = _partial(
            Customer, {"id": customer_id, "external_id": customer_ref, "home_country": home_country}
        )
    counterparty = None
    if cp_id is not None:
        counterparty = _partial(
            Counterparty,
            {"id": cp_id, "identifier": data.get("counterparty"), "country": cp_country},
        )
    return _Lookup(sorted(ids), account, counterparty)


def _existing_transaction(
    *, external_id: str, idempotency_key: str | None, client_id: int | None
) -> Transaction | None:
    """The stored transaction with this id, else the one with this client's Idempotency-Key.

    A light id lookup on the unique indexes first (no ORDER BY: with ORDER BY id LIMIT 1
    PostgreSQL may walk the primary key instead); the row is loaded only when found."""
    if connection.vendor == "postgresql":  # the hot path: no query to compile
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {_table(Transaction)} "  # noqa: S608 - name from the model
                "WHERE external_id = %s OR (submitted_by_id = %s AND idempotency_key = %s) "
                "LIMIT 2",
                [external_id, client_id, idempotency_key],
            )
            ids = [row[0] for row in cursor.fetchall()]
    else:
        condition = Q(external_id=external_id)
        if idempotency_key and client_id is not None:
            condition |= Q(submitted_by_id=client_id, idempotency_key=idempotency_key)
        ids = list(Transaction.objects.filter(condition).values_list("id", flat=True)[:2])
    return _stored_transaction(ids)


def _stored_transaction(ids: list[int]) -> Transaction | None:
    """The first of the transactions `ids` (those found by id or Idempotency-Key), loaded."""
    if not ids:
        return None
    return Transaction.objects.select_related("account__customer", "counterparty").get(pk=min(ids))


def _replay(
    *,
    existing: Transaction,
    fingerprint: str,
    external_id: str,
    idempotency_key: str | None,
    client_id: int | None,
) -> tuple[Transaction, TransactionScore, bool]:
    if existing.external_id != external_id:
        raise IdempotencyConflict(
            f"Idempotency-Key {idempotency_key!r} was already used for transaction "
            f"{existing.external_id!r}.",
            existing=existing,
        )
    if (
        idempotency_key
        and existing.idempotency_key
        and existing.submitted_by_id == client_id  # another client's keys are not this one's
        and existing.idempotency_key != idempotency_key
    ):
        raise IdempotencyConflict(
            f"Transaction {external_id!r} was submitted with a different Idempotency-Key.",
            existing=existing,
        )
    if _stored_fingerprint(existing) != fingerprint:
        raise IdempotencyConflict(
            f"Transaction {external_id!r} was already submitted with a different body.",
            existing=existing,
        )
    score = TransactionScore.objects.filter(transaction=existing).first()
    if score is None:
        score = transaction_score(txn=existing)
    return existing, score, False


def _accounts_locked() -> "QuerySet[Account]":
    return Account.objects.select_for_update(of=("self",)).select_related("customer")


def _locked_account(*, data: dict[str, Any], found: Account | None = None) -> Account:
    """The account (created with its customer when new), its row locked until commit;
    `found`: the account already read and locked in this transaction.

    The lock serialises submissions for one account: each is scored after every earlier
    one has committed, so velocity and history features never miss a concurrent one."""
    account = found
    if account is None:
        account = _accounts_locked().filter(number=data["account"]).first()
    if account is None:
        customer_ref = data.get("customer") or data["account"]
        customer, _ = Customer.objects.get_or_create(
            external_id=customer_ref, defaults={"name": customer_ref}
        )
        Account.objects.get_or_create(
            number=data["account"],
            defaults={"customer": customer, "currency": (data.get("currency") or "AED").upper()},
        )
        account = _accounts_locked().get(number=data["account"])
    if data.get("customer") and account.customer.external_id != data["customer"]:
        raise ValidationError(
            {"customer": f"Account {account.number} belongs to another customer."}
        )
    return account


def _counterparty(
    *, data: dict[str, Any], found: Counterparty | None = None
) -> Counterparty | None:
    """The counterparty (created when new; its country filled in when first known);
    `found`: the one already read in this transaction."""
    identifier = data.get("counterparty") or ""
    if not identifier:
        return None
    country = (data.get("counterparty_country") or "").upper()
    if found is not None:
        if country and not found.country:
            found.country = country
            found.save(update_fields=["country", "updated_at"])
        return found
    counterparty, created = Counterparty.objects.get_or_create(
        identifier=identifier, defaults={"country": country}
    )
    if not created and country and not counterparty.country:
        counterparty.country = country
        counterparty.save(update_fields=["country", "updated_at"])
    return counterparty


def _insert_new(txn: Transaction) -> bool:
    """Insert `txn` (databases other than PostgreSQL); False when its id or Idempotency-Key
    is already stored: the ORM insert inside a savepoint, a duplicate caught as an
    IntegrityError."""
    try:
        with db_transaction.atomic():
            txn.save(force_insert=True)
    except IntegrityError:
        found = _existing_transaction(
            external_id=txn.external_id,
            idempotency_key=txn.idempotency_key,
            client_id=txn.submitted_by_id,
        )
        if found is None:
            raise
        return False
    return True


_insert_statements: dict[str, PreparedStatement] = {}
_SCORE_LINK = "transaction_id"  # filled from the inserted transaction's id
# The account's next feature summary, stored with the transaction (its id sum needs the
# new transaction's id) and only when the transaction is.
_SUMMARY_UPSERT = """
, f AS (INSERT INTO {summary} (account_id, transaction_count, transaction_id_sum, state,
                               updated_at)
        SELECT %(f_account)s, %(f_count)s, %(f_id_sum)s + t.id, %(f_state)s, %(f_updated)s
          FROM t
        ON CONFLICT (account_id) DO UPDATE
           SET transaction_count = EXCLUDED.transaction_count,
               transaction_id_sum = EXCLUDED.transaction_id_sum,
               state = EXCLUDED.state, updated_at = EXCLUDED.updated_at)"""


def _insert_statement(with_summary: bool) -> PreparedStatement:
    key = "txn_score_summary" if with_summary else "txn_score"
    statement = _insert_statements.get(key)
    if statement is None:
        link = connection.ops.quote_name(TransactionScore._meta.get_field("transaction").column)
        txn_columns, txn_values = insert_columns(Transaction, prefix="t")
        columns, values = insert_columns(TransactionScore, prefix="s", exclude=(_SCORE_LINK,))
        summary = (
            _SUMMARY_UPSERT.format(summary=_table(AccountFeatureSummary)) if with_summary else ""
        )
        statement = _insert_statements[key] = PreparedStatement(
            f"secureflow_insert_{key}",
            f"WITH t AS (INSERT INTO {_table(Transaction)} ({txn_columns}) "  # noqa: S608 - names from the models
            f"VALUES ({txn_values}) ON CONFLICT DO NOTHING RETURNING id){summary} "
            f"INSERT INTO {_table(TransactionScore)} ({link}, {columns}) "
            f"SELECT t.id, {values} FROM t RETURNING {link}, id",
        )
    return statement


def _insert_with_score_postgresql(
    txn: Transaction, score: TransactionScore, summary: SummaryWrite | None = None
) -> bool:
    """Insert `txn` and its `score` (and the account's next feature `summary`) in one
    statement; False (nothing stored) when the transaction's id or Idempotency-Key is
    already stored (ON CONFLICT DO NOTHING: no savepoint round trips)."""
    params = row_values(txn, prefix="t")
    params.update(row_values(score, prefix="s", exclude=(_SCORE_LINK,)))
    if summary is not None:
        params.update(
            f_account=txn.account_id,
            f_count=summary.transaction_count,
            f_id_sum=summary.id_sum_before,
            f_state=summary.state,
            f_updated=txn.received_at,
        )
    with connection.cursor() as cursor:
        _insert_statement(summary is not None).execute(cursor, params)
        row = cursor.fetchone()
    if row is None:
        return False
    mark_saved(txn, row[0])
    mark_saved(score, row[1])
    score.transaction = txn
    return True


@db_transaction.atomic
def transaction_submit(
    *,
    data: dict[str, Any],
    idempotency_key: str | None = None,
    user: AbstractBaseUser | AnonymousUser | None,
    api_key: ApiKey | None = None,
) -> tuple[Transaction, TransactionScore, bool]:
    """Store a transaction posted by a bank system and score it.

    `data` is validated input: id, timestamp (aware datetime), account, and optionally
    customer, counterparty, counterparty_country, amount, currency, transfer_type, country,
    channel. Returns (transaction, score, created). Re-posting the same id (or
    Idempotency-Key) with the same body returns the stored decision with created=False;
    with a different body it raises IdempotencyConflict.

    `user` is who sends it (an API client's user, or the person on the check page), kept
    as `submitted_by`, and `api_key` the API key it came with, kept as `submitted_key`.
    Idempotency-Keys are looked up among this user's only, while transaction ids are the
    bank's and one for all clients. An Idempotency-Key needs an authenticated user.

    Concurrency: the account row is locked (SELECT ... FOR UPDATE) for the rest of the
    database transaction, so submissions for one account are scored one after another,
    each seeing every transaction of the account committed before it. The transaction is
    scored before it is inserted (as the newest of its account at its timestamp) and
    stored with its status and score in the same database transaction. Concurrent
    duplicates rely on the unique constraints: the loser gets the winner's row.
    """
    external_id: str = data["id"]
    client_id = user.pk if user is not None and user.is_authenticated else None
    idempotency_key = idempotency_key or None
    if idempotency_key and client_id is None:
        raise ValueError("an Idempotency-Key belongs to a client: pass the authenticated user")
    fingerprint = request_fingerprint(data)
    keys = {"idempotency_key": idempotency_key, "client_id": client_id}
    postgresql = connection.vendor == "postgresql"
    if postgresql:  # the hot path: one statement for all three
        lookup = _lookup_postgresql(data=data, **keys)
        existing = _stored_transaction(lookup.existing_ids)
    else:
        lookup = _Lookup([], None, None)
        existing = _existing_transaction(external_id=external_id, **keys)
    if existing is not None:
        return _replay(existing=existing, fingerprint=fingerprint, external_id=external_id, **keys)

    account = _locked_account(data=data, found=lookup.account)
    counterparty = _counterparty(data=data, found=lookup.counterparty)
    txn = Transaction(
        external_id=external_id,
        account=account,
        counterparty=counterparty,
        amount=Decimal(data["amount"]).quantize(CENT),
        currency=(data.get("currency") or "AED").upper(),
        transfer_type=data.get("transfer_type") or "",
        country=(data.get("country") or "").upper(),
        channel=data.get("channel") or "",
        occurred_at=data["timestamp"],
        received_at=timezone.now(),
        submitted_by_id=client_id,
        submitted_key_id=api_key.pk if api_key is not None else None,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    decision, features, state = decision_for_new_transaction(txn)
    txn.status = STATUS_FOR_OUTCOME[decision.outcome]
    if postgresql:  # the hot path: both rows in one statement
        score = transaction_score_build(txn=txn, decision=decision, features=features)
        summary = summary_after(state, feature_txn(txn)) if state is not None else None
        if _insert_with_score_postgresql(txn, score, summary):
            return txn, transaction_score_stored(score=score, decision=decision), True
        stored = False
    else:
        stored = _insert_new(txn)
    if not stored:
        existing = _existing_transaction(external_id=external_id, **keys)
        if existing is None:
            raise IntegrityError(f"transaction {external_id!r} was neither stored nor found")
        return _replay(existing=existing, fingerprint=fingerprint, external_id=external_id, **keys)
    score = transaction_score_create(txn=txn, decision=decision, features=features)
    return txn, score, True
