"""A review requested by a deleted ("ghost") GitHub user (null ``actor`` and
``review_requester`` on the timeline entry) is a handoff with an unknown sender: the reviewer
is nudged, the text says "someone" (issue 12, "ghost users")."""

from __future__ import annotations

from tests.support.world import World, berlin


def test_a_review_requested_by_a_deleted_user_still_nudges_the_reviewer(tmp_path):
    world = World(tmp_path)
    try:
        world.emu.open_issue("acme/web", "ana", "Rate-limit the login endpoint", pull_request=True,
                             at=berlin("2026-11-23 09:00"), number=7)
        world.emu.request_review("acme/web", 7, "ana", "ben-o", at=berlin("2026-11-23 09:05"))
        issue, timeline = world.emu.issue("acme/web", 7), world.emu.timeline("acme/web", 7)
        [request] = [e for e in timeline if e.get("event") == "review_requested"]
        request["actor"] = request["review_requester"] = None  # the requester's account was deleted
        for n, entry in enumerate(timeline):
            entry["id"] = 990_000 + n  # ids of their own (the store keeps one event per id)
        world.emu.load_recorded("acme/web", 12, {**issue, "number": 12}, timeline)
        world.run_until("2026-11-23 13:30")
        [handoff] = [h for h in world.engine.last.handoffs if h.item.key == "acme/web#12"]
        assert handoff.sender is None and handoff.receiver.id == "ben-o"
        [nudge] = world.bot_comments(number=12)
        assert "@ben-o" in nudge["body"]
    finally:
        world.close()
