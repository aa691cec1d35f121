"""One bad item never stalls its scope (issue 12): a poll that cannot read one item's own
parts (a GitHub timeline, a Jira issue's remote links, an Asana task's stories) because the
tool answers 404 or another refusal about that item lists it in ``PollResult.deferred``, reads
the rest, and moves its cursor past it. Real HTTP through the official clients against the
emulators, with the emulators' fault table."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.model import EventKind, ItemRef
from tests.connectors.test_asana_client import ADA, P1, T0, Store, clock, connector, emu, poll  # noqa: F401
from tests.connectors import test_jira_fetch_and_links as jira_t
from tests.support.github import emulated_github

__all__ = ["clock", "emu"]  # the fixtures


def test_asana_a_task_whose_stories_answer_404_is_deferred_and_the_others_are_read(emu, clock):
    gids = [emu.create_task(P1, ADA, f"t{i}", at=T0 - timedelta(hours=1)) for i in range(3)]
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=5))
    for gid in gids:
        emu.comment(gid, ADA, f"about {gid}")
    emu.faults.add("GET", f"/tasks/{gids[1]}/stories", "status", status=404, times=None)
    result = poll(conn, store, emu=emu)
    assert result.stopped_by is None, "the scope was read to its end"
    assert [(ref, "404" in why or "not found" in why.lower()) for ref, why in result.deferred] == \
        [(ItemRef("asana", gids[1]), True)]
    commented = {e.item.key for e in result.events if e.kind == EventKind.COMMENTED}
    assert commented == {gids[0], gids[2]}
    assert gids[1] not in store.cursors[P1]["pending"], "the bad task does not wait in the cursor"
    again = poll(conn, store, emu=emu)
    assert again.deferred == [] and again.stopped_by is None, "the next poll does not read it again"


def test_jira_an_issue_whose_remote_links_answer_404_is_deferred_and_the_cursor_moves():
    emu, conn, clock = jira_t.world()
    try:
        emu.create_issue("WEB", jira_t.ANA, "fine", key="WEB-1")
        emu.create_issue("WEB", jira_t.ANA, "bad", key="WEB-2")
        emu.add_remote_link("WEB-2", jira_t.ANA, "https://github.com/acme/web/pull/9", "acme/web#9 Fix")
        clock.now += timedelta(minutes=1)
        emu.create_issue("WEB", jira_t.ANA, "fine too", key="WEB-3")
        emu.faults.add("GET", r"/issue/WEB-2/remotelink", "status", status=404, times=None)
        result = conn.poll(jira_t.SCOPE, None)
        assert [ref for ref, _ in result.deferred] == [ItemRef("jira", "WEB-2")]
        assert {i.ref.key for i in result.items} == {"WEB-1", "WEB-3"}
        newest = max(i.updated_at for i in result.items)
        assert result.next_cursor and result.next_cursor["updated"].startswith(newest.strftime("%Y-%m-%dT%H:%M"))
    finally:
        emu.stop()


def test_jira_a_scope_whose_only_change_is_a_bad_issue_still_moves_its_cursor():
    emu, conn, clock = jira_t.world()
    try:
        emu.create_issue("WEB", jira_t.ANA, "bad", key="WEB-2")
        emu.add_remote_link("WEB-2", jira_t.ANA, "https://github.com/acme/web/pull/9", "acme/web#9 Fix")
        emu.faults.add("GET", r"/issue/WEB-2/remotelink", "status", status=404, times=None)
        result = conn.poll(jira_t.SCOPE, None)
        assert result.items == [] and [r.key for r, _ in result.deferred] == ["WEB-2"]
        assert result.next_cursor is not None, "the cursor moves past the deferred issue"
    finally:
        emu.stop()


def test_github_an_issue_whose_timeline_answers_404_is_deferred_and_the_rest_read():
    with emulated_github(T0, "ghp_per_item_5e2b", "hb-bot", "acme/web") as (emu, conn, clock):
        for n in (1, 2, 3):
            clock.advance(timedelta(minutes=1))
            emu.open_issue("acme/web", "ana", f"issue {n}", number=n)
        emu.faults.add("GET", r"/repos/acme/web/issues/1/timeline", "status", status=404, times=None)
        result = conn.poll("acme/web", None)
        assert result.stopped_by is None
        assert [ref.key for ref, _ in result.deferred] == ["acme/web#1"]
        assert {i.ref.key for i in result.items} == {"acme/web#2", "acme/web#3"}
        assert result.next_cursor and result.next_cursor.get("since"), "the cursor moved past the bad issue"
        clock.advance(timedelta(minutes=1))
        emu.faults.add("GET", r"/repos/acme/web/issues/1/timeline", "status", status=404, times=None)
        again = conn.poll("acme/web", result.next_cursor)
        assert again.deferred == [], "the next poll goes on from past it"
