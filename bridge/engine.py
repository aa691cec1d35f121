"""One cycle of the daemon: poll → store → evaluate → act.

The scheduler only decides *when* ``Engine.cycle`` runs; tests and the demo call the same
method under a stepping clock, so the demo is the daemon (DESIGN.md "Layout and data flow").

Connector health is kept here: an ``AuthError`` stops that connector (one log line) until
the config is reloaded, a ``RateLimited`` pauses it for the time the tool asked, and every
other connector goes on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from bridge import actions, errors
from bridge.logging import get_logger
from bridge.model import Account, Event, ItemRef, PollResult
from bridge.store import HandoffRow, Store
from rules import handoff as handoff_rule

log = get_logger("bridge.engine")
WHOAMI = "@whoami"  # cursors row holding a connector's own account


@dataclass
class ConnectorHealth:
    stopped: str | None = None  # reason, when stopped for good (auth)
    not_before: datetime | None = None  # rate limited until
    failing: bool = False  # logged once while failing, once on recovery


@dataclass
class CycleReport:
    """What one cycle did (figures for logs, STATUS= and the demo)."""

    at: datetime
    polled: list[str] = field(default_factory=list)
    requests: int = 0
    new_events: int = 0
    handoffs: list[handoff_rule.Handoff] = field(default_factory=list)
    findings: list[handoff_rule.Finding] = field(default_factory=list)
    planned: int = 0
    deliveries: list[actions.Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def status_line(self) -> str:
        return (
            f"{len(self.polled)} scopes polled, {self.new_events} new events, "
            f"{len(self.findings)} open findings, {sum(d.status == 'done' for d in self.deliveries)} writes"
        )


class Engine:
    """Run cycles over ``connectors`` with ``config`` into ``store``.

    Args:
        config: validated ``bridge.config.Config``.
        store: the opened ``Store``.
        connectors: name → connector (``connectors.base.Connector``).
        clock: returns aware UTC now.
    """

    def __init__(self, config, store: Store, connectors: dict, clock: Callable[[], datetime]):
        self.config = config
        self.store = store
        self.connectors = connectors
        self.clock = clock
        self.health: dict[str, ConnectorHealth] = {name: ConnectorHealth() for name in connectors}
        self.connector_for_tool = {c.tool: name for name, c in connectors.items()}
        self.planner = actions.Planner(config, connectors, self.connector_for_tool)
        self._bots: dict[str, Account] = {}

    # ------------------------------------------------------------------ health

    def available(self, name: str) -> bool:
        h = self.health[name]
        if h.stopped:
            return False
        return h.not_before is None or self.clock() >= h.not_before

    def _connector_error(self, name: str, exc: errors.ConnectorError) -> None:
        h = self.health[name]
        if isinstance(exc, errors.AuthError):
            if not h.stopped:
                h.stopped = str(exc)
                log.error("connector_stopped", connector=name, reason=str(exc),
                          hint="fix the credential, then reload (systemctl reload handoff-bridge)")
            return
        if isinstance(exc, errors.RateLimited):
            h.not_before = self.clock() + timedelta(seconds=exc.retry_after)
            log.warning("connector_rate_limited", connector=name, retry_after_s=round(exc.retry_after), until=h.not_before.isoformat())
            return
        if not h.failing:
            h.failing = True
            log.warning("connector_failing", connector=name, error=str(exc))

    def _recovered(self, name: str) -> None:
        h = self.health[name]
        h.not_before = None
        if h.failing:
            h.failing = False
            log.info("connector_recovered", connector=name)

    def bots(self) -> set[Account]:
        """The daemon's own accounts, for echo suppression.

        Asked of each connector once (``whoami``) and kept in the store, so a restart, or a
        connector that cannot be reached, still knows its own account.
        """
        for name, conn in self.connectors.items():
            if name in self._bots:
                continue
            known = self.store.get_cursor(name, WHOAMI)
            if known:
                self._bots[name] = Account(conn.tool, known["id"])
            elif self.available(name):
                try:
                    self._bots[name] = me = conn.whoami()
                except errors.ConnectorError as exc:
                    self._connector_error(name, exc)
                    continue
                self.store.save_poll(name, WHOAMI, PollResult(next_cursor={"id": me.id}), self.clock())
        return set(self._bots.values())

    # ------------------------------------------------------------------ cycle

    def poll(self, report: CycleReport, only: set[str] | None = None) -> None:
        """Poll every available connector's scopes; store each scope's result with its cursor."""
        for name, conn in self.connectors.items():
            if only is not None and name not in only:
                continue
            if not self.available(name):
                continue
            for scope in conn.scopes():
                cursor = self.store.get_cursor(name, scope)
                try:
                    result = conn.poll(scope, cursor, known=lambda keys: self.store.item_updated_at(conn.tool, keys))
                except errors.ConnectorError as exc:
                    self._connector_error(name, exc)
                    report.errors.append(str(exc))
                    if not self.available(name):
                        break
                    continue
                for vendor_id, reason in result.skipped:
                    log.error("item_skipped", connector=name, scope=scope, vendor_id=vendor_id, reason=reason)
                report.new_events += self.store.save_poll(name, scope, result, self.clock())
                report.requests += result.requests
                report.polled.append(f"{name}:{scope}")
                self._recovered(name)

    def evaluate(self, now: datetime, items: dict | None = None) -> tuple[list[handoff_rule.Handoff], list[handoff_rule.Finding]]:
        """Run every rule over the stored events and items (pure detection).

        ``items`` (ref → snapshot) saves a second read of the items table when the caller has it.
        """
        events_by_item: dict[ItemRef, list[Event]] = defaultdict(list)
        for ev in self.store.events():
            events_by_item[ev.item].append(ev)
        items = self.store.items() if items is None else items
        bots = self.bots()
        all_handoffs, all_findings = [], []
        for rule in self.config.rules:
            if rule.detect != "handoff":
                continue
            targets = set()
            for step in rule.steps:
                if step.do == "reassign":
                    for tool in self.connector_for_tool:
                        acct = self.config.person_account(step.to, tool)
                        if acct:
                            targets.add(acct)
            owners = {t.status.casefold(): t.owner for t in rule.on if getattr(t, "status", None) and t.owner}

            def status_owner(status: str, tool: str, owners=owners) -> Account | None:
                person = owners.get(status.strip().casefold())
                return self.config.person_account(person, tool) if person else None

            hs, fs = handoff_rule.detect(
                rule,
                events_by_item,
                items,
                bots=bots,
                deadline_for=lambda acct, at, r=rule: self.config.schedule_for(acct).add(at, r.within),
                now=now,
                escalation_targets=targets,
                status_owner=status_owner,
            )
            all_handoffs.extend(hs)
            all_findings.extend(fs)
        return all_handoffs, all_findings

    def cycle(self, only: set[str] | None = None) -> CycleReport:
        """Poll (``only`` these connectors, or all), evaluate every rule, plan and deliver actions."""
        now = self.clock()
        report = CycleReport(at=now)
        self.poll(report, only)
        items = self.store.items()
        report.handoffs, report.findings = self.evaluate(now, items)
        self.store.upsert_handoffs([self._handoff_row(h, now) for h in report.handoffs])
        dry = self.config.daemon.dry_run
        added = self.planner.plan(self.store, report.findings, items, now, dry_run=dry)
        report.planned = len(added)
        for row in added:
            if row.status == "dry_run":
                action = actions.action_from_json(row.action)
                report.deliveries.append(
                    actions.Delivery(row.key, row.rule, action.kind.value, action.item.tool, action.item.key, row.marker, "dry_run")
                )
                log.info("action_dry_run", rule=row.rule, do=action.kind.value, item=action.item.key, marker=row.marker, body=action.body)
        active = {f.key for f in report.findings}
        self.store.resolve_findings(active, now)
        used = {name: actions.writes_in_last_hour(self.store, name, now) for name in self.connectors}

        def budget_left(name: str) -> int:
            used[name] += 1  # asked right before each write
            return self._budget(name) - (used[name] - 1)

        report.deliveries.extend(
            actions.deliver(
                self.store,
                self.connectors,
                now,
                active_findings=active,
                available=self.available,
                budget_left=budget_left,
                on_error=self._connector_error,
            )
        )
        for d in report.deliveries:
            if d.status != "dry_run":
                log.info("action_" + d.status, rule=d.rule, do=d.do, item=d.item, marker=d.marker, url=d.url, error=d.error)
        return report

    def _budget(self, name: str) -> int:
        cfg = self.config.connectors.get(name)
        return getattr(cfg, "write_budget_per_hour", 60)

    @staticmethod
    def _handoff_row(h: handoff_rule.Handoff, now: datetime) -> HandoffRow:
        return HandoffRow(
            key=h.key,
            rule=h.rule,
            item_tool=h.item.tool,
            item_key=h.item.key,
            sender=str(h.sender) if h.sender else None,
            receiver=str(h.receiver),
            sent_at=h.sent_at,
            deadline=h.deadline,
            state=h.state,
            ended_at=h.ended_at,
            updated_at=now,
        )
