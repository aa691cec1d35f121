"""Handoffs routed around absences in the pure walk (``rules.away.Router`` as
``walk_item(availability=...)``), and the away command's words (``parse_away``, ``commands``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from bridge.core.availability import Availability, absence_from_dates
from bridge.core.businesstime import Duration, WorkSchedule
from bridge.core.model import Account, Event, EventKind, HandoffState, ItemRef
from rules import away, handoff
from tests.unit.test_rules_handoff import rule

UTC = timezone.utc
SCHEDULE = WorkSchedule("UTC", range(5), time(9), time(17))
REF = ItemRef("github", "acme/web#7")
ANA, BEN, CLEO, BOT = (Account("github", x) for x in ("ana", "ben", "cleo", "hb-bot"))
MON = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday
_n = iter(range(1, 10_000))


def ev(at, kind, actor, subject=None, **kw):
    return Event("github", f"e{next(_n)}", REF, at, kind, actor, subject=subject, **kw)


def who(a):
    return f"person:{a.id}" if a else None


def router(*absences):
    return away.Router(Availability(absences), who=who, account_in=lambda i, tool: Account(tool, i.split(":")[1]),
                       schedule_of=lambda i: SCHEDULE, name=lambda i: i.split(":")[1].title())


def walk(events, availability=None):
    return handoff.walk_item(rule(), REF, events, None, bots={BOT},
                             deadline_for=lambda acct, at: SCHEDULE.add(at, Duration(seconds=4 * 3600)),
                             who=who, availability=availability)


TUE = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 25), "UTC", delegate="person:cleo")


def test_without_the_hook_nothing_changes():
    sent = ev(MON, EventKind.REVIEW_REQUESTED, ANA, BEN)
    assert walk([sent]) == walk([sent], router())


def test_the_delegate_holds_it_from_the_absence_and_is_the_finding_receiver():
    w = walk([ev(MON, EventKind.REVIEW_REQUESTED, ANA, BEN)], router(TUE))
    hs, [f] = handoff.settle(w, datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    ben = next(h for h in hs if h.receiver == BEN)
    assert ben.state == HandoffState.REHANDED and ben.ended_at == TUE.start
    assert "delegated to Cleo: Ben is away until Wed 25 Nov" in ben.reason
    assert f.receiver == CLEO and f.handoff.delegated_from == BEN and f.at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert f.key != ben.key, "a new key: the delegate gets a first nudge of their own"
    # before the absence Ben's own deadline stood (Tue 11:00 is inside it: nothing fell due on Mon)
    hs, fs = handoff.settle(w, datetime(2026, 11, 23, 16, 59, tzinfo=UTC))
    assert fs == [] and [h.receiver for h in hs] == [BEN]


def test_the_delegates_activity_after_it_began_acknowledges_and_so_does_the_away_receivers():
    sent = ev(MON, EventKind.REVIEW_REQUESTED, ANA, BEN)
    early = ev(MON + timedelta(hours=1), EventKind.COMMENTED, CLEO, text="I'll look tomorrow")
    w = walk([sent, early], router(TUE))
    assert w.done == () and w.open, "Cleo's comment before the absence began is a third party's"
    late = ev(datetime(2026, 11, 24, 10, 0, tzinfo=UTC), EventKind.REVIEWED, CLEO, review_state="approved")
    w = walk([sent, early, late], router(TUE))
    assert w.open == ()
    states = {h.receiver: h.state for h in w.done}
    assert states == {BEN: HandoffState.REHANDED, CLEO: HandoffState.RECEIVED}
    by_ben = ev(datetime(2026, 11, 24, 10, 0, tzinfo=UTC), EventKind.COMMENTED, BEN, text="on it after all")
    w = walk([sent, by_ben], router(TUE))
    assert w.open == () and {h.receiver: h.state for h in w.done}[CLEO] == HandoffState.RECEIVED


def test_without_a_delegate_the_finding_keeps_its_key_and_waits_for_the_return():
    one_day = absence_from_dates("person:ben", date(2026, 11, 24), date(2026, 11, 24), "UTC")
    w = walk([ev(MON, EventKind.REVIEW_REQUESTED, ANA, BEN)], router(one_day))
    hs, fs = handoff.settle(w, datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    [h] = hs
    assert fs == [] and h.state == HandoffState.SENT and "Ben is away until Tue 24 Nov, with no delegate" in h.reason
    _, [f] = handoff.settle(w, datetime(2026, 11, 25, 11, 0, tzinfo=UTC))
    assert f.receiver == BEN and f.at == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    assert f.key == w.open[0][0].key


@pytest.mark.parametrize("args, until, delegate", [
    ("until 2027-01-04 delegate @cleo", date(2027, 1, 4), "cleo"),
    ("until 2027-01-04", date(2027, 1, 4), None),
    ("until 4 Jan delegate [~accountid:5b10ac8d82e05b22cc7d4ef5]", date(2027, 1, 4), "[~accountid:5b10ac8d82e05b22cc7d4ef5]"),
    ("next monday", date(2026, 12, 7), None),
    ("until friday to @Cleo Lind", date(2026, 12, 4), "Cleo Lind"),
])
def test_parse_away_reads_the_date_and_the_delegate(args, until, delegate):
    assert away.parse_away(args, today=date(2026, 12, 2), tz="Europe/Berlin") == (until, delegate)


@pytest.mark.parametrize("args, words", [
    ("", "expected the last day away"), ("until someday soon", "cannot read"), ("until 2026-11-30", "in the past"),
])
def test_parse_away_refuses_with_a_clear_message(args, words):
    with pytest.raises(ValueError, match=words):
        away.parse_away(args, today=date(2026, 12, 2), tz="Europe/Berlin")


def test_commands_are_lines_of_their_own_by_people_and_back_ends_the_absence():
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    events = [
        ev(at, EventKind.COMMENTED, BEN, text="Off next week.\n/hb away until 2026-12-11 delegate @cleo"),
        ev(at, EventKind.COMMENTED, BOT, text="/hb away until 2026-12-31"),  # the daemon's own: never a command
        ev(at, EventKind.COMMENTED, ANA, text="please run `/hb away` when you go"),  # not a line of its own
        ev(at + timedelta(days=3), EventKind.COMMENTED, BEN, text="/hb back"),
        ev(at + timedelta(minutes=1), EventKind.COMMENTED, CLEO, text="/hb away until 2026-12-04 delegate @cleo"),
    ]
    cmds = away.commands(events, bots={BOT}, who=who, schedule_for=lambda a: SCHEDULE,
                         delegate_of=lambda written, e: f"person:{written}")
    assert [(c.person, c.verb) for c in cmds] == [("person:ben", "away"), ("person:cleo", "away"), ("person:ben", "back")]
    ben, cleo, back = cmds
    assert ben.until == date(2026, 12, 11) and ben.delegate == "person:cleo" and ben.problem is None
    assert cleo.delegate is None and cleo.problem == "you cannot be your own delegate"
    [ben_away, cleo_away] = sorted(away.command_absences([], cmds), key=lambda a: a.identity)
    assert (ben_away.start, ben_away.end) == (at, back.at), "/hb back ends it early"
    assert cleo_away.end == datetime(2026, 12, 5, tzinfo=UTC)


def test_describe_words_the_reply_to_each_command():
    at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    texts = ["/hb away until 4 Jan delegate @cleo", "/hb away until 4 Jan delegate @ben", "/hb away until someday",
             "/hb back"]
    cmds = away.commands([ev(at + timedelta(minutes=i), EventKind.COMMENTED, BEN, text=t) for i, t in enumerate(texts)],
                         bots=set(), who=who, schedule_for=lambda a: SCHEDULE,
                         delegate_of=lambda written, e: f"person:{written}")
    assert [away.describe(c, lambda i: "@" + i.split(":")[1]) for c in cmds] == [
        "away until Mon 4 Jan; handoffs to you go to @cleo",
        "away until Mon 4 Jan; deadlines of handoffs to you wait for your return (you cannot be your own delegate)",
        "not taken: cannot read 'someday' as a date, expected e.g. 2027-01-04, 4 Jan or next monday",
        "back: handoffs to you are yours again",
    ]
