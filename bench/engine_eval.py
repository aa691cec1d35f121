"""Engine time and peak memory: one full evaluation and incremental cycles (issue 5).

Builds a synthetic organisation (seeded, deterministic) into a SQLite ``Store`` and runs the
real ``bridge.engine.evaluator.Evaluator`` over it, the way ``Engine.evaluate`` does
(``refresh(changed)`` then ``evaluate(now)``), with no connectors.

Usage::

    python bench/engine_eval.py                                   # 100,000 items, 1,000,000 events, 10,000 edges
    python bench/engine_eval.py --items 10000 --events 100000 --edges 1000   # quick (~1 min)
    python bench/engine_eval.py --db /tmp/org.db --keep           # keep (and later reuse) the database
    python bench/engine_eval.py --items 2000 --events 20000 --edges 300 --check   # bulk writer == save_poll

The organisation:

- ``--items`` items: 40 % GitHub (half pull requests, half issues, 50 repositories), 35 % Jira
  (20 projects), 25 % Asana tasks; about half of them done.
- ``items / 50`` people (2,000 at full size), each with an account in all three tools in
  ``[people.pN]``; 20 % in Europe/Berlin (DE holidays), 10 % in America/New_York, the rest on
  the US ``[defaults]``.
- exactly ``--events`` events: assignments and their acknowledgement, review requests and
  reviews (some with a changes-requested round), status changes, comments (some with
  mentions), labels, commits, links and closing; the rest comments/labels/status moves by
  the holder or third parties.
- about ``--edges`` wait-for edges: a DAG over people (a waiter always ranks below the person
  it waits on): open review requests (a ``review`` and a ``handoff`` edge each), unacknowledged
  assignments (``handoff``), blocked-by links (``blocked_by``), items in status ``Blocked``
  linking to open work (``status``) and blocked-by links to unassigned items (ownerless);
  plus ``edges / 200`` planted cycles of 2-4 people across tools (review, handoff,
  blocked-by and status edges), on people reserved for them, so the evaluation must find
  exactly that many standoffs. Plus ``items / 20`` mention links (same work, no wait).
- config: one handoff rule (``review_requested`` and ``assigned``, within 4h, a comment step)
  and one standoff rule (``min_age`` 1d, ``blocked_statuses = ["Blocked"]``, a comment step).

Rows are written with SQLAlchemy core bulk inserts into the store's own tables (events,
items, links, accounts) with the store's own JSON codecs; ``links`` rows are what
``Store.save_poll`` would write (``began_at`` = the first ``linked`` event naming the target).
``--check`` builds the same (small) organisation once through ``Store.save_poll`` and once
through the bulk writer and compares every table.

Measurements, each in a fresh subprocess so peaks do not mix, on a copy of the generated
database (they write: walk state, new comments), in this order:

1. ``rebuild``: the stored walk state deleted, as on a first start (or after a rule or person
   changed): a fresh ``Evaluator``, ``refresh(None)`` reads and walks every event and writes
   the walk state; then ``evaluate(now)``.
2. ``full``: a fresh ``Evaluator`` (a restart), ``refresh(None)`` loads the walk state the
   rebuild wrote; then ``evaluate(now)``. Must find what the rebuild found.
3. ``incremental``: a start as in 2, then ``--cycles`` times: 100 (``--changed``) random items
   get a new comment (30 % of those with an open handoff by its receiver, acknowledging it)
   stored with ``Store.save_poll``; then ``refresh(changed)`` + ``evaluate(now)`` timed.

Each reports wall, CPU and peak RSS, split by wrapping the store's reads and writes and the
evaluator's parts (walks, restoring stored state, link edges, the wait-for graph).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.config import parse_config  # noqa: E402
from bridge.core.model import (  # noqa: E402
    BLOCKED_BY,
    MENTION,
    Account,
    AccountInfo,
    Event,
    EventKind,
    ItemKind,
    ItemRef,
    ItemSnapshot,
    PollResult,
    StatusCategory,
)
from bridge.store import (  # noqa: E402
    AccountRow,
    EventRow,
    ItemRow,
    LinkRow,
    Store,
    event_to_json,
    item_to_json,
)

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)  # a Wednesday, inside working hours
SETUP_AT = NOW - timedelta(minutes=5)  # "stored_at"/"seen_at" of the generated rows
ENV = {"GITHUB_TOKEN": "ghp_bench", "JIRA_TOKEN": "jira-bench", "ASANA_TOKEN": "asana-bench"}
GH_REPOS, JIRA_PROJECTS = 50, 20
BATCH = 1000  # items per PollResult
SEED = 5

GH, JIRA, ASANA = "github", "jira", "asana"
JIRA_FLOW = ["In Progress", "In Review"]
ASANA_FLOW = ["Doing", "Review"]
LABELS = ["bug", "feature", "frontend", "backend", "infra", "docs", "p1", "p2", "customer"]


def log(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- people


def acct(person: int, tool: str) -> Account:
    if tool == GH:
        return Account(GH, f"dev-{person:04d}")
    if tool == JIRA:
        return Account(JIRA, f"5b10{person:020x}")
    return Account(ASANA, str(1201000000000000 + person))


def person_name(person: int) -> str:
    return f"p{person:04d}"


def config_text(people: int) -> str:
    out = [
        '[defaults]\ntimezone = "UTC"\nworking_days = ["mon", "tue", "wed", "thu", "fri"]\n'
        'working_hours = "09:00-17:00"\nholidays = "US"\n',
    ]
    for p in range(people):
        lines = [f"[people.{person_name(p)}]", f'display_name = "Person {p}"', f'email = "{person_name(p)}@example.com"']
        if p % 10 in (1, 2):
            lines += ['timezone = "Europe/Berlin"', 'holidays = "DE"']
        elif p % 10 == 3:
            lines += ['timezone = "America/New_York"']
        lines.append(f'accounts = {{ github = "{acct(p, GH).id}", jira = "{acct(p, JIRA).id}", asana = "{acct(p, ASANA).id}" }}')
        out.append("\n".join(lines) + "\n")
    out.append(
        '[connectors.github]\ntoken = { env = "GITHUB_TOKEN" }\n'
        f'repositories = [{", ".join(f"{chr(34)}acme/r{r:02d}{chr(34)}" for r in range(GH_REPOS))}]\n'
        '\n[connectors.jira]\nbase_url = "https://acme.atlassian.net"\nemail = "bot@acme.example"\n'
        'token = { env = "JIRA_TOKEN" }\njql = ["project in (P00, P01)"]\n'
        '\n[connectors.asana]\ntoken = { env = "ASANA_TOKEN" }\nprojects = ["1201000000000100"]\n'
        '\n[[rules]]\nname = "handoff-not-picked-up"\ndetect = "handoff"\non = ["review_requested", "assigned"]\n'
        'within = "4h"\nneed = "a look"\nnext = "move it on"\nsteps = [{ after = "0h", do = "comment" }]\n'
        '\n[[rules]]\nname = "standoff"\ndetect = "standoff"\nmin_age = "1d"\nblocked_statuses = ["Blocked"]\n'
        'steps = [{ after = "0h", do = "comment" }]\n'
    )
    return "\n".join(out)


# --------------------------------------------------------------------------- plan

# roles
NORMAL, PENDING, OPEN_REVIEW, UNASSIGNED = "normal", "pending", "open_review", "unassigned"
CYC_REVIEW, CYC_HANDOFF, CYC_HELD = "cyc_review", "cyc_handoff", "cyc_held"


@dataclass
class ItemPlan:
    idx: int
    tool: str
    kind: ItemKind
    ref: ItemRef
    creator: int
    holder: int | None  # the snapshot's holder (PR: its author)
    receiver: int | None = None  # review requested of / assigned to (PR reviewer; others = holder)
    done: bool = False
    blocked_status: bool = False
    role: str = NORMAL
    changes_round: bool = False
    fresh: bool = False  # sent in the last hours (pending, not yet overdue)
    old: bool = False  # at least 12 days old (planted cycles)
    links: list[tuple[int, str]] = field(default_factory=list)  # (dst idx, BLOCKED_BY | MENTION)
    fillers: int = 0

    def mandatory(self) -> int:
        n = len(self.links) + (1 if self.done else 0) + (1 if self.blocked_status else 0)
        if self.kind == ItemKind.PULL_REQUEST:
            n += 1  # review_requested
            if self.role == NORMAL:
                n += 1 + (3 if self.changes_round else 0)  # review (+ changes, commit, re-request)
        elif self.role == UNASSIGNED:
            n += 1  # a comment
        elif self.role in (PENDING, CYC_HANDOFF):
            n += 1  # assigned, never acknowledged
        elif self.role == CYC_HELD:
            n += 1  # self-assigned
        else:
            n += 2  # assigned + acknowledgement
        return n


@dataclass
class Plan:
    items: list[ItemPlan]
    people: int
    dag_people: int
    cycles: list[list[int]]
    expected_edges: dict[str, int]


def make_plan(n_items: int, n_events: int, n_edges: int, seed: int = SEED) -> Plan:
    rng = random.Random(seed)
    people = max(30, n_items // 50)
    n_cycles = max(3, n_edges // 200)
    cycle_people = min(4 * n_cycles, people // 4)
    dag = people - cycle_people

    def dag_person() -> int:
        return int(dag * rng.random() ** 1.6)  # skewed: some people hold much more

    n_gh = int(n_items * 0.40)
    n_jira = int(n_items * 0.35)
    n_asana = n_items - n_gh - n_jira
    items: list[ItemPlan] = []
    for g in range(n_gh):
        kind = ItemKind.PULL_REQUEST if g % 2 == 0 else ItemKind.ISSUE
        ref = ItemRef(GH, f"acme/r{g % GH_REPOS:02d}#{g // GH_REPOS + 1}")
        items.append(ItemPlan(len(items), GH, kind, ref, 0, None))
    for j in range(n_jira):
        items.append(ItemPlan(len(items), JIRA, ItemKind.ISSUE, ItemRef(JIRA, f"P{j % JIRA_PROJECTS:02d}-{j // JIRA_PROJECTS + 1}"), 0, None))
    for a in range(n_asana):
        items.append(ItemPlan(len(items), ASANA, ItemKind.TASK, ItemRef(ASANA, str(1209000000000000 + a)), 0, None))

    # base: creator, holder, receiver, done
    for it in items:
        it.creator = dag_person()
        if it.kind == ItemKind.PULL_REQUEST:
            it.holder = it.creator
            it.receiver = dag_person()
            while it.receiver == it.creator:
                it.receiver = dag_person()
            it.changes_round = rng.random() < 0.3
        else:
            it.holder = it.receiver = dag_person()
        it.done = rng.random() < 0.5

    free = {t: [it.idx for it in items if it.tool == t] for t in (GH, JIRA, ASANA)}
    for t in free:
        rng.shuffle(free[t])
    prs = [i for i in free[GH] if items[i].kind == ItemKind.PULL_REQUEST]
    issues = {GH: [i for i in free[GH] if items[i].kind == ItemKind.ISSUE], JIRA: free[JIRA], ASANA: free[ASANA]}

    def take(tool: str | None = None, pr: bool = False) -> ItemPlan:
        if pr:
            return items[prs.pop()]
        return items[issues[tool or rng.choice([GH, JIRA, ASANA])].pop()]

    expected = {"review": 0, "handoff": 0, "blocked_by": 0, "status": 0, "ownerless": 0}

    # planted cycles: people dag..people-1, each cycle on its own people, every edge a different tool if possible
    cycles: list[list[int]] = []
    nxt = dag
    kinds = [CYC_REVIEW, CYC_HANDOFF, "block", "status"]
    for c in range(n_cycles):
        length = 2 + c % 3
        if nxt + length > people:
            break
        ring = list(range(nxt, nxt + length))
        nxt += length
        cycles.append(ring)
        start = rng.randrange(4)
        for k in range(length):
            a, b = ring[k], ring[(k + 1) % length]
            kind = kinds[(start + k) % 4]
            if kind == CYC_REVIEW:
                it = take(pr=True)
                it.role, it.holder, it.creator, it.receiver = CYC_REVIEW, a, a, b
                expected["review"] += 1
                expected["handoff"] += 1
                cyc = [it]
            elif kind == CYC_HANDOFF:
                it = take(rng.choice([JIRA, ASANA]))
                it.role, it.creator, it.holder, it.receiver = CYC_HANDOFF, a, b, b
                expected["handoff"] += 1
                cyc = [it]
            else:
                t1, t2 = rng.sample([GH, JIRA, ASANA], 2)
                if kind == "status":
                    t1 = rng.choice([JIRA, ASANA])
                    t2 = rng.choice([t for t in (GH, JIRA, ASANA) if t != t1])
                src, dst = take(t1), take(t2)
                src.role = dst.role = CYC_HELD
                src.creator = src.holder = src.receiver = a
                dst.creator = dst.holder = dst.receiver = b
                src.links.append((dst.idx, BLOCKED_BY if kind == "block" else MENTION))
                src.blocked_status = kind == "status"
                expected["blocked_by" if kind == "block" else "status"] += 1
                cyc = [src, dst]
            for it in cyc:
                it.done, it.old = False, True
    dag_budget = max(0, n_edges - sum(expected.values()))

    # DAG edges: waiter rank < holder rank
    def ordered_pair() -> tuple[int, int]:
        a, b = dag_person(), dag_person()
        while a == b:
            b = dag_person()
        return min(a, b), max(a, b)

    n_review = round(dag_budget * 0.10)  # 2 edges each
    n_pending = round(dag_budget * 0.25)
    n_block = round(dag_budget * 0.35)
    n_status = round(dag_budget * 0.15)
    n_ownerless = max(0, dag_budget - 2 * n_review - n_pending - n_block - n_status)
    for _ in range(n_review):
        it = take(pr=True)
        it.role, it.done = OPEN_REVIEW, False
        it.creator, it.receiver = ordered_pair()
        it.holder = it.creator
        it.fresh = rng.random() < 0.1
    expected["review"] += n_review
    expected["handoff"] += n_review
    for _ in range(n_pending):
        it = take()
        it.role, it.done = PENDING, False
        it.creator, it.holder = ordered_pair()
        it.receiver = it.holder
        it.fresh = rng.random() < 0.1
    expected["handoff"] += n_pending
    unassigned = []
    for _ in range(max(1, n_ownerless // 2)):
        it = take(rng.choice([JIRA, ASANA]))
        it.role, it.done, it.holder, it.receiver = UNASSIGNED, False, None, None
        unassigned.append(it)
    # every item still free keeps role NORMAL; the open ones can wait on each other
    rest = [items[i] for t in (GH, JIRA, ASANA) for i in (prs if t == GH else []) + issues[t]]
    open_normal = [it for it in rest if not it.done]
    rng.shuffle(open_normal)
    status_src = [it for it in open_normal if it.tool in (JIRA, ASANA)][:n_status]
    status_ids = {it.idx for it in status_src}
    pool = [it for it in open_normal if it.idx not in status_ids]
    linked_pairs: set[tuple[int, int]] = set()

    by_holder = sorted(pool, key=lambda it: it.holder)
    ranks = [it.holder for it in by_holder]

    def holder_above(rank: int) -> ItemPlan | None:
        i = bisect.bisect_right(ranks, rank)
        return by_holder[rng.randrange(i, len(ranks))] if i < len(ranks) else None

    for it in status_src:
        dst = holder_above(it.holder)
        while dst is None:
            it.holder = it.receiver = dag_person()
            dst = holder_above(it.holder)
        it.blocked_status = True
        it.links.append((dst.idx, MENTION))
        linked_pairs.add((it.idx, dst.idx))
    expected["status"] += len(status_src)
    made = 0
    while made < n_block:
        a, b = rng.choice(pool), rng.choice(pool)
        if a.holder == b.holder or (a.idx, b.idx) in linked_pairs or (b.idx, a.idx) in linked_pairs:
            continue
        src, dst = (a, b) if a.holder < b.holder else (b, a)
        src.links.append((dst.idx, BLOCKED_BY))
        linked_pairs.add((src.idx, dst.idx))
        made += 1
    expected["blocked_by"] += made
    k = 0
    while k < n_ownerless:
        src, dst = rng.choice(pool), unassigned[k % len(unassigned)]
        if (src.idx, dst.idx) in linked_pairs:
            continue
        src.links.append((dst.idx, BLOCKED_BY))
        linked_pairs.add((src.idx, dst.idx))
        k += 1
    expected["ownerless"] += n_ownerless
    # mention links (same work, nobody waits): from any normal item that is not in status Blocked
    mention_src = [it for it in rest if it.idx not in status_ids]
    for _ in range(n_items // 20):
        a, b = rng.choice(mention_src), rng.choice(items)
        if a.idx == b.idx or (a.idx, b.idx) in linked_pairs:
            continue
        a.links.append((b.idx, MENTION))
        linked_pairs.add((a.idx, b.idx))

    # fillers: the events left after every item's mandatory ones, spread with a skew
    mand = sum(it.mandatory() for it in items)
    left = n_events - mand
    if left < 0:
        raise SystemExit(f"--events {n_events} is below the {mand} events the plan needs")
    weights = [rng.expovariate(1.0) for _ in items]
    total_w = sum(weights)
    given = 0
    for it, w in zip(items, weights):
        it.fillers = int(left * w / total_w)
        given += it.fillers
    for k in range(left - given):
        items[rng.randrange(len(items))].fillers += 1
    return Plan(items, people, dag, cycles, expected)


# --------------------------------------------------------------------------- events


def status_of(tool: str, done: bool, blocked: bool, current: str) -> tuple[str, StatusCategory]:
    if done:
        return ("closed" if tool == GH else "Done"), StatusCategory.DONE
    if blocked:
        return "Blocked", StatusCategory.BLOCKED
    if tool == GH:
        return "open", StatusCategory.IN_PROGRESS
    cat = {"To Do": StatusCategory.TODO, "Backlog": StatusCategory.TODO, "In Review": StatusCategory.IN_REVIEW,
           "Review": StatusCategory.IN_REVIEW}.get(current, StatusCategory.IN_PROGRESS)
    return current, cat


def generate_item(plan: Plan, it: ItemPlan, seed: int = SEED) -> tuple[ItemSnapshot, list[Event], set[Account]]:
    """The item's snapshot and events (oldest first), a function of the plan only."""
    rng = random.Random(seed * 1_000_003 + it.idx)
    tool, ref = it.tool, it.ref
    n = it.mandatory() + it.fillers
    if it.fresh:
        t0 = NOW - timedelta(minutes=rng.randint(30, 150))
        span = (NOW - timedelta(minutes=5)) - t0
    else:
        lo = 12 if it.old else 2
        t0 = NOW - timedelta(days=rng.uniform(lo, 180))
        span = min(NOW - timedelta(hours=1), t0 + timedelta(days=rng.uniform(1, 30))) - t0
    gaps = sorted(rng.random() for _ in range(n))
    times = [t0 + span * g for g in gaps]
    seq = iter(range(n))
    evs: list[Event] = []
    seen: set[Account] = set()
    prefix = {GH: "", JIRA: "1", ASANA: "12"}[tool]

    def ev(kind: EventKind, actor: int | None, **kw) -> None:
        j = next(seq)
        a = acct(actor, tool) if actor is not None else None
        if a:
            seen.add(a)
        if kw.get("subject"):
            seen.add(kw["subject"])
        evs.append(Event(tool=tool, id=f"{prefix}{it.idx:07d}{j:04d}", item=ref, at=times[j], kind=kind, actor=a, **kw))

    holder, receiver, creator = it.holder, it.receiver, it.creator
    quiet = {p for p in (creator, holder, receiver) if p is not None}

    def third() -> int:
        while True:
            p = int(plan.dag_people * rng.random())
            if p not in quiet:
                return p

    for dst_idx, kind in it.links:
        dst = plan.items[dst_idx].ref
        ev(EventKind.LINKED, holder if holder is not None else creator,
           link_type="is blocked by" if kind == BLOCKED_BY else "relates to", target=dst)
    status = {GH: "open", JIRA: "To Do", ASANA: "Backlog"}[tool]
    labels: list[str] = []
    pr = it.kind == ItemKind.PULL_REQUEST
    if pr:
        ev(EventKind.REVIEW_REQUESTED, creator, subject=acct(receiver, tool))
        if it.role == NORMAL:
            if it.changes_round:
                ev(EventKind.REVIEWED, receiver, review_state="changes_requested", text="please split this")
                ev(EventKind.COMMITTED, creator, text="address review")
                ev(EventKind.REVIEW_REQUESTED, creator, subject=acct(receiver, tool))
            ev(EventKind.REVIEWED, receiver, review_state=rng.choice(["approved", "commented"]), text="looks good")
    elif it.role == UNASSIGNED:
        ev(EventKind.COMMENTED, creator, text="who takes this?")
    else:
        ev(EventKind.ASSIGNED, creator if it.role != CYC_HELD else holder, subject=acct(holder, tool))
        if it.role in (NORMAL,):
            if tool == JIRA:
                ev(EventKind.STATUS_CHANGED, holder, from_status=status, to_status="In Progress")
                status = "In Progress"
            else:
                ev(EventKind.COMMENTED, holder, text="on it")
    active = it.role in (NORMAL, UNASSIGNED, CYC_HELD)  # may the holder/receiver act in fillers?
    flow = JIRA_FLOW if tool == JIRA else ASANA_FLOW
    for _ in range(it.fillers):
        r = rng.random()
        if r < 0.55:
            who = rng.choice([holder, receiver, creator, third()]) if active else third()
            if who is None:
                who = third()
            mentions = (acct(third(), tool),) if rng.random() < 0.1 else ()
            ev(EventKind.COMMENTED, who, text="a comment", mentions=mentions)
        elif r < 0.70:
            lab = rng.choice(LABELS)
            if lab in labels:
                ev(EventKind.UNLABELED, creator if active else third(), label=lab)
                labels.remove(lab)
            else:
                ev(EventKind.LABELED, creator if active else third(), label=lab)
                labels.append(lab)
        elif r < 0.85 and pr and active:
            ev(EventKind.COMMITTED, creator, text="a commit")
        elif r < 0.85 and tool != GH and active and holder is not None:
            new = flow[1] if status == flow[0] else flow[0]
            ev(EventKind.STATUS_CHANGED, holder, from_status=status, to_status=new)
            status = new
        else:
            ev(EventKind.COMMENTED, third(), text="+1")
    if it.blocked_status:
        ev(EventKind.STATUS_CHANGED, holder, from_status=status, to_status="Blocked")
        status = "Blocked"
    if it.done:
        closer = holder if holder is not None else creator
        if tool == GH:
            ev(EventKind.CLOSED, closer)
        else:
            ev(EventKind.STATUS_CHANGED, closer, from_status=status, to_status="Done")
    name, cat = status_of(tool, it.done, it.blocked_status, status)
    blocked = tuple(plan.items[d].ref for d, k in it.links if k == BLOCKED_BY)
    snap = ItemSnapshot(
        ref=ref,
        title=f"Item {it.idx}",
        url=f"https://example.test/{tool}/{ref.key}",
        kind=it.kind,
        status=name,
        status_category=cat,
        assignees=(acct(holder, tool),) if holder is not None and not pr else (),
        labels=tuple(labels),
        author=acct(creator, tool),
        created_at=t0,
        updated_at=times[-1] if times else t0,
        links=tuple(plan.items[d].ref for d, _ in it.links),
        blocked_by=blocked,
    )
    seen.add(acct(creator, tool))
    return snap, evs, seen


def account_info(a: Account) -> AccountInfo:
    p = _person_of(a)
    return AccountInfo(a, f"Person {p}", None if a.tool == GH else f"{person_name(p)}@example.com")


def _person_of(a: Account) -> int:
    if a.tool == GH:
        return int(a.id.split("-")[1])
    if a.tool == JIRA:
        return int(a.id[4:], 16)
    return int(a.id) - 1201000000000000


def poll_results(plan: Plan):
    """``(tool, PollResult)`` per ``BATCH`` items of one tool, in plan order."""
    by_tool: dict[str, list[ItemPlan]] = {}
    for it in plan.items:
        by_tool.setdefault(it.tool, []).append(it)
    for tool, its in by_tool.items():
        for i in range(0, len(its), BATCH):
            events, snaps, seen = [], [], set()
            for it in its[i:i + BATCH]:
                snap, evs, accts = generate_item(plan, it)
                snaps.append(snap)
                events += evs
                seen |= accts
            yield tool, PollResult(events=events, items=snaps, accounts=[account_info(a) for a in sorted(seen)])


# --------------------------------------------------------------------------- writers


def write_save_poll(store: Store, plan: Plan) -> int:
    n = 0
    for tool, result in poll_results(plan):
        n += store.save_poll(tool, "bench", result, SETUP_AT)
    return n


def write_bulk(store: Store, plan: Plan, progress: bool = False) -> int:
    """The rows ``save_poll`` would write (events, items, links, accounts), as core bulk inserts."""
    n = 0
    accounts: dict[tuple[str, str], dict] = {}
    started = time.perf_counter()
    done_items = 0
    ev_t, it_t, ln_t, ac_t = (EventRow.__table__, ItemRow.__table__, LinkRow.__table__, AccountRow.__table__)
    with store.engine.begin() as conn:
        for tool, result in poll_results(plan):
            first_linked: dict[tuple, tuple[datetime, str]] = {}
            rows = []
            for ev in result.events:
                rows.append(dict(tool=ev.tool, event_id=ev.id, item_tool=ev.item.tool, item_key=ev.item.key, at=ev.at,
                                 kind=ev.kind.value, actor=str(ev.actor) if ev.actor else None,
                                 data=event_to_json(ev), stored_at=SETUP_AT))
                if ev.kind == EventKind.LINKED and ev.target is not None:
                    key = (ev.item, ev.target.tool, ev.target.key)
                    if key not in first_linked or (ev.at, ) < (first_linked[key][0], ):
                        first_linked[key] = (ev.at, ev.id)
            conn.execute(ev_t.insert(), rows)
            n += len(rows)
            conn.execute(it_t.insert(), [dict(tool=it.ref.tool, key=it.ref.key, updated_at=it.updated_at,
                                              data=item_to_json(it), seen_at=SETUP_AT) for it in result.items])
            links = []
            for it in result.items:
                wanted = {(r.tool, r.key): (BLOCKED_BY if r in it.blocked_by else MENTION) for r in (*it.links, *it.blocked_by)}
                for dst, kind in wanted.items():
                    began, evidence = first_linked.get((it.ref, *dst), (it.created_at or SETUP_AT, None))
                    links.append(dict(src_tool=it.ref.tool, src_key=it.ref.key, dst_tool=dst[0], dst_key=dst[1],
                                      kind=kind, began_at=began, evidence=evidence))
            if links:
                conn.execute(ln_t.insert(), links)
            for info in result.accounts:
                key = (info.account.tool, info.account.id)
                if key not in accounts:
                    accounts[key] = dict(tool=key[0], id=key[1], display_name=info.display_name,
                                         email=info.email.lower() if info.email else None,
                                         first_seen=SETUP_AT, last_seen=SETUP_AT)
            done_items += len(result.items)
            if progress and (done_items // BATCH) % 10 == 0:
                log(f"generated {done_items:,} items, {n:,} events ({time.perf_counter() - started:.0f}s)")
        conn.execute(ac_t.insert(), list(accounts.values()))
    return n


def dump_tables(store: Store) -> dict[str, list]:
    from sqlalchemy import text

    out = {}
    with store.engine.connect() as conn:
        for table, order in (("events", "tool, event_id"), ("items", "tool, key"),
                             ("links", "src_tool, src_key, dst_tool, dst_key"), ("accounts", "tool, id")):
            out[table] = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]
    return out


# --------------------------------------------------------------------------- measuring (child process)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TimedStore:
    """Wraps a ``Store``: time spent inside its reads (including the lazy event stream)."""

    def __init__(self, store: Store, clock: dict):
        self._store, self._clock = store, clock

    def __getattr__(self, name):
        return getattr(self._store, name)

    def _timed(self, key, fn, *a, **kw):
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            self._clock[key] = self._clock.get(key, 0.0) + time.perf_counter() - t

    def accounts(self):
        return self._timed("read accounts", self._store.accounts)

    def items(self):
        return self._timed("read items", self._store.items)

    def items_for(self, refs):
        return self._timed("read items", self._store.items_for, refs)

    def links(self, items=None):
        return self._timed("read links", self._store.links, items)

    def walk_states(self):
        return self._timed("read walk states", self._store.walk_states)

    def save_walk_states(self, *a, **kw):
        return self._timed("write walk states", self._store.save_walk_states, *a, **kw)

    def events_by_item(self, items=None):
        gen = self._store.events_by_item(items)
        while True:
            t = time.perf_counter()
            try:
                pair = next(gen)
            except StopIteration:
                self._clock["read events"] = self._clock.get("read events", 0.0) + time.perf_counter() - t
                return
            self._clock["read events"] = self._clock.get("read events", 0.0) + time.perf_counter() - t
            yield pair


def instrument(ev, clock: dict) -> None:
    """Time the evaluator's parts by wrapping (the bench edits nothing in bridge/ or rules/)."""
    from rules import standoff as standoff_rule

    ev.store = TimedStore(ev.store, clock)
    ev.items.store = ev.store

    def wrap(obj, name, key):
        fn = getattr(obj, name)

        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                clock[key] = clock.get(key, 0.0) + time.perf_counter() - t

        setattr(obj, name, timed)

    wrap(ev, "_walk_one", "walks")
    wrap(ev, "_restore", "restore states")
    wrap(ev, "_derive_link_edges", "link edges")
    wrap(ev, "fingerprint", "fingerprint")
    wrap(ev, "inhibit", "evaluate: inhibit")
    wrap(standoff_rule.WaitForGraph, "advance", "evaluate: graph advance")
    wrap(standoff_rule.WaitForGraph, "findings", "evaluate: standoff cycles")


def summarize(out) -> dict:
    return {
        "handoffs reported": len(out.handoffs),
        "open handoffs": sum(h.state in ("sent", "overdue") for h in out.handoffs),
        "findings": len(out.findings),
        "inhibited": len(out.inhibited),
        "standoffs": sum(f.detect == "standoff" for f in out.standoffs),
        "ownerless": sum(f.detect == "ownerless" for f in out.standoffs),
        "edges": len(out.edges),
        "edges by kind": dict(sorted(__import__("collections").Counter(e.kind for e in out.edges).items())),
        "ownerless edges": sum(e.holder is None for e in out.edges),
    }


def child(args) -> int:
    from bridge.engine.evaluator import Evaluator

    meta = json.loads(Path(args.org + ".json").read_text())
    config = parse_config(Path(args.org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{args.db}")
    if args.measure == "rebuild":  # as on a first start: no stored walk state
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM walk_states")
            conn.exec_driver_sql("DELETE FROM cursors WHERE connector = '@evaluator'")
    base_rss = rss_mib()
    clock: dict[str, float] = {}
    ev = Evaluator(config, store, bots=lambda: set())
    instrument(ev, clock)
    w, c = time.perf_counter(), time.process_time()
    walked = ev.refresh(None)
    refresh_wall = time.perf_counter() - w
    t = time.perf_counter()
    out = ev.evaluate(NOW)
    evaluate_wall = time.perf_counter() - t
    result = {
        "mode": args.measure,
        "wall": time.perf_counter() - w,
        "cpu": time.process_time() - c,
        "refresh": refresh_wall,
        "evaluate": evaluate_wall,
        "walked": walked,
        "split": dict(clock),
        "found": summarize(out),
        "rss_base": base_rss,
        "rss_after_full": rss_mib(),
    }
    if args.measure == "incremental":
        rng = random.Random(SEED + meta["events"])  # a rerun on a kept database adds new event ids
        with store.engine.connect() as conn:
            refs = sorted(ItemRef(t, k) for t, k in conn.exec_driver_sql("SELECT tool, key FROM items"))
        cycles = []
        open_receiver = {}
        for rule_walks in ev.walks.values():
            for ref, walk in rule_walks.items():
                if walk.open:
                    open_receiver[ref] = walk.open[0][0].receiver
        tag = meta["events"] + rng.randrange(10**9)
        for k in range(args.cycles):
            now = NOW + timedelta(minutes=5 * (k + 1))
            picked = rng.sample(refs, args.changed)
            events, snaps = [], []
            for j, ref in enumerate(picked):
                at = now - timedelta(seconds=30 + j)
                actor = open_receiver.get(ref) if rng.random() < 0.3 else None
                if actor is None:
                    actor = acct(rng.randrange(meta["people"]), ref.tool)
                events.append(Event(tool=ref.tool, id=f"inc-{tag}-{k}-{j}", item=ref, at=at, kind=EventKind.COMMENTED,
                                    actor=actor, text="a new comment"))
                snaps.append(replace(ev.items[ref], updated_at=at))
            result_poll = PollResult(events=events, items=snaps, accounts=[account_info(a) for a in {e.actor for e in events}])
            t = time.perf_counter()
            stored = sum(store.save_poll(tool, "bench-inc", PollResult(
                events=[e for e in result_poll.events if e.item.tool == tool],
                items=[s for s in result_poll.items if s.ref.tool == tool],
                accounts=[a for a in result_poll.accounts if a.account.tool == tool]), now) for tool in (GH, JIRA, ASANA))
            save_wall = time.perf_counter() - t
            changed = {s_.ref for s_ in snaps} | {e.item for e in events}  # as Engine._store notes them
            ev.learn(result_poll.accounts)
            before = dict(clock)
            w, c = time.perf_counter(), time.process_time()
            walked = ev.refresh(changed)
            r_wall = time.perf_counter() - w
            t = time.perf_counter()
            out = ev.evaluate(now)
            e_wall = time.perf_counter() - t
            cycles.append({"wall": time.perf_counter() - w, "cpu": time.process_time() - c, "refresh": r_wall,
                           "evaluate": e_wall, "walked": walked, "stored": stored, "save_poll": save_wall,
                           "split": {k2: clock[k2] - before.get(k2, 0.0) for k2 in clock},
                           "found": summarize(out)})
        result["cycles"] = cycles
    result["rss_peak"] = rss_mib()
    print(json.dumps(result, default=str))
    return 0


def run_child(db: str, measure: str, args, org: str) -> dict:
    cmd = [sys.executable, __file__, "--db", db, "--org", org, "--measure", measure, "--cycles", str(args.cycles),
           "--changed", str(args.changed)]
    if args.profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{measure} measurement failed")
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def build(db: str, args) -> dict:
    t = time.perf_counter()
    plan = make_plan(args.items, args.events, args.edges)
    log(f"plan: {len(plan.items):,} items, {plan.people:,} people ({plan.dag_people:,} in the DAG), "
        f"{len(plan.cycles)} planted cycles, expected edges {plan.expected_edges} ({time.perf_counter() - t:.1f}s)")
    Path(db + ".toml").write_text(config_text(plan.people))
    store = Store.open(f"sqlite:///{db}")
    n = write_bulk(store, plan, progress=True)
    store.engine.dispose()
    meta = {"items": args.items, "events": n, "edges": args.edges, "people": plan.people, "cycles": len(plan.cycles),
            "cycle_lengths": [len(c) for c in plan.cycles], "expected_edges": plan.expected_edges,
            "setup_s": round(time.perf_counter() - t, 1)}
    Path(db + ".json").write_text(json.dumps(meta))
    log(f"stored {n:,} events in {meta['setup_s']}s; database {os.path.getsize(db) / 2**20:.0f} MiB")
    return meta


def check(args) -> int:
    """The bulk writer writes what ``Store.save_poll`` writes (same rows in every table)."""
    plan = make_plan(args.items, args.events, args.edges)
    with tempfile.TemporaryDirectory(prefix="bench-eval-check-") as tmp:
        a = Store.open(f"sqlite:///{tmp}/save_poll.db")
        b = Store.open(f"sqlite:///{tmp}/bulk.db")
        t = time.perf_counter()
        write_save_poll(a, plan)
        log(f"save_poll writer: {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        write_bulk(b, plan)
        log(f"bulk writer: {time.perf_counter() - t:.1f}s")
        da, db_ = dump_tables(a), dump_tables(b)
        for table in da:
            if da[table] != db_[table]:
                diff = next(((x, y) for x, y in zip(da[table], db_[table]) if x != y), None)
                print(f"{table}: DIFFER ({len(da[table])} vs {len(db_[table])} rows), first: {diff}")
                return 1
            print(f"{table}: {len(da[table])} rows, identical")
    return 0


def fmt_split(split: dict) -> str:
    return ", ".join(f"{k} {v:.2f}s" for k, v in split.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000)
    ap.add_argument("--db", help="database path (default: a temp dir); reused if it and its .json exist")
    ap.add_argument("--keep", action="store_true", help="keep the database (with --db, or print the temp path)")
    ap.add_argument("--cycles", type=int, default=5, help="incremental cycles")
    ap.add_argument("--changed", type=int, default=100, help="items changed per incremental cycle")
    ap.add_argument("--check", action="store_true", help="compare the bulk writer with Store.save_poll, then stop")
    ap.add_argument("--profile", action="store_true", help="cProfile the full evaluation (top 25 by cumulative time)")
    ap.add_argument("--build-only", action="store_true", help="generate the database (use with --db) and stop")
    ap.add_argument("--measure", choices=["rebuild", "full", "incremental"], help=argparse.SUPPRESS)
    ap.add_argument("--org", help=argparse.SUPPRESS)  # the generated database whose .json/.toml describe --db
    args = ap.parse_args(argv)
    if args.measure:
        if args.profile and args.measure == "full":
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            rc = child(args)
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            return rc
        return child(args)
    if args.check:
        return check(args)

    tmp = None
    if args.db:
        db = os.path.abspath(args.db)
    else:
        tmp = tempfile.mkdtemp(prefix="bench-eval-")
        db = os.path.join(tmp, "state.db")
    try:
        if os.path.exists(db) and os.path.exists(db + ".json"):
            meta = json.loads(Path(db + ".json").read_text())
            log(f"reusing {db}: {meta}")
        else:
            meta = build(db, args)
        if args.build_only:
            return 0
        # The measurements write (walk state, new comments): they run on a copy, the generated
        # database stays as built for the next run.
        work = db + ".run"
        for suffix in ("", "-wal"):
            if os.path.exists(db + suffix):
                shutil.copyfile(db + suffix, work + suffix)
        try:
            rebuild = run_child(work, "rebuild", args, db)
            full = run_child(work, "full", args, db)
            inc = run_child(work, "incremental", args, db)
        finally:
            for f in (work, work + "-wal", work + "-shm"):
                if os.path.exists(f):
                    os.remove(f)
    finally:
        if tmp and not args.keep:
            for f in os.listdir(tmp):
                os.remove(os.path.join(tmp, f))
            os.rmdir(tmp)
        elif tmp:
            log(f"kept {db}")

    found = full["found"]
    same = lambda f: {k: v for k, v in f.items() if k != "handoffs reported"}  # noqa: E731 (ended ones: once, by the rebuild)
    if same(rebuild["found"]) != same(found):
        print(f"CHECK FAILED: the start from stored walk state found {found}, the rebuild {rebuild['found']}")
        return 1
    print(f"organisation: {meta['items']:,} items, {meta['events']:,} events, {meta['people']:,} people, "
          f"{meta['cycles']} planted cycles (lengths {sorted(set(meta['cycle_lengths']))}); "
          f"expected edges {meta['expected_edges']} = {sum(meta['expected_edges'].values()):,}; setup {meta.get('setup_s')}s")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}")
    print()
    print(f"rebuild (fresh process, no stored walk state: every event read and walked, state written): "
          f"wall {rebuild['wall']:.2f}s, cpu {rebuild['cpu']:.2f}s, peak RSS {rebuild['rss_peak']:.0f} MiB")
    print(f"  refresh(None) {rebuild['refresh']:.2f}s, evaluate(now) {rebuild['evaluate']:.2f}s; {rebuild['walked']:,} items walked")
    print(f"  split: {fmt_split(rebuild['split'])}")
    print()
    print(f"full evaluation (fresh process, from stored walk state): wall {full['wall']:.2f}s, cpu {full['cpu']:.2f}s, "
          f"peak RSS {full['rss_peak']:.0f} MiB (at start {full['rss_base']:.0f} MiB)")
    print(f"  refresh(None) {full['refresh']:.2f}s, evaluate(now) {full['evaluate']:.2f}s; {full['walked']:,} items walked")
    print(f"  split: {fmt_split(full['split'])}")
    print(f"  found: {found}")
    walls = [c["wall"] * 1000 for c in inc["cycles"]]
    print()
    print(f"incremental ({args.changed} changed items, {len(walls)} cycles, after a full load; "
          f"process peak RSS {inc['rss_peak']:.0f} MiB):")
    for k, c in enumerate(inc["cycles"]):
        print(f"  #{k + 1}: {c['wall'] * 1000:.0f} ms (refresh {c['refresh'] * 1000:.0f} ms, walked {c['walked']}; "
              f"evaluate(now) {c['evaluate'] * 1000:.0f} ms) cpu {c['cpu'] * 1000:.0f} ms; "
              f"save_poll {c['save_poll'] * 1000:.0f} ms ({c['stored']} events); split {fmt_split(c['split'])}; "
              f"handoffs reported {c['found']['handoffs reported']:,}, findings {c['found']['findings']:,}, standoffs {c['found']['standoffs']}")
    print(f"  median {statistics.median(walls):.0f} ms, max {max(walls):.0f} ms")
    print()
    full_ok = full["wall"] < 2 and full["rss_peak"] < 500
    inc_ok = max(walls) < 100
    print(f"goal full < 2 s and < 500 MB: {'met' if full_ok else 'MISSED'} "
          f"({full['wall']:.2f}s, {full['rss_peak']:.0f} MiB)")
    print(f"goal incremental < 100 ms: {'met' if inc_ok else 'MISSED'} (max {max(walls):.0f} ms)")

    problems = []
    if found["standoffs"] != meta["cycles"]:
        problems.append(f"standoffs found {found['standoffs']}, planted {meta['cycles']}")
    if found["edges"] != sum(meta["expected_edges"].values()):
        problems.append(f"edges found {found['edges']} ({found['edges by kind']}), expected {meta['expected_edges']}")
    for p in problems:
        print(f"CHECK FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
