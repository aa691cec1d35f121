"""Property-based tests of business time (issue 12), with hypothesis.

For schedules in zones with and without DST (Auckland, Los Angeles, Berlin, Lord Howe's
half-hour DST, Kolkata without DST), random working days and hours, with and without public
holidays, and moments drawn all over 2025-2027 and close to every DST transition:

- ``add`` never goes back, is monotone in its start and in its duration, and never lands inside
  non-working time (only on a working moment, or exactly on a day's closing time);
- ``between(t, add(t, d))`` is ``d`` for durations in hours and minutes;
- ``subtract`` leaves at least the duration before its end, is monotone in the end, and lands on
  a working moment;
- ``end_of_date`` is 23:59:59 of that date in the schedule's zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.core.businesstime import Duration, WorkSchedule

UTC = timezone.utc
ZONES = ["Pacific/Auckland", "America/Los_Angeles", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
HOLIDAYS = {"Pacific/Auckland": "NZ", "America/Los_Angeles": "US-CA", "Europe/Berlin": "DE-BY",
            "Australia/Lord_Howe": "AU-NSW", "Asia/Kolkata": "IN", "UTC": "GB"}
LO, HI = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC)
_schedules: dict[tuple, WorkSchedule] = {}


def _transitions(zone: str) -> list[datetime]:
    """UTC moments at which ``zone``'s offset changes between LO and HI (hour resolution)."""
    tz, out, t = ZoneInfo(zone), [], LO
    while t < HI:
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            out.append(nxt)
        t = nxt
    return out


TRANSITIONS = {z: _transitions(z) for z in ZONES}


@st.composite
def schedules(draw) -> WorkSchedule:
    zone = draw(st.sampled_from(ZONES))
    days = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))))
    start = draw(st.integers(0, 22 * 4)) * 15
    end = draw(st.integers(start // 15 + 1, 24 * 4 - 1)) * 15
    holidays = HOLIDAYS[zone] if draw(st.booleans()) else None
    key = (zone, days, start, end, holidays)
    if key not in _schedules:  # holiday calendars are slow to build: share schedules between examples
        _schedules[key] = WorkSchedule(zone, days, time(start // 60, start % 60), time(end // 60, end % 60), holidays)
    return _schedules[key]


@st.composite
def moments(draw, schedule: WorkSchedule) -> datetime:
    """Anywhere in 2025-2027, or within two days of one of the zone's DST transitions."""
    near = TRANSITIONS[schedule.timezone]
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        return base + timedelta(minutes=draw(st.integers(-2 * 24 * 60, 2 * 24 * 60)))
    return LO + timedelta(minutes=draw(st.integers(0, int((HI - LO).total_seconds() // 60))))


durations = st.builds(Duration, days=st.integers(0, 12), seconds=st.integers(0, 40 * 3600).map(lambda s: s - s % 60))
short = st.builds(Duration, days=st.just(0), seconds=st.integers(0, 30 * 3600).map(lambda s: s - s % 60))

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def never_off(schedule: WorkSchedule, at: datetime) -> bool:
    """``at`` is working time, or exactly a working day's closing time (the end of working time)."""
    return schedule.is_working(at) or schedule.is_working(at - timedelta(microseconds=1))


@SETTINGS
@given(st.data())
def test_add_never_goes_back_and_never_lands_in_non_working_time(data):
    s = data.draw(schedules())
    t = data.draw(moments(s))
    d = data.draw(durations)
    r = s.add(t, d)
    assert r.tzinfo is not None and r.utcoffset() == timedelta(0)
    assert r >= t
    assert never_off(s, r), (s, t, d, r)
    working_at = r if s.is_working(r) else r - timedelta(microseconds=1)
    assert s.is_working_date(working_at.astimezone(s.tz).date()), "a holiday or a day off is never worked"


@SETTINGS
@given(st.data())
def test_add_is_monotone_in_start_and_in_duration(data):
    s = data.draw(schedules())
    t1, t2 = sorted([data.draw(moments(s)), data.draw(moments(s))])
    d1, d2 = sorted([data.draw(short), data.draw(short)])
    assert s.add(t1, d1) <= s.add(t2, d1)
    assert s.add(t1, d1) <= s.add(t1, d2)
    k1, k2 = sorted([data.draw(st.integers(0, 12)), data.draw(st.integers(0, 12))])
    assert s.add(t1, Duration(days=k1)) <= s.add(t1, Duration(days=k2))


@SETTINGS
@given(st.data())
def test_between_measures_what_add_added(data):
    s = data.draw(schedules())
    t = data.draw(moments(s))
    d = data.draw(short)
    assert s.between(t, s.add(t, d)) == timedelta(seconds=d.seconds)


@SETTINGS
@given(st.data())
def test_subtract_leaves_the_duration_is_monotone_and_lands_on_working_time(data):
    s = data.draw(schedules())
    e1, e2 = sorted([data.draw(moments(s)), data.draw(moments(s))])
    d = data.draw(st.builds(Duration, days=st.integers(0, 5), seconds=st.integers(1, 20 * 3600).map(lambda x: x - x % 60 + 60)))
    need = timedelta(seconds=d.days * s.day_length().total_seconds() + d.seconds)
    r = s.subtract(e1, d)
    assert r <= e1
    assert s.between(r, e1) >= need - timedelta(seconds=1), (s, e1, d, r)
    assert s.is_working(r), (s, e1, d, r)
    assert r <= s.subtract(e2, d)


@SETTINGS
@given(st.sampled_from(ZONES), st.dates(date(2025, 1, 1), date(2027, 12, 31)))
def test_end_of_date_is_the_last_second_of_that_local_day(zone, day):
    s = WorkSchedule(zone, range(5), time(9), time(17))
    end = s.end_of_date(day)
    local = end.astimezone(ZoneInfo(zone))
    assert end.utcoffset() == timedelta(0)
    assert (local.date(), local.time()) == (day, time(23, 59, 59))
