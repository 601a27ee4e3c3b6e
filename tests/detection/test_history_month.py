"""The real-time loader appends history without per-row month bookkeeping and recounts
the month-to-date figures at the end: they must equal appending one by one."""

from hypothesis import given, settings
from hypothesis import strategies as st

from detection.features.history import AccountHistory

HOUR_NS = 3_600_000_000_000
START = 1_711_843_200 * 1_000_000_000  # 2024-03-31 00:00 UTC, near a DST change in Europe


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(["Asia/Dubai", "Europe/London", "America/New_York", "UTC"]),
    steps=st.lists(st.integers(min_value=0, max_value=400 * HOUR_NS), min_size=1, max_size=40),
    amounts=st.lists(
        st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=40, max_size=40
    ),
)
def test_recounted_month_equals_one_by_one(zone, steps, amounts):
    one_by_one, recounted = AccountHistory(tz=zone), AccountHistory(tz=zone)
    t = START
    used = []
    for step, amount in zip(steps, amounts, strict=False):
        t += step
        used.append(amount)
        one_by_one.append_values(t, amount, "AE", "mobile", "AE", "P")
        recounted.append_values(t, amount, "AE", "mobile", "AE", "P", month=False)
    recounted.recount_month(used)
    assert (recounted.month, recounted.month_sum, recounted.month_count) == (
        one_by_one.month,
        one_by_one.month_sum,
        one_by_one.month_count,
    )


def test_empty_history_keeps_its_defaults():
    history = AccountHistory(tz="UTC")
    history.recount_month([])
    assert (history.month, history.month_sum, history.month_count) == (-1, 0.0, 0)
