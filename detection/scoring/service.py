"""Score a transaction and keep the decision with it."""

import time
from typing import Any

import numpy as np
from django.db import connection
from django.db import transaction as db_transaction

from detection.features.realtime import (
    LiveAccountState,
    features_for_new_transaction,
    features_for_transaction,
)
from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import TransactionScore
from detection.scoring.engine import Decision
from detection.scoring.loader import get_engine
from detection.scoring.version_sets import model_version_refs, version_set_id
from detection.signals import transaction_scored
from secureflow.core.row_insert import insert_row
from transactions.choices import TransactionStatus
from transactions.models import Transaction

STATUS_FOR_OUTCOME = {
    "approve": TransactionStatus.APPROVED,
    "review": TransactionStatus.IN_REVIEW,
    "block": TransactionStatus.BLOCKED,
}


def decision_for_transaction(
    txn: Transaction, *, explain_with_shap: bool | None = None
) -> tuple[Decision, list[float]]:
    """Features from the account's stored history, then rules and models.

    `txn` may be unsaved: it is then scored after every stored transaction of its account
    (with the account row locked, that is every transaction committed before it)."""
    started = time.perf_counter()
    x = features_for_transaction(txn)
    decision = _decide(txn, x, started=started, explain_with_shap=explain_with_shap)
    return decision, x.tolist()


def decision_for_new_transaction(
    txn: Transaction,
) -> tuple[Decision, list[float], LiveAccountState | None]:
    """`decision_for_transaction` for an unsaved transaction, with the account state its
    features came from (PostgreSQL; the caller stores the account's next summary with
    the transaction, detection/features/summaries.py)."""
    started = time.perf_counter()
    x, state = features_for_new_transaction(txn)
    decision = _decide(txn, x, started=started, explain_with_shap=None)
    return decision, x.tolist(), state


def _decide(
    txn: Transaction, x: np.ndarray, *, started: float, explain_with_shap: bool | None
) -> Decision:
    decision = get_engine().decide(
        x,
        amount=float(txn.amount),
        transfer_type=txn.transfer_type,
        currency=txn.currency,
        explain_with_shap=explain_with_shap,
    )
    decision.latency_ms = (time.perf_counter() - started) * 1000
    return decision


def _score_fields(decision: Decision, features: list[float]) -> dict[str, Any]:
    return {
        "risk_score": decision.risk_score,
        "outcome": decision.outcome,
        "rule_hits": decision.rule_hits,
        "model_scores": decision.model_scores,
        "contributions": decision.contributions,
        "reasons": decision.reasons,
        "features": features,
        "feature_spec_hash": FEATURE_SPEC_HASH,
        "latency_ms": decision.latency_ms,
        "explained": decision.explained,
    }


@db_transaction.atomic(savepoint=False)
def transaction_score_create(
    *, txn: Transaction, decision: Decision, features: list[float]
) -> TransactionScore:
    """Store the decision on `txn`, saved in this database transaction with its status
    already set from the decision and no score yet (the real-time path: one INSERT; the
    set of model versions is cached in-process after its first decision). Sends
    `transaction_scored`."""
    score = transaction_score_build(txn=txn, decision=decision, features=features)
    if connection.vendor == "postgresql":
        insert_row(score)  # one prepared INSERT, no ORM save machinery
    else:
        score.save(force_insert=True)
    return transaction_score_stored(score=score, decision=decision)


def transaction_score_build(
    *, txn: Transaction, decision: Decision, features: list[float]
) -> TransactionScore:
    """The (unsaved) score of `decision` on `txn`, for a caller that stores it itself and
    then calls `transaction_score_stored`."""
    return TransactionScore(
        transaction=txn,
        version_set_id=version_set_id(list(decision.model_version_ids)),
        **_score_fields(decision, features),
    )


def transaction_score_stored(*, score: TransactionScore, decision: Decision) -> TransactionScore:
    """A just-stored real-time score: its model versions noted for the answer, and
    `transaction_scored` sent (inside the scoring transaction)."""
    score.model_version_refs = model_version_refs(list(decision.model_version_ids))
    transaction_scored.send(sender=TransactionScore, score=score)
    return score


@db_transaction.atomic
def transaction_score(
    *, txn: Transaction, explain_with_shap: bool | None = None
) -> TransactionScore:
    """Score `txn` (already saved), store the decision and set the transaction status."""
    decision, features = decision_for_transaction(txn, explain_with_shap=explain_with_shap)
    ids = list(decision.model_version_ids)
    score, _ = TransactionScore.objects.update_or_create(
        transaction=txn,
        defaults={**_score_fields(decision, features), "version_set_id": version_set_id(ids)},
    )
    score.model_version_refs = model_version_refs(ids)
    txn.status = STATUS_FOR_OUTCOME[decision.outcome]
    txn.save(update_fields=["status"])
    transaction_scored.send(sender=TransactionScore, score=score)
    return score


def scoring_warm_up() -> None:
    """Load the scoring engine and make its first explained decision now.

    The first SHAP explanation in a process imports shap and builds the tree explainers
    (seconds of CPU); a web process calls this when it starts (secureflow/gunicorn_conf.py)
    so that its first flagged transaction does not wait for it."""
    engine = get_engine()
    if engine.ensemble is None or engine.ensemble.n_features is None:
        return
    x = np.zeros(engine.ensemble.n_features)
    engine.decide(x, amount=1.0, transfer_type="", currency="AED", explain_with_shap=True)
