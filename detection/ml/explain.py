"""Per-feature contributions that explain a model's score for given rows.

Tree models use SHAP's TreeExplainer (exact Tree SHAP), built from the exported arrays
held by the served model, so no pickled scikit-learn object is needed.  The explainer
is built on first use and kept on the served model (``model.cache``).  All functions
return float64 arrays of shape (n, F), columns in feature-spec order.

What the numbers mean:

* supervised: SHAP values in **log-odds of fraud**.  ``expected_value + row sum`` is the
  model's log-odds for the row; +0.7 on a feature multiplies the fraud odds by about 2.
* isolation forest: SHAP values of the average isolation path length, **negated** so
  that a positive value means the feature made the row easier to isolate (more
  anomalous); units are tree levels, ``expected - row sum`` is the row's mean path length.
* autoencoder: each feature's share of the squared reconstruction error; a row sums to 1
  (0 everywhere when the error is 0).  Not SHAP values.

SHAP costs about a millisecond a row: compute it for flagged transactions and single
checks, not for every row of a batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detection.ml.autoencoder import ServedAutoencoder
from detection.ml.forest_walk import ForestArrays
from detection.ml.isolation_forest import ServedIsolationForest
from detection.ml.supervised import ServedSupervised

_EXPLAINER_KEY = "shap_tree_explainer"


def _shap_trees(forest: ForestArrays, scale: float) -> list[dict[str, np.ndarray]]:
    trees = []
    for t in range(forest.n_trees):
        n = int(forest.n_nodes[t])
        left = forest.left[t, :n].astype(np.int32)
        right = forest.right[t, :n].astype(np.int32)
        is_leaf = left < 0
        default = np.where(forest.missing_go_to_left[t, :n], left, right).astype(np.int32)
        trees.append(
            {
                "children_left": np.where(is_leaf, -1, left).astype(np.int32),
                "children_right": np.where(is_leaf, -1, right).astype(np.int32),
                "children_default": np.where(is_leaf, -1, default).astype(np.int32),
                "features": np.where(is_leaf, -2, forest.feature[t, :n]).astype(np.int32),
                "thresholds": forest.threshold[t, :n].astype(np.float64),
                "values": (forest.value[t, :n] * scale).reshape(-1, 1).astype(np.float64),
                "node_sample_weight": forest.count[t, :n].astype(np.float64),
            }
        )
    return trees


def tree_explainer(model: ServedSupervised | ServedIsolationForest) -> Any:
    """The SHAP TreeExplainer of a served tree model, built once and cached on it."""
    explainer = model.cache.get(_EXPLAINER_KEY)
    if explainer is not None:
        return explainer
    import shap

    if isinstance(model, ServedSupervised):
        spec = {
            "trees": _shap_trees(model.forest, 1.0),
            "base_offset": model.baseline,
            "tree_output": "log_odds",
            "objective": "binary_crossentropy",
            "input_dtype": np.float64,
            "internal_dtype": np.float64,
        }
    elif isinstance(model, ServedIsolationForest):
        spec = {
            "trees": _shap_trees(model.forest, 1.0 / model.forest.n_trees),
            "base_offset": 0.0,
            "tree_output": "raw_value",
            "input_dtype": np.float32,
            "internal_dtype": np.float64,
        }
    else:
        raise TypeError(f"no tree explainer for {type(model).__name__}")
    explainer = shap.TreeExplainer(spec, model_output="raw")
    model.cache[_EXPLAINER_KEY] = explainer
    return explainer


def _rows(model: Any, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return model.check_input(X[None, :] if X.ndim == 1 else X)


def supervised_contributions(model: ServedSupervised, X: np.ndarray) -> np.ndarray:
    """SHAP values in log-odds of fraud, (n, F)."""
    values = tree_explainer(model).shap_values(_rows(model, X), check_additivity=False)
    return np.asarray(values, dtype=np.float64)


def supervised_expected_value(model: ServedSupervised) -> float:
    """Log-odds the SHAP values of a row add to (with their sum)."""
    return float(np.ravel(tree_explainer(model).expected_value)[0])


def isolation_forest_contributions(model: ServedIsolationForest, X: np.ndarray) -> np.ndarray:
    """Minus the SHAP values of the mean path length: positive = more anomalous, (n, F)."""
    values = tree_explainer(model).shap_values(_rows(model, X), check_additivity=False)
    return -np.asarray(values, dtype=np.float64)


def isolation_forest_expected_path_length(model: ServedIsolationForest) -> float:
    return float(np.ravel(tree_explainer(model).expected_value)[0])


def autoencoder_contributions(model: ServedAutoencoder, X: np.ndarray) -> np.ndarray:
    """Each feature's share of the row's squared reconstruction error, (n, F)."""
    errors = model.feature_errors(_rows(model, X))
    totals = errors.sum(axis=1, keepdims=True)
    return np.divide(errors, totals, out=np.zeros_like(errors), where=totals > 0)


def contributions(
    model: ServedSupervised | ServedIsolationForest | ServedAutoencoder, X: np.ndarray
) -> np.ndarray:
    """The contributions matching the kind of ``model`` (see the module docstring)."""
    if isinstance(model, ServedSupervised):
        return supervised_contributions(model, X)
    if isinstance(model, ServedIsolationForest):
        return isolation_forest_contributions(model, X)
    if isinstance(model, ServedAutoencoder):
        return autoencoder_contributions(model, X)
    raise TypeError(f"no contributions for {type(model).__name__}")
