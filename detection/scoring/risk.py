"""How model scores become one risk score in [0, 1].

- The supervised model (trained on labels) gives a fraud probability; when it is active it
  leads the risk score.
- The unsupervised models give calibrated percentiles (share of training traffic that
  looked more normal). Their anomaly component is max(percentile) ** 50, so the top 1 %
  of anomalies map to >= 0.6 and the top 0.1 % to >= 0.95: a monotone, version-independent
  "probability of being this unusual".
- With the supervised model active, anomalies still count at 60 % weight, so a pattern the
  labels have never shown can reach review.
- Without any model, the risk is 0 and rules alone decide the outcome.
"""

import numpy as np

UNSUPERVISED_KINDS = ("isolation_forest", "autoencoder")
ANOMALY_POWER = 50.0
ANOMALY_WEIGHT_WITH_SUPERVISED = 0.6


def combine_risk(scores: dict[str, np.ndarray]) -> np.ndarray:
    """Vectorised: `scores` holds calibrated arrays keyed by model kind."""
    unsupervised = [scores[k] for k in UNSUPERVISED_KINDS if k in scores]
    anomaly = np.max(np.vstack(unsupervised), axis=0) ** ANOMALY_POWER if unsupervised else None
    supervised = scores.get("supervised")
    if supervised is not None:
        if anomaly is None:
            return np.clip(supervised, 0.0, 1.0)
        return np.clip(np.maximum(supervised, ANOMALY_WEIGHT_WITH_SUPERVISED * anomaly), 0, 1)
    if anomaly is not None:
        return np.clip(anomaly, 0.0, 1.0)
    n = len(next(iter(scores.values()))) if scores else 0
    return np.zeros(n)


def combine_risk_one(scores: dict[str, float]) -> float:
    """Single-row version of combine_risk without array allocations."""
    anomaly = None
    for kind in UNSUPERVISED_KINDS:
        value = scores.get(kind)
        if value is not None and (anomaly is None or value > anomaly):
            anomaly = value
    if anomaly is not None:
        anomaly = anomaly**ANOMALY_POWER
    supervised = scores.get("supervised")
    if supervised is not None:
        risk = supervised if anomaly is None else max(supervised, 0.6 * anomaly)
    else:
        risk = anomaly if anomaly is not None else 0.0
    return min(max(float(risk), 0.0), 1.0)
