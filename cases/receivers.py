"""Open cases when detection flags transactions (connected in CasesConfig.ready)."""

from collections.abc import Iterable
from typing import Any

from cases.services import case_open_for_score, cases_open_for_scores
from detection.models import TransactionScore


def open_case_for_scored_transaction(
    sender: type, *, score: TransactionScore, **kwargs: Any
) -> None:
    """transaction_scored: a real-time decision was stored (inside its transaction)."""
    case_open_for_score(score=score)


def open_cases_for_stored_scores(sender: type, *, score_ids: Iterable[int], **kwargs: Any) -> None:
    """scores_stored_in_bulk: a batch chunk's flagged decisions were stored."""
    cases_open_for_scores(score_ids=score_ids)
