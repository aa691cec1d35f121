"""The ``handoff`` detector: a baton sent but not received.

Pure: a function of (rule, events, items, bot accounts, schedules, now). No I/O.

Per item, events are walked in time order:

- **send**: an event named in the rule's ``on`` passes the baton. ``review_requested`` and
  ``assigned`` hand the item to their ``subject``; ``{label = "x"}`` hands it to the item's
  assignees at that moment; ``{status = "Ready for QA"}`` (a Jira status or an Asana
  section: a handoff point) hands it to the assignee set in the same change (an
  ``assigned`` event by the same actor within ``SAME_CHANGE`` of the move: one Jira
  changelog history, or the Asana stories written by one board drag), else to the status's
  named owner from config (``owner = "assignee"``: the item's assignees at that moment).
  Events by the daemon's own accounts never send (echo suppression), and nobody hands an item to themselves.
- **acknowledge**: qualifying activity by the receiver after the send: a review, a comment,
  a status change, a commit, or assigning themselves. A person the rule escalates to
  (a ``reassign`` step's ``to``) acknowledges too. Third parties and the daemon never do.
- **teams** (with ``team_for``): a review requested from a configured team (``[teams.*]``) is one
  handoff to the team: its ``receiver`` is the team's lead (nudged when nobody picks it up), its
  ``team`` the team's name, and any member's or the lead's acknowledgement receives it; removing
  the team's request withdraws it. A request to a team nobody configured is ownerless: its sender
  is asked to name one person (an ``INCOMPLETE`` request with ``team`` = the slug and ``action``
  ``receiver``, even without ``require``), until they request a person's review or assign one.
- **end early**: the request withdrawn (``review_request_removed`` / ``unassigned`` of the
  receiver), an assignment re-handed to someone else, the item moved out of the handoff
  status by someone else, or the item closed.

A handoff not acknowledged by its deadline (``within``, in the receiver's business time)
is ``overdue`` and yields a ``Finding`` whose evidence is the sending event plus every
later event on the item (which prove that the receiver did nothing that counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping

from bridge.core.businesstime import Duration, WorkSchedule
from bridge.core.model import Account, Event, EventKind, HandoffState, ItemRef, ItemSnapshot
from rules import commands as cmds
from rules.spec import ASSIGNEE, Rule

ACK_KINDS = frozenset(
    {EventKind.REVIEWED, EventKind.COMMENTED, EventKind.STATUS_CHANGED, EventKind.COMMITTED, EventKind.ASSIGNED}
)

#: ``Handoff.trigger`` of a promise (``rules.promise``): an obligation its author wrote in a comment.
PROMISE = "promise"

#: ``Handoff.trigger`` of an incomplete handoff's request to its sender (a rule's ``require``):
#: ``receiver`` is the sender who owes what is missing, ``sender`` the receiver (``None`` for
#: nobody), ``action`` the missing requirements joined by ``|``, ``quote`` the handoff's trigger.
INCOMPLETE = "incomplete"

#: The deadline of a handoff whose receiver's clock has not started (it is not complete yet).
NOT_STARTED = datetime(9999, 12, 31, tzinfo=timezone.utc)

#: Triggers that are no baton pass: nobody waits on them in the wait-for graph.
NOT_PASSES = frozenset({PROMISE, INCOMPLETE})

_LIST_ITEM = re.compile(r"^\s*(?:[-*+#]|\d+[.)]|\[[ xX]?\]|\(/\)|\(x\)|[\u2610\u2611\u2612\u2022])\s*\S")
#: A heading that ends a section: Markdown ``##``…, Jira ``h1.``… (a single ``#`` is a Jira list item).
_NEXT_HEADING = re.compile(r"^\s*(?:#{2,6}\s|h[1-6]\.\s)")
_HEADING_MARK = re.compile(r"^\s*(?:#{1,6}\s+|h[1-6]\.\s+|\*{1,2}(?=\S)|_{1,2}(?=\S))")


def has_checklist(description: str | None, heading: str) -> bool:
    """Whether ``description`` has a heading named ``heading`` (case-insensitive; Markdown
    ``## …``, Jira ``h3. …``, bold, or a line of its own ending in ``:``) followed by at least
    one list item (``-``, ``*``, ``#``, ``1.``, ``[ ]``/``[x]``, ``☐``) before the next heading."""
    if not description:
        return False
    want = " ".join(heading.casefold().split())
    lines = description.splitlines()
    for i, line in enumerate(lines):
        bare = _HEADING_MARK.sub("", line).strip().strip("*_").rstrip(":").strip().casefold()
        if " ".join(bare.split()) != want:
            continue
        for nxt in lines[i + 1:]:
            if _NEXT_HEADING.match(nxt):
                break
            if _LIST_ITEM.match(nxt):
                return True
    return False


#: How a missing requirement is named in the comment to the sender.
def requirement_words(requirement: str) -> str:
    if requirement == "receiver":
        return "a named receiver"
    if requirement == "due":
        return "a due date"
    if requirement == "description":
        return "a description"
    return f"a checklist under \u201c{requirement[len('checklist:'):].strip()}\u201d"


def _due_at(at: datetime, evs: list[Event], snapshot: ItemSnapshot | None):
    changes = [e for e in evs if e.kind == EventKind.DUE_CHANGED]
    before = [e for e in changes if e.at <= at]
    if before:
        return before[-1].due
    if changes:
        return None  # set (or changed) only later: taken as absent then
    return snapshot.due if snapshot is not None else None


def _description_at(at: datetime, evs: list[Event], snapshot: ItemSnapshot | None) -> str | None:
    edits = [e for e in evs if e.kind == EventKind.DESCRIPTION_CHANGED]
    if not any(e.at > at for e in edits):
        return snapshot.description if snapshot is not None else None
    before = [e for e in edits if e.at <= at]
    if before and before[-1].text is not None:
        return before[-1].text or None
    return None  # edited only later, and the tool does not say what it was: taken as absent


def missing(require: Iterable[str], at: datetime, evs: list[Event], snapshot: ItemSnapshot | None,
            has_receiver: bool) -> list[str]:
    """The entries of a rule's ``require`` that a handoff lacks at ``at``, in the rule's order.

    ``receiver``: the handoff names a person (not nobody: a status move with no assignee and no
    owner; not a team). ``due``: the item has a due date then (its ``due_changed`` events, else
    the snapshot). ``description``: non-empty description then; ``checklist:<heading>``: the
    description has that heading with at least one list item under it (:func:`has_checklist`).
    A description is known as of its last ``description_changed`` event (the snapshot's when none
    came later); before an edit whose old text the tool does not give, it counts as absent.
    """
    out = []
    for r in require:
        if r == "receiver":
            if not has_receiver:
                out.append(r)
        elif r == "due":
            if _due_at(at, evs, snapshot) is None:
                out.append(r)
        elif r == "description":
            if not (_description_at(at, evs, snapshot) or "").strip():
                out.append(r)
        elif r.startswith("checklist:"):
            if not has_checklist(_description_at(at, evs, snapshot), r[len("checklist:"):]):
                out.append(r)
    return out


def completed_at(require: Iterable[str], sent: Event, evs: list[Event], snapshot: ItemSnapshot | None
                 ) -> tuple[datetime, str] | None:
    """When (and by which event) a handoff sent by ``sent`` first carries everything ``require``
    asks but the receiver: the first due or description change after it after which nothing is
    missing; ``None`` while something still is."""
    need = [r for r in require if r != "receiver"]
    for e in evs:
        if e.at <= sent.at or e.kind not in (EventKind.DUE_CHANGED, EventKind.DESCRIPTION_CHANGED):
            continue
        if not missing(need, e.at, evs, snapshot, True):
            return e.at, e.id
    return None

#: An assignment this close to a status move, by the same actor, belongs to the same change.
SAME_CHANGE = timedelta(seconds=60)



@dataclass(frozen=True)
class TeamTarget:
    """A configured team a review was requested from, as ``walk_item``'s ``team_for`` answers.

    ``name``: the ``[teams.*]`` key; ``lead``: the lead's account in the item's tool (the
    handoff's receiver); ``members``: identities (``who``'s answers) whose acknowledgement
    receives a handoff to the team: its members and its lead.
    """

    name: str
    lead: Account
    members: frozenset[str]


def team_request(ev: Event) -> str | None:
    """The slug of the team ``ev`` requests a review of (or withdraws it from), else ``None``:
    a ``review_requested``/``review_request_removed`` with no ``subject`` and ``label`` ``team:<slug>``."""
    if ev.kind in (EventKind.REVIEW_REQUESTED, EventKind.REVIEW_REQUEST_REMOVED) and ev.subject is None \
            and (ev.label or "").startswith("team:"):
        return ev.label[len("team:"):]
    return None


@dataclass(frozen=True)
class Handoff:
    """One baton pass and what became of it.

    ``deadline`` is aware UTC, computed in the receiver's business time. ``state`` is one
    of sent, received, overdue, withdrawn, rehanded, closed. ``ended_by`` is the id of the
    event that received or ended it.

    A promise (``trigger == "promise"``, ``rules.promise``) is the same shape: ``receiver`` is
    its author (who owes it), ``sender`` the person it is owed to (``None`` when nobody is
    known), ``sent_at`` when it was written; ``quote`` is the promising sentence as written
    (plain, unescaped), ``action`` what was promised, ``promised`` the time named (aware UTC;
    ``deadline`` is earlier by the rule's ``before_due``).

    ``team``: a handoff to a configured team (``TeamTarget``) names it here (``[teams.*]`` key;
    ``receiver`` is its lead); an ``INCOMPLETE`` request about a review requested from a team
    nobody configured names the team's slug (the sender is asked for one person). ``""`` otherwise.
    """

    key: str
    rule: str
    item: ItemRef
    sender: Account | None
    receiver: Account
    trigger: str
    sent_at: datetime
    sent_event: str
    deadline: datetime
    state: HandoffState = HandoffState.SENT
    ended_at: datetime | None = None
    ended_by: str | None = None
    reason: str = ""
    quote: str = ""
    action: str = ""
    promised: datetime | None = None
    not_before: datetime | None = None  # snoozed (``/hb snooze``): no step before this (aware UTC)

    @property
    def wakes_at(self) -> datetime:
        """When it can first be overdue: its deadline, or the end of a snooze when later."""
        return self.deadline if self.not_before is None or self.not_before <= self.deadline else self.not_before

    # Availability (``bridge.core.availability``, via ``walk_item(availability=...)``): this leg
    # of the handoff is in force from ``active_from`` until ``active_until`` (``None``: open);
    # ``delegated_from`` is the away receiver it was delegated from (``receiver`` is the
    # delegate); ``away_until`` is that absence's return (aware UTC); ``away_note`` says it in words.
    active_from: datetime | None = None
    active_until: datetime | None = None
    delegated_from: Account | None = None
    away_until: datetime | None = None
    away_note: str = ""
    team: str = ""


@dataclass(frozen=True)
class Finding:
    """An overdue handoff with its evidence (event ids, oldest first)."""

    key: str
    rule: str
    detect: str
    item: ItemRef
    receiver: Account
    at: datetime
    handoff: Handoff
    evidence: tuple[str, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> str:
        h = self.handoff
        who = h.sender.id if h.sender else "someone"
        if h.trigger == INCOMPLETE and h.team:
            return (f"{self.receiver.id} requested a review of {self.item} from the {h.team} team at "
                    f"{h.sent_at:%Y-%m-%d %H:%M}Z, which no [teams.*] entry names: nobody owns it")
        if h.trigger == INCOMPLETE:
            return (f"{self.receiver.id} handed {self.item} over ({h.quote}) at {h.sent_at:%Y-%m-%d %H:%M}Z without "
                    f"{' and '.join(requirement_words(r) for r in h.action.split('|'))}")
        if h.trigger == PROMISE:
            owed = f" to {h.sender.id}" if h.sender else ""
            return (f"{self.receiver.id} promised{owed} at {h.sent_at:%Y-%m-%d %H:%M}Z: \u201c{h.quote}\u201d "
                    f"(due {(h.promised or h.deadline):%Y-%m-%d %H:%M}Z); not kept by {self.at:%Y-%m-%d %H:%M}Z")
        if h.team:
            return (f"{who} handed {self.item} to the {h.team} team (lead {self.receiver.id}, {h.trigger}) at "
                    f"{h.sent_at:%Y-%m-%d %H:%M}Z; nobody in the team acknowledged by the deadline {self.at:%Y-%m-%d %H:%M}Z")
        return (
            f"{who} handed {self.item} to {self.receiver.id} ({h.trigger}) at {h.sent_at:%Y-%m-%d %H:%M}Z; "
            f"no acknowledgement by the deadline {self.at:%Y-%m-%d %H:%M}Z"
        )


def trigger_names(on: Iterable) -> list[str]:
    """Normalize a rule's ``on`` list to names: ``"review_requested"``, ``"label:needs-qa"``."""
    out = []
    for t in on:
        if isinstance(t, str):
            out.append(t)
            continue
        get = t.get if isinstance(t, dict) else lambda k, t=t: getattr(t, k, None)
        if get("label"):
            out.append(f"label:{get('label')}")
        elif get("status"):
            out.append(f"status:{get('status')}")
        elif get("kind"):
            kind = get("kind")
            out.append(getattr(kind, "value", kind))
    return out


def _status_key(status: str | None) -> str:
    return f"status:{(status or '').strip().casefold()}"


def _sends(
    ev: Event,
    triggers: set[str],
    assignees: set[Account],
    same_change: Callable[[Event], list[Account]],
    status_owner: Callable[[str, str], Account | str | None],
) -> tuple[str, list[Account]] | None:
    if ev.kind.value in triggers and ev.kind in (EventKind.REVIEW_REQUESTED, EventKind.ASSIGNED) and ev.subject:
        return ev.kind.value, [ev.subject]
    if ev.kind == EventKind.REVIEW_REQUESTED and ev.kind.value in triggers and ev.subject is None:
        return ev.kind.value, []  # a team's review requested: nobody in particular receives it
    if ev.kind == EventKind.LABELED and f"label:{ev.label}" in triggers:
        return f"label:{ev.label}", sorted(assignees)
    if ev.kind == EventKind.STATUS_CHANGED and _status_key(ev.to_status) in triggers:
        receivers = same_change(ev)
        if not receivers:
            owner = status_owner(ev.to_status or "", ev.item.tool)
            receivers = sorted(assignees) if owner == ASSIGNEE else [owner] if owner else []
        return f"status:{ev.to_status}", receivers
    return None


def _ends(ev: Event, h: Handoff, who, team_of: Callable[[Event], str | None] = lambda ev: None) -> tuple[str, str] | None:
    if ev.kind == EventKind.CLOSED:
        return HandoffState.CLOSED, f"item closed by {ev.actor.id if ev.actor else 'someone'}"
    if h.team and ev.kind == EventKind.REVIEW_REQUEST_REMOVED and team_of(ev) == h.team:
        return HandoffState.WITHDRAWN, f"review request to the {h.team} team withdrawn"
    if ev.kind == EventKind.REVIEW_REQUEST_REMOVED and h.trigger == "review_requested" and who(ev.subject) == who(h.receiver):
        return HandoffState.WITHDRAWN, "review request withdrawn"
    if ev.kind == EventKind.UNASSIGNED and who(ev.subject) == who(h.receiver) and h.trigger != "review_requested":
        return HandoffState.WITHDRAWN, f"{h.receiver.id} unassigned"
    if (ev.kind == EventKind.STATUS_CHANGED and h.trigger.startswith("status:")
            and _status_key(ev.to_status) != _status_key(h.trigger[len("status:"):])):
        return HandoffState.WITHDRAWN, f"moved out of {h.trigger[len('status:'):]} to {ev.to_status}"
    return None


Identity = Callable[[Account | None], str | None]


def _account_identity(account: Account | None) -> str | None:
    return str(account) if account is not None else None


@dataclass(frozen=True)
class ItemWalk:
    """One rule's walk over one item's events, before ``now`` is applied.

    ``done``: handoffs that ended (received, withdrawn, rehanded, closed). ``open``: handoffs
    still waiting, each with its evidence (the sending event's id, then every later event's).
    Independent of ``now``, so the engine keeps it until the item (or an item linked to it)
    changes.
    """

    done: tuple[Handoff, ...] = ()
    open: tuple[tuple[Handoff, tuple[str, ...]], ...] = ()
    outcomes: tuple[cmds.Outcome, ...] = ()  # what each ``/hb`` command did under this rule
    muted: bool = False  # ``/hb mute`` stands at the last event


def due_deadline(schedule: WorkSchedule, due: datetime | date, before_due: Duration) -> datetime:
    """The latest moment (aware UTC) that leaves ``before_due`` of ``schedule``'s business time
    before ``due``.

    ``due`` is ``ItemSnapshot.due``: a moment (an aware ``datetime``) is used as it is; a date
    alone is the end of that day where the owing person works (``schedule.end_of_date``:
    23:59:59 in their time zone), not in UTC: a Wednesday due date with ``before_due = "1d"``
    and hours 09:00-17:00 is Wednesday 09:00 in Auckland as in Los Angeles.
    """
    moment = due if isinstance(due, datetime) else schedule.end_of_date(due)
    return schedule.subtract(moment, before_due)


def walk_item(
    rule: Rule,
    ref: ItemRef,
    evs: list[Event],
    snapshot: ItemSnapshot | None,
    *,
    bots: set[Account],
    deadline_for: Callable[[Account, datetime], datetime],
    escalation_targets: set[Account] = frozenset(),
    status_owner: Callable[[str, str], Account | str | None] = lambda status, tool: None,
    who: Identity = _account_identity,
    linked_events: Iterable[Event] = (),
    due_deadline_for: Callable[[Account, datetime | date], datetime] | None = None,
    commands: cmds.CommandContext | None = None,
    availability: Callable[[Handoff, datetime, Callable[[Account, datetime], datetime]], tuple[Handoff, ...]]
    | None = None,
    team_for: Callable[[Event], TeamTarget | None] | None = None,
) -> ItemWalk:
    """Walk one item's events (oldest first) for one ``handoff`` rule.

    Args:
        who: account → identity; two accounts of one person (``bridge.core.people``) share it, so the
            receiver's activity in any tool counts as theirs.
        linked_events: events of items linked to this one as the same work (``mention`` links
            of the link graph): the receiver's acknowledging activity there, after the send,
            acknowledges here too.
        due_deadline_for: ``(receiver, item due) -> latest moment`` that still leaves the
            rule's ``before_due`` before the item's due date; the deadline is the earlier of
            that and ``deadline_for``. The due is ``ItemSnapshot.due`` as stored: a moment or a
            date alone, which :func:`due_deadline` resolves in the receiver's schedule.
        commands: apply ``/hb`` commands (``rules.commands``) with this context; ``None``: a
            command comment is an ordinary comment. See :func:`_apply_command` for each verb.
        availability: ``(handoff, clock start, deadline_for) -> legs`` (``rules.away.Router``):
            a handoff to someone away goes to their delegate or waits for the return; each leg
            is a ``Handoff`` with ``active_from``/``active_until``. A delegate's activity after
            its leg began acknowledges, as the original receiver's always does. ``None``: no
            absences.
        team_for: a team review request event (:func:`team_request`) -> its configured team
            (``[teams.*]``), or ``None`` when no team is configured for it (then the sender is asked
            to name one person). ``None`` (the default): a team request hands to nobody, as before.

    The other arguments are as for :func:`detect`.
    """
    triggers = {_status_key(t[len("status:"):]) if t.startswith("status:") else t for t in trigger_names(rule.on)}
    target_ids = {who(a) for a in escalation_targets}
    assignees: set[Account] = set()
    seen_assignment = False
    open_: dict[str, Handoff] = {}
    done: list[Handoff] = []
    asked: dict[str, Handoff] = {}  # open requests to senders of incomplete handoffs (INCOMPLETE), by key
    require = list(getattr(rule, "require", None) or ())
    outcomes: list[cmds.Outcome] = []
    muted: list = [False, set()]  # muted now?, identities who may unmute (the parties when it was muted)
    snoozed: list[datetime | None] = [None]  # the latest snooze's end: handoffs sent before it wait too
    team_members: dict[str, frozenset[str]] = {}  # configured team name -> identities that acknowledge for it

    def slot(h: Handoff) -> str | None:  # open_'s key: one open handoff per receiver, or per team
        return f"team:{h.team}" if h.team else who(h.receiver)

    def team_of(e: Event) -> str | None:  # the configured team a team request (or its removal) names
        if team_for is None or team_request(e) is None:
            return None
        target = team_for(e)
        return target.name if target is not None else None

    def same_change(moved: Event) -> list[Account]:
        return [e.subject for e in evs
                if e.kind == EventKind.ASSIGNED and e.subject and e.actor == moved.actor
                and abs(e.at - moved.at) <= SAME_CHANGE]

    legs: dict[str, tuple[Handoff, ...]] = {}  # open handoff key -> its legs (availability)

    def close(h: Handoff, state: HandoffState, ev: Event, reason: str) -> None:
        if h.key in legs:
            done.extend(ended_legs(legs.pop(h.key), state, ev, reason))
        else:
            done.append(replace(h, state=state, ended_at=ev.at, ended_by=ev.id, reason=reason))
        if h.trigger == INCOMPLETE:  # a request to a sender (ended by a command)
            asked.pop(h.key, None)
            return
        open_.pop(slot(h), None)
        for k, a in list(asked.items()):  # the receiver took it (or it ended): the sender is asked no more
            if a.sent_event == h.sent_event and who(a.sender) == who(h.receiver):
                done.append(replace(a, state=HandoffState.WITHDRAWN, ended_at=ev.at, ended_by=ev.id,
                                    reason=f"the handoff to {h.receiver.id} ended: {reason}"))
                del asked[k]

    def acknowledges(ev: Event, h: Handoff) -> bool:
        if ev.actor is None or ev.kind not in ACK_KINDS:
            return False
        actor = who(ev.actor)
        if actor != who(h.receiver) and actor not in target_ids and actor not in team_members.get(h.team, ()) and not any(
                leg.delegated_from is not None and who(leg.receiver) == actor and leg.active_from <= ev.at
                for leg in legs.get(h.key, ())):
            return False
        if ev.kind == EventKind.ASSIGNED:
            return who(ev.subject) == actor  # only assigning oneself acknowledges
        return True

    def apply_command(c: cmds.Command) -> cmds.Outcome | None:
        return _apply_command(c, rule, ref, commands, open_, asked, close, who=who, bots=bots, target_ids=target_ids,
                              deadline_for=deadline_for, assignees=assignees, snapshot=snapshot,
                              muted=muted, snoozed=snoozed, legs=legs, availability=availability, slot=slot,
                              team_members=team_members)

    for ev in evs:
        if commands is not None and ev.kind == EventKind.COMMENTED:
            given = cmds.commands_of(ev, bots)
            if given:  # a command comment is no acknowledgement (only `received` is), and sends nothing
                for c in given:
                    o = apply_command(c)
                    if o is not None:
                        outcomes.append(o)
                continue
        if ev.kind == EventKind.ASSIGNED and ev.subject:
            assignees.add(ev.subject)
            seen_assignment = True
        elif ev.kind == EventKind.UNASSIGNED and ev.subject:
            assignees.discard(ev.subject)
            seen_assignment = True
        if ev.kind in (EventKind.LABELED, EventKind.STATUS_CHANGED) and not seen_assignment and snapshot:
            assignees = set(snapshot.assignees)

        if ev.actor not in bots:
            for k, a in list(asked.items()):
                if ev.kind == EventKind.CLOSED or (
                        ev.kind == EventKind.STATUS_CHANGED and a.quote.startswith("status:")
                        and _status_key(ev.to_status) != _status_key(a.quote[len("status:"):])):
                    done.append(replace(a, state=HandoffState.WITHDRAWN, ended_at=ev.at, ended_by=ev.id,
                                        reason="the handoff ended before it was complete"))
                    del asked[k]
                elif a.team and team_request(ev) == a.team and ev.kind == EventKind.REVIEW_REQUEST_REMOVED:
                    done.append(replace(a, state=HandoffState.WITHDRAWN, ended_at=ev.at, ended_by=ev.id,
                                        reason=f"review request to the {a.team} team withdrawn"))
                    del asked[k]
                elif (a.team and ev.kind in (EventKind.REVIEW_REQUESTED, EventKind.ASSIGNED) and ev.subject is not None
                      and ev.subject not in bots and ev.at >= a.sent_at):
                    done.append(replace(a, state=HandoffState.RECEIVED, ended_at=ev.at, ended_by=ev.id,
                                        reason=f"one person named: {ev.subject.id} ({ev.kind.value}) at {ev.at:%Y-%m-%d %H:%M}Z"))
                    del asked[k]
            for h in list(open_.values()):
                if acknowledges(ev, h):
                    close(h, HandoffState.RECEIVED, ev, f"acknowledged by {ev.actor.id} ({ev.kind.value}) at {ev.at:%Y-%m-%d %H:%M}Z")
                    continue
                end = _ends(ev, h, who, team_of)
                if end:
                    close(h, end[0], ev, end[1])

        if ev.actor in bots or muted[0]:
            continue
        sent = _sends(ev, triggers, assignees, same_change, status_owner)
        if not sent:
            continue
        trigger, receivers = sent
        team = ""
        slug = team_request(ev) if team_for is not None else None
        if slug is not None:
            target = team_for(ev)
            if target is None:  # a team nobody configured: no owner; ask the sender for one person
                if ev.actor is not None:
                    gaps = missing(require, ev.at, evs, snapshot, False) if require else []
                    key = f"{rule.name}:{ref.tool}:{ref.key}:incomplete:{ev.id}"
                    asked[key] = Handoff(key=key, rule=rule.name, item=ref, sender=None, receiver=ev.actor,
                                         trigger=INCOMPLETE, sent_at=ev.at, sent_event=ev.id, deadline=ev.at,
                                         quote=trigger, action="|".join(["receiver"] + [g for g in gaps if g != "receiver"]),
                                         team=slug)
                continue
            team, receivers = target.name, [target.lead]
            team_members[team] = target.members
        if trigger == "assigned":
            wanted = {who(r) for r in receivers}
            for h in list(open_.values()):
                if h.trigger == "assigned" and who(h.receiver) not in wanted:
                    close(h, HandoffState.REHANDED, ev, f"re-handed to {receivers[0].id}")
        starts = ev.at  # when the receivers' clock starts
        if require and ev.actor is not None:
            real = [r for r in receivers if r not in bots and who(r) != who(ev.actor)]
            gaps = missing(require, ev.at, evs, snapshot, bool(real))
            if gaps:
                key = f"{rule.name}:{ref.tool}:{ref.key}:incomplete:{ev.id}"
                ask = Handoff(key=key, rule=rule.name, item=ref, sender=real[0] if real else None, receiver=ev.actor,
                              trigger=INCOMPLETE, sent_at=ev.at, sent_event=ev.id, deadline=ev.at,
                              quote=trigger, action="|".join(gaps))
                complete = completed_at(require, ev, evs, snapshot) if real else None
                if complete is not None:
                    done.append(replace(ask, state=HandoffState.RECEIVED, ended_at=complete[0], ended_by=complete[1],
                                        reason=f"completed at {complete[0]:%Y-%m-%d %H:%M}Z"))
                else:
                    asked[key] = ask
                if getattr(rule, "clock", "complete") == "complete":
                    starts = complete[0] if complete is not None else NOT_STARTED
        for receiver in receivers:
            rid = f"team:{team}" if team else who(receiver)
            if (ev.actor is not None and who(receiver) == who(ev.actor) and not team) or receiver in bots or rid in open_:
                continue
            deadline = deadline_for(receiver, starts) if starts != NOT_STARTED else NOT_STARTED
            if due_deadline_for is not None and snapshot is not None and snapshot.due is not None and starts != NOT_STARTED:
                deadline = min(deadline, max(starts, due_deadline_for(receiver, snapshot.due)))
            open_[rid] = Handoff(
                key=f"{rule.name}:{ref.tool}:{ref.key}:{f'team:{team}' if team else receiver.id}:{ev.id}",
                rule=rule.name,
                item=ref,
                sender=ev.actor,
                receiver=receiver,
                trigger=trigger,
                sent_at=ev.at,
                sent_event=ev.id,
                deadline=deadline,
                not_before=snoozed[0] if snoozed[0] is not None and snoozed[0] > ev.at else None,
                team=team,
            )
            if availability is not None and starts != NOT_STARTED:
                legs[open_[rid].key] = availability(open_[rid], starts, deadline_for)

    if open_:
        for ev in sorted((e for e in linked_events if e.actor not in bots), key=lambda e: e.at):
            for h in list(open_.values()):
                if ev.at >= h.sent_at and acknowledges(ev, h):
                    close(h, HandoffState.RECEIVED, ev, f"acknowledged on the linked item {ev.item} by {ev.actor.id} "
                                           f"({ev.kind.value}) at {ev.at:%Y-%m-%d %H:%M}Z")
    if asked and evs:  # what an open request still lacks now (the comment named what it lacked when sent)
        for k, a in list(asked.items()):
            now_missing = missing(require, evs[-1].at, evs, snapshot, a.sender is not None)
            asked[k] = replace(a, action="|".join(now_missing) or a.action)
    still = tuple(
        (leg, (h.sent_event,) + tuple(e.id for e in evs if e.at >= h.sent_at and e.id != h.sent_event))
        for h in (*asked.values(), *open_.values()) for leg in legs.get(h.key, (h,))
    )
    return ItemWalk(done=tuple(done), open=still, outcomes=tuple(outcomes), muted=muted[0])


#: ``Handoff.trigger`` of a handoff moved by a command: handed back (``/hb not-mine``) or on (``/hb reassign``).
NOT_MINE = "not-mine"
REASSIGNED = "reassign"


def _apply_command(c: cmds.Command, rule: Rule, ref: ItemRef, ctx: cmds.CommandContext,
                   open_: dict[str, Handoff], asked: dict[str, Handoff], close, *, who: Identity, bots,
                   target_ids: set, deadline_for, assignees: set[Account], snapshot: ItemSnapshot | None,
                   muted: list, snoozed: list[datetime | None], legs: dict | None = None,
                   availability=None, slot: Callable[[Handoff], str | None] | None = None,
                   team_members: Mapping[str, frozenset[str]] | None = None) -> cmds.Outcome | None:
    """Apply one command under one rule to the walk's open handoffs (mutating ``open_``/``asked``
    through ``close``), and say what it did. Item-wide verbs the engine answers (``why``,
    ``help``, unknown, ``away``, ``back``) and ``kept`` (``rules.promise``) return ``None`` here.

    Who may (DESIGN.md vocabulary: receiver, sender, lead): ``received`` and ``not-mine`` the
    receiver (or a person the rule escalates to); ``snooze``, ``reassign``, ``wrong``, ``mute``,
    ``unmute`` the receiver or sender of a handoff open on the item, a lead of the rule or of
    either's team (and, on an item with no open handoff, its assignees and author for ``mute``).
    """
    actor = who(c.actor)
    name = ctx.describe
    legs = {} if legs is None else legs
    slot = slot or (lambda h: who(h.receiver))
    members = team_members or {}
    batons = list(open_.values())

    def hand(h: Handoff) -> None:
        """Open ``h`` (a handoff a command moved), routed around an absence like any other."""
        open_[slot(h)] = h
        if availability is not None:
            legs[h.key] = availability(h, h.sent_at, deadline_for)
    everything = [*batons, *asked.values()]

    def party(h: Handoff) -> bool:
        return actor in (who(h.receiver), who(h.sender))

    def lead(h: Handoff | None = None) -> bool:
        if actor in ctx.leads:
            return True
        return h is not None and (actor in ctx.team_leads(who(h.receiver)) or actor in ctx.team_leads(who(h.sender)))

    def outcome(status: str, text: str, handoff: Handoff | None = None, feedback: str | None = None,
                notify: tuple[Account, ...] = ()) -> cmds.Outcome:
        return cmds.Outcome(c, rule.name, status, text, handoff.key if handoff else None, feedback, notify)

    def refusal(verb: str, roles: str) -> cmds.Outcome:
        people = sorted({name(a) for h in everything for a in (h.receiver, h.sender) if a is not None})
        leads = " or a lead of this rule" if ctx.leads or any(ctx.team_leads(who(h.receiver)) for h in everything) else ""
        named = f" ({', '.join(people)})" if people else ""
        return outcome("refused", f"only {roles}{named}{leads} can {verb} here.")

    verb = c.verb
    if verb == "received":
        mine = [h for h in batons if who(h.receiver) == actor or actor in target_ids or actor in members.get(h.team, ())]
        if not mine:
            if not batons:
                return outcome("noop", "nothing here waits on you.")
            return refusal("acknowledge it", "the receiver")
        for h in mine:
            close(h, HandoffState.RECEIVED, _as_event(c), f"acknowledged by {c.actor.id} (/hb received) at {c.at:%Y-%m-%d %H:%M}Z")
        who_sent = ", ".join(sorted({name(h.sender) for h in mine if h.sender})) or "the sender"
        return outcome("applied", f"acknowledged: {who_sent} can see you have it.", mine[0])

    allowed = [h for h in everything if party(h) or lead(h)]
    may = bool(allowed) or lead() or (not everything and verb in ("mute", "unmute") and (
        c.actor in assignees or (snapshot is not None and snapshot.author == c.actor))) or (
        verb == "unmute" and muted[0] and actor in muted[1])
    if verb == "snooze":
        if not may:
            return refusal("snooze it", "the receiver or the sender")
        try:
            length = cmds.snooze_length(c.args, ctx.max_snooze)
        except ValueError as exc:
            return outcome("refused", f"not snoozed: {exc}")
        until = ctx.snooze_until(c.actor, c.at, length)
        snoozed[0] = until if snoozed[0] is None else max(snoozed[0], until)
        def paused(h: Handoff) -> Handoff:
            deadline = h.deadline if h.deadline == NOT_STARTED else ctx.pause(h.receiver, h.deadline, c.at, until)
            return replace(h, deadline=deadline, not_before=until)

        for h in batons:
            open_[slot(h)] = paused(h)
            if h.key in legs:  # each leg's clock stands still too (an absence's delegate or waiting deadline)
                legs[h.key] = tuple(paused(leg) for leg in legs[h.key])
        for k, a in list(asked.items()):
            asked[k] = replace(a, not_before=until)
        target = batons[0] if batons else None
        return outcome("applied", f"snoozed until {ctx.when(c.actor, until)}: no nudge or escalation before then.",
                       target, "snooze")

    if verb == "not-mine":
        mine = [h for h in batons if who(h.receiver) == actor]
        if not mine:
            return refusal("say it is not theirs", "the receiver")
        back = []
        for h in mine:
            sender = h.sender
            if sender is None or sender in bots or who(sender) == actor:
                close(h, HandoffState.WITHDRAWN, _as_event(c), f"not mine, said {c.actor.id}; nobody to hand it back to")
                continue
            close(h, HandoffState.REHANDED, _as_event(c), f"not mine, said {c.actor.id}: handed back to {sender.id}")
            if who(sender) not in open_:
                hand(Handoff(
                    key=f"{rule.name}:{ref.tool}:{ref.key}:{sender.id}:{c.event}", rule=rule.name, item=ref,
                    sender=c.actor, receiver=sender, trigger=NOT_MINE, sent_at=c.at, sent_event=c.event,
                    deadline=deadline_for(sender, c.at)))
                back.append(sender)
        if not back:
            return outcome("applied", "ended: nobody is known to hand it back to; whoever handed it over, please name one person.",
                           mine[0], "not_mine")
        return outcome("applied", f"handed back to {', '.join(name(a) for a in back)} to choose who takes it: "
                                  f"reply /hb reassign @someone, or request it from them.", mine[0], "not_mine",
                       tuple(back))

    if verb == "reassign":
        if not may:
            return refusal("reassign it", "the receiver or the sender")
        target = ctx.resolve(c)
        if target is None:
            word = cmds.target_word(c.args)
            return outcome("refused", "not reassigned: name whom, e.g. `/hb reassign @cleo`." if word is None else
                           f"not reassigned: I do not know {word!r}; name a [people.*] person or their {ref.tool} account.")
        if target in bots:
            return outcome("refused", "not reassigned: I cannot take it myself.")
        mine = [h for h in batons if who(h.receiver) == actor] or batons
        wrong_receiver = any(h.trigger != NOT_MINE for h in mine)
        for h in mine:
            close(h, HandoffState.REHANDED, _as_event(c), f"reassigned by {c.actor.id} to {target.id}")
        deadline = deadline_for(target, c.at)
        if who(target) not in open_:
            hand(Handoff(
                key=f"{rule.name}:{ref.tool}:{ref.key}:{target.id}:{c.event}", rule=rule.name, item=ref,
                sender=c.actor, receiver=target, trigger=REASSIGNED, sent_at=c.at, sent_event=c.event, deadline=deadline))
        return outcome("applied", f"handed to {name(target)}, who has until {ctx.when(target, deadline)}.",
                       mine[0] if mine else None, "not_mine" if wrong_receiver and mine else None, (target,))

    if verb == "wrong":
        if not may:
            return refusal("call it a false alarm", "the receiver or the sender")
        ended = [h for h in everything if party(h) or lead(h)] or everything
        if not ended:
            return outcome("noop", "nothing here is overdue or waiting; nothing to end.")
        for h in ended:
            if h.key not in asked and h not in open_.values():
                continue  # ended with its partner (a request to the sender ends with its handoff)
            close(h, HandoffState.WITHDRAWN, _as_event(c), f"a false alarm, said {c.actor.id}")
        return outcome("applied", f"ended, and counted as a false alarm of rule {rule.name}.", ended[0], "wrong")

    if verb in ("mute", "unmute"):
        if not may:
            return refusal(f"{verb} it", "the receiver or the sender")
        if verb == "unmute":
            was = muted[0]
            muted[0] = False
            return outcome("applied" if was else "noop", "watching this item again." if was else "this item was not muted.")
        muted[0] = True
        muted[1] = {actor} | {who(a) for h in everything for a in (h.receiver, h.sender) if a is not None}
        for h in everything:
            if h.key not in asked and h not in open_.values():
                continue
            close(h, HandoffState.WITHDRAWN, _as_event(c), f"muted by {c.actor.id}")
        return outcome("applied", "muted: I will not watch this item until someone writes `/hb unmute`.")
    return None


def _as_event(c: cmds.Command) -> Event:
    """A command's comment as the event that ended a handoff (its id and time)."""
    return Event(tool=c.item.tool, id=c.event, item=c.item, at=c.at, kind=EventKind.COMMENTED, actor=c.actor)


def ended_legs(legs: tuple[Handoff, ...], state: HandoffState, ev: Event, reason: str) -> list[Handoff]:
    """The legs of a handoff that ended at ``ev``: each delegated-away leg before it as
    re-handed at its end, the leg in force then with ``state``; legs not begun are dropped."""
    out: list[Handoff] = []
    begun = [leg for leg in legs if leg.active_from is None or leg.active_from <= ev.at]
    for n, leg in enumerate(begun):
        nxt = begun[n + 1] if n + 1 < len(begun) else None
        if nxt is None:
            note = f" ({leg.away_note})" if leg.away_note else ""
            out.append(replace(leg, state=state, ended_at=ev.at, ended_by=ev.id, reason=reason + note))
        elif nxt.key != leg.key:
            out.append(replace(leg, state=HandoffState.REHANDED, ended_at=nxt.active_from, ended_by=None,
                               reason=nxt.away_note or f"delegated to {nxt.receiver.id}"))
    return out


def settle(walk: ItemWalk, now: datetime) -> tuple[list[Handoff], list[Finding]]:
    """Apply ``now`` to a walk: open handoffs past their deadline become overdue findings.

    A leg (availability: ``active_from``/``active_until``) counts only while in force; a leg
    whose time is over is reported re-handed when a delegate's leg follows it.

    Returns (every handoff with its state, sorted by sending time; one finding per overdue one).
    """
    handoffs = list(walk.done)
    findings: list[Finding] = []
    follows = {(h.key, h.active_from) for h, _ in walk.open if h.active_from is not None}
    for h, evidence in walk.open:
        if h.active_from is not None and now < h.active_from:
            continue  # a later leg: not in force yet
        if h.active_until is not None and now >= h.active_until:
            if (h.key, h.active_until) not in follows:  # delegated: this receiver's part ended
                nxt = next((n for n, _ in walk.open if n.active_from == h.active_until and n.key.startswith(h.key)), None)
                handoffs.append(replace(h, state=HandoffState.REHANDED, ended_at=h.active_until,
                                        reason=nxt.away_note if nxt is not None and nxt.away_note else "delegated"))
            continue
        promise = h.trigger == PROMISE
        if h.deadline <= now and (h.not_before is None or h.not_before <= now):
            if h.trigger == INCOMPLETE:
                reason = f"incomplete: lacks {', '.join(h.action.split('|'))}; {h.receiver.id} is asked to add it"
            elif promise:
                reason = f"not kept: no activity by {h.receiver.id} since it was written"
            else:
                reason = f"no acknowledgement by {h.receiver.id} before the deadline"
            h = replace(h, state=HandoffState.OVERDUE, reason=reason + (f" ({h.away_note})" if h.away_note else ""))
            detect = PROMISE if promise else INCOMPLETE if h.trigger == INCOMPLETE else "handoff"
            findings.append(Finding(key=h.key, rule=h.rule, detect=detect, item=h.item,
                                    receiver=h.receiver, at=h.deadline, handoff=h, evidence=evidence))
        else:
            reason = (f"snoozed until {h.not_before:%Y-%m-%d %H:%M}Z" if h.not_before and h.not_before > now else
                      "promised; not due yet" if promise else
                      "clock not started: the handoff is not complete yet" if h.deadline == NOT_STARTED else
                      "waiting; deadline not reached")
            h = replace(h, state=HandoffState.SENT, reason=reason + (f" ({h.away_note})" if h.away_note else ""))
        handoffs.append(h)
    return sorted(handoffs, key=lambda h: h.sent_at), findings


def detect(
    rule: Rule,
    events_by_item: Mapping[ItemRef, list[Event]],
    items: Mapping[ItemRef, ItemSnapshot],
    *,
    bots: set[Account],
    deadline_for: Callable[[Account, datetime], datetime],
    now: datetime,
    escalation_targets: set[Account] = frozenset(),
    status_owner: Callable[[str, str], Account | str | None] = lambda status, tool: None,
    who: Identity = _account_identity,
    linked: Callable[[ItemRef], Iterable[ItemRef]] = lambda ref: (),
) -> tuple[list[Handoff], list[Finding]]:
    """Run one ``handoff`` rule over every item.

    Args:
        rule: a validated rule (``name``, ``on``, ``tools``); see ``rules.spec``.
        events_by_item: each item's events, oldest first.
        items: current snapshots (for assignees when a label passes the baton).
        bots: the daemon's own accounts (echo suppression).
        deadline_for: ``(receiver, sent_at) -> deadline`` in the receiver's business time.
        now: aware UTC.
        escalation_targets: accounts this rule reassigns to; their activity acknowledges.
        status_owner: ``(status name, tool) -> account`` of the status's named owner, used when
            a move to a handoff status sets no assignee in the same change; ``ASSIGNEE`` for
            ``owner = "assignee"`` (the item's assignees at that moment).
        who: account → identity (see :func:`walk_item`); by default each account is its own.
        linked: item → the items linked to it as the same work (cross-link acknowledgement).

    Returns:
        (every handoff with its state, one finding per overdue handoff).
    """
    tools = set(rule.tools) if getattr(rule, "tools", None) else None
    handoffs: list[Handoff] = []
    findings: list[Finding] = []
    for ref, evs in events_by_item.items():
        if tools is not None and ref.tool not in tools:
            continue
        linked_events = [e for other in linked(ref) for e in events_by_item.get(other, ())]
        walk = walk_item(rule, ref, evs, items.get(ref), bots=bots, deadline_for=deadline_for,
                         escalation_targets=escalation_targets, status_owner=status_owner, who=who,
                         linked_events=linked_events)
        hs, fs = settle(walk, now)
        handoffs.extend(hs)
        findings.extend(fs)
    return handoffs, findings
