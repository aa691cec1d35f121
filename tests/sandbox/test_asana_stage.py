"""The Asana demo stage: scenario acts on the emulator, read back through the real connector
(official client over HTTP), with a stepping clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bridge.core.clock import SteppingClock
from bridge.core.model import Account, EventKind, ItemRef
from connectors.asana.client import AsanaConnector
from connectors.sandbox.asana.stage import TOKEN, AsanaStage, narrate

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
PROJECT = "1300000000000001"
ADA, BEN = "1100000000000002", "1100000000000003"
TASK, OTHER = "1209000000000401", "1209000000000402"
PEOPLE = {
    "ada": {"accounts": {"asana": ADA}, "email": "Ada.Lovelace@Example.org"},
    "ben": {"accounts": {"asana": BEN}},
}


@pytest.fixture
def clock():
    return SteppingClock(T0)


def make_stage(clock, **settings):
    stage = AsanaStage(clock, {"projects": [{"gid": PROJECT, "name": "Deals",
                                             "sections": ["To do", "Doing", "Legal review", "Done"]}], **settings},
                       PEOPLE, "Handoff Bot")
    stage.start()
    return stage


@pytest.fixture
def stage(clock):
    s = make_stage(clock)
    yield s
    s.stop()


def connector(stage, clock):
    section, env = stage.connector_config()
    assert env == {"HB_DEMO_ASANA_TOKEN": TOKEN}
    return AsanaConnector("asana", base_url=section["base_url"], token=TOKEN, projects=section["projects"],
                          timeout=5, requests_per_minute=section["requests_per_minute"], clock=clock)


def act(clock, do, **keys):
    return {"do": do, "at": clock(), "actor": "ada", **keys}


def test_poll_every_comes_from_the_asana_table_with_a_one_minute_default(clock, stage):
    assert stage.connector_config()[0]["poll_every"] == "1m"
    slow = make_stage(clock, poll_every="5m")
    try:
        assert slow.connector_config()[0]["poll_every"] == "5m"
    finally:
        slow.stop()


def test_create_task_takes_notes_due_on_and_assignee_together_and_people_emails_reach_the_accounts(clock, stage):
    stage.apply(act(clock, "create_task", item=TASK, title="NDA for ACME", notes="Draft attached",
                    assignee="ada", due_on="2026-11-27", section="Doing"))
    t = stage.emu.task(TASK)
    assert (t["name"], t["notes"], t["due_on"], t["assignee"]["gid"]) == ("NDA for ACME", "Draft attached", "2026-11-27", ADA)
    assert t["memberships"][0]["section"]["name"] == "Doing"
    conn = connector(stage, clock)
    r = conn.poll(PROJECT, None)
    [snap] = r.items
    assert snap.assignees == (Account("asana", ADA),) and snap.due == date(2026, 11, 27)
    emails = {a.account.id: a.email for a in r.accounts}
    assert emails == {ADA: "ada.lovelace@example.org"}, "the scenario's e-mail, lower-cased"
    stage.apply(act(clock, "assign", item=TASK, assignee="ben"))
    fetched = {a.account.id: a.email for a in conn.fetch(ItemRef("asana", TASK)).accounts}
    assert fetched == {BEN: "ben@example.com", ADA: "ada.lovelace@example.org"}, "no email key: the emulator's default"


def test_edit_renames_and_rewrites_notes_with_stories_and_modified_at(clock, stage):
    stage.apply(act(clock, "create_task", item=OTHER, title="Sign-off"))
    stage.apply(act(clock, "create_task", item=TASK, title="NDA", notes="nothing yet"))
    conn = connector(stage, clock)
    cursor = conn.poll(PROJECT, None).next_cursor
    clock.advance(timedelta(hours=1))
    stage.apply(act(clock, "edit", item=TASK, title="LEG-4: NDA for ACME",
                    notes=f"Blocked by https://app.asana.com/0/{PROJECT}/{OTHER}"))
    t = stage.emu.task(TASK)
    assert t["name"] == "LEG-4: NDA for ACME" and t["modified_at"] == "2026-11-23T09:00:00.000Z"
    subtypes = [s["resource_subtype"] for s in stage.emu.stories(TASK)]
    assert subtypes[-2:] == ["name_changed", "notes_changed"]
    renamed = [s for s in stage.emu.stories(TASK) if s["resource_subtype"] == "name_changed"][0]
    assert (renamed["old_name"], renamed["new_name"]) == ("NDA", "LEG-4: NDA for ACME")
    r = conn.poll(PROJECT, cursor)
    [snap] = [i for i in r.items if i.ref.key == TASK]
    assert snap.title == "LEG-4: NDA for ACME"
    assert snap.blocked_by == (ItemRef("asana", OTHER),)
    assert snap.links == (ItemRef("jira", "LEG-4"), ItemRef("asana", OTHER)), "name first, then notes"
    linked = {(e.id, e.link_type) for e in r.events if e.kind == EventKind.LINKED}
    assert linked == {(f"notes:{TASK}:blocked_by:asana:{OTHER}", "is blocked by"),
                      (f"notes:{TASK}:mentions:jira:LEG-4", "mentions")}
    clock.advance(timedelta(minutes=5))
    stage.apply(act(clock, "edit", item=TASK, notes="unblocked"))
    assert stage.emu.task(TASK)["name"] == "LEG-4: NDA for ACME"
    assert conn.fetch(ItemRef("asana", TASK)).items[0].blocked_by == ()
    with pytest.raises(ValueError, match="title and/or notes"):
        stage.apply(act(clock, "edit", item=TASK))


def test_edit_is_a_known_act_and_is_narrated():
    assert "edit" in AsanaStage.ACTS
    assert narrate({"do": "edit", "actor": "ada", "item": TASK, "title": "New"}) == f'ada edits {TASK}: title "New"'
    assert narrate({"do": "edit", "actor": "ada", "item": TASK, "title": "A", "notes": "B"}) == \
        f'ada edits {TASK}: title "A"; notes "B"'
    assert narrate({"do": "create_task", "actor": "ada", "item": TASK, "title": "T", "assignee": "ben",
                    "due_on": "2026-11-27"}) == f'ada creates task {TASK} "T", assigned to ben, due 2026-11-27'
