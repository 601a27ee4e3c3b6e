"""Labelled fraud, injected into the everyday activity as named scenarios.

Each scenario leaves the traces a history-based detector can learn from (velocity, amount
against the account's own history, new country or counterparty, night hours, transfer
type, counterparty fraud history) without being trivially separable: legitimate customers
also travel, pay new people, shop at night and sometimes spend big.

- account_takeover: at night, from a country the customer never used, 1-3 large payments
  (4-12x the customer's usual transfer) minutes apart, to a new foreign account (overseas
  transfer) or a new foreign online shop.
- card_testing: 5-20 tiny card payments (AED 0.50-15) within a few minutes at small online
  shops or terminals (a few shops testers reuse, often abroad).
- structuring: 3-6 local or internal transfers just under the AED 50,000 limit within one or
  two days, in business hours, to new payees.
- dormant_drain: an account silent for 30+ days suddenly sends 2-4 large transfers (most of
  its money) to new payees within hours.
- overseas_transfer: one (sometimes two) large overseas (S) transfer, in the daytime, to a
  new beneficiary in a country the customer never sent money to.
- mule_counterparty: one new local account (a money mule) receives payments from 4-12
  different customers within two days.

Fraud starts only after a customer has history: from day 7 of the window and after at
least 5 of the customer's own transactions. A customer is the victim of one incident.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from transactions.demo_data import reference as ref
from transactions.demo_data.profiles import (
    API,
    BRANCH,
    INTERNAL,
    KIND_MERCHANT,
    KIND_TERMINAL,
    LOCAL,
    MOBILE,
    OVERSEAS,
    POS,
    QUICK,
    WEB,
    BankProfile,
    person_names,
)
from transactions.demo_data.rows import RowBlock

SCENARIOS: tuple[str, ...] = (
    "account_takeover",
    "card_testing",
    "structuring",
    "dormant_drain",
    "overseas_transfer",
    "mule_counterparty",
)
# Share of all transactions that are fraud, and how it splits over the scenarios (by rows).
FRAUD_RATE = 0.0075
SCENARIO_ROW_SHARES: dict[str, float] = {
    "account_takeover": 0.18,
    "card_testing": 0.30,
    "structuring": 0.15,
    "dormant_drain": 0.12,
    "overseas_transfer": 0.10,
    "mule_counterparty": 0.15,
}
ROWS_PER_INCIDENT: dict[str, float] = {
    "account_takeover": 1.75,
    "card_testing": 12.5,
    "structuring": 4.5,
    "dormant_drain": 3.0,
    "overseas_transfer": 1.2,
    "mule_counterparty": 9.2,
}
# Per-transfer-type limits that structuring stays just under (AED).
STRUCTURING_LIMITS: dict[str, float] = {"L": 50_000.0, "I": 50_000.0}
FIRST_FRAUD_DAY = 7
MIN_HISTORY = 5
DORMANT_DAYS = 30
NIGHT_HOURS = (0, 5)  # [start, end) bank local time
MAX_AMOUNT = 400_000.0

DAY = 86_400
HOUR = 3_600


def scenario_code(name: str) -> int:
    return SCENARIOS.index(name) + 1


@dataclass
class _Incidents:
    expected: float

    def count(self, rng: np.random.Generator) -> int:
        whole = int(self.expected)
        count = whole + int(rng.random() < self.expected - whole)
        return max(count, 1) if self.expected >= 0.5 else count


class FraudInjector:
    """Picks victims with enough history and writes the scenarios' rows."""

    def __init__(
        self,
        profile: BankProfile,
        legit: RowBlock,
        counts: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.profile = profile
        self.legit = legit
        self.rng = rng
        self.history = np.cumsum(counts, axis=1)  # own transactions up to the end of day d
        self.used = np.zeros(profile.customers, dtype=bool)
        self.rows: dict[str, list] = {
            name: []
            for name in (
                "customer",
                "account",
                "seconds",
                "transfer_type",
                "counterparty",
                "amount",
                "channel",
                "scenario",
            )
        }
        # Legitimate rows of an account at or after this time are dropped (dormant_drain).
        self.account_cutoff = np.full(len(profile.account_numbers), np.iinfo(np.int64).max)
        self._account_seconds: dict[int, np.ndarray] | None = None
        self.end_seconds = profile.days * DAY

    # --- helpers ---------------------------------------------------------------------
    def pick_victim(
        self,
        *,
        first_day: int = FIRST_FRAUD_DAY,
        last_day: int | None = None,
        accept: Callable[[int, int], bool] | None = None,
        attempts: int = 300,
    ) -> tuple[int, int] | None:
        last_day = self.profile.days - 1 if last_day is None else last_day
        first_day = max(first_day, FIRST_FRAUD_DAY)
        if last_day < first_day:
            return None
        for _ in range(attempts):
            customer = int(self.rng.integers(0, self.profile.customers))
            day = int(self.rng.integers(first_day, last_day + 1))
            if self.used[customer] or self.history[customer, day - 1] < MIN_HISTORY:
                continue
            if accept is not None and not accept(customer, day):
                continue
            self.used[customer] = True
            return customer, day
        return None

    def emit(
        self,
        scenario: str,
        *,
        customer: int,
        account: int,
        seconds: int,
        transfer_type: int,
        counterparty: int,
        amount: float,
        channel: int,
    ) -> None:
        seconds = min(int(seconds), self.end_seconds - 1)
        amount = float(np.clip(round(amount, 2), 0.01, MAX_AMOUNT))
        for name, value in (
            ("customer", customer),
            ("account", account),
            ("seconds", seconds),
            ("transfer_type", transfer_type),
            ("counterparty", counterparty),
            ("amount", amount),
            ("channel", channel),
            ("scenario", scenario_code(scenario)),
        ):
            self.rows[name].append(value)

    def new_country(self, customer: int) -> str:
        seen = self.profile.countries_seen[customer]
        options = [c for c in ref.UNUSUAL_COUNTRIES if c not in seen]
        country = options[int(self.rng.integers(0, len(options)))]
        seen.add(country)
        return country

    def new_accounts(self, countries: list[str], *, company: bool = False) -> np.ndarray:
        countries_arr = np.asarray(countries, dtype=object)
        names = person_names(self.rng, countries_arr)
        if company:
            names = names + " Trading LLC"
        return self.profile.counterparties.add_accounts(
            family="fraud", countries=countries_arr, names=names, rng=self.rng
        )

    def new_account(self, country: str, *, company: bool = False) -> int:
        return int(self.new_accounts([country], company=company)[0])

    def new_merchant(self, country: str, name: str, *, terminal: bool = False) -> int:
        ids = self.profile.counterparties.ids
        identifier = ids.merchant_ids("TID" if terminal else "MER", 1)
        return int(
            self.profile.counterparties.add(
                identifiers=identifier,
                kind=KIND_TERMINAL if terminal else KIND_MERCHANT,
                names=np.array([name], dtype=object),
                countries=np.array([country], dtype=object),
                channels=POS if terminal else WEB,
            )[0]
        )

    def night_time(self, day: int) -> int:
        start, end = NIGHT_HOURS
        return day * DAY + int(self.rng.integers(start * HOUR, end * HOUR))

    def hours_time(self, day: int, first_hour: int, last_hour: int) -> int:
        return day * DAY + int(self.rng.integers(first_hour * HOUR, (last_hour + 1) * HOUR))

    def night_or_day(self, day: int, *, night_share: float, first_hour: int, last_hour: int) -> int:
        if self.rng.random() < night_share:
            return self.night_time(day)
        return self.hours_time(day, first_hour, last_hour)

    def choose(self, values: tuple, weights: tuple) -> object:
        p = np.asarray(weights, dtype=float)
        return values[int(self.rng.choice(len(values), p=p / p.sum()))]

    def account_seconds(self, account: int) -> np.ndarray:
        if self._account_seconds is None:
            order = np.lexsort((self.legit.seconds, self.legit.account))
            accounts = self.legit.account[order]
            seconds = self.legit.seconds[order]
            bounds = np.searchsorted(accounts, np.arange(len(self.account_cutoff) + 1))
            self._account_seconds = {
                a: seconds[bounds[a] : bounds[a + 1]] for a in range(len(self.account_cutoff))
            }
        return self._account_seconds[account]

    def result(self) -> RowBlock:
        return RowBlock.from_lists(self.rows)

    # --- scenarios -------------------------------------------------------------------
    def account_takeover(self, incidents: int) -> None:
        p = self.profile
        for _ in range(incidents):
            victim = self.pick_victim(accept=lambda c, d: p.away[c, d] < 0)
            if victim is None:
                return
            customer, day = victim
            country = self.new_country(customer)
            online_shopping = self.rng.random() < 0.3
            if online_shopping:
                word = ref.ONLINE_MERCHANT_WORDS[
                    int(self.rng.integers(0, len(ref.ONLINE_MERCHANT_WORDS)))
                ]
                payee = self.new_merchant(country, f"{word} Electronics {country}")
            else:
                payee = self.new_account(country)
            usual = max(p.typical_amount(customer, LOCAL), 800.0)
            count = int(self.choose((1, 2, 3), (0.45, 0.35, 0.2)))
            when = self.night_time(day)
            for _ in range(count):
                amount = usual * self.rng.uniform(4.0, 12.0)
                self.emit(
                    "account_takeover",
                    customer=customer,
                    account=int(p.primary_account[customer]),
                    seconds=when,
                    transfer_type=QUICK if online_shopping else OVERSEAS,
                    counterparty=payee,
                    amount=round(amount, 2) if online_shopping else round(amount, -1),
                    channel=WEB if online_shopping else int(self.choose((MOBILE, WEB), (6, 4))),
                )
                when += int(self.rng.integers(60, 20 * 60))

    def card_testing(self, incidents: int) -> None:
        p = self.profile
        keys = tuple(ref.CARD_TESTING_COUNTRIES)
        weights = tuple(ref.CARD_TESTING_COUNTRIES.values())
        testers: list[int] = []
        for i in range(max(2, int(np.ceil(incidents / 3)))):
            country = str(self.choose(keys, weights))
            name = ref.CARD_TESTING_MERCHANT_WORDS[i % len(ref.CARD_TESTING_MERCHANT_WORDS)]
            testers.append(self.new_merchant(country, name, terminal=self.rng.random() < 0.2))
        pool_countries = sorted(p.merchant_pools)
        for _ in range(incidents):
            victim = self.pick_victim()
            if victim is None:
                return
            customer, day = victim
            secondary = int(p.secondary_account[customer])
            account = (
                secondary
                if secondary >= 0 and p.account_types[secondary] == "card"
                else int(p.primary_account[customer])
            )
            shops = [testers[int(i)] for i in self.rng.integers(0, len(testers), 2)]
            if self.rng.random() < 0.4:
                country = pool_countries[int(self.rng.integers(0, len(pool_countries)))]
                shops.append(int(p.merchant_pools[country].draw(self.rng, 1)[0]))
            shops = shops[: int(self.rng.integers(1, len(shops) + 1))]
            when = self.night_or_day(day, night_share=0.45, first_hour=7, last_hour=23)
            channels = p.counterparties.column(4)
            for _ in range(int(self.rng.integers(5, 21))):
                shop = shops[int(self.rng.integers(0, len(shops)))]
                if self.rng.random() < 0.5:
                    amount = float(self.choose((1.0, 2.0, 5.0, 10.0), (4, 2, 2, 1)))
                else:
                    amount = self.rng.uniform(0.5, 15.0)
                self.emit(
                    "card_testing",
                    customer=customer,
                    account=account,
                    seconds=when,
                    transfer_type=QUICK,
                    counterparty=shop,
                    amount=amount,
                    channel=int(channels[shop]) if channels[shop] >= 0 else WEB,
                )
                when += 3 + int(self.rng.exponential(20.0))

    def structuring(self, incidents: int) -> None:
        p = self.profile
        for _ in range(incidents):
            victim = self.pick_victim(last_day=p.days - 2)
            if victim is None:
                return
            customer, day = victim
            code = str(self.choose(("L", "I"), (3, 1)))
            transfer_type = LOCAL if code == "L" else INTERNAL
            limit = STRUCTURING_LIMITS[code]
            payees = self.new_accounts(["AE"] * int(self.rng.integers(1, 4)))
            count = int(self.rng.integers(3, 7))
            spread_days = int(self.rng.integers(1, 3))
            times = sorted(
                self.hours_time(day + int(self.rng.integers(0, spread_days)), 9, 18)
                for _ in range(count)
            )
            for when in times:
                amount = np.floor(limit * self.rng.uniform(0.90, 0.995) / 10.0) * 10.0
                self.emit(
                    "structuring",
                    customer=customer,
                    account=int(p.primary_account[customer]),
                    seconds=when,
                    transfer_type=transfer_type,
                    counterparty=int(payees[int(self.rng.integers(0, len(payees)))]),
                    amount=float(amount),
                    channel=int(self.choose((BRANCH, WEB, MOBILE), (4, 3, 3))),
                )

    def dormant_drain(self, incidents: int) -> None:
        p = self.profile
        first_day = FIRST_FRAUD_DAY + DORMANT_DAYS + 1
        chosen: dict[str, int] = {}

        def accept(customer: int, day: int) -> bool:
            secondary = int(p.secondary_account[customer])
            use_secondary = secondary >= 0 and self.rng.random() < 0.6
            account = secondary if use_secondary else int(p.primary_account[customer])
            gap = int(self.rng.integers(DORMANT_DAYS, min(75, day - FIRST_FRAUD_DAY) + 1))
            quiet_from = (day - gap) * DAY
            before = np.searchsorted(self.account_seconds(account), quiet_from)
            if before < MIN_HISTORY:
                return False
            chosen.update(account=account, quiet_from=quiet_from)
            return True

        for _ in range(incidents):
            victim = self.pick_victim(first_day=first_day, accept=accept)
            if victim is None:
                return
            customer, day = victim
            account = chosen["account"]
            self.account_cutoff[account] = chosen["quiet_from"]
            count = int(self.rng.integers(2, 5))
            total = max(p.typical_amount(customer, LOCAL) * self.rng.uniform(10, 30), 20_000.0)
            parts = self.rng.dirichlet(np.full(count, 3.0)) * total
            foreign = self.rng.random() < 0.35
            country = self.new_country(customer) if foreign else "AE"
            payees = self.new_accounts([country] * int(self.rng.integers(1, 3)))
            when = self.night_or_day(day, night_share=0.5, first_hour=8, last_hour=22)
            for part in parts:
                transfer_type = OVERSEAS if foreign else int(self.choose((LOCAL, INTERNAL), (7, 3)))
                self.emit(
                    "dormant_drain",
                    customer=customer,
                    account=account,
                    seconds=when,
                    transfer_type=transfer_type,
                    counterparty=int(payees[int(self.rng.integers(0, len(payees)))]),
                    amount=max(float(np.round(part, -1)), 3_000.0),
                    channel=int(self.choose((MOBILE, WEB, API), (5, 3, 2))),
                )
                when += int(self.rng.integers(5 * 60, 60 * 60))

    def overseas_transfer(self, incidents: int) -> None:
        p = self.profile
        for _ in range(incidents):
            victim = self.pick_victim()
            if victim is None:
                return
            customer, day = victim
            country = self.new_country(customer)
            payee = self.new_account(country, company=self.rng.random() < 0.5)
            when = self.hours_time(day, 8, 21)
            for _ in range(1 if self.rng.random() < 0.8 else 2):
                amount = max(
                    p.typical_amount(customer, OVERSEAS) * self.rng.uniform(5.0, 20.0),
                    self.rng.uniform(8_000.0, 15_000.0),
                )
                self.emit(
                    "overseas_transfer",
                    customer=customer,
                    account=int(p.primary_account[customer]),
                    seconds=when,
                    transfer_type=OVERSEAS,
                    counterparty=payee,
                    amount=float(np.round(amount, -2)),
                    channel=int(self.choose((MOBILE, WEB, BRANCH), (55, 35, 10))),
                )
                when += int(self.rng.integers(10 * 60, 90 * 60))

    def mule_counterparty(self, incidents: int) -> None:
        p = self.profile
        for _ in range(incidents):
            if p.days - 1 < FIRST_FRAUD_DAY:
                return
            start_day = int(
                self.rng.integers(FIRST_FRAUD_DAY, max(FIRST_FRAUD_DAY, p.days - 2) + 1)
            )
            victims = []
            for _ in range(int(self.rng.integers(4, 13))):
                victim = self.pick_victim(
                    first_day=start_day, last_day=min(start_day + 1, p.days - 1)
                )
                if victim is not None:
                    victims.append(victim)
            if len(victims) < 2:
                self.used[[c for c, _ in victims]] = False
                continue
            mule = self.new_account("AE")
            for customer, day in victims:
                when = self.hours_time(day, 8, 23)
                for _ in range(1 if self.rng.random() < 0.85 else 2):
                    amount = max(
                        p.typical_amount(customer, LOCAL) * self.rng.uniform(1.5, 6.0),
                        self.rng.uniform(1_000.0, 2_500.0),
                    )
                    self.emit(
                        "mule_counterparty",
                        customer=customer,
                        account=int(p.primary_account[customer]),
                        seconds=when,
                        transfer_type=int(self.choose((LOCAL, INTERNAL, QUICK), (2, 1, 1))),
                        counterparty=mule,
                        amount=float(np.round(amount, -1)),
                        channel=int(self.choose((MOBILE, WEB), (7, 3))),
                    )
                    when += int(self.rng.integers(20 * 60, 4 * HOUR))


def inject_fraud(
    profile: BankProfile, legit: RowBlock, counts: np.ndarray, rng: np.random.Generator
) -> tuple[RowBlock, np.ndarray]:
    """Fraud rows for every scenario, and per account the time from which its legitimate
    rows must be dropped (to make dormant accounts dormant)."""
    injector = FraudInjector(profile, legit, counts, rng)
    fraud_rows = FRAUD_RATE / (1.0 - FRAUD_RATE) * len(legit)
    for name in SCENARIOS:
        expected = fraud_rows * SCENARIO_ROW_SHARES[name] / ROWS_PER_INCIDENT[name]
        incidents = _Incidents(expected).count(rng)
        getattr(injector, name)(incidents)
    return injector.result(), injector.account_cutoff
