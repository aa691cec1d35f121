"""The report's grouping (``bridge.report.measure._Cells``: handoffs grouped once into cells,
lanes merged from them) gives the figures of the plain definition, handoff by handoff into each
of its lanes, and a handoff's stored figures (``bridge.core.delay.measure_ended``, what the
engine keeps in the store) give the same report as figures computed from its times."""

from __future__ import annotations

import statistics
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.core.businesstime import WorkSchedule
from bridge.core.delay import measure_ended
from bridge.report.measure import HandoffFact, compare, lane_namer, measure, p90, week_of

UTC = timezone.utc
MON = datetime(2026, 11, 2, tzinfo=UTC)
NOW = MON + timedelta(days=28)
SCHEDULES = (WorkSchedule("UTC", range(5), time(9), time(17)), WorkSchedule("Europe/Berlin", range(4), time(8), time(12)))
STATES = ("received", "received", "received", "sent", "overdue", "withdrawn", "closed")


@st.composite
def facts(draw):
    n = draw(st.integers(1, 40))
    out = []
    for i in range(n):
        sent = MON + timedelta(minutes=draw(st.integers(0, 27 * 24 * 60)))
        state = draw(st.sampled_from(STATES))
        ended = None if state in ("sent", "overdue") else min(NOW, sent + timedelta(minutes=draw(st.integers(0, 5 * 24 * 60))))
        nudged = draw(st.one_of(st.none(), st.integers(0, 3 * 24 * 60).map(lambda m, s=sent: s + timedelta(minutes=m))))
        sender, receiver = draw(st.sampled_from("abc")), draw(st.sampled_from("bcd"))
        out.append(HandoffFact(
            key=f"h{i}", rule=draw(st.sampled_from(("review", "qa"))), tool=draw(st.sampled_from(("github", "jira"))),
            item=f"x#{i}", sender=sender, receiver=receiver,
            sender_team=draw(st.sampled_from((None, "web", "qa"))), receiver_team=draw(st.sampled_from((None, "web", "?"))),
            status_pair=draw(st.sampled_from((None, ("In Review", "QA")))), sent_at=sent, state=state, ended_at=ended,
            nudged_at=nudged, schedule=draw(st.sampled_from(SCHEDULES))))
    return out


def plain(handoffs, now, tz, min_pair=2):
    """The definition, one handoff at a time: ``{(kind, name, tool, week): figures}``."""
    named = lane_namer(handoffs, min_pair)
    groups: dict = {}
    for h in handoffs:
        for lane in named(h):
            groups.setdefault((*lane, None), []).append(h)
            groups.setdefault((*lane, week_of(h.sent_at, tz)), []).append(h)
    out = {}
    for key, hs in groups.items():
        timed = [h for h in hs if h.received or h.open]
        received = [h for h in timed if h.received]
        b = [h.business_hours(now) for h in timed]
        w = [h.wall_hours(now) for h in timed]
        to_ack = [v for v in (h.nudge_to_ack_hours() for h in received) if v is not None]
        out[key] = dict(count=len(timed), received=len(received), open=len(timed) - len(received),
                        ended_unreceived=len(hs) - len(timed),
                        median_business_hours=statistics.median(b) if b else None, p90_business_hours=p90(b),
                        median_wall_hours=statistics.median(w) if w else None, p90_wall_hours=p90(w),
                        nudged_share=len(to_ack) / len(received) if received else None,
                        nudge_to_ack_median=statistics.median(to_ack) if to_ack else None,
                        open_share=(len(timed) - len(received)) / len(timed) if timed else None)
    return out


def figures(lanes, weekly):
    fields = ("count", "received", "open", "ended_unreceived", "median_business_hours", "p90_business_hours",
              "median_wall_hours", "p90_wall_hours", "nudged_share", "nudge_to_ack_median", "open_share")
    return {(f.kind, f.name, f.tool, f.week): {k: getattr(f, k) for k in fields} for f in [*lanes, *weekly]}


@settings(max_examples=60, deadline=None)
@given(facts())
def test_lanes_merged_from_cells_are_the_lanes_of_the_definition(hs):
    tz = ZoneInfo("Europe/Berlin")
    assert figures(*measure(hs, NOW, tz, min_pair=2)) == plain(hs, NOW, tz)


@settings(max_examples=60, deadline=None)
@given(facts())
def test_stored_figures_give_the_report_computed_figures_give(hs):
    tz = ZoneInfo("UTC")
    stored = [h._replace(measured=measure_ended(h.schedule, h.state, h.sent_at, h.ended_at, h.nudged_at))
              if not h.open else h for h in hs]
    at = MON + timedelta(days=14)
    assert figures(*measure(stored, NOW, tz)) == figures(*measure(hs, NOW, tz))
    assert compare(stored, NOW, (MON, at), (at, NOW)) == compare(hs, NOW, (MON, at), (at, NOW))
