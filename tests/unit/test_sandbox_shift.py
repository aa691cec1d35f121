"""The sandbox moves a scenario by whole weeks so that it has ended by now, keeping weekday and local time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bridge.app.commands.demo import find_scenario, load_scenario
from bridge.app.commands.sandbox import moved, shift

BERLIN = ZoneInfo("Europe/Berlin")
SCENARIO = load_scenario(find_scenario("review-never-picked-up"))  # Mon 23 Nov 2026 .. Tue 24 Nov 18:00 Berlin


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_the_moved_scenario_ends_in_the_week_before_now(naive_now):
    now = naive_now.replace(tzinfo=timezone.utc)
    by = shift(SCENARIO, now)
    assert by % timedelta(weeks=1) == timedelta(0)
    end = moved(SCENARIO.end, by, BERLIN)
    assert end <= now < end + timedelta(weeks=1, hours=1)  # an hour of slack for a DST change between
    local = end.astimezone(BERLIN)
    assert (local.weekday(), local.hour, local.minute) == (1, 18, 0)  # still Tuesday 18:00 in Berlin


def test_local_time_is_kept_across_a_dst_change():
    summer = datetime(2026, 10, 20, 9, 5, tzinfo=BERLIN)  # CEST
    winter = moved(summer, timedelta(weeks=2), BERLIN)  # CET
    assert (winter.hour, winter.minute, winter.utcoffset()) == (9, 5, timedelta(hours=1))


def test_a_dst_change_never_leaves_the_end_after_now():
    # a scenario ending Tue 14 Jul 18:00 CEST (16:00 UTC), now Tue 1 Dec 16:30 UTC (17:30 CET):
    # 20 whole UTC weeks would be 16:00 UTC, but 18:00 local in winter is 17:00 UTC, after now
    summer = replace(SCENARIO, end=datetime(2026, 7, 14, 18, 0, tzinfo=BERLIN))
    now = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    end = moved(summer.end, shift(summer, now), BERLIN)
    assert end <= now < end + timedelta(weeks=1, hours=1)
    assert end.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 11, 24, 18, 0)
