"""Versioned model artifacts on disk: write atomically, load with every check.

One artifact is a directory ``<kind>-<UTC timestamp>-<checksum prefix>/`` holding

* ``arrays.npz``: every numpy array the served model needs (no pickles);
* ``manifest.json``: format version, kind, feature-spec hash, feature names, training
  window, metrics, parameters, creation time, library versions and the SHA-256 of
  ``arrays.npz``.

The directory is assembled under a temporary name in the same parent, every file and
the directory are fsynced, then ``os.replace`` makes it appear at once: a reader sees a
complete artifact or none.  :func:`load_artifact` refuses, with an :class:`ArtifactError`
naming the reason, anything it cannot trust; callers then fall back to rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from detection.ml.autoencoder import ServedAutoencoder
from detection.ml.isolation_forest import ServedIsolationForest
from detection.ml.manifest import FORMAT_VERSION, ArtifactManifest
from detection.ml.served_model import ServedModel
from detection.ml.supervised import ServedSupervised

MANIFEST_NAME = "manifest.json"
ARRAYS_NAME = "arrays.npz"

SERVED_MODEL_CLASSES: dict[str, type[ServedModel]] = {
    cls.kind: cls for cls in (ServedIsolationForest, ServedAutoencoder, ServedSupervised)
}


class ArtifactError(Exception):
    """An artifact that must not be served; ``reason`` says why in plain words."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"artifact {path} refused: {reason}")
        self.path = Path(path)
        self.reason = reason


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _library_versions() -> dict[str, str]:
    import sklearn

    return {"numpy": np.__version__, "scikit-learn": sklearn.__version__}


def write_artifact(model: ServedModel, out_dir: Path | str) -> Path:
    """Write ``model`` as a new artifact directory under ``out_dir``; return its path.

    The manifest written is the model's with ``created_at``, ``version``,
    ``arrays_sha256``, ``format_version`` and ``library_versions`` filled in.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".tmp-{model.kind}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        arrays_path = tmp / ARRAYS_NAME
        with open(arrays_path, "wb") as handle:
            np.savez(handle, **model.to_arrays())
            handle.flush()
            os.fsync(handle.fileno())
        checksum = sha256_of(arrays_path)
        now = datetime.now(UTC)
        version = f"{model.kind}-{now:%Y%m%dT%H%M%S%fZ}-{checksum[:8]}"
        manifest = model.updated_manifest(
            created_at=now.isoformat(),
            version=version,
            arrays_sha256=checksum,
            format_version=FORMAT_VERSION,
            library_versions=_library_versions(),
        )
        manifest_path = tmp / MANIFEST_NAME
        with open(manifest_path, "w", encoding="utf-8") as handle:
            json.dump(manifest.to_json_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(tmp)
        final = out_dir / version
        os.replace(tmp, final)
        _fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _artifact_dir(path: Path | str) -> Path:
    path = Path(path)
    return path.parent if path.name == MANIFEST_NAME else path


def read_manifest(path: Path | str) -> ArtifactManifest:
    """The manifest of the artifact at ``path`` (its directory or its manifest.json)."""
    directory = _artifact_dir(path)
    manifest_path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise ArtifactError(directory, "artifact directory does not exist")
    if not manifest_path.is_file():
        raise ArtifactError(directory, f"{MANIFEST_NAME} is missing")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(directory, f"{MANIFEST_NAME} is unreadable ({exc})") from exc
    if not isinstance(data, dict):
        raise ArtifactError(directory, f"{MANIFEST_NAME} is not a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            directory,
            f"format version {data.get('format_version')!r} is not the supported "
            f"version {FORMAT_VERSION}",
        )
    try:
        return ArtifactManifest.from_json_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(directory, f"{MANIFEST_NAME} lacks a field ({exc})") from exc


def load_artifact(
    path: Path | str,
    *,
    expected_feature_spec_hash: str,
    expected_kind: str | None = None,
) -> ServedModel:
    """Load and check an artifact; raise :class:`ArtifactError` when it cannot be served.

    Refused: a missing directory or file, an unreadable manifest, another format
    version, an unknown or unexpected kind, a feature-spec hash other than
    ``expected_feature_spec_hash``, an array file whose SHA-256 differs from the
    manifest's, an unreadable array file, or arrays that do not form a valid model.
    """
    directory = _artifact_dir(path)
    manifest = read_manifest(directory)
    cls = SERVED_MODEL_CLASSES.get(manifest.kind)
    if cls is None:
        raise ArtifactError(directory, f"unknown model kind {manifest.kind!r}")
    if expected_kind is not None and manifest.kind != expected_kind:
        raise ArtifactError(
            directory, f"kind {manifest.kind!r} where {expected_kind!r} was expected"
        )
    if manifest.feature_spec_hash != expected_feature_spec_hash:
        raise ArtifactError(
            directory,
            f"feature spec hash {manifest.feature_spec_hash!r} does not match the current "
            f"feature spec {expected_feature_spec_hash!r}: train new versions "
            "(`manage.py train_models`)",
        )
    arrays_path = directory / ARRAYS_NAME
    if not arrays_path.is_file():
        raise ArtifactError(directory, f"{ARRAYS_NAME} is missing")
    checksum = sha256_of(arrays_path)
    if checksum != manifest.arrays_sha256:
        raise ArtifactError(
            directory,
            f"checksum mismatch: {ARRAYS_NAME} has SHA-256 {checksum[:12]}…, the manifest "
            f"records {manifest.arrays_sha256[:12]}… (file corrupt or modified)",
        )
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(directory, f"{ARRAYS_NAME} is unreadable ({exc})") from exc
    try:
        return cls.from_arrays(arrays, manifest)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ArtifactError(directory, f"arrays do not form a valid model ({exc})") from exc
