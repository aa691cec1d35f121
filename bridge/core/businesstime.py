"""Deadlines in the receiver's business time: time zone, working days and hours, holidays.

Two kinds of time appear in handoff-bridge (DESIGN.md "Rules"):

- **business time**: only the moments inside a person's working hours count. ``"4h"`` handed
  over on Friday 16:00 (hours 09:00-17:00, Mon-Fri) is due Monday 12:00. A ``Duration``'s
  ``days`` are *working days* of the schedule: ``"1d"`` from Tuesday 10:00 is Wednesday 10:00,
  from Friday 10:00 it is Monday 10:00.
- **wall-clock time**: poll intervals, timeouts; ``Duration.wall()`` counts a day as 24 h.

Working hours are local wall-clock hours: a DST change moves them in UTC, never locally
(09:00 stays 09:00). Every datetime returned here is timezone-aware UTC; every datetime
accepted must be aware (any zone).

Implementation: per local calendar year the schedule lists its working intervals as integer
UTC microseconds with a running total, so ``add`` and ``between`` are a few bisections
whatever the duration, and holiday lookups happen once per year.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

__all__ = ["Duration", "WorkSchedule", "parse_holidays_code"]

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
#: The same syntax as a JSON Schema / ECMA-262 pattern (non-empty, units in d h m s order).
DURATION_PATTERN = r"^(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_US = 1_000_000
_MAX_EMPTY_YEARS = 5


@dataclass(frozen=True, order=True)
class Duration:
    """A length of time written ``"90s"``, ``"30m"``, ``"4h"``, ``"2d"``, ``"1d4h"`` or ``"0h"``.

    ``days`` are working days in business contexts (``WorkSchedule.add``) and 24-hour days in
    wall-clock contexts (``wall()``); ``seconds`` are seconds of business or wall time.
    Ordering is by ``(days, seconds)``.
    """

    days: int = 0
    seconds: int = 0

    def __post_init__(self) -> None:
        if self.days < 0 or self.seconds < 0:
            raise ValueError(f"a duration cannot be negative (got days={self.days}, seconds={self.seconds})")

    @classmethod
    def parse(cls, text: str) -> "Duration":
        """Parse ``"1d4h"``-style text: units ``d h m s`` in that order, each at most once.

        Raises:
            ValueError: empty, negative, unknown unit or a unit without a number
                (``""``, ``"-1h"``, ``"4x"``, ``"h"``).
        """
        if not isinstance(text, str):
            raise ValueError(f"not a duration, expected text such as 30m, 4h, 2d (got {text!r})")
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            raise ValueError(f"not a duration, expected e.g. 30m, 4h, 2d or 1d4h (got {text!r})")
        d, h, m, s = (int(g) if g else 0 for g in match.groups())
        return cls(days=d, seconds=h * 3600 + m * 60 + s)

    def wall(self) -> timedelta:
        """Return the wall-clock length: ``days`` × 24 h + ``seconds``."""
        return timedelta(days=self.days, seconds=self.seconds)

    def __str__(self) -> str:
        parts = [f"{self.days}d"] if self.days else []
        h, rest = divmod(self.seconds, 3600)
        m, s = divmod(rest, 60)
        parts += [f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v]
        return "".join(parts) or "0h"


def parse_holidays_code(code: str) -> tuple[str, str | None]:
    """Split and check a holidays code: ``"US"`` → ``("US", None)``, ``"DE-BY"`` → ``("DE", "BY")``.

    Raises:
        ValueError: the ``holidays`` library knows no such country or subdivision.
    """
    import holidays as _holidays

    if not isinstance(code, str) or not code:
        raise ValueError("expected a country code such as US or DE-BY")
    country, _, subdiv = code.partition("-")
    supported = _holidays.list_supported_countries()
    key = country.upper()
    if key not in supported:
        raise ValueError(f"unknown holidays country {country!r}, expected an ISO code such as US, DE, GB")
    if not subdiv:
        return key, None
    by_upper = {s.upper(): s for s in supported[key]}
    if subdiv.upper() not in by_upper:
        sample = ", ".join(supported[key][:12]) or "none"
        raise ValueError(f"unknown subdivision {subdiv!r} of {key}, known: {sample}")
    return key, by_upper[subdiv.upper()]


class _Year:
    """Working intervals of one local calendar year, as UTC microseconds."""

    __slots__ = ("dates", "opens", "closes", "cum", "ends", "total")

    def __init__(self, dates: list[date], opens: list[int], closes: list[int]):
        self.dates = dates
        self.opens = opens
        self.closes = closes
        cum, ends, total = [], [], 0
        for o, c in zip(opens, closes):
            cum.append(total)
            total += c - o
            ends.append(total)
        self.cum = cum  # working µs of this year before interval i
        self.ends = ends  # working µs of this year up to the end of interval i
        self.total = total


def _us(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class WorkSchedule:
    """One person's working time: time zone, working days, daily hours and public holidays.

    ``working_days``: 0 = Monday … 6 = Sunday. ``start``/``end``: local wall-clock hours of each
    working day, ``start < end`` (no shift across midnight). ``holidays``: ``"US"``, ``"DE"``,
    ``"DE-BY"`` (country-subdivision, via ``holidays.country_holidays``) or ``None``.
    A working day is ``[start, end)``: ``end`` itself is not working time.

    Raises:
        ValueError: unknown time zone or holidays code, empty working days, ``start >= end``.
    """

    def __init__(
        self,
        timezone: str,
        working_days: Iterable[int],
        start: time,
        end: time,
        holidays: str | None = None,
    ):
        try:
            self.tz = ZoneInfo(timezone)
        except (ValueError, LookupError, OSError) as exc:  # ZoneInfoNotFoundError is a LookupError
            raise ValueError(f"unknown time zone {timezone!r}") from exc
        days = frozenset(working_days)
        if not days or not days <= set(range(7)):
            raise ValueError(f"working days must be a non-empty subset of 0..6 (got {sorted(days)})")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("working hours are local wall-clock times without tzinfo")
        if not start < end:
            raise ValueError(f"working hours must start before they end, on the same day (got {start}-{end})")
        self.timezone = timezone
        self.working_days = days
        self.start = start
        self.end = end
        self.holidays = holidays
        self._holiday_key = parse_holidays_code(holidays) if holidays else None
        self._years: dict[int, _Year] = {}

    def __repr__(self) -> str:
        days = ",".join(str(d) for d in sorted(self.working_days))
        return (
            f"WorkSchedule({self.timezone!r}, days={days}, "
            f"{self.start:%H:%M}-{self.end:%H:%M}, holidays={self.holidays!r})"
        )

    # -- calendar ---------------------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        off: set[date] = set()
        if self._holiday_key is not None:
            import holidays as _holidays

            country, subdiv = self._holiday_key
            off = set(_holidays.country_holidays(country, subdiv=subdiv, years=year).keys())
        dates, opens, closes = [], [], []
        day = date(year, 1, 1)
        one = timedelta(days=1)
        while day.year == year:
            if day.weekday() in self.working_days and day not in off:
                o = _us(datetime.combine(day, self.start, self.tz))
                c = _us(datetime.combine(day, self.end, self.tz))
                if c > o:  # hours swallowed by a DST gap leave nothing to work
                    dates.append(day)
                    opens.append(o)
                    closes.append(c)
            day += one
        built = _Year(dates, opens, closes)
        if len(self._years) > 64:  # keep memory bounded for very long-running processes
            self._years.clear()
        self._years[year] = built
        return built

    def _check(self, at: datetime) -> int:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime (got naive {at.isoformat()})")
        return _us(at)

    def _locate(self, t: int, year: int) -> tuple[int, int, int]:
        """Return ``(year, index, moment)`` of the first working moment at or after ``t``."""
        for y in range(year, year + _MAX_EMPTY_YEARS + 1):
            cal = self._year(y)
            i = bisect_right(cal.closes, t)
            if i < len(cal.closes):
                return y, i, max(t, cal.opens[i])
        raise ValueError(f"{self!r} has no working time in {_MAX_EMPTY_YEARS} years after {_dt(t).isoformat()}")

    def _local_year(self, at: datetime) -> int:
        return at.astimezone(self.tz).year

    # -- public API ---------------------------------------------------------------------------

    def day_length(self) -> timedelta:
        """Return the nominal length of one working day (``end - start``, local wall clock)."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    def is_working_date(self, day: date) -> bool:
        """Return whether ``day`` (a local calendar date) is a working day: weekday and no holiday."""
        cal = self._year(day.year)
        i = bisect_left(cal.dates, day)
        return i < len(cal.dates) and cal.dates[i] == day

    def end_of_date(self, day: date) -> datetime:
        """Return the last second of the local calendar date ``day`` (23:59:59 in this schedule's
        time zone) as aware UTC: what a due date without a time means for this person."""
        return datetime.combine(day, time(23, 59, 59), self.tz).astimezone(_UTC)

    def is_working(self, at: datetime) -> bool:
        """Return whether the aware datetime ``at`` falls inside working hours (``[start, end)``).

        Raises:
            ValueError: ``at`` is naive.
        """
        t = self._check(at)
        cal = self._year(self._local_year(at))
        i = bisect_right(cal.opens, t) - 1
        return i >= 0 and t < cal.closes[i]

    def next_working_moment(self, at: datetime) -> datetime:
        """Return ``at`` itself (as UTC) if it is working time, else the next opening (aware UTC).

        Raises:
            ValueError: ``at`` is naive.
        """
        t = self._check(at)
        return _dt(self._locate(t, self._local_year(at))[2])

    def add(self, start: datetime, duration: Duration) -> datetime:
        """Return the moment ``duration`` of business time after ``start`` (aware UTC).

        Counting begins at ``next_working_moment(start)``. First ``duration.days`` whole working
        days are skipped, keeping the local clock time (Tue 10:00 + 1d = Wed 10:00, Fri 10:00 +
        1d = Mon 10:00); then ``duration.seconds`` of working time are consumed. A deadline that
        uses up a day exactly lands on that day's closing time (Fri 16:00 + 1h = Fri 17:00);
        ``add(t, Duration())`` is ``next_working_moment(t)``.

        Raises:
            ValueError: ``start`` is naive.
        """
        t = self._check(start)
        year, i, t = self._locate(t, self._local_year(start))
        if duration.days:
            cal = self._year(year)
            clock = _dt(t).astimezone(self.tz).time()
            target = i + duration.days
            while target >= len(cal.dates):
                target -= len(cal.dates)
                year += 1
                cal = self._year(year)
            day = cal.dates[target]
            t = _us(datetime.combine(day, clock, self.tz))
            year, i, t = self._locate(t, year)
        remaining = duration.seconds * _US
        if not remaining:
            return _dt(t)
        cal = self._year(year)
        goal = cal.cum[i] + (t - cal.opens[i]) + remaining  # working µs since this year's start
        for _ in range(10_000):
            if goal <= cal.total:
                j = bisect_left(cal.ends, goal)  # first interval whose end reaches the goal
                return _dt(cal.opens[j] + goal - cal.cum[j])
            goal -= cal.total
            year += 1
            cal = self._year(year)
            if not cal.total:
                self._locate(_us(datetime(year, 1, 1, tzinfo=self.tz)), year)  # raises if empty for years
        raise ValueError(f"duration {duration} is too long to add")

    def subtract(self, end: datetime, duration: Duration) -> datetime:
        """Return the latest moment from which ``duration`` of business time remains until ``end``.

        Used for "leave 2d before the due date": ``between(result, end) == duration`` (to the
        second), where a day of ``duration`` counts one working day's length. Aware UTC.

        Raises:
            ValueError: ``end`` is naive.
        """
        self._check(end)
        need = timedelta(seconds=duration.days * self.day_length().total_seconds() + duration.seconds)
        if need <= timedelta(0):
            return end.astimezone(timezone.utc)
        lo = end - need
        for _ in range(200):
            if self.between(lo, end) >= need:
                break
            lo -= timedelta(days=7)
        else:
            raise ValueError(f"duration {duration} is too long to subtract")
        hi = end
        while (hi - lo) > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if self.between(mid, end) >= need:
                lo = mid
            else:
                hi = mid
        # Every moment of the closed gap before an opening leaves the same time: take the opening.
        return self.next_working_moment(hi.astimezone(timezone.utc).replace(microsecond=0))

    def _worked_until(self, t: int, year: int) -> int:
        """Working µs of local year ``year`` before the instant ``t``."""
        cal = self._year(year)
        i = bisect_right(cal.opens, t) - 1
        if i < 0:
            return 0
        return cal.cum[i] + min(t, cal.closes[i]) - cal.opens[i]

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Return the working time elapsed from ``a`` to ``b`` (business time; zero if ``b <= a``).

        Raises:
            ValueError: ``a`` or ``b`` is naive.
        """
        ta, tb = self._check(a), self._check(b)
        if tb <= ta:
            return timedelta(0)
        ya, yb = self._local_year(a), self._local_year(b)
        total = self._worked_until(tb, yb) - self._worked_until(ta, ya)
        for y in range(ya, yb):
            total += self._year(y).total
        return timedelta(microseconds=total)
