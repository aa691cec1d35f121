"""The pure handoff detector: who sends, who acknowledges, what ends a handoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bridge.config import parse_config
from bridge.core.model import Account, Event, EventKind, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from rules import handoff

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
REF = ItemRef("github", "acme/web#12")
ANA, BEN, CARA, DAN, BOT = (Account("github", x) for x in ("ana", "ben", "cara", "dan", "hb-bot"))

CONFIG = """
[people.ana]
accounts = {{ github = "ana" }}
[people.ben]
accounts = {{ github = "ben" }}
[people.lead]
accounts = {{ github = "cara" }}
[connectors.github]
base_url = "http://127.0.0.1:1"
token = {{ env = "T" }}
repositories = ["acme/web"]
[[rules]]
name = "r"
detect = "handoff"
on = {on}
within = "4h"
need = "review"
next = "merge"
steps = [{{ after = "0h", do = "comment" }}, {{ after = "8h", do = "reassign", to = "lead" }}]
"""


def rule(on='["review_requested", "assigned", { label = "needs-qa" }]'):
    return parse_config(CONFIG.format(on=on), environ={"T": "x"}).rules[0]


_n = iter(range(1, 10_000))


def ev(minutes, kind, actor, subject=None, **kw):
    return Event("github", f"ev:{next(_n)}", REF, T0 + timedelta(minutes=minutes), kind, actor, subject=subject, **kw)


def run(events, now_minutes=60 * 24, snapshot=None, r=None):
    items = {REF: snapshot} if snapshot else {}
    return handoff.detect(
        r or rule(), {REF: events}, items, bots={BOT},
        deadline_for=lambda acct, at: at + timedelta(hours=4),
        now=T0 + timedelta(minutes=now_minutes), escalation_targets={CARA},
    )


def test_review_request_without_acknowledgement_is_overdue_with_evidence():
    sent = ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN)
    other = ev(30, EventKind.COMMENTED, ANA, text="ping")
    [h], [f] = run([sent, other])
    assert (h.state, h.sender, h.receiver, h.deadline) == ("overdue", ANA, BEN, T0 + timedelta(hours=4))
    assert f.evidence == (sent.id, other.id) and f.at == h.deadline


def test_nothing_fires_before_the_deadline():
    [h], findings = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN)], now_minutes=239)
    assert h.state == "sent" and findings == []


@pytest.mark.parametrize("kind,extra", [
    (EventKind.REVIEWED, {"review_state": "commented"}),
    (EventKind.COMMENTED, {"text": "looking"}),
    (EventKind.COMMITTED, {}),
    (EventKind.STATUS_CHANGED, {"to_status": "In Review"}),
])
def test_receivers_own_activity_acknowledges(kind, extra):
    [h], findings = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(300, kind, BEN, **extra)])
    assert h.state == "received" and findings == []


def test_self_assignment_acknowledges_but_assigning_someone_else_does_not():
    [h], _ = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(10, EventKind.ASSIGNED, BEN, BEN)])
    assert h.state == "received"
    hs, _ = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(10, EventKind.ASSIGNED, BEN, DAN)])
    assert [h.state for h in hs if h.receiver == BEN] == ["overdue"]


def test_bot_and_third_party_activity_never_acknowledges():
    events = [
        ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN),
        ev(10, EventKind.COMMENTED, BOT, text="@ben nudge"),
        ev(20, EventKind.REVIEWED, DAN, review_state="approved"),
    ]
    [h], [f] = run(events)
    assert h.state == "overdue"


def test_escalation_target_acknowledges():
    [h], findings = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(600, EventKind.COMMENTED, CARA, text="mine now")])
    assert h.state == "received" and findings == []


def test_bots_own_handoff_never_triggers():
    hs, fs = run([ev(0, EventKind.ASSIGNED, BOT, BEN), ev(5, EventKind.REVIEW_REQUESTED, BOT, BEN)])
    assert hs == [] and fs == []


def test_self_handoff_is_not_a_handoff():
    hs, _ = run([ev(0, EventKind.ASSIGNED, BEN, BEN)])
    assert hs == []


def test_withdrawn_request_ends_the_handoff():
    [h], fs = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(60, EventKind.REVIEW_REQUEST_REMOVED, ANA, BEN)])
    assert (h.state, fs) == ("withdrawn", [])


def test_unassigning_the_receiver_ends_an_assignment_handoff():
    [h], fs = run([ev(0, EventKind.ASSIGNED, ANA, BEN), ev(60, EventKind.UNASSIGNED, ANA, BEN)])
    assert (h.state, fs) == ("withdrawn", [])


def test_closing_the_item_ends_the_handoff():
    [h], fs = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(60, EventKind.CLOSED, ANA)])
    assert (h.state, fs) == ("closed", [])


def test_reassignment_to_someone_else_rehands():
    hs, fs = run([ev(0, EventKind.ASSIGNED, ANA, BEN), ev(60, EventKind.ASSIGNED, ANA, DAN)])
    assert {(h.receiver.id, h.state) for h in hs} == {("ben", "rehanded"), ("dan", "overdue")}
    assert [f.receiver for f in fs] == [DAN]


def test_second_reviewer_is_not_a_rehand():
    hs, fs = run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN), ev(0, EventKind.REVIEW_REQUESTED, ANA, DAN)])
    assert sorted((h.receiver.id, h.state) for h in hs) == [("ben", "overdue"), ("dan", "overdue")]


def test_label_hands_to_the_assignees_at_that_moment():
    events = [ev(0, EventKind.ASSIGNED, ANA, BEN), ev(1, EventKind.REVIEW_REQUESTED, ANA, BEN),
              ev(5, EventKind.LABELED, ANA, label="needs-qa")]
    hs, _ = run(events, r=rule(on='[{ label = "needs-qa" }]'))
    assert [(h.receiver, h.trigger) for h in hs] == [(BEN, "label:needs-qa")]


def test_label_without_assignment_events_uses_the_snapshot():
    snap = ItemSnapshot(REF, "t", "u", ItemKind.ISSUE, "open", StatusCategory.IN_PROGRESS, assignees=(DAN,))
    hs, _ = run([ev(5, EventKind.LABELED, ANA, label="needs-qa")], snapshot=snap, r=rule(on='[{ label = "needs-qa" }]'))
    assert [h.receiver for h in hs] == [DAN]


def test_activity_before_the_handoff_does_not_acknowledge_it():
    [h], [f] = run([ev(0, EventKind.COMMENTED, BEN, text="early"), ev(10, EventKind.REVIEW_REQUESTED, ANA, BEN)])
    assert h.state == "overdue"


def test_rule_for_other_tools_ignores_the_item():
    r = rule()
    r.tools = ["jira"]
    assert run([ev(0, EventKind.REVIEW_REQUESTED, ANA, BEN)], r=r) == ([], [])


def run_status(events, owner=None, now_minutes=60 * 24):
    r = rule(on='[{ status = "Ready for QA", owner = "ben" }]')
    return handoff.detect(
        r, {REF: events}, {}, bots={BOT}, deadline_for=lambda acct, at: at + timedelta(hours=4),
        now=T0 + timedelta(minutes=now_minutes),
        status_owner=lambda status, tool: owner if status.casefold() == "ready for qa" else None,
    )


def moved(minutes, actor, to, frm="In Progress"):
    return ev(minutes, EventKind.STATUS_CHANGED, actor, from_status=frm, to_status=to)


def test_status_hands_to_the_assignee_set_in_the_same_change():
    # One Jira changelog history: status and assignee set together by ana.
    hs, fs = run_status([moved(0, ANA, "Ready for QA"), ev(0, EventKind.ASSIGNED, ANA, DAN)], owner=BEN)
    assert [(h.receiver, h.trigger, h.state) for h in hs] == [(DAN, "status:Ready for QA", "overdue")]
    assert [f.receiver for f in fs] == [DAN]


def test_status_without_assignee_in_the_change_goes_to_its_named_owner():
    hs, _ = run_status([ev(0, EventKind.ASSIGNED, ANA, ANA), moved(30, ANA, "ready for qa")], owner=BEN)
    assert [(h.receiver, h.state) for h in hs] == [(BEN, "overdue")]


def test_status_with_no_assignee_and_no_owner_hands_to_nobody():
    assert run_status([moved(0, ANA, "Ready for QA")], owner=None) == ([], [])


def test_an_assignment_by_someone_else_or_later_is_not_the_same_change():
    hs, _ = run_status([moved(0, ANA, "Ready for QA"), ev(5, EventKind.ASSIGNED, ANA, DAN),
                        ev(0, EventKind.ASSIGNED, CARA, DAN)], owner=BEN)
    assert [h.receiver for h in hs if h.trigger.startswith("status:")] == [BEN]


def test_status_receiver_moving_it_on_acknowledges():
    [h], fs = run_status([moved(0, ANA, "Ready for QA"), moved(60, BEN, "In QA", frm="Ready for QA")], owner=BEN)
    assert (h.state, fs) == ("received", [])


def test_moved_out_of_the_handoff_status_by_someone_else_withdraws():
    [h], fs = run_status([moved(0, ANA, "Ready for QA"), moved(60, ANA, "In Progress", frm="Ready for QA")], owner=BEN)
    assert (h.state, fs) == ("withdrawn", [])
    assert "moved out of Ready for QA" in h.reason
