"""``/hb`` commands end to end: PyGithub over real HTTP against the emulator, real store,
stepping clock. Each command comment is answered exactly once, also across a lost response and
a restart; the daemon's own replies are never commands; ``explain`` shows them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.app.commands.explain import explain
from bridge.core.model import ItemRef
from tests.support.world import DiesAfterSending, berlin, world  # world: the fixture


def replies(w):
    return [c for c in w.bot_comments() if "I need your" not in c["body"] and "handing it to you" not in c["body"]]


def test_a_snooze_is_answered_once_and_moves_the_nudge(world):
    w = world()
    w.open_pr_with_review_request()  # due Mon 13:05
    w.emu.comment("acme/web", 12, "ben-o", "Release day.\n/hb snooze 1d", at=berlin("2026-11-23 10:00"))
    w.run_until("2026-11-23 16:00")
    [reply] = replies(w)
    assert reply["body"].startswith("@ben-o: snoozed until Tue 24 Nov 10:00 CET")
    assert len(w.bot_comments()) == 1, "no nudge at Mon 13:05: the clock stood still"
    w.run_until("2026-11-24 13:00")
    assert len(w.bot_comments()) == 1
    w.run_until("2026-11-24 13:15")
    assert len(w.bot_comments()) == 2 and w.bot_comments()[1]["body"].startswith("@ben-o: I need your review")
    out = explain(w.engine, ItemRef("github", "acme/web#12"))
    assert "Commands (1):" in out and "'/hb snooze 1d' by ben-o" in out and "APPLIED under rule" in out


def test_a_reply_whose_response_was_lost_is_not_written_twice(world):
    w = world()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 09:59")
    w.emu.comment("acme/web", 12, "ben-o", "/hb why", at=berlin("2026-11-23 10:00"))
    w.engine.connectors["github"] = DiesAfterSending(w.engine.connectors["github"])
    with pytest.raises(SystemExit):
        w.clock.set(berlin("2026-11-23 10:15"))
        w.engine.cycle()
    assert len(replies(w)) == 1
    w.restart()
    w.run_until("2026-11-23 12:00")
    [reply] = replies(w)
    assert "ana handed it to ben (review_requested" in reply["body"].replace("\\", "")
    [row] = [r for r in w.store.outbox() if r.key.startswith("cmd:")]
    assert (row.status, row.attempts) == ("done", 1)


def test_the_daemons_own_reply_is_never_a_command_and_help_lists_the_verbs(world):
    w = world()
    w.open_pr_with_review_request()
    w.emu.comment("acme/web", 12, "dana", "/hb help", at=berlin("2026-11-23 10:00"))
    w.emu.comment("acme/web", 12, "dana", "/hb frobnicate", at=berlin("2026-11-23 10:01"))
    w.run_until("2026-11-23 12:00", step=timedelta(minutes=15))
    got = replies(w)
    assert len(got) == 2, "one reply per command comment, none to the replies themselves"
    assert "/hb snooze" in got[0]["body"] and "I do not know" in got[1]["body"]


def test_a_restart_before_the_reply_went_out_still_answers_once(world):
    w = world()
    w.open_pr_with_review_request()
    w.emu.comment("acme/web", 12, "ben-o", "/hb received", at=berlin("2026-11-23 10:00"))
    w.run_until("2026-11-23 10:00")
    w.restart()  # the walk states are restored from the store; the comment is not walked again
    w.run_until("2026-11-23 15:00")
    [reply] = replies(w)
    assert "acknowledged" in reply["body"]
    assert len(w.bot_comments()) == 1, "acknowledged by /hb received: no nudge at 13:05"
