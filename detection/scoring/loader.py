"""The process-wide scoring engine, reloaded when the active model versions change."""

import logging
import threading
import time

from detection.features.spec import FEATURE_SPEC_HASH
from detection.ml.serving import ModelEnsemble
from detection.rules.cache import get_rule_set
from detection.scoring.engine import ScoringEngine

logger = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
_lock = threading.Lock()
_state: dict[str, object] = {
    "key": None,
    "ensemble": None,
    "ids": [],
    "refused": {},
    "checked": 0.0,
}


def active_versions() -> list[tuple[int, str, str]]:
    from detection.models import ModelVersion

    return list(
        ModelVersion.objects.filter(is_active=True)
        .order_by("kind")
        .values_list("id", "kind", "artifact_path")
    )


def load_ensemble(
    versions: list[tuple[int, str, str]],
) -> tuple[ModelEnsemble, list[int], dict[str, str]]:
    """Load the artifacts of the given versions. A refused artifact is logged and left
    out, so scoring goes on with the other models (or rules alone); the third value says
    why each refused kind was refused."""
    paths = {kind: path for _, kind, path in versions}
    ensemble, errors = ModelEnsemble.load(paths, expected_feature_spec_hash=FEATURE_SPEC_HASH)
    for kind, error in errors.items():
        logger.error("Refused %s artifact, scoring without it: %s", kind, error)
    ids = [pk for pk, kind, _ in versions if kind not in errors]
    return ensemble, ids, {kind: str(error) for kind, error in errors.items()}


def get_engine(*, max_age: float = CHECK_SECONDS) -> ScoringEngine:
    now = time.monotonic()
    if now - float(_state["checked"]) > max_age:
        with _lock:
            try:
                versions = active_versions()
            except Exception:  # database unavailable: keep what we have
                logger.exception("Could not read active model versions")
                versions = None
            if versions is not None:
                key = tuple(versions)
                if key != _state["key"]:
                    ensemble, ids, refused = load_ensemble(versions)
                    _state.update(key=key, ensemble=ensemble, ids=ids, refused=refused)
                    logger.info("Scoring with models %s", ensemble.versions() or "none")
            _state["checked"] = now
    return ScoringEngine(
        _state["ensemble"],  # type: ignore[arg-type]
        get_rule_set(),
        model_version_ids=list(_state["ids"]),  # type: ignore[arg-type]
    )


def serving_status() -> dict[str, object]:
    """What this process scores with: the active kinds it serves and those whose
    artifacts it refused (kind -> why), as of its last check of the active versions."""
    get_engine()
    ensemble = _state["ensemble"]
    return {
        "serving": list(ensemble.kinds) if ensemble is not None else [],  # type: ignore[attr-defined]
        "refused": dict(_state["refused"]),  # type: ignore[call-overload]
    }


def reset_engine() -> None:
    """Forget the loaded models and the cached version sets (tests, and after promoting a
    version in this process)."""
    from detection.scoring.version_sets import clear_version_set_cache

    with _lock:
        _state.update(key=None, ensemble=None, ids=[], refused={}, checked=0.0)
    clear_version_set_cache()
