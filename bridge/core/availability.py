"""Who is away when, and what that does to a handoff: delegation or a deadline that waits.

Pure (no I/O). An ``Absence`` is one period a person (an identity, ``bridge.core.people``
``Directory.identity``: ``person:ann``, else ``<tool>:<id>``) is away: from ``start``
(inclusive) to ``end`` (exclusive: the return), both aware UTC, optionally with a
``delegate`` (another identity). Absences come from config (``[people.x] away = [{ from, to,
delegate }]``: dates in that person's time zone, from the start of ``from`` to the end of
``to``, :func:`absence_from_dates`) and from the command ``/hb away until DATE [delegate @who]``
(``rules.away``).

``Availability`` holds every absence by identity (``periods``, ``away_at``) and cuts one
handoff's life into **legs** (``route``):

- **delegated**: when the receiver's absence begins while the handoff waits (or it is handed
  during the absence), it goes to the delegate from that moment (``max(sent, absence start)``)
  for good; the delegate's deadline is computed in the delegate's business time from that
  moment. A delegate who is away then, or who would hand it back along a chain already
  visited, is no delegate: the deadline waits instead.
- **waiting**: with no (usable) delegate the receiver's deadline waits for the return: the
  business time left when the absence began (none when it was already overdue) resumes at
  the return; a handoff sent during the absence starts its clock at the return.

A leg is active from ``active_from`` (``None``: from the start) until ``active_until``
(``None``: for good). Nothing in a leg's active window is due to someone away: a waiting leg's
deadline is at or after the return, a delegated leg belongs to someone present.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from bridge.core.businesstime import Duration, WorkSchedule

__all__ = ["Absence", "Availability", "Leg", "absence_from_dates", "last_day"]

_UTC = timezone.utc
#: Longest chain of delegations followed for one handoff (ann → cleo → dan …).
MAX_CHAIN = 5


@dataclass(frozen=True)
class Absence:
    """One period ``identity`` is away: ``[start, end)``, aware UTC; ``end`` is the return.

    ``delegate``: the identity handoffs go to meanwhile, or ``None`` (deadlines wait).
    ``source``: ``"config"`` or the id of the command event that set it. ``tz``: the away
    person's IANA zone, for wording (``last_day``).
    """

    identity: str
    start: datetime
    end: datetime
    delegate: str | None = None
    source: str = "config"
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("an absence's start and end must be timezone-aware")
        if not self.start < self.end:
            raise ValueError(f"an absence must end after it starts (got {self.start} to {self.end})")

    def covers(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) lies inside ``[start, end)``."""
        return self.start <= moment < self.end

    @property
    def last_day(self) -> date:
        """The last local calendar day away (the day before the return, in ``tz``)."""
        return last_day(self.end, self.tz)


def last_day(end: datetime, tz: str) -> date:
    """The local date (zone ``tz``) of the last moment before ``end``: ``to`` of a config absence."""
    return (end - timedelta(microseconds=1)).astimezone(ZoneInfo(tz)).date()


def absence_from_dates(identity: str, first: date, last: date, tz: str, *, delegate: str | None = None,
                       source: str = "config") -> Absence:
    """The absence from the start of ``first`` to the end of ``last``, local dates in ``tz``.

    Raises:
        ValueError: ``last`` is before ``first``.
    """
    if last < first:
        raise ValueError(f"the absence ends ({last}) before it begins ({first})")
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), zone).astimezone(_UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(_UTC)
    return Absence(identity, start, end, delegate, source, tz)


@dataclass(frozen=True)
class Leg:
    """One part of a handoff's life: who holds it, by when, while which absence lasts.

    ``holder``: identity; ``deadline``: aware UTC; ``active_from``/``active_until``: the window
    (``None``: open-ended); ``absence``: the absence that made this leg (a delegated leg: the
    previous holder's; a waiting leg: the holder's own), ``None`` for an untouched one;
    ``delegated_from``: the identity it was delegated from (``None`` unless delegated).
    """

    holder: str
    deadline: datetime
    active_from: datetime | None = None
    active_until: datetime | None = None
    absence: Absence | None = None
    delegated_from: str | None = None


class Availability:
    """Every absence, by identity. Build once per evaluation; empty is cheap and changes nothing.

    Args:
        absences: any order; overlapping periods of one identity are kept as given (the first
            that starts wins where they overlap).
    """

    def __init__(self, absences: Iterable[Absence] = ()):
        by: dict[str, list[Absence]] = {}
        for a in absences:
            by.setdefault(a.identity, []).append(a)
        self._by = {k: sorted(v, key=lambda a: (a.start, a.end)) for k, v in by.items()}
        self._starts = {k: [a.start for a in v] for k, v in self._by.items()}

    def __bool__(self) -> bool:
        return bool(self._by)

    def identities(self) -> set[str]:
        """Identities with at least one absence."""
        return set(self._by)

    def periods(self, identity: str | None) -> tuple[Absence, ...]:
        """``identity``'s absences, oldest first (``()`` when none or ``None``)."""
        return tuple(self._by.get(identity or "", ()))

    def away_at(self, identity: str | None, moment: datetime) -> Absence | None:
        """The absence of ``identity`` covering ``moment`` (aware), else ``None``."""
        periods = self._by.get(identity or "")
        if not periods:
            return None
        i = bisect_right(self._starts[identity], moment)
        for a in reversed(periods[:i]):
            if a.covers(moment):
                return a
        return None

    def _next(self, identity: str, after: datetime) -> Absence | None:
        """The first absence of ``identity`` that has not ended by ``after``."""
        for a in self._by.get(identity, ()):
            if a.end > after:
                return a
        return None

    def route(self, holder: str, starts: datetime, deadline: datetime, *,
              schedule_for: Callable[[str], WorkSchedule],
              deadline_for: Callable[[str, datetime], datetime],
              can_hold: Callable[[str], bool] = lambda identity: True) -> tuple[Leg, ...]:
        """Cut a handoff to ``holder`` into legs (see the module docstring).

        Args:
            holder: the receiver's identity.
            starts: when the receiver's clock starts (aware; the send, or when it was complete).
            deadline: the receiver's deadline without absences (aware UTC).
            schedule_for: identity → working schedule (business time left, the return).
            deadline_for: ``(identity, moment) -> deadline`` of a delegate handed it at ``moment``.
            can_hold: whether an identity can be handed the item (a delegate with no account
                in the item's tool cannot: the deadline waits instead).

        Returns:
            One leg (the handoff untouched, ``absence`` ``None``) when no absence of the
            holder touches it; else the legs in time order.
        """
        if holder not in self._by:
            return (Leg(holder, deadline),)
        legs: list[Leg] = []
        chain = {holder}
        current = Leg(holder, deadline)
        t = starts
        for _ in range(64):  # bounded: each turn passes one absence or one delegation
            away = self._next(current.holder, t)
            if away is None:
                break
            begins = max(away.start, t)
            delegate = away.delegate
            usable = (delegate is not None and delegate not in chain and len(chain) < MAX_CHAIN
                      and can_hold(delegate) and self.away_at(delegate, begins) is None)
            if usable:
                if begins > (current.active_from or starts):
                    legs.append(_until(current, begins))
                chain.add(delegate)
                current = Leg(delegate, deadline_for(delegate, begins), begins, None, away, current.holder)
                t = begins
                continue
            schedule = schedule_for(current.holder)
            left = schedule.between(begins, current.deadline) if current.deadline > begins else timedelta(0)
            resumed = schedule.add(away.end, Duration(seconds=int(left.total_seconds())))
            if begins > (current.active_from or starts):
                legs.append(_until(current, begins))
            current = Leg(current.holder, max(resumed, away.end), begins, None, away, current.delegated_from)
            t = away.end
        legs.append(current)
        return tuple(legs)


def _until(leg: Leg, moment: datetime) -> Leg:
    return Leg(leg.holder, leg.deadline, leg.active_from, moment, leg.absence, leg.delegated_from)
