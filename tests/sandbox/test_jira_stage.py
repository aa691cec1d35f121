"""The Jira demo stage: settings (``poll_every``), people's e-mail on the emulator's users,
and the ``edit``/``unlink`` acts, read back through the real connector over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bridge.core.clock import SteppingClock
from bridge.core.model import Account, AccountInfo, EventKind, ItemRef
from connectors.jira.client import JiraConnector
from connectors.sandbox.jira.stage import JiraStage, narrate

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
BOT = "5b10a2844c20165700ede999"
PEOPLE = {
    "ana": {"accounts": {"jira": "5b10a2844c20165700ede21a"}, "display_name": "Ana Lima",
            "email": "Ana@Example.com", "timezone": "Europe/Berlin"},
    "ben": {"accounts": {"jira": "5b10a2844c20165700ede21b"}},
}


@pytest.fixture
def stage():
    clock = SteppingClock(T0)
    st = JiraStage(clock, {"projects": ["WEB"], "poll_every": "15m"}, PEOPLE, BOT)
    st.start()
    st.clock = clock
    yield st
    st.stop()


def connector(st):
    section, env = st.connector_config()
    return JiraConnector("jira", base_url=section["base_url"], token=env["HB_DEMO_JIRA_TOKEN"],
                         email=section.get("email"), jql=section["jql"], clock=st.clock)


def act(st, do, item, actor="ana", **kw):
    st.clock.advance(timedelta(minutes=1))
    return st.apply({"do": do, "item": item, "actor": actor, "at": st.clock(), **kw})


def test_poll_every_goes_into_the_connector_section(stage):
    section, _ = stage.connector_config()
    assert section["poll_every"] == "15m"
    plain = JiraStage(SteppingClock(T0), {"projects": ["WEB"]}, PEOPLE, BOT)
    assert plain.poll_every == "1m"


def test_people_email_is_the_users_email_address(stage):
    act(stage, "create_issue", "WEB-1", title="x", assignee="ben")
    r = connector(stage).poll("project = WEB", None)
    by = {a.account.id: a for a in r.accounts}
    assert by["5b10a2844c20165700ede21a"] == AccountInfo(Account("jira", "5b10a2844c20165700ede21a"),
                                                         "Ana Lima", "ana@example.com")
    assert by["5b10a2844c20165700ede21b"].email is None


def test_edit_and_unlink_acts_move_blocked_by(stage):
    act(stage, "create_issue", "WEB-2", title="blocker")
    act(stage, "create_issue", "WEB-3", title="other blocker")
    act(stage, "create_issue", "WEB-1", title="checkout", body="see WEB-3")
    act(stage, "link", "WEB-1", other="WEB-2")
    conn = connector(stage)
    first = {i.ref.key: i for i in conn.poll("project = WEB", None).items}
    assert first["WEB-1"].blocked_by == (ItemRef("jira", "WEB-2"),)
    assert set(first["WEB-1"].links) == {ItemRef("jira", "WEB-2"), ItemRef("jira", "WEB-3")}

    said = act(stage, "edit", "WEB-1", actor="ben", title="Checkout in EUR", body="blocked by WEB-3")
    assert said == 'ben edits WEB-1 (title now "Checkout in EUR") (body now "blocked by WEB-3")'
    assert act(stage, "unlink", "WEB-1", other="WEB-2") == "ana removes the link WEB-1 is blocked by WEB-2"
    r = conn.fetch(ItemRef("jira", "WEB-1"))
    [web1] = r.items
    assert web1.title == "Checkout in EUR" and web1.blocked_by == (ItemRef("jira", "WEB-3"),)
    assert web1.updated_at == stage.clock()
    assert [e.kind for e in r.events if e.target == ItemRef("jira", "WEB-2")] == [EventKind.LINKED, EventKind.UNLINKED]
    with pytest.raises(ValueError):
        act(stage, "edit", "WEB-1")


def test_every_act_has_a_narration():
    for do in JiraStage.ACTS:
        assert narrate({"do": do, "actor": "ana", "item": "WEB-1", "other": "WEB-2", "title": "t"})
