"""Findings → escalation steps → outbox rows, each keyed by its idempotency key.

Holds ``Planner`` and ``marker_for``. A due step becomes an ``outbox`` row keyed
``<finding key>:<step index>`` (a standoff's comment on each of its items:
``<finding key>:<step index>:<tool>:<key>``), recorded in the same transaction as its finding
(DESIGN.md "Actions"); delivery is ``bridge.actions.outbox``, the words ``bridge.actions.render``.

Steps go out only inside the receiver's working hours.

**Adoption** (``[adoption]``): a handoff first found overdue more than ``late_after`` after its
deadline (a first start on a tracker with a backlog, or an outage longer than the deadline)
is *adopted*: its steps count from a restarted deadline, ``grace`` (the receiver's business
time) after the daemon first saw it overdue (``FindingRow.first_seen``), and its comment names
that deadline and the day it was sent (template ``nudge_adopted``). First nudges of adopted
handoffs reach each receiver at most ``per_person_per_day`` times in any 24 hours, oldest
handoff first; one that waits its turn counts its later steps from when its first nudge was
planned. Nothing it writes names a deadline from before the daemon saw the handoff.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Protocol

from bridge.actions.outbox import OutboxStatus, action_to_json
from bridge.actions.render import StandoffText, away_values, fill_template, handoff_values, plain_values
from bridge.config import Config
from bridge.core import errors
from bridge.core.logs import get_logger
from bridge.core.model import Action, ActionKind, ItemRef, ItemSnapshot
from bridge.core.people import Directory
from bridge.store import FindingRow, OutboxRow, Store
from bridge.store.codec import aware_utc as aware
from rules.handoff import Finding
from rules.handoff import INCOMPLETE
from rules.spec import Rule, Step
from rules.standoff import StandoffFinding

#: The one step of an incomplete handoff's finding: a comment to its sender naming what is missing.
INCOMPLETE_STEP = Step(after="0h", do="comment", template="incomplete")

log = get_logger("bridge.actions")


class ItemReader(Protocol):
    """Stored item snapshots by ref (``bridge.engine.evaluator.Snapshots``): ``None`` / ``KeyError`` when not stored."""

    def get(self, ref: ItemRef, default=None) -> ItemSnapshot | None: ...

    def __getitem__(self, ref: ItemRef) -> ItemSnapshot: ...

    def __contains__(self, ref: ItemRef) -> bool: ...


def marker_for(idempotency_key: str) -> str:
    """``hb:`` + the first 12 hex digits of SHA-256 of the key (stable, opaque, short)."""
    return "hb:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]


class Planner:
    """Turn findings into due outbox rows.

    Args:
        config: the validated config (rules, templates, dry-run settings).
        connectors: name → connector, used for native mentions and escaping.
        connector_for_tool: tool → connector name.
        directory: the people directory (schedules; a step's ``to`` person's account in a tool).
        items: the item snapshots the texts name (titles, URLs).
    """

    def __init__(self, config: Config, connectors: dict, connector_for_tool: dict[str, str], *,
                 directory: Directory, items: ItemReader):
        self.config = config
        self.connectors = connectors
        self.connector_for_tool = connector_for_tool
        self.directory = directory
        self.items = items
        # Loaded from the store at the first plan (``_load``), then kept up to date here:
        self._first_seen: dict[str, datetime] | None = None  # finding key -> FindingRow.first_seen
        self._first_nudge: dict[str, datetime] = {}  # finding key -> created_at of its step-0 row
        self._nudged: dict[str, list[datetime]] = {}  # receiver -> created_at of step-0 rows (cap)
        self._quiet: frozenset[str] = frozenset()  # rules quieted by feedback (dry run), set by each plan

    def _rule(self, name: str):
        return next(r for r in self.config.rules if r.name == name)

    def _load(self, store: Store) -> None:
        if self._first_seen is not None:
            return
        rows = store.findings()
        self._first_seen = {r.key: aware(r.first_seen) for r in rows}
        receiver = {r.key: r.receiver for r in rows}
        for row in store.outbox():
            if row.step == 0 and row.status != OutboxStatus.CANCELLED:
                self._note_first_nudge(row.finding_key, receiver.get(row.finding_key), aware(row.created_at))

    def _note_first_nudge(self, key: str, receiver: str | None, at: datetime) -> None:
        if key not in self._first_nudge:
            self._first_nudge[key] = at
            if receiver is not None:
                self._nudged.setdefault(receiver, []).append(at)

    def adopted_deadline(self, finding, now: datetime) -> datetime | None:
        """The restarted deadline of an adopted handoff (aware UTC), or ``None`` when
        ``finding`` is not adopted (standoffs never are). See the module docstring."""
        adoption = self.config.adoption
        if isinstance(finding, StandoffFinding) or not adoption.enabled:
            return None
        seen = (self._first_seen or {}).get(finding.key, now)
        if seen - finding.at <= adoption.late_after.wall():
            return None
        return self.directory.schedule_for(finding.receiver).add(seen, adoption.grace)

    def deadline_of(self, finding, now: datetime) -> datetime:
        """The deadline ``finding``'s steps count from: its own, or an adopted one's restarted
        deadline (later still when its first nudge waited its turn under the cap)."""
        adopted = self.adopted_deadline(finding, now)
        if adopted is None:
            return finding.at
        first = self._first_nudge.get(finding.key)
        return max(adopted, first) if first is not None else adopted

    def nudges_in_last_day(self, receiver, now: datetime) -> int:
        """First nudges planned for ``receiver`` (an ``Account``) in the 24 hours before ``now``."""
        since = now - timedelta(days=1)
        return sum(1 for t in self._nudged.get(str(receiver), ()) if t > since)

    def steps_for(self, finding) -> list:
        """The escalation steps of ``finding``: its rule's, except an incomplete handoff's, which
        gets one comment to its sender (``INCOMPLETE_STEP``) whatever the rule's steps."""
        return [INCOMPLETE_STEP] if finding.detect == INCOMPLETE else self._rule(finding.rule).steps

    def due_steps(self, finding: Finding, now: datetime) -> list[tuple[int, object, datetime]]:
        """Steps of the finding's rule whose time has come: ``(index, step, due_at)``.

        ``due_at`` = deadline (``deadline_of``: an adopted handoff's restarted one) + ``after``
        in the receiver's business time, moved to the receiver's next working moment; a step
        is due when ``now >= due_at`` and ``now`` is inside the receiver's working hours.
        """
        schedule = self.directory.schedule_for(finding.receiver)
        base = self.deadline_of(finding, now)
        out = []
        for i, step in enumerate(self.steps_for(finding)):
            due = schedule.next_working_moment(schedule.add(base, step.after))
            if now >= due and schedule.is_working(now):
                out.append((i, step, due))
        return out

    def build(self, finding: Finding, index: int, step, item: ItemSnapshot | None, key: str | None = None,
              now: datetime | None = None) -> Action:
        """Render one step of ``finding`` into an ``Action`` with its marker.

        ``key`` is the idempotency key (default ``<finding key>:<index>``); ``now`` (aware) tells
        an adopted handoff, whose text names its restarted deadline (default: the finding's).

        Raises:
            errors.PermanentError: a reassign step whose person has no account in the item's tool.
        """
        if isinstance(finding, StandoffFinding):
            return self._build_standoff(finding, index, step, item, key)
        rule = self._rule(finding.rule)
        adopted = self.adopted_deadline(finding, now) if now is not None else None
        deadline = self.deadline_of(finding, now) if adopted is not None else finding.at
        conn = self.connectors[self.connector_for_tool[finding.item.tool]]
        marker = marker_for(f"{finding.key}:{index}")
        to_account = None
        if step.do in ("reassign", "draft") and step.to:
            to_account = self.directory.account(step.to, finding.item.tool)
        tz = self.directory.schedule_for(finding.receiver).timezone
        values = handoff_values(conn, finding, rule, item, tz, to_account, deadline=deadline)
        values.update(away_values(conn, finding, self.directory))  # a delegated handoff: who is away, until when
        footer = conn.footer(rule.name, marker)
        kind = ActionKind(step.do)

        def text(template: str) -> str:
            return fill_template(self.config.templates[template], values, conn.literal)

        if kind == ActionKind.COMMENT:
            template = step.template or "nudge"
            if adopted is not None and template == "nudge":
                template = "nudge_adopted"
            if finding.handoff.delegated_from is not None and template == "nudge":
                template = "nudge_delegated"
            if finding.handoff.team and template in ("nudge", "incomplete"):  # a team handoff; an ownerless one
                template = "nudge_team" if template == "nudge" else "ownerless_team"
            return Action(kind, finding.item, marker, body=text(template) + footer)
        if kind == ActionKind.REASSIGN:
            if to_account is None:
                raise errors.PermanentError(finding.item.tool, f"rule {rule.name}: person {step.to!r} has no {finding.item.tool} account")
            return Action(kind, finding.item, marker, body=text(step.template or "reassign") + footer, assignees=(to_account,))
        if kind == ActionKind.LABEL:
            return Action(kind, finding.item, marker, label=step.label)
        plain = plain_values(values, finding, rule, item, to_account)
        title = fill_template(self.config.templates[step.title_template or "draft_title"], plain)
        body = text(step.template or "draft") + footer
        return Action(kind, finding.item, marker, body=body, title=title, assignees=(to_account or finding.receiver,), due=deadline)

    def _build_standoff(self, f: StandoffFinding, index: int, step, item: ItemSnapshot | None, key: str | None) -> Action:
        """One step of a standoff or ownerless finding on ``item`` (one of ``f.items``)."""
        rule = self._rule(f.rule)
        ref = item.ref if item is not None else f.item
        conn = self.connectors[self.connector_for_tool[ref.tool]]
        marker = marker_for(key or f"{f.key}:{index}")
        words = StandoffText(conn, ref, self.directory, self.items)
        decider = f.receiver
        schedule = self.directory.schedule_for(decider)
        deadline = schedule.add(schedule.next_working_moment(f.at), rule.within)
        values = words.values(f, rule, item, deadline, schedule.timezone)
        # The rule's default comment template is "standoff"; an ownerless wait has its own.
        template = "ownerless" if f.detect == "ownerless" and step.template == "standoff" else step.template
        footer = conn.footer(rule.name, marker)
        kind = ActionKind(step.do)
        body = fill_template(self.config.templates[template], values, conn.literal) + footer
        if kind == ActionKind.COMMENT:
            return Action(kind, ref, marker, body=body)
        if kind == ActionKind.LABEL:
            return Action(kind, ref, marker, label=step.label)
        title = " ".join(fill_template(self.config.templates[step.title_template or "standoff_draft_title"],
                                       {**values, "decision": words.plain_decision(f)}).split())
        owner = self.directory.account_for_identity(self.directory.identity(decider), ref.tool)
        return Action(kind, ref, marker, body=body, title=title, assignees=(owner,) if owner else (), due=deadline)

    def _row(self, f, index: int, key: str, action: Action, rule: Rule, now: datetime, dry_run: bool) -> OutboxRow:
        return OutboxRow(
            key=key,
            marker=action.marker,
            finding_key=f.key,
            rule=f.rule,
            step=index,
            connector=self.connector_for_tool[action.item.tool],
            action=action_to_json(action),
            status=OutboxStatus.DRY_RUN if (dry_run or self.config.dry_run_for(rule) or rule.name in self._quiet)
            else OutboxStatus.PENDING,
            created_at=now,
        )

    def plan_replies(self, store: Store, replies: list[tuple[object, str, str, tuple]], now: datetime, *, dry_run: bool,
                     record: bool = True, planned: set[str] | None = None) -> list[OutboxRow]:
        """Plan one comment per ``/hb`` comment: ``replies`` are ``(command, rule, answer, notify)``,
        the comment's first ``rules.commands.Command``, the rule it concerns (``"commands"`` for
        none), the plain answer and the accounts to mention natively after it (``cc``). Keyed ``Command.key`` (``cmd:<tool>:<item>:<comment id>``), so each
        comment is answered exactly once whatever the evaluations; ``planned`` holds the keys known
        planned (skipped without a store read) and gains the new ones. The body is the
        ``command_reply`` template, the answer escaped as untrusted text, with the marker footer.
        """
        rows = []
        for command, rule, answer, notify in replies:
            key = command.key
            if planned is not None and key in planned:
                continue
            tool = command.item.tool
            if tool not in self.connector_for_tool:
                continue
            conn = self.connectors[self.connector_for_tool[tool]]
            marker = marker_for(key)
            cc = [conn.mention(a) for a in notify if a.tool == tool]
            values = {"receiver": conn.mention(command.actor),
                      "answer": conn.escape(answer) + (f" (cc {', '.join(cc)})" if cc else "")}
            body = fill_template(self.config.templates["command_reply"], values, conn.literal) + conn.footer(rule, marker)
            action = Action(ActionKind.COMMENT, command.item, marker, body=body)
            # A rule configured dry_run = true answers in dry run too (a trial writes nothing).
            configured = next((r for r in self.config.rules if r.name == rule), None)
            quiet = dry_run or self.config.daemon.dry_run or (configured is not None and configured.dry_run)
            rows.append(OutboxRow(key=key, marker=marker, finding_key=key, rule=rule, step=0,
                                  connector=self.connector_for_tool[tool], action=action_to_json(action),
                                  status=OutboxStatus.DRY_RUN if quiet else OutboxStatus.PENDING, created_at=now))
        if not record:
            known = {r.key for r in store.outbox()} if rows else set()
            return [r for r in rows if r.key not in known]
        added = store.plan_rows(rows) if rows else []
        if planned is not None:
            planned.update(r.key for r in rows)
        return added

    def plan(self, store: Store, findings: list[Finding], now: datetime, *, dry_run: bool,
             record: bool = True, quiet: frozenset[str] = frozenset()) -> list[OutboxRow]:
        """Record each finding and its due steps in the outbox (one transaction per finding).

        Returns the rows added now. Steps already planned are untouched (unique key).
        ``record=False`` (``once --dry-run``): nothing is written to the store; the rows that
        would be added (not yet planned) are returned. ``quiet``: names of rules quieted by
        feedback (``bridge.engine.feedback``), whose rows are planned as dry-run rows.
        """
        self._load(store)
        self._quiet = frozenset(quiet)
        added: list[OutboxRow] = []
        # Adopted handoffs take their turns under the per-receiver cap oldest first.
        order = sorted(findings, key=lambda f: (self.adopted_deadline(f, now) is None,
                                                getattr(getattr(f, "handoff", None), "sent_at", f.at)))
        cap = self.config.adoption.per_person_per_day
        known: dict[str, str] | None = None  # record=False: planned rows' statuses, read once
        for f in order:
            rule = self._rule(f.rule)
            rows = []
            due = self.due_steps(f, now)
            if (due and f.key not in self._first_nudge and self.adopted_deadline(f, now) is not None
                    and self.nudges_in_last_day(f.receiver, now) >= cap):
                due = []  # waits its turn: this receiver had its adopted nudges for today
            for index, step, _due in due:
                # A standoff's comment goes on every item of its cycle; everything else on one item.
                targets = f.items if isinstance(f, StandoffFinding) and step.do != "draft" else (f.item,)
                for target in targets:
                    key = f"{f.key}:{index}" if len(targets) == 1 else f"{f.key}:{index}:{target.tool}:{target.key}"
                    try:
                        action = self.build(f, index, step, self.items.get(target), key=key, now=now)
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
            # A row cancelled while its finding did not stand (it was never sent) is due again
            # once the finding stands again: a transient gap never drops a step for good.
            if record:
                new = store.record_finding_and_plan(finding_row, rows, revive=(OutboxStatus.CANCELLED, OutboxStatus.PENDING))
            else:
                if rows and known is None:
                    known = {r.key: r.status for r in store.outbox()}  # once per plan
                new = [r for r in rows if (known or {}).get(r.key) in (None, OutboxStatus.CANCELLED)]
            self._first_seen.setdefault(f.key, now)
            for row in new:
                if row.step == 0:
                    self._note_first_nudge(f.key, str(f.receiver), now)
            added.extend(new)
        return added
