"""The GitHub demo stage: scenario acts become emulator state the connector reads back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import github
import pytest

from bridge.core.clock import SteppingClock
from bridge.core.model import Account, EventKind, ItemRef
from connectors.github.client import GitHubConnector
from connectors.sandbox.github.stage import TOKEN, GitHubStage, narrate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PEOPLE = {
    "ana": {"accounts": {"github": "ana"}, "email": "Ana@Example.com"},
    "ben": {"accounts": {"github": "ben-o"}},
}


@pytest.fixture
def stage():
    clock = SteppingClock(T0)
    st = GitHubStage(clock, {"repositories": ["acme/web"], "poll_every": "15m"}, PEOPLE, "hb-bot")
    st.start()
    try:
        yield st, clock
    finally:
        st.emu.stop()


def act(clock, do, actor="ana", item="acme/web#12", **kw):
    return {"do": do, "actor": actor, "item": item, "at": clock(), **kw}


def read(st: GitHubStage, clock) -> GitHubConnector:
    section, env = st.connector_config()
    return GitHubConnector("github", base_url=section["base_url"], token=env["HB_DEMO_GITHUB_TOKEN"],
                           repositories=section["repositories"], clock=clock,
                           seconds_between_requests=0, seconds_between_writes=0)


def test_poll_every_goes_into_the_connector_section():
    clock = SteppingClock(T0)
    assert GitHubStage(clock, {"repositories": []}, {}, "bot").connector_config()[0]["poll_every"] == "1m"
    section, env = GitHubStage(clock, {"repositories": [], "poll_every": "15m"}, {}, "bot").connector_config()
    assert section["poll_every"] == "15m" and env == {"HB_DEMO_GITHUB_TOKEN": TOKEN}


def test_branch_edit_and_commit_acts(stage):
    st, clock = stage
    st.apply(act(clock, "open_pull_request", title="Login limits", branch="feature/WEB-17-limits"))
    st.apply(act(clock, "open_pull_request", item="acme/web#13", title="No branch given"))
    g = github.Github(base_url=st.emu.url, auth=github.Auth.Token(TOKEN), retry=None)
    assert g.get_repo("acme/web").get_pull(13).head.ref == "hb/13"
    clock.advance(timedelta(minutes=5))
    assert narrate(act(clock, "edit", title="WEB-18: limits")) == 'ana edits acme/web#12: "WEB-18: limits"'
    st.apply(act(clock, "edit", title="WEB-18: limits", body="Depends on WEB-19"))
    st.apply(act(clock, "commit", message="limit"))
    st.apply(act(clock, "commit", actor="ben", message="review fix"))
    clock.advance(timedelta(minutes=1))
    result = read(st, clock).poll("acme/web", None)
    pr = next(i for i in result.items if i.ref.key == "acme/web#12")
    assert (pr.title, pr.updated_at) == ("WEB-18: limits", T0 + timedelta(minutes=5))
    assert pr.links == (ItemRef("jira", "WEB-18"), ItemRef("jira", "WEB-19"), ItemRef("jira", "WEB-17"))
    assert pr.blocked_by == (ItemRef("jira", "WEB-19"),)
    commits = [e.actor for e in result.events if e.kind is EventKind.COMMITTED]
    assert commits == [Account("email", "ana@example.com"), Account("github", "ben-o")]


def test_block_and_unblock_acts_use_native_dependencies(stage):
    st, clock = stage
    st.apply(act(clock, "open_issue", item="acme/web#1", title="blocked"))
    st.apply(act(clock, "open_issue", item="acme/web#2", title="blocker", actor="ben"))
    st.apply(act(clock, "block", item="acme/web#1", blocker="acme/web#2"))
    clock.advance(timedelta(minutes=1))
    conn = read(st, clock)
    items = {i.ref.key: i for i in conn.poll("acme/web", None).items}
    assert items["acme/web#1"].blocked_by == (ItemRef("github", "acme/web#2"),)
    st.apply(act(clock, "unblock", item="acme/web#1", blocker="acme/web#2"))
    assert conn.fetch(ItemRef("github", "acme/web#1")).items[0].blocked_by == ()
    assert "edit" in GitHubStage.ACTS and {"block", "unblock"} <= GitHubStage.ACTS
