"""The daemon end to end on Asana: real config, store and engine, the official client over HTTP
to the emulator, a stepping clock (no sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.core.clock import SteppingClock
from bridge.config import parse_config
from bridge.core.model import EventKind, ItemRef, StatusCategory
from bridge.store import Store
from bridge.app.wiring import build_engine
from connectors.sandbox.asana.emulator import AsanaEmulator
from connectors.sandbox.asana.routes import API_PREFIX
from connectors.sandbox.asana.stage import MARKER

BERLIN = ZoneInfo("Europe/Berlin")
TOKEN = "2/1200/e2e-asana-token"
BOT, ADA, BEN, LEO, MIA = (f"110000000000000{i}" for i in range(1, 6))
PROJECT = "1300000000000001"

RULE = """
[[rules]]
name = "legal-review-not-opened"
detect = "handoff"
on = [{ status = "Legal review", owner = "leo" }]
within = "1d"
need = "legal sign-off"
next = "Ready to sign"
steps = [
  { after = "0h", do = "comment", template = "nudge" },
  { after = "1d", do = "draft" },
]
"""


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


class AsanaWorld:
    def __init__(self, tmp_path, rules: str = RULE, database: str | None = None):
        self.clock = SteppingClock(berlin("2026-11-23 08:00"))
        self.emu = AsanaEmulator(clock=self.clock).start()
        for gid, name in ((BOT, "Handoff Bot"), (ADA, "Ada"), (BEN, "Ben"), (LEO, "Leo"), (MIA, "Mia")):
            self.emu.add_user(gid, name)
        self.emu.add_token(TOKEN, BOT)
        self.emu.create_project(PROJECT, "Deals", sections=("To do", "Doing", "Legal review", "Blocked", "Done"))
        text = f"""
[daemon]
database = "{database or f'sqlite:///{tmp_path}/state.db'}"

[connectors.asana]
base_url = "{self.emu.url}{API_PREFIX}"
token = {{ env = "ASANA_TOKEN" }}
projects = ["{PROJECT}"]
timeout = "3s"
requests_per_minute = 10000

[defaults]
timezone = "Europe/Berlin"
working_hours = "09:00-17:00"
holidays = "DE"

[people.ada]
accounts = {{ asana = "{ADA}" }}
[people.ben]
accounts = {{ asana = "{BEN}" }}
[people.leo]
accounts = {{ asana = "{LEO}" }}
[people.mia]
accounts = {{ asana = "{MIA}" }}
{rules}
"""
        self.config = parse_config(text, environ={"ASANA_TOKEN": TOKEN})
        self.store = Store.open(self.config.database_url())
        self.engine = build_engine(self.config, self.store, clock=self.clock)

    def run_until(self, end: str, step: timedelta = timedelta(minutes=15)) -> list:
        stop, reports = berlin(end), []
        while self.clock() <= stop:
            reports.append(self.engine.cycle())
            self.clock.advance(step)
        return reports

    def bot_comments(self, task: str) -> list[dict]:
        return [s for s in self.emu.stories(task)
                if s["resource_subtype"] == "comment_added" and s["created_by"]["gid"] == BOT]

    def close(self):
        self.emu.stop()
        self.store.engine.dispose()


@pytest.fixture
def world(tmp_path, database_url):
    w = AsanaWorld(tmp_path, database=database_url)
    yield w
    w.close()


def test_legal_review_owner_is_nudged_then_gets_a_subtask(world):
    w = world
    t = w.emu.create_task(PROJECT, ADA, "ACME MSA", section="Doing", at=berlin("2026-11-23 09:00"))
    w.emu.move_to_section(t, ADA, "Legal review", at=berlin("2026-11-23 10:00"))
    w.run_until("2026-11-24 09:45")
    assert w.bot_comments(t) == [], "nothing before the deadline (Tue 10:00)"
    w.run_until("2026-11-24 10:00")
    [nudge] = w.bot_comments(t)
    assert f'data-asana-gid="{LEO}"' in nudge["html_text"]
    assert nudge["text"].startswith("@Leo: I need your legal sign-off of")
    assert MARKER.search(nudge["text"])
    w.run_until("2026-11-25 10:00")
    [sub] = w.emu.subtasks(t)
    s = w.emu.task(sub)
    assert s["assignee"]["gid"] == LEO and s["due_at"] == "2026-11-24T09:00:00.000Z"
    assert MARKER.search(s["notes"])
    item = w.store.items()[ItemRef("asana", t)]
    assert item.status == "Legal review" and item.status_category == StatusCategory.IN_REVIEW
    # The bot's own subtask and comment start no handoff and are not acknowledgements.
    w.run_until("2026-11-26 17:00", step=timedelta(hours=1))
    assert len(w.bot_comments(t)) == 1 and len(w.emu.subtasks(t)) == 1


def test_assignee_set_with_the_move_receives_instead_of_the_owner(world):
    w = world
    t = w.emu.create_task(PROJECT, ADA, "Reseller agreement", section="Doing", at=berlin("2026-11-23 09:00"))
    w.emu.move_to_section(t, ADA, "Legal review", at=berlin("2026-11-23 10:00"))
    w.emu.assign(t, ADA, MIA, at=berlin("2026-11-23 10:00"))
    w.run_until("2026-11-24 10:00")
    [nudge] = w.bot_comments(t)
    assert f'data-asana-gid="{MIA}"' in nudge["html_text"] and LEO not in nudge["html_text"]


def test_receivers_comment_acknowledges(world):
    w = world
    t = w.emu.create_task(PROJECT, ADA, "NDA", section="Doing", at=berlin("2026-11-23 09:00"))
    w.emu.move_to_section(t, ADA, "Legal review", at=berlin("2026-11-23 10:00"))
    w.emu.comment(t, LEO, "Looking at it tomorrow.", at=berlin("2026-11-23 16:00"))
    w.run_until("2026-11-25 17:00", step=timedelta(hours=1))
    assert w.bot_comments(t) == [] and w.emu.subtasks(t) == []


def test_mutual_dependency_links_are_stored_with_their_targets(world):
    w = world
    a = w.emu.create_task(PROJECT, ADA, "Launch", section="Doing", at=berlin("2026-11-23 09:00"))
    b = w.emu.create_task(PROJECT, BEN, "Pricing", section="Doing", at=berlin("2026-11-23 09:05"))
    w.emu.add_dependency(a, ADA, b, at=berlin("2026-11-23 10:00"))
    w.run_until("2026-11-23 10:30")
    w.emu.add_dependency(b, BEN, a, at=berlin("2026-11-23 11:00"))
    w.run_until("2026-11-23 12:00")
    linked = [e for e in w.store.events() if e.kind == EventKind.LINKED]
    assert sorted((e.item.key, e.link_type, e.target.key) for e in linked) == sorted(
        [(a, "is blocked by", b), (b, "is blocked by", a)])
    assert {e.actor.id for e in linked} == {ADA, BEN}
    items = w.store.items()
    assert items[ItemRef("asana", a)].links == (ItemRef("asana", b),)
    assert items[ItemRef("asana", b)].links == (ItemRef("asana", a),)
    assert w.store.findings() == []


def test_idle_cycle_is_one_events_request(world):
    w = world
    t = w.emu.create_task(PROJECT, ADA, "NDA", section="Doing", at=berlin("2026-11-23 08:00"))
    w.run_until("2026-11-23 08:30")
    w.emu.reset_requests()
    w.run_until("2026-11-23 09:30")
    assert [(m, p.split("?")[0], s) for m, p, s in w.emu.requests] == [("GET", API_PREFIX + "/events", 200)] * 4
    assert t


def test_expired_token_between_cycles_loses_no_handoff(world):
    w = world
    t = w.emu.create_task(PROJECT, ADA, "NDA", section="Doing", at=berlin("2026-11-23 09:00"))
    w.run_until("2026-11-23 09:45")
    w.emu.move_to_section(t, ADA, "Legal review", at=berlin("2026-11-23 09:50"))
    w.emu.expire_sync_tokens()
    w.run_until("2026-11-23 10:00")
    assert any(e.kind == EventKind.STATUS_CHANGED and e.to_status == "Legal review" for e in w.store.events())
    w.run_until("2026-11-24 10:00")
    assert len(w.bot_comments(t)) == 1
