import numpy as np
import pytest

from detection.ml.artifacts import write_artifact
from detection.ml.serving import ModelEnsemble
from tests.detection.ml.conftest import SPEC_HASH, make_features, manifest_for


@pytest.fixture
def ensemble(served_iforest, served_autoencoder, served_supervised):
    return ModelEnsemble([served_supervised, served_iforest, served_autoencoder])


def test_score_gives_raw_and_calibrated_per_kind(ensemble, labelled):
    scores = ensemble.score(labelled.X)
    assert ensemble.kinds == ("isolation_forest", "autoencoder", "supervised")
    assert set(scores) == {
        "isolation_forest",
        "isolation_forest_raw",
        "autoencoder",
        "autoencoder_raw",
        "supervised",
        "supervised_raw",
    }
    for kind in ensemble.kinds:
        assert scores[kind].shape == (len(labelled.X),)
        assert np.all((scores[kind] >= 0) & (scores[kind] <= 1))
        model = ensemble.get(kind)
        np.testing.assert_array_equal(scores[kind + "_raw"], model.raw_scores(labelled.X))
    # calibration keeps the order of the raw scores
    order = np.argsort(scores["autoencoder_raw"])
    assert np.all(np.diff(scores["autoencoder"][order]) >= 0)


def test_score_one_equals_score(ensemble, labelled):
    X = labelled.X[:40].copy()
    X[5, 3] = np.nan
    batch = ensemble.score(X)
    for i, x in enumerate(X):
        one = ensemble.score_one(x)
        assert set(one) == set(batch)
        for key, value in one.items():
            assert value == pytest.approx(batch[key][i], abs=1e-12)


def test_any_model_may_be_missing(served_iforest, labelled):
    only_if = ModelEnsemble([served_iforest])
    assert set(only_if.score(labelled.X[:3])) == {"isolation_forest", "isolation_forest_raw"}
    assert only_if.autoencoder_feature_errors(labelled.X[:3]) is None
    empty = ModelEnsemble()
    assert not empty and empty.score(labelled.X[:3]) == {}


def test_autoencoder_feature_errors(ensemble, served_autoencoder, labelled):
    errors = ensemble.autoencoder_feature_errors(labelled.X[:10])
    np.testing.assert_array_equal(errors, served_autoencoder.feature_errors(labelled.X[:10]))
    np.testing.assert_allclose(ensemble.autoencoder_feature_errors_one(labelled.X[0]), errors[0])


def test_row_of_wrong_width_is_refused(ensemble):
    with pytest.raises(ValueError, match="41 features"):
        ensemble.score_one(np.zeros(40))


def test_models_on_different_feature_specs_are_not_mixed(served_iforest):
    from detection.ml.supervised import build_served_supervised, train_supervised_estimator

    X = make_features(200, seed=1, n_features=10)
    y = (X[:, 0] > 1).astype(float)
    narrow = build_served_supervised(
        train_supervised_estimator(X, y, seed=0, params={"max_iter": 3, "class_weight": None}),
        manifest_for("supervised", n_features=10),
    )
    with pytest.raises(ValueError, match="different feature specs"):
        ModelEnsemble([served_iforest, narrow])


def test_load_leaves_out_refused_artifacts(served_iforest, served_supervised, tmp_path, labelled):
    good = write_artifact(served_iforest, tmp_path)
    bad = write_artifact(served_supervised, tmp_path)
    (bad / "arrays.npz").write_bytes(b"garbage")
    ensemble, errors = ModelEnsemble.load(
        {"isolation_forest": good, "supervised": bad, "autoencoder": None},
        expected_feature_spec_hash=SPEC_HASH,
    )
    assert ensemble.kinds == ("isolation_forest",)
    assert set(errors) == {"supervised"}
    assert "checksum" in errors["supervised"].reason
    assert ensemble.versions() == {"isolation_forest": good.name}
