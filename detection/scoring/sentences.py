"""Feature contributions written as sentences a fraud investigator can read."""

import math
from collections.abc import Callable

import numpy as np

from detection.features.spec import (
    COUNTERPARTY_SENDERS_CAP,
    FEATURE_INDEX,
    FEATURES,
    HOUR_ANGLE,
    SINCE_PREV_CAP_SECONDS,
)

Sentence = Callable[[np.ndarray, float, str], str]


def _money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}" if value >= 100 else f"{currency} {value:,.2f}"


def _f(x: np.ndarray, name: str) -> float:
    return float(x[FEATURE_INDEX[name]])


def _count(x: np.ndarray, name: str) -> int:
    return int(round(_f(x, name)))


def _payee_senders(x: np.ndarray, amount: float, cur: str) -> str:
    senders = _count(x, "counterparty_distinct_senders_7d")
    shown = f"{senders} or more" if senders >= COUNTERPARTY_SENDERS_CAP else str(senders)
    return f"The payee received money from {shown} other accounts in 7 days"


def _since_prev(x: np.ndarray, amount: float, cur: str) -> str:
    if _count(x, "history_count") == 0:
        return "No earlier transfer on this account"
    seconds = math.expm1(_f(x, "velocity_log_seconds_since_prev"))
    if seconds >= SINCE_PREV_CAP_SECONDS - 1:  # the feature stops at its cap
        days = SINCE_PREV_CAP_SECONDS // 86400
        return f"No transfer from this account in the {days} days before"
    if seconds < 120:
        return f"Only {seconds:.0f} seconds since this account's previous transfer"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes since this account's previous transfer"
    return f"{seconds / 3600:.1f} hours since this account's previous transfer"


def _time_of_day(x: np.ndarray, amount: float, cur: str) -> str:
    angle = math.atan2(_f(x, "hour_sin"), _f(x, "hour_cos"))
    minutes = round((angle / HOUR_ANGLE) % 24 * 60) % (24 * 60)
    return f"Made at {minutes // 60:02d}:{minutes % 60:02d} local time"


def _payee_prior(x: np.ndarray, amount: float, cur: str) -> str:
    n = round(math.expm1(_f(x, "counterparty_log_prior_count")))
    if n == 0:
        return "First transfer to this payee from any account"
    return f"The payee received {n:,} earlier transfer{'s' if n != 1 else ''} from any account"


TEMPLATES: dict[str, Sentence] = {
    "velocity_count_30s": lambda x, a, c: (
        f"{_count(x, 'velocity_count_30s')} transfers from this account in 30 seconds"
    ),
    "velocity_count_10m": lambda x, a, c: (
        f"{_count(x, 'velocity_count_10m')} transfers from this account in 10 minutes"
    ),
    "velocity_count_1h": lambda x, a, c: (
        f"{_count(x, 'velocity_count_1h')} transfers from this account in the last hour"
    ),
    "velocity_count_24h": lambda x, a, c: (
        f"{_count(x, 'velocity_count_24h')} transfers from this account in 24 hours"
    ),
    "velocity_log_seconds_since_prev": _since_prev,
    "velocity_amount_sum_24h": lambda x, a, c: (
        f"{_money(_f(x, 'velocity_amount_sum_24h'), c)} sent in the last 24 hours"
    ),
    "velocity_distinct_counterparties_24h": lambda x, a, c: (
        f"{_count(x, 'velocity_distinct_counterparties_24h')} different payees in 24 hours"
    ),
    "amount_log": lambda x, a, c: f"Amount {_money(a, c)}",
    "amount_is_round": lambda x, a, c: f"Round amount ({_money(a, c)})",
    "history_count": lambda x, a, c: _history_count(x),
    "history_amount_mean": lambda x, a, c: (
        f"This account usually moves {_money(_f(x, 'history_amount_mean'), c)}"
    ),
    "history_amount_std": lambda x, a, c: (
        f"This account's amounts usually vary by {_money(_f(x, 'history_amount_std'), c)}"
    ),
    "history_amount_max": lambda x, a, c: (
        f"Largest earlier amount on this account: {_money(_f(x, 'history_amount_max'), c)}"
    ),
    "amount_zscore": lambda x, a, c: (
        f"Amount {_money(a, c)} is {_f(x, 'amount_zscore'):.1f} standard deviations from "
        "this account's usual"
    ),
    "amount_ratio_to_mean": lambda x, a, c: (
        f"Amount {_money(a, c)} is {_f(x, 'amount_ratio_to_mean'):.1f}× this account's "
        f"average ({_money(_f(x, 'history_amount_mean'), c)})"
    ),
    "amount_ratio_to_max": lambda x, a, c: (
        f"Amount {_money(a, c)} is {_f(x, 'amount_ratio_to_max'):.1f}× the largest earlier "
        f"transaction ({_money(_f(x, 'history_amount_max'), c)})"
    ),
    "month_to_date_amount": lambda x, a, c: (
        f"{_money(_f(x, 'month_to_date_amount'), c)} spent this month so far"
    ),
    "month_to_date_count": lambda x, a, c: (
        f"{_count(x, 'month_to_date_count')} transfers this month so far"
    ),
    "month_to_date_ratio_to_typical": lambda x, a, c: (
        f"This month's spending is {_f(x, 'month_to_date_ratio_to_typical'):.1f}× a typical "
        "month for this account"
    ),
    "is_international": lambda x, a, c: "Made outside the customer's home country",
    "history_international_ratio": lambda x, a, c: (
        f"{_f(x, 'history_international_ratio'):.0%} of this account's earlier transactions "
        "were abroad"
    ),
    "counterparty_is_foreign": lambda x, a, c: "The payee is abroad",
    "days_since_prev": lambda x, a, c: _days_since_prev(x),
    "is_new_country": lambda x, a, c: "First transaction in this country for this account",
    "is_new_counterparty": lambda x, a, c: "First payment from this account to this payee",
    "is_new_channel": lambda x, a, c: "First use of this channel by this account",
    "transfer_type_S": lambda x, a, c: "Overseas transfer",
    "transfer_type_Q": lambda x, a, c: "Quick payment",
    "transfer_type_L": lambda x, a, c: "Transfer to another local bank",
    "transfer_type_I": lambda x, a, c: "Internal transfer",
    "transfer_type_O": lambda x, a, c: "Transfer between own accounts",
    "channel_digital": lambda x, a, c: "Made through a digital channel (app, online, API)",
    "channel_card": lambda x, a, c: "Made with a card (ATM or card terminal)",
    "hour_sin": _time_of_day,
    "hour_cos": _time_of_day,
    "counterparty_log_prior_count": _payee_prior,
    "is_night": lambda x, a, c: "Made at night (00:00–05:59 local time)",
    "is_weekend": lambda x, a, c: "Made at the weekend",
    "counterparty_distinct_senders_7d": _payee_senders,
    "counterparty_fraud_count": lambda x, a, c: (
        f"The payee has received {_count(x, 'counterparty_fraud_count')} transfers "
        "confirmed as fraud"
    ),
    "counterparty_fraud_rate": lambda x, a, c: (
        f"{_f(x, 'counterparty_fraud_rate'):.0%} of the payee's known transfers were fraud"
    ),
}


# A flag that is 0 can push a score up too (a model may find it unusual that this account's
# transfer is NOT a quick payment): its sentence then says what is not the case. The
# novelty flags are 0 as well when the account has no history to compare with.
NOT_TEMPLATES: dict[str, Sentence] = {
    "amount_is_round": lambda x, a, c: f"Not a round amount ({_money(a, c)})",
    "is_international": lambda x, a, c: "Not made outside the customer's home country",
    "counterparty_is_foreign": lambda x, a, c: "The payee is not abroad",
    "is_new_country": lambda x, a, c: _not_new(x, "country"),
    "is_new_counterparty": lambda x, a, c: _not_new(x, "payee"),
    "is_new_channel": lambda x, a, c: _not_new(x, "channel"),
    "transfer_type_S": lambda x, a, c: "Not an overseas transfer",
    "transfer_type_Q": lambda x, a, c: "Not a quick payment",
    "transfer_type_L": lambda x, a, c: "Not a transfer to another local bank",
    "transfer_type_I": lambda x, a, c: "Not an internal transfer",
    "transfer_type_O": lambda x, a, c: "Not a transfer between own accounts",
    "channel_digital": lambda x, a, c: "Not made through a digital channel",
    "channel_card": lambda x, a, c: "Not made with a card",
    "is_night": lambda x, a, c: "Made in the day (06:00–23:59 local time)",
    "is_weekend": lambda x, a, c: "Made on a weekday",
}


def _not_new(x: np.ndarray, what: str) -> str:
    if _count(x, "history_count") == 0:
        return f"No earlier transactions to compare this {what} with"
    return f"Not a new {what} for this account"


def _history_count(x: np.ndarray) -> str:
    n = _count(x, "history_count")
    if n == 0:
        return "No earlier transactions on this account"
    noun = "transaction" if n == 1 else "transactions"
    if n < 10:
        return f"Little history: {n} earlier {noun} on this account"
    return f"{n:,} earlier {noun} on this account"


def _days_since_prev(x: np.ndarray) -> str:
    if _count(x, "history_count") == 0:
        return "No earlier transactions on this account"
    days = _f(x, "days_since_prev")
    if days < 1:
        return "Previous transaction on this account less than a day before"
    return f"Account was inactive for {days:.0f} days before this"


def feature_sentence(name: str, x: np.ndarray, *, amount: float, currency: str = "AED") -> str:
    """The sentence for one feature's value in the vector x."""
    spec = FEATURES[FEATURE_INDEX[name]]
    value = float(x[FEATURE_INDEX[name]])
    is_off = spec.unit == "flag" and value < 0.5
    template = (NOT_TEMPLATES if is_off else TEMPLATES).get(name)
    if template is not None:
        return template(x, amount, currency)
    if spec.unit == "flag":
        return f"{spec.label}: {'no' if is_off else 'yes'}"
    return f"{spec.label}: {value:.3g}"


def top_contributions(
    x: np.ndarray,
    contributions: np.ndarray,
    *,
    amount: float,
    currency: str = "AED",
    source: str,
    limit: int = 5,
) -> list[dict[str, object]]:
    """The features that pushed the score up most, strongest first, as chart data and
    sentences."""
    order = np.argsort(-contributions)[:limit]
    out = []
    for i in order:
        value = float(contributions[i])
        if value <= 0:
            break
        name = FEATURES[i].name
        out.append(
            {
                "feature": name,
                "label": FEATURES[i].label,
                "value": float(x[i]),
                "contribution": round(value, 6),
                "source": source,
                "sentence": feature_sentence(name, x, amount=amount, currency=currency),
            }
        )
    return out
