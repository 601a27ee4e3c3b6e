"""Rule limits and outcome thresholds as shipped (from the product brief).

The database rows (created by a data migration, edited by admins) override these; a code
missing from the database falls back to its default here.
"""

from dataclasses import dataclass

TRANSFER_TYPE_NAMES = {
    "O": "own-account transfer",
    "I": "internal transfer",
    "L": "local transfer",
    "Q": "quick payment",
    "S": "overseas transfer",
}

VELOCITY_WINDOWS = {
    # code: (feature name, window in words)
    "velocity_30s": ("velocity_count_30s", "30 seconds"),
    "velocity_10m": ("velocity_count_10m", "10 minutes"),
    "velocity_1h": ("velocity_count_1h", "1 hour"),
}
AMOUNT_LIMIT_PREFIX = "amount_limit_"
MONTHLY_CAP = "monthly_cap"
DYNAMIC_K = "dynamic_limit_k"
DYNAMIC_MIN_HISTORY = "dynamic_limit_min_history"
REVIEW_THRESHOLD = "review_threshold"
BLOCK_THRESHOLD = "block_threshold"


@dataclass(frozen=True)
class DefaultLimit:
    code: str
    name: str
    category: str
    value: str  # decimal string
    unit: str
    severity: str
    description: str


DEFAULT_LIMITS: tuple[DefaultLimit, ...] = (
    DefaultLimit(
        "velocity_30s",
        "Transfers in 30 seconds",
        "velocity",
        "2",
        "transfers",
        "block",
        "More transfers than this from one account within 30 seconds is a hit.",
    ),
    DefaultLimit(
        "velocity_10m",
        "Transfers in 10 minutes",
        "velocity",
        "5",
        "transfers",
        "review",
        "More transfers than this from one account within 10 minutes is a hit.",
    ),
    DefaultLimit(
        "velocity_1h",
        "Transfers in 1 hour",
        "velocity",
        "15",
        "transfers",
        "review",
        "More transfers than this from one account within 1 hour is a hit.",
    ),
    DefaultLimit(
        "amount_limit_O",
        "Own-account transfer limit",
        "amount",
        "200000",
        "AED",
        "review",
        "Largest single own-account transfer (O) allowed without review.",
    ),
    DefaultLimit(
        "amount_limit_I",
        "Internal transfer limit",
        "amount",
        "100000",
        "AED",
        "review",
        "Largest single internal transfer (I) allowed without review.",
    ),
    DefaultLimit(
        "amount_limit_L",
        "Local transfer limit",
        "amount",
        "50000",
        "AED",
        "review",
        "Largest single local transfer to another bank (L) allowed without review.",
    ),
    DefaultLimit(
        "amount_limit_Q",
        "Quick payment limit",
        "amount",
        "10000",
        "AED",
        "review",
        "Largest single quick payment (Q) allowed without review.",
    ),
    DefaultLimit(
        "amount_limit_S",
        "Overseas transfer limit",
        "amount",
        "25000",
        "AED",
        "review",
        "Largest single overseas transfer (S) allowed without review.",
    ),
    DefaultLimit(
        MONTHLY_CAP,
        "Monthly cap",
        "monthly",
        "200000",
        "AED",
        "review",
        "Most one account may send in a calendar month (bank local time), this transfer included.",
    ),
    DefaultLimit(
        DYNAMIC_K,
        "Dynamic limit (k)",
        "dynamic",
        "4",
        "× std",
        "review",
        "An amount above the account's mean + k × standard deviation of its earlier "
        "amounts is a hit.",
    ),
    DefaultLimit(
        DYNAMIC_MIN_HISTORY,
        "Dynamic limit: history needed",
        "dynamic",
        "10",
        "transactions",
        "review",
        "The dynamic limit applies only once the account has at least this many earlier "
        "transactions.",
    ),
    DefaultLimit(
        REVIEW_THRESHOLD,
        "Review threshold",
        "threshold",
        "0.5",
        "risk score",
        "review",
        "A risk score at or above this sends the transaction to review.",
    ),
    DefaultLimit(
        BLOCK_THRESHOLD,
        "Block threshold",
        "threshold",
        "0.9",
        "risk score",
        "block",
        "A risk score at or above this blocks the transaction.",
    ),
)
DEFAULTS_BY_CODE = {d.code: d for d in DEFAULT_LIMITS}
WHOLE_NUMBER_CODES = frozenset({*VELOCITY_WINDOWS, DYNAMIC_MIN_HISTORY})
THRESHOLD_CODES = frozenset({REVIEW_THRESHOLD, BLOCK_THRESHOLD})
