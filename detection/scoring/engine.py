"""The scoring engine: feature vector(s) in, decision(s) out. No database access here."""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection.ml import explain
from detection.ml.serving import ModelEnsemble
from detection.rules.engine import RuleSet
from detection.scoring.risk import combine_risk, combine_risk_one
from detection.scoring.sentences import top_contributions

SEVERITY_RANK = {"approve": 0, "review": 1, "block": 2}
OUTCOMES = ("approve", "review", "block")
# Which model explains a decision, in order of preference.
EXPLAINERS = ("supervised", "isolation_forest", "autoencoder")
NO_HITS: tuple[dict[str, Any], ...] = ()  # shared by every batch row without a rule hit


@dataclass
class Decision:
    risk_score: float
    outcome: str
    rule_hits: list[dict[str, Any]]
    model_scores: dict[str, dict[str, float]]
    reasons: list[str]
    contributions: list[dict[str, Any]]
    explained: bool
    model_version_ids: list[int] = field(default_factory=list)
    latency_ms: float = 0.0


@dataclass
class BatchDecisions:
    risk_score: np.ndarray
    outcome: np.ndarray  # of str
    model_scores: dict[str, np.ndarray]
    rule_hits: list[Sequence[dict[str, Any]]]  # per row; NO_HITS when none


class ScoringEngine:
    def __init__(
        self,
        ensemble: ModelEnsemble | None,
        rule_set: RuleSet,
        *,
        model_version_ids: list[int] | None = None,
    ) -> None:
        self.ensemble = ensemble if ensemble else None
        self.rule_set = rule_set
        self.model_version_ids = list(model_version_ids or [])

    # -- single transaction -------------------------------------------------------------
    def decide(
        self,
        x: np.ndarray,
        *,
        amount: float,
        transfer_type: str,
        currency: str = "AED",
        explain_with_shap: bool | None = None,
    ) -> Decision:
        """Decide one transaction. SHAP runs when `explain_with_shap` is True, or when it
        is None and the outcome is review or block."""
        started = time.perf_counter()
        raw = self.ensemble.score_one(x) if self.ensemble else {}
        risk = combine_risk_one(raw)
        hits = self.rule_set.evaluate(
            x, amount=amount, transfer_type=transfer_type, currency=currency
        )
        outcome = self._outcome(risk, self.rule_set.strongest(hits))
        want_shap = outcome != "approve" if explain_with_shap is None else explain_with_shap
        contributions, explained = self._contributions(x, amount, currency, shap=want_shap)
        reasons = [hit.reason for hit in hits] + [c["sentence"] for c in contributions[:3]]
        return Decision(
            risk_score=risk,
            outcome=outcome,
            rule_hits=[hit.as_dict() for hit in hits],
            model_scores=_model_scores_one(raw),
            reasons=reasons,
            contributions=contributions,
            explained=explained,
            model_version_ids=self.model_version_ids,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def _outcome(self, risk: float, rule_severity: str | None) -> str:
        outcome = self.rule_set.outcome_for_score(risk)
        if rule_severity and SEVERITY_RANK[rule_severity] > SEVERITY_RANK[outcome]:
            return rule_severity
        return outcome

    def _contributions(
        self, x: np.ndarray, amount: float, currency: str, *, shap: bool
    ) -> tuple[list[dict[str, Any]], bool]:
        if not self.ensemble:
            return [], False
        row = x.reshape(1, -1)
        if shap:
            for kind in ("supervised", "isolation_forest"):
                model = self.ensemble.get(kind)
                if model is not None:
                    values = explain.contributions(model, row)[0]
                    return top_contributions(
                        x, values, amount=amount, currency=currency, source=kind
                    ), True
        errors = self.ensemble.autoencoder_feature_errors_one(x)
        if errors is None:
            return [], False
        total = float(errors.sum())
        shares = errors / total if total > 0 else errors
        return top_contributions(
            x, shares, amount=amount, currency=currency, source="autoencoder"
        ), False

    # -- many transactions --------------------------------------------------------------
    def decide_batch(
        self,
        X: np.ndarray,
        *,
        amounts: np.ndarray,
        transfer_types: np.ndarray,
        currencies: np.ndarray | None = None,
    ) -> BatchDecisions:
        """Vectorised models, risk and rules; hit dicts are built only for rows with a
        hit, the others share one empty tuple."""
        scores = self.ensemble.score(X) if self.ensemble else {}
        calibrated = {k: v for k, v in scores.items() if not k.endswith("_raw")}
        risk = combine_risk(calibrated) if calibrated else np.zeros(len(X))
        block_t = self.rule_set.block_threshold
        review_t = self.rule_set.review_threshold
        outcome_rank = np.where(risk >= block_t, 2, np.where(risk >= review_t, 1, 0))
        rule_rank, hits = self.rule_set.evaluate_batch(
            X, amounts=amounts, transfer_types=transfer_types, currencies=currencies
        )
        np.maximum(outcome_rank, rule_rank, out=outcome_rank)
        hits_per_row: list[Sequence[dict[str, Any]]] = [NO_HITS] * len(X)
        for i, row_hits in hits.items():
            hits_per_row[i] = [h.as_dict() for h in row_hits]
        outcomes = np.array(OUTCOMES, dtype=object)[outcome_rank]
        return BatchDecisions(
            risk_score=risk, outcome=outcomes, model_scores=scores, rule_hits=hits_per_row
        )


def _model_scores_one(raw: dict[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in raw.items():
        if key.endswith("_raw"):
            continue
        out[key] = {"calibrated": float(value), "raw": float(raw.get(f"{key}_raw", value))}
    return out
