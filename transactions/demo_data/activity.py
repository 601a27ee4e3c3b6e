"""Everyday, legitimate activity: how many transactions each customer makes each day,
when, of which transfer type, to whom and for how much. Vectorised over all rows."""

import numpy as np

from transactions.demo_data.profiles import (
    ATM,
    BRANCH,
    DAY_RHYTHM_CDF,
    INTERNAL,
    LOCAL,
    MOBILE,
    OVERSEAS,
    OWN,
    PAYDAY_TYPE_FACTOR,
    QUICK,
    TYPE_LOG_OFFSET,
    WEB,
    WEEKDAY_ACTIVITY,
    WEEKEND_TYPE_FACTOR,
    BankProfile,
    person_names,
)
from transactions.demo_data.rows import RowBlock

TRAVEL_ACTIVITY = 1.15  # a little more spending while abroad
SHOP_ABROAD_SHARE = 0.85  # of quick payments on a trip day, made at the destination
FAVOURITE_SHARE = 0.78  # of quick payments at home, made at one of the customer's shops
KNOWN_PAYEE_SHARE = {LOCAL: 0.93, OVERSEAS: 0.95}  # the rest go to a one-off new payee
CARD_ACCOUNT_SHARE = 0.6  # of quick payments, paid from a card account when there is one
SECONDARY_TRANSFER_SHARE = 0.08
MAX_AMOUNT = 400_000.0
SESSION_SHARE = 0.3  # of a customer's further transactions that day, made minutes after one
SESSION_MEAN_GAP = 240.0  # seconds


def calendar(start: np.datetime64, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Weekday (Monday = 0) and day of month of each day of the window."""
    dates = start.astype("datetime64[D]") + np.arange(days)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    day_of_month = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(
        np.int64
    ) + 1
    return weekday, day_of_month


def _index_in_padded(
    table: np.ndarray, counts: np.ndarray, customers: np.ndarray, u: np.ndarray, skew: float
) -> np.ndarray:
    """table[c, k] with k drawn in [0, counts[c]), the first entries more often."""
    k = np.minimum((counts[customers] * u**skew).astype(np.int64), counts[customers] - 1)
    return table[customers, k]


def _sessions(
    seconds: np.ndarray, cell: np.ndarray, rng: np.random.Generator, end: int
) -> np.ndarray:
    """Make some transactions follow the customer's previous one of the day within
    minutes (paying several bills in a row, a shopping trip), so short bursts are not
    by themselves a sign of fraud."""
    total = len(seconds)
    if total == 0:
        return seconds
    follows = np.zeros(total, dtype=bool)
    follows[1:] = (cell[1:] == cell[:-1]) & (rng.random(total - 1) < SESSION_SHARE)
    gap = np.where(follows, 20 + rng.exponential(SESSION_MEAN_GAP, total).astype(np.int64), 0)
    run = np.cumsum(~follows) - 1
    starts = np.flatnonzero(~follows)
    offset = np.cumsum(gap)
    moved = seconds[starts][run] + offset - offset[starts][run]
    return np.minimum(moved, end - 1)


def generate_everyday_activity(
    profile: BankProfile, *, start: np.datetime64, rng: np.random.Generator
) -> tuple[RowBlock, np.ndarray]:
    """All legitimate transactions, and the (customers, days) matrix of their counts."""
    n, days = profile.customers, profile.days
    weekday, day_of_month = calendar(start, days)
    away = profile.away

    intensity = profile.rate[:, None] * WEEKDAY_ACTIVITY[weekday][None, :]
    intensity = intensity * np.where(away >= 0, TRAVEL_ACTIVITY, 1.0)
    counts = rng.poisson(intensity)
    cell = np.repeat(np.arange(n * days), counts.ravel())
    customer = cell // days
    day = cell % days
    total = len(cell)

    # Time of day from the customer's rhythm (bank local time).
    hour = np.empty(total, dtype=np.int64)
    u = rng.random(total)
    rhythm = profile.rhythm[customer]
    for r in range(len(DAY_RHYTHM_CDF)):
        mask = rhythm == r
        hour[mask] = np.searchsorted(DAY_RHYTHM_CDF[r], u[mask], side="right")
    hour = np.minimum(hour, 23)
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, total)
    seconds = _sessions(seconds, cell, rng, days * 86_400)

    # Transfer type from the customer's mix, shifted by weekends and pay days.
    day_factor = np.ones((days, 5))
    day_factor[weekday >= 5] *= WEEKEND_TYPE_FACTOR
    day_factor[(day_of_month >= 25) | (day_of_month <= 3)] *= PAYDAY_TYPE_FACTOR
    weights = profile.type_weights[customer] * day_factor[day]
    cumulative = np.cumsum(weights, axis=1)
    threshold = rng.random(total) * cumulative[:, -1]
    transfer_type = (cumulative < threshold[:, None]).sum(axis=1).astype(np.int8)
    del weights, cumulative

    counterparty = np.full(total, -1, dtype=np.int64)
    account = profile.primary_account[customer].copy()
    channel = np.full(total, MOBILE, dtype=np.int8)
    secondary = profile.secondary_account[customer]
    table = profile.counterparties

    # --- quick payments at shops, online merchants, terminals and ATMs ---------------
    quick = np.flatnonzero(transfer_type == QUICK)
    qc = customer[quick]
    where_away = away[qc, day[quick]]
    u = rng.random(len(quick))
    abroad = (where_away >= 0) & (u < SHOP_ABROAD_SHARE)
    favourite = ~abroad & (rng.random(len(quick)) < FAVOURITE_SHARE)
    pick = np.full(len(quick), -1, dtype=np.int64)
    pick[favourite] = _index_in_padded(
        profile.favourite_merchants,
        profile.favourite_count,
        qc[favourite],
        rng.random(int(favourite.sum())),
        1.6,
    )
    shop_country = profile.home[qc].copy()
    shop_country[abroad] = profile.travel_countries[where_away[abroad]]
    for country, pool in profile.merchant_pools.items():
        mask = (pick < 0) & (shop_country == country)
        if mask.any():
            pick[mask] = pool.draw(rng, int(mask.sum()))
    counterparty[quick] = pick
    merchant_channel = table.column(4)[pick]
    channel[quick] = merchant_channel
    card = profile.account_types[np.maximum(secondary[quick], 0)] == "card"
    card &= secondary[quick] >= 0
    from_card = card & (rng.random(len(quick)) < CARD_ACCOUNT_SHARE)
    account[quick[from_card]] = secondary[quick[from_card]]

    # --- transfers -------------------------------------------------------------------
    transfers = np.flatnonzero(transfer_type != QUICK)
    tc = customer[transfers]
    preferred = profile.transfer_channel[tc]
    other = np.array([MOBILE, WEB, BRANCH], dtype=np.int8)[rng.integers(0, 3, len(transfers))]
    channel[transfers] = np.where(rng.random(len(transfers)) < 0.8, preferred, other)
    use_secondary = (secondary[transfers] >= 0) & (
        rng.random(len(transfers)) < SECONDARY_TRANSFER_SHARE
    )
    account[transfers[use_secondary]] = secondary[transfers[use_secondary]]

    for kind, table_of, count_of, skew in (
        (LOCAL, profile.local_payees, profile.local_count, 1.3),
        (OVERSEAS, profile.overseas_payees, profile.overseas_count, 1.5),
    ):
        rows = np.flatnonzero(transfer_type == kind)
        c = customer[rows]
        known = rng.random(len(rows)) < KNOWN_PAYEE_SHARE[kind]
        counterparty[rows[known]] = _index_in_padded(
            table_of, count_of, c[known], rng.random(int(known.sum())), skew
        )
        one_off = rows[~known]
        countries = (
            np.full(len(one_off), "AE", dtype=object)
            if kind == LOCAL
            else profile.overseas_country[customer[one_off]]
        )
        counterparty[one_off] = table.add_accounts(
            family="one_off",
            countries=countries,
            names=person_names(rng, countries),
            rng=rng,
        )

    rows = np.flatnonzero(transfer_type == INTERNAL)
    counterparty[rows] = _index_in_padded(
        profile.internal_payees,
        profile.internal_count,
        customer[rows],
        rng.random(len(rows)),
        1.0,
    )

    rows = np.flatnonzero(transfer_type == OWN)
    c = customer[rows]
    outgoing = rng.random(len(rows)) < 0.7  # from the main account to the second one
    source = np.where(outgoing, profile.primary_account[c], profile.secondary_account[c])
    target = np.where(outgoing, profile.secondary_account[c], profile.primary_account[c])
    account[rows] = source
    counterparty[rows] = profile.account_counterparty[target]

    # --- amounts: lognormal around the customer's own level ----------------------------
    log_amount = profile.mu[customer] + TYPE_LOG_OFFSET[transfer_type]
    spread = profile.sigma[customer] * np.where(transfer_type == QUICK, 1.0, 0.85)
    amount = np.exp(log_amount + spread * rng.standard_normal(total))
    at_atm = channel == ATM
    amount[at_atm] = np.clip(np.round(amount[at_atm] * 3.0 / 100.0) * 100.0, 100.0, 5_000.0)
    round_style = rng.random(total)
    is_transfer = transfer_type != QUICK
    tens = is_transfer & (round_style < 0.5)
    hundreds = is_transfer & (round_style >= 0.5) & (round_style < 0.8)
    amount[tens] = np.round(amount[tens] / 10.0) * 10.0
    amount[hundreds] = np.round(amount[hundreds] / 100.0) * 100.0
    amount = np.clip(np.round(amount, 2), 1.0, MAX_AMOUNT)

    block = RowBlock(
        customer=customer.astype(np.int64),
        account=account.astype(np.int64),
        seconds=seconds.astype(np.int64),
        transfer_type=transfer_type,
        counterparty=counterparty,
        amount=amount,
        channel=channel.astype(np.int8),
        scenario=np.zeros(total, dtype=np.int8),
    )
    return block, counts
