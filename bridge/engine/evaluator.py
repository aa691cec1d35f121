"""Incremental evaluation: every rule over the store, re-deriving only what changed.

The engine's detection step (DESIGN.md "Layout and data flow"). The rules themselves are pure
(``rules.handoff``, ``rules.standoff``); this module feeds them and keeps what does not depend
on ``now`` between cycles:

- each open handoff per rule and item (``rules.handoff.ItemWalk``), with its evidence;
- each item's wait-for edges (review and changes from its events; blocked-by and status from
  its links and the snapshots at both ends; handoff from its open handoffs), fed into one
  ``rules.standoff.WaitForGraph`` per standoff rule;
- the link graph (``links``), item snapshots read on demand (``Snapshots``).

``refresh(changed)`` re-reads the changed items, re-walks them and every item linked to them
as the same work (``mention`` links: a comment on one acknowledges on the other), and
re-derives the link edges of every item pointing at them. ``evaluate(now)`` then applies
``now``: only handoffs whose deadline passed are settled again, only edges that reached
``min_age`` join the graph, and cycles are searched again only where the graph changed.

What ``refresh`` derives is written to the store (``walk_states``, one row per item with
something open) with a fingerprint of everything it depends on besides the events (rules,
people and schedules, accounts matched by e-mail, the daemon's own accounts). The first
``refresh`` of a process loads those rows instead of re-reading every event when the
fingerprint matches, and re-walks only the items stored since (``Store.save_poll`` flags
them). Otherwise (first start, a rule or person changed) it re-walks every item from its
events, streaming one item at a time, and rewrites the rows.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import json
from collections import defaultdict
from datetime import datetime
from typing import Callable, Iterable

from bridge.actions.render import format_deadline
from bridge.config import Config
from bridge.core.businesstime import Duration
from bridge.core.model import MENTION, Account, AccountInfo, Event, ItemRef, ItemSnapshot
from bridge.core.people import Directory, SeenAccount
from bridge.engine.away import AwayBook
from bridge.store import Link, Store
from rules import commands as commands_rule
from rules import handoff as handoff_rule
from rules import promise as promise_rule
from rules import standoff as standoff_rule
from rules.spec import ASSIGNEE, Rule

#: Rule keys that only shape what is written, never what a walk derives (not fingerprinted).
WORDING = frozenset({"need", "next", "dry_run", "steps"})

#: Bump when what a walk derives, or how it is written, changes: stored states are rebuilt.
STATE_VERSION = 2


class Evaluation:
    """What one evaluation found.

    ``handoffs``: every pending (sent or overdue) handoff, plus every handoff, ended ones too,
    of the items walked again since the previous evaluation (ended handoffs are reported once;
    the store's ``handoffs`` table keeps them). ``findings``: overdue handoffs to act on.
    ``inhibited``: overdue handoffs held back because they lie inside a standing standoff.
    ``standoffs``: standoff and ownerless findings. ``edges``: every current wait-for edge,
    aged or not (for ``status``).
    """

    def __init__(self, at: datetime, handoffs=None, findings=None, inhibited=None, standoffs=None, edges=None):
        self.at = at
        self.handoffs: list[handoff_rule.Handoff] = handoffs or []
        self.findings: list[handoff_rule.Finding] = findings or []
        self.inhibited: list[handoff_rule.Finding] = inhibited or []
        self.standoffs: list[standoff_rule.StandoffFinding] = standoffs or []
        self.edges: list[standoff_rule.WaitEdge] = edges or []
        #: ``/hb`` comments still owed a reply: (the comment's commands, each one's merged outcome
        #: or ``None`` for the verbs the engine answers itself), newest last.
        self.commands: list[tuple[list[commands_rule.Command], list[commands_rule.Outcome | None]]] = []
        #: Items whose findings wait for a snooze to end (``/hb snooze``): item → end (aware UTC).
        self.snoozed: dict[ItemRef, datetime] = {}


class Snapshots:
    """Item snapshots (``bridge.core.model.ItemSnapshot``), read from the store when first asked and kept.

    Dict-like for reading: ``get``, ``[]`` (``KeyError`` when not stored), ``in``. ``load`` reads
    many in one query; ``forget`` drops items whose snapshot changed. ``trim`` (the evaluator
    calls it once per refresh, i.e. a few times a cycle) drops the snapshots not asked for
    during the last ``keep`` trims, and all of them once more than ``limit`` are kept: a
    long-running daemon would otherwise come to hold every item it ever saw change. What is
    dropped is read again from the store when next asked.
    """

    limit = 20_000
    keep = 16

    def __init__(self, store: Store):
        self.store = store
        self._known: dict[ItemRef, ItemSnapshot | None] = {}
        self._used: dict[ItemRef, int] = {}  # ref → the trim count when it was last asked for
        self._trims = 0

    def load(self, refs: Iterable[ItemRef]) -> None:
        missing = {r for r in refs if r not in self._known}
        if missing:
            found = self.store.items_for(missing)
            for ref in missing:
                self._known[ref] = found.get(ref)
                self._used[ref] = self._trims

    def put(self, snapshots: dict[ItemRef, ItemSnapshot]) -> None:
        self._known.update(snapshots)
        self._used.update(dict.fromkeys(snapshots, self._trims))

    def trim(self) -> None:
        self._trims += 1
        if len(self._known) > self.limit:
            self.forget()
            return
        stale = self._trims - self.keep
        for ref in [r for r, used in self._used.items() if used < stale]:
            del self._used[ref]
            self._known.pop(ref, None)

    def forget(self, refs: Iterable[ItemRef] | None = None) -> None:
        if refs is None:
            self._known.clear()
            self._used.clear()
            return
        for ref in refs:
            self._known.pop(ref, None)
            self._used.pop(ref, None)

    def get(self, ref: ItemRef, default=None) -> ItemSnapshot | None:
        if ref not in self._known:
            self.load((ref,))
        found = self._known[ref]
        self._used[ref] = self._trims
        return default if found is None else found

    def __getitem__(self, ref: ItemRef) -> ItemSnapshot:
        found = self.get(ref)
        if found is None:
            raise KeyError(ref)
        return found

    def __contains__(self, ref: ItemRef) -> bool:
        return self.get(ref) is not None


class Evaluator:
    """Keep detection state for ``config`` over ``store``.

    Args:
        config: the validated config.
        store: the opened ``Store``.
        bots: returns the daemon's own accounts (echo suppression).
        targets: rule → accounts its ``reassign`` steps hand to (their activity acknowledges).
        persist: write what is derived to the store (the daemon); ``False`` for read-only
            commands (``status``, ``explain``), which still start from the stored state.
    """

    def __init__(self, config: Config, store: Store, bots: Callable[[], set[Account]],
                 targets: Callable[[object], set[Account]] = lambda rule: set(), persist: bool = True):
        self.config = config
        self.store = store
        self.bots = bots
        self.targets = targets
        self.persist = persist
        self.directory = Directory(config)
        self.items = Snapshots(store)
        self.away = AwayBook(config, self.directory, bots)  # absences: configured and by /hb away
        # promise rules walk like handoff rules (an obligation of the author, rules.promise)
        self.handoff_rules = [r for r in config.rules if r.detect in ("handoff", "promise")]
        self.standoff_rules = [r for r in config.rules if r.detect == "standoff"]
        self._loaded = False
        self._reset()

    def _reset(self) -> None:
        self.links_out: dict[ItemRef, list[Link]] = {}
        self.links_in: dict[ItemRef, set[ItemRef]] = defaultdict(set)  # dst → items linking to it
        self.mentions: dict[ItemRef, set[ItemRef]] = defaultdict(set)  # undirected "same work"
        self.walks: dict[str, dict[ItemRef, handoff_rule.ItemWalk]] = {r.name: {} for r in self.handoff_rules}
        self.review_edges: dict[ItemRef, list[standoff_rule.WaitEdge]] = {}
        self.link_edges: dict[str, dict[ItemRef, list[standoff_rule.WaitEdge]]] = {r.name: {} for r in self.standoff_rules}
        self.graphs = {r.name: standoff_rule.WaitForGraph(r, who=self.who, aged_at=lambda e, r=r: self.aged_at(r, e),
                                                          name=self.name)
                       for r in self.standoff_rules}
        self._settled: dict[tuple[str, ItemRef], tuple[list[handoff_rule.Handoff], list[handoff_rule.Finding]]] = {}
        self._to_settle: set[tuple[str, ItemRef]] = set()
        self._deadlines: list[tuple[datetime, str, ItemRef]] = []  # heap: next deadline per settled walk
        self._next_deadline: dict[tuple[str, ItemRef], datetime] = {}  # the live heap entry of each walk
        self._ended: list[handoff_rule.Handoff] = []  # ended handoffs of walks since the last evaluation
        # /hb comments read in walks, by reply key: (commands, outcomes per command per rule); kept
        # until ``[commands] reply_within`` after the comment (replies are planned from them)
        self._commands: dict[str, tuple[list[commands_rule.Command], list[list[commands_rule.Outcome]]]] = {}
        self._snoozed: dict[ItemRef, datetime] = {}  # item -> end of its latest snooze
        self._contexts: dict[str, commands_rule.CommandContext] = {}
        self._now: datetime | None = None

    # ------------------------------------------------------------------ identity

    def who(self, account: Account | None) -> str | None:
        return self.directory.identity(account)

    def name(self, account: Account | None) -> str:
        return self.directory.name(self.who(account))

    def learn(self, accounts: Iterable[AccountInfo]) -> None:
        """Take in accounts a poll reported (e-mail matching), before ``refresh``."""
        if self.directory.learn(accounts):
            self._loaded = False  # a new e-mail match can change any identity: re-derive all

    def fingerprint(self) -> str:
        """A digest of everything a walk depends on besides the events and snapshots.

        Rules (triggers, ``within``, ``before_due``, tools, blocked statuses, ``min_age``; not
        their wording or steps), their escalation targets, people and schedules, accounts matched by e-mail, the
        daemon's own accounts, and ``STATE_VERSION``.
        """
        cfg = self.config
        payload = {
            "version": STATE_VERSION,
            # what a walk reads of a rule; wording and steps do not change it (reassign targets below)
            "rules": [r.model_dump(mode="json", exclude=WORDING) for r in (*self.handoff_rules, *self.standoff_rules)],
            "targets": {r.name: sorted(map(str, self.targets(r))) for r in self.handoff_rules},
            # configured absences are in it; a person with none dumps as before (no re-walk on upgrade)
            "people": {n: p.model_dump(mode="json", exclude=None if p.away else {"away"}) for n, p in cfg.people.items()},
            "defaults": cfg.defaults.model_dump(mode="json"),
            "promises": cfg.promises.model_dump(mode="json"),
            "commands": cfg.commands.model_dump(mode="json"),
            "matched": self.directory.matches(),
            "bots": sorted(map(str, self.bots())),
        }
        if cfg.teams:  # only when set, so a config without teams keeps its stored states
            payload["teams"] = {n: t.model_dump(mode="json") for n, t in cfg.teams.items()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    # ------------------------------------------------------------------ refresh

    def refresh(self, changed: set[ItemRef] | None = None) -> int:
        """Re-read and re-derive ``changed`` items (and the items linked to them); ``None`` or first use: all.

        Returns the number of items walked.
        """
        self.bots()  # known before anything is walked (asked once, then kept)
        if not self._loaded or changed is None:
            return self._load()
        if not changed:
            return 0
        self.items.trim()
        self.items.forget(changed)
        self.items.load(changed)
        affected = set(changed)
        for ref in changed:  # linked as the same work before: a link removed changes their walk too
            affected |= self.mentions.get(ref, set())
        self._reindex_links(changed, self.store.links(changed))
        for ref in changed:
            affected |= self.mentions.get(ref, set())
        walked = self._walk(affected)
        sources = set(changed)
        for ref in changed:
            sources |= self.links_in.get(ref, set())
        self._derive_link_edges(sources)
        self._save(affected | sources)
        return walked

    def rebuild(self) -> int:
        """Forget everything and walk every item from its events, as a first start does.

        Returns the number of items walked. Writes the state when ``persist``.
        """
        self.bots()
        return self._load(rebuild=True)

    def _load(self, rebuild: bool = False) -> int:
        # Loading builds objects that all live on: the collector's full passes over them while
        # they are made find nothing and cost a third of a start from stored state.
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._load_all(rebuild)
        finally:
            if paused:
                gc.enable()

    def _load_all(self, rebuild: bool) -> int:
        self.directory.reset(SeenAccount(Account(r.tool, r.id), r.display_name, r.email) for r in self.store.accounts())
        self.items.forget()
        self._reset()
        self._reindex_links(None, self.store.links())
        fingerprint = self.fingerprint()
        stored, states, dirty = self.store.walk_states()
        # commands on dirty items are read when those are walked, so whose absence changed is known
        self.away.load(self.store, skip=dirty if stored == fingerprint and not rebuild else frozenset())
        if stored == fingerprint and not rebuild:
            for ref, data in states.items():
                self._restore(ref, data)
            self._loaded = True
            return self.refresh(dirty) if dirty else 0
        return self._rebuild(fingerprint)

    def _rebuild(self, fingerprint: str) -> int:
        """Walk every item from its events (first start, or the fingerprint changed)."""
        self.items.put(self.store.items())
        walked = 0
        needs_links: set[ItemRef] = set()
        for ref, evs in self.store.events_by_item():
            walked += 1
            self._walk_one(ref, evs, ())
            if self.mentions.get(ref) and any(ref in w for w in self.walks.values()):
                needs_links.add(ref)
        if needs_links:
            self._walk(needs_links)
        self._derive_link_edges(set(self.links_out))
        self._loaded = True
        if self.persist:
            states = {ref: self._state(ref) for ref in self._derived_refs()}
            self.store.save_walk_states(states, self._clock(), fingerprint=fingerprint, replace_all=True)
        self.items.forget()  # read again on demand: a daemon needs few of them
        return walked

    def _reindex_links(self, changed: set[ItemRef] | None, links: list[Link]) -> None:
        if changed is not None:
            for ref in changed:
                for link in self.links_out.pop(ref, []):
                    self.links_in[link.dst].discard(ref)
                    if link.kind == MENTION:
                        self.mentions[ref].discard(link.dst)
                        self.mentions[link.dst].discard(ref)
        for link in links:
            if changed is not None and link.src not in changed:
                continue
            self.links_out.setdefault(link.src, []).append(link)
            self.links_in[link.dst].add(link.src)
            if link.kind == MENTION:
                self.mentions[link.src].add(link.dst)
                self.mentions[link.dst].add(link.src)

    def _walk(self, refs: set[ItemRef]) -> int:
        neighbours = set(refs)
        for ref in refs:
            neighbours |= self.mentions.get(ref, set())
        self.items.load(refs)
        events: dict[ItemRef, list[Event]] = dict(self.store.events_by_item(neighbours))
        away = self.away.take(e for evs in events.values() for e in evs)  # before any walk uses them
        for ref in refs:
            linked = [e for other in self.mentions.get(ref, ()) for e in events.get(other, ())]
            self._walk_one(ref, events.get(ref, []), linked)
        extra = self._holding(away) - refs if away else set()
        if extra:  # an absence changed: the handoffs its person holds (or was delegated) are routed again
            self._walk(extra)
            self._save(extra)
        return len(refs) + len(extra)

    def _holding(self, identities: set[str]) -> set[ItemRef]:
        """Items with an open handoff whose receiver, or whom it was delegated from, is one of ``identities``."""
        return {ref for walks in self.walks.values() for ref, walk in walks.items()
                if any(self.who(h.receiver) in identities or (h.delegated_from and self.who(h.delegated_from) in identities)
                       for h, _ in walk.open)}

    def absences(self, identity: str | None = None):
        """Every absence known (``bridge.core.availability.Absence``, oldest first), or ``identity``'s
        (``Evaluator.who`` of an account): configured ones and those ``/hb away`` set."""
        if not self._loaded:
            self.refresh(None)
        return self.away.absences(identity)

    def away_commands(self):
        """Every ``/hb away`` / ``/hb back`` read (``rules.away.AwayCommand``, oldest first), with
        the absence each set and, in ``problem``, what was not taken."""
        if not self._loaded:
            self.refresh(None)
        return self.away.commands()

    def _walk_one(self, ref: ItemRef, evs: list[Event], linked_events: list[Event]) -> None:
        snapshot = self.items.get(ref)
        bots = self.bots()
        commented = self._commands_in(ref, evs, bots)
        muted = False
        for rule in self.handoff_rules:
            if rule.tools and ref.tool not in rule.tools:
                continue
            if rule.detect == "promise":
                walk = promise_rule.walk_item(
                    rule, ref, evs, snapshot, bots=bots, schedule_for=self.directory.schedule_for, who=self.who,
                    patterns=self.config.promises.compiled(), linked_events=linked_events, commands=bool(commented))
                self._take_outcomes(walk.outcomes)
                self._ended.extend(walk.done)
                self._set_walk(rule.name, ref, handoff_rule.ItemWalk(open=walk.open) if walk.open else None)
                continue
            walk = handoff_rule.walk_item(
                rule, ref, evs, snapshot,
                bots=bots,
                deadline_for=lambda acct, at, r=rule: self.directory.schedule_for(acct).add(at, r.within),
                escalation_targets=self.targets(rule),
                status_owner=self._status_owner(rule),
                who=self.who,
                linked_events=linked_events,
                due_deadline_for=(lambda acct, due, r=rule: handoff_rule.due_deadline(self.directory.schedule_for(acct), due, r.before_due))
                if rule.before_due else None,
                commands=self._context(rule) if commented else None,
                availability=self.away.router(),
                team_for=self._team_for,
            )
            muted = muted or walk.muted
            self._take_outcomes(walk.outcomes)
            self._ended.extend(walk.done)
            self._set_walk(rule.name, ref, handoff_rule.ItemWalk(open=walk.open) if walk.open else None)
        edges = standoff_rule.review_edges(ref, evs, snapshot, bots=bots, who=self.who) if self.standoff_rules and not muted else []
        self._set_review_edges(ref, edges)
        self._snoozed.pop(ref, None)
        for key, (given, per) in commented:
            for c, rule_outcomes in zip(given, per):
                if c.verb == "snooze" and any(o.status == "applied" for o in rule_outcomes):
                    until = self._context(None).snooze_until(
                        c.actor, c.at, commands_rule.snooze_length(c.args, self.config.commands.max_snooze))
                    self._snoozed[ref] = max(self._snoozed.get(ref, until), until)

    # ------------------------------------------------------------------ commands

    def _commands_in(self, ref: ItemRef, evs: list[Event], bots) -> list:
        """Index every ``/hb`` comment of ``ref`` for replies (``evaluate`` drops those older than
        ``[commands] reply_within``); returns ``[(reply key, (commands, outcomes per command))]``,
        whose outcomes the rules' walks fill in."""
        if not self.config.commands.enabled:
            return []
        out = []
        for ev in evs:
            given = commands_rule.commands_of(ev, bots)
            if not given:
                continue
            key = commands_rule.reply_key(ref, ev.id)
            entry = (given, [[] for _ in given])
            self._commands[key] = entry
            out.append((key, entry))
        return out

    def command_outcomes(self, ref: ItemRef) -> list[tuple[commands_rule.Command, commands_rule.Outcome | None]]:
        """Every ``/hb`` command on ``ref`` walked since the last evaluation pruned old ones (call
        ``refresh({ref})`` first), oldest first, each with its outcome merged over the rules
        (``None``: a verb the engine answers, or one no rule acted on)."""
        out = []
        prefix = commands_rule.reply_key(ref, "")
        for key, (given, per) in self._commands.items():
            if key.startswith(prefix):
                out += [(c, commands_rule.merge(p)) for c, p in zip(given, per)]
        return sorted(out, key=lambda pair: pair[0].at)

    def _take_outcomes(self, outcomes) -> None:
        for o in outcomes:
            entry = self._commands.get(o.command.key)
            if entry is None:
                continue
            given, per = entry
            for i, c in enumerate(given):
                if c == o.command:
                    per[i].append(o)

    def _context(self, rule: Rule | None) -> commands_rule.CommandContext:
        """The ``rules.commands.CommandContext`` of ``rule`` (``None``: one with no leads)."""
        name = rule.name if rule is not None else ""
        ctx = self._contexts.get(name)
        if ctx is not None:
            return ctx
        directory = self.directory
        leads = frozenset(filter(None, (self.who(directory.account(p, tool)) or f"person:{p}"
                                        for p in (getattr(rule, "leads", None) or ()) for tool in ("github", "jira", "asana"))))

        def when(account: Account, at: datetime) -> str:
            return format_deadline(at, directory.schedule_for(account).timezone)

        def resolve(c: commands_rule.Command) -> Account | None:
            word = commands_rule.target_word(c.args)
            if word is None:
                return None
            if word in self.config.people:
                return directory.account(word, c.item.tool)
            for m in c.mentions:
                if word.casefold() in (m.id.casefold(), (directory.person(m) or "").casefold()):
                    return m
            known = directory.account_for_identity(word, c.item.tool)
            if known is not None:
                return known
            if c.item.tool == "github":
                return Account("github", word)
            return c.mentions[0] if len(c.mentions) == 1 else None

        ctx = commands_rule.CommandContext(
            leads=leads,
            team_leads=directory.team_leads,
            snooze_until=lambda acct, at, length: directory.schedule_for(acct).add(at, length),
            pause=lambda acct, deadline, start, until: _paused(directory.schedule_for(acct), deadline, start, until),
            resolve=resolve,
            describe=lambda acct: self.name(acct) if acct is not None else "nobody",
            when=when,
            max_snooze=self.config.commands.max_snooze,
        )
        self._contexts[name] = ctx
        return ctx


    def _set_walk(self, rule: str, ref: ItemRef, walk: handoff_rule.ItemWalk | None) -> None:
        if walk is None:
            if self.walks[rule].pop(ref, None) is None and (rule, ref) not in self._settled:
                return
        else:
            self.walks[rule][ref] = walk
        self._to_settle.add((rule, ref))
        # a promise is owed, not handed over: nobody waits on it in the wait-for graph
        handoffs = [h for h, _ in walk.open if h.trigger not in handoff_rule.NOT_PASSES] if walk else []
        self._feed(("handoff", rule, ref), standoff_rule.handoff_edges(handoffs))

    def _set_review_edges(self, ref: ItemRef, edges: list[standoff_rule.WaitEdge]) -> None:
        if edges:
            self.review_edges[ref] = edges
        elif self.review_edges.pop(ref, None) is None:
            return
        self._feed(("review", ref), edges)

    def _feed(self, source, edges: list[standoff_rule.WaitEdge], only: str | None = None) -> None:
        """Give ``edges`` to every standoff rule's graph (or ``only`` one), within its tools."""
        for rule in self.standoff_rules:
            if only is not None and rule.name != only:
                continue
            tools = rule.tools
            mine = [e for e in edges if e.item.tool in tools and e.on.tool in tools] if tools else edges
            self.graphs[rule.name].set_source(source, mine)

    def _derive_link_edges(self, sources: set[ItemRef]) -> None:
        """``blocked_by`` and ``status`` edges of ``sources`` from their links and both ends' snapshots."""
        if not self.standoff_rules:
            return
        self.items.load(sources | {link.dst for ref in sources for link in self.links_out.get(ref, ())})
        for rule in self.standoff_rules:
            statuses = {s.strip().casefold() for s in rule.blocked_statuses}
            kept = self.link_edges[rule.name]
            for ref in sources:
                links = self.links_out.get(ref)
                edges = standoff_rule.link_edges(ref, self.items.get(ref), links, self.items.get,
                                                 blocked_statuses=statuses) if links else []
                if edges:
                    kept[ref] = edges
                elif kept.pop(ref, None) is None:
                    continue
                self._feed(("link", ref), edges, only=rule.name)

    def _status_owner(self, rule: Rule):
        owners = {t.status.casefold(): t.owner for t in rule.on if getattr(t, "status", None) and t.owner}

        def status_owner(status: str, tool: str) -> Account | str | None:
            person = owners.get(status.strip().casefold())
            if person == ASSIGNEE:
                return ASSIGNEE  # rules.handoff hands the item to its assignees at that moment
            return self.directory.account(person, tool) if person else None

        return status_owner

    def _team_for(self, ev: Event) -> handoff_rule.TeamTarget | None:
        """The configured team of a team review request (``rules.handoff.walk_item``'s ``team_for``):
        ``None`` when no ``[teams.*]`` names it, or its lead has no account in the item's tool."""
        team = self.directory.team_for_request(ev.label, ev.item)
        lead = self.directory.account(team.lead, ev.item.tool) if team is not None else None
        if lead is None:
            return None
        return handoff_rule.TeamTarget(team.name, lead, self.directory.team_identities(team))

    # ------------------------------------------------------------------ stored state

    def _derived_refs(self) -> set[ItemRef]:
        refs = set(self.review_edges)
        for walks in self.walks.values():
            refs |= walks.keys()
        for edges in self.link_edges.values():
            refs |= edges.keys()
        return refs

    def _state(self, ref: ItemRef) -> str | None:
        """``ref``'s derived state as JSON, or ``None`` when nothing is open."""
        handoffs = {rule: [[_handoff_json(h), list(evidence)] for h, evidence in walks[ref].open]
                    for rule, walks in self.walks.items() if ref in walks}
        links = {rule: [_edge_json(e) for e in edges[ref]] for rule, edges in self.link_edges.items() if ref in edges}
        review = [_edge_json(e) for e in self.review_edges.get(ref, ())]
        if not (handoffs or links or review):
            return None
        return json.dumps({"handoffs": handoffs, "review": review, "links": links}, separators=(",", ":"))

    def _restore(self, ref: ItemRef, data: str) -> None:
        state = json.loads(data)
        for rule, rows in state.get("handoffs", {}).items():
            if rule in self.walks:
                walk = handoff_rule.ItemWalk(open=tuple((_handoff_from(rule, ref, h), tuple(ev)) for h, ev in rows))
                self._set_walk(rule, ref, walk)
        if state.get("review"):
            self._set_review_edges(ref, [_edge_from(e) for e in state["review"]])
        for rule, rows in state.get("links", {}).items():
            if rule in self.link_edges:
                edges = [_edge_from(e) for e in rows]
                self.link_edges[rule][ref] = edges
                self._feed(("link", ref), edges, only=rule)

    def _save(self, refs: set[ItemRef]) -> None:
        if self.persist and refs:
            self.store.save_walk_states({ref: self._state(ref) for ref in refs}, self._clock())

    def _clock(self) -> datetime:
        return self._now or datetime.now().astimezone()

    # ------------------------------------------------------------------ evaluate

    def aged_at(self, rule: Rule, edge: standoff_rule.WaitEdge) -> datetime:
        """When ``edge`` reaches ``rule.min_age`` in its waiter's business time."""
        return self.directory.schedule_for(edge.waiter).add(edge.began, rule.min_age)

    def evaluate(self, now: datetime) -> Evaluation:
        """Apply ``now`` (aware UTC) to the kept state (call ``refresh`` first)."""
        if not self._loaded:
            self.refresh(None)
        if self._now is not None and now < self._now:
            self._to_settle |= {(rule, ref) for rule, walks in self.walks.items() for ref in walks}
        self._now = now
        while self._deadlines and self._deadlines[0][0] <= now:
            due, rule, ref = heapq.heappop(self._deadlines)
            if self._next_deadline.get((rule, ref)) == due:
                del self._next_deadline[(rule, ref)]
                self._to_settle.add((rule, ref))
        for key in self._to_settle:
            rule, ref = key
            walk = self.walks[rule].get(ref)
            if walk is None:
                self._settled.pop(key, None)
                self._next_deadline.pop(key, None)
                continue
            hs, fs = handoff_rule.settle(walk, now)
            self._settled[key] = (hs, fs)
            bounds = [t for h, _ in walk.open for t in (h.active_from, h.active_until) if t is not None]  # legs
            upcoming = min((t for t in [*(h.wakes_at for h in hs), *bounds] if t > now), default=None)
            if upcoming is None:
                self._next_deadline.pop(key, None)
            elif self._next_deadline.get(key) != upcoming:
                self._next_deadline[key] = upcoming
                heapq.heappush(self._deadlines, (upcoming, rule, ref))
        self._to_settle = set()
        out = Evaluation(at=now)
        handoffs = {h.key: h for h in self._ended}
        self._ended = []
        overdue: list[handoff_rule.Finding] = []
        for hs, fs in self._settled.values():
            for h in hs:
                handoffs[h.key] = h
            overdue.extend(fs)
        out.handoffs = list(handoffs.values())
        edges: dict[str, standoff_rule.WaitEdge] = {}
        for graph in self.graphs.values():
            graph.advance(now)
            out.standoffs.extend(graph.findings())
            edges.update(graph.edges)
        out.edges = list(edges.values())
        out.findings, out.inhibited = self.inhibit(overdue, out.standoffs)
        if self._snoozed:  # a standoff on a snoozed item waits too; ended snoozes are forgotten
            self._snoozed = {ref: until for ref, until in self._snoozed.items() if until > now}
            out.snoozed = dict(self._snoozed)
            out.standoffs = [f for f in out.standoffs if not any(r in out.snoozed for r in getattr(f, "items", (f.item,)))]
        horizon = now - self.config.commands.reply_within.wall()
        for key, (given, per) in list(self._commands.items()):
            if given[-1].at < horizon:
                del self._commands[key]
                continue
            out.commands.append((given, [commands_rule.merge(p) for p in per]))
        out.commands.sort(key=lambda entry: entry[0][0].at)
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
        if not inside:
            return list(overdue), []
        act, held = [], []
        for f in overdue:
            (held if (f.item, self.who(f.receiver)) in inside else act).append(f)
        return act, held


# --------------------------------------------------------------------------- state codecs


def _account(s: str | None) -> Account | None:
    if not s:
        return None
    tool, _, ident = s.partition(":")
    return Account(tool, ident)


def _paused(schedule, deadline: datetime, start: datetime, until: datetime) -> datetime:
    """A deadline after a snooze from ``start`` to ``until`` (``rules.commands.CommandContext.pause``):
    the business time left at ``start`` resumes at ``until``; a deadline already past moves by the
    snooze's business length."""
    if deadline > start:
        return schedule.add(until, _as_duration(schedule.between(start, deadline)))
    return schedule.add(deadline, _as_duration(schedule.between(start, until)))


def _as_duration(td) -> Duration:
    return Duration(seconds=max(0, int(td.total_seconds())))


def _handoff_json(h: handoff_rule.Handoff) -> list:
    row = [h.key, str(h.sender) if h.sender else None, str(h.receiver), h.trigger, h.sent_at.isoformat(),
           h.sent_event, h.deadline.isoformat()]
    leg = {k: v for k, v in (("from", h.active_from), ("until", h.active_until), ("away_until", h.away_until),
                             ("not_before", h.not_before)) if v is not None}
    leg = {k: v.isoformat() for k, v in leg.items()}
    if h.delegated_from is not None:
        leg["delegated_from"] = str(h.delegated_from)
    if h.away_note:
        leg["note"] = h.away_note
    if h.team:  # the team handed to (or, incomplete, the unconfigured team's slug)
        leg["team"] = h.team
    if h.trigger in handoff_rule.NOT_PASSES or leg:  # what the nudge quotes, or what is missing
        row += [h.quote, h.action, h.promised.isoformat() if h.promised else None]
    if leg:  # a snooze's end (rules.commands), a team, a leg of a handoff routed around an absence (rules.away)
        row.append(leg)
    return row


def _handoff_from(rule: str, ref: ItemRef, row: list) -> handoff_rule.Handoff:
    key, sender, receiver, trigger, sent_at, sent_event, deadline = row[:7]
    quote, action, promised = (row[7:10] + [None, None, None])[:3] if len(row) > 7 else ("", "", None)
    leg = row[10] if len(row) > 10 and isinstance(row[10], dict) else {}
    when = {k: datetime.fromisoformat(leg[k]) if leg.get(k) else None for k in ("from", "until", "away_until", "not_before")}
    return handoff_rule.Handoff(key=key, rule=rule, item=ref, sender=_account(sender), receiver=_account(receiver),
                                trigger=trigger, sent_at=datetime.fromisoformat(sent_at), sent_event=sent_event,
                                deadline=datetime.fromisoformat(deadline), quote=quote or "", action=action or "",
                                promised=datetime.fromisoformat(promised) if promised else None,
                                not_before=when["not_before"], active_from=when["from"], active_until=when["until"],
                                away_until=when["away_until"], delegated_from=_account(leg.get("delegated_from")),
                                away_note=leg.get("note", ""), team=leg.get("team", ""))


def _edge_json(e: standoff_rule.WaitEdge) -> list:
    return [e.kind, str(e.waiter), str(e.holder) if e.holder else None, e.item.tool, e.item.key, e.on.tool, e.on.key,
            e.began.isoformat(), list(e.evidence)]


def _edge_from(row: list) -> standoff_rule.WaitEdge:
    kind, waiter, holder, item_tool, item_key, on_tool, on_key, began, evidence = row
    return standoff_rule.WaitEdge(kind, _account(waiter), _account(holder), ItemRef(item_tool, item_key),
                                  ItemRef(on_tool, on_key), datetime.fromisoformat(began), tuple(evidence))
