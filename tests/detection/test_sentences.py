"""Contribution sentences say what the feature's value is: a flag that is 0 and still
pushed the score up is written as what is not the case, never as if it were."""

import math

import numpy as np
import pytest

from detection.features.spec import (
    COUNTERPARTY_SENDERS_CAP,
    FEATURE_INDEX,
    FEATURES,
    SINCE_PREV_CAP_SECONDS,
)
from detection.scoring.sentences import TEMPLATES, feature_sentence, top_contributions

FLAGS = [f.name for f in FEATURES if f.unit == "flag"]


def _vector(**values: float) -> np.ndarray:
    x = np.array([f.neutral for f in FEATURES], dtype=np.float64)
    x[FEATURE_INDEX["history_count"]] = 40.0
    for name, value in values.items():
        x[FEATURE_INDEX[name]] = value
    return x


@pytest.mark.parametrize("name", FLAGS)
def test_a_flag_reads_differently_on_and_off(name):
    on = feature_sentence(name, _vector(**{name: 1.0}), amount=5000.0)
    off = feature_sentence(name, _vector(**{name: 0.0}), amount=5000.0)
    assert on and off and on != off
    if name in TEMPLATES:  # the sentence of the present flag is never given for an absent one
        assert off != TEMPLATES[name](_vector(**{name: 1.0}), 5000.0, "AED")


def test_an_absent_quick_payment_that_raised_the_score():
    x = _vector(transfer_type_O=1.0, transfer_type_Q=0.0)
    contributions = np.zeros(len(FEATURES))
    contributions[FEATURE_INDEX["transfer_type_Q"]] = 0.17
    contributions[FEATURE_INDEX["transfer_type_O"]] = 0.05
    found = top_contributions(x, contributions, amount=1250.0, source="autoencoder")
    assert [(c["feature"], c["sentence"]) for c in found] == [
        ("transfer_type_Q", "Not a quick payment"),
        ("transfer_type_O", "Transfer between own accounts"),
    ]


def test_time_and_novelty_sentences_follow_the_history():
    night_off = _vector(is_night=0.0)
    assert feature_sentence("is_night", night_off, amount=1.0).startswith("Made in the day")
    assert feature_sentence("is_weekend", _vector(is_weekend=0.0), amount=1.0) == (
        "Made on a weekday"
    )
    assert feature_sentence("is_new_counterparty", _vector(), amount=1.0) == (
        "Not a new payee for this account"
    )
    fresh = _vector(history_count=0.0)
    assert feature_sentence("is_new_counterparty", fresh, amount=1.0) == (
        "No earlier transactions to compare this payee with"
    )
    assert feature_sentence("history_count", fresh, amount=1.0) == (
        "No earlier transactions on this account"
    )
    assert feature_sentence("history_count", _vector(history_count=3.0), amount=1.0) == (
        "Little history: 3 earlier transactions on this account"
    )
    assert feature_sentence("history_count", _vector(history_count=1500.0), amount=1.0) == (
        "1,500 earlier transactions on this account"
    )
    assert feature_sentence("days_since_prev", _vector(days_since_prev=0.2), amount=1.0) == (
        "Previous transaction on this account less than a day before"
    )
    assert feature_sentence("days_since_prev", _vector(days_since_prev=45.0), amount=1.0) == (
        "Account was inactive for 45 days before this"
    )


def test_time_since_previous_transfer_at_its_cap():
    since = "velocity_log_seconds_since_prev"
    capped = _vector(**{since: math.log1p(SINCE_PREV_CAP_SECONDS)})
    assert feature_sentence(since, capped, amount=1.0) == (
        "No transfer from this account in the 30 days before"
    )
    capped[FEATURE_INDEX["history_count"]] = 0.0
    assert feature_sentence(since, capped, amount=1.0) == "No earlier transfer on this account"
    recent = _vector(**{since: math.log1p(45.0)})
    assert feature_sentence(since, recent, amount=1.0) == (
        "Only 45 seconds since this account's previous transfer"
    )
    hours = _vector(**{since: math.log1p(5 * 3600.0)})
    assert feature_sentence(since, hours, amount=1.0) == (
        "5.0 hours since this account's previous transfer"
    )


def test_every_feature_has_a_sentence_of_its_own():
    assert [f.name for f in FEATURES if f.name not in TEMPLATES] == []


@pytest.mark.parametrize(
    ("hour", "text"), [(2 + 10 / 60, "02:10"), (0.0, "00:00"), (23.5, "23:30")]
)
def test_time_of_day_reads_as_a_clock_time(hour, text):
    angle = hour * 2 * math.pi / 24
    x = _vector(hour_sin=math.sin(angle), hour_cos=math.cos(angle))
    for name in ("hour_sin", "hour_cos"):
        assert feature_sentence(name, x, amount=1.0) == f"Made at {text} local time"


def test_payee_history_and_channels():
    prior = "counterparty_log_prior_count"
    assert feature_sentence(prior, _vector(**{prior: 0.0}), amount=1.0) == (
        "First transfer to this payee from any account"
    )
    assert feature_sentence(prior, _vector(**{prior: math.log1p(1500)}), amount=1.0) == (
        "The payee received 1,500 earlier transfers from any account"
    )
    assert feature_sentence("channel_card", _vector(channel_card=0.0), amount=1.0) == (
        "Not made with a card"
    )
    assert feature_sentence("channel_digital", _vector(channel_digital=1.0), amount=1.0) == (
        "Made through a digital channel (app, online, API)"
    )


def test_payee_senders_at_the_cap_read_as_at_least_the_cap():
    senders = "counterparty_distinct_senders_7d"
    assert feature_sentence(senders, _vector(**{senders: 12.0}), amount=1.0) == (
        "The payee received money from 12 other accounts in 7 days"
    )
    at_cap = _vector(**{senders: float(COUNTERPARTY_SENDERS_CAP)})
    assert feature_sentence(senders, at_cap, amount=1.0) == (
        f"The payee received money from {COUNTERPARTY_SENDERS_CAP} or more other accounts in 7 days"
    )
