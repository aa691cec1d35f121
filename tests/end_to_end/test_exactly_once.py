"""Exactly once, even without the store (issue 12): every send is preceded by a marker lookup,
a multi-write action is finished part by part, an uncertain row waits a grace period, and a
row's state is logged once.

The official clients over real HTTP against the emulators, real config, store and engine,
stepping clock. Faults come from ``connectors.sandbox.emulation.Faults``; ``late_apply`` holds a
write (connection dropped unanswered) until the test applies it, as a tool does that applies a
request after the client's timeout.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from tests.end_to_end.test_jira_end_to_end import JiraWorld
from tests.support.postgres import empty_database
from tests.support.world import World, berlin

WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def github(tmp_path, database_url):
    made = []

    def make(**kw):
        w = World(tmp_path, database=database_url, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def jira(tmp_path, database_url):
    made = []

    def make(**kw):
        w = JiraWorld(tmp_path, database=database_url, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def writes(emu) -> list[tuple[str, str]]:
    return [(m, p.split("?")[0]) for m, p, _ in emu.requests if m in WRITES]


def cycle_at(w, when: str):
    w.clock.set(berlin(when))
    return w.engine.cycle()


# ---------------------------------------------------------------- a lost store never re-posts


def test_fresh_store_against_a_tracker_holding_our_comments_writes_nothing_again(github, tmp_path):
    w = github()
    w.open_pr_with_review_request()
    w.run_until("2026-11-24 14:00")  # the nudge (Mon 13:15) and the reassignment (Tue 13:15)
    before = w.bot_comments()
    assert len(before) == 2
    # The store is lost: a new, empty database, the same tracker.
    w.store.engine.dispose()
    empty_database(w.config.database_url())
    w.restart()
    w.emu.reset_requests()
    # The new store first sees the handoff a day after its deadline: adopted, its steps are due
    # again from Wed 10:00 (4 business hours after Tue 14:00) and Thu 10:00; each marker is
    # looked up before its row's first send.
    reports = w.run_until("2026-11-26 11:00")
    assert writes(w.emu) == [], "no comment, no reassignment: both markers were found"
    assert w.bot_comments() == before
    rows = w.store.outbox()
    assert sorted((r.step, r.status, r.attempts) for r in rows) == [(0, "done", 0), (1, "done", 0)]
    assert {r.url for r in rows} == {c["html_url"] for c in before}
    assert sorted(d.status for r in reports for d in r.deliveries) == ["done", "done"]


def test_fresh_store_against_a_jira_holding_our_draft_creates_no_second_draft(jira, tmp_path):
    w = jira(steps='[{ after = "0h", do = "draft" }]')
    w.moved_to_qa()
    w.run_until("2026-11-23 15:00")
    [draft] = [k for k in w.emu.issue_keys("WEB") if k != "WEB-17"]
    w.store.engine.dispose()
    empty_database(w.config.database_url())
    w.restart()
    w.emu.reset_requests()
    w.run_until("2026-11-24 17:00")  # adopted by the new store: the draft step is due again on Tue
    assert writes(w.emu) == []
    assert [k for k in w.emu.issue_keys("WEB") if k != "WEB-17"] == [draft]
    [row] = w.store.outbox()
    assert (row.status, row.attempts) == ("done", 0)


# ---------------------------------------------------------------- multi-write actions, part by part


def test_jira_draft_whose_link_is_rate_limited_is_linked_later_never_created_again(jira):
    w = jira(steps='[{ after = "0h", do = "draft" }]')
    w.moved_to_qa()
    w.emu.faults.add("POST", r"/issueLink$", "status", status=429, retry_after=1, times=1)
    w.run_until("2026-11-23 16:00")
    drafts = [k for k in w.emu.issue_keys("WEB") if k != "WEB-17"]
    assert len(drafts) == 1, f"one draft, not {drafts}"
    assert ("relates to", "WEB-17") in w.emu.links(drafts[0]), "the missing part (the link) was made"
    assert writes(w.emu).count(("POST", "/rest/api/2/issue")) == 1
    [row] = w.store.outbox()
    assert row.status == "done"


def test_jira_draft_whose_link_fails_on_every_lookup_waits_and_is_never_created_again(jira):
    w = jira(steps='[{ after = "0h", do = "draft" }]')
    w.moved_to_qa()
    w.emu.faults.add("POST", r"/issueLink$", "status", status=503, times=None)
    w.run_until("2026-11-23 16:00")
    assert len([k for k in w.emu.issue_keys("WEB") if k != "WEB-17"]) == 1
    [row] = w.store.outbox()
    assert row.status == "unknown", "partly applied: it waits for its link"
    w.emu.faults.clear()
    w.run_until("2026-11-23 16:30")
    [draft] = [k for k in w.emu.issue_keys("WEB") if k != "WEB-17"]
    assert ("relates to", "WEB-17") in w.emu.links(draft)
    [row] = w.store.outbox()
    assert row.status == "done"


# ---------------------------------------------------------------- unknown outcome waits a grace period


def test_write_applied_after_the_client_gave_up_is_found_not_sent_again(github):
    w = github()  # timeout 3 s: grace max(3 x 3 s, 60 s) = 60 s
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:00")
    w.emu.faults.add("POST", r"/issues/12/comments$", "late_apply", times=1)
    [d] = cycle_at(w, "2026-11-23 13:15:00").deliveries
    assert d.status == "unknown"
    assert w.bot_comments() == [], "held by the tool, not applied yet"
    w.emu.reset_requests()
    assert cycle_at(w, "2026-11-23 13:15:20").deliveries == [], "inside the grace: no lookup, no resend"
    assert not any("/issues/12/comments" in p for _, p, _ in w.emu.requests)
    assert w.emu.apply_held() == 1  # the tool applies the write late
    assert cycle_at(w, "2026-11-23 13:15:40").deliveries == []
    [d] = cycle_at(w, "2026-11-23 13:16:20").deliveries
    assert d.status == "done"
    assert len(w.bot_comments()) == 1
    [row] = w.store.outbox()
    assert (row.status, row.attempts) == ("done", 1)
    assert row.url == w.bot_comments()[0]["html_url"]


def test_unknown_row_whose_write_never_landed_is_sent_again_after_the_grace(github):
    w = github()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:00")
    w.emu.faults.add("POST", r"/issues/12/comments$", "late_apply", times=1)
    cycle_at(w, "2026-11-23 13:15:00")
    assert cycle_at(w, "2026-11-23 13:15:30").deliveries == []
    w.emu.reset_requests()
    [d] = cycle_at(w, "2026-11-23 13:16:30").deliveries
    assert d.status == "done"
    paths = [(m, p.split("?")[0]) for m, p, _ in w.emu.requests]
    assert paths.index(("GET", "/repos/acme/web/issues/12/comments")) < paths.index(("POST", "/repos/acme/web/issues/12/comments"))
    assert len(w.bot_comments()) == 1
    [row] = w.store.outbox()
    assert (row.status, row.attempts) == ("done", 2)


# ---------------------------------------------------------------- a lookup that cannot tell, logged once


def test_failing_lookup_never_sends_and_unknown_is_logged_once(github):
    w = github()
    w.open_pr_with_review_request()
    w.emu.faults.add("POST", r"/issues/12/comments$", "lost_response", times=1)
    with capture_logs() as logs:
        w.run_until("2026-11-23 13:15")  # sent (the lookup before it read the whole window), answer lost
        w.emu.faults.add("GET", r"/issues/12/comments$", "status", status=500, times=None)
        w.run_until("2026-11-23 16:00")
    assert len(w.bot_comments()) == 1, "the lost write stands; a lookup that fails never leads to a send"
    assert [e["event"] for e in logs].count("action_unknown") == 1
    [row] = w.store.outbox()
    assert (row.status, row.attempts) == ("unknown", 1)
    w.emu.faults.clear()
    w.run_until("2026-11-23 16:30")
    assert len(w.bot_comments()) == 1
    [row] = w.store.outbox()
    assert (row.status, row.attempts) == ("done", 1)


def test_rate_limited_first_send_is_logged_once_then_sent(github):
    w = github()
    w.open_pr_with_review_request()
    w.emu.faults.add("POST", r"/issues/12/comments$", "status", status=429, retry_after=1, times=1)
    with capture_logs() as logs:
        w.run_until("2026-11-23 14:00")
    assert len(w.bot_comments()) == 1
    assert [e["event"] for e in logs if e["event"].startswith("action_")] == ["action_done"]


# ---------------------------------------------------------------- fresh data only at delivery


def test_no_nudge_from_stored_data_while_the_scope_cannot_be_polled(github):
    w = github()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 12:45")
    w.emu.faults.add("GET", r"/repos/acme/web/issues$", "status", status=500, times=None)
    w.emu.submit_review("acme/web", 12, "ben-o", "APPROVED", at=berlin("2026-11-23 13:10"))
    reports = w.run_until("2026-11-23 14:00")
    assert all(r.errors for r in reports), "every poll of the repository failed"
    assert w.bot_comments() == [], "the stored data is older than the step: nothing went out"
    w.emu.faults.clear()
    w.run_until("2026-11-23 15:00")
    assert w.bot_comments() == [], "the review reached the store: the finding no longer stands"
    assert [r.status for r in w.store.outbox()] == ["cancelled"]


def test_item_is_reread_live_before_the_write_and_the_decision_made_again(github):
    w = github()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:00")
    # The repository's list answers "not modified" (a stale read), so the poll succeeds without
    # the review ben submitted after the deadline.
    w.emu.faults.add("GET", r"/repos/acme/web/issues$", "status", status=304, times=None)
    w.emu.submit_review("acme/web", 12, "ben-o", "APPROVED", at=berlin("2026-11-23 13:10"))
    w.emu.reset_requests()
    [report] = w.run_until("2026-11-23 13:15")
    assert not report.errors
    assert ("GET", "/repos/acme/web/issues/12/timeline") in [(m, p.split("?")[0]) for m, p, _ in w.emu.requests]
    assert w.bot_comments() == []
    assert [r.status for r in w.store.outbox()] == ["cancelled"]
    assert [d.status for d in report.deliveries] == ["cancelled"]


def test_after_a_restart_nothing_goes_out_before_the_first_successful_poll(github):
    w = github()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:00")
    w.restart()
    w.emu.faults.add("GET", r"/repos/acme/web/issues$", "status", status=503, times=None)
    w.run_until("2026-11-23 13:45")
    assert w.bot_comments() == []
    w.emu.faults.clear()
    w.run_until("2026-11-23 14:00")
    assert len(w.bot_comments()) == 1


# ---------------------------------------------------------------- an answer that is not the list never says "not there"


def test_github_lookup_answered_with_something_else_waits(github):
    w = github()
    w.open_pr_with_review_request()
    w.emu.faults.add("POST", r"/issues/12/comments$", "lost_response", times=1)
    w.run_until("2026-11-23 13:15")
    # 200 with an error object instead of the comment array (a proxy, a half-broken replica).
    w.emu.faults.add("GET", r"/issues/12/comments$", "status", status=200, times=None)
    w.run_until("2026-11-23 14:00")
    assert len(w.bot_comments()) == 1
    assert [r.status for r in w.store.outbox()] == ["unknown"]
    w.emu.faults.clear()
    w.run_until("2026-11-23 14:30")
    assert len(w.bot_comments()) == 1
    assert [r.status for r in w.store.outbox()] == ["done"]


def test_jira_lookup_answered_without_the_comment_list_waits(jira):
    w = jira()
    w.moved_to_qa()
    w.emu.faults.add("POST", r"/issue/WEB-17/comment$", "lost_response", times=1)
    w.run_until("2026-11-23 14:00")
    assert len(w.bot_comments()) == 1
    w.emu.faults.add("GET", r"/issue/WEB-17/comment$", "status", status=200, times=None)
    w.run_until("2026-11-23 15:00")
    assert len(w.bot_comments()) == 1, "an answer without comments/total is not 'not there'"
    assert [r.status for r in w.store.outbox()] == ["unknown"]
    w.emu.faults.clear()
    w.run_until("2026-11-23 15:30")
    assert len(w.bot_comments()) == 1
    assert [r.status for r in w.store.outbox()] == ["done"]


def test_asana_lookup_answered_without_the_story_list_waits(tmp_path, database_url):
    from tests.end_to_end.test_asana_end_to_end import ADA, PROJECT, AsanaWorld

    w = AsanaWorld(tmp_path, database=database_url)
    try:
        t = w.emu.create_task(PROJECT, ADA, "ACME MSA", section="Doing", at=berlin("2026-11-23 09:00"))
        w.emu.move_to_section(t, ADA, "Legal review", at=berlin("2026-11-23 10:00"))
        w.emu.faults.add("POST", rf"/tasks/{t}/stories$", "lost_response", times=1)
        w.run_until("2026-11-24 10:00")
        assert len(w.bot_comments(t)) == 1
        w.emu.faults.add("GET", rf"/tasks/{t}/stories$", "status", status=200, times=None)
        w.run_until("2026-11-24 11:00")
        assert len(w.bot_comments(t)) == 1, "an answer without data is not 'not there'"
        w.emu.faults.clear()
        w.run_until("2026-11-24 11:30")
        assert len(w.bot_comments(t)) == 1
        assert [r.status for r in w.store.outbox()] == ["done"]
    finally:
        w.close()
