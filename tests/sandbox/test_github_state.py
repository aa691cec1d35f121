"""The GitHub emulator's world and renderers on their own: no Flask, no HTTP."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from bridge.core.clock import SteppingClock
from connectors.sandbox.github import render
from connectors.sandbox.github.state import GitHubState, RateWindow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_state_and_render_do_not_load_flask():
    code = ("import sys, connectors.sandbox.github.state, connectors.sandbox.github.render; "
            "sys.exit('flask' in sys.modules or 'werkzeug' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_mutations_write_the_timeline_in_order():
    clock = SteppingClock(T0)
    world = GitHubState(clock)
    issue = world.open_issue("acme/web", "ana", "Broken build", pull_request=True)
    world.request_review("acme/web", issue.number, "ana", "ben")
    clock.advance(timedelta(minutes=5))
    world.comment("acme/web", issue.number, "ben", "looking")
    clock.advance(timedelta(minutes=5))
    world.submit_review("acme/web", issue.number, "ben", "approved")

    items = render.timeline_json(world, issue)
    assert [i["event"] for i in items] == ["review_requested", "commented", "reviewed"]
    assert items[1]["actor"]["login"] == "ben" and items[2]["state"] == "approved"
    assert issue.requested_reviewers == []
    assert issue.updated_at == "2026-03-02T09:10:00Z"
    shown = render.issue_json(world, issue)
    assert shown["comments"] == 1 and shown["pull_request"]["url"].startswith(render.API_ROOT)


def test_unknown_items_and_pull_request_acts_on_issues_are_refused():
    world = GitHubState(SteppingClock(T0))
    number = world.open_issue("acme/web", "ana", "An issue").number
    with pytest.raises(KeyError):
        world.issue("acme/web", number + 1)
    with pytest.raises(ValueError):
        world.request_review("acme/web", number, "ana", "ben")


def test_rate_window_counts_up_to_the_limit_and_rolls_over():
    rate = RateWindow(reset=100, limit=2)
    for _ in range(3):
        rate.spend()
    assert rate.used == 2
    rate.roll(99)
    assert rate.used == 2
    rate.roll(100)
    assert (rate.used, rate.reset) == (0, 3700)
