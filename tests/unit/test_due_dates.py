"""A due date without a time is the end of that day for the person who owes the item (issue 12).

Jira ``fields.duedate`` and Asana ``due_on`` are calendar dates. They were read as 23:59:59 UTC,
so a rule with ``before_due = "1d"`` nudged an Auckland receiver at Wednesday 13:00 NZDT instead
of 09:00, and a Los Angeles one a day early. Here the date travels as a date (mapping → store →
evaluator) and the deadline is resolved in the receiver's schedule (hours 09:00-17:00).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bridge.config import parse_config
from bridge.core.businesstime import Duration, WorkSchedule
from bridge.core.model import Account, ItemRef, ItemSnapshot, PollResult
from bridge.engine.evaluator import Evaluator
from bridge.store import Store
from connectors.asana import mapping as asana_mapping
from connectors.jira import mapping as jira_mapping
from rules import handoff
from tests.unit.test_jira_mapping import hist, issue, item

SENDER, KIWI, ANGELENO = "5b10a2844c20165700ede21a", "5b10a2844c20165700ede2aa", "5b10a2844c20165700ede2bb"
WEDNESDAY = date(2026, 11, 25)

CONFIG = f"""
[defaults]
timezone = "UTC"
working_hours = "09:00-17:00"
[people.kiwi]
timezone = "Pacific/Auckland"
accounts = {{ jira = "{KIWI}" }}
[people.angeleno]
timezone = "America/Los_Angeles"
accounts = {{ jira = "{ANGELENO}" }}
[people.sender]
accounts = {{ jira = "{SENDER}" }}
[connectors.jira]
base_url = "http://127.0.0.1:1"
deployment = "datacenter"
token = {{ env = "T" }}
jql = ["project = WEB"]
[[rules]]
name = "qa"
detect = "handoff"
on = ["assigned"]
within = "5d"
before_due = "1d"
need = "look"
next = "ship"
steps = [{{ after = "0h", do = "comment" }}]
"""


def assigned_issue(number: int, receiver: str) -> jira_mapping.IssueMapping:
    """A Jira issue due on Wednesday, handed to ``receiver`` on Monday 10:00 UTC (swagger IssueBean shape)."""
    raw = issue([hist(f"{number}00", "2026-11-23T10:00:00.000+0000", item("assignee", None, None, receiver, receiver),
                      author=SENDER)], duedate=WEDNESDAY.isoformat(), assignee={"accountId": receiver})
    raw = {**raw, "id": f"100{number}", "key": f"WEB-{number}"}
    return jira_mapping.map_issue(raw)


def test_jira_and_asana_keep_a_date_alone_as_a_date():
    m = assigned_issue(1, KIWI)
    assert m.item.due == WEDNESDAY and not isinstance(m.item.due, datetime)
    task = asana_mapping.map_task("1200000000000009", {"gid": "1200000000000001", "name": "t", "completed": False,
                                                       "due_on": "2026-11-25"})
    assert task.due == WEDNESDAY and not isinstance(task.due, datetime)


@pytest.mark.parametrize("zone,want", [
    ("Pacific/Auckland", datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)),  # Wed 09:00 NZDT (UTC+13)
    ("America/Los_Angeles", datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)),  # Wed 09:00 PST (UTC-8)
    ("UTC", datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)),
])
def test_the_rule_resolves_a_due_date_in_the_receivers_schedule(zone, want):
    schedule = WorkSchedule(zone, range(5), datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=17))
    assert handoff.due_deadline(schedule, WEDNESDAY, Duration.parse("1d")) == want
    moment = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)  # a due moment is taken as it is
    assert handoff.due_deadline(schedule, moment, Duration()) == moment


def test_an_auckland_and_a_los_angeles_receiver_are_due_wednesday_0900_their_time(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    now = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
    kiwi, angeleno = assigned_issue(1, KIWI), assigned_issue(2, ANGELENO)
    store.save_poll("jira", "project = WEB", PollResult(events=kiwi.events + angeleno.events,
                                                          items=[kiwi.item, angeleno.item]), now)
    ev = Evaluator(parse_config(CONFIG, environ={"T": "x"}), store, bots=lambda: set(), persist=False)
    ev.refresh(None)
    deadlines = {h.receiver: h.deadline for h in ev.evaluate(now).handoffs}
    assert deadlines == {
        Account("jira", KIWI): datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc),  # was Wed 13:00 NZDT
        Account("jira", ANGELENO): datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc),  # was Tue 16:00 PST
    }


def test_a_snapshot_stored_with_the_old_utc_reading_still_decodes(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    now = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
    old = datetime(2026, 11, 25, 23, 59, 59, tzinfo=timezone.utc)  # how a Jira due date was stored before
    jira = ItemSnapshot(ItemRef("jira", "WEB-9"), "t", "u", assigned_issue(9, KIWI).item.kind, "To Do",
                        assigned_issue(9, KIWI).item.status_category, due=old)
    asana = ItemSnapshot(ItemRef("asana", "1200000000000001"), "t", "u", jira.kind, "x", jira.status_category, due=old)
    dated = ItemSnapshot(ItemRef("asana", "1200000000000002"), "t", "u", jira.kind, "x", jira.status_category,
                         due=WEDNESDAY)
    store.save_poll("jira", "project = WEB", PollResult(items=[jira]), now)
    store.save_poll("asana", "1200000000000009", PollResult(items=[asana, dated]), now)
    got = store.items_for({jira.ref, asana.ref, dated.ref})
    assert got[jira.ref].due == WEDNESDAY and not isinstance(got[jira.ref].due, datetime)  # Jira: always a date
    assert got[asana.ref].due == old  # Asana: could be a due_at at that moment, kept as a moment
    assert got[dated.ref].due == WEDNESDAY and not isinstance(got[dated.ref].due, datetime)
