import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from detection.ml.artifacts import (
    ARRAYS_NAME,
    MANIFEST_NAME,
    ArtifactError,
    load_artifact,
    read_manifest,
    sha256_of,
    write_artifact,
)
from tests.detection.ml.conftest import FEATURE_NAMES, SPEC_HASH

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def if_artifact(served_iforest, tmp_path) -> Path:
    return write_artifact(served_iforest, tmp_path / "models")


@pytest.mark.parametrize("fixture", ["served_iforest", "served_autoencoder", "served_supervised"])
def test_round_trip_scores_identically(fixture, request, tmp_path, labelled):
    model = request.getfixturevalue(fixture)
    path = write_artifact(model, tmp_path)
    loaded = load_artifact(path, expected_feature_spec_hash=SPEC_HASH)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.raw_scores(labelled.X), model.raw_scores(labelled.X))
    np.testing.assert_array_equal(
        loaded.calibrated_scores(labelled.X), model.calibrated_scores(labelled.X)
    )


def test_manifest_describes_the_artifact(if_artifact):
    data = json.loads((if_artifact / MANIFEST_NAME).read_text())
    assert data["format_version"] == 1
    assert data["kind"] == "isolation_forest"
    assert data["feature_spec_hash"] == SPEC_HASH
    assert data["feature_names"] == FEATURE_NAMES
    assert data["training_window"] == {
        "start": "2025-01-01T00:00:00+00:00",
        "end": "2025-03-31T23:59:59+00:00",
    }
    assert data["arrays_sha256"] == sha256_of(if_artifact / ARRAYS_NAME)
    assert data["created_at"] and data["version"] == if_artifact.name
    assert if_artifact.name.startswith("isolation_forest-")
    assert set(data["library_versions"]) == {"numpy", "scikit-learn"}
    # nothing half-written is left next to it
    assert [p.name for p in if_artifact.parent.iterdir()] == [if_artifact.name]
    assert read_manifest(if_artifact / MANIFEST_NAME).version == data["version"]


def test_two_writes_make_two_versions(served_iforest, tmp_path):
    first = write_artifact(served_iforest, tmp_path)
    second = write_artifact(served_iforest, tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


def test_failed_write_leaves_nothing(served_iforest, tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_artifact(served_iforest, tmp_path)
    assert list(tmp_path.iterdir()) == []


def refused(path, match: str, **kwargs) -> ArtifactError:
    with pytest.raises(ArtifactError, match=match) as info:
        load_artifact(path, expected_feature_spec_hash=kwargs.pop("spec", SPEC_HASH), **kwargs)
    assert info.value.reason
    return info.value


def test_missing_artifact_is_refused(tmp_path):
    error = refused(tmp_path / "nope", "does not exist")
    assert error.path == tmp_path / "nope"


def test_missing_array_file_is_refused(if_artifact):
    (if_artifact / ARRAYS_NAME).unlink()
    refused(if_artifact, "arrays.npz is missing")


def test_corrupted_array_file_is_refused(if_artifact):
    path = if_artifact / ARRAYS_NAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    refused(if_artifact, "checksum mismatch")


def test_truncated_array_file_with_matching_checksum_is_refused(if_artifact):
    path = if_artifact / ARRAYS_NAME
    path.write_bytes(path.read_bytes()[:1000])
    manifest = json.loads((if_artifact / MANIFEST_NAME).read_text())
    manifest["arrays_sha256"] = sha256_of(path)
    (if_artifact / MANIFEST_NAME).write_text(json.dumps(manifest))
    refused(if_artifact, "unreadable")


def test_arrays_that_do_not_form_a_model_are_refused(if_artifact):
    path = if_artifact / ARRAYS_NAME
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["tree_right"] = arrays["tree_right"] + 10_000
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    manifest = json.loads((if_artifact / MANIFEST_NAME).read_text())
    manifest["arrays_sha256"] = sha256_of(path)
    (if_artifact / MANIFEST_NAME).write_text(json.dumps(manifest))
    refused(if_artifact, "do not form a valid model")


def test_wrong_feature_spec_hash_is_refused(if_artifact):
    error = refused(if_artifact, "feature spec hash", spec="another-spec")
    assert "another-spec" in error.reason and SPEC_HASH in error.reason
    assert "train_models" in error.reason  # what to do about it


def test_other_format_version_is_refused(if_artifact):
    manifest = json.loads((if_artifact / MANIFEST_NAME).read_text())
    manifest["format_version"] = 99
    (if_artifact / MANIFEST_NAME).write_text(json.dumps(manifest))
    refused(if_artifact, "format version 99")


def test_unreadable_manifest_is_refused(if_artifact):
    (if_artifact / MANIFEST_NAME).write_text("{not json")
    refused(if_artifact, "manifest.json is unreadable")


def test_unexpected_kind_is_refused(if_artifact):
    refused(if_artifact, "'autoencoder' was expected", expected_kind="autoencoder")


def test_loading_and_scoring_never_imports_tensorflow(
    served_iforest, served_autoencoder, served_supervised, tmp_path, labelled
):
    paths = {
        m.kind: str(write_artifact(m, tmp_path))
        for m in (served_iforest, served_autoencoder, served_supervised)
    }
    np.save(tmp_path / "rows.npy", labelled.X[:20])
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from detection.ml.serving import ModelEnsemble
        ensemble, errors = ModelEnsemble.load({paths!r}, expected_feature_spec_hash={SPEC_HASH!r})
        assert not errors, errors
        X = np.load({str(tmp_path / "rows.npy")!r})
        scores = ensemble.score(X)
        one = ensemble.score_one(X[0])
        ensemble.autoencoder_feature_errors_one(X[0])
        assert len(scores) == 6 and len(one) == 6
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print("LOADED", loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout
