import pytest

from detection.ml.bench import benchmark_scoring
from tests.detection.ml.conftest import make_features


@pytest.mark.slow
def test_benchmark_reports_latency_percentiles():
    X = make_features(1500, seed=5)
    results = benchmark_scoring(X, n_rows=40, n_naive_rows=6, ae_epochs=1)
    expected = {
        "numpy.scaler",
        "numpy.isolation_forest",
        "numpy.autoencoder",
        "numpy.supervised",
        "numpy.ensemble_score_one",
        "sklearn.standard_scaler",
        "sklearn.isolation_forest",
        "sklearn.supervised",
        "keras.predict",
        "keras.eager",
    }
    assert set(results) == expected
    for name, stats in results.items():
        assert 0 < stats["p50_ms"] <= stats["p99_ms"], name
        assert stats["n"] == (40 if name.startswith("numpy") else 6)
    # the numpy walk of 100 trees beats scikit-learn's per-call overhead by a wide margin
    assert (
        results["numpy.isolation_forest"]["p50_ms"] < results["sklearn.isolation_forest"]["p50_ms"]
    )
