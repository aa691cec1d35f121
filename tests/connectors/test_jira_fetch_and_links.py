"""Issue 5 on Jira: ``fetch`` (the live re-check), ``blocked_by``/``links`` from native links,
text and remote links, and the accounts a poll reports. The connector runs over real HTTP
against the Jira emulator through the official ``jira`` client's session."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bridge.core import errors
from bridge.core.model import Account, AccountInfo, EventKind, ItemRef
from connectors.jira.client import JiraConnector
from connectors.sandbox.jira.emulator import JiraEmulator

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
BOT, ANA, BEN, QA = "bot-acct", "ana-acct", "ben-acct", "qa-acct"
SCOPE = "project = WEB"
TOKEN = "jira-s3cret-4f2a"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def world(deployment="cloud"):
    clock = Clock()
    emu = JiraEmulator(clock=clock, deployment=deployment).start()
    emu.add_user(BOT, "Bot", email="bot@example.com")
    emu.add_token(TOKEN, BOT, email="bot@example.com")
    emu.add_user(ANA, "Ana Lima", email="Ana.Lima@Example.COM")
    emu.add_user(BEN, "Ben Okafor")  # e-mail hidden
    emu.add_user(QA, "Quinn")
    emu.create_project("WEB")
    conn = JiraConnector("jira", base_url=emu.url, token=TOKEN, email="bot@example.com", jql=[SCOPE],
                         deployment=deployment, clock=clock)
    return emu, conn, clock


@pytest.fixture(params=["cloud", "datacenter"])
def both(request):
    emu, conn, clock = world(request.param)
    yield emu, conn, clock
    emu.stop()


@pytest.fixture
def cloud():
    emu, conn, clock = world()
    yield emu, conn, clock
    emu.stop()


def busy_issue(emu, clock, histories=0):
    """WEB-17 with every kind of fact poll reads: changelog (status, assignee, link, labels),
    comments with mentions and references, a description naming other items, a remote link."""
    emu.create_issue("WEB", ANA, "blocker", key="WEB-2")
    emu.create_issue("WEB", ANA, "other", key="WEB-3")
    emu.create_issue("WEB", ANA, "Checkout in EUR", "Spec in WEB-3; blocked by WEB-2.", key="WEB-17",
                     status="In Progress")
    for i in range(histories):
        clock.now += timedelta(seconds=1)
        emu.add_label("WEB-17", ANA, f"l{i}")
    clock.now += timedelta(minutes=1)
    emu.transition("WEB-17", ANA, "Ready for QA", assignee=QA)
    emu.link("WEB-17", ANA, "is blocked by", "WEB-2")
    emu.comment("WEB-17", QA, "[~accountid:ana-acct] depends on https://github.com/acme/web/pull/12")
    emu.comment("WEB-17", BEN, "see https://app.asana.com/0/111/222 and WEB-17 itself")
    emu.add_remote_link("WEB-17", BEN, "https://github.com/acme/api/issues/5", "Blocked by acme/api#5")


def ids(events, key="WEB-17"):
    return {e.id for e in events if e.item.key == key}


# ---------------------------------------------------------------------------- fetch


def test_fetch_yields_the_same_event_ids_as_poll(both):
    emu, conn, clock = both
    busy_issue(emu, clock)
    polled = conn.poll(SCOPE, None)
    emu.reset_requests()
    got = conn.fetch(ItemRef("jira", "WEB-17"))
    assert got.next_cursor is None
    assert got.requests == len(emu.requests) == 2  # GET issue + GET remotelink
    assert [i.ref.key for i in got.items] == ["WEB-17"]
    assert ids(got.events) == ids(polled.events)
    assert {e.kind for e in got.events} >= {EventKind.STATUS_CHANGED, EventKind.ASSIGNED, EventKind.LINKED,
                                            EventKind.COMMENTED}
    snap = next(i for i in polled.items if i.ref.key == "WEB-17")
    assert got.items[0] == snap


def test_fetch_reads_a_truncated_changelog_whole_with_the_same_ids_as_poll(cloud):
    emu, conn, clock = cloud
    busy_issue(emu, clock, histories=105)  # search embeds 40, GET issue 100
    polled = conn.poll(SCOPE, None)
    emu.reset_requests()
    got = conn.fetch(ItemRef("jira", "WEB-17"))
    paths = [p.split("?")[0] for _, p, _ in emu.requests]
    assert paths == ["/rest/api/3/issue/WEB-17", "/rest/api/3/changelog/bulkfetch",
                     "/rest/api/2/issue/WEB-17/remotelink"]
    assert got.requests == 3
    labeled = [e for e in got.events if e.kind == EventKind.LABELED]
    assert len(labeled) == 105
    assert ids(got.events) == ids(polled.events)


def test_fetch_of_a_plain_issue_costs_one_request(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "plain", key="WEB-1")
    emu.comment("WEB-1", ANA, "hello")
    emu.reset_requests()
    got = conn.fetch(ItemRef("jira", "WEB-1"))
    assert got.requests == 1 and len(emu.requests) == 1
    assert [e.id for e in got.events if e.kind == EventKind.COMMENTED] == ["comment:10000"]


def test_fetch_of_a_missing_issue_is_empty_not_an_error(both):
    emu, conn, clock = both
    got = conn.fetch(ItemRef("jira", "WEB-404"))
    assert got.items == [] and got.events == [] and got.next_cursor is None and got.requests == 1


@pytest.mark.parametrize("status,error", [(401, errors.AuthError), (429, errors.RateLimited),
                                          (503, errors.TransientError), (400, errors.PermanentError)])
def test_fetch_translates_errors_like_poll(cloud, status, error):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "plain", key="WEB-1")
    emu.faults.add("GET", r"/issue/WEB-1", "status", status=status, retry_after=30 if status == 429 else None)
    with pytest.raises(error) as exc:
        conn.fetch(ItemRef("jira", "WEB-1"))
    assert TOKEN not in str(exc.value) and TOKEN not in repr(exc.value)
    if status == 429:
        assert exc.value.retry_after == 30


# ---------------------------------------------------------------------------- blocked_by and links


def test_blocked_by_from_native_link_text_and_remote_link_title(cloud):
    emu, conn, clock = cloud
    busy_issue(emu, clock)
    r = conn.poll(SCOPE, None)
    snap = {i.ref.key: i for i in r.items}
    web17 = snap["WEB-17"]
    gh, api, asana = ItemRef("github", "acme/web#12"), ItemRef("github", "acme/api#5"), ItemRef("asana", "222")
    web2, web3 = ItemRef("jira", "WEB-2"), ItemRef("jira", "WEB-3")
    assert set(web17.blocked_by) == {web2, gh, api}
    assert set(web17.links) == {web2, web3, gh, api, asana}
    assert ItemRef("jira", "WEB-17") not in web17.links  # its own key in a comment
    # the blocker sees the other side: it blocks WEB-17 and waits on nothing
    assert snap["WEB-2"].links == (ItemRef("jira", "WEB-17"),) and snap["WEB-2"].blocked_by == ()
    linked = {e.id: e for e in r.events if e.kind == EventKind.LINKED and e.item.key == "WEB-17"}
    iid = emu.issue("WEB-17")["id"]
    assert linked[f"description:{iid}:mentions:jira:WEB-2"].link_type == "is blocked by"
    assert linked[f"description:{iid}:mentions:jira:WEB-3"].link_type == "mentions"
    assert linked["comment:10000:mentions:github:acme/web#12"].link_type == "is blocked by"
    assert linked["comment:10001:mentions:asana:222"].link_type == "mentions"
    remote = next(e for e in linked.values() if e.id.startswith("remotelink:"))
    assert (remote.link_type, remote.target, remote.actor) == ("is blocked by", api, Account("jira", BEN))


def test_a_remote_link_without_blocking_words_is_a_mention(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "x", key="WEB-1")
    emu.add_remote_link("WEB-1", ANA, "https://github.com/acme/web/pull/9", "acme/web#9 Fix claim")
    emu.add_remote_link("WEB-1", ANA, "https://confluence.example/page/1", "Design page")
    r = conn.poll(SCOPE, None)
    assert r.items[0].links == (ItemRef("github", "acme/web#9"),) and r.items[0].blocked_by == ()
    assert [e.link_type for e in r.events if e.kind == EventKind.LINKED] == ["remote link"]


def test_unlink_and_description_edit_end_the_wait_and_are_dated_by_the_changelog(cloud):
    emu, conn, clock = cloud
    emu.create_issue("WEB", ANA, "blocker", key="WEB-2")
    emu.create_issue("WEB", ANA, "later blocker", key="WEB-3")
    emu.create_issue("WEB", ANA, "x", "nothing yet", key="WEB-1")
    emu.link("WEB-1", ANA, "is blocked by", "WEB-2")
    first = conn.poll(SCOPE, None)
    assert next(i for i in first.items if i.ref.key == "WEB-1").blocked_by == (ItemRef("jira", "WEB-2"),)

    clock.now += timedelta(hours=1)
    edit_at = clock.now
    emu.edit("WEB-1", BEN, description="now waiting on WEB-3")
    emu.unlink("WEB-1", ANA, "is blocked by", "WEB-2")
    clock.now += timedelta(minutes=5)
    r = conn.fetch(ItemRef("jira", "WEB-1"))
    web1 = r.items[0]
    assert web1.blocked_by == (ItemRef("jira", "WEB-3"),) and web1.links == (ItemRef("jira", "WEB-3"),)
    iid = emu.issue("WEB-1")["id"]
    ev = next(e for e in r.events if e.id == f"description:{iid}:mentions:jira:WEB-3")
    assert (ev.at, ev.actor, ev.link_type) == (edit_at, Account("jira", BEN), "is blocked by")
    unlinked = [e for e in r.events if e.kind == EventKind.UNLINKED]
    assert [(e.link_type, e.target) for e in unlinked] == [("is blocked by", ItemRef("jira", "WEB-2"))]


# ---------------------------------------------------------------------------- accounts


def test_poll_reports_accounts_with_lower_cased_email_where_shown(both):
    emu, conn, clock = both
    busy_issue(emu, clock)
    r = conn.poll(SCOPE, None)
    by = {a.account.id: a for a in r.accounts}
    assert len(by) == len(r.accounts)
    assert by[ANA] == AccountInfo(Account("jira", ANA), "Ana Lima", "ana.lima@example.com")
    assert by[BEN] == AccountInfo(Account("jira", BEN), "Ben Okafor", None)  # comment author, e-mail hidden
    assert by[QA].display_name == "Quinn"  # assignee and changelog
    assert BOT not in by  # the bot did nothing here
    f = conn.fetch(ItemRef("jira", "WEB-17"))
    assert {a.account.id for a in f.accounts} == {ANA, BEN, QA}


def test_a_mentioned_account_is_reported_even_if_it_never_acted(cloud):
    emu, conn, clock = cloud
    emu.add_user("dana-acct", "Dana", email="dana@example.com")
    emu.create_issue("WEB", ANA, "x", key="WEB-1")
    emu.comment("WEB-1", ANA, "[~accountid:dana-acct] can you look?")
    r = conn.poll(SCOPE, None)
    by = {a.account.id: a for a in r.accounts}
    # ADF mention nodes carry only the id here (the emulator writes no attrs.text): no name
    assert by["dana-acct"] == AccountInfo(Account("jira", "dana-acct"), None, None)
