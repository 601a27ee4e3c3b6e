import numpy as np
import pytest

from detection.ml.calibration import EcdfCalibrator, fit_ecdf


def test_calibrated_scores_are_monotone_and_in_unit_range():
    rng = np.random.default_rng(0)
    calibrator = fit_ecdf(rng.gamma(2.0, 0.1, size=20_000))
    grid = np.linspace(-1.0, 5.0, 20_001)
    values = calibrator(grid)
    assert values.min() == 0.0 and values.max() == 1.0
    assert np.all(np.diff(values) >= 0)
    assert np.all((values >= 0) & (values <= 1))


def test_value_is_the_share_of_training_scores_at_or_below():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal(50_000)
    calibrator = fit_ecdf(scores)
    for probe in (-2.0, -0.5, 0.0, 1.3, 2.5, 3.2):
        expected = np.mean(scores <= probe)
        assert calibrator.one(probe) == pytest.approx(expected, abs=2e-3)
    assert calibrator.one(scores.max()) == 1.0
    assert calibrator.one(scores.min() - 1.0) == 0.0


def test_ties_collapse_to_one_knot():
    scores = np.concatenate([np.zeros(900), np.linspace(1.0, 2.0, 100)])
    calibrator = fit_ecdf(scores)
    assert np.all(np.diff(calibrator.xp) > 0)
    assert calibrator.one(0.0) == pytest.approx(0.9)
    assert calibrator.one(-1e-9) == 0.0


def test_single_value_and_vectorised_paths_agree():
    rng = np.random.default_rng(2)
    calibrator = fit_ecdf(rng.exponential(size=5000))
    probes = np.concatenate(
        [rng.exponential(size=500) * 1.5, calibrator.xp[:50], [-1.0, 0.0, 100.0]]
    )
    np.testing.assert_allclose([calibrator.one(p) for p in probes], calibrator(probes), atol=1e-12)
    assert np.isnan(calibrator.one(float("nan")))


def test_arrays_are_checked_when_loaded():
    calibrator = fit_ecdf(np.arange(100.0))
    again = EcdfCalibrator.from_arrays(calibrator.to_arrays())
    np.testing.assert_array_equal(again(np.arange(100.0)), calibrator(np.arange(100.0)))
    with pytest.raises(ValueError, match="increasing"):
        EcdfCalibrator.from_arrays(
            {"calibration_xp": np.array([1.0, 0.0]), "calibration_fp": np.array([0.0, 1.0])}
        )
