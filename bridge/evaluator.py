"""Incremental evaluation: every rule over the store, re-walking only what changed.

The engine's detection step (DESIGN.md "Layout and data flow"). The rules themselves are pure
(``rules.handoff``, ``rules.standoff``); this module feeds them and keeps what does not depend
on ``now`` between cycles:

- each item's snapshot, its outgoing links (the link graph) and its review wait-for edges;
- each handoff rule's walk over each item (``rules.handoff.ItemWalk``).

``refresh(changed)`` re-reads the changed items and re-walks them and every item linked to
them as the same work (``mention`` links: a comment on one acknowledges on the other).
``evaluate(now)`` then applies ``now``: deadlines, edge ages, cycles. The first ``refresh``
(or ``changed=None``) reads everything, streaming events one item at a time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from bridge.model import MENTION, Account, AccountInfo, Event, ItemRef, ItemSnapshot
from bridge.people import Directory, SeenAccount
from bridge.store import Link, Store
from rules import handoff as handoff_rule
from rules import standoff as standoff_rule


@dataclass
class Evaluation:
    """What one evaluation found.

    ``findings``: overdue handoffs to act on. ``inhibited``: overdue handoffs held back because
    they lie inside a standing standoff. ``standoffs``: standoff and ownerless findings.
    ``edges``: every current wait-for edge (for ``status``).
    """

    at: datetime
    handoffs: list[handoff_rule.Handoff] = field(default_factory=list)
    findings: list[handoff_rule.Finding] = field(default_factory=list)
    inhibited: list[handoff_rule.Finding] = field(default_factory=list)
    standoffs: list[standoff_rule.StandoffFinding] = field(default_factory=list)
    edges: list[standoff_rule.WaitEdge] = field(default_factory=list)


class Evaluator:
    """Keep detection state for ``config`` over ``store``.

    Args:
        config: the validated ``bridge.config.Config``.
        store: the opened ``Store``.
        bots: returns the daemon's own accounts (echo suppression).
        targets: rule → accounts its ``reassign`` steps hand to (their activity acknowledges).
    """

    def __init__(self, config, store: Store, bots: Callable[[], set[Account]],
                 targets: Callable[[object], set[Account]] = lambda rule: set()):
        self.config = config
        self.store = store
        self.bots = bots
        self.targets = targets
        self.directory = Directory(config)
        self.items: dict[ItemRef, ItemSnapshot] = {}
        self.links_out: dict[ItemRef, list[Link]] = {}
        self.mentions: dict[ItemRef, set[ItemRef]] = defaultdict(set)  # undirected "same work"
        self.walks: dict[str, dict[ItemRef, handoff_rule.ItemWalk]] = {}
        self.review_edges: dict[ItemRef, list[standoff_rule.WaitEdge]] = {}
        self._aged: dict[tuple[str, str], datetime] = {}
        self._loaded = False
        self.handoff_rules = [r for r in config.rules if r.detect == "handoff"]
        self.standoff_rules = [r for r in config.rules if r.detect == "standoff"]

    # ------------------------------------------------------------------ identity

    def who(self, account: Account | None) -> str | None:
        return self.directory.identity(account)

    def name(self, account: Account | None) -> str:
        return self.directory.name(self.who(account))

    def learn(self, accounts: Iterable[AccountInfo]) -> None:
        """Take in accounts a poll reported (e-mail matching), before ``refresh``."""
        if self.directory.learn(accounts):
            self._loaded = False  # a new e-mail match can change any identity: re-walk all

    # ------------------------------------------------------------------ refresh

    def refresh(self, changed: set[ItemRef] | None = None) -> int:
        """Re-read and re-walk ``changed`` items (and their linked items); ``None`` or first use: all.

        Returns the number of items walked.
        """
        self.bots()  # known before anything is walked (asked once, then kept)
        if not self._loaded or changed is None:
            return self._load_all()
        if not changed:
            return 0
        for ref, snap in self.store.items_for(changed).items():
            self.items[ref] = snap
        self._reindex_links(changed, self.store.links(changed))
        affected = set(changed)
        for ref in changed:
            affected |= self.mentions.get(ref, set())
        return self._walk(affected)

    def _load_all(self) -> int:
        self.directory = Directory(self.config, (SeenAccount(Account(r.tool, r.id), r.display_name, r.email)
                                                 for r in self.store.accounts()))
        self.items = self.store.items()
        self.links_out, self.mentions = {}, defaultdict(set)
        self._reindex_links(None, self.store.links())
        self.walks = {r.name: {} for r in self.handoff_rules}
        self.review_edges = {}
        self._aged = {}
        walked = 0
        needs_links: set[ItemRef] = set()
        for ref, evs in self.store.events_by_item():
            walked += 1
            self._walk_one(ref, evs, ())
            if self.mentions.get(ref) and any(w.get(ref) and w[ref].open for w in self.walks.values()):
                needs_links.add(ref)
        if needs_links:
            self._walk(needs_links)
        self._loaded = True
        return walked

    def _reindex_links(self, changed: set[ItemRef] | None, links: list[Link]) -> None:
        if changed is not None:
            for ref in changed:
                for link in self.links_out.pop(ref, []):
                    if link.kind == MENTION:
                        self.mentions[ref].discard(link.dst)
                        self.mentions[link.dst].discard(ref)
        for link in links:
            if changed is not None and link.src not in changed:
                continue
            self.links_out.setdefault(link.src, []).append(link)
            if link.kind == MENTION:
                self.mentions[link.src].add(link.dst)
                self.mentions[link.dst].add(link.src)

    def _walk(self, refs: set[ItemRef]) -> int:
        neighbours = set(refs)
        for ref in refs:
            neighbours |= self.mentions.get(ref, set())
        events: dict[ItemRef, list[Event]] = dict(self.store.events_by_item(neighbours))
        for ref in refs:
            linked = [e for other in self.mentions.get(ref, ()) for e in events.get(other, ())]
            self._walk_one(ref, events.get(ref, []), linked)
        return len(refs)

    def _walk_one(self, ref: ItemRef, evs: list[Event], linked_events: list[Event]) -> None:
        snapshot = self.items.get(ref)
        bots = self.bots()
        for rule in self.handoff_rules:
            if rule.tools and ref.tool not in rule.tools:
                continue
            walk = handoff_rule.walk_item(
                rule, ref, evs, snapshot,
                bots=bots,
                deadline_for=lambda acct, at, r=rule: self.directory.schedule_for(acct).add(at, r.within),
                escalation_targets=self.targets(rule),
                status_owner=self._status_owner(rule),
                who=self.who,
                linked_events=linked_events,
                due_deadline_for=(lambda acct, due, r=rule: self.directory.schedule_for(acct).subtract(due, r.before_due))
                if rule.before_due else None,
            )
            if walk.done or walk.open:
                self.walks[rule.name][ref] = walk
            else:
                self.walks[rule.name].pop(ref, None)
        edges = standoff_rule.review_edges(ref, evs, snapshot, bots=bots, who=self.who) if self.standoff_rules else []
        if edges:
            self.review_edges[ref] = edges
        else:
            self.review_edges.pop(ref, None)

    def _status_owner(self, rule):
        owners = {t.status.casefold(): t.owner for t in rule.on if getattr(t, "status", None) and t.owner}

        def status_owner(status: str, tool: str) -> Account | None:
            person = owners.get(status.strip().casefold())
            return self.directory.account(person, tool) if person else None

        return status_owner

    # ------------------------------------------------------------------ evaluate

    def aged_at(self, rule, edge: standoff_rule.WaitEdge) -> datetime:
        """When ``edge`` reaches ``rule.min_age`` in its waiter's business time (cached per edge)."""
        key = (rule.name, edge.key)
        at = self._aged.get(key)
        if at is None:
            at = self._aged[key] = self.directory.schedule_for(edge.waiter).add(edge.began, rule.min_age)
        return at

    def evaluate(self, now: datetime) -> Evaluation:
        """Apply ``now`` to the kept state (call ``refresh`` first)."""
        if not self._loaded:
            self.refresh(None)
        out = Evaluation(at=now)
        overdue: list[handoff_rule.Finding] = []
        for rule in self.handoff_rules:
            for walk in self.walks[rule.name].values():
                hs, fs = handoff_rule.settle(walk, now)
                out.handoffs.extend(hs)
                overdue.extend(fs)
        for rule in self.standoff_rules:
            edges = self.wait_for_edges(rule, out.handoffs)
            out.edges.extend(edges)
            found = standoff_rule.detect(rule, edges, who=self.who, aged_at=lambda e, r=rule: self.aged_at(r, e),
                                         now=now, name=self.name)
            out.standoffs.extend(found)
        out.edges = list({e.key: e for e in out.edges}.values())
        out.findings, out.inhibited = self.inhibit(overdue, out.standoffs)
        return out

    def inhibit(self, overdue: list[handoff_rule.Finding], standoffs: list[standoff_rule.StandoffFinding]
                ) -> tuple[list[handoff_rule.Finding], list[handoff_rule.Finding]]:
        """Split overdue handoffs into (to act on, held back): held when a standing standoff has
        an edge on the same item whose waiter or holder is the handoff's receiver."""
        inside: set[tuple[ItemRef, str | None]] = set()
        for f in standoffs:
            if f.detect == "standoff":
                for e in f.edges:
                    inside.add((e.item, self.who(e.holder)))
                    inside.add((e.item, self.who(e.waiter)))
        act, held = [], []
        for f in overdue:
            (held if (f.item, self.who(f.receiver)) in inside else act).append(f)
        return act, held

    def wait_for_edges(self, rule, handoffs: Iterable[handoff_rule.Handoff]) -> list[standoff_rule.WaitEdge]:
        """Every current wait-for edge within ``rule.tools``: review, changes, handoff, blocked-by, status."""
        tools = set(rule.tools or ())
        statuses = {s.strip().casefold() for s in rule.blocked_statuses}
        edges = [e for es in self.review_edges.values() for e in es]
        edges += standoff_rule.handoff_edges(handoffs)
        for ref, links in self.links_out.items():
            edges += standoff_rule.link_edges(ref, self.items.get(ref), links, self.items.get, blocked_statuses=statuses)
        return [e for e in edges if not tools or (e.item.tool in tools and e.on.tool in tools)]
