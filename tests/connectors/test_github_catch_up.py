"""GitHubConnector.poll under faults on the list and timeline reads (issue 12, "a lost event",
"catch-up under faults", "every exception that leaves a connector is one of ours").

The faults are served by the emulator over real HTTP, through a ``before_request`` hook of
its Flask app that this test adds (the emulator's own hook runs first): a *slow* read is a
read during which the tracker changes (the oldest issue of the window is commented on, so
it moves to the end of the ``updated_at`` order and every issue after it shifts one place),
a *lost* read drops the connection after answering, a *5xx* read answers 502. Each fault
hits a read and the client's retries of it (PyGithub retries GETs twice), so the connector
sees it. After any order of faults and a quiet period, every event the emulator holds
(what ``fetch`` gives for each issue) is in the store. The orders are an explicit product
(``itertools``): every fault on every read alone, and the three faults in every order over
the reads where a page can shift (48 runs).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from flask import Response, request

from bridge.core import errors
from bridge.core.clock import SteppingClock
from bridge.core.model import ItemRef, PollResult
from connectors.github.client import GitHubConnector
from connectors.sandbox.emulation import LOST
from connectors.sandbox.github.emulator import GitHubEmulator
from connectors.sandbox.github.state import parse_ts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TOKEN = "ghp_catch_up_test"
REPO = "acme/web"
STEP = timedelta(minutes=5)  # between changes: beyond the connector's 2-minute overlap
RETRIES = 3  # one read and PyGithub's two retries of it


class Store:
    """The part of the engine's store ``poll`` needs: cursor, stored ``updated_at``, event ids."""

    def __init__(self):
        self.cursor = None
        self.updated: dict = {}
        self.event_ids: set[str] = set()

    def save(self, result: PollResult) -> None:
        if result.next_cursor is not None:
            self.cursor = result.next_cursor
        for it in result.items:
            self.updated[it.ref.key] = it.updated_at
        self.event_ids |= {e.id for e in result.events}

    def poll(self, conn: GitHubConnector) -> PollResult:
        result = conn.poll(REPO, self.cursor, known=lambda keys: {k: self.updated.get(k) for k in keys})
        self.save(result)
        return result


class Tracker:
    """The emulator, the connector and the faults served to the next poll's reads."""

    def __init__(self):
        self.clock = SteppingClock(T0)
        self.emu = GitHubEmulator(clock=self.clock)
        self.emu.app.before_request(self._fault)
        self.emu.start()
        self.emu.add_user("hb-bot")
        self.emu.add_token(TOKEN, "hb-bot")
        for login in ("ana", "ben", "cara"):
            self.emu.add_user(login)
        self.emu.create_repo(REPO)
        self.conn = GitHubConnector("github", base_url=self.emu.url, token=TOKEN, repositories=[REPO],
                                    clock=self.clock, per_page=2, seconds_between_requests=0,
                                    seconds_between_writes=0)
        self.plan: dict[tuple[str, int], str] = {}  # (read kind, n-th of this poll) -> fault
        self.seen: dict[str, int] = {}
        self.hits: dict[str, int] = {}  # full path -> faulted answers left (the retries)
        self.faulted = 0

    def tick(self) -> datetime:
        self.clock.advance(STEP)
        return self.clock()

    def arm(self, faults: dict[tuple[str, int], str]) -> None:
        self.plan, self.seen, self.hits = dict(faults), {}, {}

    def _fault(self):
        path = request.path
        kind = "timeline" if path.endswith("/timeline") else "list" if path.endswith("/issues") else None
        if kind is None:
            return None
        full = request.full_path
        if full not in self.hits:
            self.seen[kind] = self.seen.get(kind, 0) + 1
            fault = self.plan.pop((kind, self.seen[kind]), None)
            if fault is None:
                return None
            self.hits[full] = RETRIES if fault != "slow" else 1
            self.hits[full, "kind"] = fault
        fault = self.hits.get((full, "kind"))
        if fault is None or self.hits[full] <= 0:
            return None
        self.hits[full] -= 1
        self.faulted += 1
        if fault == "slow":
            self._change_while_reading()
            return None
        if fault == "lost":
            request.environ[LOST] = True
            return None
        return Response(b'{"message":"Server Error"}', 502, content_type="application/json")

    def _change_while_reading(self) -> None:
        """Comment on the oldest issue of the window being read: it moves to the end of the list."""
        since = request.args.get("since")
        with self.emu.state.lock:
            issues = [i for i in self.emu.state.issues.values() if i.repo == REPO
                      and (since is None or parse_ts(i.updated_at) >= parse_ts(since))]
            oldest = min(issues, key=lambda i: (parse_ts(i.updated_at), i.number), default=None)
        if oldest is not None:
            self.emu.comment(REPO, oldest.number, "cara", "meanwhile", at=self.tick())

    def stop(self) -> None:
        self.emu.stop()


def _changes(t: Tracker, round_: int) -> None:
    """Three issues change, each a different kind of fact, oldest-stored first."""
    numbers = sorted(t.emu.numbers(REPO))
    t.emu.request_review(REPO, numbers[round_ % 2], "ana", "ben", at=t.tick())
    t.emu.comment(REPO, numbers[2 + round_ % 2], "ben", f"round {round_}", at=t.tick())
    t.emu.assign(REPO, numbers[(round_ + 1) % 4], "ana", "cara", at=t.tick())


def _run(faults: list[tuple[str, str, int]]) -> None:
    t = Tracker()
    try:
        for n in range(4):
            t.emu.open_issue(REPO, "ana", f"item {n}", pull_request=n < 2, at=t.tick())
        store = Store()
        store.poll(t.conn)
        for round_, (fault, kind, nth) in enumerate(faults):
            _changes(t, round_)
            t.arm({(kind, nth): fault})
            try:
                store.poll(t.conn)
            except errors.ConnectorError:
                pass  # the faults' purpose; anything else fails the test
        t.arm({})
        for _ in range(6):  # the quiet period: polls until one adds nothing
            if store.poll(t.conn).next_cursor is None:
                break
        for number in t.emu.numbers(REPO):
            live = t.conn.fetch(ItemRef("github", f"{REPO}#{number}"))
            missing = {e.kind.value for e in live.events if e.id not in store.event_ids}
            assert not missing, f"{REPO}#{number}: {sorted(missing)} never reached the store (faults {faults})"
    finally:
        t.stop()


KINDS = ("slow", "lost", "5xx")
#: Each read a fault can hit: the first list request, a later one, the first and second timeline.
READS = (("list", 1), ("list", 2), ("timeline", 1), ("timeline", 2))
SINGLE = [(kind, *read) for kind in KINDS for read in READS]


@pytest.mark.parametrize("fault", SINGLE, ids=lambda f: "-".join(map(str, f)))
def test_every_event_reaches_the_store_after_any_one_fault(fault):
    _run([fault])


@pytest.mark.parametrize("order", list(itertools.permutations(KINDS)), ids="-".join)
@pytest.mark.parametrize("reads", list(itertools.product(READS[1:3], repeat=3)),
                         ids=lambda r: "-".join(f"{k}{n}" for k, n in r))
def test_every_event_reaches_the_store_under_faults_in_every_order(order, reads):
    """The three faults, one per poll, in every order, each on a later list read or a timeline."""
    _run([(kind, *read) for kind, read in zip(order, reads)])


def test_an_issue_shifted_between_list_pages_is_still_read():
    """The observed loss: a change while the second list page is read shifts an issue that
    changed onto the first page already read; following ``Link: next`` never sees it."""
    _run([("slow", "list", 2)])


def test_a_failed_timeline_keeps_what_was_read_and_resumes_after_it():
    t = Tracker()
    try:
        for n in range(4):
            t.emu.open_issue(REPO, "ana", f"item {n}", at=t.tick())
        store = Store()
        store.poll(t.conn)
        numbers = sorted(t.emu.numbers(REPO))
        for number in numbers:
            t.emu.comment(REPO, number, "ben", "changed", at=t.tick())
        t.arm({("timeline", 3): "5xx"})
        result = store.poll(t.conn)
        assert isinstance(result.stopped_by, errors.TransientError)
        assert [it.ref.key for it in result.items] == [f"{REPO}#{n}" for n in numbers[:2]]
        t.arm({})
        resumed = store.poll(t.conn)
        # The two read before the failure are not read again; the two after it are.
        assert sorted(it.ref.key for it in resumed.items) == [f"{REPO}#{n}" for n in numbers[2:]]
        assert resumed.stopped_by is None
    finally:
        t.stop()


@pytest.mark.parametrize("body", [b'[{"number": 1, "updated_at": "2026-', b"<html>502 Bad Gateway</html>", b'{"oops": 1}'])
def test_an_unreadable_list_answer_is_a_transient_error(body):
    t = Tracker()
    try:
        t.emu.open_issue(REPO, "ana", "item", at=t.tick())

        def garbage():
            if request.path.endswith("/issues"):
                return Response(body, 200, content_type="application/json")
            return None

        t.emu.app.before_request(garbage)
        with pytest.raises(errors.TransientError) as caught:
            Store().poll(t.conn)
        assert "ghp_" not in str(caught.value)
    finally:
        t.stop()
