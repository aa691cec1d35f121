"""``handoff-bridge report``: handoff delay per lane and week, standoffs, and the change before/after.

Holds ``build_report`` (store + config → :class:`Report`), ``render_text`` (the tables) and
``to_json`` (one JSON document). The figures are ``bridge.report.measure``'s; the rows come from
``bridge.report.collect``. Reads the store only; no tracker is called.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bridge.report import collect
from bridge.report.measure import (
    ALL,
    LANE_KINDS,
    MIN_PER_SIDE,
    Comparison,
    HandoffFact,
    LaneFigures,
    StandoffFact,
    StandoffWeek,
    measure_and_compare,
    standoff_weeks,
)

__all__ = ["Report", "build_report", "collector_paused", "render_text", "to_json", "summary_lines"]


@dataclass
class Report:
    """What ``report`` prints. Times aware; ``tz`` is the zone weeks are counted in
    (``[defaults] timezone``). ``comparisons`` is ``None`` unless windows were given."""

    at: datetime
    tz: ZoneInfo
    since: datetime | None
    until: datetime | None
    handoffs: list[HandoffFact]
    standoffs: list[StandoffFact]
    lanes: list[LaneFigures]
    weekly: list[LaneFigures]
    standoff_weeks: list[StandoffWeek]
    before: tuple[datetime, datetime] | None = None
    after: tuple[datetime, datetime] | None = None
    comparisons: list[Comparison] | None = None
    notes: list[str] = field(default_factory=list)

    def lane(self, kind: str, name: str = ALL, tool: str = ALL) -> LaneFigures | None:
        """The whole-window figures of one lane, if any handoff crossed it."""
        return next((f for f in self.lanes if (f.kind, f.name, f.tool) == (kind, name, tool)), None)

    def comparison(self, kind: str, name: str = ALL, tool: str = ALL) -> Comparison | None:
        return next((c for c in self.comparisons or [] if (c.kind, c.name, c.tool) == (kind, name, tool)), None)

    @property
    def open_standoffs(self) -> list[StandoffFact]:
        return [s for s in self.standoffs if s.broken_at is None]


def build_report(config, store, now: datetime, *, since: datetime | None = None, until: datetime | None = None,
                 compare_at: datetime | None = None, before: tuple[datetime, datetime] | None = None,
                 after: tuple[datetime, datetime] | None = None, seed: int = 15) -> Report:
    """Measure the stored handoffs sent in ``[since, until)`` at ``now`` (aware UTC).

    ``compare_at``: compare ``[since or the first handoff, compare_at)`` with ``[compare_at,
    until or now)``; or give ``before`` and ``after`` windows explicitly (``[start, end)``).
    ``seed``: the bootstrap's seed.

    Raises:
        ValueError: ``compare_at`` together with explicit windows, only one window, or a
            window that ends before it starts.
    """
    tz = ZoneInfo(config.defaults.timezone)
    if compare_at is not None and (before or after):
        raise ValueError("give --compare-at DATE or --before/--after windows, not both")
    if (before is None) != (after is None):
        raise ValueError("give both --before and --after windows")
    for name, window in (("before", before), ("after", after)):
        if window is not None and window[1] < window[0]:
            raise ValueError(f"the {name} window ends ({window[1].isoformat()}) before it starts ({window[0].isoformat()})")
    with collector_paused():
        return _build(config, store, now, tz, since, until, compare_at, before, after, seed)


@contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector while a report is built: it makes one fact per
    stored handoff and all of them live on until the report is, so the collector's full passes
    over them find nothing (a third of the build on the engine bench's store)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _build(config, store, now, tz, since, until, compare_at, before, after, seed) -> Report:
    directory = collect.directory_for(config, store)
    handoffs = collect.handoff_facts(config, store, directory, since=since, until=until, now=now)
    standoffs = collect.standoff_facts(store, since=since, until=until)
    if compare_at is not None:
        first = min((h.sent_at for h in handoffs), default=compare_at)
        before = (since or min(first, compare_at), compare_at)
        after = (compare_at, until or max(now, compare_at))
    windows = (before, after) if before is not None and after is not None else None
    for name, (a, b) in zip(("before", "after"), windows or ()):
        if b < a:
            raise ValueError(f"the {name} window ends ({b.isoformat()}) before it starts ({a.isoformat()})")
    lanes, weekly, comparisons = measure_and_compare(handoffs, now, tz, windows, seed=seed)
    report = Report(at=now, tz=tz, since=since, until=until, handoffs=handoffs, standoffs=standoffs,
                    lanes=lanes, weekly=weekly, standoff_weeks=standoff_weeks(standoffs, tz))
    if windows is not None:
        report.before, report.after = windows
        report.comparisons = comparisons
    if any(f.open for f in handoffs):
        report.notes.append("open handoffs count with their delay so far (censored at now): "
                            "a median holding them is a lower bound")
    return report


# ------------------------------------------------------------------ text


def _h(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


LANE_HEAD = ("lane", "tool", "n", "median bh", "p90 bh", "median h", "p90 h", "open", "nudged", "nudge→ack bh")


def lane_row(f: LaneFigures, label: str) -> tuple[str, ...]:
    return (label, f.tool, str(f.count), _h(f.median_business_hours), _h(f.p90_business_hours),
            _h(f.median_wall_hours), _h(f.p90_wall_hours), _pct(f.open_share), _pct(f.nudged_share),
            _h(f.nudge_to_ack_median))


def table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Aligned text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(head), *(line(r) for r in rows)]


def summary_lines(r: Report) -> list[str]:
    """A few lines for the demo's end: the overall figures and the overall comparison."""
    out = []
    f = r.lane(ALL)
    if f is None:
        return ["no handoffs measured"]
    out.append(f"{f.count} handoff{'' if f.count == 1 else 's'}: median delay {_h(f.median_business_hours)} business h "
               f"({_h(f.median_wall_hours)} h wall clock), p90 {_h(f.p90_business_hours)} business h; "
               f"{_pct(f.open_share)} still open, {_pct(f.nudged_share)} received after a nudge")
    c = r.comparison(ALL)
    if c is not None:
        out.append("before/after: " + c.sentence())
    return out


def top_lanes(figures: list, kind: str, top: int) -> tuple[list, int]:
    """The lanes of ``kind`` to show: with ``top`` > 0 the ``top`` busiest (most handoffs first,
    then as sorted), tool ``all`` and per-tool rows alike; returns ``(shown, how many in all)``."""
    rows = [f for f in figures if f.kind == kind]
    if top <= 0 or len(rows) <= top:
        return rows, len(rows)
    count = getattr(rows[0], "count", None)
    key = (lambda f: -f.count) if count is not None else (lambda f: -(f.before_count + f.after_count))
    keep = sorted(rows, key=key)[:top]
    order = {id(f): i for i, f in enumerate(rows)}
    return sorted(keep, key=lambda f: order[id(f)]), len(rows)


def render_text(r: Report, top: int = 20) -> str:
    """The report as aligned tables: lanes, the weekly trend, standoffs, before/after.

    ``top``: at most this many lanes of each kind (the busiest; ``0``: all), and as many in
    the comparison; the JSON document always holds every lane.
    """
    window = (f"{_local(r.since, r.tz) if r.since else 'the first handoff'} to "
              f"{_local(r.until, r.tz) if r.until else 'now'}")
    lines = [f"Handoff report at {_local(r.at, r.tz)} ({r.tz.key}); handoffs sent from {window}",
             "bh = business hours of the receiver; h = wall-clock hours; nudged = received after a nudge", ""]
    lines += summary_lines(r)
    lines += [f"note: {n}" for n in r.notes]
    for kind in LANE_KINDS:
        shown, total = top_lanes(r.lanes, kind, top)
        if not shown:
            continue
        more = f" (the {len(shown)} busiest of {total}; --top 0 shows all)" if len(shown) < total else ""
        lines += ["", (f"Delay per {kind} lane{more}:" if kind != ALL else "All handoffs:")]
        lines += ["  " + x for x in table(LANE_HEAD, [lane_row(f, f.name) for f in shown])]
    weekly = [lane_row(f, f.week.isoformat()) for f in r.weekly if f.kind == ALL]
    if weekly:
        lines += ["", "Weekly trend (week of sent, Monday):"]
        lines += ["  " + x for x in table(("week", *LANE_HEAD[1:]), weekly)]
    lines += ["", "Standoffs per week:"]
    if r.standoff_weeks:
        rows = [(w.week.isoformat(), str(w.opened), str(w.broken), _h(w.median_hours_to_break),
                 _h(w.longest_hours_to_break)) for w in r.standoff_weeks]
        lines += ["  " + x for x in table(("week", "opened", "broken", "median h to break", "longest h"), rows)]
    else:
        lines.append("  none")
    if r.open_standoffs:
        lines.append(f"  open now: {', '.join(s.item for s in r.open_standoffs)}")
    if r.comparisons is not None:
        lines += ["", f"Before {_local(r.before[0], r.tz)} – {_local(r.before[1], r.tz)} vs after "
                      f"{_local(r.after[0], r.tz)} – {_local(r.after[1], r.tz)} (median business h, bootstrap 95 % CI; "
                      f"at least {MIN_PER_SIDE} handoffs a side):"]
        rows = [("all handoffs" if c.kind == ALL else f"{c.kind} {c.name}", c.tool, str(c.before_count), str(c.after_count), _h(c.before_median),
                 _h(c.after_median), "-" if c.change_hours is None else f"{c.change_hours:+.2f}",
                 "-" if c.change_ratio is None else f"{c.change_ratio:+.0%}",
                 "-" if c.ci_low is None else f"{c.ci_low:+.2f} to {c.ci_high:+.2f}", c.verdict)
                for kind in LANE_KINDS for c in top_lanes(r.comparisons, kind, top)[0]]
        lines += ["  " + x for x in table(("lane", "tool", "n before", "n after", "before", "after", "change",
                                            "change %", "95 % CI", "verdict"), rows)]
    return "\n".join(lines)


def to_json(r: Report) -> dict:
    """One JSON document: ``{at, timezone, since, until, lanes, weekly, standoffs, comparison}``."""
    def iso(d):
        return d.isoformat() if d else None

    return {
        "at": iso(r.at),
        "timezone": r.tz.key,
        "since": iso(r.since),
        "until": iso(r.until),
        "handoffs": len(r.handoffs),
        "notes": r.notes,
        "lanes": [f.to_json() for f in r.lanes],
        "weekly": [f.to_json() for f in r.weekly],
        "standoffs": {
            "weekly": [w.to_json() for w in r.standoff_weeks],
            "open": [{"key": s.key, "rule": s.rule, "item": s.item, "opened_at": iso(s.opened_at)} for s in r.open_standoffs],
        },
        "comparison": None if r.comparisons is None else {
            "before": [iso(r.before[0]), iso(r.before[1])],
            "after": [iso(r.after[0]), iso(r.after[1])],
            "min_per_side": MIN_PER_SIDE,
            "lanes": [c.to_json() for c in r.comparisons],
        },
    }

