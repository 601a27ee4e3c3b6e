"""The demo bank's people and their habits: customers, accounts, counterparties and one
spending profile per customer, all drawn as numpy arrays from one random generator."""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from transactions.demo_data import reference as ref
from transactions.demo_data.identifiers import IdentifierFactory

# Transfer type codes, in the order used by every per-type array.
TRANSFER_TYPES = np.array(["O", "I", "L", "Q", "S"], dtype=object)
OWN, INTERNAL, LOCAL, QUICK, OVERSEAS = range(5)
# Median transfer amount relative to the customer's median quick payment (log scale).
TYPE_LOG_OFFSET = np.log(np.array([25.0, 10.0, 18.0, 1.0, 14.0]))

CHANNELS = np.array(["mobile", "web", "branch", "atm", "pos", "api"], dtype=object)
MOBILE, WEB, BRANCH, ATM, POS, API = range(6)

KINDS = np.array(["account", "merchant", "terminal"], dtype=object)
KIND_ACCOUNT, KIND_MERCHANT, KIND_TERMINAL = range(3)

SEGMENTS = ("retail", "affluent", "business")
SEGMENT_SHARES = np.array([0.80, 0.15, 0.05])
SEGMENT_MEDIAN_PAYMENT = np.array([85.0, 210.0, 300.0])  # AED, quick payments
SEGMENT_RATE_FACTOR = np.array([1.0, 1.15, 2.0])

# Hours of the day (bank local time): a few rhythms a customer follows. Little at night.
_HOURS = np.arange(24)


def _bumps(*peaks: tuple[float, float, float]) -> np.ndarray:
    weights = np.full(24, 0.02)
    for centre, width, height in peaks:
        distance = np.minimum(np.abs(_HOURS - centre), 24 - np.abs(_HOURS - centre))
        weights = weights + height * np.exp(-0.5 * (distance / width) ** 2)
    weights[1:5] *= 0.15  # 01:00-04:59 is quiet for everyone
    return weights / weights.sum()


DAY_RHYTHMS = np.stack(
    [
        _bumps((8.5, 1.0, 1.0), (13.0, 1.0, 1.2), (19.5, 1.5, 1.5)),  # office hours
        _bumps((20.0, 2.0, 2.0), (14.0, 2.0, 0.6)),  # evenings
        _bumps((11.0, 2.5, 1.5), (16.0, 2.0, 1.0)),  # daytime
        _bumps((7.0, 1.0, 1.2), (12.5, 1.0, 0.8), (18.0, 1.0, 1.0)),  # early riser
        _bumps((22.5, 1.5, 1.8), (0.5, 1.0, 0.8), (15.0, 2.0, 0.6)),  # night owl
    ]
)
DAY_RHYTHM_SHARES = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
DAY_RHYTHM_CDF = np.cumsum(DAY_RHYTHMS, axis=1)
DAY_RHYTHM_CDF[:, -1] = 1.0

# Activity by weekday (Monday first; the UAE weekend is Saturday and Sunday).
WEEKDAY_ACTIVITY = np.array([1.0, 0.97, 0.98, 1.05, 1.1, 1.2, 1.05])
# Type mix multipliers on weekends and around pay day (25th to 3rd).
WEEKEND_TYPE_FACTOR = np.array([0.6, 0.6, 0.6, 1.15, 0.6])
PAYDAY_TYPE_FACTOR = np.array([1.8, 1.3, 1.8, 1.0, 2.2])

TRANSFER_CHANNEL_PREFERENCES = np.array([MOBILE, WEB, BRANCH, API])
TRANSFER_CHANNEL_SHARES = np.array([0.62, 0.25, 0.1, 0.03])


def _weighted(mapping: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.array(list(mapping), dtype=object)
    weights = np.array(list(mapping.values()), dtype=float)
    return keys, weights / weights.sum()


class CounterpartyTable:
    """All counterparties of the run, appended in blocks; rows are referred to by index."""

    def __init__(self, ids: IdentifierFactory) -> None:
        self.ids = ids
        self._blocks: list[tuple[np.ndarray, ...]] = []
        self.size = 0
        self._country_cache: np.ndarray | None = None

    def add(
        self,
        *,
        identifiers: np.ndarray,
        kind: int | np.ndarray,
        names: np.ndarray,
        countries: np.ndarray,
        channels: int | np.ndarray = -1,
    ) -> np.ndarray:
        count = len(identifiers)
        block = (
            np.asarray(identifiers, dtype=object),
            np.broadcast_to(np.asarray(kind, dtype=np.int8), (count,)).copy(),
            np.asarray(names, dtype=object),
            np.asarray(countries, dtype=object),
            np.broadcast_to(np.asarray(channels, dtype=np.int8), (count,)).copy(),
        )
        self._blocks.append(block)
        first = self.size
        self.size += count
        self._country_cache = None
        return np.arange(first, first + count, dtype=np.int64)

    def add_accounts(
        self, *, family: str, countries: np.ndarray, names: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        countries = np.asarray(countries, dtype=object)
        codes = np.asarray(ref.LOCAL_BANK_CODES, dtype=object)[
            rng.integers(0, len(ref.LOCAL_BANK_CODES), len(countries))
        ]
        identifiers = self.ids.account_numbers(family, countries, codes)
        return self.add(
            identifiers=identifiers, kind=KIND_ACCOUNT, names=names, countries=countries
        )

    def column(self, position: int) -> np.ndarray:
        if not self._blocks:
            return np.empty(0, dtype=object)
        return np.concatenate([block[position] for block in self._blocks])

    @property
    def countries(self) -> np.ndarray:
        if self._country_cache is None:
            self._country_cache = self.column(3)
        return self._country_cache

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "identifier": self.column(0),
            "kind": self.column(1),
            "name": self.column(2),
            "country": self.column(3),
            "channel": self.column(4),
        }


@dataclass
class MerchantPool:
    """A country's shops, online merchants, terminals and ATMs with popularity weights."""

    indices: np.ndarray
    cdf: np.ndarray

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        picks = np.searchsorted(self.cdf, rng.random(count), side="right")
        return self.indices[np.minimum(picks, len(self.indices) - 1)]


@dataclass
class BankProfile:
    """The bank before any transaction: who the customers are and how they behave."""

    customers: int
    days: int
    tag: str
    ids: IdentifierFactory
    counterparties: CounterpartyTable
    # customers
    customer_ids: np.ndarray
    names: np.ndarray
    emails: np.ndarray
    phones: np.ndarray
    home: np.ndarray
    origin: np.ndarray
    segment: np.ndarray
    rate: np.ndarray  # transactions a day
    mu: np.ndarray  # log of the median quick payment (AED)
    sigma: np.ndarray  # spread of log amounts
    type_weights: np.ndarray  # (customers, 5) mix of O, I, L, Q, S
    rhythm: np.ndarray  # index into DAY_RHYTHMS
    transfer_channel: np.ndarray  # preferred channel for transfers
    # accounts
    account_numbers: np.ndarray
    account_customer: np.ndarray
    account_types: np.ndarray
    account_opened: np.ndarray  # days before the window start
    primary_account: np.ndarray
    secondary_account: np.ndarray  # -1 when the customer has one account
    account_counterparty: np.ndarray  # the counterparty row standing for each account
    # who each customer pays: padded (customers, k) index arrays with counts
    favourite_merchants: np.ndarray
    favourite_count: np.ndarray
    local_payees: np.ndarray
    local_count: np.ndarray
    internal_payees: np.ndarray
    internal_count: np.ndarray
    overseas_payees: np.ndarray
    overseas_count: np.ndarray
    overseas_country: np.ndarray
    merchant_pools: dict[str, MerchantPool]
    # travel: (customers, days) index into travel_countries, -1 at home
    away: np.ndarray
    travel_countries: np.ndarray
    countries_seen: list[set[str]] = field(default_factory=list)

    def typical_amount(self, customer: int, transfer_type: int) -> float:
        return float(np.exp(self.mu[customer] + TYPE_LOG_OFFSET[transfer_type]))


def _person_names(rng: np.random.Generator, countries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = np.empty(len(countries), dtype=object)
    last = np.empty(len(countries), dtype=object)
    groups = np.array(
        [ref.NAME_GROUP_BY_COUNTRY.get(c, "western") for c in countries], dtype=object
    )
    for group in np.unique(groups):
        mask = groups == group
        firsts = np.array(ref.FIRST_NAMES[group], dtype=object)
        lasts = np.array(ref.LAST_NAMES[group], dtype=object)
        first[mask] = firsts[rng.integers(0, len(firsts), mask.sum())]
        last[mask] = lasts[rng.integers(0, len(lasts), mask.sum())]
    return first, last


def person_names(rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
    first, last = _person_names(rng, np.asarray(countries, dtype=object))
    return first + " " + last


def _padded_choice(
    rng: np.random.Generator, counts: np.ndarray, width: int, draw: Callable[[int], np.ndarray]
) -> np.ndarray:
    """A (rows, width) array whose first counts[i] entries of row i come from draw(n)."""
    table = np.full((len(counts), width), -1, dtype=np.int64)
    mask = np.arange(width)[None, :] < counts[:, None]
    table[mask] = draw(int(mask.sum()))
    return table


def build_profile(*, customers: int, days: int, tag: str, rng: np.random.Generator) -> BankProfile:
    n = customers
    ids = IdentifierFactory(tag)
    table = CounterpartyTable(ids)

    # --- customers -----------------------------------------------------------------
    resident = rng.random(n) < 0.88
    nr_keys, nr_weights = _weighted(ref.NON_RESIDENT_HOME_COUNTRIES)
    origin_keys, origin_weights = _weighted(ref.RESIDENT_ORIGINS)
    home = np.where(resident, "AE", nr_keys[rng.choice(len(nr_keys), n, p=nr_weights)])
    home = home.astype(object)
    origin = np.where(
        resident, origin_keys[rng.choice(len(origin_keys), n, p=origin_weights)], home
    ).astype(object)
    first, last = _person_names(rng, origin)
    names = first + " " + last
    email_local = [
        f"{f}.{lname}".lower().replace(" ", "") + str(k)
        for f, lname, k in zip(first, last, rng.integers(1, 999, n))
    ]
    domains = np.array(ref.EMAIL_DOMAINS, dtype=object)[rng.integers(0, 3, n)]
    emails = np.array([f"{a}@{d}" for a, d in zip(email_local, domains)], dtype=object)
    phone_digits = rng.integers(0, 10**8, n)
    phones = np.array(
        [f"{ref.PHONE_PREFIXES.get(h, '+971 5')}{d:08d}" for h, d in zip(home, phone_digits)],
        dtype=object,
    )
    customer_ids = np.array([f"CUS-{tag}-{i + 1:06d}" for i in range(n)], dtype=object)

    segment = rng.choice(3, n, p=SEGMENT_SHARES)
    rate = np.clip(rng.lognormal(np.log(0.85), 0.6, n), 0.08, 8.0) * SEGMENT_RATE_FACTOR[segment]
    mu = np.log(SEGMENT_MEDIAN_PAYMENT[segment]) + rng.normal(0.0, 0.35, n)
    sigma = rng.uniform(0.6, 1.1, n)
    rhythm = rng.choice(len(DAY_RHYTHM_SHARES), n, p=DAY_RHYTHM_SHARES)
    transfer_channel = TRANSFER_CHANNEL_PREFERENCES[
        rng.choice(len(TRANSFER_CHANNEL_SHARES), n, p=TRANSFER_CHANNEL_SHARES)
    ]

    # --- accounts ------------------------------------------------------------------
    has_second = rng.random(n) < 0.45
    n_accounts = 1 + has_second.astype(np.int64)
    account_customer = np.repeat(np.arange(n), n_accounts)
    first_of_customer = np.concatenate([[0], np.cumsum(n_accounts)[:-1]])
    primary_account = first_of_customer
    secondary_account = np.where(has_second, first_of_customer + 1, -1)
    account_numbers = ids.account_numbers("own", np.full(len(account_customer), "AE"))
    second_is_card = rng.random(n) < 0.4
    account_types = np.full(len(account_customer), "current", dtype=object)
    account_types[primary_account[segment == 2]] = "business"
    account_types[secondary_account[has_second & second_is_card]] = "card"
    account_types[secondary_account[has_second & ~second_is_card]] = "savings"
    account_opened = rng.integers(30, 3650, len(account_customer))
    account_counterparty = table.add(
        identifiers=account_numbers,
        kind=KIND_ACCOUNT,
        names=names[account_customer],
        countries=np.full(len(account_customer), "AE", dtype=object),
    )

    # --- type mix ------------------------------------------------------------------
    base = np.array([0.06, 0.08, 0.12, 0.66, 0.03])
    concentration = 25.0 * base
    type_weights = rng.gamma(concentration, 1.0, (n, 5))
    expat = origin != home
    type_weights[:, OVERSEAS] *= np.where(expat | ~resident, 3.0, 1.0)
    type_weights[~has_second, OWN] = 0.0
    if n < 2:
        type_weights[:, INTERNAL] = 0.0
    type_weights /= type_weights.sum(axis=1, keepdims=True)

    # --- merchants: one pool per country -------------------------------------------
    travel_keys, travel_weights = _weighted(ref.TRAVEL_DESTINATIONS)
    pool_countries = sorted(set(home) | set(travel_keys))
    merchant_pools: dict[str, MerchantPool] = {}
    for country in pool_countries:
        locals_here = int((home == country).sum())
        size = 30 + locals_here // 8 if country in set(home) else 30
        kinds_draw = rng.choice(4, size, p=[0.45, 0.30, 0.13, 0.12])
        # 0 shop terminal, 1 online merchant (web), 2 in-app merchant (mobile), 3 ATM
        kind = np.where(np.isin(kinds_draw, [1, 2]), KIND_MERCHANT, KIND_TERMINAL)
        channel = np.choose(kinds_draw, [POS, WEB, MOBILE, ATM])
        words = np.array(ref.MERCHANT_WORDS, dtype=object)[
            rng.integers(0, len(ref.MERCHANT_WORDS), size)
        ]
        categories = np.array(ref.MERCHANT_CATEGORIES, dtype=object)[
            rng.integers(0, len(ref.MERCHANT_CATEGORIES), size)
        ]
        cities = np.array(ref.CITIES.get(country, (country,)), dtype=object)
        city = cities[rng.integers(0, len(cities), size)]
        online = np.array(ref.ONLINE_MERCHANT_WORDS, dtype=object)[
            rng.integers(0, len(ref.ONLINE_MERCHANT_WORDS), size)
        ]
        shop_names = words + " " + categories + " " + city
        merchant_names = np.where(
            kinds_draw == 3,
            "ATM " + city + " " + words,
            np.where(kind == KIND_MERCHANT, online + " " + country, shop_names),
        )
        identifiers = np.empty(size, dtype=object)
        identifiers[kinds_draw == 0] = ids.merchant_ids("TID", int((kinds_draw == 0).sum()))
        online_mask = np.isin(kinds_draw, [1, 2])
        identifiers[online_mask] = ids.merchant_ids("MER", int(online_mask.sum()))
        identifiers[kinds_draw == 3] = ids.merchant_ids("ATM", int((kinds_draw == 3).sum()))
        indices = table.add(
            identifiers=identifiers,
            kind=kind,
            names=merchant_names,
            countries=np.full(size, country, dtype=object),
            channels=channel,
        )
        popularity = 1.0 / (np.arange(size) + 4.0) ** 0.9
        popularity = rng.permutation(popularity)
        cdf = np.cumsum(popularity) / popularity.sum()
        merchant_pools[country] = MerchantPool(indices=indices, cdf=cdf)

    favourite_count = rng.integers(4, 13, n)
    favourite_merchants = np.full((n, 12), -1, dtype=np.int64)
    for country in np.unique(home):
        rows = np.flatnonzero(home == country)
        counts = favourite_count[rows]
        favourite_merchants[rows] = _padded_choice(
            rng, counts, 12, lambda k, pool=merchant_pools[country]: pool.draw(rng, k)
        )

    # --- payees ----------------------------------------------------------------------
    biller_count = len(ref.BILLERS)
    biller_indices = table.add(
        identifiers=ids.account_numbers(
            "beneficiary",
            np.full(biller_count, "AE", dtype=object),
            np.array(ref.LOCAL_BANK_CODES, dtype=object)[
                rng.integers(0, len(ref.LOCAL_BANK_CODES), biller_count)
            ],
        ),
        kind=KIND_ACCOUNT,
        names=np.array(ref.BILLERS, dtype=object),
        countries=np.full(biller_count, "AE", dtype=object),
    )
    personal_count = rng.integers(1, 5, n)
    biller_pick = rng.integers(1, 4, n)
    local_count = personal_count + biller_pick
    total_personal = int(personal_count.sum())
    personal = table.add_accounts(
        family="beneficiary",
        countries=np.full(total_personal, "AE", dtype=object),
        names=person_names(rng, np.repeat(origin, personal_count)),
        rng=rng,
    )
    local_payees = np.full((n, 8), -1, dtype=np.int64)
    slot = np.arange(8)[None, :]
    local_payees[slot < personal_count[:, None]] = personal
    biller_mask = (slot >= personal_count[:, None]) & (slot < local_count[:, None])
    biller_popularity = 1.0 / (np.arange(biller_count) + 2.0)
    biller_popularity /= biller_popularity.sum()
    local_payees[biller_mask] = biller_indices[
        rng.choice(biller_count, int(biller_mask.sum()), p=biller_popularity)
    ]

    internal_count = np.where(n > 1, rng.integers(1, 4, n), 0)
    internal_payees = np.full((n, 3), -1, dtype=np.int64)
    internal_mask = np.arange(3)[None, :] < internal_count[:, None]
    if n > 1:
        owners = np.repeat(np.arange(n), internal_count)
        others = (owners + rng.integers(1, n, len(owners))) % n  # never the customer
        internal_payees[internal_mask] = account_counterparty[primary_account[others]]

    emirati_keys, emirati_weights = _weighted(ref.EMIRATI_OVERSEAS_DESTINATIONS)
    overseas_country = np.where(
        origin == "AE",
        emirati_keys[rng.choice(len(emirati_keys), n, p=emirati_weights)],
        origin,
    ).astype(object)
    # Non-residents send money home; everyone else to where they come from.
    overseas_count = rng.integers(1, 4, n)
    overseas = table.add_accounts(
        family="beneficiary",
        countries=np.repeat(overseas_country, overseas_count),
        names=person_names(rng, np.repeat(overseas_country, overseas_count)),
        rng=rng,
    )
    overseas_payees = np.full((n, 3), -1, dtype=np.int64)
    overseas_payees[np.arange(3)[None, :] < overseas_count[:, None]] = overseas

    # --- travel ----------------------------------------------------------------------
    travel_countries = travel_keys
    away = np.full((n, days), -1, dtype=np.int16)
    trips_a_year = np.where(rng.random(n) < 0.25, 0.0, rng.gamma(1.5, 2.0, n))
    trips = rng.poisson(trips_a_year * days / 365.0)
    countries_seen: list[set[str]] = [{h, o} for h, o in zip(home, overseas_country)]
    for customer in np.flatnonzero(trips):
        for _ in range(trips[customer]):
            start = int(rng.integers(0, days))
            length = int(2 + rng.geometric(0.22))
            weights = travel_weights * (travel_keys != home[customer])
            destination = int(rng.choice(len(travel_keys), p=weights / weights.sum()))
            away[customer, start : start + length] = destination
            countries_seen[customer].add(str(travel_keys[destination]))

    return BankProfile(
        customers=n,
        days=days,
        tag=tag,
        ids=ids,
        counterparties=table,
        customer_ids=customer_ids,
        names=names,
        emails=emails,
        phones=phones,
        home=home,
        origin=origin,
        segment=segment,
        rate=rate,
        mu=mu,
        sigma=sigma,
        type_weights=type_weights,
        rhythm=rhythm,
        transfer_channel=transfer_channel,
        account_numbers=account_numbers,
        account_customer=account_customer,
        account_types=account_types,
        account_opened=account_opened,
        primary_account=primary_account,
        secondary_account=secondary_account,
        account_counterparty=account_counterparty,
        favourite_merchants=favourite_merchants,
        favourite_count=favourite_count,
        local_payees=local_payees,
        local_count=local_count,
        internal_payees=internal_payees,
        internal_count=internal_count,
        overseas_payees=overseas_payees,
        overseas_count=overseas_count,
        overseas_country=overseas_country,
        merchant_pools=merchant_pools,
        away=away,
        travel_countries=travel_countries,
        countries_seen=countries_seen,
    )
