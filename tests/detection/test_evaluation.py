import numpy as np
import pytest

from detection.evaluation import detection_metrics, precision_top_k_per_day, recall_at_fpr


def test_recall_at_fpr_counts_only_scores_above_allowed_false_alarms():
    # 100 legit scores 0..99; fraud scores 98.5 and 50.5.
    legit = np.arange(100, dtype=float)
    y = np.r_[np.zeros(100), np.ones(2)].astype(bool)
    s = np.r_[legit, 98.5, 50.5]
    recall, threshold = recall_at_fpr(y, s, 0.01)  # 1 false alarm allowed: threshold 98
    assert threshold == 98.0
    assert recall == 0.5
    recall, threshold = recall_at_fpr(y, s, 0.5)  # 50 allowed: threshold 49
    assert threshold == 49.0
    assert recall == 1.0


def test_precision_top_k_per_day():
    y = np.array([1, 0, 0, 1, 1, 0])
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.95, 0.3])
    d = np.array([1, 1, 1, 2, 2, 2])
    # day 1 top2: (0.9 y1, 0.8 y0) -> 0.5 ; day 2 top2: (0.95 y1, 0.3 y0) -> 0.5
    assert precision_top_k_per_day(y, s, d, k=2) == pytest.approx(0.5)


def test_detection_metrics_per_scenario_and_outcomes():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(1000), np.ones(20)].astype(bool)
    s = np.r_[rng.random(1000), 2 + rng.random(10), rng.random(10)]
    scen = np.array([""] * 1000 + ["easy"] * 10 + ["hard"] * 10)
    flagged = s > 1.5
    m = detection_metrics(y, s, scenarios=scen, outcome_flagged=flagged, days=np.zeros(1020))
    assert m["fraud"] == 20
    assert m["per_scenario"]["easy"]["recall_at_2%_fpr"] == 1.0
    assert m["per_scenario"]["hard"]["recall_at_2%_fpr"] < 0.5
    assert m["outcome_recall"] == 0.5
    assert m["outcome_false_positive_rate"] == 0.0
    assert 0.5 < m["roc_auc"] < 1.0
