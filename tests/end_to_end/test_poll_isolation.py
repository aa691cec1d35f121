"""The engine's poll stage isolates each connector (issue 12, "one bad item never ... aborts a
cycle"): a connector whose poll fails in a way that is not one of our errors, or ends early,
never stops the others' polling, the evaluation or the delivery."""

from __future__ import annotations

from bridge.core import errors
from bridge.core.model import Account, PollResult
from tests.support.world import World


class Broken:
    """A connector whose vendor client raises what the Asana client raised on a non-JSON body."""

    name = "broken"
    tool = "jira"

    def __init__(self):
        self.polls = 0

    def scopes(self):
        return ["project = X", "project = Y"]

    def whoami(self):
        return Account("jira", "bot")

    def poll(self, scope, cursor, known=None):
        self.polls += 1
        raise AttributeError("'bytes' object has no attribute 'get'")


def _with_first(world: World, name: str, conn) -> None:
    """Put ``conn`` before the world's own connectors (so it is polled first)."""
    world.engine.connectors = {name: conn, **world.engine.connectors}
    world.engine.health.add(name)


def test_a_crashing_connector_never_stops_the_others_nor_the_delivery(tmp_path):
    world = World(tmp_path)
    try:
        broken = Broken()
        _with_first(world, "broken", broken)
        world.open_pr_with_review_request()
        reports = world.run_until("2026-11-23 13:30")
        assert len(world.bot_comments()) == 1, "the overdue review request on GitHub was nudged"
        # A connector that never answered since start is down after its first failure (its other
        # scope waits) and is tried again with backoff: every 15-minute cycle here.
        assert broken.polls == len(reports), "each cycle tried the broken connector again"
        assert all(any("AttributeError" in e for e in r.errors) for r in reports)
        assert all("github:acme/web" in r.polled for r in reports)
    finally:
        world.close()


class StopsEarly(Broken):
    """A connector that read something, then hit a rate limit (``PollResult.stopped_by``)."""

    def poll(self, scope, cursor, known=None):
        self.polls += 1
        return PollResult(next_cursor={"at": self.polls}, stopped_by=errors.RateLimited("jira", "GET /search", 3600))


def test_a_poll_that_ended_early_is_stored_and_its_error_taken_in(tmp_path):
    world = World(tmp_path)
    try:
        early = StopsEarly()
        _with_first(world, "early", early)
        report = world.engine.cycle()
        assert world.store.get_cursor("early", "project = X") == {"at": 1}, "what was read is stored"
        assert early.polls == 1, "the rate limit pauses the connector: its second scope waits"
        assert "early:project = X" not in report.polled and any("rate limited" in e or "retry after" in e for e in report.errors)
        assert not world.engine.health.available("early")
    finally:
        world.close()
