"""Findings → escalation steps → outbox rows → writes, each at most once.

Outbox first (DESIGN.md "Actions"): a due step becomes an ``outbox`` row, keyed by its
idempotency key ``<finding key>:<step index>``, in the same transaction that records the
finding. Delivery marks the row ``sending`` (committed) before the write and ``done``
after it. A row found ``sending`` or ``unknown`` (crash after send, lost response, 5xx on
a write) is never re-sent blindly: the connector first looks for its marker
(``hb:<12 hex>``), which every text the daemon writes carries.

Row states: ``pending`` → ``sending`` → ``done`` | ``unknown`` (reconcile next cycle) |
``failed`` (permanent refusal) ; ``dry_run`` (recorded, never sent) ; ``cancelled``
(the finding was resolved before the row went out).

Steps go out only inside the receiver's working hours.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from bridge.core import errors
from bridge.core.logs import get_logger
from bridge.core.model import Account, Action, ActionKind, ItemRef, ItemSnapshot
from bridge.store import FindingRow, OutboxRow, Store
from rules import standoff as standoff_rule
from rules.handoff import Finding
from rules.standoff import StandoffFinding

log = get_logger("bridge.actions")
ACTIVE = ("pending", "sending", "unknown")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def marker_for(idempotency_key: str) -> str:
    """``hb:`` + the first 12 hex digits of SHA-256 of the key (stable, opaque, short)."""
    return "hb:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]


def format_deadline(at: datetime, tz: str) -> str:
    """``Tue 24 Nov 15:00 CET``: the deadline in the receiver's own time zone."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def action_to_json(a: Action) -> str:
    d = asdict(a)
    d["kind"] = a.kind.value
    d["item"] = [a.item.tool, a.item.key]
    d["assignees"] = [[x.tool, x.id] for x in a.assignees]
    d["due"] = a.due.isoformat() if a.due else None
    return json.dumps(d, sort_keys=True)


def action_from_json(text: str) -> Action:
    d = json.loads(text)
    return Action(
        kind=ActionKind(d["kind"]),
        item=ItemRef(*d["item"]),
        marker=d["marker"],
        body=d["body"],
        assignees=tuple(Account(*x) for x in d["assignees"]),
        label=d["label"],
        title=d["title"],
        due=datetime.fromisoformat(d["due"]) if d.get("due") else None,
    )


@dataclass(frozen=True)
class Delivery:
    """What happened to one outbox row in this cycle (for logs, the demo and ``--json``)."""

    key: str
    rule: str
    do: str
    tool: str
    item: str
    marker: str
    status: str
    url: str | None = None
    error: str | None = None


def render(template: str, values: dict[str, str], literal: Callable[[str], str] = lambda text: text) -> str:
    """Fill ``{name}`` placeholders (names were validated with the config).

    ``values`` are already in the tool's markup (native mentions, escaped titles); the
    template's own text between placeholders goes through ``literal`` (the connector's
    ``literal``, e.g. XML escaping for Asana's ``html_text``).
    """
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(literal(template[pos:m.start()]))
        out.append(values.get(m.group(1), literal(m.group(0))))
        pos = m.end()
    out.append(literal(template[pos:]))
    return "".join(out)


class Planner:
    """Turn findings into due outbox rows.

    Args:
        config: the validated ``bridge.config.Config``.
        connectors: name → connector, used for native mentions and escaping.
        connector_for_tool: tool → connector name.
    """

    def __init__(self, config, connectors: dict, connector_for_tool: dict[str, str]):
        self.config = config
        self.connectors = connectors
        self.connector_for_tool = connector_for_tool
        self.evaluator = None  # bridge.engine.evaluator.Evaluator, set by the engine: people and items

    def _schedule(self, account: Account | None):
        if self.evaluator is not None:
            return self.evaluator.directory.schedule_for(account)
        return self.config.schedule_for(account)

    def _rule(self, name: str):
        return next(r for r in self.config.rules if r.name == name)

    def due_steps(self, finding: Finding, now: datetime) -> list[tuple[int, object, datetime]]:
        """Steps of the finding's rule whose time has come: ``(index, step, due_at)``.

        ``due_at`` = deadline + ``after`` in the receiver's business time, moved to the
        receiver's next working moment; a step is due when ``now >= due_at`` and ``now``
        is inside the receiver's working hours.
        """
        rule = self._rule(finding.rule)
        schedule = self._schedule(finding.receiver)
        out = []
        for i, step in enumerate(rule.steps):
            due = schedule.next_working_moment(schedule.add(finding.at, step.after))
            if now >= due and schedule.is_working(now):
                out.append((i, step, due))
        return out

    def build(self, finding: Finding, index: int, step, item: ItemSnapshot | None, key: str | None = None) -> Action:
        """Render one step of ``finding`` into an ``Action`` with its marker.

        ``key`` is the idempotency key (default ``<finding key>:<index>``).
        """
        if isinstance(finding, StandoffFinding):
            return self._build_standoff(finding, index, step, item, key)
        rule = self._rule(finding.rule)
        name = self.connector_for_tool[finding.item.tool]
        conn = self.connectors[name]
        key = f"{finding.key}:{index}"
        marker = marker_for(key)
        schedule_tz = self._schedule(finding.receiver).timezone
        to_account = None
        if step.do in ("reassign", "draft") and step.to:
            to_account = self.config.person_account(step.to, finding.item.tool)
        values = {
            "receiver": conn.mention(finding.receiver),
            "sender": conn.escape(finding.handoff.sender.id) if finding.handoff.sender else "someone",
            "need": conn.escape(rule.need),
            "item": finding.item.key,
            "title": conn.escape(item.title) if item else "",
            "deadline": format_deadline(finding.at, schedule_tz),
            "next": conn.escape(rule.next),
            "url": conn.literal(item.url) if item else "",
            "rule": rule.name,
            "to": conn.mention(to_account) if to_account else "",
        }
        footer = conn.footer(rule.name, marker)
        kind = ActionKind(step.do)

        def text(template: str) -> str:
            return render(self.config.templates[template], values, conn.literal)

        if kind == ActionKind.COMMENT:
            return Action(kind, finding.item, marker, body=text(step.template or "nudge") + footer)
        if kind == ActionKind.REASSIGN:
            if to_account is None:
                raise errors.PermanentError(finding.item.tool, f"rule {rule.name}: person {step.to!r} has no {finding.item.tool} account")
            return Action(kind, finding.item, marker, body=text(step.template or "reassign") + footer, assignees=(to_account,))
        if kind == ActionKind.LABEL:
            return Action(kind, finding.item, marker, label=step.label)
        # A title is plain text in every tool (no markup, no mentions): quoted words go in as
        # they are, on one line; people by their account id.
        def flat(text: str) -> str:
            return " ".join(text.split())

        plain = {**values, "receiver": finding.receiver.id, "to": to_account.id if to_account else "",
                 "sender": finding.handoff.sender.id if finding.handoff.sender else "someone",
                 "need": flat(rule.need), "next": flat(rule.next), "title": flat(item.title) if item else "",
                 "url": item.url if item else ""}
        title = render(self.config.templates[step.title_template or "draft_title"], plain)
        body = text(step.template or "draft") + footer
        return Action(kind, finding.item, marker, body=body, title=title, assignees=(to_account or finding.receiver,), due=finding.at)

    def _build_standoff(self, f: StandoffFinding, index: int, step, item: ItemSnapshot | None, key: str | None) -> Action:
        """One step of a standoff or ownerless finding on ``item`` (one of ``f.items``)."""
        rule = self._rule(f.rule)
        ref = item.ref if item is not None else f.item
        conn = self.connectors[self.connector_for_tool[ref.tool]]
        marker = marker_for(key or f"{f.key}:{index}")
        ev = self.evaluator  # set by the engine; standoffs exist only there
        items = ev.items

        def person(account: Account | None) -> str:
            if account is None:
                return "nobody"
            native = ev.directory.account_for_identity(ev.who(account), ref.tool)
            return conn.mention(native) if native is not None else conn.escape(ev.name(account))

        def label(r: ItemRef) -> str:
            snap = items.get(r)
            if r.tool == "asana" and snap is not None:
                return conn.literal("\u201c") + conn.escape(snap.title) + conn.literal("\u201d")
            return conn.escape(r.key)

        decider = f.receiver
        schedule = self._schedule(decider)
        deadline = schedule.add(schedule.next_working_moment(f.at), rule.within)
        cycle = conn.literal(", and ").join(
            f"{person(e.waiter)}{conn.literal(' waits on ')}{person(e.holder)}{conn.literal(' for ')}"
            + standoff_rule.fill(standoff_rule.need_of(e), label, conn.literal)
            for e in f.edges
        )
        blocker_item = items.get(f.breaks.on)
        values = {
            "receiver": person(f.receiver),
            "decider": person(decider),
            "decision": standoff_rule.fill(standoff_rule.decision_of(f.breaks), label, conn.literal),
            "cycle": cycle,
            "blocker": label(f.breaks.on) + (conn.literal(" (") + conn.literal(blocker_item.url) + conn.literal(")") if blocker_item else ""),
            "item": label(ref),
            "title": conn.escape(item.title) if item else "",
            "url": conn.literal(item.url) if item else "",
            "deadline": format_deadline(deadline, schedule.timezone),
            "rule": rule.name,
            "need": conn.escape(rule.need or ""),
            "next": conn.escape(rule.next or ""),
            "sender": "", "to": "",
        }
        # The rule's default comment template is "standoff"; an ownerless wait has its own.
        template = "ownerless" if f.detect == "ownerless" and step.template == "standoff" else step.template
        footer = conn.footer(rule.name, marker)
        kind = ActionKind(step.do)
        body = render(self.config.templates[template], values, conn.literal) + footer
        if kind == ActionKind.COMMENT:
            return Action(kind, ref, marker, body=body)
        if kind == ActionKind.LABEL:
            return Action(kind, ref, marker, label=step.label)
        plain_labels = lambda r: items[r].title if r.tool == "asana" and r in items else r.key  # noqa: E731
        title = " ".join(render(self.config.templates[step.title_template or "standoff_draft_title"],
                                {**values, "decision": standoff_rule.fill(standoff_rule.decision_of(f.breaks), plain_labels)}).split())
        owner = ev.directory.account_for_identity(ev.who(decider), ref.tool)
        return Action(kind, ref, marker, body=body, title=title, assignees=(owner,) if owner else (), due=deadline)

    def _row(self, f, index: int, key: str, action: Action, rule, now: datetime, dry_run: bool) -> OutboxRow:
        return OutboxRow(
            key=key,
            marker=action.marker,
            finding_key=f.key,
            rule=f.rule,
            step=index,
            connector=self.connector_for_tool[action.item.tool],
            action=action_to_json(action),
            status="dry_run" if (dry_run or self.config.dry_run_for(rule)) else "pending",
            created_at=now,
        )

    def plan(self, store: Store, findings: list[Finding], items: dict, now: datetime, *, dry_run: bool) -> list[OutboxRow]:
        """Record each finding and its due steps in the outbox (one transaction per finding).

        Returns the rows added now. Steps already planned are untouched (unique key).
        """
        added: list[OutboxRow] = []
        for f in findings:
            rule = self._rule(f.rule)
            rows = []
            for index, step, _due in self.due_steps(f, now):
                # A standoff's comment goes on every item of its cycle; everything else on one item.
                targets = f.items if isinstance(f, StandoffFinding) and step.do != "draft" else (f.item,)
                for target in targets:
                    key = f"{f.key}:{index}" if len(targets) == 1 else f"{f.key}:{index}:{target.tool}:{target.key}"
                    try:
                        action = self.build(f, index, step, items.get(target), key=key)
                    except errors.PermanentError as exc:
                        log.error("step_skipped", rule=f.rule, item=target.key, step=index, reason=str(exc))
                        continue
                    if target.tool not in self.connector_for_tool:
                        log.error("step_skipped", rule=f.rule, item=target.key, step=index, reason=f"no {target.tool} connector")
                        continue
                    rows.append(self._row(f, index, key, action, rule, now, dry_run))
            finding_row = FindingRow(
                key=f.key,
                rule=f.rule,
                detect=f.detect,
                item_tool=f.item.tool,
                item_key=f.item.key,
                receiver=str(f.receiver),
                at=f.at,
                evidence=json.dumps(list(f.evidence)),
                summary=f.summary,
                first_seen=now,
            )
            added.extend(store.record_finding_and_plan(finding_row, rows))
        return added


def deliver(
    store: Store,
    connectors: dict,
    now: datetime,
    *,
    active_findings: set[str],
    held: set[str] = frozenset(),
    available: Callable[[str], bool],
    budget_left: Callable[[str], int],
    on_error: Callable[[str, errors.ConnectorError], None],
) -> list[Delivery]:
    """Send every outbox row that is due, reconciling uncertain ones by marker first.

    Args:
        active_findings: keys of findings still standing; rows of others are cancelled.
        held: keys of findings held back (inhibited inside a standoff): their pending rows wait.
        available: connector name → may it be called now (not stopped, not rate limited).
        budget_left: connector name → writes still allowed this hour.
        on_error: told about connector errors (auth stops a connector; rate limits pause it).

    Returns one ``Delivery`` per row touched.
    """
    out: list[Delivery] = []
    for row in store.outbox(ACTIVE):
        action = action_from_json(row.action)

        def report(status: str, url: str | None = None, error: str | None = None) -> None:
            out.append(Delivery(row.key, row.rule, action.kind.value, action.item.tool, action.item.key, row.marker, status, url, error))

        if row.finding_key not in active_findings and row.status == "pending":
            store.update_outbox(row.key, status="cancelled")
            report("cancelled")
            continue
        if row.finding_key in held and row.status == "pending":
            continue
        if not available(row.connector):
            continue
        conn = connectors[row.connector]
        try:
            if row.status in ("sending", "unknown"):
                found = conn.find_marker(action, row.sent_at or row.created_at)
                if found is not None:
                    store.update_outbox(row.key, status="done", confirmed_at=now, url=found.url, last_error=None)
                    report("done", found.url)
                    continue
                if row.finding_key not in active_findings:
                    store.update_outbox(row.key, status="cancelled")
                    report("cancelled")
                    continue
            if budget_left(row.connector) <= 0:
                continue
            store.update_outbox(row.key, status="sending", attempts=row.attempts + 1, sent_at=now)
            result = conn.apply(action)
            store.update_outbox(row.key, status="done", confirmed_at=now, url=result.url, last_error=None)
            report("done", result.url)
        except errors.OutcomeUnknown as exc:
            store.update_outbox(row.key, status="unknown", last_error=str(exc))
            report("unknown", error=str(exc))
        except errors.PermanentError as exc:
            store.update_outbox(row.key, status="failed", last_error=str(exc))
            report("failed", error=str(exc))
        except errors.ConnectorError as exc:
            # Not sent (auth, rate limit, transient on a read): back to pending unless the
            # write may have gone out.
            status = "unknown" if row.status in ("sending", "unknown") else "pending"
            store.update_outbox(row.key, status=status, last_error=str(exc))
            on_error(row.connector, exc)
            report(status, error=str(exc))
    return out


def writes_in_last_hour(store: Store, connector: str, now: datetime) -> int:
    """Rows of ``connector`` sent in the hour before ``now``, (now - 1h, now] (for the write budget)."""
    since = now - timedelta(hours=1)
    return sum(
        1
        for r in store.outbox(("done", "unknown", "sending"))
        if r.connector == connector and r.sent_at is not None and r.sent_at > since
    )
