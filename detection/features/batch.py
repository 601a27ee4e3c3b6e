"""Vectorised features for a whole frame (training, backtests, batch scoring).

The frame holds history and the rows to score together; every row gets the features it
would have had in real time, computed from the rows before it (see spec.py for the
conventions). Callers slice out the rows they want afterwards.

Everything is numpy/pandas over sorted arrays: rows are sorted by (account, time, row)
and by (counterparty, time, row); windows are binary searches on a (group, time-rank)
key; "distinct in a window" counts use the "last occurrence" trick on difference arrays.
"""

import math

import numpy as np
import pandas as pd

from detection.features import spec
from detection.features.clock import (
    bank_time_zone,
    label_delay_ns,
    local_ns_array,
    month_index_array,
)
from detection.features.frame import normalise_frame, normalise_labels
from detection.features.spec import (
    AMOUNT_FLOOR,
    CARD_CHANNELS,
    COUNTERPARTY_SENDERS_CAP,
    COUNTERPARTY_WINDOW_NS,
    DAY_NS,
    DEFAULT_LABEL_DELAY_DAYS,
    DIGITAL_CHANNELS,
    FEATURE_INDEX,
    HOUR_ANGLE,
    HOUR_NS,
    MONTH_NS,
    N_FEATURES,
    NIGHT_END_HOUR,
    ROUND_AMOUNT_UNIT,
    SECOND_NS,
    SINCE_PREV_CAP_SECONDS,
    TRANSFER_TYPES,
    WEEKEND_DAYS,
    WINDOW_1H_NS,
    WINDOW_10M_NS,
    WINDOW_24H_NS,
    WINDOW_30S_NS,
    ZSCORE_CLIP,
)

_I = FEATURE_INDEX


class GroupedTimes:
    """Rows sorted by (group, time): how many rows of a group are at/before a time."""

    def __init__(self, groups: np.ndarray, times: np.ndarray) -> None:
        ordered = np.sort(times)  # np.unique(times), many times faster for int64
        first = np.ones(len(ordered), dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        self.uniq = ordered[first]
        self.stride = np.int64(len(self.uniq) + 1)
        rank = np.searchsorted(self.uniq, times)
        self.keys = groups.astype(np.int64) * self.stride + rank + 1

    def _count(self, groups: np.ndarray, values: np.ndarray, side: str) -> np.ndarray:
        base = groups.astype(np.int64) * self.stride
        rank = np.searchsorted(self.uniq, values, side=side)
        upto = np.searchsorted(self.keys, base + rank, side="right")
        return upto - np.searchsorted(self.keys, base, side="right")

    def count_le(self, groups: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self._count(groups, values, "right")

    def count_lt(self, groups: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self._count(groups, values, "left")


def _codes(values: np.ndarray, uniques: pd.Index | None = None) -> tuple[np.ndarray, pd.Index]:
    """Integer codes with '' (missing) as -1."""
    if uniques is None:
        codes, uniques = pd.factorize(values)
        uniques = pd.Index(uniques)
    else:
        codes = uniques.get_indexer(values)
    empty = uniques.get_indexer([""])[0]
    codes = np.asarray(codes, dtype=np.int64)
    if empty >= 0:
        codes[codes == empty] = -1
    return codes, uniques


def _group_starts(groups: np.ndarray) -> np.ndarray:
    n = len(groups)
    idx = np.arange(n)
    new = np.ones(n, dtype=bool)
    new[1:] = groups[1:] != groups[:-1]
    return np.maximum.accumulate(np.where(new, idx, 0))


def _group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return pd.Series(values).groupby(groups, sort=False).cumsum().to_numpy(dtype=np.float64)


def _group_cummax(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return pd.Series(values).groupby(groups, sort=False).cummax().to_numpy(dtype=np.float64)


def _prior(values: np.ndarray, has_prev: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """Value of the previous row of the same group (rows are group-contiguous)."""
    out = np.full(len(values), empty, dtype=np.float64)
    out[1:] = values[:-1]
    out[~has_prev] = empty
    return out


def _pair_runs(
    groups: np.ndarray, key: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For group-sorted rows: running count of (group, key) including the row, and the
    index of the next row with the same (group, key) (len(rows) when none)."""
    n = len(groups)
    count = np.zeros(n, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    sel = np.flatnonzero(valid)
    if len(sel) == 0:
        return count, nxt
    order = sel[np.lexsort((sel, key[sel], groups[sel]))]
    same = (groups[order][1:] == groups[order][:-1]) & (key[order][1:] == key[order][:-1])
    m = len(order)
    start = np.ones(m, dtype=bool)
    start[1:] = ~same
    j = np.arange(m)
    count[order] = j - np.maximum.accumulate(np.where(start, j, 0)) + 1
    nxt_sorted = np.full(m, n, dtype=np.int64)
    nxt_sorted[:-1] = np.where(same, order[1:], n)
    nxt[order] = nxt_sorted
    return count, nxt


def _range_counts(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many [start, end] index ranges cover each of n positions."""
    keep = starts <= ends
    starts, ends = starts[keep], ends[keep]
    diff = np.bincount(starts, minlength=n + 1) - np.bincount(ends + 1, minlength=n + 1)
    return np.cumsum(diff[:n])


def _labels_from_frame(frame: pd.DataFrame, delay_ns: int) -> tuple[np.ndarray, np.ndarray]:
    label = frame["label"].to_numpy(dtype=np.float64)
    fraud = (label == 1.0) & (frame["counterparty"].to_numpy(dtype=object) != "")
    keys = frame["counterparty"].to_numpy(dtype=object)[fraud]
    return keys, frame["ts"].to_numpy(dtype=np.int64)[fraud] + delay_ns


def compute_features_batch(
    frame: pd.DataFrame,
    *,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    labels: pd.DataFrame | None = None,
    tz: str | None = None,
) -> np.ndarray:
    """Features for every row of `frame` (canonical or normalised columns).

    Returns float64 (len(frame), N_FEATURES), rows in the frame's order. `labels`
    (counterparty, ts/timestamp, is_fraud[, known_at]) feed the counterparty fraud
    features; without it the frame's `label` column is used with `label_delay_days`.
    `tz` defaults to settings.TIME_ZONE."""
    tz_name = bank_time_zone(tz)
    f = normalise_frame(frame, tz=tz_name)
    n = len(f)
    result = np.zeros((n, N_FEATURES), dtype=np.float64)
    if n == 0:
        return result
    delay_ns = label_delay_ns(label_delay_days)

    ts_all = f["ts"].to_numpy(dtype=np.int64)
    account_codes, _ = pd.factorize(f["account"].to_numpy(dtype=object))
    order = np.lexsort((np.arange(n), ts_all, account_codes))

    g = np.asarray(account_codes, dtype=np.int64)[order]
    t = ts_all[order]
    a = f["amount"].to_numpy(dtype=np.float64)[order]
    idx = np.arange(n)
    gs = _group_starts(g)
    pos = idx - gs  # number of prior transactions of the account
    has_prev = pos > 0
    out = np.zeros((n, N_FEATURES), dtype=np.float64)

    # --- velocity -------------------------------------------------------------
    times = GroupedTimes(g, t)
    for name, window in (
        ("velocity_count_30s", WINDOW_30S_NS),
        ("velocity_count_10m", WINDOW_10M_NS),
        ("velocity_count_1h", WINDOW_1H_NS),
        ("velocity_count_24h", WINDOW_24H_NS),
    ):
        out[:, _I[name]] = pos + 1 - times.count_le(g, t - window)
    left_24h = gs + times.count_le(g, t - WINDOW_24H_NS)

    gap = np.zeros(n, dtype=np.int64)
    gap[1:] = t[1:] - t[:-1]
    gap[~has_prev] = 0
    seconds = gap / SECOND_NS
    out[:, _I["velocity_log_seconds_since_prev"]] = np.where(
        has_prev,
        np.log1p(np.minimum(seconds, SINCE_PREV_CAP_SECONDS)),
        math.log1p(SINCE_PREV_CAP_SECONDS),
    )
    out[:, _I["days_since_prev"]] = np.where(has_prev, gap / DAY_NS, 0.0)

    running_sum = _group_cumsum(a, g)
    before_window = np.where(left_24h > gs, running_sum[np.maximum(left_24h - 1, 0)], 0.0)
    out[:, _I["velocity_amount_sum_24h"]] = running_sum - before_window
    prior_total = _prior(running_sum, has_prev)

    # --- amount vs history ----------------------------------------------------
    first_amount = a[gs]
    shifted = a - first_amount
    s1 = _prior(_group_cumsum(shifted, g), has_prev)
    s2 = _prior(_group_cumsum(shifted * shifted, g), has_prev)
    count = pos.astype(np.float64)
    safe_count = np.maximum(count, 1.0)
    mean = np.where(has_prev, first_amount + s1 / safe_count, 0.0)
    variance = np.maximum(s2 / safe_count - (s1 / safe_count) ** 2, 0.0)
    std = np.where(pos >= 2, np.sqrt(variance), 0.0)
    prior_max = _prior(_group_cummax(a, g), has_prev)
    out[:, _I["amount_log"]] = np.log1p(a)
    out[:, _I["amount_is_round"]] = (a >= ROUND_AMOUNT_UNIT) & (
        np.fmod(a, ROUND_AMOUNT_UNIT) == 0.0
    )
    out[:, _I["history_count"]] = count
    out[:, _I["history_amount_mean"]] = mean
    out[:, _I["history_amount_std"]] = std
    out[:, _I["history_amount_max"]] = prior_max
    out[:, _I["amount_zscore"]] = np.where(
        pos >= 2,
        np.clip((a - mean) / np.maximum(std, AMOUNT_FLOOR), -ZSCORE_CLIP, ZSCORE_CLIP),
        0.0,
    )
    out[:, _I["amount_ratio_to_mean"]] = np.where(has_prev, a / np.maximum(mean, AMOUNT_FLOOR), 1.0)
    out[:, _I["amount_ratio_to_max"]] = np.where(
        has_prev, a / np.maximum(prior_max, AMOUNT_FLOOR), 1.0
    )

    # --- local time and month to date -----------------------------------------
    local = local_ns_array(t, tz_name)
    day = np.floor_divide(local, DAY_NS)
    second_of_day = local - day * DAY_NS
    angle = (second_of_day / HOUR_NS) * HOUR_ANGLE
    out[:, _I["hour_sin"]] = np.sin(angle)
    out[:, _I["hour_cos"]] = np.cos(angle)
    out[:, _I["is_night"]] = second_of_day < NIGHT_END_HOUR * HOUR_NS
    out[:, _I["is_weekend"]] = np.isin((day + 3) % 7, WEEKEND_DAYS)

    month = month_index_array(local)
    month_key = g * (month.max() - month.min() + 1) + (month - month.min())
    month_start = _group_starts(month_key)
    month_to_date = _group_cumsum(a, month_key)
    out[:, _I["month_to_date_amount"]] = month_to_date
    out[:, _I["month_to_date_count"]] = idx - month_start + 1
    months_of_history = np.maximum(1.0, (t - t[gs]) / MONTH_NS)
    typical_month = prior_total / months_of_history
    out[:, _I["month_to_date_ratio_to_typical"]] = np.where(
        has_prev, month_to_date / np.maximum(typical_month, AMOUNT_FLOOR), 1.0
    )

    # --- countries, novelty ---------------------------------------------------
    country_values = np.concatenate(
        [
            f["country"].to_numpy(dtype=object)[order],
            f["home_country"].to_numpy(dtype=object)[order],
            f["counterparty_country"].to_numpy(dtype=object)[order],
        ]
    )
    country_codes, _ = _codes(country_values)
    country, home_given, cp_country = (
        country_codes[:n],
        country_codes[n : 2 * n],
        country_codes[2 * n :],
    )

    country_count, _ = _pair_runs(g, country, country >= 0)
    stride = np.int64(n + 1)
    running_max = np.maximum.accumulate(g * stride + country_count) - g * stride
    prior_max_count = np.zeros(n, dtype=np.int64)
    prior_max_count[1:] = running_max[:-1]
    prior_max_count[~has_prev] = 0
    becomes_mode = country_count > prior_max_count
    last_mode_row = np.maximum.accumulate(np.where(becomes_mode, idx, -1))
    mode_after = np.where(last_mode_row >= gs, country[np.maximum(last_mode_row, 0)], -1)
    mode_before = np.full(n, -1, dtype=np.int64)
    mode_before[1:] = mode_after[:-1]
    mode_before[~has_prev] = -1
    home = np.where(home_given >= 0, home_given, mode_before)

    international = (country >= 0) & (home >= 0) & (country != home)
    out[:, _I["is_international"]] = international
    cumulative_intl = np.concatenate([[0], np.cumsum(international)])
    prior_intl = cumulative_intl[idx] - cumulative_intl[gs]
    out[:, _I["history_international_ratio"]] = np.where(has_prev, prior_intl / safe_count, 0.0)
    out[:, _I["counterparty_is_foreign"]] = (cp_country >= 0) & (home >= 0) & (cp_country != home)
    out[:, _I["is_new_country"]] = has_prev & (country >= 0) & (country_count == 1)

    counterparty, counterparty_uniques = _codes(f["counterparty"].to_numpy(dtype=object)[order])
    cp_count, cp_next = _pair_runs(g, counterparty, counterparty >= 0)
    out[:, _I["is_new_counterparty"]] = has_prev & (counterparty >= 0) & (cp_count == 1)
    last_in_24h = gs + times.count_lt(g, t + WINDOW_24H_NS) - 1
    with_cp = np.flatnonzero(counterparty >= 0)
    out[:, _I["velocity_distinct_counterparties_24h"]] = _range_counts(
        n, with_cp, np.minimum(cp_next[with_cp] - 1, last_in_24h[with_cp])
    )

    channel, channel_uniques = _codes(f["channel"].to_numpy(dtype=object)[order])
    channel_count, _ = _pair_runs(g, channel, channel >= 0)
    out[:, _I["is_new_channel"]] = has_prev & (channel >= 0) & (channel_count == 1)
    digital = np.array([u in DIGITAL_CHANNELS for u in channel_uniques] + [False])
    card = np.array([u in CARD_CHANNELS for u in channel_uniques] + [False])
    out[:, _I["channel_digital"]] = digital[channel]  # -1 picks the trailing False
    out[:, _I["channel_card"]] = card[channel]

    transfer_type, type_uniques = _codes(f["transfer_type"].to_numpy(dtype=object)[order])
    for code in TRANSFER_TYPES:
        hit = np.array([u == code for u in type_uniques] + [False])
        out[:, _I[f"transfer_type_{code}"]] = hit[transfer_type]

    # --- counterparty side ----------------------------------------------------
    if len(with_cp):
        if labels is None:
            label_keys, label_known = _labels_from_frame(f, delay_ns)
        else:
            label_keys, label_known = normalise_labels(labels, delay_ns=delay_ns, tz=tz_name)
        _counterparty_features(
            out,
            rows=with_cp,
            original_row=order[with_cp],
            counterparty=counterparty[with_cp],
            account=g[with_cp],
            t=t[with_cp],
            counterparty_uniques=counterparty_uniques,
            label_keys=label_keys,
            label_known=label_known,
            delay_ns=delay_ns,
        )

    result[order] = out
    return result


def _counterparty_features(
    out: np.ndarray,
    *,
    rows: np.ndarray,
    original_row: np.ndarray,
    counterparty: np.ndarray,
    account: np.ndarray,
    t: np.ndarray,
    counterparty_uniques: pd.Index,
    label_keys: np.ndarray,
    label_known: np.ndarray,
    delay_ns: int,
) -> None:
    """Fill the counterparty family for `rows` (positions in `out`) that have one."""
    o = np.lexsort((original_row, t, counterparty))
    cg, ct, ca, target = counterparty[o], t[o], account[o], rows[o]
    m = len(o)
    j = np.arange(m)
    cgs = _group_starts(cg)
    prior = j - cgs
    out[target, _I["counterparty_log_prior_count"]] = np.log1p(prior)

    times = GroupedTimes(cg, ct)
    _, same_sender_next = _pair_runs(cg, ca, np.ones(m, dtype=bool))
    last_in_window = cgs + times.count_lt(cg, ct + COUNTERPARTY_WINDOW_NS) - 1
    out[target, _I["counterparty_distinct_senders_7d"]] = np.minimum(
        _range_counts(m, j + 1, np.minimum(same_sender_next - 1, last_in_window)),
        COUNTERPARTY_SENDERS_CAP,
    )

    matured = times.count_le(cg, ct - delay_ns) if delay_ns > 0 else times.count_lt(cg, ct)
    fraud = np.zeros(m, dtype=np.int64)
    if len(label_keys):
        codes = np.asarray(counterparty_uniques.get_indexer(label_keys), dtype=np.int64)
        keep = codes >= 0
        codes, known = codes[keep], np.asarray(label_known, dtype=np.int64)[keep]
        label_order = np.lexsort((known, codes))
        labels = GroupedTimes(codes[label_order], known[label_order])
        fraud = labels.count_lt(cg, ct)
    out[target, _I["counterparty_fraud_count"]] = fraud
    out[target, _I["counterparty_fraud_rate"]] = np.where(
        matured > 0, np.minimum(fraud / np.maximum(matured, 1), 1.0), 0.0
    )


__all__ = ["GroupedTimes", "compute_features_batch", "spec"]
