"""A compiled rule set: plain floats, evaluated against one feature vector in microseconds.

Build it with `RuleSet.from_limits(...)` (rows of RuleLimit or anything with the same
attributes) or `RuleSet.defaults()`; get the current one with
`detection.rules.cache.get_rule_set()`.
"""

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from detection.features.spec import FEATURE_INDEX
from detection.rules.defaults import (
    AMOUNT_LIMIT_PREFIX,
    BLOCK_THRESHOLD,
    DEFAULT_LIMITS,
    DYNAMIC_K,
    DYNAMIC_MIN_HISTORY,
    MONTHLY_CAP,
    REVIEW_THRESHOLD,
    TRANSFER_TYPE_NAMES,
    VELOCITY_WINDOWS,
)

REVIEW = "review"
MIN_DYNAMIC_HISTORY = 2.0
BLOCK = "block"
_MTD = FEATURE_INDEX["month_to_date_amount"]
_COUNT = FEATURE_INDEX["history_count"]
_MEAN = FEATURE_INDEX["history_amount_mean"]
_STD = FEATURE_INDEX["history_amount_std"]


class LimitRow(Protocol):
    code: str
    value: Decimal | float
    enabled: bool
    severity: str


@dataclass(frozen=True, slots=True)
class Limit:
    value: float
    enabled: bool
    severity: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    code: str
    severity: str  # "review" or "block"
    reason: str  # plain-language sentence
    observed: float
    limit: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_money(amount: float, currency: str = "AED") -> str:
    """AED 48,000 / AED 12,312.57"""
    rounded = round(amount, 2)
    if rounded == int(rounded):
        return f"{currency} {int(rounded):,}"
    return f"{currency} {rounded:,.2f}"


def format_number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


class RuleSet:
    """Limits compiled to floats. `evaluate` returns the hits for one transaction."""

    __slots__ = (
        "limits",
        "version",
        "_velocity",
        "_amount",
        "_monthly",
        "_dynamic",
        "review_threshold",
        "block_threshold",
    )

    def __init__(self, limits: Mapping[str, Limit], *, version: Any = None) -> None:
        merged = {d.code: Limit(float(d.value), True, d.severity) for d in DEFAULT_LIMITS}
        merged.update(limits)
        self.limits = merged
        self.version = version
        self._velocity = tuple(
            (FEATURE_INDEX[feature], merged[code].value, code, merged[code].severity, window)
            for code, (feature, window) in VELOCITY_WINDOWS.items()
            if merged[code].enabled
        )
        self._amount = {}
        for transfer_type, name in TRANSFER_TYPE_NAMES.items():
            code = AMOUNT_LIMIT_PREFIX + transfer_type
            if merged[code].enabled:
                self._amount[transfer_type] = (
                    merged[code].value,
                    code,
                    merged[code].severity,
                    name,
                )
        cap = merged[MONTHLY_CAP]
        self._monthly = (cap.value, cap.severity) if cap.enabled else None
        k = merged[DYNAMIC_K]
        min_history = merged[DYNAMIC_MIN_HISTORY]
        # mean and std need some history: never fewer than MIN_DYNAMIC_HISTORY earlier txns
        needed = max(min_history.value if min_history.enabled else 0.0, MIN_DYNAMIC_HISTORY)
        self._dynamic = (k.value, needed, k.severity) if k.enabled else None
        review, block = merged[REVIEW_THRESHOLD], merged[BLOCK_THRESHOLD]
        # a disabled threshold is never reached
        self.review_threshold = review.value if review.enabled else math.inf
        self.block_threshold = block.value if block.enabled else math.inf

    @classmethod
    def defaults(cls) -> "RuleSet":
        return cls({}, version="defaults")

    @classmethod
    def from_limits(cls, rows: Iterable[LimitRow], *, version: Any = None) -> "RuleSet":
        return cls(
            {
                row.code: Limit(float(row.value), bool(row.enabled), row.severity or REVIEW)
                for row in rows
            },
            version=version,
        )

    def outcome_for_score(self, risk_score: float) -> str:
        """approve / review / block from the risk score alone (rule hits come on top)."""
        if risk_score >= self.block_threshold:
            return BLOCK
        if risk_score >= self.review_threshold:
            return REVIEW
        return "approve"

    def evaluate(
        self,
        features: np.ndarray | list[float],
        *,
        amount: float,
        transfer_type: str,
        currency: str = "AED",
    ) -> list[RuleHit]:
        """Rule hits for one transaction, in a stable order (velocity, amount, monthly,
        dynamic). `features` is the vector in spec order."""
        f = features.tolist() if isinstance(features, np.ndarray) else features
        amount = float(amount)
        hits: list[RuleHit] = []
        for entry in self._velocity:
            if f[entry[0]] > entry[1]:
                hits.append(_velocity_hit(entry, f[entry[0]]))
        per_type = self._amount.get(transfer_type)
        if per_type is not None and amount > per_type[0]:
            hits.append(_amount_hit(per_type, amount, currency))
        if self._monthly is not None and f[_MTD] > self._monthly[0]:
            hits.append(_monthly_hit(self._monthly, f[_MTD], currency))
        if self._dynamic is not None and f[_COUNT] >= self._dynamic[1]:
            ceiling = f[_MEAN] + self._dynamic[0] * f[_STD]
            if amount > ceiling:
                hits.append(_dynamic_hit(self._dynamic, amount, ceiling, currency))
        return hits

    def evaluate_batch(
        self,
        X: np.ndarray,
        *,
        amounts: np.ndarray,
        transfer_types: np.ndarray,
        currencies: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict[int, list[RuleHit]]]:
        """`evaluate` for every row of `X` at once.

        Returns the strongest severity per row as an int array (0 no hit, 1 review,
        2 block) and the hits of the rows that have any, keyed by row index, in the same
        order and with the same sentences as `evaluate`. A row's currency is
        ``str(currencies[i] or "AED")`` ("AED" when `currencies` is None)."""
        X = np.asarray(X)
        n = len(X)
        amounts = np.asarray(amounts, dtype=np.float64)
        transfer_types = np.asarray(transfer_types)
        # per rule, in evaluate's order: rows that fire, severity rank, hit builder
        rules: list[tuple[np.ndarray, Any, Callable[[int, str], RuleHit]]] = []
        for entry in self._velocity:
            count = _column(X, entry[0])
            rules.append((count > entry[1], _rank(entry[3]), _velocity_builder(entry, count)))
        if self._amount:
            # a row has one transfer type, so at most one per-type limit applies to it
            per_type_of = list(self._amount.values())
            which = np.full(n, -1, dtype=np.int64)
            rank = np.zeros(n, dtype=np.int8)
            for j, (transfer_type, per_type) in enumerate(self._amount.items()):
                fired = (transfer_types == transfer_type) & (amounts > per_type[0])
                which[fired] = j
                rank[fired] = _rank(per_type[2])
            rules.append(
                (
                    which >= 0,
                    rank,
                    lambda i, currency: _amount_hit(
                        per_type_of[which[i]], float(amounts[i]), currency
                    ),
                )
            )
        if self._monthly is not None:
            monthly, mtd = self._monthly, _column(X, _MTD)
            rules.append(
                (
                    mtd > monthly[0],
                    _rank(monthly[1]),
                    lambda i, currency: _monthly_hit(monthly, float(mtd[i]), currency),
                )
            )
        if self._dynamic is not None:
            dynamic = self._dynamic
            ceiling = _column(X, _MEAN) + dynamic[0] * _column(X, _STD)
            rules.append(
                (
                    (_column(X, _COUNT) >= dynamic[1]) & (amounts > ceiling),
                    _rank(dynamic[2]),
                    lambda i, currency: _dynamic_hit(
                        dynamic, float(amounts[i]), float(ceiling[i]), currency
                    ),
                )
            )

        severity = np.zeros(n, dtype=np.int8)
        hits: dict[int, list[RuleHit]] = {}
        if not rules:
            return severity, hits
        for fired, rank, _ in rules:
            np.maximum(severity, np.where(fired, rank, 0).astype(np.int8), out=severity)
        fired_matrix = np.column_stack([fired for fired, _, _ in rules])
        builders = [build for _, _, build in rules]
        rows = np.flatnonzero(fired_matrix.any(axis=1))
        for i, row_fired in zip(rows.tolist(), fired_matrix[rows].tolist()):
            currency = "AED" if currencies is None else str(currencies[i] or "AED")
            hits[i] = [build(i, currency) for build, on in zip(builders, row_fired) if on]
        return severity, hits

    @staticmethod
    def strongest(hits: Iterable[RuleHit]) -> str | None:
        """ "block" if any hit blocks, else "review" if any hit, else None."""
        severity = None
        for hit in hits:
            if hit.severity == BLOCK:
                return BLOCK
            severity = REVIEW
        return severity


def _rank(severity: str) -> int:
    """Severity as `strongest` reads it: 2 for block, 1 for anything else."""
    return 2 if severity == BLOCK else 1


def _velocity_hit(entry: tuple, count: float) -> RuleHit:
    _, limit, code, severity, window = entry
    return RuleHit(
        code,
        severity,
        f"{ordinal(int(count))} transfer in {window}; limit is {format_number(limit)}",
        count,
        limit,
    )


def _column(X: np.ndarray, index: int) -> np.ndarray:
    return X[:, index].astype(np.float64, copy=False)


def _velocity_builder(entry: tuple, column: np.ndarray) -> Callable[[int, str], RuleHit]:
    return lambda i, currency: _velocity_hit(entry, float(column[i]))


def _amount_hit(per_type: tuple, amount: float, currency: str) -> RuleHit:
    limit, code, severity, name = per_type
    return RuleHit(
        code,
        severity,
        f"Amount {format_money(amount, currency)} is above the {name} limit of "
        f"{format_money(limit, currency)}",
        amount,
        limit,
    )


def _monthly_hit(monthly: tuple, month_to_date: float, currency: str) -> RuleHit:
    limit, severity = monthly
    return RuleHit(
        MONTHLY_CAP,
        severity,
        f"Spending this month reaches {format_money(month_to_date, currency)} with this "
        f"transfer, above the monthly cap of {format_money(limit, currency)}",
        month_to_date,
        limit,
    )


def _dynamic_hit(dynamic: tuple, amount: float, ceiling: float, currency: str) -> RuleHit:
    k, _, severity = dynamic
    return RuleHit(
        DYNAMIC_K,
        severity,
        f"Amount {format_money(amount, currency)} is above this account's "
        f"usual ceiling of {format_money(ceiling, currency)} "
        f"(mean + {format_number(k)} × std)",
        amount,
        ceiling,
    )
