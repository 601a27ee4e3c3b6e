"""Column-wise helpers of the CSV reader: a function applied once per distinct value."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def each_distinct(values: np.ndarray, function: Callable[[Any], Any]) -> np.ndarray:
    """function(v) for every value, computed once per distinct value (fast for the many
    repeated values of a column: codes, countries, accounts)."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    codes, uniques = pd.factorize(values)
    results = np.empty(len(uniques), dtype=object)
    results[:] = [function(u) for u in uniques.tolist()]
    return results[codes]


def flags(values: np.ndarray, function: Callable[[Any], bool]) -> np.ndarray:
    return each_distinct(values, function).astype(bool)
