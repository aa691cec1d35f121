"""The evaluator and absences: an away command on another item re-routes the open handoffs its
author holds (walks are otherwise kept until their item changes), a restart keeps the routed legs,
and ``/hb back`` hands the time back. Real SQLite store, ``Store.save_poll`` as a poll writes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bridge.config import parse_config
from bridge.core.model import Account, Event, EventKind, ItemKind, ItemRef, ItemSnapshot, PollResult, StatusCategory
from bridge.engine.evaluator import Evaluator
from bridge.store import Store

UTC = timezone.utc
CONFIG = """
[people.ana]
accounts = { github = "ana" }
[people.ben]
display_name = "Ben"
accounts = { github = "ben" }
[people.cleo]
accounts = { github = "cleo" }
[connectors.github]
base_url = "http://127.0.0.1:1"
token = { env = "T" }
repositories = ["acme/web"]
[[rules]]
name = "review"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{ after = "0h", do = "comment" }]
"""
ANA, BEN, CLEO, BOT = (Account("github", x) for x in ("ana", "ben", "cleo", "hb-bot"))
PR, ISSUE = ItemRef("github", "acme/web#1"), ItemRef("github", "acme/web#2")
MON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def snap(ref):
    return ItemSnapshot(ref, "t", f"https://github.com/{ref.key}", ItemKind.PULL_REQUEST, "open", StatusCategory.IN_REVIEW)


def poll(store, ref, *events):
    store.save_poll("github", "acme/web", PollResult(events=list(events), items=[snap(ref)]), events[-1].at)


def evaluator(store):
    return Evaluator(parse_config(CONFIG, environ={"T": "x"}), store, bots=lambda: {BOT})


def comment(at, actor, text, ref=ISSUE, n=[0]):
    n[0] += 1
    return Event("github", f"c{n[0]}", ref, at, EventKind.COMMENTED, actor, text=text)


def test_a_command_elsewhere_delegates_the_open_review_and_a_restart_keeps_it(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    poll(store, PR, Event("github", "rr", PR, MON, EventKind.REVIEW_REQUESTED, ANA, subject=BEN))
    ev = evaluator(store)
    ev.refresh(None)
    [f] = ev.evaluate(MON + timedelta(hours=5)).findings
    assert f.receiver == BEN

    poll(store, ISSUE, comment(MON + timedelta(hours=6), BEN, "/hb away until 2026-11-27 delegate @cleo"))
    ev.refresh({ISSUE})  # only the comment's item changed
    assert ev.evaluate(datetime(2026, 11, 24, 10, 59, tzinfo=UTC)).findings == [], "Ben's finding went with him"
    out = ev.evaluate(datetime(2026, 11, 24, 11, 0, tzinfo=UTC))
    [f] = out.findings
    assert f.receiver == CLEO and f.handoff.delegated_from == BEN, "re-walked although the pull request did not change"
    assert f.at == datetime(2026, 11, 24, 11, 0, tzinfo=UTC), "Cleo's 4 business hours from the command (Mon 15:00)"
    assert [a.identity for a in ev.absences()] == ["person:ben"]

    again = evaluator(store)  # a restart: from the stored walk state
    [g] = again.evaluate(MON + timedelta(hours=30)).findings
    assert (g.key, g.receiver, g.at, g.handoff.away_note) == (f.key, f.receiver, f.at, f.handoff.away_note)
    store.engine.dispose()


def test_back_ends_the_absence_and_the_time_left_resumes(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    poll(store, PR, Event("github", "rr", PR, MON, EventKind.REVIEW_REQUESTED, ANA, subject=BEN))
    poll(store, ISSUE, comment(MON + timedelta(hours=1), BEN, "off for the week\n/hb away until 2026-11-27"))
    ev = evaluator(store)
    ev.refresh(None)
    assert ev.evaluate(MON + timedelta(hours=5)).findings == [], "3 h were left when Ben went away"
    poll(store, ISSUE, comment(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), BEN, "/hb back"))
    ev.refresh({ISSUE})
    assert ev.evaluate(datetime(2026, 11, 24, 11, 59, tzinfo=UTC)).findings == []
    [f] = ev.evaluate(datetime(2026, 11, 24, 12, 0, tzinfo=UTC)).findings
    assert f.receiver == BEN and f.at == datetime(2026, 11, 24, 12, 0, tzinfo=UTC), "back Tue 09:00 + the 3 h left"
    [away, back] = sorted(ev.away_commands(), key=lambda c: c.verb)
    assert back.verb == "back" and away.absence.end == datetime(2026, 11, 28, tzinfo=UTC)
    store.engine.dispose()


DELEGATES = """
[people.ben]
accounts = { github = "ben", jira = "5b10ac8d82e05b22cc7d4ef5", asana = "1201000000000002" }
[people.cleo]
display_name = "Cleo Lind"
accounts = { github = "Cleo-L", jira = "61a2b3c4d5e6f7a8b9c0d1e2", asana = "1201000000000003" }
"""


def test_the_delegate_is_named_as_each_tool_writes_it():
    from bridge.core.people import Directory
    from bridge.engine.away import AwayBook

    config = parse_config(DELEGATES)
    book = AwayBook(config, Directory(config), bots=lambda: set())

    def named(tool, key, written, mentions=()):
        ev = Event(tool, "x", ItemRef(tool, key), MON, EventKind.COMMENTED, Account(tool, "ben"), text="",
                   mentions=tuple(mentions))
        return book.delegate_of(written, ev)

    assert named("github", "acme/web#1", "cleo") == "person:cleo", "a [people.*] name"
    assert named("github", "acme/web#1", "cleo-l") == "person:cleo", "a GitHub login, case-insensitive"
    assert named("jira", "WEB-1", "[~accountid:61a2b3c4d5e6f7a8b9c0d1e2]") == "person:cleo", "a Jira wiki mention"
    asana = Account("asana", "1201000000000003")
    assert named("asana", "1201", "Cleo Lind", [asana]) == "person:cleo", "an Asana mention reads as @Name"
    assert named("asana", "1201", "Someone Else", [asana]) == "person:cleo", "the one person the comment mentions"
    assert named("github", "acme/web#1", "dana") == "github:dana", "an unmapped GitHub login is still an account"
    assert named("jira", "WEB-1", "Nobody Known") is None


def test_a_restart_reads_every_command_line_the_walk_reads(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    poll(store, PR, Event("github", "rr", PR, MON, EventKind.REVIEW_REQUESTED, ANA, subject=BEN))
    poll(store, ISSUE, comment(MON + timedelta(hours=1), BEN, "Off.\n  /HB   Away  until 2026-11-27 delegate @cleo"))
    ev = evaluator(store)
    assert [(c.verb, c.delegate) for c in ev.away_commands()] == [("away", "person:cleo")]
    store.engine.dispose()
