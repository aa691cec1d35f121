"""Handoff delay per lane and week, and the change before/after a date: pure arithmetic, no I/O.

Vocabulary (DESIGN.md): a **handoff**'s delay is sent → received (acknowledged), measured in
the receiver's business hours (their ``WorkSchedule``: time zone, working days and hours,
holidays) and in wall-clock hours. A handoff still open (``sent`` or ``overdue``) at ``now``
is **censored** at ``now``: it enters the figures with its delay so far (a lower bound), never
dropped, and ``open_share`` says how many such lower bounds a figure holds. A handoff that
ended without being received (``withdrawn``, ``rehanded``, ``closed``) has no delay; it is
counted in ``ended_unreceived`` only.

A **lane** is what handoffs cross: ``team`` (sender's team → receiver's team, ``[people.*]
team``; ``?`` when unset), ``person`` (sender → receiver), ``rule``, ``status`` (the status
pair of the move that sent it, ``"In Review → Ready for QA"``; only handoffs sent by a
status move) and ``all``; each per tool (``github``, ``jira``, ``asana``) and across tools
(``tool = "all"``). Person pairs with fewer than ``MIN_PERSON_PAIR`` handoffs share one
lane, ``other pairs``.

Statistics (chosen so a reader can redo them by hand):

- ``median``: ``statistics.median`` (the mean of the two middle values for an even count).
- ``p90``: nearest rank, the ``ceil(0.9 · n)``-th smallest value.
- ``nudged_share``: of the received handoffs, the share whose first nudge (the first outbox
  row of its finding that was sent) went out before it was received.
- ``nudge_to_ack_median``: median business hours from that nudge to the acknowledgement.
- ``open_share``: open (censored) handoffs / ``count``.
- weeks are ISO weeks (Monday start) of ``sent_at`` in the report's time zone.

Before/after (:func:`compare`): per lane, the change of the median business-hours delay
from the ``before`` window to the ``after`` window, with a percentile bootstrap 95 %
confidence interval (``BOOTSTRAP_RESAMPLES`` resamples of each side, ``random.Random(seed)``:
the same data and seed give the same interval). Below ``MIN_PER_SIDE`` handoffs on either side
the verdict is ``too few handoffs to tell`` and no interval is given.
"""

from __future__ import annotations

import math
import operator
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Iterator, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from bridge.core.businesstime import WorkSchedule
from bridge.core.delay import EndedDelay, business_hours, measure_ended, wall_hours

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "LANE_KINDS",
    "MIN_PERSON_PAIR",
    "MIN_PER_SIDE",
    "OTHER_PAIRS",
    "Comparison",
    "HandoffFact",
    "LaneFigures",
    "StandoffFact",
    "StandoffWeek",
    "compare",
    "delays",
    "lane_namer",
    "lanes_of",
    "lane_figures",
    "measure",
    "measure_and_compare",
    "p90",
    "resampled_median",
    "standoff_weeks",
    "week_of",
]

LANE_KINDS = ("all", "team", "person", "rule", "status")
ALL = "all"
UNKNOWN_TEAM = "?"
#: Fewest handoffs on each side of a comparison for a verdict.
MIN_PER_SIDE = 5
BOOTSTRAP_RESAMPLES = 2000
DEFAULT_SEED = 15
#: The claim under test (issue 15): at least this relative drop of the median.
CLAIMED_DROP = 0.20
PENDING_STATES = frozenset({"sent", "overdue"})
RECEIVED = "received"


class HandoffFact(NamedTuple):
    """One handoff as the report reads it (from ``handoffs``, ``outbox`` and ``events``).

    A named tuple: immutable, and a report builds one per stored handoff (100,000 on the
    engine bench's store), which ``collect`` makes at C speed (``tuple.__new__`` on the
    fields in order) where a slotted dataclass's ``__init__`` cost a tenth of the report.

    Times are aware UTC. ``sender``/``receiver``: display names (person, else account id);
    ``sender_team``/``receiver_team``: ``[people.*] team`` or ``None``. ``status_pair``:
    ``(from, to)`` of the status move that sent it, else ``None``. ``nudged_at``: when its
    first nudge was sent (``None``: never). ``schedule``: the receiver's working time.
    """

    key: str
    rule: str
    tool: str
    item: str
    sender: str
    receiver: str
    sender_team: str | None
    receiver_team: str | None
    status_pair: tuple[str, str] | None
    sent_at: datetime
    state: str
    ended_at: datetime | None
    nudged_at: datetime | None
    schedule: WorkSchedule
    #: Its figures as stored when it ended (``handoffs`` columns, ``bridge.core.delay``);
    #: ``None``: computed here (open handoffs, rows not measured yet).
    measured: EndedDelay | None = None

    @property
    def received(self) -> bool:
        return self.state == RECEIVED

    @property
    def open(self) -> bool:
        return self.state in PENDING_STATES

    def end(self, now: datetime) -> datetime | None:
        """When its delay stops counting: received at, ``now`` while open, ``None`` otherwise."""
        if self.received:
            return self.ended_at
        if self.open:
            return max(now, self.sent_at)
        return None

    def business_hours(self, now: datetime) -> float | None:
        """Delay in the receiver's business hours (``None``: ended without being received)."""
        if self.measured is not None and not self.open:
            return self.measured.business_hours
        end = self.end(now)
        return None if end is None else business_hours(self.schedule, self.sent_at, end)

    def wall_hours(self, now: datetime) -> float | None:
        """Delay in wall-clock hours (``None``: ended without being received)."""
        if self.measured is not None and not self.open:
            return self.measured.wall_hours
        end = self.end(now)
        return None if end is None else wall_hours(self.sent_at, end)

    def nudge_to_ack_hours(self) -> float | None:
        """Business hours from the first nudge to the acknowledgement, when received after a nudge."""
        if self.measured is not None and not self.open:
            return self.measured.nudge_to_ack_hours
        if not self.received:
            return None
        return measure_ended(self.schedule, self.state, self.sent_at, self.ended_at, self.nudged_at).nudge_to_ack_hours

    def figures(self, now: datetime) -> tuple:
        """``(business hours, wall-clock hours, nudge → ack business hours, how it ended)`` at
        ``now`` (see :func:`delays`), from the stored figures when it has them."""
        m = self.measured
        state = self.state
        if state in PENDING_STATES:
            end = max(now, self.sent_at)
            return business_hours(self.schedule, self.sent_at, end), wall_hours(self.sent_at, end), None, _OPEN
        how = _RECEIVED if state == RECEIVED else _UNRECEIVED
        if m is None:
            m = measure_ended(self.schedule, state, self.sent_at, self.ended_at, self.nudged_at)
        return m.business_hours, m.wall_hours, m.nudge_to_ack_hours, how


@dataclass(frozen=True)
class StandoffFact:
    """One standoff finding: ``opened_at`` (the cycle stood), ``broken_at`` (resolved; ``None``: open)."""

    key: str
    rule: str
    item: str
    opened_at: datetime
    broken_at: datetime | None


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: the ``ceil(0.9 n)``-th smallest (``None`` when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def week_of(at: datetime, tz: ZoneInfo) -> date:
    """The Monday (a local date in ``tz``) of the ISO week holding ``at``."""
    local = at.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def lanes_of(h: HandoffFact) -> list[tuple[str, str, str]]:
    """Every lane ``(kind, name, tool)`` ``h`` crosses: each kind per tool and across tools."""
    names = [
        (ALL, ALL),
        ("team", f"{h.sender_team or UNKNOWN_TEAM} → {h.receiver_team or UNKNOWN_TEAM}"),
        ("person", f"{h.sender} → {h.receiver}"),
        ("rule", h.rule),
    ]
    if h.status_pair is not None:
        names.append(("status", f"{h.status_pair[0]} → {h.status_pair[1]}"))
    return [(kind, name, tool) for kind, name in names for tool in (h.tool, ALL)]


#: A person pair with fewer handoffs than this (per tool, or across tools) is pooled into one
#: ``other pairs`` lane: one or two handoffs give no median worth a row, and an organisation of
#: 2,000 people has as many pairs as handoffs.
MIN_PERSON_PAIR = 5
OTHER_PAIRS = f"other pairs (fewer than {MIN_PERSON_PAIR} handoffs each)"


def lane_namer(handoffs: Iterable[HandoffFact], min_pair: int = MIN_PERSON_PAIR):
    """A function ``h → lanes_of(h)`` with person pairs of fewer than ``min_pair`` handoffs in
    ``handoffs`` (per tool, and across tools) renamed :data:`OTHER_PAIRS`."""
    counts: dict[tuple[str, str, str], int] = {}
    memo: dict[str, list[tuple[str, str, str]]] = {}
    for h in handoffs:
        lanes = memo[h.key] = lanes_of(h)
        for lane in lanes:
            if lane[0] == "person":
                counts[lane] = counts.get(lane, 0) + 1
    for key, lanes in memo.items():
        memo[key] = [(k, OTHER_PAIRS, t) if k == "person" and counts[(k, n, t)] < min_pair else (k, n, t)
                     for k, n, t in lanes]
    return lambda h: memo[h.key] if h.key in memo else lanes_of(h)


@dataclass
class LaneFigures:
    """The figures of one lane (over a week, or over the whole window when ``week`` is ``None``).

    Hours are floats; ``None`` where no handoff gives a value. Shares are in ``[0, 1]``.
    """

    kind: str
    name: str
    tool: str
    week: date | None
    count: int
    received: int
    open: int
    ended_unreceived: int
    median_business_hours: float | None
    p90_business_hours: float | None
    median_wall_hours: float | None
    p90_wall_hours: float | None
    nudged_share: float | None
    nudge_to_ack_median: float | None
    open_share: float | None

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["week"] = self.week.isoformat() if self.week else None
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


#: How a handoff ended, in :func:`delays`' tuples.
_RECEIVED, _OPEN, _UNRECEIVED = 0, 1, 2


def delays(handoffs: Iterable[HandoffFact], now: datetime) -> dict[str, tuple]:
    """Handoff key → ``(business hours, wall-clock hours, nudge → ack business hours, how it
    ended)`` at ``now`` (:meth:`HandoffFact.figures`: the stored figures of an ended handoff,
    computed for an open one); ``how it ended``: 0 received, 1 open, 2 ended unreceived."""
    return {h.key: h.figures(now) for h in handoffs}


def lane_figures(kind: str, name: str, tool: str, week: date | None, handoffs: Sequence[HandoffFact],
                 now: datetime, values: dict | None = None) -> LaneFigures:
    """Compute one lane's :class:`LaneFigures` over ``handoffs`` (those with a delay, received or
    open, and those ended unreceived) at ``now`` (aware UTC). ``values``: :func:`delays` of them
    (computed here when not given)."""
    values = values if values is not None else delays(handoffs, now)
    return _figures(kind, name, tool, week, _Sums.of([values[h.key] for h in handoffs]))


class _Sums:
    """What a lane's figures need of a group of handoffs, column by column: the business and
    wall-clock hours of the timed ones (received or open), the nudge → ack hours of those
    received after a nudge, and how many were received, open and ended unreceived.

    Groups are merged with list ``extend`` (C speed), so a handoff in ten lanes costs ten
    element copies, not ten trips through Python code.
    """

    __slots__ = ("business", "wall", "to_ack", "received", "open", "unreceived")

    def __init__(self):
        self.business: list[float] = []
        self.wall: list[float] = []
        self.to_ack: list[float] = []
        self.received = self.open = self.unreceived = 0

    @classmethod
    def of(cls, rows: list[tuple]) -> "_Sums":
        """From :func:`delays` tuples."""
        s = cls()
        timed = [r for r in rows if r[3] != _UNRECEIVED]
        # Sorted here, once: a lane's list is then a few sorted runs, which sort() merges in near linear time.
        s.business = sorted([r[0] for r in timed])
        s.wall = sorted([r[1] for r in timed])
        s.to_ack = sorted([r[2] for r in timed if r[2] is not None])  # set only for received handoffs
        s.received = sum(1 for r in timed if r[3] == _RECEIVED)
        s.open = len(timed) - s.received
        s.unreceived = len(rows) - len(timed)
        return s

    def add(self, other: "_Sums") -> None:
        self.business += other.business
        self.wall += other.wall
        self.to_ack += other.to_ack
        self.received += other.received
        self.open += other.open
        self.unreceived += other.unreceived


def _figures(kind: str, name: str, tool: str, week: date | None, sums: _Sums) -> LaneFigures:
    """:func:`lane_figures` over one group's :class:`_Sums`."""
    business = sorted(sums.business)
    wall = sorted(sums.wall)
    n_timed = len(business)
    n_received = sums.received
    to_ack = sums.to_ack
    return LaneFigures(
        kind=kind, name=name, tool=tool, week=week,
        count=n_timed, received=n_received, open=sums.open,
        ended_unreceived=sums.unreceived,
        median_business_hours=_sorted_median(business), p90_business_hours=_sorted_p90(business),
        median_wall_hours=_sorted_median(wall), p90_wall_hours=_sorted_p90(wall),
        nudged_share=len(to_ack) / n_received if n_received else None,
        nudge_to_ack_median=_median(to_ack),
        open_share=sums.open / n_timed if n_timed else None,
    )


def _sorted_median(ordered: list[float]) -> float | None:
    """``statistics.median`` of an already sorted list (sorted once for median and p90)."""
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _sorted_p90(ordered: list[float]) -> float | None:
    """:func:`p90` of an already sorted list."""
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1] if ordered else None


def _group(handoffs: Iterable[HandoffFact], key) -> dict:
    out: dict = {}
    for h in handoffs:
        for k in key(h):
            out.setdefault(k, []).append(h)
    return out


class _Cells:
    """The handoffs grouped once into cells of the attributes lanes are named from.

    A cell holds the handoffs alike in everything a lane, a week or a before/after side can
    tell apart: ``(tool, sender team, receiver team, rule, status pair, week, side)`` for the
    ``all``, ``team``, ``rule`` and ``status`` lanes, and ``(tool, pair name in that tool,
    pair name across tools, week, side)`` for the ``person`` lanes (a pair with fewer than
    ``min_pair`` handoffs, counted over all ``handoffs`` as :func:`lane_namer` does, is named
    :data:`OTHER_PAIRS`). ``side``: 0 sent in the ``before`` window, 1 in ``after``, ``None``
    in neither (or no windows). A lane's figures are then its cells' sums merged: the same
    values as grouping each handoff into each lane, in a few hundred merges instead of a
    million appends.
    """

    def __init__(self, handoffs: Iterable[HandoffFact], now: datetime, tz: ZoneInfo, *,
                 windows: tuple[tuple[datetime, datetime], tuple[datetime, datetime]] | None = None,
                 values: dict | None = None, min_pair: int = MIN_PERSON_PAIR):
        handoffs = handoffs if isinstance(handoffs, list) else list(handoffs)
        # Person pairs counted as (sender, receiver) tuples (C speed); named once per pair.
        senders, receivers = [h[4] for h in handoffs], [h[5] for h in handoffs]
        per_tool = Counter(zip(senders, receivers, [h[2] for h in handoffs]))
        across = Counter(zip(senders, receivers))
        named_tool = {k: (f"{k[0]} → {k[1]}" if n >= min_pair else OTHER_PAIRS) for k, n in per_tool.items()}
        named_all = {k: (f"{k[0]} → {k[1]}" if n >= min_pair else OTHER_PAIRS) for k, n in across.items()}
        rows_a: dict[tuple, list[tuple]] = {}
        rows_p: dict[tuple, list[tuple]] = {}
        weeks: dict[date, date] = {}  # local date of sent → its Monday
        (b0, b1), (a0, a1) = windows if windows is not None else ((None, None), (None, None))
        pending = PENDING_STATES
        # Unpacked in field order (HandoffFact is a named tuple): a tenth of the attribute reads' time.
        for h in handoffs:
            key, rule, tool, _item, sender, receiver, s_team, r_team, status, sent, state, _e, _n, _s, m = h
            day = sent.astimezone(tz).date()
            week = weeks.get(day)
            if week is None:
                week = weeks[day] = day - timedelta(days=day.weekday())
            if b0 is None:
                side = None
            elif b0 <= sent < b1:
                side = 0
            elif a0 <= sent < a1:
                side = 1
            else:
                side = None
            if values is not None:
                row = values[key]
            elif m is not None and state not in pending:
                row = (m[0], m[1], m[3], _RECEIVED if state == RECEIVED else _UNRECEIVED)
            else:
                row = h.figures(now)
            cell_key = (tool, s_team, r_team, rule, status, week, side)
            cell = rows_a.get(cell_key)
            if cell is None:
                rows_a[cell_key] = [row]
            else:
                cell.append(row)
            cell_key = (tool, named_tool[(sender, receiver, tool)], named_all[(sender, receiver)], week, side)
            cell = rows_p.get(cell_key)
            if cell is None:
                rows_p[cell_key] = [row]
            else:
                cell.append(row)
        self.a = [(k, _Sums.of(rows)) for k, rows in rows_a.items()]
        self.p = [(k, _Sums.of(rows)) for k, rows in rows_p.items()]

    def lanes(self, kinds: Sequence[str]) -> Iterator[tuple[tuple[str, str, str], date, int | None, _Sums]]:
        """``((kind, name, tool), week, side, sums)`` for every lane of ``kinds`` each cell lies
        in (per tool and across tools)."""
        wanted = set(kinds)
        plain = [k for k in (ALL, "team", "rule", "status") if k in wanted]
        if plain:
            for (tool, s_team, r_team, rule, status, week, side), sums in self.a:
                for kind in plain:
                    if kind == ALL:
                        name = ALL
                    elif kind == "team":
                        name = f"{s_team or UNKNOWN_TEAM} → {r_team or UNKNOWN_TEAM}"
                    elif kind == "rule":
                        name = rule
                    elif status is None:
                        continue
                    else:
                        name = f"{status[0]} → {status[1]}"
                    yield (kind, name, tool), week, side, sums
                    yield (kind, name, ALL), week, side, sums
        if "person" in wanted:
            for (tool, in_tool, in_all, week, side), sums in self.p:
                yield ("person", in_tool, tool), week, side, sums
                yield ("person", in_all, ALL), week, side, sums


_ORDER = {k: i for i, k in enumerate(LANE_KINDS)}


def _lane_sort_key(f: LaneFigures):
    return (_ORDER.get(f.kind, 99), f.tool != ALL, f.tool, f.name, f.week or date.min)


def _measure(cells: _Cells, kinds: Sequence[str]) -> tuple[list[LaneFigures], list[LaneFigures]]:
    by_lane: dict[tuple, _Sums] = {}
    by_week: dict[tuple, _Sums] = {}
    for lane, week, _side, sums in cells.lanes(kinds):
        acc = by_lane.get(lane)
        if acc is None:
            acc = by_lane[lane] = _Sums()
        acc.add(sums)
        key = (*lane, week)
        acc = by_week.get(key)
        if acc is None:
            acc = by_week[key] = _Sums()
        acc.add(sums)
    lanes = [_figures(k, n, t, None, sums) for (k, n, t), sums in by_lane.items()]
    weekly = [_figures(k, n, t, w, sums) for (k, n, t, w), sums in by_week.items()]
    return sorted(lanes, key=_lane_sort_key), sorted(weekly, key=_lane_sort_key)


def measure(handoffs: Iterable[HandoffFact], now: datetime, tz: ZoneInfo,
            kinds: Sequence[str] = LANE_KINDS, values: dict | None = None,
            min_pair: int = MIN_PERSON_PAIR) -> tuple[list[LaneFigures], list[LaneFigures]]:
    """Figures per lane over all ``handoffs``, and per lane and week.

    Returns ``(lanes, weekly)``, each sorted by kind (in ``LANE_KINDS`` order), tool (``all``
    first), name and week. ``now``: aware UTC, where open handoffs are censored. ``values``:
    :func:`delays` of ``handoffs``, when already computed. Person pairs with fewer than
    ``min_pair`` handoffs share one lane, :data:`OTHER_PAIRS` (see :func:`lane_namer`).
    """
    return _measure(_Cells(handoffs, now, tz, values=values, min_pair=min_pair), kinds)


@dataclass
class StandoffWeek:
    """Standoffs per ISO week: opened and broken in that week, and the wall-clock hours the broken
    ones had stood (median and longest)."""

    week: date
    opened: int = 0
    broken: int = 0
    median_hours_to_break: float | None = None
    longest_hours_to_break: float | None = None

    def to_json(self) -> dict:
        return {"week": self.week.isoformat(), "opened": self.opened, "broken": self.broken,
                "median_hours_to_break": _round(self.median_hours_to_break),
                "longest_hours_to_break": _round(self.longest_hours_to_break)}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def standoff_weeks(standoffs: Iterable[StandoffFact], tz: ZoneInfo) -> list[StandoffWeek]:
    """Per week: standoffs opened, broken and how long the broken ones stood (wall-clock hours)."""
    weeks: dict[date, StandoffWeek] = {}
    durations: dict[date, list[float]] = {}
    for s in standoffs:
        w = week_of(s.opened_at, tz)
        weeks.setdefault(w, StandoffWeek(w)).opened += 1
        if s.broken_at is not None:
            b = week_of(s.broken_at, tz)
            weeks.setdefault(b, StandoffWeek(b)).broken += 1
            durations.setdefault(b, []).append((s.broken_at - s.opened_at).total_seconds() / 3600)
    for w, values in durations.items():
        weeks[w].median_hours_to_break = statistics.median(values)
        weeks[w].longest_hours_to_break = max(values)
    return [weeks[w] for w in sorted(weeks)]


@dataclass
class Comparison:
    """The change of one lane's median business-hours delay from ``before`` to ``after``.

    ``change_hours`` = after − before (negative: faster); ``change_ratio`` = change / before.
    ``ci_low``/``ci_high``: the bootstrap 95 % interval of ``change_hours``. ``verdict``: ``faster``
    (the whole interval below 0), ``slower`` (above 0), ``no clear change``, or ``too few
    handoffs to tell`` (fewer than ``min_per_side`` on a side; no interval then).
    ``claim_met``: the drop is at least ``CLAIMED_DROP`` of the before median and the interval
    is below 0 (``None`` when too few).
    """

    kind: str
    name: str
    tool: str
    before_count: int
    after_count: int
    before_median: float | None
    after_median: float | None
    change_hours: float | None = None
    change_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str = "too few handoffs to tell"
    claim_met: bool | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "extra"}

    def sentence(self) -> str:
        """One line a lead can read: the lane, both medians, the change and its interval."""
        lane = "all handoffs" if self.kind == ALL else f"{self.kind} {self.name}"
        lane += "" if self.tool == ALL else f" ({self.tool})"
        if self.verdict == "too few handoffs to tell":
            return (f"{lane}: too few handoffs to tell ({self.before_count} before, {self.after_count} after; "
                    f"at least {MIN_PER_SIDE} each)")
        return (f"{lane}: median {self.before_median:.2f} → {self.after_median:.2f} business h "
                f"({self.change_hours:+.2f} h, {self.change_ratio:+.0%}; 95 % CI {self.ci_low:+.2f} to "
                f"{self.ci_high:+.2f} h): {self.verdict}")


def resampled_median(ordered: Sequence[float], rng: random.Random) -> float:
    """The median of one bootstrap resample (``len(ordered)`` draws with replacement) of the
    sorted ``ordered``, drawn in O(1) with the same distribution as drawing the resample.

    A resample is ``F⁻¹(U₁) … F⁻¹(Uₙ)`` for uniform ``Uᵢ`` and the empirical quantile function
    ``F⁻¹(u) = ordered[ceil(n·u) - 1]``, which is monotone: its median is ``F⁻¹`` of the uniforms'
    median. For odd ``n`` that is the ``m``-th order statistic of ``n`` uniforms, ``Beta(m, n-m+1)``
    with ``m = (n+1)/2``; for even ``n`` the mean of the ``k``-th and ``(k+1)``-th (``k = n/2``),
    ``U₍ₖ₎ ~ Beta(k, n-k+1)`` and, given it, ``U₍ₖ₊₁₎ = U₍ₖ₎ + (1-U₍ₖ₎)·Beta(1, n-k)``, the
    latter drawn by inversion (``1 - V^(1/(n-k))``, ``V`` uniform: one draw, not two gammas).
    """
    return resampled_medians(ordered, rng, 1)[0]


def resampled_medians(ordered: Sequence[float], rng: random.Random, times: int) -> list[float]:
    """``times`` independent draws of :func:`resampled_median` (one loop, its constants once)."""
    n = len(ordered)
    last, ceil, beta = n - 1, math.ceil, rng.betavariate
    out = []
    if n % 2:
        m = (n + 1) // 2
        b = n - m + 1
        for _ in range(times):
            i = ceil(n * beta(m, b)) - 1
            out.append(ordered[0 if i < 0 else last if i > last else i])
        return out
    k = n // 2
    b, inv, rand = n - k + 1, 1 / (n - k), rng.random
    for _ in range(times):
        u1 = beta(k, b)
        u2 = u1 + (1 - u1) * (1 - rand() ** inv)
        i, j = ceil(n * u1) - 1, ceil(n * u2) - 1
        out.append((ordered[0 if i < 0 else last if i > last else i]
                    + ordered[0 if j < 0 else last if j > last else j]) / 2)
    return out


def bootstrap_interval(before: Sequence[float], after: Sequence[float], *, seed: int = DEFAULT_SEED,
                       resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``median(after) - median(before)``.

    Each resample draws ``len(before)`` values from ``before`` and ``len(after)`` from ``after``
    with replacement, seeded (``random.Random(seed)``: the ``after`` medians, then the ``before``
    ones); only each resample's median is drawn (:func:`resampled_medians`, exact, O(1) whatever
    the sizes). The interval is the ``(1-level)/2`` and ``(1+level)/2`` nearest-rank quantiles
    of the ``resamples`` differences.
    """
    rng = random.Random(seed)
    b, a = sorted(before), sorted(after)
    diffs = sorted(map(operator.sub, resampled_medians(a, rng, resamples), resampled_medians(b, rng, resamples)))
    lo = diffs[max(0, math.ceil((1 - level) / 2 * resamples) - 1)]
    hi = diffs[min(resamples - 1, math.ceil((1 + level) / 2 * resamples) - 1)]
    return lo, hi


def _compare(cells: _Cells, kinds: Sequence[str], *, seed: int, min_per_side: int, resamples: int) -> list[Comparison]:
    sides: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    for lane, _week, side, sums in cells.lanes(kinds):
        if side is None or not sums.business:
            continue
        pair = sides.get(lane)
        if pair is None:
            pair = sides[lane] = ([], [])
        pair[side].extend(sums.business)  # the timed ones: received or open
    out = []
    for (kind, name, tool), (b, a) in sorted(sides.items(), key=lambda kv: (_ORDER[kv[0][0]], kv[0][2] != ALL,
                                                                          kv[0][2], kv[0][1])):
        b.sort()  # once: the medians read it, and the bootstrap's own sort then finds one run
        a.sort()
        c = Comparison(kind, name, tool, len(b), len(a), _sorted_median(b), _sorted_median(a))
        if len(b) >= min_per_side and len(a) >= min_per_side:
            c.change_hours = c.after_median - c.before_median
            c.change_ratio = c.change_hours / c.before_median if c.before_median else None
            # One seed per lane, derived from the lane's name, so adding a lane never moves another's interval.
            lane_seed = seed ^ (sum(ord(ch) * (i + 1) for i, ch in enumerate(f"{kind}|{name}|{tool}")) & 0xFFFFFFFF)
            c.ci_low, c.ci_high = bootstrap_interval(b, a, seed=lane_seed, resamples=resamples)
            c.verdict = "faster" if c.ci_high < 0 else "slower" if c.ci_low > 0 else "no clear change"
            c.claim_met = bool(c.ci_high < 0 and c.change_ratio is not None and c.change_ratio <= -CLAIMED_DROP)
        out.append(c)
    return out


def compare(handoffs: Iterable[HandoffFact], now: datetime, before: tuple[datetime, datetime],
            after: tuple[datetime, datetime], *, kinds: Sequence[str] = LANE_KINDS, seed: int = DEFAULT_SEED,
            min_per_side: int = MIN_PER_SIDE, resamples: int = BOOTSTRAP_RESAMPLES,
            values: dict | None = None, min_pair: int = MIN_PERSON_PAIR) -> list[Comparison]:
    """Per lane, the change in median business-hours delay between two windows of ``sent_at``.

    Args:
        handoffs: the facts (those ended unreceived are left out: they have no delay).
        now: aware UTC; open handoffs are censored here.
        before, after: ``[start, end)`` windows of ``sent_at``, aware.
        seed: the bootstrap's seed (deterministic intervals).
        min_per_side: fewest handoffs on each side for a verdict.
        values: :func:`delays` of ``handoffs`` at ``now``, when already computed.
        min_pair: person pairs with fewer handoffs (in ``handoffs``) share the lane ``OTHER_PAIRS``.

    Returns one :class:`Comparison` per lane seen in either window, sorted by kind (in
    ``LANE_KINDS`` order), tool (``all`` first) and name.
    """
    cells = _Cells(handoffs, now, ZoneInfo("UTC"), windows=(before, after), values=values, min_pair=min_pair)
    return _compare(cells, kinds, seed=seed, min_per_side=min_per_side, resamples=resamples)


def measure_and_compare(handoffs: Iterable[HandoffFact], now: datetime, tz: ZoneInfo,
                        windows: tuple[tuple[datetime, datetime], tuple[datetime, datetime]] | None = None, *,
                        kinds: Sequence[str] = LANE_KINDS, seed: int = DEFAULT_SEED,
                        min_per_side: int = MIN_PER_SIDE, resamples: int = BOOTSTRAP_RESAMPLES,
                        min_pair: int = MIN_PERSON_PAIR) -> tuple[list[LaneFigures], list[LaneFigures], list[Comparison] | None]:
    """:func:`measure` and, when ``windows`` = ``(before, after)`` is given, :func:`compare`,
    over one grouping of ``handoffs`` (each handoff's figures taken once): ``(lanes, weekly,
    comparisons or None)``, the same figures as the two calls."""
    cells = _Cells(handoffs, now, tz, windows=windows, min_pair=min_pair)
    lanes, weekly = _measure(cells, kinds)
    comparisons = (None if windows is None else
                   _compare(cells, kinds, seed=seed, min_per_side=min_per_side, resamples=resamples))
    return lanes, weekly, comparisons
