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
import random
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from bridge.core.businesstime import WorkSchedule

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


@dataclass(frozen=True)
class HandoffFact:
    """One handoff as the report reads it (from ``handoffs``, ``outbox`` and ``events``).

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
        end = self.end(now)
        return None if end is None else self.schedule.between(self.sent_at, end).total_seconds() / 3600

    def wall_hours(self, now: datetime) -> float | None:
        """Delay in wall-clock hours (``None``: ended without being received)."""
        end = self.end(now)
        return None if end is None else (end - self.sent_at).total_seconds() / 3600

    def nudge_to_ack_hours(self) -> float | None:
        """Business hours from the first nudge to the acknowledgement, when received after a nudge."""
        if not self.received or self.nudged_at is None or self.ended_at is None or self.nudged_at > self.ended_at:
            return None
        return self.schedule.between(self.nudged_at, self.ended_at).total_seconds() / 3600


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
    ended)`` at ``now``, each computed once (a handoff lies in about ten lanes and as many
    lane-weeks); ``how it ended``: 0 received, 1 open, 2 ended unreceived."""
    return {h.key: (h.business_hours(now), h.wall_hours(now), h.nudge_to_ack_hours(),
                    _RECEIVED if h.received else _OPEN if h.open else _UNRECEIVED) for h in handoffs}


def lane_figures(kind: str, name: str, tool: str, week: date | None, handoffs: Sequence[HandoffFact],
                 now: datetime, values: dict | None = None) -> LaneFigures:
    """Compute one lane's :class:`LaneFigures` over ``handoffs`` (those with a delay, received or
    open, and those ended unreceived) at ``now`` (aware UTC). ``values``: :func:`delays` of them
    (computed here when not given)."""
    values = values if values is not None else delays(handoffs, now)
    return _figures(kind, name, tool, week, [values[h.key] for h in handoffs])


def _figures(kind: str, name: str, tool: str, week: date | None, rows: list[tuple]) -> LaneFigures:
    """:func:`lane_figures` over :func:`delays` tuples."""
    timed = [r for r in rows if r[3] != _UNRECEIVED]
    business = sorted([r[0] for r in timed])
    wall = sorted([r[1] for r in timed])
    n_received = sum(1 for r in timed if r[3] == _RECEIVED)
    to_ack = [r[2] for r in timed if r[2] is not None]  # set only for received handoffs
    n_open = len(timed) - n_received
    return LaneFigures(
        kind=kind, name=name, tool=tool, week=week,
        count=len(timed), received=n_received, open=n_open,
        ended_unreceived=len(rows) - len(timed),
        median_business_hours=_sorted_median(business), p90_business_hours=_sorted_p90(business),
        median_wall_hours=_sorted_median(wall), p90_wall_hours=_sorted_p90(wall),
        nudged_share=len(to_ack) / n_received if n_received else None,
        nudge_to_ack_median=_median(to_ack),
        open_share=n_open / len(timed) if timed else None,
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


def measure(handoffs: Iterable[HandoffFact], now: datetime, tz: ZoneInfo,
            kinds: Sequence[str] = LANE_KINDS, values: dict | None = None,
            min_pair: int = MIN_PERSON_PAIR, named=None) -> tuple[list[LaneFigures], list[LaneFigures]]:
    """Figures per lane over all ``handoffs``, and per lane and week.

    Returns ``(lanes, weekly)``, each sorted by kind (in ``LANE_KINDS`` order), tool (``all``
    first), name and week. ``now``: aware UTC, where open handoffs are censored. ``values``:
    :func:`delays` of ``handoffs``, when already computed. Person pairs with fewer than
    ``min_pair`` handoffs share one lane, :data:`OTHER_PAIRS` (see :func:`lane_namer`; ``named``:
    that function, when already built).
    """
    handoffs = list(handoffs)
    order = {k: i for i, k in enumerate(LANE_KINDS)}

    def sort_key(f: LaneFigures):
        return (order.get(f.kind, 99), f.tool != ALL, f.tool, f.name, f.week or date.min)

    wanted = set(kinds)
    values = values if values is not None else delays(handoffs, now)
    by_lane: dict[tuple, list[tuple]] = {}
    by_week: dict[tuple, list[tuple]] = {}
    weeks: dict[date, date] = {}  # local date of sent → its Monday
    named = named or lane_namer(handoffs, min_pair)
    for h in handoffs:  # one pass: each handoff's lanes are named once
        day = h.sent_at.astimezone(tz).date()
        week = weeks.get(day)
        if week is None:
            week = weeks[day] = day - timedelta(days=day.weekday())
        row = values[h.key]
        for lane in named(h):
            if lane[0] in wanted:
                by_lane.setdefault(lane, []).append(row)
                by_week.setdefault((*lane, week), []).append(row)
    lanes = [_figures(k, n, t, None, rows) for (k, n, t), rows in by_lane.items()]
    weekly = [_figures(k, n, t, w, rows) for (k, n, t, w), rows in by_week.items()]
    return sorted(lanes, key=sort_key), sorted(weekly, key=sort_key)


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
    ``U₍ₖ₎ ~ Beta(k, n-k+1)`` and, given it, ``U₍ₖ₊₁₎ = U₍ₖ₎ + (1-U₍ₖ₎)·Beta(1, n-k)``.
    """
    n = len(ordered)

    def at(u: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(n * u) - 1))]

    if n % 2:
        m = (n + 1) // 2
        return at(rng.betavariate(m, n - m + 1))
    k = n // 2
    u1 = rng.betavariate(k, n - k + 1)
    u2 = u1 + (1 - u1) * rng.betavariate(1, n - k)
    return (at(u1) + at(u2)) / 2


def bootstrap_interval(before: Sequence[float], after: Sequence[float], *, seed: int = DEFAULT_SEED,
                       resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``median(after) - median(before)``.

    Each resample draws ``len(before)`` values from ``before`` and ``len(after)`` from ``after``
    with replacement, seeded (``random.Random(seed)``); only each resample's median is drawn
    (:func:`resampled_median`, exact, O(1) whatever the sizes). The interval is the
    ``(1-level)/2`` and ``(1+level)/2`` nearest-rank quantiles of the ``resamples`` differences.
    """
    rng = random.Random(seed)
    b, a = sorted(before), sorted(after)
    diffs = sorted(resampled_median(a, rng) - resampled_median(b, rng) for _ in range(resamples))
    lo = diffs[max(0, math.ceil((1 - level) / 2 * resamples) - 1)]
    hi = diffs[min(resamples - 1, math.ceil((1 + level) / 2 * resamples) - 1)]
    return lo, hi


def compare(handoffs: Iterable[HandoffFact], now: datetime, before: tuple[datetime, datetime],
            after: tuple[datetime, datetime], *, kinds: Sequence[str] = LANE_KINDS, seed: int = DEFAULT_SEED,
            min_per_side: int = MIN_PER_SIDE, resamples: int = BOOTSTRAP_RESAMPLES,
            values: dict | None = None, min_pair: int = MIN_PERSON_PAIR, named=None) -> list[Comparison]:
    """Per lane, the change in median business-hours delay between two windows of ``sent_at``.

    Args:
        handoffs: the facts (those ended unreceived are left out: they have no delay).
        now: aware UTC; open handoffs are censored here.
        before, after: ``[start, end)`` windows of ``sent_at``, aware.
        seed: the bootstrap's seed (deterministic intervals).
        min_per_side: fewest handoffs on each side for a verdict.
        values: :func:`delays` of ``handoffs`` at ``now``, when already computed.
        min_pair: person pairs with fewer handoffs (in ``handoffs``) share the lane ``OTHER_PAIRS``.
        named: :func:`lane_namer` of ``handoffs``, when already built.

    Returns one :class:`Comparison` per lane seen in either window, sorted by kind (in
    ``LANE_KINDS`` order), tool (``all`` first) and name.
    """
    sides: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    wanted = set(kinds)
    handoffs = list(handoffs)
    named = named or lane_namer(handoffs, min_pair)
    for h in handoffs:
        if not (h.received or h.open):
            continue
        if before[0] <= h.sent_at < before[1]:
            side = 0
        elif after[0] <= h.sent_at < after[1]:
            side = 1
        else:
            continue
        value = values[h.key][0] if values is not None else h.business_hours(now)
        for lane in named(h):
            if lane[0] in wanted:
                sides.setdefault(lane, ([], []))[side].append(value)
    order = {k: i for i, k in enumerate(LANE_KINDS)}
    out = []
    for (kind, name, tool), (b, a) in sorted(sides.items(), key=lambda kv: (order[kv[0][0]], kv[0][2] != ALL,
                                                                          kv[0][2], kv[0][1])):
        c = Comparison(kind, name, tool, len(b), len(a), _median(b), _median(a))
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
