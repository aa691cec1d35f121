"""``/hb`` commands: the parser (``rules.commands``) and their effects in the handoff walk."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bridge.core.model import Account, Event, EventKind, HandoffState, ItemRef
from bridge.core.businesstime import Duration
from rules import commands, handoff
from tests.unit.test_rules_handoff import ANA, BEN, BOT, CARA, DAN, REF, T0, rule

CLEO = Account("github", "cleo")
_n = iter(range(1, 10_000))


def ev(minutes, kind, actor, subject=None, **kw):
    return Event("github", f"c:{next(_n)}", REF, T0 + timedelta(minutes=minutes), kind, actor, subject=subject, **kw)


def say(minutes, actor, text, mentions=()):
    return ev(minutes, EventKind.COMMENTED, actor, text=text, mentions=tuple(mentions))


def walk(events, ctx=commands.CommandContext(), r=None):
    return handoff.walk_item(r or rule(), REF, events, None, bots={BOT},
                             deadline_for=lambda acct, at: at + timedelta(hours=4), commands=ctx)


def settle(w, hours):
    return handoff.settle(w, T0 + timedelta(hours=hours))


# ---------------------------------------------------------------- parser


def test_a_line_of_its_own_is_a_command_quotes_and_daemon_texts_are_not():
    assert commands.parse("Busy today.\n  /hb snooze 2d\nthanks") == [("snooze", "2d", "/hb snooze 2d")]
    assert commands.parse("/HB Ack") == [("received", "", "/HB Ack")]
    assert commands.parse("see /hb help for the list") == [], "not a line of its own"
    assert commands.parse("> /hb wrong\nquoted") == []
    assert commands.parse("bq. /hb wrong") == []
    assert commands.parse("/hb frobnicate now") == [("unknown", "frobnicate now", "/hb frobnicate now")]
    assert commands.parse("/hb") == [("help", "", "/hb")]
    marked = "@ben: Commands:\n/hb received\n\n<sub>handoff-bridge · rule r · hb:0123456789ab</sub>"
    assert commands.parse(marked) == [], "a daemon text (it carries a marker) is never a command"


@given(st.text())
def test_parse_never_raises_and_finds_nothing_without_the_word(text):
    got = commands.parse(text)
    if "/hb" not in text.casefold():
        assert got == []
    assert all(verb in commands.VERBS or verb == "unknown" for verb, _, _ in got)


def test_a_daemon_account_gives_no_command():
    assert commands.commands_of(say(0, BOT, "/hb wrong"), {BOT}) == []
    assert [c.verb for c in commands.commands_of(say(0, BEN, "/hb wrong\n/hb why"), {BOT})] == ["wrong", "why"]


def test_snooze_length_is_bounded_and_explained():
    assert commands.snooze_length("2d", Duration(days=5)) == Duration(days=2)
    for bad, words in (("", "for how long"), ("soon", "not a length"), ("9d", "at most 5d"), ("0h", "no time")):
        try:
            commands.snooze_length(bad, Duration(days=5))
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(bad)


# ---------------------------------------------------------------- effects


def request():
    return ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN)


def test_a_command_comment_is_no_acknowledgement_but_received_is():
    w = walk([request(), say(10, BEN, "/hb why")])
    assert [h.receiver for h, _ in w.open] == [BEN], "a command comment by the receiver does not acknowledge"
    w = walk([request(), say(10, BEN, "Looking now.\n/hb received")])
    [done] = w.done
    assert done.state == HandoffState.RECEIVED and "/hb received" in done.reason
    [o] = w.outcomes
    assert o.status == "applied" and "acknowledged" in o.text
    # without commands (``[commands] enabled = false``) the same comment is an ordinary acknowledgement
    w = handoff.walk_item(rule(), REF, [request(), say(10, BEN, "/hb why")], None, bots={BOT},
                          deadline_for=lambda acct, at: at + timedelta(hours=4))
    assert w.done[0].state == HandoffState.RECEIVED


def test_received_by_someone_else_is_refused():
    w = walk([request(), say(10, DAN, "/hb received")])
    assert w.open and w.outcomes[0].status == "refused" and "only the receiver" in w.outcomes[0].text


def test_snooze_pauses_the_clock_and_holds_the_steps():
    # sent 09:00, due 13:00; snoozed at 10:00 for 1d (wall in this context): 3 h left resume at 10:00 next day
    w = walk([request(), say(60, BEN, "/hb snooze 1d")])
    [(h, _)] = w.open
    assert h.not_before == T0 + timedelta(days=1, hours=1)
    assert h.deadline == T0 + timedelta(days=1, hours=4)
    assert settle(w, 24 + 3)[1] == [], "not overdue before the paused deadline"
    [f] = settle(w, 24 + 4)[1]
    assert f.at == h.deadline and w.outcomes[0].feedback == "snooze"


def test_a_snooze_after_the_deadline_holds_until_its_end():
    w = walk([request(), say(5 * 60, BEN, "/hb snooze 2h")])
    [(h, _)] = w.open
    assert settle(w, 6)[1] == [], "snoozed until 16:00: no finding"
    assert settle(w, 7)[1], "after the snooze the finding stands again"


def test_a_bystander_cannot_snooze_but_a_rule_lead_can():
    w = walk([request(), say(60, DAN, "/hb snooze 1d")])
    assert w.outcomes[0].status == "refused" and w.open[0][0].not_before is None
    lead = commands.CommandContext(leads=frozenset({"github:dan"}))
    w = walk([request(), say(60, DAN, "/hb snooze 1d")], lead)
    assert w.outcomes[0].status == "applied" and w.open[0][0].not_before is not None


def test_not_mine_hands_back_to_the_sender_and_reassign_moves_it_on():
    w = walk([request(), say(60, BEN, "/hb not-mine")])
    [(back, _)] = w.open
    assert back.receiver == ANA and back.trigger == handoff.NOT_MINE and back.deadline == T0 + timedelta(hours=5)
    assert w.done[0].state == HandoffState.REHANDED and w.outcomes[0].feedback == "not_mine"
    w = walk([request(), say(60, BEN, "/hb not-mine"), say(120, ANA, "/hb reassign @cleo", [CLEO])])
    [(moved, _)] = w.open
    assert moved.receiver == CLEO and moved.sender == ANA and moved.deadline == T0 + timedelta(hours=6)
    assert w.outcomes[1].feedback is None, "choosing after a not-mine is not a second wrong receiver"
    assert w.outcomes[1].notify == (CLEO,)


def test_only_the_receiver_says_not_mine():
    w = walk([request(), say(60, ANA, "/hb not-mine")])
    assert w.outcomes[0].status == "refused" and w.open[0][0].receiver == BEN


def test_wrong_ends_it_as_a_false_alarm_and_mute_stops_watching():
    w = walk([request(), say(60, ANA, "/hb wrong")])
    assert not w.open and w.done[0].state == HandoffState.WITHDRAWN and w.outcomes[0].feedback == "wrong"
    w = walk([request(), say(60, BEN, "/hb mute"), ev(70, EventKind.REVIEW_REQUESTED, ANA, CARA)])
    assert not w.open and w.muted, "muted: the later request is not a handoff"
    # the parties of what it ended may unmute; afterwards requests are handoffs again
    w = walk([request(), say(60, BEN, "/hb mute"), say(90, ANA, "/hb unmute"), ev(100, EventKind.REVIEW_REQUESTED, ANA, CARA)])
    assert [h.receiver for h, _ in w.open] == [CARA] and not w.muted
    assert [o.status for o in w.outcomes] == ["applied", "applied"]
    w = walk([say(1, DAN, "/hb mute"), request()])
    assert w.outcomes[0].status == "refused" and w.open, "a bystander cannot mute an item"


# ---------------------------------------------------------------- promises: /hb kept


def test_kept_keeps_a_promise_and_other_commands_neither_keep_nor_promise():
    from tests.unit.test_rules_incomplete_and_promises import DEV, OLGA, SCHEDULE, promise_rule
    from tests.unit.test_rules_incomplete_and_promises import REF as JREF
    from rules import promise

    def pev(minutes, actor, text):
        return Event("jira", f"p:{next(_n)}", JREF, T0 + timedelta(minutes=minutes), EventKind.COMMENTED, actor, text=text)

    said = pev(0, DEV, "I'll send the import plan by Friday 15:00.")

    def pwalk(events):
        return promise.walk_item(promise_rule(), JREF, events, None, bots={BOT}, schedule_for=lambda a: SCHEDULE,
                                 commands=True)

    w = pwalk([said, pev(30, DEV, "/hb why")])
    assert len(w.open) == 1, "a command comment by the author is no activity that keeps it"
    w = pwalk([said, pev(30, DEV, "/hb kept")])
    assert not w.open and w.done[0].state == HandoffState.RECEIVED and w.outcomes[0].status == "applied"
    w = pwalk([said, pev(30, OLGA, "/hb kept")])
    assert w.outcomes[0].status == "refused" and len(w.open) == 1
    w = pwalk([pev(0, DEV, "/hb snooze 1d\nI'll send the plan by Friday.")])
    assert not w.open, "a command comment promises nothing"


LINES = st.sampled_from(["/hb received", "/hb snooze 2h", "/hb snooze", "/hb snooze 99d", "/hb not-mine",
                         "/hb reassign @cleo", "/hb reassign", "/hb wrong", "/hb mute", "/hb unmute", "/hb why",
                         "/hb nonsense", "just a comment"])
ACTORS = st.sampled_from([ANA, BEN, CARA, DAN, BOT])


@given(st.lists(st.tuples(st.integers(1, 600), ACTORS, LINES), max_size=12))
def test_any_command_sequence_walks_and_each_person_command_has_at_most_one_outcome(said):
    events = [request()] + [say(m, actor, text, [CLEO] if "@cleo" in text else []) for m, actor, text in sorted(said)]
    w = walk(events)
    counted = [e for e in events[1:] if e.actor != BOT and e.text.startswith("/hb")
               and e.text.split()[1] not in ("why", "nonsense")]
    assert len(w.outcomes) == len(counted), "one outcome per rule-handled command, none for the daemon's own"
    keys = [h.key for h, _ in w.open] + [h.key for h in w.done]
    assert len(keys) == len(set(keys)), "no handoff both open and ended, none ended twice"
    for h, _ in w.open:
        assert h.receiver != BOT


def test_a_team_member_acknowledges_a_team_handoff_and_its_lead_may_snooze_it():
    team = handoff.TeamTarget("content", CARA, frozenset({"github:cara", "github:dan"}))
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:content")

    def twalk(events, ctx=commands.CommandContext()):
        return handoff.walk_item(rule(), REF, events, None, bots={BOT}, deadline_for=lambda a, at: at + timedelta(hours=4),
                                 commands=ctx, team_for=lambda e: team if e.label == "team:content" else None)

    w = twalk([asked, say(30, DAN, "/hb received")])
    assert not w.open and w.done[0].state == HandoffState.RECEIVED, "a member's /hb received receives it for the team"
    w = twalk([asked, say(30, BEN, "/hb received")])
    assert w.open and w.outcomes[0].status == "refused"
    w = twalk([asked, say(30, CARA, "/hb snooze 2h")])
    [(h, _)] = w.open
    assert h.team == "content" and h.not_before == T0 + timedelta(hours=2, minutes=30), "snoozed in place, not doubled"
    leads = commands.CommandContext(team_leads=lambda identity: {"github:cara"} if identity == "github:dan" else set())
    w = twalk([ev(0, EventKind.REVIEW_REQUESTED, ANA, DAN), say(30, CARA, "/hb wrong")], leads)
    assert not w.open and w.outcomes[0].feedback == "wrong", "the receiver's team lead may call it a false alarm"
