"""The Asana connector over real HTTP against the emulator, through the official client.

Stepping clock, no sleeps. Requests are counted at the emulator (its ``requests`` log) and
must agree with the connector's own ``PollResult.requests``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bridge.core import errors
from bridge.core.clock import SteppingClock
from bridge.core.model import Account, Action, ActionKind, EventKind, ItemRef
from connectors.asana.client import AsanaConnector
from connectors.sandbox.asana.emulator import AsanaEmulator
from connectors.sandbox.asana.routes import API_PREFIX

TOKEN = "2/1200/asana-client-test-token"
BOT, ADA, BEA, LEO = "1100000000000001", "1100000000000002", "1100000000000003", "1100000000000004"
P1, P2 = "1300000000000001", "1300000000000002"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


class Store:
    """The engine's store reduced to what poll needs: events by id, items, cursors."""

    def __init__(self):
        self.events, self.items, self.cursors = {}, {}, {}

    def known(self, keys):
        return {k: self.items[k].updated_at for k in keys if k in self.items}

    def save(self, scope, result):
        for e in result.events:
            self.events.setdefault(e.id, e)
        for it in result.items:
            self.items[it.ref.key] = it
        if result.next_cursor is not None:
            self.cursors[scope] = result.next_cursor


@pytest.fixture
def clock():
    return SteppingClock(T0)


@pytest.fixture
def emu(clock):
    e = AsanaEmulator(clock=clock).start()
    for gid, name in ((BOT, "Handoff Bot"), (ADA, "Ada"), (BEA, "Bea"), (LEO, "Leo Legal")):
        e.add_user(gid, name)
    e.add_token(TOKEN, BOT)
    e.create_project(P1, "Deals", sections=("To do", "Doing", "Legal review", "Done"))
    e.create_project(P2, "Ops")
    yield e
    e.stop()


def connector(emu, clock, projects=(P1,), rpm=10_000, token=TOKEN):
    return AsanaConnector("asana", base_url=emu.url + API_PREFIX, token=token, projects=projects,
                          timeout=3, requests_per_minute=rpm, clock=clock)


def poll(conn, store, scope=P1, emu=None):
    before = len(emu.requests) if emu is not None else None
    result = conn.poll(scope, store.cursors.get(scope), known=store.known)
    store.save(scope, result)
    if emu is not None:
        assert len(emu.requests) - before == result.requests
    return result


def paths(emu):
    return [(m, p.split("?")[0].removeprefix(API_PREFIX), s) for m, p, s in emu.requests]


def test_first_poll_crawls_then_idle_is_one_events_request_per_project(emu, clock):
    t = emu.create_task(P1, ADA, "Contract", assignee=BEA, at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock, projects=(P1, P2)), Store()
    first = poll(conn, store, P1, emu)
    assert [e.kind for e in first.events] == [EventKind.ASSIGNED]
    assert store.items[t].assignees == (Account("asana", BEA),)
    poll(conn, store, P2, emu)
    emu.reset_requests()
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        for p in (P1, P2):
            r = poll(conn, store, p, emu)
            assert r.events == [] and r.requests == 1
    assert paths(emu) == [("GET", "/events", 200)] * 6


def test_a_change_costs_events_plus_one_list_page_plus_stories(emu, clock):
    t = emu.create_task(P1, ADA, "Contract", at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=5))
    emu.move_to_section(t, ADA, "Legal review")
    emu.assign(t, ADA, LEO)
    emu.reset_requests()
    r = poll(conn, store, emu=emu)
    assert paths(emu) == [("GET", "/events", 200), ("GET", "/tasks", 200), ("GET", f"/tasks/{t}/stories", 200)]
    assert [(e.kind, e.to_status, e.subject) for e in r.events] == [
        (EventKind.STATUS_CHANGED, "Legal review", None), (EventKind.ASSIGNED, None, Account("asana", LEO))]
    assert store.items[t].status == "Legal review"
    # Stories were read with opt_fields (compact stories would have no sections/assignee).
    assert "opt_fields=" in [p for m, p, s in emu.requests if "/stories" in p][0]


def test_has_more_is_followed_with_each_pages_new_token(emu, clock):
    gids = [emu.create_task(P1, ADA, f"t{i}", at=T0 - timedelta(hours=1)) for i in range(3)]
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=1))
    for i in range(250):  # 250 story events: three pages of at most 100
        emu.comment(gids[i % 3], ADA, f"comment {i}")
    emu.reset_requests()
    r = poll(conn, store, emu=emu)
    events_calls = [p for m, p, s in emu.requests if p.startswith(API_PREFIX + "/events")]
    assert len(events_calls) == 3
    syncs = [p.split("sync=")[1].split("&")[0] for p in events_calls]
    assert len(set(syncs)) == len(syncs), "each page is asked with the token the previous page returned"
    assert sum(e.kind == EventKind.COMMENTED for e in r.events) == 250
    emu.reset_requests()
    assert poll(conn, store, emu=emu).events == [] and len(emu.requests) == 1


def test_expired_token_recrawls_with_modified_since_and_loses_nothing(emu, clock):
    old = [emu.create_task(P1, ADA, f"old {i}", at=T0 - timedelta(days=2)) for i in range(5)]
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(hours=1))
    emu.comment(old[1], ADA, "before the expiry")
    clock.advance(timedelta(minutes=1))
    emu.expire_sync_tokens()
    clock.advance(timedelta(minutes=1))
    emu.move_to_section(old[2], ADA, "Legal review")
    emu.reset_requests()
    r = poll(conn, store, emu=emu)
    assert [s for _, _, s in emu.requests][0] == 412
    listing = [p for m, p, s in emu.requests if p.startswith(API_PREFIX + "/tasks?")]
    assert len(listing) == 1 and "modified_since=" in listing[0]
    # Only the two changed tasks' stories are read, not the whole project.
    assert sorted(p.split("/")[4] for m, p, s in emu.requests if "/stories" in p) == sorted([old[1], old[2]])
    kinds = {(e.item.key, e.kind) for e in r.events}
    assert (old[1], EventKind.COMMENTED) in kinds and (old[2], EventKind.STATUS_CHANGED) in kinds
    # The fresh token from the 412 carries on: a change after it is seen by the events feed.
    clock.advance(timedelta(minutes=1))
    emu.assign(old[3], ADA, BEA)
    r2 = poll(conn, store, emu=emu)
    assert [(e.item.key, e.kind) for e in r2.events] == [(old[3], EventKind.ASSIGNED)]


def test_token_expired_by_age_answers_412_and_is_recovered(emu, clock):
    t = emu.create_task(P1, ADA, "a", at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(hours=25))
    emu.comment(t, BEA, "a day later")
    r = poll(conn, store, emu=emu)
    assert [e.text for e in r.events if e.kind == EventKind.COMMENTED] == ["a day later"]


def test_limiter_stops_the_poll_at_the_budget_and_the_next_cycle_resumes(emu, clock):
    gids = [emu.create_task(P1, ADA, f"t{i}", at=T0 - timedelta(hours=1)) for i in range(8)]
    for g in gids:
        emu.comment(g, ADA, f"hello {g}", at=T0 - timedelta(minutes=30))
    conn, store = connector(emu, clock, rpm=5), Store()
    r = poll(conn, store, emu=emu)
    assert r.requests == 5 and len(emu.requests) == 5
    assert 0 < len(store.items) < 8
    assert store.cursors[P1]["pending"] or store.cursors[P1]["crawl"]
    rounds = 0
    while len(store.items) < 8:
        rounds += 1
        assert rounds < 10
        assert poll(conn, store, emu=emu).requests == 0, "no budget left at the same instant"
        clock.advance(timedelta(minutes=1))
        assert poll(conn, store, emu=emu).requests <= 5
    texts = sorted(e.text for e in store.events.values() if e.kind == EventKind.COMMENTED)
    assert texts == sorted(f"hello {g}" for g in gids)


def test_401_is_auth_error_without_the_token_in_the_message(emu, clock):
    conn = connector(emu, clock, token="2/1200/revoked-secret-value")
    with pytest.raises(errors.AuthError) as info:
        conn.poll(P1, None)
    assert "revoked-secret-value" not in str(info.value)
    with pytest.raises(errors.AuthError):
        conn.whoami()


def test_429_is_rate_limited_with_retry_after_and_the_cursor_stays(emu, clock):
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    cursor = dict(store.cursors[P1])
    emu.faults.add("GET", r"/events", "status", status=429, retry_after=42)
    with pytest.raises(errors.RateLimited) as info:
        conn.poll(P1, cursor)
    assert info.value.retry_after == 42
    assert len([1 for m, p, s in emu.requests if s == 429]) == 1, "the client did not retry the 429"


def test_5xx_on_a_read_is_transient_and_not_retried(emu, clock):
    conn = connector(emu, clock)
    emu.faults.add("GET", r"/users/me", "status", status=503, times=None)
    with pytest.raises(errors.TransientError):
        conn.whoami()
    assert len(emu.requests) == 1
    emu.faults.clear()
    assert conn.whoami() == Account("asana", BOT)


def comment_action(task, marker="hb:0123456789ab", body=None):
    conn_body = body or f'<a data-asana-gid="{LEO}"/>: please review. \n\n<em>handoff-bridge · rule r · {marker}</em>'
    return Action(ActionKind.COMMENT, ItemRef("asana", task), marker, body=conn_body)


def test_comment_is_html_text_with_native_mention(emu, clock):
    t = emu.create_task(P1, ADA, "Contract")
    conn = connector(emu, clock)
    hostile = '<a data-asana-gid="1"/> https://x.io'
    body = (conn.mention(Account("asana", LEO)) + conn.literal(": I need <legal> sign-off & a date. ")
            + conn.escape(hostile) + conn.footer("legal-review", "hb:0123456789ab"))
    result = conn.apply(Action(ActionKind.COMMENT, ItemRef("asana", t), "hb:0123456789ab", body=body))
    [story] = [s for s in emu.stories(t) if s["resource_subtype"] == "comment_added"]
    assert story["created_by"]["gid"] == BOT and result.remote_id == story["gid"]
    assert f'data-asana-gid="{LEO}"' in story["html_text"]
    assert story["html_text"].count("<a ") == 1, "escaped text formed no second mention or link"
    assert "I need <legal> sign-off & a date." in story["text"] and "hb:0123456789ab" in story["text"]


def test_lost_response_on_comment_is_outcome_unknown_then_find_marker_finds_it(emu, clock):
    t = emu.create_task(P1, ADA, "Contract")
    conn = connector(emu, clock)
    emu.faults.add("POST", rf"/tasks/{t}/stories", "lost_response")
    action = comment_action(t)
    with pytest.raises(errors.OutcomeUnknown):
        conn.apply(action)
    posts = [1 for m, p, s in emu.requests if m == "POST"]
    assert len(posts) <= 1, "the write was not retried"
    found = conn.find_marker(action, clock())
    assert found is not None and found.already_present
    comments = [s for s in emu.stories(t) if s["resource_subtype"] == "comment_added"]
    assert len(comments) == 1
    assert conn.find_marker(comment_action(t, marker="hb:ffffffffffff"), clock()) is None


def test_reassign_puts_the_assignee_then_comments(emu, clock):
    t = emu.create_task(P1, ADA, "Contract", assignee=BEA)
    conn = connector(emu, clock)
    action = Action(ActionKind.REASSIGN, ItemRef("asana", t), "hb:aaaaaaaaaaaa", body="over to you hb:aaaaaaaaaaaa",
                    assignees=(Account("asana", LEO),))
    conn.apply(action)
    assert emu.task(t)["assignee"]["gid"] == LEO
    assert conn.find_marker(action, clock()) is not None


def test_draft_is_a_subtask_assigned_to_the_receiver_due_at_the_deadline(emu, clock):
    t = emu.create_task(P1, ADA, "Contract")
    conn = connector(emu, clock)
    due = T0 + timedelta(days=1, hours=3)
    action = Action(ActionKind.DRAFT, ItemRef("asana", t), "hb:bbbbbbbbbbbb", body="I need sign-off. hb:bbbbbbbbbbbb",
                    title="Sign-off for Contract", assignees=(Account("asana", LEO),), due=due)
    emu.faults.add("POST", rf"/tasks/{t}/subtasks", "lost_response")
    with pytest.raises(errors.OutcomeUnknown):
        conn.apply(action)
    found = conn.find_marker(action, clock())
    [sub] = emu.subtasks(t)
    assert found is not None and found.remote_id == sub
    s = emu.task(sub)
    assert s["assignee"]["gid"] == LEO and s["name"] == "Sign-off for Contract"
    assert s["due_at"] == "2025-03-04T12:00:00.000Z"


def test_a_malformed_story_is_skipped_and_the_rest_kept(emu, clock):
    t = emu.create_task(P1, ADA, "Contract", at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=1))
    emu.comment(t, ADA, "first")
    emu.assign(t, ADA, BEA)
    emu.comment(t, BEA, "second")
    # Break one story in the emulator's memory: an assignment story without its assignee.
    bad = next(s for s in emu.state.stories.values() if s["task"] == t and s["resource_subtype"] == "assigned")
    bad["extra"]["assignee"] = None
    r = poll(conn, store, emu=emu)
    assert [e.text for e in r.events if e.kind == EventKind.COMMENTED] == ["first", "second"]
    assert not any(e.kind == EventKind.ASSIGNED for e in r.events)
    assert len(r.skipped) == 1 and r.skipped[0][0].startswith(f"{t} stories[") and "malformed" in r.skipped[0][1]


def test_dependencies_and_cross_tool_urls_are_links(emu, clock):
    a = emu.create_task(P1, ADA, "A", notes="Tracks https://acme.atlassian.net/browse/WEB-17", at=T0 - timedelta(hours=1))
    b = emu.create_task(P1, ADA, "B", at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=1))
    emu.add_dependency(a, ADA, b)
    emu.add_dependency(b, ADA, a)
    emu.add_attachment_url(b, BEA, "https://github.com/acme/web/pull/12", "PR 12")
    r = poll(conn, store, emu=emu)
    links = {(e.item.key, e.link_type, e.target) for e in r.events if e.kind == EventKind.LINKED}
    assert (a, "is blocked by", ItemRef("asana", b)) in links
    assert (b, "is blocked by", ItemRef("asana", a)) in links
    assert (b, "mentions", ItemRef("github", "acme/web#12")) in links
    assert ItemRef("jira", "WEB-17") in store.items[a].links
    assert ItemRef("github", "acme/web#12") in store.items[b].links


# ---------------------------------------------------------------------- issue 5: fetch, accounts, blocked_by
def test_fetch_rereads_one_task_with_the_same_event_ids_as_poll(emu, clock):
    blocker = emu.create_task(P1, ADA, "Sign-off", at=T0 - timedelta(hours=2))
    t = emu.create_task(P1, ADA, "LEG-4: NDA for ACME", notes="Blocked by https://acme.atlassian.net/browse/LEG-4",
                        assignee=BEA, section="Doing", due_on="2025-03-07", at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=5))
    emu.add_dependency(t, BEA, blocker)
    emu.comment(t, BEA, "waiting on https://github.com/acme/web/pull/12 too")
    emu.move_to_section(t, BEA, "Legal review")
    emu.add_attachment_url(t, BEA, "https://github.com/acme/api/issues/3", "API issue")
    polled = poll(conn, store, emu=emu)
    stored_ids = {e.id for e in store.events.values() if e.item.key == t}

    emu.reset_requests()
    fetched = conn.fetch(ItemRef("asana", t))
    assert fetched.next_cursor is None
    assert {e.id for e in fetched.events} == stored_ids, "fetch states the same facts under the same ids"
    # Story and attachment facts are equal in every field; a notes link is stated as of the
    # task's modified_at when read (Asana keeps no story saying what an edit changed), so only
    # its id is stable, and the store keeps the first.
    same = {e.id: e for e in store.events.values() if e.item.key == t and not e.id.startswith("notes:")}
    assert {e.id: e for e in fetched.events if not e.id.startswith("notes:")} == same
    [snap] = fetched.items
    assert snap == store.items[t] == next(i for i in polled.items if i.ref.key == t)
    assert snap.status == "Legal review" and snap.assignees == (Account("asana", BEA),)
    assert snap.blocked_by == (ItemRef("asana", blocker), ItemRef("jira", "LEG-4"), ItemRef("github", "acme/web#12"))
    assert ItemRef("github", "acme/api#3") in snap.links and ItemRef("github", "acme/api#3") not in snap.blocked_by
    # Task + stories + attachments (a story says one was added), each counted at the emulator.
    assert paths(emu) == [("GET", f"/tasks/{t}", 200), ("GET", f"/tasks/{t}/stories", 200), ("GET", "/attachments", 200)]
    assert fetched.requests == 3
    assert {a.account.id: a.email for a in fetched.accounts} == {BEA: "bea@example.com", ADA: "ada@example.com"}


def test_fetch_of_a_plain_task_costs_two_requests_and_of_a_gone_task_gives_no_items(emu, clock):
    t = emu.create_task(P1, ADA, "Contract")
    conn = connector(emu, clock)
    r = conn.fetch(ItemRef("asana", t))
    assert r.requests == 2 == len(emu.requests) and [i.ref.key for i in r.items] == [t]
    emu.reset_requests()
    gone = conn.fetch(ItemRef("asana", "1299999999999999"))
    assert gone.items == [] and gone.events == [] and gone.next_cursor is None
    assert gone.requests == 1 and [s for _, _, s in emu.requests] == [404]
    with pytest.raises(ValueError):
        conn.fetch(ItemRef("jira", "LEG-4"))


def test_fetch_translates_errors_and_spends_the_limiter(emu, clock):
    t = emu.create_task(P1, ADA, "Contract")
    conn = connector(emu, clock)
    emu.faults.add("GET", rf"/tasks/{t}/stories", "status", status=503)
    with pytest.raises(errors.TransientError):
        conn.fetch(ItemRef("asana", t))
    emu.faults.add("GET", rf"/tasks/{t}$", "status", status=429, retry_after=7)
    with pytest.raises(errors.RateLimited) as info:
        conn.fetch(ItemRef("asana", t))
    assert info.value.retry_after == 7
    with pytest.raises(errors.AuthError) as auth:
        connector(emu, clock, token="2/1200/revoked-secret-value").fetch(ItemRef("asana", t))
    assert "revoked-secret-value" not in str(auth.value)
    small = connector(emu, clock, rpm=3)
    small.fetch(ItemRef("asana", t))  # 2 of 3 tokens
    emu.reset_requests()
    with pytest.raises(errors.RateLimited) as dry:
        small.fetch(ItemRef("asana", t))
    assert emu.requests == [] and dry.value.retry_after > 0, "nothing sent without budget for both reads"
    clock.advance(timedelta(minutes=1))
    assert small.fetch(ItemRef("asana", t)).requests == 2


def test_poll_reports_accounts_with_emails_at_no_extra_request(emu, clock):
    emu.add_user(LEO, "Leo Legal", "Leo.Legal@Example.com")
    t = emu.create_task(P1, ADA, "Contract", assignee=BEA, at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    first = poll(conn, store, emu=emu)
    assert {a.account.id: (a.display_name, a.email) for a in first.accounts} == {
        BEA: ("Bea", "bea@example.com"), ADA: ("Ada", "ada@example.com")}
    clock.advance(timedelta(minutes=1))
    emu.comment(t, BEA, html_text=f'<body><a data-asana-gid="{LEO}"/> please sign</body>')
    emu.reset_requests()
    r = poll(conn, store, emu=emu)
    assert r.requests == 3, "events + task list + stories, as before"
    assert ("Leo Legal", "leo.legal@example.com") not in {(a.display_name, a.email) for a in r.accounts}
    assert {a.account.id: a.display_name for a in r.accounts}[LEO] == "Leo Legal", "a mention is seen, by its label"
    clock.advance(timedelta(minutes=1))
    emu.reset_requests()
    idle = poll(conn, store, emu=emu)
    assert idle.accounts == [] and idle.requests == 1


def test_comment_saying_blocked_by_makes_blocked_by_and_a_plain_link_does_not(emu, clock):
    a = emu.create_task(P1, ADA, "A", at=T0 - timedelta(hours=1))
    b = emu.create_task(P1, ADA, "B", at=T0 - timedelta(hours=1))
    conn, store = connector(emu, clock), Store()
    poll(conn, store)
    clock.advance(timedelta(minutes=1))
    emu.comment(a, BEA, f"blocked by {emu.task(b)['permalink_url']}")
    emu.comment(b, ADA, f"see {emu.task(a)['permalink_url']}")
    poll(conn, store, emu=emu)
    assert store.items[a].blocked_by == (ItemRef("asana", b),)
    assert store.items[b].blocked_by == () and store.items[b].links == (ItemRef("asana", a),)
    linked = {(e.item.key, e.link_type) for e in store.events.values() if e.kind == EventKind.LINKED}
    assert linked == {(a, "is blocked by"), (b, "mentions")}
