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
from detection.ml.training import train_all
from detection.models import ModelVersion
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


def models_train(
    *,
    until: datetime | None = None,
    seed: int = 42,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    activate: bool = True,
    created_by: AbstractBaseUser | None = None,
    ae_epochs: int = 30,
) -> list[ModelVersion]:
    """Train every model kind on stored history (before `until`) and record the versions.
    With `activate`, the new versions replace the active ones."""
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
    )
    versions = []
    with db_transaction.atomic():
        for kind, info in trained.items():
            latest = ModelVersion.objects.filter(kind=kind).aggregate(m=Max("version"))["m"] or 0
            version = ModelVersion.objects.create(
                kind=kind,
                version=latest + 1,
                artifact_path=str(info.path),
                format_version=FORMAT_VERSION,
                feature_spec_hash=FEATURE_SPEC_HASH,
                trained_from=start.to_pydatetime(),
                trained_until=data.cutoff,
                metrics=info.metrics,
                created_by=created_by,
                notes=f"artifact {info.version}",
            )
            versions.append(version)
            if activate:
                model_version_activate(version=version)
    logger.info("Trained %s", ", ".join(f"{v.kind} v{v.version}" for v in versions))
    return versions


@db_transaction.atomic
def model_version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make `version` the one active version of its kind (promotion or roll-back)."""
    ModelVersion.objects.filter(kind=version.kind, is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    version.is_active = True
    version.save(update_fields=["is_active"])
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
