import numpy as np
import pytest

from detection.ml.forest_walk import CompiledForest, ForestArrays


def stump(feature: int, threshold: float, missing_left: bool, left: float, right: float):
    return {
        "feature": np.array([feature, 0, 0]),
        "threshold": np.array([threshold, 0.0, 0.0]),
        "left": np.array([1, -1, -1]),
        "right": np.array([2, -1, -1]),
        "missing_go_to_left": np.array([missing_left, True, True]),
        "value": np.array([0.0, left, right]),
        "count": np.array([10.0, 6.0, 4.0]),
    }


def deep_tree():
    # root: x0 <= 0 ? (x1 <= 5 ? 1 : 2) : 3
    return {
        "feature": np.array([0, 1, 0, 0, 0]),
        "threshold": np.array([0.0, 5.0, 0.0, 0.0, 0.0]),
        "left": np.array([1, 3, -1, -1, -1]),
        "right": np.array([2, 4, -1, -1, -1]),
        "missing_go_to_left": np.array([False, True, True, True, True]),
        "value": np.array([0.0, 0.0, 3.0, 1.0, 2.0]),
        "count": np.array([9.0, 5.0, 4.0, 3.0, 2.0]),
    }


def reference(trees, x):
    total = 0.0
    for tree in trees:
        node = 0
        while tree["left"][node] >= 0:
            value = x[tree["feature"][node]]
            if np.isnan(value):
                go_left = tree["missing_go_to_left"][node]
            else:
                go_left = value <= tree["threshold"][node]
            node = tree["left"][node] if go_left else tree["right"][node]
        total += tree["value"][node]
    return total


def test_walk_sums_leaves_of_trees_of_different_depths_with_missing_values():
    trees = [stump(0, 0.5, True, 10.0, 20.0), stump(1, -1.0, False, 100.0, 200.0), deep_tree()]
    forest = CompiledForest(ForestArrays.from_trees(trees), 2, float32_inputs=False)
    assert forest.max_depth == 2
    values = [-np.inf, -1.0, 0.0, 0.5, 5.0, 7.0, np.inf, np.nan]
    X = np.array([[a, b] for a in values for b in values])
    expected = np.array([reference(trees, x) for x in X])
    np.testing.assert_array_equal(forest.sum_rows(X), expected)
    np.testing.assert_array_equal([forest.sum_one(x) for x in X], expected)


def test_batches_larger_than_one_chunk():
    trees = [stump(0, 0.0, True, 1.0, 2.0)]
    forest = CompiledForest(ForestArrays.from_trees(trees), 1, float32_inputs=False)
    X = np.linspace(-1, 1, 10_001)[:, None]
    np.testing.assert_array_equal(forest.sum_rows(X), np.where(X[:, 0] <= 0, 1.0, 2.0))


def test_single_leaf_trees():
    leaf = {
        "feature": np.array([0]),
        "threshold": np.array([0.0]),
        "left": np.array([-1]),
        "right": np.array([-1]),
        "missing_go_to_left": np.array([True]),
        "value": np.array([4.5]),
        "count": np.array([1.0]),
    }
    forest = CompiledForest(ForestArrays.from_trees([leaf, leaf]), 3, float32_inputs=True)
    assert forest.sum_one(np.zeros(3)) == 9.0
    np.testing.assert_array_equal(forest.sum_rows(np.ones((4, 3))), np.full(4, 9.0))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("right", np.array([7, -1, -1]), "child index"),
        ("feature", np.array([5, 0, 0]), "feature index"),
        ("left", np.array([0, -1, -1]), "reachable|cycle"),
    ],
)
def test_inconsistent_arrays_are_refused(field, value, message):
    tree = stump(0, 0.5, True, 1.0, 2.0)
    tree[field] = value
    with pytest.raises(ValueError, match=message):
        CompiledForest(ForestArrays.from_trees([tree]), 2, float32_inputs=False)
