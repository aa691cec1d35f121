"""``bridge.engine.retries.backoff``: the wait before the next read of an item that failed."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from bridge.engine.retries import backoff

seconds = st.integers(min_value=1, max_value=86_400).map(lambda s: timedelta(seconds=s))


@given(tries=st.integers(min_value=1, max_value=60), first=seconds, cap=seconds)
def test_the_wait_grows_with_each_failure_and_never_passes_the_cap(tries, first, cap):
    wait, later = backoff(tries, first, cap), backoff(tries + 1, first, cap)
    assert timedelta(0) < wait <= cap
    assert wait <= later, "never shorter after one more failure"
    assert later == min(wait * 2, cap) or wait == cap


def test_the_first_wait_is_the_configured_one_then_it_doubles():
    five = timedelta(minutes=5)
    assert [backoff(n, five, timedelta(hours=1)) for n in (1, 2, 3, 4, 5)] == \
        [five, 2 * five, 4 * five, 8 * five, timedelta(hours=1)]
