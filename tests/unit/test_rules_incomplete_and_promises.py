"""The pure walks of issue 17: incomplete handoffs (a rule's ``require``) and promises
(``rules.promise.walk_item``): who is asked, when the receiver's clock starts, what keeps a promise."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from bridge.config import parse_config
from bridge.core.businesstime import WorkSchedule
from bridge.core.model import Account, Event, EventKind, HandoffState, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from rules import handoff, promise

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # Mon 10:00 Berlin
REF = ItemRef("jira", "WEB-31")
LINKED = ItemRef("jira", "WEB-32")
DEV, QA, OLGA, BOT = (Account("jira", x) for x in ("dev", "qa", "olga", "bot"))
SCHEDULE = WorkSchedule("Europe/Berlin", range(5), time(9), time(17), "DE")

CONFIG = """
[people.dev]
accounts = {{ jira = "dev" }}
[people.qa]
accounts = {{ jira = "qa" }}
[connectors.jira]
base_url = "http://127.0.0.1:1"
email = "bot@acme.example"
token = {{ env = "T" }}
jql = ["project = WEB"]
[[rules]]
name = "r"
{rule}
steps = [{{ after = "0h", do = "comment" }}]
"""
HANDOFF = 'detect = "handoff"\non = [{{ status = "Ready for QA", owner = "{owner}" }}]\nwithin = "4h"\nneed = "QA"\nnext = "Done"\n'


def rule(require='["receiver", "due", "description", "checklist:Acceptance criteria"]', owner="qa", extra=""):
    body = HANDOFF.format(owner=owner) + f"require = {require}\n" + extra
    return parse_config(CONFIG.format(rule=body), environ={"T": "x"}).rules[0]


def promise_rule(extra=""):
    return parse_config(CONFIG.format(rule='detect = "promise"\n' + extra), environ={"T": "x"}).rules[0]


_n = iter(range(1, 10_000))


def ev(minutes, kind, actor, item=REF, **kw):
    return Event("jira", f"ev:{next(_n)}", item, T0 + timedelta(minutes=minutes), kind, actor, **kw)


def snap(description=None, due=None, assignees=(DEV,)):
    return ItemSnapshot(REF, "t", "u", ItemKind.ISSUE, "Ready for QA", StatusCategory.IN_REVIEW, assignees=assignees,
                        description=description, due=due)


def walk(r, events, snapshot, **kw):
    return handoff.walk_item(r, REF, events, snapshot, bots={BOT}, deadline_for=lambda a, at: at + timedelta(hours=4),
                             status_owner=lambda s, t: QA, **kw)


def opened(w):
    return {h.trigger: h for h, _ in w.open}


# ------------------------------------------------------------------ incomplete handoffs


def test_a_handoff_lacking_what_the_rule_requires_asks_its_sender_and_the_clock_waits():
    moved = ev(0, EventKind.STATUS_CHANGED, DEV, to_status="Ready for QA")
    w = walk(rule(), [moved], snap())
    ask, qa = opened(w)["incomplete"], opened(w)["status:Ready for QA"]
    assert (ask.receiver, ask.sender, ask.deadline) == (DEV, QA, moved.at)
    assert ask.action.split("|") == ["due", "description", "checklist:Acceptance criteria"]
    assert qa.deadline == handoff.NOT_STARTED
    hs, fs = handoff.settle(w, moved.at)
    assert [f.detect for f in fs] == ["incomplete"]
    assert "without a due date and a description and a checklist under \u201cAcceptance criteria\u201d" in fs[0].summary


def test_the_receivers_clock_starts_when_the_last_missing_part_is_added():
    moved = ev(0, EventKind.STATUS_CHANGED, DEV, to_status="Ready for QA")
    due = ev(60, EventKind.DUE_CHANGED, DEV, due="2026-11-27")
    described = ev(240, EventKind.DESCRIPTION_CHANGED, DEV, text="h3. Acceptance criteria\n* one total shown")
    w = walk(rule(), [moved, due, described], snap("h3. Acceptance criteria\n* one total shown", date(2026, 11, 27)))
    [qa] = [h for h, _ in w.open]
    assert qa.deadline == described.at + timedelta(hours=4)
    [asked] = [h for h in w.done if h.trigger == "incomplete"]
    assert asked.state == HandoffState.RECEIVED and asked.ended_by == described.id


def test_clock_sent_starts_the_receivers_clock_at_once_and_still_asks_the_sender():
    moved = ev(0, EventKind.STATUS_CHANGED, DEV, to_status="Ready for QA")
    w = walk(rule('["due"]', extra='clock = "sent"\n'), [moved], snap())
    assert opened(w)["status:Ready for QA"].deadline == moved.at + timedelta(hours=4)
    assert opened(w)["incomplete"].action == "due"


def test_a_complete_handoff_asks_nobody():
    moved = ev(0, EventKind.STATUS_CHANGED, DEV, to_status="Ready for QA")
    text = "Acceptance criteria:\n- [ ] one total shown"
    w = walk(rule(), [moved], snap(text, date(2026, 11, 27)))
    assert list(opened(w)) == ["status:Ready for QA"]
    assert opened(w)["status:Ready for QA"].deadline == moved.at + timedelta(hours=4)


def test_a_handoff_to_nobody_lacks_its_receiver():
    moved = ev(0, EventKind.STATUS_CHANGED, DEV, to_status="Ready for QA")
    r = rule('["receiver"]', owner="assignee")
    w = handoff.walk_item(r, REF, [moved], snap(assignees=()), bots={BOT}, deadline_for=lambda a, at: at,
                          status_owner=lambda s, t: handoff.ASSIGNEE)
    [(ask, _)] = w.open
    assert (ask.trigger, ask.sender, ask.receiver, ask.action) == ("incomplete", None, DEV, "receiver")


def test_the_receiver_taking_it_ends_the_request_to_the_sender():
    moved = ev(0, EventKind.STATUS_CHANGED, DEV, to_status="Ready for QA")
    took = ev(30, EventKind.COMMENTED, QA, text="looking")
    w = walk(rule('["due"]'), [moved, took], snap())
    assert w.open == ()
    assert {(h.trigger, h.state) for h in w.done} == {("incomplete", HandoffState.WITHDRAWN),
                                                      ("status:Ready for QA", HandoffState.RECEIVED)}


def test_checklist_headings_in_each_tools_markup():
    assert handoff.has_checklist("## Acceptance criteria\n- [ ] a", "Acceptance criteria")
    assert handoff.has_checklist("h3. Acceptance Criteria\n# first", "acceptance criteria")
    assert handoff.has_checklist("*Acceptance criteria*\n* a", "Acceptance criteria")
    assert not handoff.has_checklist("Acceptance criteria: TBD", "Acceptance criteria")
    assert not handoff.has_checklist("## Acceptance criteria\n\n## Notes\n- x", "Acceptance criteria")


# ------------------------------------------------------------------ promises


def pwalk(events, snapshot=None, linked=()):
    return promise.walk_item(promise_rule(), REF, events, snapshot, bots={BOT}, schedule_for=lambda a: SCHEDULE,
                             linked_events=linked)


def test_a_promise_is_owed_to_whom_the_comment_answers_and_due_at_the_time_named():
    asked = ev(0, EventKind.COMMENTED, OLGA, text="Is the import covered?")
    said = ev(30, EventKind.COMMENTED, DEV, text="I'll send the import plan by Friday 15:00.")
    [(p, evidence)] = pwalk([asked, said]).open
    assert (p.receiver, p.sender, p.trigger) == (DEV, OLGA, "promise")
    assert p.promised == p.deadline == datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)
    assert p.quote == "I'll send the import plan by Friday 15:00." and evidence[0] == said.id


def test_only_the_authors_own_activity_keeps_a_promise():
    said = ev(0, EventKind.COMMENTED, DEV, text="I'll send the import plan by Friday.")
    others = [ev(10, EventKind.COMMENTED, OLGA, text="thanks"), ev(20, EventKind.STATUS_CHANGED, OLGA, to_status="Doing"),
              ev(30, EventKind.COMMENTED, BOT, text="nudge")]
    assert len(pwalk([said, *others]).open) == 1
    moved = ev(40, EventKind.STATUS_CHANGED, DEV, to_status="In Review")
    w = pwalk([said, *others, moved])
    assert w.open == () and w.done[0].state == HandoffState.RECEIVED and w.done[0].ended_by == moved.id


def test_a_promise_is_kept_on_a_linked_item_by_the_author_or_by_it_closing():
    said = ev(0, EventKind.COMMENTED, DEV, text="I'll fix the import by Friday.")
    assert pwalk([said], linked=[ev(5, EventKind.COMMENTED, OLGA, item=LINKED, text="x")]).open
    assert pwalk([said], linked=[ev(5, EventKind.COMMENTED, DEV, item=LINKED, text="pushed")]).open == ()
    assert pwalk([said], linked=[ev(5, EventKind.CLOSED, OLGA, item=LINKED)]).open == ()
    assert pwalk([said], linked=[ev(-5, EventKind.CLOSED, OLGA, item=LINKED)]).open, "closed before the promise"


def test_before_due_brings_a_promise_deadline_forward_but_never_before_it_was_written():
    said = ev(0, EventKind.COMMENTED, DEV, text="we'll have the import ready before their start date")
    r = promise_rule('before_due = "4h"\n')
    s = snap(due=date(2026, 11, 25))
    [(p, _)] = promise.walk_item(r, REF, [said], s, bots={BOT}, schedule_for=lambda a: SCHEDULE).open
    assert p.promised == datetime(2026, 11, 24, 16, 0, tzinfo=timezone.utc)  # Tue 17:00 Berlin
    assert p.deadline == datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)  # 4 business hours earlier
    soon = ev(0, EventKind.COMMENTED, DEV, text="I'll send it in 2 hours")
    [(q, _)] = promise.walk_item(r, REF, [soon], s, bots={BOT}, schedule_for=lambda a: SCHEDULE).open
    assert q.deadline == soon.at


def test_a_review_requested_of_a_team_lacks_its_receiver():
    body = ('detect = "handoff"\non = ["review_requested"]\nwithin = "4h"\nneed = "review"\nnext = "merge"\n'
            'require = ["receiver"]\n')
    r = parse_config(CONFIG.format(rule=body), environ={"T": "x"}).rules[0]
    team = ev(0, EventKind.REVIEW_REQUESTED, DEV, label="team:web-reviewers")
    [(ask, _)] = walk(r, [team], snap()).open
    assert (ask.trigger, ask.receiver, ask.sender, ask.action) == ("incomplete", DEV, None, "receiver")
    plain = parse_config(CONFIG.format(rule=body.replace('require = ["receiver"]\n', "")), environ={"T": "x"}).rules[0]
    assert walk(plain, [team], snap()).open == (), "without require a team request hands to nobody, as before"


def test_a_promise_in_the_description_is_its_writers():
    created = ItemSnapshot(REF, "t", "u", ItemKind.ISSUE, "To Do", StatusCategory.TODO, author=DEV, created_at=T0,
                           description="Customer asked for the SOW.\nI'll deliver the SOW by Friday.")
    [(p, evidence)] = pwalk([], created).open
    assert (p.receiver, p.sent_at, p.sent_event, p.quote) == (DEV, T0, "description:created", "I'll deliver the SOW by Friday.")
    said = ev(10, EventKind.COMMENTED, OLGA, text="I'll review it by Thursday.")
    edit = ev(60, EventKind.DESCRIPTION_CHANGED, DEV)
    edited = pwalk([said, edit], created).open
    assert {(h.receiver, h.sent_event) for h, _ in edited} == {(OLGA, said.id), (DEV, f"description:{edit.id}")}
