"""Train model versions from stored transactions and labels; activate and roll back."""

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction as db_transaction
from django.db.models import Max

from cases.selectors import latest_labels
from detection.features.batch import compute_features_batch
from detection.features.db_frame import fraud_labels_frame, transactions_frame
from detection.features.spec import FEATURE_NAMES, FEATURE_SPEC_HASH
from detection.ml.manifest import FORMAT_VERSION
from detection.ml.training import TrainedArtifactInfo, train_all
from detection.models import ModelVersion, PromotionTrigger
from transactions.models import Transaction

logger = logging.getLogger(__name__)

DEFAULT_LABEL_DELAY_DAYS = 7.0
NS_PER_DAY = 86_400 * 10**9


@dataclass
class TrainingSet:
    X: np.ndarray
    y: np.ndarray  # 1 fraud, 0 legitimate, NaN unknown (as known at the cutoff)
    frame: pd.DataFrame
    cutoff: datetime


def training_labels(
    frame: pd.DataFrame, *, cutoff_ns: int, label_delay_days: float, feedback: dict[int, bool]
) -> np.ndarray:
    """Labels as the bank knows them at the cutoff.

    Fraud labels that came with the data become known `label_delay_days` after the
    transaction; a transaction with no fraud report once that delay has passed counts as
    legitimate (as a bank treats an unreported payment after the chargeback window);
    newer ones are unknown. Feedback labels (investigators, chargebacks, API) known before
    the cutoff override both."""
    ts = frame["ts"].to_numpy(dtype=np.int64)
    label = frame["label"].to_numpy(dtype=float)
    matured = ts + int(label_delay_days * NS_PER_DAY) <= cutoff_ns
    y = np.full(len(frame), np.nan)
    y[matured] = 0.0
    y[matured & (label == 1)] = 1.0
    if feedback:
        pks = frame["pk"].to_numpy()
        for i in np.flatnonzero(np.isin(pks, np.fromiter(feedback, dtype=np.int64))):
            y[i] = 1.0 if feedback[int(pks[i])] else 0.0
    return y


def training_set(
    *, until: datetime | None = None, label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS
) -> TrainingSet:
    queryset = Transaction.objects.all()
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=until)
    frame = transactions_frame(queryset)
    if frame.empty:
        raise ValueError("there are no transactions to train on")
    latest = pd.Timestamp(int(frame["ts"].max()), tz="UTC").floor("s")
    cutoff = until or (latest + pd.Timedelta(seconds=1)).to_pydatetime()
    labels = fraud_labels_frame(label_delay_days=label_delay_days, known_before=cutoff)
    X = compute_features_batch(frame, labels=labels, label_delay_days=label_delay_days)
    feedback = dict(latest_labels(known_before=cutoff).values_list("transaction_id", "is_fraud"))
    cutoff_ns = int(pd.Timestamp(cutoff).value)
    y = training_labels(
        frame, cutoff_ns=cutoff_ns, label_delay_days=label_delay_days, feedback=feedback
    )
    return TrainingSet(X=X, y=y, frame=frame, cutoff=cutoff)


def training_risk_scores(
    paths: dict[str, str], X: np.ndarray, *, max_rows: int = 50_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, risk scores) of up to `max_rows` rows of X under the ensemble of the
    artifacts at `paths`, combined as the live engine combines them."""
    from detection.ml.serving import ModelEnsemble
    from detection.scoring.risk import combine_risk

    rows = np.arange(len(X))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    ensemble, _ = ModelEnsemble.load(paths, expected_feature_spec_hash=FEATURE_SPEC_HASH)
    scores = ensemble.score(X[rows]) if ensemble else {}
    calibrated = {k: v for k, v in scores.items() if not k.endswith("_raw")}
    risk = combine_risk(calibrated) if calibrated else np.zeros(len(rows))
    return rows, risk


def drift_reference_for(paths: dict[str, str], X: np.ndarray) -> dict:
    """The training-window distribution stored with the versions (see detection.drift)."""
    from detection.drift import reference_distribution

    rows, risk = training_risk_scores(paths, X)
    reference = reference_distribution(X)
    reference["features"]["risk_score"] = reference_distribution(X[rows], risk)["features"][
        "risk_score"
    ]
    return reference


def model_versions_record(
    *,
    trained: dict[str, TrainedArtifactInfo],
    trained_from: datetime,
    trained_until: datetime,
    drift_reference: dict | None = None,
    created_by: AbstractBaseUser | None = None,
    notes: str = "",
) -> list[ModelVersion]:
    """One inactive ModelVersion row per trained artifact, numbered per kind."""
    versions = []
    with db_transaction.atomic():
        for kind, info in trained.items():
            latest = ModelVersion.objects.filter(kind=kind).aggregate(m=Max("version"))["m"] or 0
            metrics = dict(info.metrics)
            if drift_reference is not None:
                metrics["drift_reference"] = drift_reference
            versions.append(
                ModelVersion.objects.create(
                    kind=kind,
                    version=latest + 1,
                    artifact_path=str(info.path),
                    format_version=FORMAT_VERSION,
                    feature_spec_hash=FEATURE_SPEC_HASH,
                    trained_from=trained_from,
                    trained_until=trained_until,
                    metrics=metrics,
                    created_by=created_by,
                    notes=f"artifact {info.version}" + (f"; {notes}" if notes else ""),
                )
            )
    return versions


def models_train(
    *,
    until: datetime | None = None,
    seed: int = 42,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    activate: bool = True,
    created_by: AbstractBaseUser | None = None,
    ae_epochs: int = 30,
    train_options: dict | None = None,
) -> list[ModelVersion]:
    """Train every model kind on stored history (before `until`) and record the versions.
    With `activate`, the new versions replace the active ones (audited as a promotion).
    `train_options` go to detection.ml.training.train_all (e.g. supervised_params)."""
    data = training_set(until=until, label_delay_days=label_delay_days)
    start = pd.Timestamp(int(data.frame["ts"].min()), tz="UTC")
    window = (start.isoformat(), pd.Timestamp(data.cutoff).isoformat())
    out_dir = settings.SECUREFLOW_MODEL_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = train_all(
        data.X,
        y_train=data.y,
        feature_names=list(FEATURE_NAMES),
        feature_spec_hash=FEATURE_SPEC_HASH,
        window=window,
        out_dir=out_dir,
        seed=seed,
        ae_epochs=ae_epochs,
        **(train_options or {}),
    )
    reference = drift_reference_for({k: str(i.path) for k, i in trained.items()}, data.X)
    with db_transaction.atomic():
        versions = model_versions_record(
            trained=trained,
            trained_from=start.to_pydatetime(),
            trained_until=data.cutoff,
            drift_reference=reference,
            created_by=created_by,
        )
        if activate and versions:
            from detection.retraining.promotion import model_versions_promote

            model_versions_promote(
                versions=versions,
                trigger=PromotionTrigger.TRAINING,
                promoted_by=created_by,
                reason="trained and activated directly (train_models)",
            )
    logger.info("Trained %s", ", ".join(f"{v.kind} v{v.version}" for v in versions))
    return versions


@db_transaction.atomic
def model_version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make `version` the one active version of its kind (promotion or roll-back)."""
    ModelVersion.objects.filter(kind=version.kind, is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    version.is_active = True
    version.is_shadow = False
    version.save(update_fields=["is_active", "is_shadow"])
    db_transaction.on_commit(_reset_engine)
    return version


def _reset_engine() -> None:
    from detection.scoring.loader import reset_engine

    reset_engine()


def active_model_summary() -> list[dict[str, object]]:
    return [
        {"kind": v.kind, "version": v.version, "trained_until": v.trained_until}
        for v in ModelVersion.objects.filter(is_active=True).order_by("kind")
    ]
