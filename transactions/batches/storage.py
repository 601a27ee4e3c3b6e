"""Where a batch's files live: SECUREFLOW_BATCH_DIR/<batch id>/.

    input.csv | input.json   the file as received
    errors.csv               rejected rows (row, column, reason, value)
    stage-<token>/           the good rows cut into chunks (rows + feature matrix)

The paths stored on the batch are absolute, so a worker reads the same files as the web
process that received them (on several machines the folder must be shared storage).
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings

STAGE_ROWS = "chunk-{index:05d}.pkl"
STAGE_FEATURES = "chunk-{index:05d}.npy"


def batch_root() -> Path:
    return Path(settings.SECUREFLOW_BATCH_DIR)


def batch_dir(batch_id: int) -> Path:
    return batch_root() / f"{batch_id:08d}"


def write_stage_chunk(
    stage: Path, index: int, rows: pd.DataFrame, features: np.ndarray | None
) -> None:
    """Write one chunk's rows (and feature matrix) atomically: temporary name, then rename."""
    stage.mkdir(parents=True, exist_ok=True)
    rows_path = stage / STAGE_ROWS.format(index=index)
    tmp = rows_path.with_suffix(".tmp")
    rows.to_pickle(tmp)
    tmp.replace(rows_path)
    if features is not None:
        features_path = stage / STAGE_FEATURES.format(index=index)
        tmp = stage / f"chunk-{index:05d}.tmp.npy"
        np.save(tmp, features, allow_pickle=False)
        tmp.replace(features_path)


def read_stage_chunk(stage: Path, index: int) -> tuple[pd.DataFrame, np.ndarray | None]:
    rows = pd.read_pickle(stage / STAGE_ROWS.format(index=index))  # noqa: S301 - our own file
    features_path = stage / STAGE_FEATURES.format(index=index)
    features = np.load(features_path, allow_pickle=False) if features_path.exists() else None
    return rows, features


def remove_tree(path: str | Path) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
