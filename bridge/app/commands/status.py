"""``handoff-bridge status``: every open item that waits or is waited on, as holder / blocker / next decision.

Reads the store only (the last poll's view); no tracker is called except, once per
connector, ``whoami`` when the daemon's own account is not yet known (as ``explain``).

One row per open item that is part of a pending handoff (sent or overdue), a standoff or a
wait-for edge (as the waiting item or as the item waited on). Each row has the three parts
of a useful status (DESIGN.md "Vocabulary"):

- **state**: ``BLOCKED`` when the item waits: it is the waiting item of a ``blocked_by`` or
  ``status`` edge, it lies in a standoff, a handoff on it is overdue, it is flagged (Jira's
  "Flagged": an impediment), or it blocks another item and nobody holds it (nobody can move it). Otherwise
  ``MOVING``: its holder has the next action (a handoff within its deadline, a review
  request, changes to answer, or a blocker to finish).
- **holder**: the receiver of a pending handoff on the item, else ``rules.standoff.holder``
  of its snapshot (first assignee; a pull request's author).
- **blocker**: the named dependency (tool, key or Asana title, URL), or ``standoff: <sentence>``.
- **next decision point**: who (named), what, and by when in that person's time zone. A
  standoff's decider has the rule's ``within`` from when the standoff stood; so has the
  waiter of an ownerless blocker, to find an owner.

``age`` is now minus the start of the item's oldest wait or pending handoff.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bridge.core import errors
from bridge.actions import format_deadline
from bridge.engine.crawl import crawl_status
from bridge.core.model import Account, HandoffState, ItemRef, ItemSnapshot
from rules import standoff as standoff_rule
from rules.handoff import NOT_STARTED, requirement_words

MOVING, BLOCKED = "MOVING", "BLOCKED"
PENDING = (HandoffState.SENT, HandoffState.OVERDUE)
WAITING_KINDS = (standoff_rule.BLOCKED_BY, standoff_rule.STATUS)
SORTS = ("age", "item", "holder")


@dataclass
class Blocker:
    """What a blocked item waits on: an item (``ref``) or a standoff / overdue handoff (``text``)."""

    text: str
    kind: str  # blocked_by | status | standoff | overdue | no_owner | flagged (Jira "Flagged", nothing named)
    ref: ItemRef | None = None
    url: str | None = None
    holder: str | None = None  # named person holding the blocker ("nobody" when ownerless)


@dataclass
class Decision:
    """The next decision point: ``who`` (named) is to do ``what`` by ``by`` (aware UTC, or ``None``)."""

    who: str
    account: Account | None
    what: str
    by: datetime | None = None
    by_local: str | None = None  # ``by`` in ``who``'s own time zone


@dataclass
class Row:
    item: ItemRef
    title: str
    url: str | None
    state: str
    holder: str
    holder_account: Account | None
    since: datetime
    age: timedelta
    blockers: list[Blocker] = field(default_factory=list)
    decision: Decision | None = None
    in_standoff: bool = False
    ownerless: bool = False
    away: list[str] = field(default_factory=list)  # a handoff delegated or waiting for a return (rules.away)


@dataclass
class Status:
    """``rows``: open items that wait or are waited on. ``retrying`` / ``dead_letter``: items
    whose own read failed (``bridge.store.RetryRow``): still retried with backoff, or given up
    until ``handoff-bridge retry`` (their events are not read meanwhile)."""

    at: datetime
    rows: list[Row]
    retrying: list = field(default_factory=list)
    dead_letter: list = field(default_factory=list)
    crawl: str = ""  # "first crawl: github 3 of 10 repositories read" (bridge.engine.crawl)
    quiet: list = field(default_factory=list)  # rules quieted by feedback (bridge.engine.feedback.RuleFeedback)

    @property
    def moving(self) -> int:
        return sum(r.state == MOVING for r in self.rows)

    @property
    def blocked(self) -> int:
        return sum(r.state == BLOCKED for r in self.rows)

    @property
    def in_standoffs(self) -> int:
        return sum(r.in_standoff for r in self.rows)

    @property
    def ownerless(self) -> int:
        return sum(r.ownerless for r in self.rows)

    @property
    def oldest(self) -> timedelta | None:
        return max((r.age for r in self.rows), default=None)


def format_age(age: timedelta) -> str:
    """``3d 4h``, ``5h 12m``, ``12m`` (wall-clock time, whole minutes)."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def quoted(text: str, limit: int = 200) -> str:
    """``text`` as evidence on one line: whitespace collapsed, control characters dropped, at most
    ``limit`` characters, between curly quotes (the HTML page escapes it again for HTML)."""
    flat = " ".join("".join(ch for ch in text if ch.isprintable() or ch.isspace()).split())
    return "\u201c" + (flat if len(flat) <= limit else flat[:limit - 1] + "\u2026") + "\u201d"


def _trigger_phrase(trigger: str) -> str:
    if trigger == "promise":
        return "the promise"
    if trigger == "incomplete":
        return "the request to complete the handoff"
    if trigger == "review_requested":
        return "the review request"
    if trigger == "assigned":
        return "the assignment"
    if trigger.startswith("label:"):
        return f"the handoff (label {trigger[len('label:'):]})"
    if trigger.startswith("status:"):
        return f"the handoff (moved to {trigger[len('status:'):]})"
    return f"the handoff ({trigger})"


class _Builder:
    def __init__(self, engine, now: datetime, evaluation=None):
        self.engine = engine
        self.ev = engine.evaluator
        self.now = now
        self.evaluation = evaluation if evaluation is not None else engine.evaluate(now)
        self.items = self.ev.items  # bridge.engine.evaluator.Snapshots
        self.rules = {r.name: r for r in engine.config.rules}

    # -------------------------------------------------------------- naming

    def name(self, account: Account | None) -> str:
        return self.ev.name(account) if account is not None else "nobody"

    def label(self, ref: ItemRef) -> str:
        snap = self.items.get(ref)
        if ref.tool == "asana" and snap is not None and snap.title:
            return f"\"{snap.title}\""
        return ref.key

    def decision(self, who: Account | None, what: str, by: datetime | date | None) -> Decision:
        if by is not None and not isinstance(by, datetime):  # a due date alone: the end of that day for `who`
            by = self.ev.directory.schedule_for(who).end_of_date(by)
        local = None
        if by is not None:
            local = format_deadline(by, self.ev.directory.schedule_for(who).timezone)
        return Decision(self.name(who), who, what, by, local)

    def standoff_rule_for(self, edge: standoff_rule.WaitEdge):
        for rule in self.ev.standoff_rules:
            if not rule.tools or (edge.item.tool in rule.tools and edge.on.tool in rule.tools):
                return rule
        return None

    # -------------------------------------------------------------- rows

    def build(self) -> Status:
        ev = self.evaluation
        pending = [h for h in ev.handoffs if h.state in PENDING]
        refs: set[ItemRef] = {h.item for h in pending}
        refs |= {e.item for e in ev.edges} | {e.on for e in ev.edges}
        refs |= {r for f in ev.standoffs for r in f.items}
        self.items.load(refs)  # one read, not one per item
        self._index(pending)
        rows = []
        for ref in refs:
            snap = self.items.get(ref)
            if snap is not None and not standoff_rule.is_open(snap):
                continue
            row = self.row(ref, snap)
            if row is not None:
                rows.append(row)
        return Status(self.now, rows)

    def _index(self, pending) -> None:
        """Group the evaluation by item once (``row`` then reads its own groups: a scan of
        every handoff and edge per item made a status of 100,000 items take minutes)."""
        ev = self.evaluation
        self._handoffs: dict[ItemRef, list] = defaultdict(list)
        self._waits: dict[ItemRef, list] = defaultdict(list)
        self._waited_on: dict[ItemRef, list] = defaultdict(list)
        self._standoffs: dict[ItemRef, list] = defaultdict(list)
        self._ownerless: dict[str, object] = {}
        for h in pending:
            self._handoffs[h.item].append(h)
        for e in ev.edges:
            self._waits[e.item].append(e)
            if e.on != e.item:
                self._waited_on[e.on].append(e)
        for f in ev.standoffs:
            if f.detect == "standoff":
                for ref in dict.fromkeys(f.items):
                    self._standoffs[ref].append(f)
            elif f.detect == "ownerless":
                self._ownerless.setdefault(f.breaks.key, f)

    def row(self, ref: ItemRef, snap: ItemSnapshot | None) -> Row | None:
        # a sender asked to complete a handoff decides first: the receiver's clock waits on it
        handoffs = sorted(self._handoffs.get(ref, ()), key=lambda h: (h.sent_at, h.trigger != "incomplete", h.key))
        waits = sorted(self._waits.get(ref, ()), key=lambda e: (e.began, e.key))
        waited_on = sorted(self._waited_on.get(ref, ()), key=lambda e: (e.began, e.key))
        standoffs = list(self._standoffs.get(ref, ()))
        blocking = [e for e in waits if e.kind in WAITING_KINDS]
        overdue = [h for h in handoffs if h.state == HandoffState.OVERDUE]

        starts = [h.sent_at for h in handoffs] + [e.began for e in waits + waited_on]
        starts += [e.began for f in standoffs for e in f.edges if ref in (e.item, e.on)]
        if not starts:
            return None
        since = min(starts)

        passes = [h for h in handoffs if h.trigger != "promise"]  # a promise's author does not hold the item
        holder_acct = passes[0].receiver if passes else standoff_rule.holder(snap)
        unheld = [e for e in waited_on if e.holder is None and e.kind in WAITING_KINDS]  # nobody holds this blocker
        flagged = snap.flagged_since if snap is not None else None  # Jira "Flagged": an impediment
        blocked = bool(blocking or standoffs or overdue or unheld or flagged)
        row = Row(
            item=ref,
            title=snap.title if snap else "",
            url=snap.url if snap else None,
            state=BLOCKED if blocked else MOVING,
            holder=self.name(holder_acct),
            holder_account=holder_acct,
            since=since,
            age=self.now - since,
            in_standoff=bool(standoffs),
            ownerless=any(e.holder is None for e in blocking),
        )

        # blockers: standoffs first, then the items it waits on, then overdue handoffs
        for f in standoffs:
            row.blockers.append(Blocker(f"standoff: {f.sentence}", "standoff"))
        for e in blocking:
            other = self.items.get(e.on)
            row.blockers.append(Blocker(
                f"{self.label(e.on)} ({e.on.tool}{', ' + other.url if other and other.url else ''})"
                + ("" if e.holder is not None else ", which nobody holds"),
                e.kind, e.on, other.url if other else None, self.name(e.holder)))
        for h in overdue:
            if h.trigger == "incomplete":
                lacks = " and ".join(requirement_words(r) for r in h.action.split("|"))
                row.blockers.append(Blocker(f"incomplete handoff: {self.name(h.receiver)} has not added {lacks}",
                                            "incomplete", holder=self.name(h.receiver)))
                continue
            if h.trigger == "promise":
                row.blockers.append(Blocker(
                    f"promise not kept: {self.name(h.receiver)} wrote {quoted(h.quote)} on {h.sent_at:%Y-%m-%d %H:%M}Z"
                    + (f", due {h.promised:%Y-%m-%d %H:%M}Z" if h.promised else ""),
                    "promise", holder=self.name(h.receiver)))
                continue
            row.blockers.append(Blocker(
                f"overdue handoff: {self.name(h.receiver)} has not acknowledged {_trigger_phrase(h.trigger)}",
                "overdue", holder=self.name(h.receiver)))

        if flagged is not None and not blocking:  # flagged with nothing named it waits on
            row.blockers.append(Blocker(f"flagged as an impediment since {flagged:%Y-%m-%d %H:%M}Z", "flagged"))

        if unheld:
            waiters = ", ".join(dict.fromkeys(self.label(e.item) for e in unheld))
            row.blockers.append(Blocker(f"no owner: nobody holds it, and {waiters} waits on it", "no_owner"))

        row.decision = self.next_decision(ref, standoffs, blocking, handoffs, waits, waited_on)
        row.away = list(dict.fromkeys(h.away_note for h in passes if h.away_note))
        return row

    def owner_deadline(self, edge: standoff_rule.WaitEdge) -> datetime | None:
        """When the waiter of an ownerless ``edge`` is to have found an owner: the rule's
        ``within`` after the wait reached ``min_age`` (the ownerless finding's moment)."""
        f = self._ownerless.get(edge.key)
        if f is not None:
            rule = self.rules.get(f.rule)
            return self.ev.directory.schedule_for(f.receiver).add(f.at, rule.within) if rule else None
        rule = self.standoff_rule_for(edge)  # not yet aged: it will be reported once it is
        if rule is None:
            return None
        return self.ev.directory.schedule_for(edge.waiter).add(self.ev.aged_at(rule, edge), rule.within)

    def find_owner(self, edge: standoff_rule.WaitEdge) -> Decision:
        return self.decision(edge.waiter, f"find an owner for {self.label(edge.on)}", self.owner_deadline(edge))

    def next_decision(self, ref, standoffs, blocking, handoffs, waits, waited_on) -> Decision | None:
        if standoffs:
            f = min(standoffs, key=lambda f: f.at)
            rule = self.rules.get(f.rule)
            by = self.ev.directory.schedule_for(f.receiver).add(f.at, rule.within) if rule else None
            return self.decision(f.receiver, "decide " + standoff_rule.fill(standoff_rule.decision_of(f.breaks), self.label), by)
        ownerless = [e for e in blocking if e.holder is None]
        if ownerless:
            return self.find_owner(min(ownerless, key=lambda e: (self.owner_deadline(e) or self.now, e.began, e.key)))
        if blocking:
            e = blocking[0]
            other = self.items.get(e.on)
            return self.decision(e.holder, f"finish {self.label(e.on)}", other.due if other else None)
        if handoffs:
            h = handoffs[0]
            if h.trigger == "promise":
                what = f"keep the promise to {h.action}"
            elif h.trigger == "incomplete":
                what = "add " + " and ".join(requirement_words(r) for r in h.action.split("|"))
            else:
                what = f"acknowledge {_trigger_phrase(h.trigger)}"
            if h.state == HandoffState.OVERDUE:
                what += " (overdue)"
            return self.decision(h.receiver, what, None if h.deadline == NOT_STARTED else h.deadline)
        for e in waits:
            if e.holder is not None:
                return self.decision(e.holder, standoff_rule.fill(_task_of(e), self.label), None)
        if waited_on:
            e = waited_on[0]
            snap = self.items.get(ref)
            if e.holder is None:
                return self.find_owner(min(waited_on, key=lambda e: (self.owner_deadline(e) or self.now, e.began, e.key)))
            waiters = ", ".join(dict.fromkeys(self.label(x.item) for x in waited_on))
            return self.decision(e.holder, f"finish {self.label(ref)} ({waiters} waits on it)", snap.due if snap else None)
        return None


class StoredIdentity:
    """Stand-in for a connector that could not be built (its tool unreachable at start).

    Knows its tool; the daemon's own account in it comes from the store (``whoami`` kept by
    the daemon), never from the tool, so ``status`` still reads the store.
    """

    def __init__(self, name: str, tool: str):
        self.name = name
        self.tool = tool

    def whoami(self) -> Account:
        raise errors.TransientError(self.tool, "not connected (status reads the store only)")


def offline_engine(config, store, clock):
    """An ``Engine`` whose connectors are :class:`StoredIdentity` stand-ins: reads only the store."""
    from bridge.engine import Engine

    return Engine(config, store, {name: StoredIdentity(name, name) for name, _section in config.connectors.items()}, clock,
                  persist=False)


def _task_of(edge: standoff_rule.WaitEdge) -> tuple[str, tuple[ItemRef, ...]]:
    if edge.kind == standoff_rule.REVIEW:
        return "review {0}", (edge.on,)
    if edge.kind == standoff_rule.CHANGES:
        return "answer the changes requested on {0}", (edge.on,)
    if edge.kind == standoff_rule.HANDOFF:
        return "acknowledge {0}", (edge.item,)
    return "finish {0}", (edge.on,)


def build_status(engine, now: datetime | None = None, sort: str = "age", evaluation=None) -> Status:
    """Evaluate the store at ``now`` (default: the engine's clock) and build the status rows.

    Args:
        engine: a ``bridge.engine.Engine`` (its store, config and evaluator are read).
        now: aware UTC.
        sort: ``age`` (oldest wait first), ``item`` (tool, key) or ``holder`` (name, then oldest).
        evaluation: an ``Evaluation`` ``engine`` already made (the daemon's last cycle's,
            ``Engine.last``) to build the rows from instead of evaluating again; ``now`` should
            then be its ``at``.

    Raises:
        ValueError: an unknown ``sort``.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r} (expected one of {', '.join(SORTS)})")
    status = _Builder(engine, now or engine.clock(), evaluation).build()
    for row in engine.store.retries():
        (status.dead_letter if row.dead_at is not None else status.retrying).append(row)
    status.crawl = crawl_status(engine.config, engine.store)
    status.quiet = engine.feedback.quiet_now(status.at)
    keys = {
        "age": lambda r: (r.since, r.item.tool, r.item.key),
        "item": lambda r: (r.item.tool, r.item.key),
        "holder": lambda r: (r.holder.casefold(), r.since, r.item.tool, r.item.key),
    }
    status.rows.sort(key=keys[sort])
    return status


def summary_line(status: Status) -> str:
    """``12 items: 7 moving, 5 blocked (2 in standoffs, 1 ownerless); oldest wait 3d 4h``."""
    dead = f"; {len(status.dead_letter)} dead-lettered (see below)" if status.dead_letter else ""
    n = len(status.rows)
    if n == 0:
        return "0 items: nothing waits" + dead
    extra = []
    if status.in_standoffs:
        extra.append(f"{status.in_standoffs} in standoffs")
    if status.ownerless:
        extra.append(f"{status.ownerless} ownerless")
    blocked = f"{status.blocked} blocked" + (f" ({', '.join(extra)})" if extra else "")
    return (f"{n} item{'s' if n != 1 else ''}: {status.moving} moving, {blocked}; "
            f"oldest wait {format_age(status.oldest)}{dead}")


def render_text(status: Status) -> str:
    """The summary line, then one block per row."""
    lines = [summary_line(status)] + ([status.crawl] if status.crawl else [])
    lines += [f.line() + " (`handoff-bridge rules`)" for f in status.quiet]
    for r in status.rows:
        title = f"  \"{r.title}\"" if r.title else ""
        lines += ["", f"{r.state:<7} {r.item.tool} {r.item.key}{title}   age {format_age(r.age)}"]
        if r.url:
            lines.append(f"        {r.url}")
        lines.append(f"        holder:  {r.holder}")
        for b in r.blockers:
            lines.append(f"        blocker: {b.text}")
        d = r.decision
        if d is not None:
            by = f" by {d.by_local}" if d.by_local else ""
            lines.append(f"        next:    {d.who} to {d.what}{by}")
        for note in r.away:
            lines.append(f"        away:    {note}")
    if status.retrying:
        lines += ["", f"Retrying ({len(status.retrying)}): items whose own read failed; the rest of their scope goes on"]
        lines += [f"  {r.item_tool} {r.item_key}  {r.tries} failed, next read {r.next_try_at:%Y-%m-%d %H:%M}Z: {r.error}"
                  for r in status.retrying]
    if status.dead_letter:
        lines += ["", f"Dead-letter ({len(status.dead_letter)}): not read again until `handoff-bridge retry ITEM`"]
        lines += [f"  {r.item_tool} {r.item_key}  {r.tries} failed reads, given up {r.dead_at:%Y-%m-%d %H:%M}Z: {r.error}"
                  for r in status.dead_letter]
    return "\n".join(lines)


def _retry_json(r) -> dict:
    return {"connector": r.connector, "tool": r.item_tool, "key": r.item_key, "scope": r.scope, "error": r.error,
            "tries": r.tries, "first_failed_at": r.first_failed_at.isoformat(),
            "next_try_at": r.next_try_at.isoformat() if r.dead_at is None else None,
            "dead_at": r.dead_at.isoformat() if r.dead_at is not None else None}


def _account(a: Account | None) -> str | None:
    return str(a) if a is not None else None


def to_json(status: Status) -> dict:
    """One document: ``{"summary": {...}, "items": [...]}`` with ISO 8601 times."""
    oldest = status.oldest
    return {
        "summary": {
            "at": status.at.isoformat(),
            "items": len(status.rows),
            "moving": status.moving,
            "blocked": status.blocked,
            "in_standoffs": status.in_standoffs,
            "ownerless": status.ownerless,
            "oldest_wait_seconds": int(oldest.total_seconds()) if oldest is not None else None,
            "dead_lettered": len(status.dead_letter),
            "first_crawl": status.crawl or None,
            "quiet_rules": [f.rule for f in status.quiet],
            "text": summary_line(status),
        },
        "items": [
            {
                "tool": r.item.tool,
                "key": r.item.key,
                "title": r.title,
                "url": r.url,
                "state": r.state,
                "holder": {"name": r.holder, "account": _account(r.holder_account)},
                "blockers": [
                    {"kind": b.kind, "text": b.text, "tool": b.ref.tool if b.ref else None,
                     "key": b.ref.key if b.ref else None, "url": b.url, "holder": b.holder}
                    for b in r.blockers
                ],
                "next": None if r.decision is None else {
                    "who": r.decision.who,
                    "account": _account(r.decision.account),
                    "what": r.decision.what,
                    "by": r.decision.by.isoformat() if r.decision.by else None,
                    "by_local": r.decision.by_local,
                },
                "since": r.since.isoformat(),
                "age_seconds": int(r.age.total_seconds()),
                "in_standoff": r.in_standoff,
                "ownerless": r.ownerless,
                "away": r.away,
            }
            for r in status.rows
        ],
        "retrying": [_retry_json(r) for r in status.retrying],
        "dead_letter": [_retry_json(r) for r in status.dead_letter],
        "quiet_rules": [f.to_json() for f in status.quiet],
    }
