"""The report over the bundled before/after scenario matches figures computed here by hand.

The scenario's timeline (``bridge/app/scenarios/nudging-before-after.toml``) is read directly:
each handoff is a ``request_review`` or a ``transition`` to "Ready for QA", and its
acknowledgement is the receiver's next act on that item. Business hours are counted here with
a plain day-by-day walk (Mon-Fri 09:00-17:00 Europe/Berlin, the scenario's schedule), not with
``bridge.core.businesstime``; medians with ``statistics.median``, p90 by nearest rank.
"""

from __future__ import annotations

import math
import statistics
import tomllib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.app.commands import demo

TZ = ZoneInfo("Europe/Berlin")
NAME = "nudging-before-after"
TEAMS = {"ana": "web", "ben": "web", "cara": "qa", "dan": "qa"}


def business_hours(a: datetime, b: datetime) -> float:
    """Hours of Mon-Fri 09:00-17:00 (Berlin) between ``a`` and ``b``."""
    total = 0.0
    day = a.date()
    while day <= b.date():
        if day.weekday() < 5:
            lo = max(a, datetime.combine(day, time(9), TZ))
            hi = min(b, datetime.combine(day, time(17), TZ))
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total


def add_business_hours(a: datetime, hours: float) -> datetime:
    """The moment ``hours`` of Mon-Fri 09:00-17:00 (Berlin) after ``a``, minute by minute."""
    t, left = a, round(hours * 60)
    while left:
        if t.weekday() < 5 and time(9) <= t.time() < time(17):
            left -= 1
        t += timedelta(minutes=1)
    return t


def p90(values):
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def hand_handoffs():
    """``[{tool, sender, receiver, sent, ack}]`` from the scenario's timeline."""
    data = tomllib.loads(demo.bundled()[NAME].read_text())
    acts = [{**a, "at": datetime.fromisoformat(a["at"]).replace(tzinfo=TZ)} for a in data["timeline"]]
    out = []
    for i, a in enumerate(acts):
        if a["do"] == "request_review":
            tool, receiver = "github", a["reviewer"]
        elif a["do"] == "transition" and a["status"] == "Ready for QA":
            tool, receiver = "jira", a["assignee"]
        else:
            continue
        ack = min(b["at"] for b in acts if b["item"] == a["item"] and b["actor"] == receiver and b["at"] > a["at"])
        out.append({"tool": tool, "sender": a["actor"], "receiver": receiver, "sent": a["at"], "ack": ack})
    return out, datetime.fromisoformat(data["start"]).replace(tzinfo=TZ)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    scenario = demo.load_scenario(demo.find_scenario(NAME))
    res = demo.Demo(scenario, html=tmp_path_factory.mktemp("page") / "report.html").run()
    assert res.ok, res.expectations
    return res


def lane(doc, kind, name="all", tool="all", week=None):
    rows = doc["weekly"] if week else doc["lanes"]
    [row] = [r for r in rows if (r["kind"], r["name"], r["tool"], r["week"]) == (kind, name, tool, week)]
    return row


def test_report_matches_the_hand_computation(result):
    handoffs, start = hand_handoffs()
    switch = start + timedelta(days=14)
    doc = result.report_json
    assert doc["handoffs"] == len(handoffs) == 52
    for h in handoffs:
        h["bh"] = business_hours(h["sent"], h["ack"])
        h["wall"] = (h["ack"] - h["sent"]).total_seconds() / 3600
        deadline = add_business_hours(h["sent"], 4)
        # Nudging from the third Monday, at the first hourly cycle at or after the deadline.
        nudge = deadline if deadline.minute == 0 else deadline.replace(minute=0) + timedelta(hours=1)
        h["nudge_to_ack"] = business_hours(nudge, h["ack"]) if h["sent"] >= switch and h["ack"] > deadline else None

    overall = lane(doc, "all")
    assert overall["count"] == 52 and overall["received"] == 52 and overall["open"] == 0
    assert overall["median_business_hours"] == pytest.approx(statistics.median(h["bh"] for h in handoffs), abs=1e-3)
    assert overall["p90_business_hours"] == pytest.approx(p90([h["bh"] for h in handoffs]), abs=1e-3)
    assert overall["median_wall_hours"] == pytest.approx(statistics.median(h["wall"] for h in handoffs), abs=1e-3)
    nudged = [h for h in handoffs if h["nudge_to_ack"] is not None]
    assert overall["nudged_share"] == pytest.approx(len(nudged) / 52, abs=1e-3)
    assert overall["nudge_to_ack_median"] == pytest.approx(statistics.median(h["nudge_to_ack"] for h in nudged), abs=1e-3)

    for tool in ("github", "jira"):
        mine = [h["bh"] for h in handoffs if h["tool"] == tool]
        assert lane(doc, "all", tool=tool)["count"] == len(mine)
        assert lane(doc, "all", tool=tool)["median_business_hours"] == pytest.approx(statistics.median(mine), abs=1e-3)
    for pair in {(TEAMS[h["sender"]], TEAMS[h["receiver"]]) for h in handoffs}:
        mine = [h["bh"] for h in handoffs if (TEAMS[h["sender"]], TEAMS[h["receiver"]]) == pair]
        row = lane(doc, "team", f"{pair[0]} → {pair[1]}")
        assert (row["count"], row["median_business_hours"]) == (len(mine), pytest.approx(statistics.median(mine), abs=1e-3))
    jira = [h["bh"] for h in handoffs if h["tool"] == "jira"]
    assert lane(doc, "status", "In Review → Ready for QA")["count"] == len(jira)

    for w in range(4):
        monday = start.date() + timedelta(days=7 * w)
        mine = [h["bh"] for h in handoffs if h["sent"].date() - timedelta(days=h["sent"].weekday()) == monday]
        row = lane(doc, "all", week=monday.isoformat())
        assert (row["count"], row["median_business_hours"]) == (len(mine), pytest.approx(statistics.median(mine), abs=1e-3))

    before = [h["bh"] for h in handoffs if h["sent"] < switch]
    after = [h["bh"] for h in handoffs if h["sent"] >= switch]
    [c] = [c for c in doc["comparison"]["lanes"] if (c["kind"], c["tool"]) == ("all", "all")]
    assert (c["before_count"], c["after_count"]) == (len(before), len(after)) == (26, 26)
    assert c["before_median"] == pytest.approx(statistics.median(before), abs=1e-3)
    assert c["after_median"] == pytest.approx(statistics.median(after), abs=1e-3)
    assert c["change_hours"] == pytest.approx(statistics.median(after) - statistics.median(before), abs=1e-3)
    assert c["ci_low"] <= c["change_hours"] <= c["ci_high"] < 0
    assert c["verdict"] == "faster" and c["claim_met"] is True
    # Lanes with fewer than five handoffs on a side say so instead of guessing.
    thin = [c for c in doc["comparison"]["lanes"] if min(c["before_count"], c["after_count"]) < 5]
    assert thin and all(c["verdict"] == "too few handoffs to tell" and c["ci_low"] is None for c in thin)


def test_demo_ends_with_report_lines_and_the_page(result):
    text = demo.render_text(result)
    assert "Report (handoff-bridge report):" in text
    assert "52 handoffs: median delay" in text and "before/after: all handoffs: median" in text
    assert f"HTML page: {result.html_path}" in text
    page = open(result.html_path, encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 3
