"""Detection metrics for backtests, retraining comparisons and the dashboard."""

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

FPR_POINTS = (0.01, 0.02, 0.05)


def recall_at_fpr(y_true: np.ndarray, scores: np.ndarray, fpr: float) -> tuple[float, float]:
    """Recall when flagging everything above the threshold that lets at most `fpr` of the
    legitimate transactions through as false alarms. Returns (recall, threshold)."""
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    legit = np.sort(scores[~y_true])[::-1]
    if legit.size == 0 or y_true.sum() == 0:
        return float("nan"), float("nan")
    allowed = int(np.floor(fpr * legit.size))
    # Flag scores strictly above the (allowed+1)-th highest legit score.
    threshold = legit[allowed] if allowed < legit.size else -np.inf
    recall = float((scores[y_true] > threshold).mean())
    return recall, float(threshold)


def precision_top_k_per_day(
    y_true: np.ndarray, scores: np.ndarray, days: np.ndarray, k: int = 100
) -> float:
    """Mean over days of the precision among that day's k highest-scored transactions
    (what a team that can review k alerts a day would see)."""
    frame = pd.DataFrame({"y": np.asarray(y_true, dtype=float), "s": scores, "d": days})
    top = frame.sort_values("s", ascending=False).groupby("d", sort=False).head(k)
    per_day = top.groupby("d")["y"].mean()
    return float(per_day.mean()) if len(per_day) else float("nan")


def detection_metrics(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    days: np.ndarray | None = None,
    scenarios: np.ndarray | None = None,
    outcome_flagged: np.ndarray | None = None,
) -> dict[str, Any]:
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    out: dict[str, Any] = {
        "transactions": int(y_true.size),
        "fraud": int(y_true.sum()),
        "fraud_rate": float(y_true.mean()) if y_true.size else float("nan"),
    }
    if 0 < y_true.sum() < y_true.size:
        out["roc_auc"] = float(roc_auc_score(y_true, scores))
        out["average_precision"] = float(average_precision_score(y_true, scores))
    else:
        out["roc_auc"] = out["average_precision"] = float("nan")
    thresholds = {}
    for fpr in FPR_POINTS:
        recall, threshold = recall_at_fpr(y_true, scores, fpr)
        out[f"recall_at_{fpr:.0%}_fpr"] = recall
        thresholds[f"{fpr:.0%}"] = threshold
    out["thresholds_at_fpr"] = thresholds
    if days is not None:
        out["precision_top100_per_day"] = precision_top_k_per_day(y_true, scores, days, 100)
    if outcome_flagged is not None:
        flagged = np.asarray(outcome_flagged, dtype=bool)
        out["flag_rate"] = float(flagged.mean()) if flagged.size else float("nan")
        out["outcome_recall"] = float(flagged[y_true].mean()) if y_true.any() else float("nan")
        out["outcome_false_positive_rate"] = (
            float(flagged[~y_true].mean()) if (~y_true).any() else float("nan")
        )
        out["outcome_precision"] = float(y_true[flagged].mean()) if flagged.any() else float("nan")
    if scenarios is not None:
        threshold_2 = thresholds["2%"]
        per_scenario = {}
        names = pd.Series(scenarios).fillna("").astype(str).to_numpy()
        for name in sorted(set(names[y_true]) - {""}):
            mask = y_true & (names == name)
            per_scenario[name] = {
                "fraud": int(mask.sum()),
                "recall_at_2%_fpr": float((scores[mask] > threshold_2).mean()),
                **(
                    {"outcome_recall": float(np.asarray(outcome_flagged)[mask].mean())}
                    if outcome_flagged is not None
                    else {}
                ),
            }
        out["per_scenario"] = per_scenario
    return out
