"""In-memory history for the real-time feature path (pure Python, no pandas).

`AccountHistory` holds one account's prior transactions (times, running amount sums,
counterparties) and running aggregates; `CounterpartyState` holds what is known about one
counterparty (recent senders, prior count, fraud labels with the time they became known).
`features_for(txn, counterparty)` builds the same vector the batch path builds for a row
with this history (spec.py holds the conventions); `append(txn)` adds the transaction
afterwards. Transactions must be appended in time order (ties in arrival order).

`FeatureState` keeps both for many accounts and counterparties: replaying a stream
through it row by row gives the batch features (a test holds the two paths together).
"""

import math
from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np

from detection.features.clock import (
    DEFAULT_LABEL_DELAY_NS,
    bank_time_zone,
    datetime_to_ns,
    label_delay_ns,
    local_ns,
    month_index_of_day,
    zone,
)
from detection.features.spec import (
    AMOUNT_FLOOR,
    CARD_CHANNELS,
    COUNTERPARTY_SENDERS_CAP,
    COUNTERPARTY_WINDOW_NS,
    DAY_NS,
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
    WEEKEND_DAYS,
    WINDOW_1H_NS,
    WINDOW_10M_NS,
    WINDOW_24H_NS,
    WINDOW_30S_NS,
    ZSCORE_CLIP,
)

LOG_SINCE_PREV_CAP = math.log1p(SINCE_PREV_CAP_SECONDS)
NIGHT_END_NS = NIGHT_END_HOUR * HOUR_NS
TRANSFER_TYPE_SLOT = {code: FEATURE_INDEX[f"transfer_type_{code}"] for code in "OILQS"}
_I = FEATURE_INDEX
I_V30, I_V10M, I_V1H, I_V24H = (
    _I["velocity_count_30s"],
    _I["velocity_count_10m"],
    _I["velocity_count_1h"],
    _I["velocity_count_24h"],
)


@dataclass(slots=True)
class FeatureTxn:
    """One transaction as the feature code sees it. Strings are '' when unknown."""

    ts: int  # epoch nanoseconds, UTC
    account: Hashable
    amount: float
    transfer_type: str = ""
    country: str = ""
    channel: str = ""
    home_country: str = ""
    counterparty: str = ""
    counterparty_country: str = ""

    @classmethod
    def build(
        cls,
        *,
        occurred_at: datetime | int,
        account: Hashable,
        amount: float,
        transfer_type: str | None = "",
        country: str | None = "",
        channel: str | None = "",
        home_country: str | None = "",
        counterparty: str | None = "",
        counterparty_country: str | None = "",
    ) -> "FeatureTxn":
        """Normalise raw values the way normalise_frame does (case, blanks, None)."""
        ts = occurred_at if isinstance(occurred_at, int) else datetime_to_ns(occurred_at)
        return cls(
            ts=ts,
            account=account,
            amount=float(amount),
            transfer_type=(transfer_type or "").strip().upper(),
            country=(country or "").strip().upper(),
            channel=(channel or "").strip().lower(),
            home_country=(home_country or "").strip().upper(),
            counterparty=(counterparty or "").strip(),
            counterparty_country=(counterparty_country or "").strip().upper(),
        )


class CounterpartyState:
    """What is known about one counterparty before a moment.

    `times`/`senders` list prior transactions to it (at least those of the last 7 days and
    of the label delay; `n_older` counts the ones before the first listed).
    `fraud_known` are the sorted times at which fraud labels on its transactions became
    known."""

    __slots__ = ("times", "senders", "n_older", "fraud_known")

    def __init__(
        self,
        *,
        times: list[int] | None = None,
        senders: list[Hashable] | None = None,
        n_older: int = 0,
        fraud_known: Iterable[int] = (),
    ) -> None:
        self.times = times if times is not None else []
        self.senders = senders if senders is not None else []
        self.n_older = n_older
        self.fraud_known = sorted(fraud_known)

    def append(self, ts: int, sender: Hashable) -> None:
        self.times.append(ts)
        self.senders.append(sender)

    def add_fraud_label(self, known_at: int) -> None:
        self.fraud_known.insert(bisect_right(self.fraud_known, known_at), known_at)

    def fill(self, out: np.ndarray, ts: int, sender: Hashable, delay_ns: int) -> None:
        times = self.times
        out[_I["counterparty_log_prior_count"]] = math.log1p(self.n_older + len(times))
        start = bisect_right(times, ts - COUNTERPARTY_WINDOW_NS)
        others = {s for s in self.senders[start:] if s != sender}
        out[_I["counterparty_distinct_senders_7d"]] = min(len(others), COUNTERPARTY_SENDERS_CAP)
        if delay_ns > 0:
            matured = self.n_older + bisect_right(times, ts - delay_ns)
        else:
            matured = self.n_older + bisect_left(times, ts)
        fraud = bisect_left(self.fraud_known, ts)
        out[_I["counterparty_fraud_count"]] = fraud
        out[_I["counterparty_fraud_rate"]] = min(fraud / matured, 1.0) if matured > 0 else 0.0


class CounterpartyCounts:
    """A counterparty's figures for one transaction, counted by the database: what
    `CounterpartyState.fill` derives from the full lists, for that transaction's time,
    sender and label delay only (`fill` refuses any other)."""

    __slots__ = (
        "ts",
        "sender",
        "delay_ns",
        "prior_count",
        "matured_count",
        "distinct_other_senders",
        "fraud_count",
    )

    def __init__(
        self,
        *,
        ts: int,
        sender: Hashable,
        delay_ns: int,
        prior_count: int,
        matured_count: int,
        distinct_other_senders: int,
        fraud_count: int = 0,
    ) -> None:
        self.ts = ts
        self.sender = sender
        self.delay_ns = delay_ns
        self.prior_count = prior_count
        self.matured_count = matured_count
        self.distinct_other_senders = distinct_other_senders
        self.fraud_count = fraud_count  # known to be fraud before `ts`

    def fill(self, out: np.ndarray, ts: int, sender: Hashable, delay_ns: int) -> None:
        if (ts, sender, delay_ns) != (self.ts, self.sender, self.delay_ns):
            raise ValueError("counterparty counts were made for another transaction")
        out[_I["counterparty_log_prior_count"]] = math.log1p(self.prior_count)
        out[_I["counterparty_distinct_senders_7d"]] = self.distinct_other_senders
        fraud = self.fraud_count
        matured = self.matured_count
        out[_I["counterparty_fraud_count"]] = fraud
        out[_I["counterparty_fraud_rate"]] = min(fraud / matured, 1.0) if matured > 0 else 0.0


class AccountHistory:
    """One account's prior transactions and running aggregates.

    `times`, `running_sums` and `counterparties` may hold only the newest transactions
    (`trim`): `offset` counts the ones dropped from the front, `running_sums[k]` is then
    the sum of the first `offset + k` amounts, and `dropped_until` is the newest dropped
    time. Such a history gives exact features for transactions at or after its newest one
    (every dropped transaction is outside the 24-hour window); `first_time` is the first
    transaction's time whatever was dropped."""

    __slots__ = (
        "tz",
        "offset",
        "dropped_until",
        "first_time",
        "times",
        "running_sums",
        "counterparties",
        "count",
        "first_amount",
        "s1",
        "s2",
        "max_amount",
        "month",
        "month_sum",
        "month_count",
        "country_counts",
        "mode_country",
        "mode_count",
        "international_count",
        "seen_counterparties",
        "seen_channels",
    )

    def __init__(self, *, tz: str | tzinfo | None = None) -> None:
        self.tz = zone(bank_time_zone(tz)) if tz is None or isinstance(tz, str) else tz
        self.offset = 0
        self.dropped_until: int | None = None
        self.first_time = 0
        self.times: list[int] = []
        self.running_sums: list[float] = [0.0]  # running_sums[k] = sum of the first k amounts
        self.counterparties: list[str] = []
        self.count = 0
        self.first_amount = 0.0
        self.s1 = 0.0  # sums of (amount - first_amount) and its square
        self.s2 = 0.0
        self.max_amount = 0.0
        self.month = -1
        self.month_sum = 0.0
        self.month_count = 0
        self.country_counts: dict[str, int] = {}
        self.mode_country = ""
        self.mode_count = 0
        self.international_count = 0
        self.seen_counterparties: set[str] = set()
        self.seen_channels: set[str] = set()

    def features_for(
        self,
        txn: FeatureTxn,
        counterparty: "CounterpartyState | CounterpartyCounts | None" = None,
        *,
        label_delay_days: float | None = None,
    ) -> np.ndarray:
        """The feature vector of `txn` given this history (and the counterparty's state;
        without it the counterparty family is neutral)."""
        out = np.zeros(N_FEATURES, dtype=np.float64)
        t = txn.ts
        amount = txn.amount
        n = self.count
        times = self.times
        sums = self.running_sums
        if self.dropped_until is not None and self.dropped_until > t - WINDOW_24H_NS:
            raise ValueError("a trimmed history cannot score a transaction this early")
        # list positions are absolute positions minus offset
        held = n + 1 - self.offset

        # velocity
        out[I_V30] = held - bisect_right(times, t - WINDOW_30S_NS)
        out[I_V10M] = held - bisect_right(times, t - WINDOW_10M_NS)
        out[I_V1H] = held - bisect_right(times, t - WINDOW_1H_NS)
        left = bisect_right(times, t - WINDOW_24H_NS)
        out[I_V24H] = held - left
        total = sums[-1]
        out[_I["velocity_amount_sum_24h"]] = (total + amount) - sums[left]
        cps = {c for c in self.counterparties[left:] if c}
        if txn.counterparty:
            cps.add(txn.counterparty)
        out[_I["velocity_distinct_counterparties_24h"]] = len(cps)
        if n:
            gap = t - times[-1]
            out[_I["velocity_log_seconds_since_prev"]] = math.log1p(
                min(gap / SECOND_NS, SINCE_PREV_CAP_SECONDS)
            )
            out[_I["days_since_prev"]] = gap / DAY_NS
        else:
            out[_I["velocity_log_seconds_since_prev"]] = LOG_SINCE_PREV_CAP

        # amount vs history
        out[_I["amount_log"]] = math.log1p(amount)
        out[_I["amount_is_round"]] = (
            amount >= ROUND_AMOUNT_UNIT and math.fmod(amount, ROUND_AMOUNT_UNIT) == 0.0
        )
        out[_I["history_count"]] = n
        if n:
            mean = self.first_amount + self.s1 / n
            std = math.sqrt(max(self.s2 / n - (self.s1 / n) ** 2, 0.0)) if n >= 2 else 0.0
            out[_I["history_amount_mean"]] = mean
            out[_I["history_amount_std"]] = std
            out[_I["history_amount_max"]] = self.max_amount
            if n >= 2:
                z = (amount - mean) / max(std, AMOUNT_FLOOR)
                out[_I["amount_zscore"]] = min(max(z, -ZSCORE_CLIP), ZSCORE_CLIP)
            out[_I["amount_ratio_to_mean"]] = amount / max(mean, AMOUNT_FLOOR)
            out[_I["amount_ratio_to_max"]] = amount / max(self.max_amount, AMOUNT_FLOOR)
        else:
            out[_I["amount_ratio_to_mean"]] = 1.0
            out[_I["amount_ratio_to_max"]] = 1.0

        # local time, month to date
        local = local_ns(t, self.tz)
        day = local // DAY_NS
        second_of_day = local - day * DAY_NS
        angle = (second_of_day / HOUR_NS) * HOUR_ANGLE
        out[_I["hour_sin"]] = math.sin(angle)
        out[_I["hour_cos"]] = math.cos(angle)
        out[_I["is_night"]] = second_of_day < NIGHT_END_NS
        out[_I["is_weekend"]] = (day + 3) % 7 in WEEKEND_DAYS
        month = month_index_of_day(day)
        if n and month == self.month:
            month_to_date = self.month_sum + amount
            out[_I["month_to_date_count"]] = self.month_count + 1
        else:
            month_to_date = amount
            out[_I["month_to_date_count"]] = 1
        out[_I["month_to_date_amount"]] = month_to_date
        if n:
            typical = total / max(1.0, (t - self.first_time) / MONTH_NS)
            out[_I["month_to_date_ratio_to_typical"]] = month_to_date / max(typical, AMOUNT_FLOOR)
        else:
            out[_I["month_to_date_ratio_to_typical"]] = 1.0

        # countries, novelty
        home = txn.home_country or self.mode_country
        country = txn.country
        out[_I["is_international"]] = bool(country and home and country != home)
        if n:
            out[_I["history_international_ratio"]] = self.international_count / n
            out[_I["is_new_country"]] = bool(country) and country not in self.country_counts
            out[_I["is_new_counterparty"]] = (
                bool(txn.counterparty) and txn.counterparty not in self.seen_counterparties
            )
            out[_I["is_new_channel"]] = bool(txn.channel) and txn.channel not in self.seen_channels
        cp_country = txn.counterparty_country
        out[_I["counterparty_is_foreign"]] = bool(cp_country and home and cp_country != home)

        slot = TRANSFER_TYPE_SLOT.get(txn.transfer_type)
        if slot is not None:
            out[slot] = 1.0
        out[_I["channel_digital"]] = txn.channel in DIGITAL_CHANNELS
        out[_I["channel_card"]] = txn.channel in CARD_CHANNELS

        if counterparty is not None and txn.counterparty:
            delay = (
                DEFAULT_LABEL_DELAY_NS
                if label_delay_days is None
                else label_delay_ns(label_delay_days)
            )
            counterparty.fill(out, t, txn.account, delay)
        return out

    def append(self, txn: FeatureTxn) -> None:
        """Add `txn` (which happened at or after every transaction already held)."""
        self.append_values(
            txn.ts, txn.amount, txn.country, txn.channel, txn.home_country, txn.counterparty
        )

    def append_values(
        self,
        t: int,
        amount: float,
        country: str,
        channel: str,
        home_country: str,
        counterparty: str,
        *,
        month: bool = True,
    ) -> None:
        """`append` from the values it reads (normalised as in FeatureTxn), without building
        a FeatureTxn: the real-time loader adds every prior transaction of an account.
        month=False leaves the month-to-date figures for `recount_month` (after the last)."""
        if self.times and t < self.times[-1]:
            raise ValueError("transactions must be appended in time order")
        if self.count == 0:
            self.first_amount = amount
            self.first_time = t
        shifted = amount - self.first_amount
        home = home_country or self.mode_country
        if country and home and country != home:
            self.international_count += 1
        self.times.append(t)
        self.running_sums.append(self.running_sums[-1] + amount)
        self.counterparties.append(counterparty)
        self.count += 1
        self.s1 += shifted
        self.s2 += shifted * shifted
        if amount > self.max_amount:
            self.max_amount = amount
        if month:
            index = month_index_of_day(local_ns(t, self.tz) // DAY_NS)
            if index == self.month:
                self.month_sum += amount
                self.month_count += 1
            else:
                self.month = index
                self.month_sum = amount
                self.month_count = 1
        if country:
            seen = self.country_counts.get(country, 0) + 1
            self.country_counts[country] = seen
            if seen > self.mode_count:
                self.mode_country = country
                self.mode_count = seen
        if counterparty:
            self.seen_counterparties.add(counterparty)
        if channel:
            self.seen_channels.add(channel)

    def extend_values(
        self,
        times: list[int],
        amounts: list[float],
        countries: list[str],
        channels: list[str],
        counterparties: list[str],
        home_country: str,
    ) -> None:
        """Fill an empty history with many transactions in time order (one account's
        whole history in the real-time path): `append_values(..., month=False)` for each,
        then `recount_month`, the same arithmetic in the same order, with the loop's state
        in local variables."""
        if self.count:
            raise ValueError("extend_values fills an empty history")
        if not times:
            return
        first_amount = amounts[0]
        s1, s2, max_amount = self.s1, self.s2, self.max_amount
        international = self.international_count
        country_counts = self.country_counts
        mode_country, mode_count = self.mode_country, self.mode_count
        running = self.running_sums
        total = running[-1]
        add_running = running.append
        add_counterparty = self.seen_counterparties.add
        add_channel = self.seen_channels.add
        previous = times[0]
        for t, amount, country, channel, counterparty in zip(
            times, amounts, countries, channels, counterparties, strict=True
        ):
            if t < previous:
                raise ValueError("transactions must be appended in time order")
            previous = t
            shifted = amount - first_amount
            home = home_country or mode_country
            if country and home and country != home:
                international += 1
            total = total + amount
            add_running(total)
            s1 += shifted
            s2 += shifted * shifted
            if amount > max_amount:
                max_amount = amount
            if country:
                seen = country_counts.get(country, 0) + 1
                country_counts[country] = seen
                if seen > mode_count:
                    mode_country = country
                    mode_count = seen
            if counterparty:
                add_counterparty(counterparty)
            if channel:
                add_channel(channel)
        self.times.extend(times)
        self.counterparties.extend(counterparties)
        self.count = len(times)
        self.first_amount = first_amount
        self.first_time = times[0]
        self.s1, self.s2, self.max_amount = s1, s2, max_amount
        self.international_count = international
        self.mode_country, self.mode_count = mode_country, mode_count
        self.recount_month(amounts)

    def recount_month(self, amounts: list[float]) -> None:
        """Set the month-to-date figures after transactions were appended with month=False;
        `amounts`: the amounts of every transaction held, in order. The figures equal those
        of appending one by one (the last run of transactions in the last one's month,
        summed in the same order) while computing local months only for that run."""
        times = self.times
        if not times:
            return
        if self.offset:
            raise ValueError("recount_month needs the whole history")
        tz = self.tz
        last = month_index_of_day(local_ns(times[-1], tz) // DAY_NS)
        start = len(times) - 1
        while start > 0 and month_index_of_day(local_ns(times[start - 1], tz) // DAY_NS) == last:
            start -= 1
        total = amounts[start]
        for amount in amounts[start + 1 :]:
            total += amount
        self.month = last
        self.month_sum = total
        self.month_count = len(times) - start

    def trim(self) -> None:
        """Keep only the transactions that a later transaction's features can still see one
        by one (those of the 24 hours up to the newest, and always the newest); the
        aggregates keep counting the others."""
        times = self.times
        if not times:
            return
        drop = bisect_right(times, times[-1] - WINDOW_24H_NS)
        drop = min(drop, len(times) - 1)
        if drop <= 0:
            return
        self.dropped_until = times[drop - 1]
        self.offset += drop
        del times[:drop]
        del self.running_sums[:drop]
        del self.counterparties[:drop]

    def to_summary(self) -> dict:
        """Everything this history holds, trimmed, as JSON-ready values (floats round-trip
        exactly through JSON); `from_summary` rebuilds it."""
        self.trim()
        values = {name: getattr(self, name) for name in _SUMMARY_FIELDS}
        values["seen_counterparties"] = sorted(self.seen_counterparties)
        values["seen_channels"] = sorted(self.seen_channels)
        return values

    @classmethod
    def from_summary(cls, values: dict, *, tz: str | tzinfo | None = None) -> "AccountHistory":
        history = cls(tz=tz)
        for name in _SUMMARY_FIELDS:
            setattr(history, name, values[name])
        history.seen_counterparties = set(values["seen_counterparties"])
        history.seen_channels = set(values["seen_channels"])
        return history


# what a summary holds: the whole state but the zone (given when read) and the sets of
# counterparties and channels seen (stored as sorted lists)
_SUMMARY_FIELDS = tuple(
    name
    for name in AccountHistory.__slots__
    if name not in ("tz", "seen_counterparties", "seen_channels")
)


class FeatureState:
    """Histories of many accounts and counterparties, kept in memory.

    `labels` are (counterparty key, known-at epoch ns) of fraud labels; more can be added
    with `add_fraud_label` as they arrive."""

    def __init__(
        self,
        *,
        tz: str | None = None,
        label_delay_days: float | None = None,
        labels: Iterable[tuple[str, int]] = (),
    ) -> None:
        self.tz = zone(bank_time_zone(tz))
        self.label_delay_days = label_delay_days
        self.accounts: dict[Hashable, AccountHistory] = {}
        self.counterparties: dict[str, CounterpartyState] = {}
        for key, known_at in labels:
            self.counterparty(key).add_fraud_label(int(known_at))

    def account(self, key: Hashable) -> AccountHistory:
        history = self.accounts.get(key)
        if history is None:
            history = self.accounts[key] = AccountHistory(tz=self.tz)
        return history

    def counterparty(self, key: str) -> CounterpartyState:
        state = self.counterparties.get(key)
        if state is None:
            state = self.counterparties[key] = CounterpartyState()
        return state

    def add_fraud_label(self, counterparty: str, known_at: int) -> None:
        self.counterparty(counterparty).add_fraud_label(known_at)

    def features_for(self, txn: FeatureTxn) -> np.ndarray:
        cp = self.counterparties.get(txn.counterparty) if txn.counterparty else None
        if txn.counterparty and cp is None:
            cp = CounterpartyState()
        return self.account(txn.account).features_for(
            txn, cp, label_delay_days=self.label_delay_days
        )

    def append(self, txn: FeatureTxn) -> None:
        self.account(txn.account).append(txn)
        if txn.counterparty:
            self.counterparty(txn.counterparty).append(txn.ts, txn.account)

    def score_and_append(self, txn: FeatureTxn) -> np.ndarray:
        features = self.features_for(txn)
        self.append(txn)
        return features
