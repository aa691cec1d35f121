"""One cycle of the daemon as named stages: poll → store → evaluate → re-check → plan → deliver
(deliver first re-reads live the items it is about to write on: ``Engine.confirm_fresh``).

Holds ``Engine`` (the stages and the cycle that runs them in order), ``CycleReport`` (what a
cycle did) and the ``WHOAMI`` cursor scope. The scheduler only decides *when*
``Engine.cycle`` runs; tests and the demo call the same method under a stepping clock, so
the demo is the daemon (DESIGN.md "Layout and data flow"). Which connectors may be called
is ``bridge.engine.health``; detection is ``bridge.engine.evaluator``; the act step is
``bridge.actions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator

from bridge import actions
from bridge.actions import OutboxStatus
from bridge.config import Config
from bridge.core import errors
from bridge.core.delay import EndedDelay, measure_ended
from bridge.core.logs import get_logger
from bridge.core.model import Account, ItemRef, PollResult
from bridge.engine.evaluator import Evaluation, Evaluator
from bridge.engine import replies
from bridge.engine.crawl import CrawlProgress
from bridge.engine.feedback import Quieting, RuleFeedback
from bridge.engine.health import DOWN_BACKOFF_FIRST, Health
from bridge.engine.retries import RetryQueue
from bridge.store import FeedbackRow, HandoffRow, Store
from bridge.store.tables import feedback_key
from bridge.store.locks import Solo
from rules import away as away_rule
from rules import handoff as handoff_rule
from rules.spec import Rule
from rules.standoff import StandoffFinding

log = get_logger("bridge.engine")
WHOAMI = "@whoami"  # cursors row holding a connector's own account
FETCH_SCOPE = "@fetch"  # scope name of the live re-check's reads (no cursor moves)
RETRY_SCOPE = "@retry"  # scope name of the retry queue's reads (no cursor moves)


@dataclass
class CycleReport:
    """What one cycle did (figures for logs, STATUS= and the demo)."""

    at: datetime
    polled: list[str] = field(default_factory=list)
    requests: int = 0
    new_events: int = 0
    handoffs: list[handoff_rule.Handoff] = field(default_factory=list)
    findings: list = field(default_factory=list)  # overdue handoffs, standoffs and ownerless waits
    inhibited: list[handoff_rule.Finding] = field(default_factory=list)
    planned: int = 0
    deliveries: list[actions.Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crawl: str = ""  # "first crawl: github 3 of 10 repositories read" while a first crawl goes on
    leader: bool = True  # False: a replica that only polled (another one evaluates and delivers)
    quiet: list[RuleFeedback] = field(default_factory=list)  # rules quieted by feedback (bridge.engine.feedback)

    def status_line(self) -> str:
        if not self.leader:
            return f"{len(self.polled)} scopes polled, {self.new_events} new events (replica; another one leads)"
        return (
            f"{len(self.polled)} scopes polled, {self.new_events} new events, "
            f"{len(self.findings)} open findings, {sum(d.status == OutboxStatus.DONE for d in self.deliveries)} writes"
            + (f"; {self.crawl}" if self.crawl else "")
        )


class Engine:
    """Run cycles over ``connectors`` with ``config`` into ``store``.

    Args:
        config: the validated config.
        store: the opened ``Store``.
        connectors: name → connector (``connectors.base.Connector``).
        clock: returns aware UTC now.
        persist: write handoffs and the evaluator's derived state to the store (the daemon);
            ``False`` for read-only commands (``status``).
        coordinator: the work split between replicas (``bridge.store.locks``): which scopes this
            process polls (``claim``) and whether it evaluates, plans and delivers (``leader``);
            default ``Solo`` (all of it).
    """

    def __init__(self, config: Config, store: Store, connectors: dict, clock: Callable[[], datetime], persist: bool = True,
                 coordinator=None):
        self.config = config
        self.coordinator = coordinator if coordinator is not None else Solo()
        self._term = self.coordinator.term
        self.store = store
        self.connectors = connectors
        self.clock = clock
        self.health = Health(connectors, clock, first_wait={
            name: min(DOWN_BACKOFF_FIRST, section.poll_every.wall())
            for name in connectors if (section := config.connectors.get(name)) is not None})
        self.connector_for_tool = {c.tool: name for name, c in connectors.items()}
        self._bots: dict[str, Account] = {}
        self._bots_missing: set[str] = set()  # connectors whose whoami the store does not hold
        self.persist = persist
        # ``once --dry-run``: plan and report what would be written, record and send nothing
        # (polls are still stored: reading is never a write to a tracker).
        self.preview = False
        self.evaluator = Evaluator(config, store, self.bots, targets=self._targets, persist=persist)
        self.planner = actions.Planner(config, connectors, self.connector_for_tool,
                                       directory=self.evaluator.directory, items=self.evaluator.items)
        self.feedback = Quieting(config, store)  # rules quieted by feedback, judged once per plan
        self._changed: set[ItemRef] = set()
        # Bounded by what stands now, not by the daemon's age (both rebuilt from the store on demand):
        self._recorded: set[str] | None = None  # keys of findings recorded in the store and standing
        self._persisted: dict[str, tuple] = {}  # pending handoff key → (state, deadline, end) last written
        self.last: Evaluation | None = None
        self._replied: set[str] = set()  # reply keys of /hb comments planned by this process
        self._fed: set[str] = set()  # feedback keys of /hb commands recorded by this process
        # Freshness for delivery (this process only: after a start nothing goes out for a tool
        # before its first successful poll): (connector, scope) → the start of the cycle whose
        # poll of it succeeded last, and item → the scope whose poll last returned it.
        self._polled: dict[tuple[str, str], datetime] = {}
        self._scope_of: dict[ItemRef, str] = {}
        self._evaluated_at: datetime | None = None  # the latest "now" an evaluation was made at
        self.crawl = CrawlProgress({name: getattr(config.connectors.get(name), "scope_noun", "scopes")
                                    for name in connectors})
        d = config.daemon
        self.retries = RetryQueue(store, tries=d.retry_tries, first_wait=d.retry_wait.wall(),
                                  max_wait=d.retry_max_wait.wall())
        if self.coordinator.shared:
            self.coordinator.watch({name: list(conn.scopes()) for name, conn in connectors.items()})

    def bots(self) -> set[Account]:
        """The daemon's own accounts, for echo suppression.

        Asked of each connector once (``whoami``) and kept in the store, so a restart, or a
        connector that cannot be reached, still knows its own account.
        """
        for name, conn in self.connectors.items():
            if name in self._bots:
                continue
            # The store is read once per connector: only this process's own whoami adds the row
            # later (an item walk asks this for every item: 100,000 reads of a missing row).
            known = None if name in self._bots_missing else self.store.get_cursor(name, WHOAMI)
            if known:
                self._bots[name] = Account(conn.tool, known["id"])
                continue
            self._bots_missing.add(name)
            if self.health.available(name):
                try:
                    self._bots[name] = me = conn.whoami()
                except errors.ConnectorError as exc:
                    self.health.failed(name, exc)
                    continue
                self.store.save_poll(name, WHOAMI, PollResult(next_cursor={"id": me.id}), self.clock())
        return set(self._bots.values())

    def _targets(self, rule: Rule) -> set[Account]:
        """Accounts ``rule``'s reassign steps hand to, in every tool (their activity acknowledges)."""
        out = set()
        for step in rule.steps:
            if step.do == "reassign":
                for tool in self.connector_for_tool:
                    acct = self.evaluator.directory.account(step.to, tool)
                    if acct:
                        out.add(acct)
        return out

    # ------------------------------------------------------------------ the cycle

    def cycle(self, only: set[str] | None = None) -> CycleReport:
        """Poll (``only`` these connectors, or all), store, read the retry queue's due items,
        evaluate every rule, re-check new standoffs live, plan and deliver actions."""
        now = self.clock()
        report = CycleReport(at=now)
        for name, scope, result in self.poll(report, only):
            report.new_events += self.store_result(name, scope, result)
            self._polled[(name, scope)] = now
            if self.coordinator.shared:
                self.store.mark_polled(name, scope, now)
            self._scope_of.update((it.ref, scope) for it in result.items)
        if not self.coordinator.leader():
            report.leader = False  # another replica evaluates, plans and delivers
            self._changed = set()  # the leader learns them from the store's dirty flags
            self.last = None  # what it evaluated while it led is stale now
            return report
        if self.coordinator.term != self._term:
            self._new_term()
        if self.coordinator.shared:
            self._changed |= self.store.dirty_items()  # polled by any replica since the last evaluation
        self.retry(report, now, only)  # the leader reads the retry queue's due items
        ev = self.recheck(self.evaluate(now), now)
        self._take(report, ev)
        self.plan(report, ev.at)  # rows are planned at the evaluation's time, never earlier
        self.deliver(report, ev.at, only)
        return report

    def _record_feedback(self, ev: Evaluation) -> None:
        """Store the feedback the applied commands of ``ev`` gave (``/hb wrong``, ``not-mine``,
        ``reassign`` of a wrong receiver, ``snooze``; ``rules.commands.Outcome.feedback``): one
        ``feedback`` row per command comment and rule, inserted once (``Store.record_feedback``)."""
        rows = []
        for _, outcomes in ev.commands:
            for o in outcomes:
                if o is None or o.status != "applied" or o.feedback is None:
                    continue
                c = o.command
                key = feedback_key(c.item.tool, c.event, o.rule)
                if key in self._fed:
                    continue
                self._fed.add(key)
                rows.append(FeedbackRow(key=key, rule=o.rule, item_tool=c.item.tool, item_key=c.item.key,
                                        handoff_key=o.handoff, kind=o.feedback, actor=str(c.actor), at=c.at))
        if rows:
            self.store.record_feedback(rows)

    def command_answer(self, command, now: datetime) -> str | None:
        """The answer to a ``/hb`` verb no rule handles but the engine knows: ``away``/``back``
        (``rules.away.describe`` of what the evaluator's book of absences took from that comment);
        ``None`` for any other verb, or a comment the book has not read."""
        if command.verb not in ("away", "back"):
            return None
        for taken in self.evaluator.away_commands():
            if taken.event == command.event and taken.verb == command.verb:
                return away_rule.describe(taken, self.evaluator.directory.name)
        return None

    def _new_term(self) -> None:
        """This replica just became the leader: forget what was derived in memory and start
        from the store, as a restart does (another leader may have acted since)."""
        self._term = self.coordinator.term
        self.evaluator = Evaluator(self.config, self.store, self.bots, targets=self._targets, persist=self.persist)
        self.planner = actions.Planner(self.config, self.connectors, self.connector_for_tool,
                                       directory=self.evaluator.directory, items=self.evaluator.items)
        self._changed, self._recorded, self._persisted, self.last = set(), None, {}, None
        self.feedback = Quieting(self.config, self.store)
        self._replied = set()

    def _take(self, report: CycleReport, ev: Evaluation) -> None:
        """Make ``ev`` the evaluation acted on (``self.last`` and ``report``'s findings)."""
        self.last = ev
        report.handoffs, report.findings = ev.handoffs, [*ev.findings, *ev.standoffs]
        report.inhibited = ev.inhibited

    # ------------------------------------------------------------------ stages

    def poll(self, report: CycleReport, only: set[str] | None = None) -> Iterator[tuple[str, str, PollResult]]:
        """Poll every available connector's scopes (``only`` these connectors, or all): yields
        ``(connector, scope, result)``, each to be stored before the next scope is polled.

        A connector error goes to ``health`` and ``report.errors``; a connector that stops
        being available is left for this cycle. A poll that ended early
        (``PollResult.stopped_by``) is stored like any other, then its error is taken in the
        same way. Each connector is isolated: an exception that is not one of ours (a bug, a
        vendor client's surprise) is logged once per cycle as ``poll_crashed`` with its
        class, becomes a ``TransientError`` for ``health``, and the other connectors, the
        evaluation and the delivery go on.
        """
        for name, conn in self.connectors.items():
            if only is not None and name not in only:
                continue
            if not self.health.available(name):
                self._give_back(name, conn)
                continue
            try:
                scopes = list(conn.scopes())
            except Exception as exc:  # noqa: BLE001 - isolation: one connector never stops the cycle
                self._poll_failed(report, name, None, exc)
                continue
            for scope in scopes:
                if not self.coordinator.claim(name, scope):
                    continue  # another replica holds this scope
                try:
                    cursor = self.store.get_cursor(name, scope)
                    result = conn.poll(scope, cursor, known=lambda keys: self.store.item_updated_at(conn.tool, keys))
                except Exception as exc:  # noqa: BLE001 - isolation, see the docstring
                    self._poll_failed(report, name, scope, exc)
                    if not self.health.available(name):
                        self._give_back(name, conn)
                        break
                    continue
                if cursor is None:
                    self.crawl.read(name, lambda: [sc for sc in scopes if self.store.get_cursor(name, sc) is None],
                                    scope, result)
                for vendor_id, reason in result.skipped:
                    log.error("item_skipped", connector=name, scope=scope, vendor_id=vendor_id, reason=reason)
                yield name, scope, result
                report.requests += result.requests
                if result.stopped_by is not None:
                    self._poll_failed(report, name, scope, result.stopped_by)
                    if not self.health.available(name):
                        break
                    continue
                report.polled.append(f"{name}:{scope}")
                self.health.recovered(name)
        report.crawl = self.crawl.text()

    def _give_back(self, name: str, conn) -> None:
        """``name`` cannot be called for a while: when that is this replica's trouble (down since
        start, or stopped), give its scopes back so another replica polls them meanwhile."""
        why = self.health.down(name) if self.coordinator.shared else None
        if why is None:
            return
        try:
            scopes = list(conn.scopes())
        except Exception:  # noqa: BLE001 - nothing to give back when they cannot be listed
            return
        self.coordinator.release(name, scopes, f"connector {why}")

    def _poll_failed(self, report: CycleReport, name: str, scope: str | None, exc: Exception) -> None:
        """Take in one failed poll of ``name`` (``scope`` ``None``: listing its scopes failed)."""
        if not isinstance(exc, errors.ConnectorError):
            log.error("poll_crashed", connector=name, scope=scope, error_type=type(exc).__name__,
                      hint="a bug or an unexpected answer; the other connectors go on")
            exc = errors.TransientError(name, f"poll of {scope or 'its scopes'} failed unexpectedly "
                                              f"({type(exc).__name__}); will retry next cycle")
        self.health.failed(name, exc)
        report.errors.append(str(exc))

    def store_result(self, name: str, scope: str, result: PollResult) -> int:
        """Store one poll or fetch result (its cursor moves with it) and note what it changed for
        the next evaluation; the items it could not read (``result.deferred``) enter the retry
        queue, and those it read leave it. Returns how many events were new."""
        now = self.clock()
        new = self.store.save_poll(name, scope, result, now)
        self._changed |= {it.ref for it in result.items} | {ev.item for ev in result.events}
        self.evaluator.learn(result.accounts)
        self.retries.read_fine(name, [it.ref for it in result.items])
        for ref, reason in result.deferred:
            self.retries.deferred(name, scope, ref, reason, now)
        return new

    def retry(self, report: CycleReport, now: datetime, only: set[str] | None = None) -> None:
        """Read the retry queue's due items alone (``connector.fetch``), of ``only`` these
        connectors or all (``bridge.engine.retries``).

        An item read fine is stored and leaves the queue; one whose read fails again with an
        error about it alone (``NotFound``, ``PermanentError``), or that the tool answers
        with a malformed item, waits longer or is dead-lettered. Any other connector error
        goes to ``health`` and ends this connector's retries for the cycle (the rows keep
        their place).
        """
        for name, conn in self.connectors.items():
            if only is not None and name not in only:
                continue
            for row in self.retries.due(name, now):
                if not self.health.available(name):
                    break
                ref = ItemRef(row.item_tool, row.item_key)
                try:
                    result = conn.fetch(ref)
                except (errors.NotFound, errors.PermanentError) as exc:
                    self.retries.failed(row, str(exc), now)
                    continue
                except errors.ConnectorError as exc:
                    self.health.failed(name, exc)
                    report.errors.append(str(exc))
                    break
                except Exception as exc:  # noqa: BLE001 - isolation: one item never stops the cycle
                    self.retries.failed(row, f"read failed unexpectedly ({type(exc).__name__})", now)
                    continue
                report.requests += result.requests
                report.new_events += self.store_result(name, RETRY_SCOPE, result)
                if ref not in {it.ref for it in result.items}:
                    if any(r == ref for r, _ in result.deferred):
                        self.retries.failed(row, next(why for r, why in result.deferred if r == ref), now)
                    elif result.skipped:
                        self.retries.failed(row, "; ".join(reason for _, reason in result.skipped)[:500], now)
                    else:  # no longer in any watched scope, or gone: nothing left to read
                        self.retries.read_fine(name, [ref])

    def evaluate(self, now: datetime) -> Evaluation:
        """Run every rule over the stored events and items (pure detection, incremental).

        Items polled or fetched since the last evaluation are re-walked; the rest keep their
        walk and only see ``now`` move.

        Evaluations never go back in time: the evaluation is made at ``now`` or at the latest
        time an earlier evaluation was made at, whichever is later (``Evaluation.at``). The
        daemon runs each connector's cycle on its own thread, and a cycle that took its ``now``
        before a long poll evaluates after cycles that started later; judged at its own older
        ``now`` it would miss the findings that became due in between, resolve them and cancel
        their rows (seen in the chaos run right after restarts).
        """
        if self._evaluated_at is not None and now < self._evaluated_at:
            now = self._evaluated_at
        self._evaluated_at = now
        changed, self._changed = self._changed, set()
        self.evaluator.refresh(changed)
        ev = self.evaluator.evaluate(now)
        if self.persist:
            self._persist_handoffs(ev.handoffs, now)  # each evaluation: ended handoffs are reported once
        return ev

    def recheck(self, ev: Evaluation, now: datetime) -> Evaluation:
        """Confirm standoffs not yet recorded by a live re-check before they are acted on.

        Every item of a new standoff's cycle is read again from its tool and the evaluation
        repeated; a cycle that no longer stands (it existed only between two polls) is dropped
        without a word, and so is every new one when a tool could not be asked (they wait for
        the next cycle). Returns the evaluation to act on.
        """
        if self._recorded is None:
            self._recorded = {f.key for f in self.store.findings() if f.resolved_at is None}
        fresh = [f for f in ev.standoffs if f.key not in self._recorded]
        if not fresh:
            return ev
        confirmed = self._fetch_live(fresh)
        ev = self.evaluate(ev.at)
        fresh_keys = {f.key for f in fresh}
        after = {f.key for f in ev.standoffs}
        for f in fresh:
            if f.key not in after or not confirmed:
                log.info("standoff_not_confirmed", rule=f.rule, key=f.key, items=[r.key for r in f.items],
                         reason="gone on the live re-check" if confirmed else "live re-check could not read every item")
        # Acted on now: standoffs already recorded, and fresh ones the re-check confirmed. A cycle
        # that appears only on re-check waits for the next cycle's re-check.
        keep = self._recorded | (fresh_keys if confirmed else set())
        if any(f.key not in keep for f in ev.standoffs):
            ev.standoffs = [f for f in ev.standoffs if f.key in keep]
            ev.findings, ev.inhibited = self.evaluator.inhibit(ev.findings + ev.inhibited, ev.standoffs)
        return ev

    def _fetch_live(self, findings: list[StandoffFinding]) -> bool:
        """Re-read every item of ``findings`` from its tool now and store it.

        Returns ``False`` when a tool could not be asked.
        """
        refs = sorted({r for f in findings for e in f.edges for r in (e.item, e.on)})
        for ref in refs:
            name = self.connector_for_tool.get(ref.tool)
            if name is None or not self.health.available(name):
                return False
            try:
                result = self.connectors[name].fetch(ref)
            except errors.ConnectorError as exc:
                self.health.failed(name, exc)
                return False
            self.store_result(name, FETCH_SCOPE, result)
            if result.deferred:
                return False
        return True

    def plan(self, report: CycleReport, now: datetime) -> None:
        """Record ``report``'s findings and their due steps in the outbox (dry-run rows are reported
        and logged here, never sent), and resolve the findings that no longer stand (unless
        ``report``'s evaluation is older than the latest one, which then decides)."""
        self.evaluator.items.load({r for f in report.findings for r in getattr(f, "items", (f.item,))})
        if self.last is not None and self.last.commands and not self.preview:
            self._record_feedback(self.last)  # before the judgement: a /hb wrong counts in this cycle
        # Once per cycle: rules whose nudges people called wrong too often plan dry-run rows.
        report.quiet = [f for f in self.feedback.update(now, record=not self.preview).values() if f.quiet]
        added = self.planner.plan(self.store, report.findings, now, dry_run=self.config.daemon.dry_run or self.preview,
                                  record=not self.preview, quiet=frozenset(f.rule for f in report.quiet))
        self._recorded |= {f.key for f in report.findings}
        if self.last is not None and self.last.commands:
            added += self.planner.plan_replies(
                self.store, replies.answers(self, self.last, now), now,
                dry_run=self.config.daemon.dry_run or self.preview, record=not self.preview, planned=self._replied)
        report.planned = len(added)
        for row in added:
            if row.status == OutboxStatus.DRY_RUN:
                action = actions.action_from_json(row.action)
                report.deliveries.append(actions.Delivery(row.key, row.rule, action.kind.value, action.item.tool,
                                                          action.item.key, row.marker, OutboxStatus.DRY_RUN))
                log.info("action_dry_run", rule=row.rule, do=action.kind.value, item=action.item.key, marker=row.marker, body=action.body)
        if self.preview or (self.last is not None and self._evaluated_at is not None
                            and self.last.at < self._evaluated_at):
            return  # a newer evaluation was made meanwhile (another connector's cycle): it resolves
        self.store.resolve_findings(self._standing(report), now)
        # Only standing findings stay known: one that stands again later is re-checked live
        # like a new one (its outbox keys are unchanged, so nothing is planned twice).
        self._recorded &= {f.key for f in report.findings}

    def confirm_fresh(self, report: CycleReport, now: datetime, only: set[str] | None = None) -> set[str]:
        """Re-read live the items of the rows about to go out and decide again: returns the keys
        of the rows that rest on fresh data (the others wait).

        A row may go out only when (1) the scope holding its item (every scope of its connector
        when this process has not seen the item in a poll yet) was polled successfully at or
        after the row was planned, in this process, and (2) its item was re-read now with
        ``connector.fetch(ref)``; what that read brings is stored and the evaluation repeated
        (with ``recheck``, as for new standoffs), so ``report``'s findings are the ones after
        it: a finding acknowledged meanwhile no longer stands and its rows are cancelled.
        One read per item, only for rows ``actions.may_try`` would send (of ``only`` these
        connectors, or all).
        """
        standing, held = self._standing(report), {f.key for f in report.inhibited}
        rows = [r for r in self.store.outbox(actions.ACTIVE)
                if (only is None or r.connector in only) and actions.may_try(r, now, active_findings=standing, held=held,
                                   available=self.health.available, grace=self._grace)]
        marks: dict[str, dict[str, datetime]] = {}
        fresh = [r for r in rows
                 if self._polled_since(r.connector, actions.action_from_json(r.action).item, r.created_at, marks)]
        refs = {actions.action_from_json(r.action).item: r.connector for r in fresh}
        read: set[ItemRef] = set()
        for ref, name in sorted(refs.items()):
            if not self.health.available(name):
                continue
            try:
                result = self.connectors[name].fetch(ref)
            except errors.ConnectorError as exc:
                self.health.failed(name, exc)
                log.info("delivery_waits", connector=name, item=ref.key, reason="live re-read failed", error=str(exc))
                continue
            self.store_result(name, FETCH_SCOPE, result)
            if any(r == ref for r, _ in result.deferred):
                log.info("delivery_waits", connector=name, item=ref.key, reason="live re-read could not read the item")
                continue
            read.add(ref)
        if read:
            ev = self.evaluate(now)
            self._take(report, self.recheck(ev, ev.at))
        return {r.key for r in fresh if actions.action_from_json(r.action).item in read}

    def _polled_since(self, name: str, ref: ItemRef, since: datetime, marks: dict | None = None) -> bool:
        """Was the scope holding ``ref`` (every scope of ``name`` when unknown) polled
        successfully at or after ``since``: in this process, or, with replicas, by any replica
        (``Store.polled_marks``; ``marks`` caches them per connector for one call)?"""
        scope = self._scope_of.get(ref)
        scopes = [scope] if scope is not None else self.connectors[name].scopes()
        if self.coordinator.shared:
            if marks is None or name not in marks:
                got = self.store.polled_marks(name)
                if marks is None:
                    marks = {}
                marks[name] = got
            seen = marks[name]
            return all((t := seen.get(sc)) is not None and t >= since for sc in scopes)
        return all((t := self._polled.get((name, sc))) is not None and t >= since for sc in scopes)

    def deliver(self, report: CycleReport, now: datetime, only: set[str] | None = None) -> None:
        """Send the due outbox rows (``only`` these connectors' rows, or all: the daemon runs
        each connector's cycle on its own thread, so a row is only ever sent by its
        connector's) within each connector's write budget (held findings' rows wait, and so do
        rows not on fresh data: ``confirm_fresh``) and log each delivery."""
        if self.preview:
            return
        ready = self.confirm_fresh(report, now, only)
        used = {name: actions.writes_in_last_hour(self.store, name, now) for name in self.connectors}

        def budget_left(name: str) -> int:
            used[name] += 1  # asked right before each write
            return self._budget(name) - (used[name] - 1)

        report.deliveries.extend(
            actions.deliver(
                self.store,
                self.connectors,
                now,
                active_findings=self._standing(report),
                held={f.key for f in report.inhibited},
                available=lambda name: (only is None or name in only) and self.health.available(name),
                budget_left=budget_left,
                on_error=self.health.failed,
                since={f.key: f.at for f in [*report.findings, *report.inhibited]},
                grace=self._grace,
                ready=lambda row: row.key in ready,
            )
        )
        for d in report.deliveries:
            if d.status != OutboxStatus.DRY_RUN:
                log.info("action_" + d.status, rule=d.rule, do=d.do, item=d.item, marker=d.marker, url=d.url, error=d.error)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _standing(report: CycleReport) -> set[str]:
        """Keys of the findings still standing: acted on, or held back inside a standoff."""
        return {f.key for f in report.findings} | {f.key for f in report.inhibited}

    def _persist_handoffs(self, handoffs: list[handoff_rule.Handoff], now: datetime) -> None:
        """Write the handoffs whose state, deadline or end changed since last written.

        Only pending handoffs stay in ``_persisted`` (every evaluation reports them all): an
        ended one is written once and forgotten; should a re-walk report it again, it is
        written again, the same row (an upsert by key). An ended handoff's row carries its
        measured delay (``bridge.core.delay.measure_ended``: the receiver's schedule, its first
        nudge read from the outbox now), so ``report`` reads it instead of computing it.
        """
        todo = []
        for h in handoffs:
            sig = (h.state, h.deadline, h.ended_at)
            if self._persisted.get(h.key) != sig:
                self._persisted[h.key] = sig
                todo.append(h)
        # An ended handoff keeps its measured delay (the report then computes only open ones).
        ended = [h for h in todo if h.ended_at is not None]
        nudges = self.store.first_nudges([h.key for h in ended]) if ended else {}
        schedule = self.evaluator.directory.schedule_for
        changed = [self._handoff_row(h, now, delay=measure_ended(schedule(h.receiver), h.state, h.sent_at, h.ended_at,
                                                                  nudges.get(h.key))
                                     if h.ended_at is not None else None) for h in todo]
        if changed:
            self.store.upsert_handoffs(changed)
        pending = {h.key for h in handoffs if h.ended_at is None}
        for key in [k for k in self._persisted if k not in pending]:
            del self._persisted[key]

    def _grace(self, name: str) -> timedelta:
        """How long an uncertain row of ``name`` waits before its marker lookup:
        ``actions.grace_for_timeout`` of the section's request ``timeout`` (10 s when it has none)."""
        timeout = getattr(self.config.connectors.get(name), "timeout", None)
        return actions.grace_for_timeout(timeout.wall() if timeout is not None else timedelta(seconds=10))

    def _budget(self, name: str) -> int:
        """``name``'s ``write_budget_per_hour`` (60 when its section has none)."""
        cfg = self.config.connectors.get(name)
        return getattr(cfg, "write_budget_per_hour", 60)

    @staticmethod
    def _handoff_row(h: handoff_rule.Handoff, now: datetime, delay: EndedDelay | None = None) -> HandoffRow:
        """The ``handoffs`` row of ``h`` written at ``now``; ``delay``: its measured figures
        (``bridge.core.delay.measure_ended``), for an ended handoff; ``None`` leaves them unset."""
        figures = {} if delay is None else dict(
            delay_business_h=delay.business_hours, delay_wall_h=delay.wall_hours, first_nudge_at=delay.first_nudge_at,
            nudge_to_ack_business_h=delay.nudge_to_ack_hours, measured_at=now)
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
            **figures,
        )
