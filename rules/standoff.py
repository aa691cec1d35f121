"""The ``standoff`` detector: people waiting on each other, across tools.

Pure: a function of (wait-for edges, identities, schedules, now). No I/O.

**Wait-for edges** (DESIGN.md "Vocabulary"), each with its evidence and the moment it began:

- ``review``: a pull request's author waits on a requested reviewer (open review request:
  not yet reviewed, removed, or closed).
- ``changes``: a reviewer who requested changes waits on the author (until the author
  commits, comments or asks for review again).
- ``blocked_by``: the holder of a blocked item waits on the holder of its blocker (a native
  blocked-by link or dependency, or text saying "blocked by"/"depends on"; see
  ``connectors.textrefs``), while the blocker is not done.
- ``handoff``: the sender of a pending handoff waits on its receiver (``rules.handoff``).
- ``status``: an item whose status (Jira status, Asana section) is one of the rule's
  ``blocked_statuses`` waits on every not-done item it names (its links).

The **holder** of an item is its first assignee; for a pull request without one, its author.
An edge whose blocker nobody holds is **ownerless**.

A **standoff** is a cycle of length 2 or more in the graph over people (an edge joins the
identities of waiter and holder, so one human's accounts in three tools are one node) in
which every edge has lasted at least the rule's ``min_age`` in the waiter's business time.
An ownerless edge that has lasted ``min_age`` is reported on its own (``ownerless``): nobody
can answer that wait.

Which edge to break: the one whose holder has the next decision. Edges are ranked by what
the holder is asked for: a review first (a decision), then a handoff's acknowledgement, an
answer to requested changes, and last a blocker's completion (work, not a decision); among
equals the oldest wait. Its holder decides.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from typing import Callable, Hashable, Iterable

import networkx as nx

from bridge.core.model import Account, Event, EventKind, HandoffState, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from rules.spec import Rule

REVIEW, CHANGES, BLOCKED_BY, HANDOFF, STATUS = "review", "changes", "blocked_by", "handoff", "status"
#: Lower breaks first: a review is a decision, a blocker's completion is work.
BREAK_RANK = {REVIEW: 0, HANDOFF: 1, CHANGES: 2, STATUS: 3, BLOCKED_BY: 4}
#: Longest cycle looked for (people). Longer chains are rarely one conversation to untangle.
MAX_CYCLE = 6


@dataclass(frozen=True)
class WaitEdge:
    """"``waiter`` waits on ``holder``": on ``item`` (where the wait shows), for ``on`` to move.

    ``holder`` is ``None`` when nobody holds ``on`` (ownerless). ``began`` is aware UTC.
    ``evidence``: ids of the events that prove it (a link without a ``linked`` event has none).
    """

    kind: str
    waiter: Account
    holder: Account | None
    item: ItemRef
    on: ItemRef
    began: datetime
    evidence: tuple[str, ...] = ()

    @cached_property
    def key(self) -> str:
        origin = self.evidence[0] if self.evidence else self.began.isoformat()
        return f"{self.kind}:{self.item.tool}:{self.item.key}>{self.on.tool}:{self.on.key}:{self.waiter}>{self.holder}:{origin}"


@dataclass(frozen=True)
class StandoffFinding:
    """A standoff (``detect="standoff"``) or an ownerless wait (``detect="ownerless"``).

    ``edges``: the cycle in order (each edge's holder is the next edge's waiter), or the
    single ownerless edge. ``breaks``: the edge proposed to break; ``receiver`` is its holder
    (who decides; for ``ownerless``, the waiter, who must find an owner). ``items``: every item
    of the cycle, each commented on once. ``at``: when the last edge reached ``min_age``.
    ``sentence``: the whole cycle in one sentence, with people's names.
    """

    key: str
    rule: str
    detect: str
    item: ItemRef
    receiver: Account
    at: datetime
    edges: tuple[WaitEdge, ...]
    breaks: WaitEdge
    items: tuple[ItemRef, ...]
    sentence: str
    evidence: tuple[str, ...] = ()
    handoff: None = None

    @property
    def summary(self) -> str:
        return self.sentence


def holder(item: ItemSnapshot | None) -> Account | None:
    """Who holds ``item``: its first assignee; for a pull request without one, its author."""
    if item is None:
        return None
    if item.assignees:
        return item.assignees[0]
    if item.kind == ItemKind.PULL_REQUEST:
        return item.author
    return None


def is_open(item: ItemSnapshot | None) -> bool:
    return item is not None and item.status_category != StatusCategory.DONE


def review_edges(ref: ItemRef, evs: list[Event], item: ItemSnapshot | None, *, bots: set[Account],
                 who: Callable[[Account | None], str | None]) -> list[WaitEdge]:
    """``review`` and ``changes`` edges of one pull request from its events (oldest first).

    An open review request is answered by any review from the reviewer, or withdrawn. Changes
    requested are answered by the author's commit, comment or new review request, and end when
    the reviewer approves or the review is dismissed (a ``review_dismissed`` event naming the
    reviewer as its subject: any of their reviews dismissed ends their standing request).
    """
    if item is None or item.kind != ItemKind.PULL_REQUEST or not is_open(item) or item.author is None:
        return []
    author = item.author
    requested: dict[Account, Event] = {}
    changes: dict[Account, Event] = {}
    for ev in evs:
        if ev.actor in bots:
            continue
        if ev.kind == EventKind.REVIEW_REQUESTED and ev.subject:
            requested.setdefault(ev.subject, ev)
            if who(ev.actor) == who(author):
                changes.pop(ev.subject, None)
        elif ev.kind == EventKind.REVIEW_REQUEST_REMOVED and ev.subject:
            requested.pop(ev.subject, None)
        elif ev.kind == EventKind.REVIEWED and ev.actor:
            requested.pop(ev.actor, None)
            if ev.review_state == "changes_requested":
                changes[ev.actor] = ev
            elif ev.review_state in ("approved", "dismissed"):
                changes.pop(ev.actor, None)
        elif ev.kind == EventKind.REVIEW_DISMISSED and ev.subject:
            # A dismissed "changes requested" no longer stands: the stored review event keeps
            # the state it was read with, so the dismissal (actor: who dismissed it) ends it.
            changes.pop(ev.subject, None)
        elif ev.kind in (EventKind.COMMITTED, EventKind.COMMENTED) and who(ev.actor) == who(author):
            changes.clear()
        elif ev.kind == EventKind.CLOSED:
            requested.clear()
            changes.clear()
    out = [WaitEdge(REVIEW, author, r, ref, ref, ev.at, (ev.id,)) for r, ev in requested.items() if who(r) != who(author)]
    out += [WaitEdge(CHANGES, r, author, ref, ref, ev.at, (ev.id,)) for r, ev in changes.items() if who(r) != who(author)]
    return out


def link_edges(ref: ItemRef, item: ItemSnapshot | None, links: Iterable, items: Callable[[ItemRef], ItemSnapshot | None],
               *, blocked_statuses: set[str]) -> list[WaitEdge]:
    """``blocked_by`` and ``status`` edges of one item from its outgoing links (``bridge.store.Link``).

    ``items`` looks up the current snapshot of a linked item. Nothing when the item is done or
    nobody holds it (nobody is waiting); an edge with ``holder=None`` when the blocker is open
    and nobody holds it. A flagged item (``ItemSnapshot.flagged_since``) waits on every open
    item it links to, as one in ``blocked_statuses`` does; such an edge begins when both the link
    and the flag stood.
    """
    if not is_open(item):
        return []
    waiter = holder(item)
    if waiter is None:
        return []
    flagged = item.flagged_since  # Jira "Flagged" (Impediment): blocked as a blocked status is, since then
    waiting_status = item.status.strip().casefold() in blocked_statuses or flagged is not None
    out = []
    for link in links:
        if link.kind != BLOCKED_BY and not waiting_status:
            continue
        other = items(link.dst)
        if other is None or not is_open(other):
            continue
        kind = BLOCKED_BY if link.kind == BLOCKED_BY else STATUS
        began = max(link.began_at, flagged) if kind == STATUS and flagged is not None and \
            item.status.strip().casefold() not in blocked_statuses else link.began_at
        out.append(WaitEdge(kind, waiter, holder(other), ref, link.dst, began,
                            (link.evidence,) if link.evidence else ()))
    return out


def handoff_edges(handoffs: Iterable) -> list[WaitEdge]:
    """``handoff`` edges: the sender of each pending (sent or overdue) handoff waits on its receiver."""
    return [WaitEdge(HANDOFF, h.sender, h.receiver, h.item, h.item, h.sent_at, (h.sent_event,))
            for h in handoffs if h.sender is not None and h.state in (HandoffState.SENT, HandoffState.OVERDUE)]


def need_of(edge: WaitEdge) -> tuple[str, tuple[ItemRef, ...]]:
    """What the waiter needs from the holder: ``("a review of {0}", (pr,))``; ``{n}`` are items."""
    if edge.kind == REVIEW:
        return "a review of {0}", (edge.on,)
    if edge.kind == CHANGES:
        return "an answer to the changes requested on {0}", (edge.on,)
    if edge.kind == HANDOFF:
        return "an acknowledgement of {0}", (edge.item,)
    return "{0} to move", (edge.on,)


def decision_of(edge: WaitEdge) -> tuple[str, tuple[ItemRef, ...]]:
    """What the holder of ``edge`` is asked to decide, in the form of :func:`need_of`."""
    if edge.kind == REVIEW:
        return "whether {0} can be reviewed as it stands", (edge.on,)
    if edge.kind == CHANGES:
        return "how to answer the changes requested on {0}", (edge.on,)
    if edge.kind == HANDOFF:
        return "whether to take {0} or hand it back", (edge.item,)
    return "whether {0} can go ahead before {1} is done", (edge.item, edge.on)


def fill(form: tuple[str, tuple[ItemRef, ...]], label: Callable[[ItemRef], str],
         literal: Callable[[str], str] = lambda text: text) -> str:
    """Render a :func:`need_of`/:func:`decision_of` form: items through ``label``, words through ``literal``."""
    text, refs = form
    out, pos = [], 0
    for i, ref in enumerate(refs):
        mark = "{" + str(i) + "}"
        at = text.index(mark, pos) if mark in text[pos:] else -1
        if at < 0:
            continue
        out.append(literal(text[pos:at]))
        out.append(label(ref))
        pos = at + len(mark)
    out.append(literal(text[pos:]))
    return "".join(out)


def sentence(edges: Iterable[WaitEdge], name: Callable[[Account | None], str],
             label: Callable[[ItemRef], str] = lambda r: r.key) -> str:
    """``"ana waits on ben for a review of acme/web#12, and ben waits on ana for ..."``."""
    return ", and ".join(f"{name(e.waiter)} waits on {name(e.holder)} for {fill(need_of(e), label)}" for e in edges)


class WaitForGraph:
    """One standoff rule's wait-for graph, kept between evaluations and changed edge by edge.

    Edges come in through named *sources* (anything hashable, e.g. ``("review", item)``):
    :meth:`set_source` replaces what one source says, so an evaluator re-derives only what
    changed. The graph over identities holds every current edge; its strongly connected
    components are found again only when an edge between two people comes or goes. Only edges
    inside a component (the only ones that can close a cycle) and ownerless edges are asked
    their ``aged_at`` moment (the rule's ``min_age`` in the waiter's business time), once per
    edge; :meth:`advance` moves ``now``, and the cycles of a component are searched again only
    when the set of its edges past ``min_age`` changed.

    Args:
        rule: a validated ``standoff`` rule (``name``).
        who: account → identity (one node per human; ``bridge.core.people.Directory.identity``).
        aged_at: edge → aware UTC moment it reaches ``min_age``.
        name: account → a person's name, for the sentence.
    """

    def __init__(self, rule: Rule, *, who: Callable[[Account | None], str | None],
                 aged_at: Callable[[WaitEdge], datetime],
                 name: Callable[[Account | None], str] = lambda a: a.id if a else "nobody"):
        self.rule, self.who, self.aged_at, self.name = rule, who, aged_at, name
        self.edges: dict[str, WaitEdge] = {}  # every current edge by key
        self._sources: dict[Hashable, tuple[WaitEdge, ...]] = {}
        self._count: dict[str, int] = {}  # key → how many sources say it
        self._pairs: dict[tuple[str, str], dict[str, WaitEdge]] = {}  # (waiter, holder) identities → edges
        self._graph = nx.DiGraph()  # identities; an edge while its pair has one
        self._components: list[set[str]] | None = None  # None: find again
        self._aged: dict[str, datetime] = {}  # key → aged_at, for edges that were asked
        self._ownerless_waiting: list[tuple[datetime, str]] = []  # heap of ownerless edges not yet aged
        self._ownerless: dict[str, StandoffFinding] = {}
        self._now: datetime | None = None
        self._cycles: dict[frozenset[str], list[StandoffFinding]] = {}

    # ---- edges in and out

    def set_source(self, source: Hashable, edges: Iterable[WaitEdge]) -> None:
        """Replace the edges ``source`` says hold now (an empty iterable removes the source)."""
        new = tuple(edges)
        old = self._sources.pop(source, ())
        if new:
            self._sources[source] = new
        if not old and not new:
            return
        new_by_key = {e.key: e for e in new}
        old_by_key = {e.key: e for e in old}
        for key, e in old_by_key.items():
            if new_by_key.get(key) != e:
                self._release(key)
        for key, e in new_by_key.items():
            if old_by_key.get(key) != e:
                self._acquire(e)

    def _pair(self, edge: WaitEdge) -> tuple[str, str] | None:
        if edge.holder is None:
            return None
        a, b = self.who(edge.waiter), self.who(edge.holder)
        return None if a == b else (a, b)

    def _acquire(self, edge: WaitEdge) -> None:
        n = self._count.get(edge.key, 0)
        self._count[edge.key] = n + 1
        if n:
            return  # another source already says this edge
        self.edges[edge.key] = edge
        if edge.holder is None:
            if edge.kind in (BLOCKED_BY, STATUS):
                at = self._aged_at(edge)
                if self._now is not None and at <= self._now:
                    self._ownerless[edge.key] = _ownerless_finding(self.rule, edge, at, self.name)
                else:
                    heapq.heappush(self._ownerless_waiting, (at, edge.key))
            return
        pair = self._pair(edge)
        if pair is None:
            return
        edges = self._pairs.get(pair)
        if edges is None:
            edges = self._pairs[pair] = {}
            self._graph.add_edge(*pair)
            self._components = None
        edges[edge.key] = edge

    def _release(self, key: str) -> None:
        n = self._count.get(key, 0) - 1
        if n > 0:
            self._count[key] = n
            return
        self._count.pop(key, None)
        edge = self.edges.pop(key, None)
        self._aged.pop(key, None)
        if edge is None:
            return
        self._ownerless.pop(key, None)  # a waiting heap entry is skipped when popped
        pair = self._pair(edge)
        edges = self._pairs.get(pair) if pair else None
        if edges is not None:
            edges.pop(key, None)
            if not edges:
                del self._pairs[pair]
                self._graph.remove_edge(*pair)
                self._components = None

    def _aged_at(self, edge: WaitEdge) -> datetime:
        at = self._aged.get(edge.key)
        if at is None:
            at = self._aged[edge.key] = self.aged_at(edge)
        return at

    def advance(self, now: datetime) -> None:
        """Evaluate at ``now`` (aware UTC) from here on; any moment, earlier ones too."""
        if self._now is not None and now < self._now:
            self._ownerless.clear()
            self._ownerless_waiting = [(self._aged_at(e), k) for k, e in self.edges.items()
                                       if e.holder is None and e.kind in (BLOCKED_BY, STATUS)]
            heapq.heapify(self._ownerless_waiting)
        self._now = now
        while self._ownerless_waiting and self._ownerless_waiting[0][0] <= now:
            at, key = heapq.heappop(self._ownerless_waiting)
            edge = self.edges.get(key)
            if edge is not None and key not in self._ownerless:
                self._ownerless[key] = _ownerless_finding(self.rule, edge, at, self.name)

    # ---- findings

    def findings(self) -> list[StandoffFinding]:
        """Standoffs (cycles over edges past ``min_age`` at the last ``advance``), then ownerless
        waits; each in a stable order. The same cycle gives the same key while its edges stand."""
        if self._components is None:
            self._components = sorted((c for c in nx.strongly_connected_components(self._graph) if len(c) > 1), key=min)
        now = self._now
        cycles: dict[frozenset[str], list[StandoffFinding]] = {}
        for component in self._components:
            aged: dict[tuple[str, str], dict[str, tuple[WaitEdge, datetime]]] = {}
            for a in component:
                for b in self._graph.successors(a):
                    if b not in component:
                        continue
                    for key, edge in self._pairs[(a, b)].items():
                        at = self._aged_at(edge)
                        if now is not None and at <= now:
                            aged.setdefault((a, b), {})[key] = (edge, at)
            if not aged:
                continue
            signature = frozenset(k for edges in aged.values() for k in edges)
            found = self._cycles.get(signature)
            if found is None:
                found = _cycle_findings(self.rule, aged, self.name)
            cycles[signature] = found
        self._cycles = cycles
        out = [f for found in cycles.values() for f in found]
        return out + [self._ownerless[k] for k in sorted(self._ownerless)]


def _cycle_findings(rule: Rule, aged: dict[tuple[str, str], dict[str, tuple[WaitEdge, datetime]]],
                    name: Callable[[Account | None], str]) -> list[StandoffFinding]:
    """Every simple cycle (up to ``MAX_CYCLE`` people) over ``aged`` edges (identity pair → edges)."""
    graph = nx.DiGraph(list(aged))
    out = []
    for cycle in sorted(nx.simple_cycles(graph, length_bound=MAX_CYCLE), key=lambda c: (len(c), sorted(c))):
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        hops = []
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            # Between the same two people, the wait that asks for a decision speaks for the hop.
            edge, at = min(aged[(a, b)].values(), key=lambda x: (BREAK_RANK[x[0].kind], x[0].began, x[0].key))
            hops.append((edge, at))
        chain = tuple(e for e, _ in hops)
        breaks = min(chain, key=lambda e: (BREAK_RANK[e.kind], e.began, e.key))
        items = tuple(dict.fromkeys(r for e in chain for r in (e.item, e.on)))
        digest = hashlib.sha256("|".join(sorted(e.key for e in chain)).encode()).hexdigest()[:16]
        out.append(StandoffFinding(
            key=f"{rule.name}:standoff:{digest}",
            rule=rule.name,
            detect="standoff",
            item=breaks.item,
            receiver=breaks.holder,
            at=max(at for _, at in hops),
            edges=chain,
            breaks=breaks,
            items=items,
            sentence=sentence(chain, name),
            evidence=tuple(dict.fromkeys(i for e in chain for i in e.evidence)),
        ))
    return out


def _ownerless_finding(rule: Rule, edge: WaitEdge, aged: datetime, name: Callable[[Account | None], str]) -> StandoffFinding:
    return StandoffFinding(
        key=f"{rule.name}:ownerless:{hashlib.sha256(edge.key.encode()).hexdigest()[:16]}",
        rule=rule.name,
        detect="ownerless",
        item=edge.item,
        receiver=edge.waiter,
        at=aged,
        edges=(edge,),
        breaks=edge,
        items=(edge.item,),
        sentence=f"{name(edge.waiter)} waits on {edge.on.tool} {edge.on.key}, which nobody holds",
        evidence=edge.evidence,
    )


def detect(
    rule: Rule,
    edges: Iterable[WaitEdge],
    *,
    who: Callable[[Account | None], str | None],
    aged_at: Callable[[WaitEdge], datetime],
    now: datetime,
    name: Callable[[Account | None], str] = lambda a: a.id if a else "nobody",
) -> list[StandoffFinding]:
    """Find standoffs (cycles) and ownerless waits among ``edges`` that have lasted ``min_age``.

    The one-shot form of :class:`WaitForGraph` (which the evaluator keeps between cycles).

    Args:
        rule: a validated ``standoff`` rule (``name``).
        edges: every current wait-for edge.
        who: account → identity (one node per human; see ``bridge.core.people.Directory.identity``).
        aged_at: edge → the moment it reaches the rule's ``min_age`` in the waiter's business time.
        now: aware UTC.
        name: account → a person's name, for the sentence.

    Returns:
        Findings, standoffs first, each cycle once (the same cycle gives the same key in every
        cycle of the daemon while its edges stand).
    """
    graph = WaitForGraph(rule, who=who, aged_at=aged_at, name=name)
    graph.set_source("edges", edges)
    graph.advance(now)
    return list(graph.findings())
