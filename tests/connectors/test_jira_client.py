"""The Jira connector against the Jira emulator over real HTTP, through the official client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from bridge.core import errors
from bridge.core.model import Account, Action, ActionKind, EventKind, ItemRef
from connectors import http
from connectors.jira.client import JiraConnector, scoped_jql
from connectors.sandbox.jira.emulator import JiraEmulator

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
BOT, ANA, QA = "bot-acct", "ana-acct", "qa-acct"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def world(deployment="cloud", tz="Asia/Tokyo", page_size=100, **emu_kw):
    clock = Clock()
    emu = JiraEmulator(clock=clock, deployment=deployment, **emu_kw).start()
    emu.add_user(BOT, "Bot", email="bot@example.com", time_zone=tz)
    emu.add_token("tok", BOT, email="bot@example.com")
    emu.add_user(ANA, "Ana")
    emu.add_user(QA, "Quinn")
    emu.create_project("WEB")
    conn = JiraConnector("jira", base_url=emu.url, token="tok", email="bot@example.com", jql=["project = WEB"],
                         deployment=deployment, page_size=page_size, clock=clock)
    return emu, conn, clock


@pytest.fixture
def cloud():
    emu, conn, clock = world()
    yield emu, conn, clock
    emu.stop()


def searches(emu):
    return [r for r in emu.requests if "/search" in r[1]]


def test_idle_cycle_is_one_search_request(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "one", key="WEB-1")
    first = conn.poll("project = WEB", None)
    assert [i.ref.key for i in first.items] == ["WEB-1"]
    clock.now += timedelta(minutes=10)
    emu.reset_requests()
    stored = {i.ref.key: i.updated_at for i in first.items}
    idle = conn.poll("project = WEB", first.next_cursor, known=lambda keys: {k: stored[k] for k in keys if k in stored})
    assert idle.requests == 1 and len(emu.requests) == 1 and "/rest/api/3/search/jql" in emu.requests[0][1]
    assert idle.items == [] and idle.next_cursor is None


def test_cursor_minute_is_written_in_the_bots_time_zone_minus_overlap(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "one", key="WEB-1", at=T0 + timedelta(minutes=7, seconds=30))
    first = conn.poll("project = WEB", None)
    assert first.next_cursor["tz"] == "Asia/Tokyo"
    emu.reset_requests()
    conn.poll("project = WEB", first.next_cursor)
    # 08:07:30Z - 2 min = 08:05:30Z = 17:05 in Tokyo (UTC+9), floored to the minute
    assert "%222026-11-23+17%3A05%22" in emu.requests[0][1]
    # the overlap re-reads WEB-1: harmless, the same event ids come back
    assert scoped_jql("project = WEB OR project = API", "2026-11-23 17:05").startswith("(project = WEB OR project = API) AND")


def test_pages_follow_next_page_token(cloud):
    emu, conn, clock = cloud
    conn.page_size = 10
    emu.bulk_create("WEB", 25, ANA)
    r = conn.poll("project = WEB", None)
    assert len(r.items) == 25 and r.requests == 4  # /myself + 3 pages
    assert len({i.ref for i in r.items}) == 25


def test_truncated_changelog_is_fetched_once_for_new_issues_only(cloud):
    emu, conn, clock = cloud
    emu.bulk_create("WEB", 3, ANA, histories_per_issue=45)  # Cloud embeds 40
    r = conn.poll("project = WEB", None)
    status_events = [e for e in r.events if e.kind == EventKind.STATUS_CHANGED]
    assert len(status_events) == 3 * 45
    assert sum("/changelog/bulkfetch" in q[1] for q in emu.requests) == 1
    stored = {i.ref.key: i.updated_at for i in r.items}
    emu.reset_requests()
    again = conn.poll("project = WEB", None, known=lambda keys: {k: stored[k] for k in keys})
    assert again.requests == 1  # the embedded window reaches back to what is stored


def test_events_carry_actor_subject_and_links(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "qa me", key="WEB-17", status="In Progress")
    emu.create_issue("WEB", ANA, "blocker", key="WEB-2")
    clock.now += timedelta(minutes=1)
    emu.transition("WEB-17", ANA, "Ready for QA", assignee=QA)
    emu.link("WEB-17", ANA, "is blocked by", "WEB-2")
    emu.comment("WEB-17", QA, "looking [~accountid:ana-acct] see https://github.com/acme/web/pull/12")
    r = conn.poll("project = WEB", None)
    evs = {e.kind: e for e in r.events if e.item.key == "WEB-17"}
    assert evs[EventKind.STATUS_CHANGED].to_status == "Ready for QA"
    assert evs[EventKind.STATUS_CHANGED].actor == Account("jira", ANA)
    assert evs[EventKind.ASSIGNED].subject == Account("jira", QA)
    assert evs[EventKind.COMMENTED].mentions == (Account("jira", ANA),)
    linked = [e for e in r.events if e.kind == EventKind.LINKED and e.item.key == "WEB-17"]
    assert {(e.link_type, e.target) for e in linked} == {("is blocked by", ItemRef("jira", "WEB-2")),
                                                       ("mentions", ItemRef("github", "acme/web#12"))}


def test_401_is_auth_error_without_the_token():
    clock = Clock()
    emu = JiraEmulator(clock=clock).start()
    try:
        emu.add_user(BOT, email="bot@example.com")
        emu.add_token("tok", BOT, email="bot@example.com")
        conn = JiraConnector("jira", base_url=emu.url, token="tok", email="bot@example.com", jql=["project = WEB"], clock=clock)
        emu._tokens.clear()  # the token is revoked
        with pytest.raises(errors.AuthError) as exc:
            conn.poll("project = WEB", None)
        assert "tok" not in str(exc.value).replace("token", "")
    finally:
        emu.stop()


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_is_rate_limited_with_retry_after(cloud, form):
    emu, conn, clock = cloud
    conn.whoami()
    if form == "seconds":
        emu.faults.add("GET", r"/search/jql", "status", status=429, retry_after=30)
        want = 30
    else:
        emu.faults.add("GET", r"/search/jql", "status", status=429)
        want = None
    if form == "http-date":
        # The emulator sends seconds; check the HTTP-date form on the parser directly.
        h = {"retry-after": format_datetime(clock.now + timedelta(seconds=90), usegmt=True)}
        assert http.retry_after(h, clock.now) == pytest.approx(90)
    with pytest.raises(errors.RateLimited) as exc:
        conn.poll("project = WEB", None)
    assert len(searches(emu)) == 1  # no retry inside the client
    if want:
        assert exc.value.retry_after == want
    else:
        assert exc.value.retry_after == pytest.approx(60, abs=60)  # X-RateLimit-Reset, minute precision


def test_lost_comment_response_is_outcome_unknown_then_found_by_marker(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "x", key="WEB-5")
    emu.faults.add("POST", r"/issue/WEB-5/comment", "lost_response")
    action = Action(ActionKind.COMMENT, ItemRef("jira", "WEB-5"), "hb:0123456789ab",
                    body="[~accountid:qa-acct]: please\n\n----\nhb:0123456789ab")
    with pytest.raises(errors.OutcomeUnknown):
        conn.apply(action)
    assert len(emu.comments("WEB-5")) == 1
    assert sum(1 for q in emu.requests if q[0] == "POST") == 1  # never retried
    found = conn.find_marker(action, clock.now)
    assert found is not None and found.already_present
    assert len(emu.comments("WEB-5")) == 1


def test_draft_is_a_related_issue_assigned_and_due_and_found_again(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "stalled", key="WEB-17")
    due = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)  # Tue in Tokyo; the UTC date is used
    action = Action(ActionKind.DRAFT, ItemRef("jira", "WEB-17"), "hb:aaaaaaaaaaaa", body="need QA hb:aaaaaaaaaaaa",
                    title="QA needed", assignees=(Account("jira", QA),), due=due)
    result = conn.apply(action)
    new = emu.issue(result.remote_id)
    assert new["fields"]["assignee"]["accountId"] == QA and new["fields"]["duedate"] == "2026-11-23"
    assert ("relates to", "WEB-17") in emu.links(result.remote_id)
    again = conn.find_marker(action, clock.now)
    assert again is not None and again.remote_id == result.remote_id


def test_reassign_puts_the_assignee_then_comments(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "x", key="WEB-9", assignee=ANA)
    conn.apply(Action(ActionKind.REASSIGN, ItemRef("jira", "WEB-9"), "hb:bbbbbbbbbbbb", body="to you hb:bbbbbbbbbbbb",
                      assignees=(Account("jira", QA),)))
    assert emu.issue("WEB-9")["fields"]["assignee"]["accountId"] == QA
    assert [c["author"] for c in emu.comments("WEB-9")] == [BOT]


def test_server_error_on_a_write_is_outcome_unknown_and_not_retried(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "x", key="WEB-6")
    emu.faults.add("POST", r"/comment", "status", status=503, retry_after=1)
    with pytest.raises(errors.OutcomeUnknown):
        conn.apply(Action(ActionKind.COMMENT, ItemRef("jira", "WEB-6"), "hb:cccccccccccc", body="x hb:cccccccccccc"))
    assert sum(1 for q in emu.requests if q[0] == "POST") == 1


def test_data_center_uses_search_with_start_at_and_usernames():
    emu, conn, clock = world(deployment="datacenter", page_size=2)
    try:
        for n in range(5):
            emu.create_issue("WEB", ANA, f"i{n}", assignee=QA)
        r = conn.poll("project = WEB", None)
        paths = [q[1] for q in emu.requests if "/search" in q[1]]
        assert len(paths) == 3 and all(p.startswith("/rest/api/2/search?") for p in paths)
        assert len(r.items) == 5 and r.items[0].assignees == (Account("jira", QA),)
        assert conn.mention(Account("jira", "qa")) == "[~qa]"
        conn.apply(Action(ActionKind.REASSIGN, ItemRef("jira", "WEB-1"), "hb:dddddddddddd", body="x hb:dddddddddddd",
                          assignees=(Account("jira", ANA),)))
        assert emu.issue("WEB-1")["fields"]["assignee"]["name"] == ANA
    finally:
        emu.stop()


def test_escape_makes_titles_inert(cloud):
    _, conn, _ = cloud
    out = conn.escape("[~accountid:x] *b* _i_ {code} [a|http://e.com] -s- !img! (y)\nh1. x")
    for bad in ("[~", "*b*", "_i_", "{code}", "[a|", "http://", "-s-", "!img!", "(y)", "\n"):
        assert bad not in out
