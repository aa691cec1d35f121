"""Adoption without a storm (issue 13): handoffs the daemon first finds long overdue (a first
start on a tracker with a backlog) are not nudged at once with a deadline in the past. Their
deadline restarts ``[adoption] grace`` (the receiver's business time) after the daemon first saw
them, the comment says since when they have waited, and each receiver gets at most
``per_person_per_day`` first nudges of adopted handoffs in any 24 hours, oldest first. Real
engine, PyGithub over HTTP against the emulator, stepping clock (Berlin, 09:00-17:00)."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.support.world import World, berlin


def _backlog(w: World, n: int, receiver: str = "ben-o", first: int = 20, day: str = "2026-11-16") -> None:
    """``n`` pull requests whose reviews ana requested from ``receiver`` on ``day`` (a Monday),
    an hour apart from 09:05; all long overdue a week later."""
    for i in range(n):
        at = berlin(f"{day} 09:00") + timedelta(hours=i % 7, days=i // 7)
        w.emu.open_issue("acme/web", "ana", f"Backlog {i}", pull_request=True, at=at, number=first + i)
        w.emu.request_review("acme/web", first + i, "ana", receiver, at=at + timedelta(minutes=5))


def _nudges(w: World, numbers) -> dict[int, list[dict]]:
    return {n: w.bot_comments(number=n) for n in numbers}


def test_a_backlog_found_at_first_start_is_adopted_spread_under_the_cap_and_never_names_a_past_deadline(tmp_path):
    w = World(tmp_path, start="2026-11-23 09:00", extra='[adoption]\ngrace = "2h"\nper_person_per_day = 3\n')
    try:
        _backlog(w, 5)
        numbers = range(20, 25)
        w.engine.cycle()  # Mon 23 Nov 09:00: the first start finds five overdue review requests
        assert all(not c for c in _nudges(w, numbers).values()), "nothing is nudged at first sight"
        w.run_until("2026-11-23 10:45")
        assert all(not c for c in _nudges(w, numbers).values()), "the grace (2 business hours) is not over"
        w.run_until("2026-11-23 16:45")
        nudged = {n for n, c in _nudges(w, numbers).items() if c}
        assert nudged == {20, 21, 22}, "three a day for ben, the oldest requests first"
        for n in nudged:
            [comment] = w.bot_comments(number=n)
            body = comment["body"]
            assert "since Mon 16 Nov" in body, body
            assert "by Mon 23 Nov 11:00 CET" in body, "the restarted deadline, never a day long past"
            assert not re.search(r"by \w{3} 1[6-9] Nov", body)
        w.at("2026-11-24 08:00")
        w.run_until("2026-11-24 16:45")
        nudged = {n for n, c in _nudges(w, numbers).items() if c}
        assert nudged == {20, 21, 22, 23, 24}, "the others had their turn the next day"
        for n in numbers:
            markers = w.markers(number=n)
            assert len(markers) == len(set(markers)), "never twice"
    finally:
        w.close()


def test_a_handoff_overdue_while_the_daemon_ran_is_not_adopted(tmp_path):
    w = World(tmp_path, start="2026-11-23 08:00")
    try:
        w.open_pr_with_review_request()  # deadline Mon 13:05
        w.run_until("2026-11-23 13:15")
        [comment] = w.bot_comments()
        assert "by Mon 23 Nov 13:05 CET" in comment["body"] and "since" not in comment["body"]
    finally:
        w.close()


def test_adoption_survives_a_restart_and_escalation_counts_from_the_restarted_deadline(tmp_path):
    w = World(tmp_path, start="2026-11-23 09:00", extra='[adoption]\ngrace = "1h"\n')
    try:
        _backlog(w, 1)
        w.engine.cycle()
        w.restart()
        w.run_until("2026-11-23 10:15")
        [nudge] = w.bot_comments(number=20)
        assert "by Mon 23 Nov 10:00 CET" in nudge["body"]
        w.run_until("2026-11-23 17:00")
        handed = lambda: [c for c in w.bot_comments(number=20) if "handing it to you" in c["body"]]  # noqa: E731
        assert handed() == [], "the reassign step (8h after the deadline) counts from the restarted deadline"
        w.at("2026-11-24 09:00")
        w.run_until("2026-11-24 10:15")
        assert len(handed()) == 1, "and comes 8 business hours after it: Tue 10:00"
    finally:
        w.close()


def test_next_steps_say_when_and_why_a_step_waits(tmp_path):
    from bridge.engine.why import next_steps

    w = World(tmp_path, start="2026-11-23 09:00", extra='[adoption]\ngrace = "2h"\nper_person_per_day = 1\n')
    try:
        _backlog(w, 2)
        report = w.engine.cycle()
        reasons = {s.item: s.reason for s in next_steps(w.engine, report.findings, report.inhibited, report.at)}
        assert reasons["acme/web#20"] == ("due Mon 23 Nov 11:00 CET (ben-o's time) (adopted: found overdue at "
                                          "first sight, deadline restarted to Mon 23 Nov 11:00 CET)")
        w.at("2026-11-23 11:00")
        report = w.engine.cycle()
        steps = {s.item: s for s in next_steps(w.engine, report.findings, report.inhibited, report.at)}
        assert "reassign" == steps["acme/web#20"].do and "due Tue 24 Nov 11:00 CET" in steps["acme/web#20"].reason
        assert steps["acme/web#21"].reason.startswith("adopted, waits its turn: ben-o had 1 first nudges"), \
            steps["acme/web#21"].reason
        assert "next turn from Tue 24 Nov 11:00 CET" in steps["acme/web#21"].reason
        w.at("2026-11-23 18:00")
        report = w.engine.cycle()
        steps = {s.item: s for s in next_steps(w.engine, report.findings, report.inhibited, report.at)}
        assert steps["acme/web#21"].reason.startswith("due, waits for ben-o's working hours: Tue 24 Nov 09:00 CET")
    finally:
        w.close()


def test_the_bundled_backlog_never_names_a_deadline_from_before_the_daemon_started():
    """``backlog-adopted``: 30 review requests, all long overdue when the daemon starts. Every
    comment names a deadline at or after the daemon's first cycle, and says since when it waited."""
    from datetime import datetime

    from bridge.app.commands import demo

    scenario = demo.load_scenario(demo.bundled()["backlog-adopted"])
    result = demo.Demo(scenario).run()
    assert result.ok, result.expectations
    assert len(result.comments) == 30
    for c in result.comments:
        named = re.search(r"by (\w{3} \d{2} \w{3} \d{2}:\d{2}) CET", c["body"])
        assert named and "has waited for your review since" in c["body"], c["body"]
        when = datetime.strptime(f"2026 {named.group(1)}", "%Y %a %d %b %H:%M").replace(tzinfo=scenario.tz)
        assert when >= scenario.daemon_start, c["body"]
