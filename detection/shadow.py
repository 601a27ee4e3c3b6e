"""Shadow scoring: versions in shadow score live transactions without deciding anything.

When some model versions are in shadow (`ModelVersion.is_shadow`, switched in admin or by
retraining with SECUREFLOW_SHADOW_CHALLENGERS), every real-time decision is also scored
by the shadow set: the shadow versions, and the active version of any kind with no
shadow version. The receiver of `transaction_scored` only reads the stored feature
vector; after the scoring transaction commits it scores it with the numpy models (no
TensorFlow, no feature recomputation) and stores a ShadowScore. The stored decision,
the transaction status and everything the investigators see stay as they were.

Which versions are in shadow is re-read at most every CHECK_SECONDS per process, like
the active versions of the live engine.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction as db_transaction

from detection.features.spec import FEATURE_SPEC_HASH, N_FEATURES
from detection.ml.serving import ModelEnsemble
from detection.scoring.engine import SEVERITY_RANK
from detection.scoring.risk import combine_risk_one

logger = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
_lock = threading.Lock()


@dataclass
class ShadowSet:
    ensemble: ModelEnsemble
    version_ids: list[int]
    key: str  # "autoencoder:v3,isolation_forest:v3,supervised:v2"


_state: dict[str, Any] = {"key": None, "shadow": None, "checked": 0.0}


def shadow_set_versions() -> list[tuple[int, str, int, str]]:
    """(id, kind, version, artifact path) of the shadow set, or [] when nothing is in
    shadow."""
    from detection.models import ModelVersion

    shadow = list(
        ModelVersion.objects.filter(is_shadow=True).values_list(
            "id", "kind", "version", "artifact_path"
        )
    )
    if not shadow:
        return []
    kinds = {row[1] for row in shadow}
    active = ModelVersion.objects.filter(is_active=True).exclude(kind__in=kinds)
    rows = shadow + list(active.values_list("id", "kind", "version", "artifact_path"))
    return sorted(rows, key=lambda row: row[1])


def get_shadow_set(*, max_age: float = CHECK_SECONDS) -> ShadowSet | None:
    """The loaded shadow set of this process (None when nothing is in shadow)."""
    now = time.monotonic()
    if now - float(_state["checked"]) > max_age:
        with _lock:
            try:
                rows = shadow_set_versions()
            except Exception:  # database unavailable: keep what we have
                logger.exception("Could not read the shadow model versions")
                rows = None
            if rows is not None:
                key = tuple(rows)
                if key != _state["key"]:
                    shadow = None
                    if rows:
                        ensemble, errors = ModelEnsemble.load(
                            {kind: path for _, kind, _, path in rows},
                            expected_feature_spec_hash=FEATURE_SPEC_HASH,
                        )
                        for kind, error in errors.items():
                            logger.error("Refused shadow %s artifact: %s", kind, error)
                        kept = [r for r in rows if r[1] not in errors]
                        if ensemble:
                            shadow = ShadowSet(
                                ensemble=ensemble,
                                version_ids=[r[0] for r in kept],
                                key=",".join(f"{r[1]}:v{r[2]}" for r in kept),
                            )
                    _state.update(key=key, shadow=shadow)
            _state["checked"] = now
    return _state["shadow"]


def reset_shadow() -> None:
    with _lock:
        _state.update(key=None, shadow=None, checked=0.0)


def _rule_severity(rule_hits: list[dict[str, Any]]) -> str | None:
    strongest = None
    for hit in rule_hits or ():
        severity = hit.get("severity")
        if severity in SEVERITY_RANK and (
            strongest is None or SEVERITY_RANK[severity] > SEVERITY_RANK[strongest]
        ):
            strongest = severity
    return strongest


def shadow_decision(
    shadow: ShadowSet, features: list[float], rule_hits: list[dict[str, Any]]
) -> tuple[float, str, dict[str, dict[str, float]]]:
    """(risk, outcome, model scores) of the shadow set for one stored feature vector; the
    rule hits are the stored ones (rules do not depend on the models)."""
    from detection.rules.cache import get_rule_set

    raw = shadow.ensemble.score_one(np.asarray(features, dtype=np.float64))
    risk = combine_risk_one(raw)
    rule_set = get_rule_set()
    outcome = rule_set.outcome_for_score(risk)
    severity = _rule_severity(rule_hits)
    if severity and SEVERITY_RANK[severity] > SEVERITY_RANK[outcome]:
        outcome = severity
    scores = {
        kind: {"calibrated": float(raw[kind]), "raw": float(raw[f"{kind}_raw"])}
        for kind in shadow.ensemble.kinds
    }
    return risk, outcome, scores


def _store(
    shadow: ShadowSet,
    *,
    score_id: int,
    features: list[float],
    rule_hits: list[dict[str, Any]],
    champion_risk: float,
    champion_outcome: str,
) -> Any:
    from detection.models import ShadowScore

    risk, outcome, model_scores = shadow_decision(shadow, features, rule_hits)
    stored, _ = ShadowScore.objects.update_or_create(
        score_id=score_id,
        defaults={
            "risk_score": risk,
            "outcome": outcome,
            "champion_risk_score": champion_risk,
            "champion_outcome": champion_outcome,
            "model_scores": model_scores,
            "model_version_ids": shadow.version_ids,
            "shadow_key": shadow.key,
        },
    )
    return stored


def _usable(features: Any, spec_hash: str) -> bool:
    return spec_hash == FEATURE_SPEC_HASH and len(features or ()) == N_FEATURES


@db_transaction.atomic
def shadow_score_store(*, score_id: int) -> Any:
    """Score a stored decision with the shadow set and keep the result (None when nothing
    is in shadow or the decision has no usable feature vector)."""
    from detection.models import TransactionScore

    shadow = get_shadow_set()
    if shadow is None:
        return None
    score = (
        TransactionScore.objects.filter(pk=score_id)
        .only("id", "features", "feature_spec_hash", "rule_hits", "risk_score", "outcome")
        .first()
    )
    if score is None or not _usable(score.features, score.feature_spec_hash):
        return None
    return _store(
        shadow,
        score_id=score.pk,
        features=score.features,
        rule_hits=score.rule_hits,
        champion_risk=score.risk_score,
        champion_outcome=score.outcome,
    )


def on_transaction_scored(sender: object, score: Any, **kwargs: Any) -> None:
    """Receiver of detection.signals.transaction_scored (inside the scoring transaction):
    does nothing unless versions are in shadow; else, after commit, scores the decision's
    stored feature vector with the shadow set and stores a ShadowScore. A failure there is
    logged and never reaches live scoring."""
    shadow = get_shadow_set()
    if shadow is None or not _usable(score.features, score.feature_spec_hash):
        return
    values = {
        "score_id": score.pk,
        "features": list(score.features),
        "rule_hits": list(score.rule_hits or ()),
        "champion_risk": float(score.risk_score),
        "champion_outcome": str(score.outcome),
    }

    def store() -> None:
        try:
            _store(shadow, **values)
        except Exception:
            logger.exception("Shadow scoring of decision %s failed", values["score_id"])

    db_transaction.on_commit(store, robust=True)
