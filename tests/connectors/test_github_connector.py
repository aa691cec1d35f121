"""GitHubConnector.poll/fetch against the emulator over real HTTP (PyGithub's requester).

Covers issue 5's GitHub side: ``fetch`` (the live re-check), accounts seen, commit authors
as e-mail pseudo-accounts, cross-tool links from titles, bodies, branch names and
comments, and what each of these costs in requests.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bridge.core import errors
from bridge.core.clock import SteppingClock
from bridge.core.model import Account, AccountInfo, EventKind, ItemRef, PollResult
from connectors.github.client import GitHubConnector
from connectors.sandbox.github.emulator import GitHubEmulator
from tests.support.github import emulated_github
from tests.support.recorded import read_replay

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TOKEN = "ghp_connector_test"
BOT = "hb-bot"
REPO = "acme/web"
ASANA_TASK = "https://app.asana.com/0/1200000000000001/1200000000000042"


def gh(login: str) -> Account:
    return Account("github", login)


def jira(key: str) -> ItemRef:
    return ItemRef("jira", key)


@pytest.fixture
def env():
    with emulated_github(T0, TOKEN, BOT, REPO) as env:
        yield env


class Store:
    """The part of the engine's store poll needs: cursor and stored updated_at per item."""

    def __init__(self):
        self.cursor = None
        self.updated = {}
        self.event_ids = set()

    def poll(self, conn: GitHubConnector, scope: str = REPO) -> PollResult:
        result = conn.poll(scope, self.cursor, known=lambda keys: {k: self.updated.get(k) for k in keys})
        if result.next_cursor is not None:
            self.cursor = result.next_cursor
        for it in result.items:
            self.updated[it.ref.key] = it.updated_at
        self.event_ids |= {e.id for e in result.events}
        return result


def served(emu: GitHubEmulator) -> list[tuple[str, str, int]]:
    return [(m, p.split("?")[0], s) for m, p, s in emu.requests]


def busy_pr(emu: GitHubEmulator, clock: SteppingClock, number: int = 12) -> None:
    emu.add_user("ana", name="Ana Souza", email="ana@example.com")
    emu.open_issue(REPO, "ana", "WEB-17: rate-limit the login endpoint",
                   body=f"Blocked by {ASANA_TASK} (legal review).\nSee also OPS-3.",
                   pull_request=True, head_ref="feature/WEB-18-login", number=number, at=clock())
    emu.request_review(REPO, number, "ana", "ben", at=clock() + timedelta(minutes=1))
    emu.assign(REPO, number, "ana", "cara", at=clock() + timedelta(minutes=2))
    emu.commit(REPO, number, "ana", "Limit attempts", at=clock() + timedelta(minutes=3))
    emu.submit_review(REPO, number, "ben", "CHANGES_REQUESTED", body="Needs https://acme.atlassian.net/browse/SEC-9 first",
                      at=clock() + timedelta(minutes=4))
    emu.comment(REPO, number, "cara", "Blocked by WEB-99 too? (bare keys in comments are not links)",
                at=clock() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=10))


# ---------------------------------------------------------------- fetch


def test_poll_then_fetch_give_identical_event_ids_and_snapshot(env):
    emu, conn, clock = env
    busy_pr(emu, clock)
    store = Store()
    polled = store.poll(conn)
    fetched = conn.fetch(ItemRef("github", f"{REPO}#12"))
    assert fetched.next_cursor is None
    assert {e.id for e in fetched.events} == {e.id for e in polled.events}
    assert len(fetched.events) == len({e.id for e in fetched.events}), "no id twice in one read"
    [p_item], [f_item] = polled.items, fetched.items
    assert (f_item.links, f_item.blocked_by, f_item.title, f_item.assignees) == (
        p_item.links, p_item.blocked_by, p_item.title, p_item.assignees)
    assert set(fetched.accounts) == set(polled.accounts)
    # Everything fetch reads is already stored: nothing new for the store.
    assert {e.id for e in fetched.events} - store.event_ids == set()


def test_fetch_after_new_activity_adds_only_the_new_facts(env):
    emu, conn, clock = env
    busy_pr(emu, clock)
    store = Store()
    store.poll(conn)
    emu.comment(REPO, 12, "ben", "Now waiting on https://github.com/acme/api/issues/4", at=clock())
    fetched = conn.fetch(ItemRef("github", f"{REPO}#12"))
    new = [e for e in fetched.events if e.id not in store.event_ids]
    assert sorted(e.kind for e in new) == [EventKind.COMMENTED, EventKind.LINKED]
    link = next(e for e in new if e.kind is EventKind.LINKED)
    assert (link.target, link.link_type, link.actor) == (ItemRef("github", "acme/api#4"), "is blocked by", gh("ben"))
    assert ItemRef("github", "acme/api#4") in fetched.items[0].blocked_by


def test_fetch_costs_the_issue_the_timeline_and_once_the_branch(env):
    emu, conn, clock = env
    busy_pr(emu, clock)
    emu.open_issue(REPO, "ana", "plain issue", number=13, at=clock())
    emu.reset_requests()
    first = conn.fetch(ItemRef("github", f"{REPO}#12"))
    assert served(emu) == [
        ("GET", "/repos/acme/web/issues/12", 200),
        ("GET", "/repos/acme/web/pulls/12", 200),
        ("GET", "/repos/acme/web/issues/12/timeline", 200),
    ]
    assert first.requests == 3
    emu.reset_requests()
    again = conn.fetch(ItemRef("github", f"{REPO}#12"))
    assert again.requests == len(emu.requests) == 2, "the branch name is known now"
    emu.reset_requests()
    issue = conn.fetch(ItemRef("github", f"{REPO}#13"))
    assert issue.requests == len(emu.requests) == 2 and issue.items[0].title == "plain issue"


@pytest.mark.parametrize("key", [f"{REPO}#404", "acme/gone#1"])
def test_fetch_of_a_missing_item_is_an_empty_result_not_an_error(env, key):
    emu, conn, _ = env
    result = conn.fetch(ItemRef("github", key))
    assert (result.items, result.events, result.next_cursor, result.requests) == ([], [], None, 1)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (dict(status=401), errors.AuthError),
        (dict(status=429, retry_after=90), errors.RateLimited),
        (dict(status=502), errors.TransientError),
        (dict(status=422), errors.PermanentError),
    ],
)
def test_fetch_translates_failures_like_poll(env, fault, error):
    emu, conn, clock = env
    busy_pr(emu, clock)
    emu.faults.add("GET", r"/issues/12$", "status", times=None, **fault)
    with pytest.raises(error) as info:
        conn.fetch(ItemRef("github", f"{REPO}#12"))
    assert TOKEN not in str(info.value)
    if error is errors.RateLimited:
        assert info.value.retry_after == 90


def test_fetch_of_a_timeline_failure_raises_transient(env):
    emu, conn, clock = env
    busy_pr(emu, clock)
    emu.faults.add("GET", r"/timeline", "status", status=503, times=None)
    with pytest.raises(errors.TransientError):
        conn.fetch(ItemRef("github", f"{REPO}#12"))


# ---------------------------------------------------------------- links


def test_links_from_title_branch_body_and_comments(env):
    emu, conn, clock = env
    busy_pr(emu, clock)
    result = Store().poll(conn)
    [item] = result.items
    asana = ItemRef("asana", "1200000000000042")
    assert item.links == (jira("WEB-17"), asana, jira("OPS-3"), jira("WEB-18"), jira("SEC-9"))
    assert item.blocked_by == (asana,)
    links = {e.id: e for e in result.events if e.kind is EventKind.LINKED}
    review_id = next(e.id for e in result.events if e.kind is EventKind.REVIEWED)
    assert set(links) == {
        f"text:{REPO}#12:title:mention:jira:WEB-17",
        f"text:{REPO}#12:body:blocked_by:asana:1200000000000042",
        f"text:{REPO}#12:body:mention:jira:OPS-3",
        f"text:{REPO}#12:branch:mention:jira:WEB-18",
        f"text:{REPO}#12:{review_id}:mention:jira:SEC-9",
    }
    assert links[f"text:{REPO}#12:body:blocked_by:asana:1200000000000042"].link_type == "is blocked by"
    # First read: the description's references date from the item's creation.
    assert links[f"text:{REPO}#12:title:mention:jira:WEB-17"].at == T0
    assert links[f"text:{REPO}#12:title:mention:jira:WEB-17"].actor is None
    assert links[f"text:{REPO}#12:{review_id}:mention:jira:SEC-9"].actor == gh("ben")
    assert jira("WEB-99") not in item.links, "bare Jira keys count only in title, body and branch"


def test_a_reference_removed_from_the_text_drops_out_and_rereads_repeat_ids(env):
    emu, conn, clock = env
    busy_pr(emu, clock)
    store = Store()
    first = store.poll(conn)
    first_ids = {e.id for e in first.events}
    clock.advance(timedelta(minutes=5))
    emu.edit(REPO, 12, "ana", body="Legal said yes; nothing blocks this now. See also OPS-3.")
    clock.advance(timedelta(minutes=1))
    second = store.poll(conn)
    [item] = second.items
    assert item.blocked_by == ()
    assert ItemRef("asana", "1200000000000042") not in item.links and jira("OPS-3") in item.links
    assert {e.id for e in second.events} <= first_ids, "same facts, same ids: nothing new to store"
    clock.advance(timedelta(minutes=5))
    emu.edit(REPO, 12, "ana", body="Depends on OPS-3.")
    clock.advance(timedelta(minutes=1))
    stored_before = set(store.event_ids)
    third = store.poll(conn)
    new = [e for e in third.events if e.id not in stored_before]
    assert [(e.id, e.at) for e in new] == [
        (f"text:{REPO}#12:body:blocked_by:jira:OPS-3", third.items[0].updated_at)
    ], "a link that became blocking is a new fact, dated by the edit at the latest"
    assert third.items[0].blocked_by == (jira("OPS-3"),)


def test_native_dependencies_stand_until_removed(env):
    emu, conn, clock = env
    emu.open_issue(REPO, "ana", "blocked", number=1, at=clock())
    emu.open_issue(REPO, "ben", "blocker", number=2, at=clock())
    emu.add_blocked_by(REPO, 1, "ana", REPO, 2, at=clock() + timedelta(minutes=1))
    clock.advance(timedelta(minutes=5))
    store = Store()
    items = {it.ref.key: it for it in store.poll(conn).items}
    assert items[f"{REPO}#1"].blocked_by == (ItemRef("github", f"{REPO}#2"),)
    assert items[f"{REPO}#1"].status_category == "blocked"
    assert items[f"{REPO}#2"].links == (ItemRef("github", f"{REPO}#1"),) and items[f"{REPO}#2"].blocked_by == ()
    emu.remove_blocked_by(REPO, 1, "ana", REPO, 2, at=clock())
    clock.advance(timedelta(minutes=5))
    items = {it.ref.key: it for it in store.poll(conn).items}
    assert items[f"{REPO}#1"].blocked_by == () and items[f"{REPO}#1"].links == ()


def test_the_daemons_own_text_never_links(env):
    emu, conn, clock = env
    emu.open_issue(REPO, "ana", "A", number=1, at=clock())
    emu.comment(REPO, 1, BOT, "@ana is waiting on https://github.com/acme/web/issues/2\n\n<sub>hb:0123456789ab</sub>",
                at=clock())
    clock.advance(timedelta(minutes=5))
    [item] = Store().poll(conn).items
    assert item.links == () and item.blocked_by == ()


# ---------------------------------------------------------------- accounts and commits


def test_accounts_seen_with_names_and_commit_emails(env):
    emu, conn, clock = env
    emu.add_user("dana", name="Dana Wu")
    emu.open_issue(REPO, "ana", "x", pull_request=True, number=5, at=clock())
    emu.commit(REPO, 5, "dana", "via no-reply address", at=clock())
    emu.commit(REPO, 5, "ana", "with a work address", at=clock(), email="Ana.Souza@Example.com", name="Ana Souza")
    emu.request_review(REPO, 5, "ana", "ben", at=clock())
    clock.advance(timedelta(minutes=5))
    result = Store().poll(conn)
    commits = [e for e in result.events if e.kind is EventKind.COMMITTED]
    assert [c.actor for c in commits] == [gh("dana"), Account("email", "ana.souza@example.com")]
    assert set(result.accounts) == {
        AccountInfo(gh("ana")),
        AccountInfo(gh("ben")),
        AccountInfo(gh("dana"), display_name="Dana Wu"),  # the git author name
        AccountInfo(Account("email", "ana.souza@example.com"), display_name="Ana Souza", email="ana.souza@example.com"),
    }


def test_bots_commit_through_its_noreply_address_is_its_own_account(env):
    emu, conn, clock = env
    emu.open_issue(REPO, "ana", "x", pull_request=True, number=5, at=clock())
    emu.commit(REPO, 5, BOT, "chore: bump", at=clock())
    clock.advance(timedelta(minutes=5))
    [commit] = [e for e in Store().poll(conn).events if e.kind is EventKind.COMMITTED]
    assert commit.actor == gh(BOT), "echo suppression sees the daemon's own commit"


# ---------------------------------------------------------------- request costs


def test_branch_names_cost_one_pulls_page_per_repository_once(env):
    emu, conn, clock = env
    for n in (1, 2, 3):
        emu.open_issue(REPO, "ana", f"PR {n}", pull_request=True, number=n, at=clock())
    emu.open_issue(REPO, "ana", "issue", number=4, at=clock())
    clock.advance(timedelta(minutes=5))
    store = Store()
    emu.reset_requests()
    cold = store.poll(conn)
    assert served(emu) == [
        ("GET", "/repos/acme/web/issues", 200),
        ("GET", "/repos/acme/web/pulls", 200),
        *[("GET", f"/repos/acme/web/issues/{n}/timeline", 200) for n in (1, 2, 3, 4)],
    ]
    assert cold.requests == 6
    assert [p for m, p, s in emu.requests if "/pulls" in p][0].count("sort=updated") == 1
    # A change to a known pull request costs its timeline only, as before issue 5.
    clock.advance(timedelta(minutes=10))
    emu.comment(REPO, 2, "ben", "ok", at=clock())
    clock.advance(timedelta(minutes=1))
    emu.reset_requests()
    assert store.poll(conn).requests == 2
    assert served(emu) == [("GET", "/repos/acme/web/issues", 200), ("GET", "/repos/acme/web/issues/2/timeline", 200)]
    # Idle: one conditional request.
    clock.advance(timedelta(minutes=1))
    emu.reset_requests()
    store.poll(conn)
    assert served(emu) == [("GET", "/repos/acme/web/issues", 304)]
    # A new pull request: one pulls page again.
    clock.advance(timedelta(minutes=10))
    emu.open_issue(REPO, "ana", "PR 6", pull_request=True, number=6, at=clock(), head_ref="WEB-6-x")
    clock.advance(timedelta(minutes=1))
    emu.reset_requests()
    result = store.poll(conn)
    assert [p for _, p, _ in served(emu)] == [
        "/repos/acme/web/issues", "/repos/acme/web/pulls", "/repos/acme/web/issues/6/timeline"]
    assert result.items[0].links == (jira("WEB-6"),)


def test_branches_beyond_the_pulls_pages_are_read_one_by_one(env):
    emu, conn, clock = env
    conn.per_page = 2
    for n in range(1, 6):
        emu.open_issue(REPO, "ana", f"PR {n}", pull_request=True, number=n, at=clock() + timedelta(minutes=n),
                       head_ref=f"b/OPS-{n}")
    clock.advance(timedelta(minutes=10))
    emu.reset_requests()
    result = Store().poll(conn)
    pulls = [p for _, p, _ in served(emu) if "/pulls" in p]
    assert len(pulls) == 3, "three pages of two cover five pull requests"
    assert {it.ref.key: it.links for it in result.items} == {f"{REPO}#{n}": (jira(f"OPS-{n}"),) for n in range(1, 6)}
    assert result.requests == len(emu.requests)


def test_a_pull_request_the_pulls_list_does_not_show_is_read_alone_once(env):
    emu, conn, clock = env
    recorded = read_replay("Issue.setUp.txt")[1].json()
    recorded = {**recorded, "number": 31, "updated_at": "2026-03-02T09:00:00Z",
                "pull_request": {"url": "https://api.github.com/repos/acme/web/pulls/31"}}
    emu.load_recorded(REPO, 31, recorded, [])  # the emulator lists no pulls for recorded items
    store = Store()
    emu.reset_requests()
    result = store.poll(conn)
    assert served(emu) == [
        ("GET", "/repos/acme/web/issues", 200),
        ("GET", "/repos/acme/web/pulls", 200),
        ("GET", "/repos/acme/web/pulls/31", 404),
        ("GET", "/repos/acme/web/issues/31/timeline", 200),
    ]
    assert result.requests == 4 and result.items[0].kind == "pull_request"
    # Not found is remembered: the next change costs the timeline only.
    clock.advance(timedelta(minutes=10))
    emu.comment(REPO, 31, "ana", "ping", at=clock())
    clock.advance(timedelta(minutes=1))
    emu.reset_requests()
    store.poll(conn)
    assert [p for _, p, _ in served(emu)] == ["/repos/acme/web/issues", "/repos/acme/web/issues/31/timeline"]
