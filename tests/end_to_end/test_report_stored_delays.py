"""Each ended handoff keeps its measured delay in the store (migration 0005), on SQLite and on
PostgreSQL, and ``report`` reads those figures instead of computing them again.

1. The bundled before/after scenario runs the real engine (``handoff-bridge demo``) on each
   database; every handoff it ended must carry, in its ``handoffs`` row, the delay computed here
   by hand (``test_report_scenario``'s day-by-day business hours walk), its first nudge and the
   nudge → ack hours.
2. Rows stored before 0005 (no figures) are measured by the report with the same function and
   written back once; after that the report takes the stored figure, not its own computation.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from bridge.app.commands import demo
from bridge.config import parse_config
from bridge.core.businesstime import WorkSchedule
from bridge.report import collect
from bridge.report.report import build_report
from bridge.store import HandoffRow, OutboxRow, Store
from tests.end_to_end.test_report_scenario import NAME, add_business_hours, business_hours, hand_handoffs

UTC = timezone.utc


def test_the_engine_stores_each_ended_handoffs_delay_as_computed_by_hand(database_url, tmp_path):
    scenario = demo.load_scenario(demo.find_scenario(NAME))
    result = demo.Demo(scenario, database=database_url, html=tmp_path / "report.html").run()
    assert result.ok, result.expectations
    handoffs, start = hand_handoffs()
    switch = start + timedelta(days=14)
    rows = {(r.sent_at, r.ended_at): r for r in Store.open(database_url).handoffs()}
    assert len(rows) == len(handoffs) == 52
    for h in handoffs:
        row = rows[(h["sent"], h["ack"])]
        assert row.state == "received" and row.measured_at is not None
        assert row.delay_business_h == pytest.approx(business_hours(h["sent"], h["ack"]), abs=1e-9)
        assert row.delay_wall_h == pytest.approx((h["ack"] - h["sent"]).total_seconds() / 3600, abs=1e-9)
        deadline = add_business_hours(h["sent"], 4)
        nudge = deadline if deadline.minute == 0 else deadline.replace(minute=0) + timedelta(hours=1)
        if h["sent"] >= switch and h["ack"] > deadline:  # nudged (from the third Monday), then received
            assert row.first_nudge_at == nudge
            assert row.nudge_to_ack_business_h == pytest.approx(business_hours(nudge, h["ack"]), abs=1e-9)
        else:
            assert row.nudge_to_ack_business_h is None


CONFIG = """\
[defaults]
timezone = "UTC"

[people.ana]
accounts = { github = "ana-h" }

[people.ben]
timezone = "Europe/Berlin"
accounts = { github = "ben-o" }

[connectors.github]
token = { env = "GITHUB_TOKEN" }
repositories = ["acme/web"]

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{ after = "0h", do = "comment" }]
"""

MON = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday; ben works 09:00-17:00 Berlin (08:00-16:00 UTC)


def _row(n: int, sent: datetime, state: str, ended: datetime | None) -> HandoffRow:
    return HandoffRow(key=f"review-not-picked-up:github:acme/web#{n}:ben-o:e{n}", rule="review-not-picked-up",
                      item_tool="github", item_key=f"acme/web#{n}", sender="github:ana-h", receiver="github:ben-o",
                      sent_at=sent, deadline=sent + timedelta(hours=4), state=state, ended_at=ended, updated_at=sent)


def test_rows_stored_before_0005_are_measured_once_then_read_from_the_store(database_url):
    config = parse_config(CONFIG, environ={"GITHUB_TOKEN": "ghp_example"})
    store = Store.open(database_url)
    old = _row(1, MON + timedelta(hours=9), "received", MON + timedelta(days=1, hours=10))  # Mon 09:00 → Tue 10:00 UTC
    store.upsert_handoffs([old, _row(2, MON + timedelta(hours=9), "overdue", None)])  # as the engine wrote them before 0005
    nudge_at = MON + timedelta(hours=13)
    with store.session() as s:
        s.add(OutboxRow(key=f"{old.key}:0", marker="hb:x1", finding_key=old.key, rule=old.rule, step=0, connector="github",
                        action="{}", status="done", attempts=1, created_at=nudge_at, sent_at=nudge_at))
    now = MON + timedelta(days=2)

    facts = {f.key: f for f in collect.handoff_facts(config, store, now=now)}
    ben = WorkSchedule("Europe/Berlin", range(5), datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=17))
    # Berlin is UTC+1: Mon 10:00-18:00 local → 7 h of Mon (10-17) + Tue 09:00-11:00 local: 2 h = 9 business h
    assert facts[old.key].business_hours(now) == pytest.approx(9) == ben.between(old.sent_at, old.ended_at).total_seconds() / 3600
    assert facts[old.key].nudge_to_ack_hours() == pytest.approx(3 + 2)  # Mon 14:00-17:00 local, Tue 09:00-11:00
    [stored] = [r for r in Store.open(database_url).handoffs() if r.key == old.key]
    assert stored.measured_at == now and stored.first_nudge_at == nudge_at
    assert (stored.delay_business_h, stored.delay_wall_h, stored.nudge_to_ack_business_h) == pytest.approx((9, 25, 5))
    [still_open] = [r for r in Store.open(database_url).handoffs() if r.key != old.key]
    assert still_open.measured_at is None  # open handoffs are measured at each report, never stored

    # From now on the stored figure is the one reported (a changed schedule or a re-read outbox does not move it).
    with store.engine.begin() as conn:
        conn.execute(update(HandoffRow.__table__).where(HandoffRow.__table__.c.key == old.key).values(delay_business_h=1.25))
    report = build_report(config, store, now)
    lane = report.lane("all", tool="github")
    assert (lane.count, lane.received, lane.open) == (2, 1, 1)
    # the open one: Mon 10:00 local → now (Wed 01:00 local) = 7 + 8 = 15 business h; the stored one 1.25
    assert lane.median_business_hours == pytest.approx((1.25 + 15) / 2)
