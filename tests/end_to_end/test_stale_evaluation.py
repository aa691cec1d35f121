"""An evaluation made at an older "now" never ends what a newer one found (issue 12, "why a
standing finding drops out of one cycle's evaluation").

The daemon runs each connector's cycle on its own thread; a cycle takes its ``now`` when it
starts and gives up the store lock while it polls, so another connector's cycle, started later,
can record a finding that became due in between. The older cycle's evaluation does not see
that finding yet (at its ``now`` it was not due): it must neither resolve it nor cancel its
outbox rows: evaluations never go back in time. In the chaos run such cycles resolved a batch of fresh findings right after a
restart and cancelled their nudges (the revival fix then planned them again a cycle later).
"""

from __future__ import annotations

from bridge.engine.cycle import CycleReport
from tests.support.world import World, berlin


def _stale_cycle(world: World, at: str) -> CycleReport:
    """The stages of a cycle that started at ``at`` (older than the last one), without a poll."""
    now = berlin(at)
    report = CycleReport(at=now)
    world.engine._take(report, world.engine.recheck(world.engine.evaluate(now), now))
    world.engine.plan(report, now)
    world.engine.deliver(report, now)
    return report


def test_an_older_evaluation_neither_resolves_nor_cancels_a_newer_finding(tmp_path):
    world = World(tmp_path, connector="write_budget_per_hour = 0")  # the nudge waits in the outbox
    try:
        world.open_pr_with_review_request()  # deadline Mon 13:05
        world.at("2026-11-23 13:10")
        newer = world.engine.cycle()
        assert [f.rule for f in newer.findings] == ["review-not-picked-up"]
        key = newer.findings[0].key
        rows = [r for r in world.store.outbox() if r.finding_key == key]
        assert [r.status for r in rows] == ["pending"], "the nudge is planned and waits for budget"
        before = {r.key: r.status for r in rows}

        stale = _stale_cycle(world, "2026-11-23 13:00")  # started before the deadline passed
        assert world.engine.last.at == berlin("2026-11-23 13:10"), "evaluated at the latest time, not at 13:00"
        assert [f.key for f in stale.findings] == [key], "the finding stands in the older cycle too"
        row = next(f for f in world.store.findings() if f.key == key)
        assert row.resolved_at is None, "an older evaluation never resolves a newer finding"
        assert {r.key: r.status for r in world.store.outbox() if r.finding_key == key} == before
    finally:
        world.close()
