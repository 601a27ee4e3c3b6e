"""Score a stored transaction and keep the decision with it."""

import time

from django.db import transaction as db_transaction

from detection.features.realtime import features_for_transaction
from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import TransactionScore
from detection.scoring.engine import Decision
from detection.scoring.loader import get_engine
from detection.signals import transaction_scored
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
    """Features from the account's stored history, then rules and models."""
    started = time.perf_counter()
    x = features_for_transaction(txn)
    decision = get_engine().decide(
        x,
        amount=float(txn.amount),
        transfer_type=txn.transfer_type,
        currency=txn.currency,
        explain_with_shap=explain_with_shap,
    )
    decision.latency_ms = (time.perf_counter() - started) * 1000
    return decision, x.tolist()


@db_transaction.atomic
def transaction_score(
    *, txn: Transaction, explain_with_shap: bool | None = None
) -> TransactionScore:
    """Score `txn` (already saved), store the decision and set the transaction status."""
    decision, features = decision_for_transaction(txn, explain_with_shap=explain_with_shap)
    score, _ = TransactionScore.objects.update_or_create(
        transaction=txn,
        defaults={
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
        },
    )
    score.model_versions.set(decision.model_version_ids)
    txn.status = STATUS_FOR_OUTCOME[decision.outcome]
    txn.save(update_fields=["status"])
    transaction_scored.send(sender=TransactionScore, score=score)
    return score
