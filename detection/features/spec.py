"""The one feature spec: names, order, meaning and neutral values of the 41 model inputs.

Training, real-time scoring, batch scoring and backtests all build vectors in this order.
A model artifact records FEATURE_SPEC_HASH; an artifact built for another spec is refused.

Conventions shared by every feature (both the batch and the real-time path follow them):

* "Prior" transactions of an account are the ones that happened before this one; ties on
  the timestamp are broken by arrival order (row order in a frame, id in the database).
  The whole prior history of the account is used (no look-back cut-off).
* A window "in the last W" holds prior transactions with time > t - W, and velocity
  counts and window sums INCLUDE the current transaction (so the 3rd transfer in 30
  seconds has a 30-second count of 3).
* Times are the bank's local time (settings.TIME_ZONE) for hour, night, weekend and
  calendar month; the weekend is Saturday and Sunday.
* Amounts are taken as they are, in the account currency (the bank's AED).
* A missing optional value (counterparty, transfer type, country, channel, home country)
  makes the features that need it take their neutral value; nothing fails.
* Counterparty fraud labels count only once known: a label is known at the time the
  feedback arrived, or, for labels that come with the data, at transaction time +
  `label_delay_days`; it counts for transactions strictly after that moment.
"""

import hashlib
import math
from dataclasses import dataclass

FEATURE_SPEC_VERSION = 2  # 2: the distinct senders to a payee are counted up to a cap

# Families
VELOCITY = "velocity"
AMOUNT = "amount"
MONTHLY = "monthly"
INTERNATIONAL = "international"
NOVELTY = "novelty"
TRANSFER_TYPE = "transfer_type"
CHANNEL = "channel"
TIME = "time"
COUNTERPARTY = "counterparty"

# Windows and constants (nanoseconds)
SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
MONTH_DAYS = 30.4375
MONTH_NS = MONTH_DAYS * DAY_NS
HOUR_ANGLE = 2.0 * math.pi / 24.0
WINDOW_30S_NS = 30 * SECOND_NS
WINDOW_10M_NS = 10 * MINUTE_NS
WINDOW_1H_NS = HOUR_NS
WINDOW_24H_NS = DAY_NS
COUNTERPARTY_WINDOW_NS = 7 * DAY_NS
# The distinct other senders to a payee in the window are counted up to this many: a mule
# account is paid by a handful to a few dozen, a biller or a shop by thousands, and a
# count that stops at the cap lets the database stop reading a busy payee's payments.
COUNTERPARTY_SENDERS_CAP = 100
SINCE_PREV_CAP_SECONDS = 30 * 86400  # log-seconds feature is capped at 30 days
NIGHT_END_HOUR = 6  # night is 00:00-05:59 local time
WEEKEND_DAYS = (5, 6)  # Monday = 0: Saturday, Sunday
ZSCORE_CLIP = 50.0
AMOUNT_FLOOR = 1.0  # AED; denominators (std, mean, max, typical month) never go below this
ROUND_AMOUNT_UNIT = 1000.0
DEFAULT_LABEL_DELAY_DAYS = 7.0
TRANSFER_TYPES = ("O", "I", "L", "Q", "S")
DIGITAL_CHANNELS = frozenset({"mobile", "web", "api"})
CARD_CHANNELS = frozenset({"atm", "pos"})


@dataclass(frozen=True)
class FeatureDef:
    name: str
    family: str
    label: str  # short title for charts and tables
    meaning: str  # plain-language meaning
    unit: str  # count, aed, ratio, flag, log, days, zscore, cyclic
    neutral: float  # value when the data needed is missing (or there is no history)


FEATURES: tuple[FeatureDef, ...] = (
    # --- velocity -------------------------------------------------------------
    FeatureDef(
        "velocity_count_30s",
        VELOCITY,
        "Transfers in 30 seconds",
        "Transactions of this account in the last 30 seconds, including this one.",
        "count",
        1.0,
    ),
    FeatureDef(
        "velocity_count_10m",
        VELOCITY,
        "Transfers in 10 minutes",
        "Transactions of this account in the last 10 minutes, including this one.",
        "count",
        1.0,
    ),
    FeatureDef(
        "velocity_count_1h",
        VELOCITY,
        "Transfers in 1 hour",
        "Transactions of this account in the last hour, including this one.",
        "count",
        1.0,
    ),
    FeatureDef(
        "velocity_count_24h",
        VELOCITY,
        "Transfers in 24 hours",
        "Transactions of this account in the last 24 hours, including this one.",
        "count",
        1.0,
    ),
    FeatureDef(
        "velocity_log_seconds_since_prev",
        VELOCITY,
        "Time since previous transfer",
        "log(1 + seconds since the account's previous transaction), capped at 30 days; "
        "the cap when there is no previous transaction.",
        "log",
        math.log1p(SINCE_PREV_CAP_SECONDS),
    ),
    FeatureDef(
        "velocity_amount_sum_24h",
        VELOCITY,
        "Amount sent in 24 hours",
        "Sum of this account's amounts in the last 24 hours, including this one.",
        "aed",
        0.0,
    ),
    FeatureDef(
        "velocity_distinct_counterparties_24h",
        VELOCITY,
        "Payees in 24 hours",
        "Distinct counterparties this account paid in the last 24 hours, including this "
        "transaction's counterparty (0 when none is known).",
        "count",
        0.0,
    ),
    # --- amount vs the account's own history ----------------------------------------------
    FeatureDef(
        "amount_log",
        AMOUNT,
        "Amount (log)",
        "log(1 + amount).",
        "log",
        0.0,
    ),
    FeatureDef(
        "amount_is_round",
        AMOUNT,
        "Round amount",
        "1 when the amount is at least 1,000 and a whole multiple of 1,000.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "history_count",
        AMOUNT,
        "Earlier transactions",
        "Number of prior transactions of this account (its whole history).",
        "count",
        0.0,
    ),
    FeatureDef(
        "history_amount_mean",
        AMOUNT,
        "Usual amount (mean)",
        "Mean amount of the account's prior transactions; 0 with no history.",
        "aed",
        0.0,
    ),
    FeatureDef(
        "history_amount_std",
        AMOUNT,
        "Amount spread (std)",
        "Standard deviation (population) of prior amounts; 0 with fewer than 2.",
        "aed",
        0.0,
    ),
    FeatureDef(
        "history_amount_max",
        AMOUNT,
        "Largest earlier amount",
        "Largest prior amount of the account; 0 with no history.",
        "aed",
        0.0,
    ),
    FeatureDef(
        "amount_zscore",
        AMOUNT,
        "Amount z-score",
        "(amount - mean) / max(std, 1), clipped to +-50; 0 with fewer than 2 prior transactions.",
        "zscore",
        0.0,
    ),
    FeatureDef(
        "amount_ratio_to_mean",
        AMOUNT,
        "Amount vs usual",
        "amount / max(mean, 1); 1 with no history.",
        "ratio",
        1.0,
    ),
    FeatureDef(
        "amount_ratio_to_max",
        AMOUNT,
        "Amount vs largest earlier",
        "amount / max(largest prior amount, 1); 1 with no history.",
        "ratio",
        1.0,
    ),
    # --- month to date --------------------------------------------------------
    FeatureDef(
        "month_to_date_amount",
        MONTHLY,
        "Spent this month",
        "Sum of the account's amounts in the current calendar month (bank local time), "
        "including this one.",
        "aed",
        0.0,
    ),
    FeatureDef(
        "month_to_date_count",
        MONTHLY,
        "Transfers this month",
        "Number of the account's transactions this calendar month, including this one.",
        "count",
        1.0,
    ),
    FeatureDef(
        "month_to_date_ratio_to_typical",
        MONTHLY,
        "This month vs a typical month",
        "Month-to-date amount / the account's typical monthly spend (all prior amounts / "
        "max(1, months between its first transaction and now)); 1 with no history.",
        "ratio",
        1.0,
    ),
    # --- international --------------------------------------------------------
    FeatureDef(
        "is_international",
        INTERNATIONAL,
        "Abroad",
        "1 when the transaction country differs from the home country (the customer's, "
        "else the account's most frequent prior country); 0 when either is unknown.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "history_international_ratio",
        INTERNATIONAL,
        "Share abroad before",
        "Share of the account's prior transactions that were international; 0 with no history.",
        "ratio",
        0.0,
    ),
    FeatureDef(
        "counterparty_is_foreign",
        INTERNATIONAL,
        "Foreign payee",
        "1 when the counterparty's country differs from the home country; 0 when unknown.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "days_since_prev",
        INTERNATIONAL,
        "Days since previous transfer (dormancy)",
        "Days since the account's previous transaction; 0 with no history.",
        "days",
        0.0,
    ),
    # --- novelty --------------------------------------------------------------
    FeatureDef(
        "is_new_country",
        NOVELTY,
        "New country",
        "1 when the account has history and never transacted in this country before.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "is_new_counterparty",
        NOVELTY,
        "New payee",
        "1 when the account has history and never paid this counterparty before.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "is_new_channel",
        NOVELTY,
        "New channel",
        "1 when the account has history and never used this channel before.",
        "flag",
        0.0,
    ),
    # --- transfer type --------------------------------------------------------
    FeatureDef(
        "transfer_type_O",
        TRANSFER_TYPE,
        "Own-account transfer",
        "1 for an own-account transfer (O).",
        "flag",
        0.0,
    ),
    FeatureDef(
        "transfer_type_I",
        TRANSFER_TYPE,
        "Internal transfer",
        "1 for an internal transfer to another customer of the bank (I).",
        "flag",
        0.0,
    ),
    FeatureDef(
        "transfer_type_L",
        TRANSFER_TYPE,
        "Local transfer",
        "1 for a local transfer to another bank (L).",
        "flag",
        0.0,
    ),
    FeatureDef(
        "transfer_type_Q",
        TRANSFER_TYPE,
        "Quick payment",
        "1 for a quick payment (Q).",
        "flag",
        0.0,
    ),
    FeatureDef(
        "transfer_type_S",
        TRANSFER_TYPE,
        "Overseas transfer",
        "1 for an overseas transfer (S).",
        "flag",
        0.0,
    ),
    # --- channel --------------------------------------------------------------
    FeatureDef(
        "channel_digital",
        CHANNEL,
        "Digital channel",
        "1 for mobile app, online banking or open-banking API.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "channel_card",
        CHANNEL,
        "Card channel",
        "1 for ATM or card terminal.",
        "flag",
        0.0,
    ),
    # --- time -----------------------------------------------------------------
    FeatureDef(
        "hour_sin",
        TIME,
        "Time of day (sin)",
        "sin(2 pi h / 24), h = local hour of day with minutes as a fraction.",
        "cyclic",
        0.0,
    ),
    FeatureDef(
        "hour_cos",
        TIME,
        "Time of day (cos)",
        "cos(2 pi h / 24).",
        "cyclic",
        1.0,
    ),
    FeatureDef(
        "is_night",
        TIME,
        "At night",
        "1 between 00:00 and 05:59 bank local time.",
        "flag",
        0.0,
    ),
    FeatureDef(
        "is_weekend",
        TIME,
        "At the weekend",
        "1 on Saturday or Sunday (bank local time).",
        "flag",
        0.0,
    ),
    # --- counterparty ---------------------------------------------------------
    FeatureDef(
        "counterparty_distinct_senders_7d",
        COUNTERPARTY,
        "Other senders to payee (7 days)",
        "Distinct other accounts that paid this counterparty in the 7 days before "
        f"(counted up to {COUNTERPARTY_SENDERS_CAP}).",
        "count",
        0.0,
    ),
    FeatureDef(
        "counterparty_log_prior_count",
        COUNTERPARTY,
        "Payee's earlier transfers (log)",
        "log(1 + prior transactions to this counterparty from any account).",
        "log",
        0.0,
    ),
    FeatureDef(
        "counterparty_fraud_count",
        COUNTERPARTY,
        "Confirmed fraud to payee",
        "Prior transactions to this counterparty confirmed as fraud, counting only labels "
        "known before this transaction.",
        "count",
        0.0,
    ),
    FeatureDef(
        "counterparty_fraud_rate",
        COUNTERPARTY,
        "Fraud rate of payee",
        "Confirmed fraud count / prior transactions to this counterparty older than the "
        "label delay (capped at 1); 0 when there are none.",
        "ratio",
        0.0,
    ),
)


FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
N_FEATURES = len(FEATURES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
FEATURES_BY_NAME: dict[str, FeatureDef] = {f.name: f for f in FEATURES}
NEUTRAL_VALUES: tuple[float, ...] = tuple(f.neutral for f in FEATURES)
FEATURE_SPEC_HASH = hashlib.sha256(
    f"{FEATURE_SPEC_VERSION}:{','.join(FEATURE_NAMES)}".encode()
).hexdigest()

assert N_FEATURES == 41, N_FEATURES  # noqa: S101 - the spec is fixed at 41 inputs
assert len(FEATURE_INDEX) == N_FEATURES  # noqa: S101 - names are unique


def feature_index(name: str) -> int:
    """Position of a feature in the vector; KeyError names an unknown feature."""
    return FEATURE_INDEX[name]
