"""The daemon end to end over Jira: the jira client over real HTTP against the Jira emulator,
real config, store and engine, stepping clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.core.clock import SteppingClock
from bridge.config import parse_config
from bridge.store import Store
from bridge.app.wiring import build_engine
from connectors.sandbox.jira.emulator import JiraEmulator
from tests.support.world import DiesAfterSending

BERLIN = ZoneInfo("Europe/Berlin")
BOT, DEV, QA = "5b10a2844c20165700ede999", "5b10a2844c20165700ede21a", "5b10a2844c20165700ede21g"
TOKEN = "jira-e2e-token-4f2a"
MARKER = re.compile(r"hb:[0-9a-f]{12}")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


class JiraWorld:
    def __init__(self, tmp_path, steps='[{ after = "0h", do = "comment", template = "nudge" }]',
                 database: str | None = None):
        self.clock = SteppingClock(berlin("2026-11-23 08:00"))
        self.emu = JiraEmulator(clock=self.clock).start()
        self.emu.add_user(BOT, "Bot", email="bot@example.com", time_zone="Europe/Berlin")
        self.emu.add_token(TOKEN, BOT, email="bot@example.com")
        for a in (DEV, QA):
            self.emu.add_user(a)
        self.emu.create_project("WEB")
        self.config = parse_config(f"""
[daemon]
database = "{database or f'sqlite:///{tmp_path}/state.db'}"

[connectors.jira]
base_url = "{self.emu.url}"
email = "bot@example.com"
token = {{ env = "JIRA_TOKEN" }}
jql = ["project = WEB"]
timeout = "3s"

[defaults]
timezone = "Europe/Berlin"
working_hours = "09:00-17:00"
holidays = "DE"

[people.dev]
accounts = {{ jira = "{DEV}" }}

[people.qa]
accounts = {{ jira = "{QA}" }}

[[rules]]
name = "qa-not-picked-up"
detect = "handoff"
on = [{{ status = "Ready for QA", owner = "qa" }}]
within = "4h"
need = "QA"
next = "Done"
steps = {steps}
""", environ={"JIRA_TOKEN": TOKEN})
        self.restart()

    def restart(self):
        self.store = Store.open(self.config.database_url())
        self.engine = build_engine(self.config, self.store, clock=self.clock)

    def run_until(self, end: str, step=timedelta(minutes=15)):
        stop = berlin(end)
        while self.clock() <= stop:
            self.engine.cycle()
            self.clock.advance(step)

    def moved_to_qa(self, title="Checkout total"):
        self.emu.create_issue("WEB", DEV, title, key="WEB-17", status="In Progress", assignee=DEV, at=berlin("2026-11-23 09:00"))
        self.emu.transition("WEB-17", DEV, "Ready for QA", at=berlin("2026-11-23 10:00"))

    def bot_comments(self, key="WEB-17"):
        return [c for c in self.emu.comments(key) if c["author"] == BOT]

    def close(self):
        self.emu.stop()
        self.store.engine.dispose()


@pytest.fixture
def world(tmp_path, database_url):
    made = []

    def make(**kw):
        w = JiraWorld(tmp_path, database=database_url, **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def test_status_handoff_to_owner_gets_one_nudge_with_native_mention_and_marker(world):
    w = world()
    w.moved_to_qa()
    w.run_until("2026-11-23 13:45")
    assert w.bot_comments() == [], "nothing before the deadline (Mon 14:00)"
    w.run_until("2026-11-24 12:00", step=timedelta(minutes=30))
    [nudge] = w.bot_comments()
    assert nudge["body"].startswith(f"[~accountid:{QA}]: I need your QA of WEB-17 by Mon 23 Nov 14:00 CET")
    assert MARKER.search(nudge["body"])


def test_receivers_comment_before_the_deadline_is_an_acknowledgement(world):
    w = world()
    w.moved_to_qa()
    w.emu.comment("WEB-17", QA, "Testing now", at=berlin("2026-11-23 11:00"))
    w.run_until("2026-11-24 12:00", step=timedelta(minutes=30))
    assert w.bot_comments() == []


def test_untrusted_title_cannot_mention_or_format_in_the_draft(world):
    w = world(steps='[{ after = "0h", do = "draft" }]')
    w.moved_to_qa(title=f"[~accountid:{DEV}] *boom* {{color:red}}x{{color}}")
    w.run_until("2026-11-23 14:30")
    drafts = [k for k in w.emu.issue_keys("WEB") if k != "WEB-17"]
    assert len(drafts) == 1
    issue = w.emu.issue(drafts[0])
    assert issue["fields"]["assignee"]["accountId"] == QA
    assert issue["fields"]["duedate"] == "2026-11-23"
    assert ("relates to", "WEB-17") in w.emu.links(drafts[0])
    assert f"[~accountid:{DEV}]" not in issue["fields"]["description"]
    # The summary is plain text in Jira (never rendered, never notifies): the title goes in as written.
    assert issue["fields"]["summary"] == f"QA needed: [~accountid:{DEV}] *boom* {{color:red}}x{{color}}"



def test_process_killed_between_send_and_confirm_does_not_double_post(world):
    w = world()
    w.moved_to_qa()
    w.run_until("2026-11-23 13:45")
    w.engine.connectors["jira"] = DiesAfterSending(w.engine.connectors["jira"])
    w.clock.set(berlin("2026-11-23 14:00"))
    with pytest.raises(SystemExit):
        w.engine.cycle()
    assert len(w.bot_comments()) == 1
    w.restart()
    w.run_until("2026-11-23 16:00")
    [row] = w.store.outbox()
    assert (row.status, row.attempts) == ("done", 1)
    assert len(w.bot_comments()) == 1


def test_lost_comment_response_never_becomes_a_second_comment(world):
    w = world()
    w.moved_to_qa()
    w.emu.faults.add("POST", r"/issue/WEB-17/comment", "lost_response")
    w.run_until("2026-11-23 16:00")
    assert len(w.bot_comments()) == 1
    [row] = w.store.outbox()
    assert row.status == "done"


def test_idle_cycle_costs_one_search(world):
    w = world()
    w.moved_to_qa()
    w.run_until("2026-11-23 10:30")
    w.emu.reset_requests()
    w.run_until("2026-11-23 10:45")
    assert [m for m, _, _ in w.emu.requests] == ["GET"]
    assert "/rest/api/3/search/jql" in w.emu.requests[0][1]
