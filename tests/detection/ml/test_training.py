import numpy as np
import pytest

from detection.ml.artifacts import load_artifact, read_manifest
from detection.ml.serving import ModelEnsemble
from detection.ml.training import train_all
from tests.detection.ml.conftest import FEATURE_NAMES, SPEC_HASH, make_labelled

WINDOW = ("2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00")


@pytest.fixture(scope="module")
def data():
    return make_labelled(3000, seed=17, fraud_rate=0.05)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    results = train_all(
        data.X,
        y_train=data.y,
        feature_names=FEATURE_NAMES,
        feature_spec_hash=SPEC_HASH,
        window=WINDOW,
        out_dir=out,
        seed=3,
        ae_epochs=2,
        ae_max_rows=1500,
        supervised_params={"max_iter": 30},
    )
    return results, out


def test_trains_and_writes_every_kind(trained, data):
    results, out = trained
    assert set(results) == {"isolation_forest", "autoencoder", "supervised"}
    for kind, info in results.items():
        assert info.kind == kind and info.path.parent == out
        manifest = read_manifest(info.path)
        assert manifest.version == info.version
        assert manifest.metrics == info.metrics
        assert (manifest.window_start, manifest.window_end) == WINDOW
        assert manifest.metrics["n_fraud_labels"] == int(np.sum(data.y == 1))
    ensemble, errors = ModelEnsemble.load(
        {k: v.path for k, v in results.items()}, expected_feature_spec_hash=SPEC_HASH
    )
    assert not errors and len(ensemble.score(data.X[:5])) == 6


def test_unsupervised_models_learn_from_rows_not_labelled_fraud(trained, data):
    results, _ = trained
    not_fraud = int(np.sum(data.y != 1))
    assert results["isolation_forest"].metrics["n_train_rows"] == not_fraud
    assert results["autoencoder"].metrics["n_train_rows"] == 1500  # subsampled
    assert 0 < results["autoencoder"].metrics["epochs_run"] <= 2


def test_metrics_on_the_time_ordered_tail(trained, data):
    results, _ = trained
    tail = data.y[2400:]
    for kind in ("isolation_forest", "autoencoder", "supervised"):
        metrics = results[kind].metrics
        assert metrics["tail_n_fraud"] == int(np.sum(tail == 1))
        assert metrics["tail_n_legit"] == int(np.sum(tail == 0))
        assert 0.5 < metrics["tail_roc_auc"] <= 1.0
        assert 0.0 < metrics["tail_average_precision"] <= 1.0
    assert results["supervised"].metrics["tail_roc_auc"] > 0.9
    iforest = results["isolation_forest"].metrics
    assert iforest["train_score_p50"] < iforest["train_score_p99"] < iforest["train_score_p99.9"]
    ae = results["autoencoder"].metrics
    ae_model = load_artifact(results["autoencoder"].path, expected_feature_spec_hash=SPEC_HASH)
    assert ae["threshold"] == pytest.approx(ae_model.threshold)


def test_supervised_needs_enough_labels(data, tmp_path):
    results = train_all(
        data.X,
        y_train=data.y,
        feature_names=FEATURE_NAMES,
        feature_spec_hash=SPEC_HASH,
        window=WINDOW,
        out_dir=tmp_path,
        seed=3,
        kinds=("isolation_forest", "supervised"),
        min_fraud=int(np.sum(data.y == 1)) + 1,
    )
    assert set(results) == {"isolation_forest"}
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["isolation_forest"]


def test_without_labels_only_unsupervised_models(data, tmp_path):
    results = train_all(
        data.X,
        y_train=None,
        feature_names=FEATURE_NAMES,
        feature_spec_hash=SPEC_HASH,
        window=WINDOW,
        out_dir=tmp_path,
        seed=3,
        kinds=("isolation_forest", "supervised"),
    )
    assert set(results) == {"isolation_forest"}
    metrics = results["isolation_forest"].metrics
    assert metrics["n_train_rows"] == len(data.X)
    assert "tail_roc_auc" not in metrics


def test_inputs_are_checked(data, tmp_path):
    common = dict(feature_spec_hash=SPEC_HASH, window=WINDOW, out_dir=tmp_path, seed=0)
    with pytest.raises(ValueError, match="columns"):
        train_all(data.X, feature_names=FEATURE_NAMES[:-1], **common)
    with pytest.raises(ValueError, match="y_train"):
        train_all(data.X, y_train=data.y[:-1], feature_names=FEATURE_NAMES, **common)
    with pytest.raises(ValueError, match="unknown model kinds"):
        train_all(data.X, feature_names=FEATURE_NAMES, kinds=("forest",), **common)
