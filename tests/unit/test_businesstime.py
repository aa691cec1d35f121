"""Business-time arithmetic: durations, working hours, holidays, DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.core.businesstime import Duration, WorkSchedule, parse_holidays_code

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = 3600


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def office(tz: str = "Europe/Berlin", holidays: str | None = None) -> WorkSchedule:
    return WorkSchedule(tz, range(5), time(9), time(17), holidays)


# -- Duration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, days, seconds, canonical",
    [
        ("90s", 0, 90, "1m30s"),
        ("30m", 0, 1800, "30m"),
        ("4h", 0, 4 * H, "4h"),
        ("2d", 2, 0, "2d"),
        ("1d4h", 1, 4 * H, "1d4h"),
        ("0h", 0, 0, "0h"),
        ("1h30m15s", 0, 5415, "1h30m15s"),
        ("36h", 0, 36 * H, "36h"),
    ],
)
def test_duration_parse_and_str(text, days, seconds, canonical):
    d = Duration.parse(text)
    assert (d.days, d.seconds) == (days, seconds)
    assert str(d) == canonical
    assert Duration.parse(str(d)) == d


@pytest.mark.parametrize("bad", ["4x", "", "-1h", "h", "4h1d", "1.5h", " 4h", "4 h", "4H"])
def test_duration_rejects(bad):
    with pytest.raises(ValueError, match="not a duration"):
        Duration.parse(bad)


def test_duration_wall_and_order():
    assert Duration.parse("1d4h").wall() == timedelta(hours=28)
    assert Duration() == Duration.parse("0h")
    assert Duration.parse("16h") < Duration.parse("1d")
    with pytest.raises(ValueError):
        Duration(seconds=-1)


# -- construction --------------------------------------------------------------------------------


def test_schedule_validation():
    with pytest.raises(ValueError, match="start before"):
        WorkSchedule("UTC", range(5), time(17), time(9))
    with pytest.raises(ValueError, match="start before"):
        WorkSchedule("UTC", range(5), time(9), time(9))
    with pytest.raises(ValueError, match="time zone"):
        WorkSchedule("Mars/Olympus", range(5), time(9), time(17))
    with pytest.raises(ValueError, match="working days"):
        WorkSchedule("UTC", [], time(9), time(17))
    with pytest.raises(ValueError, match="country"):
        WorkSchedule("UTC", range(5), time(9), time(17), "XX")
    with pytest.raises(ValueError, match="subdivision"):
        WorkSchedule("UTC", range(5), time(9), time(17), "DE-ZZ")
    assert parse_holidays_code("de-by") == ("DE", "BY")
    assert office().day_length() == timedelta(hours=8)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        office().add(datetime(2026, 11, 20, 10), Duration(seconds=H))


# -- the documented cases ------------------------------------------------------------------------


def test_friday_afternoon_runs_into_monday():
    due = office().add(berlin(2026, 11, 20, 16), Duration.parse("4h"))  # Fri 16:00
    assert due == berlin(2026, 11, 23, 12)  # Mon 12:00
    assert due.tzinfo is UTC


def test_start_outside_hours_counts_from_next_opening():
    s = office()
    assert s.add(berlin(2026, 11, 17, 6, 30), Duration.parse("1h")) == berlin(2026, 11, 17, 10)  # Tue early
    assert s.add(berlin(2026, 11, 17, 20), Duration.parse("1h")) == berlin(2026, 11, 18, 10)  # Tue evening
    assert s.add(berlin(2026, 11, 21, 12), Duration.parse("1h")) == berlin(2026, 11, 23, 10)  # Saturday


def test_zero_duration_is_next_opening():
    s = office()
    assert s.add(berlin(2026, 11, 21, 12), Duration()) == berlin(2026, 11, 23, 9)
    assert s.add(berlin(2026, 11, 20, 17), Duration()) == berlin(2026, 11, 23, 9)  # closing time is not working
    assert s.add(berlin(2026, 11, 20, 12, 5), Duration()) == berlin(2026, 11, 20, 12, 5)


def test_exact_end_of_day_lands_on_closing_time():
    assert office().add(berlin(2026, 11, 20, 16), Duration.parse("1h")) == berlin(2026, 11, 20, 17)


def test_holiday_is_skipped():
    s = office(holidays="DE")
    # Thu 2026-12-24 16:00 + 4h: 1h on Thursday, Fri 25th and Sat 26th off, 3h on Monday 28th.
    assert s.add(berlin(2026, 12, 24, 16), Duration.parse("4h")) == berlin(2026, 12, 28, 12)
    assert not s.is_working(berlin(2026, 12, 25, 10))
    assert office().is_working(berlin(2026, 12, 25, 10))  # no holidays configured


def test_subdivision_holidays():
    bavaria, berlin_state = office(holidays="DE-BY"), office(holidays="DE-BE")
    epiphany = berlin(2026, 1, 6, 10)  # Tuesday; a holiday in Bavaria only
    assert not bavaria.is_working(epiphany)
    assert berlin_state.is_working(epiphany)


def test_whole_days_keep_the_clock_time():
    s = office()
    assert s.add(berlin(2026, 11, 17, 10), Duration.parse("1d")) == berlin(2026, 11, 18, 10)  # Tue -> Wed
    assert s.add(berlin(2026, 11, 20, 10), Duration.parse("1d")) == berlin(2026, 11, 23, 10)  # Fri -> Mon
    assert s.add(berlin(2026, 11, 20, 16), Duration.parse("1d4h")) == berlin(2026, 11, 24, 12)
    assert s.add(berlin(2026, 11, 21, 12), Duration.parse("1d")) == berlin(2026, 11, 24, 9)  # Sat: from Mon 09:00


def test_days_cross_the_year_and_holidays():
    s = office(holidays="DE")
    # Wed 2026-12-30 10:00 + 3d: Thu 31, (Fri Jan 1 holiday), Mon Jan 4, Tue Jan 5.
    assert s.add(berlin(2026, 12, 30, 10), Duration.parse("3d")) == berlin(2027, 1, 5, 10)
    assert s.between(berlin(2026, 12, 30, 10), berlin(2027, 1, 5, 10)) == timedelta(hours=24)


def test_dst_spring_forward_keeps_local_hours():
    s = office()
    # Europe/Berlin switches to CEST on Sunday 2026-03-29.
    due = s.add(berlin(2026, 3, 27, 16), Duration.parse("4h"))
    assert due == berlin(2026, 3, 30, 12)
    assert due.astimezone(UTC).hour == 10  # 12:00 CEST
    assert s.add(berlin(2026, 3, 27, 10), Duration.parse("1d")) == berlin(2026, 3, 30, 10)
    assert s.between(berlin(2026, 3, 27, 9), berlin(2026, 3, 30, 17)) == timedelta(hours=16)


def test_dst_fall_back_keeps_local_hours_new_york():
    s = office("America/New_York")
    start = datetime(2026, 10, 30, 15, tzinfo=NEW_YORK)  # Friday; DST ends Sunday 2026-11-01
    due = s.add(start, Duration.parse("4h"))
    assert due == datetime(2026, 11, 2, 11, tzinfo=NEW_YORK)
    assert due.astimezone(UTC).hour == 16  # EST = UTC-5
    assert s.is_working(datetime(2026, 11, 2, 9, tzinfo=NEW_YORK))
    assert not s.is_working(datetime(2026, 11, 2, 8, 59, tzinfo=NEW_YORK))


def test_any_input_zone_is_accepted():
    s = office()
    assert s.add(datetime(2026, 11, 20, 15, tzinfo=UTC), Duration.parse("4h")) == berlin(2026, 11, 23, 12)
    assert s.next_working_moment(datetime(2026, 11, 20, 18, tzinfo=UTC)) == berlin(2026, 11, 23, 9)


def test_between_basics():
    s = office()
    assert s.between(berlin(2026, 11, 20, 16), berlin(2026, 11, 23, 12)) == timedelta(hours=4)
    assert s.between(berlin(2026, 11, 23, 12), berlin(2026, 11, 20, 16)) == timedelta(0)
    assert s.between(berlin(2026, 11, 21, 0), berlin(2026, 11, 22, 23)) == timedelta(0)  # weekend
    assert s.between(berlin(2026, 1, 1, 0), berlin(2027, 1, 1, 0)) == timedelta(hours=8 * 261)


def test_custom_week_and_hours():
    s = WorkSchedule("Asia/Dubai", [0, 1, 2, 3, 6], time(8), time(15, 30))  # Sun-Thu
    start = datetime(2026, 11, 19, 14, tzinfo=ZoneInfo("Asia/Dubai"))  # Thursday
    assert s.add(start, Duration.parse("2h")) == datetime(2026, 11, 22, 8, 30, tzinfo=ZoneInfo("Asia/Dubai"))
    assert s.day_length() == timedelta(hours=7, minutes=30)


# -- properties over many starts ------------------------------------------------------------------


def _starts():
    base = datetime(2026, 3, 20, 0, 7, tzinfo=UTC)  # spans the Berlin and New York DST changes
    for k in range(0, 400):
        yield base + timedelta(minutes=97 * k + (k % 7) * 13)


def _within_a_working_day(s: WorkSchedule, at: datetime) -> bool:
    local = at.astimezone(s.tz)
    return s.is_working(at) or (local.time() == s.end and s.is_working_date(local.date()))


@pytest.mark.parametrize("tz, holidays", [("Europe/Berlin", "DE"), ("America/New_York", "US"), ("UTC", None)])
def test_add_lands_in_working_time_and_between_inverts_it(tz, holidays):
    s = office(tz, holidays)
    durations = [0, 1, 59, 3600, 4 * H, 8 * H - 1, 8 * H, 8 * H + 1, 17 * H + 123, 5 * 8 * H + 7, 30 * 8 * H]
    for start in _starts():
        for seconds in durations:
            due = s.add(start, Duration(seconds=seconds))
            assert due.tzinfo is UTC
            assert due >= start
            assert _within_a_working_day(s, due), (start, seconds, due)
            assert s.between(start, due) == timedelta(seconds=seconds), (start, seconds, due)
        for days in (1, 2, 5, 11):
            due = s.add(start, Duration(days=days))
            assert s.is_working(due), (start, days, due)
            opening = s.next_working_moment(start)
            assert due.astimezone(s.tz).time() == opening.astimezone(s.tz).time()


def test_next_working_moment_is_idempotent_and_working():
    s = office("Europe/Berlin", "DE")
    for start in _starts():
        moment = s.next_working_moment(start)
        assert s.is_working(moment)
        assert moment >= start
        assert s.next_working_moment(moment) == moment
        assert s.between(start, moment) == timedelta(0)


def test_between_is_additive():
    s = office("America/New_York", "US")
    starts = list(_starts())
    for a, b, c in zip(starts, starts[50:], starts[120:]):
        assert s.between(a, c) == s.between(a, b) + s.between(b, c)
