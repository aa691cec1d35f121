"""Findings → escalation steps → outbox rows, each keyed by its idempotency key.

Holds ``Planner`` and ``marker_for``. A due step becomes an ``outbox`` row keyed
``<finding key>:<step index>`` (a standoff's comment on each of its items:
``<finding key>:<step index>:<tool>:<key>``), recorded in the same transaction as its finding
(DESIGN.md "Actions"); delivery is ``bridge.actions.outbox``, the words ``bridge.actions.render``.

Steps go out only inside the receiver's working hours.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Protocol

from bridge.actions.outbox import OutboxStatus, action_to_json
from bridge.actions.render import StandoffText, fill_template, handoff_values, plain_values
from bridge.config import Config
from bridge.core import errors
from bridge.core.logs import get_logger
from bridge.core.model import Action, ActionKind, ItemRef, ItemSnapshot
from bridge.core.people import Directory
from bridge.store import FindingRow, OutboxRow, Store
from rules.handoff import Finding
from rules.handoff import INCOMPLETE
from rules.spec import Rule, Step

#: The one step of an incomplete handoff's finding: a comment to its sender naming what is missing.
INCOMPLETE_STEP = Step(after="0h", do="comment", template="incomplete")
from rules.standoff import StandoffFinding

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

    def _rule(self, name: str):
        return next(r for r in self.config.rules if r.name == name)

    def due_steps(self, finding: Finding, now: datetime) -> list[tuple[int, object, datetime]]:
        """Steps of the finding's rule whose time has come: ``(index, step, due_at)``.

        ``due_at`` = deadline + ``after`` in the receiver's business time, moved to the
        receiver's next working moment; a step is due when ``now >= due_at`` and ``now``
        is inside the receiver's working hours.
        """
        rule = self._rule(finding.rule)
        schedule = self.directory.schedule_for(finding.receiver)
        out = []
        # an incomplete handoff gets one comment to its sender, whatever the rule's steps
        steps = [INCOMPLETE_STEP] if finding.detect == INCOMPLETE else rule.steps
        for i, step in enumerate(steps):
            due = schedule.next_working_moment(schedule.add(finding.at, step.after))
            if now >= due and schedule.is_working(now):
                out.append((i, step, due))
        return out

    def build(self, finding: Finding, index: int, step, item: ItemSnapshot | None, key: str | None = None) -> Action:
        """Render one step of ``finding`` into an ``Action`` with its marker.

        ``key`` is the idempotency key (default ``<finding key>:<index>``).

        Raises:
            errors.PermanentError: a reassign step whose person has no account in the item's tool.
        """
        if isinstance(finding, StandoffFinding):
            return self._build_standoff(finding, index, step, item, key)
        rule = self._rule(finding.rule)
        conn = self.connectors[self.connector_for_tool[finding.item.tool]]
        marker = marker_for(f"{finding.key}:{index}")
        to_account = None
        if step.do in ("reassign", "draft") and step.to:
            to_account = self.directory.account(step.to, finding.item.tool)
        tz = self.directory.schedule_for(finding.receiver).timezone
        values = handoff_values(conn, finding, rule, item, tz, to_account)
        footer = conn.footer(rule.name, marker)
        kind = ActionKind(step.do)

        def text(template: str) -> str:
            return fill_template(self.config.templates[template], values, conn.literal)

        if kind == ActionKind.COMMENT:
            return Action(kind, finding.item, marker, body=text(step.template or "nudge") + footer)
        if kind == ActionKind.REASSIGN:
            if to_account is None:
                raise errors.PermanentError(finding.item.tool, f"rule {rule.name}: person {step.to!r} has no {finding.item.tool} account")
            return Action(kind, finding.item, marker, body=text(step.template or "reassign") + footer, assignees=(to_account,))
        if kind == ActionKind.LABEL:
            return Action(kind, finding.item, marker, label=step.label)
        plain = plain_values(values, finding, rule, item, to_account)
        title = fill_template(self.config.templates[step.title_template or "draft_title"], plain)
        body = text(step.template or "draft") + footer
        return Action(kind, finding.item, marker, body=body, title=title, assignees=(to_account or finding.receiver,), due=finding.at)

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
            status=OutboxStatus.DRY_RUN if (dry_run or self.config.dry_run_for(rule)) else OutboxStatus.PENDING,
            created_at=now,
        )

    def plan(self, store: Store, findings: list[Finding], now: datetime, *, dry_run: bool) -> list[OutboxRow]:
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
                        action = self.build(f, index, step, self.items.get(target), key=key)
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
            added.extend(store.record_finding_and_plan(
                finding_row, rows, revive=(OutboxStatus.CANCELLED, OutboxStatus.PENDING)))
        return added
