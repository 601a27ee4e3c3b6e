"""Vectorised numpy evaluation of a forest of binary decision trees.

Both tree models (isolation forest, gradient boosting) are exported to the same padded
layout, :class:`ForestArrays`: one row per tree, one column per node, the node numbering
of scikit-learn kept as is.  That layout is what artifacts store.

At load time it is compiled into :class:`CompiledForest`, a flat layout built for the
walk: all trees advance one level per step, for all rows at once, with about six numpy
operations per level whatever the number of trees or rows:

* node ``g`` (global over all trees) lives at the even position ``p = 2 g``;
* ``child[p + go_right]`` is the position of the next node, and a leaf points to itself
  on both sides, so a row that reached its leaf stays there while deeper trees finish;
* missing values (NaN) follow scikit-learn's per-node ``missing_go_to_left``.  A node
  whose missing values go right reads the negated feature from ``[x, -x]`` and compares
  with ``-nextafter(threshold, +inf)``: ``-x > -nextafter(t)`` is ``x <= t`` for every
  non-missing ``x`` and is false for NaN, so with the children swapped NaN goes right
  and the comparison needs no separate missing-value branch.  The negated copy caps
  +inf at the largest finite float, so that a threshold of +inf (gradient boosting's
  "split on missing values only") still sends +inf left, as ``inf <= inf`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEAF = -1

FOREST_ARRAY_NAMES = (
    "feature",
    "threshold",
    "left",
    "right",
    "missing_go_to_left",
    "value",
    "count",
    "n_nodes",
)

_FLOAT32_MAX = np.float32(np.finfo(np.float32).max)
_FLOAT64_MAX = np.finfo(np.float64).max

# Rows walked together in one batch: bounds the (rows x trees) temporaries to a few MB.
_BATCH_ROWS = 4096


@dataclass(frozen=True)
class ForestArrays:
    """Padded per-node arrays of ``n_trees`` trees, shape ``(n_trees, max_nodes)``.

    ``left``/``right`` are per-tree node indices, ``LEAF`` (-1) at leaves and padding.
    ``value`` holds the leaf outputs (internal nodes may hold anything), ``count`` the
    training samples that reached each node.  ``n_nodes`` gives each tree's real size.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_go_to_left: np.ndarray
    value: np.ndarray
    count: np.ndarray
    n_nodes: np.ndarray

    @classmethod
    def from_trees(cls, trees: list[dict[str, np.ndarray]]) -> ForestArrays:
        """Pad a list of per-tree node arrays (keys as the field names, minus n_nodes)."""
        n_trees = len(trees)
        if n_trees == 0:
            raise ValueError("a forest needs at least one tree")
        sizes = np.array([len(t["left"]) for t in trees], dtype=np.int64)
        width = int(sizes.max())
        feature = np.zeros((n_trees, width), dtype=np.int64)
        threshold = np.zeros((n_trees, width), dtype=np.float64)
        left = np.full((n_trees, width), LEAF, dtype=np.int64)
        right = np.full((n_trees, width), LEAF, dtype=np.int64)
        missing_left = np.ones((n_trees, width), dtype=bool)
        value = np.zeros((n_trees, width), dtype=np.float64)
        count = np.zeros((n_trees, width), dtype=np.float64)
        for i, tree in enumerate(trees):
            n = sizes[i]
            is_leaf = np.asarray(tree["left"]) < 0
            feature[i, :n] = np.where(is_leaf, 0, tree["feature"])
            threshold[i, :n] = np.where(is_leaf, 0.0, tree["threshold"])
            left[i, :n] = np.where(is_leaf, LEAF, tree["left"])
            right[i, :n] = np.where(is_leaf, LEAF, tree["right"])
            missing_left[i, :n] = np.asarray(tree["missing_go_to_left"], dtype=bool)
            value[i, :n] = tree["value"]
            count[i, :n] = tree["count"]
        return cls(feature, threshold, left, right, missing_left, value, count, sizes)

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + name: getattr(self, name) for name in FOREST_ARRAY_NAMES}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> ForestArrays:
        return cls(**{name: np.asarray(arrays[prefix + name]) for name in FOREST_ARRAY_NAMES})

    @property
    def n_trees(self) -> int:
        return int(self.left.shape[0])

    def validate(self, n_features: int) -> None:
        """Raise ValueError when the arrays cannot describe a forest over n_features."""
        shape = self.left.shape
        if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
            raise ValueError(f"node arrays must be (n_trees, max_nodes), got {shape}")
        for name in FOREST_ARRAY_NAMES[:-1]:
            if getattr(self, name).shape != shape:
                raise ValueError(f"node array {name!r} has shape {getattr(self, name).shape}")
        if self.n_nodes.shape != (shape[0],):
            raise ValueError("n_nodes must hold one size per tree")
        if np.any(self.n_nodes < 1) or np.any(self.n_nodes > shape[1]):
            raise ValueError("tree sizes out of range")
        real = np.arange(shape[1])[None, :] < self.n_nodes[:, None]
        internal = real & (self.left >= 0)
        sizes = self.n_nodes[:, None]
        if np.any(internal & ((self.right < 0) | (self.left >= sizes) | (self.right >= sizes))):
            raise ValueError("child index out of range")
        if np.any(internal & ((self.feature < 0) | (self.feature >= n_features))):
            raise ValueError("split feature index out of range")
        depth = self.depths()
        if np.any(real & (depth < 0)):
            raise ValueError("some nodes are not reachable from the root")

    def depths(self) -> np.ndarray:
        """Depth of each node (root 0), -1 for padding; vectorised over trees."""
        n_trees, width = self.left.shape
        depth = np.full((n_trees, width), -1, dtype=np.int64)
        depth[:, 0] = 0
        rows = np.arange(n_trees)
        frontier = np.zeros((n_trees, 1), dtype=np.int64)
        frontier_rows = rows[:, None]
        level = 0
        while frontier.size:
            lefts = self.left[frontier_rows, frontier]
            rights = self.right[frontier_rows, frontier]
            keep = lefts >= 0
            if level > width:
                raise ValueError("tree contains a cycle")
            level += 1
            r = np.concatenate([frontier_rows[keep], frontier_rows[keep]])
            c = np.concatenate([lefts[keep], rights[keep]])
            depth[r, c] = level
            frontier_rows, frontier = r[:, None], c[:, None]
        return depth


class CompiledForest:
    """Sum of leaf values over all trees, walked level by level in numpy.

    ``float32_inputs`` reproduces scikit-learn estimators that cast X to float32 before
    comparing with float64 thresholds (the isolation forest does).
    """

    def __init__(self, forest: ForestArrays, n_features: int, *, float32_inputs: bool) -> None:
        forest.validate(n_features)
        self.n_features = n_features
        self.n_trees = forest.n_trees
        self.float32_inputs = float32_inputs
        depth = forest.depths()
        self.max_depth = int(depth.max())

        width = forest.left.shape[1]
        offsets = (np.arange(self.n_trees) * width)[:, None]
        node = (np.arange(width)[None, :] + offsets).ravel()
        is_leaf = (forest.left < 0).ravel()
        left_g = np.where(is_leaf, node, (forest.left + offsets).ravel())
        right_g = np.where(is_leaf, node, (forest.right + offsets).ravel())
        missing_right = ~forest.missing_go_to_left.ravel() & ~is_leaf

        # Missing values go right: read -x, compare with -nextafter(t), children swapped.
        feat = np.where(missing_right, forest.feature.ravel() + n_features, forest.feature.ravel())
        thr = forest.threshold.ravel()
        thr = np.where(missing_right, -np.nextafter(thr, np.inf), thr)
        slot0 = np.where(missing_right, right_g, left_g)
        slot1 = np.where(missing_right, left_g, right_g)

        n_total = node.size
        self._feature = np.repeat(np.where(is_leaf, 0, feat), 2).astype(np.intp)
        self._threshold = np.repeat(thr, 2)
        child = np.empty(2 * n_total, dtype=np.intp)
        child[0::2] = 2 * slot0
        child[1::2] = 2 * slot1
        self._child = child
        self._value = np.repeat(np.where(is_leaf, forest.value.ravel(), 0.0), 2)
        self._roots = (2 * offsets.ravel()).astype(np.intp)
        self._root_feature = self._feature[self._roots]
        self._root_threshold = self._threshold[self._roots]

    def _extend(self, X: np.ndarray) -> np.ndarray:
        """``[x, -min(x, largest finite)]`` along the last axis (see the module notes)."""
        if self.float32_inputs:
            with np.errstate(over="ignore"):  # huge values become inf, as in scikit-learn
                X = X.astype(np.float32)
            cap = _FLOAT32_MAX
        else:
            cap = _FLOAT64_MAX
        return np.concatenate((X, -np.minimum(X, cap)), axis=-1)

    def sum_one(self, x: np.ndarray) -> float:
        """Sum over trees of the leaf values reached by one row (shape (F,))."""
        xa = self._extend(x)
        feature, threshold, child = self._feature, self._threshold, self._child
        # The roots are the same for every row: their split is read from fixed arrays.
        p = child[self._roots + (xa[self._root_feature] > self._root_threshold)]
        for _ in range(self.max_depth - 1):
            p = child[p + (xa[feature[p]] > threshold[p])]
        return float(self._value[p].sum())

    def sum_rows(self, X: np.ndarray) -> np.ndarray:
        """Per row, the sum over trees of the leaf values reached; X shape (n, F)."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, _BATCH_ROWS):
            stop = min(start + _BATCH_ROWS, n)
            out[start:stop] = self._sum_batch(X[start:stop])
        return out

    def _sum_batch(self, X: np.ndarray) -> np.ndarray:
        xa = self._extend(X).ravel()
        n = X.shape[0]
        row_base = (np.arange(n, dtype=np.intp) * (2 * self.n_features))[:, None]
        feature, threshold, child = self._feature, self._threshold, self._child
        p = np.broadcast_to(self._roots, (n, self.n_trees))
        for _ in range(self.max_depth):
            p = child[p + (xa[feature[p] + row_base] > threshold[p])]
        return self._value[p].sum(axis=1)
