"""A dismissed review (issue 12): the dismissal is an event with its actor and time, and a
dismissed "changes requested" no longer stands as a wait-for edge.

GitHub turns the dismissed review's timeline ``reviewed`` entry to state ``dismissed`` and adds a
``review_dismissed`` issue event (spec ``review-dismissed-issue-event``; recorded in
PyGithub's IssueEvent.setUp.txt) naming the dismisser and the review id, not the reviewer. The
store keeps an event as first read (same id: ignored), so the review stays ``changes_requested``
there: only the dismissal event can end it. Over real HTTP against the emulator.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bridge.core.model import Account, Event, EventKind, ItemRef
from connectors.github.timeline import map_timeline
from rules import standoff
from tests.support.github import emulated_github
from tests.support.recorded import read_replay

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TOKEN, BOT, REPO = "ghp_dismissal_test", "hb-bot", "acme/web"


@pytest.fixture
def env():
    with emulated_github(T0, TOKEN, BOT, REPO) as env:
        yield env


class Kept:
    """Events as the store keeps them: the first read of an id wins; the latest snapshot per item."""

    def __init__(self):
        self.cursor, self.events, self.items = None, {}, {}

    def poll(self, conn):
        result = conn.poll(REPO, self.cursor, known=lambda keys: {k: None for k in keys})
        self.cursor = result.next_cursor or self.cursor
        for ev in result.events:
            self.events.setdefault(ev.id, ev)
        self.items.update({it.ref: it for it in result.items})
        return result

    def edges(self, ref):
        evs = sorted((e for e in self.events.values() if e.item == ref), key=lambda e: e.at)
        return [(e.kind, e.waiter.id, e.holder.id) for e in
                standoff.review_edges(ref, evs, self.items[ref], bots=set(), who=lambda a: str(a) if a else None)]


def test_a_dismissed_changes_request_is_an_event_and_no_longer_a_wait(env):
    emu, conn, clock = env
    emu.open_issue(REPO, "ana", "Rate-limit login", pull_request=True, number=12, at=clock())
    review = emu.submit_review(REPO, 12, "ben", "CHANGES_REQUESTED", "Needs a test", at=clock() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=10))
    kept, ref = Kept(), ItemRef("github", f"{REPO}#12")
    kept.poll(conn)
    assert kept.edges(ref) == [(standoff.CHANGES, "ben", "ana")]  # ben waits for ana to answer

    dismissed_at = clock() + timedelta(minutes=20)
    emu.dismiss_review(REPO, 12, "cara", review["id"], "Outdated after the rebase", at=dismissed_at)
    clock.advance(timedelta(hours=1))
    kept.poll(conn)
    [dismissal] = [e for e in kept.events.values() if e.kind == EventKind.REVIEW_DISMISSED]
    assert (dismissal.actor, dismissal.subject, dismissal.at, dismissal.review_state, dismissal.text) == (
        Account("github", "cara"), Account("github", "ben"), dismissed_at, "changes_requested", "Outdated after the rebase")
    [first_read] = [e for e in kept.events.values() if e.kind == EventKind.REVIEWED]
    assert (first_read.actor.id, first_read.review_state) == ("ben", "changes_requested")  # kept as first read
    assert kept.edges(ref) == []


def test_the_recorded_review_dismissed_event_maps_with_the_reviewer_from_the_timeline():
    exchange = next(x for x in read_replay("IssueEvent.setUp.txt")
                    if '"event":"review_dismissed"' in x.body.replace(" ", ""))
    entry = json.loads(exchange.body)
    rid = entry["dismissed_review"]["review_id"]
    reviewed = {"id": rid, "event": "reviewed", "state": "dismissed", "user": {"login": "reviewer1"},
                "submitted_at": "2018-08-10T20:00:00Z", "body": ""}
    ref = ItemRef("github", "PyGithub/PyGithub#857")
    result = map_timeline(ref, [reviewed, entry])
    dismissal = next(e for e in result.events if e.kind == EventKind.REVIEW_DISMISSED)
    assert dismissal == Event("github", f"ev:{entry['id']}", ref, datetime(2018, 8, 11, 1, 7, 10, tzinfo=timezone.utc),
                              EventKind.REVIEW_DISMISSED, Account("github", "sfdye"), subject=Account("github", "reviewer1"),
                              review_state="changes_requested", text="dismiss")
    alone = map_timeline(ref, [entry])  # from /issues/events: the reviewer is not named
    assert [(e.kind, e.actor, e.subject) for e in alone.events] == [
        (EventKind.REVIEW_DISMISSED, Account("github", "sfdye"), None)] and alone.skipped == []
