"""What the engine keeps in memory is bounded by what stands now, not by the daemon's age.

``Engine._persisted`` (handoffs last written), ``Engine._recorded`` (findings known to be in the
store) and the evaluator's snapshot cache are pruned; what is pruned is rebuilt from the store
when next needed, and nothing is posted twice because of it (bench/soak.py measures the same
over 5,000 cycles).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.support.world import World, berlin


def _handoff_rows(world: World, number: int) -> list:
    return [h for h in world.store.handoffs() if h.item_key == f"acme/web#{number}"]


def test_an_ended_handoff_is_written_once_then_forgotten_and_a_rewalk_writes_the_same_row(tmp_path):
    w = World(tmp_path)
    try:
        w.open_pr_with_review_request()
        w.emu.comment("acme/web", 12, "ben-o", "On it", at=berlin("2026-11-23 10:00"))
        w.at("2026-11-23 10:15")
        w.run_until("2026-11-23 11:00")
        [row] = _handoff_rows(w, 12)
        assert row.state == "received" and row.ended_at is not None
        assert row.key not in w.engine._persisted  # ended: written, then not kept
        first_end = row.ended_at
        # A third party's comment makes the item walk again: the ended handoff is reported
        # again and written again, as it was.
        w.emu.comment("acme/web", 12, "dana", "FYI", at=berlin("2026-11-23 11:20"))
        w.run_until("2026-11-23 12:00")
        [again] = _handoff_rows(w, 12)
        assert (again.key, again.state, again.ended_at, again.deadline) == (row.key, "received", first_end, row.deadline)
        assert row.key not in w.engine._persisted
    finally:
        w.close()


def test_a_busy_day_leaves_memory_at_what_stands_and_posts_each_step_once(tmp_path):
    """Twelve pull requests over a Monday, every other one acknowledged within the hour; the
    others get their nudge at the deadline and are closed by their author an hour later."""
    w = World(tmp_path)
    try:
        w.engine.evaluator.items.keep = 2  # snapshots not asked for in two refreshes are dropped
        acked, closed, opened = {}, {}, {}
        for k in range(12):
            n = 100 + k
            opened[n] = berlin("2026-11-23 09:00") + timedelta(minutes=20 * k)
            if k % 2 == 0:
                acked[n] = opened[n] + timedelta(minutes=40)
            else:
                closed[n] = opened[n] + timedelta(hours=5, minutes=10)  # deadline 4 h + nudge, then closed
        acts = sorted([(t, "open", n) for n, t in opened.items()] + [(t, "ack", n) for n, t in acked.items()]
                      + [(t, "close", n) for n, t in closed.items()])
        w.at("2026-11-23 09:00")
        sizes = []
        while w.clock() <= berlin("2026-11-24 12:00"):
            while acts and acts[0][0] <= w.clock():
                t, act, n = acts.pop(0)
                if act == "open":
                    w.emu.open_issue("acme/web", "ana", f"Change {n}", pull_request=True, at=t, number=n)
                    w.emu.request_review("acme/web", n, "ana", "ben-o", at=t)
                elif act == "ack":
                    w.emu.comment("acme/web", n, "ben-o", "Looking", at=t)
                else:
                    w.emu.close("acme/web", n, "ana", at=t)
            w.engine.cycle()
            e = w.engine
            sizes.append((len(e._persisted), len(e._recorded or ()), len(e.evaluator.items._known)))
            w.clock.advance(timedelta(minutes=15))
        # Nothing posted twice, nothing after an acknowledgement, every unacknowledged one nudged.
        markers = Counter()
        for n in (*acked, *closed):
            mine = w.bot_comments(number=n)
            markers.update(w.markers(number=n))
            if n in acked:
                assert mine == [], n
            else:
                assert len(mine) == 1, (n, [c["body"] for c in mine])
        assert markers and max(markers.values()) == 1
        # At the end nothing stands: what the engine keeps is empty, not twelve handoffs' worth.
        persisted, recorded, snapshots = sizes[-1]
        assert (persisted, recorded) == (0, 0)
        assert snapshots <= 2
        assert max(p for p, _, _ in sizes) < 12
        # Everything ended is in the store, once per handoff.
        rows = w.store.handoffs()
        assert len(rows) == 12 and all(h.ended_at is not None for h in rows)
    finally:
        w.close()
