"""A synthetic organisation, seeded and deterministic: the engine benchmark's data and the walk-state tests'.

``make_plan(items, events, edges)`` draws the organisation (people, items, wait-for edges with
``edges / 200`` planted standoffs); ``write_save_poll`` stores it through ``Store.save_poll``,
``write_bulk`` through SQLAlchemy core bulk inserts into the same tables (same JSON codecs);
``config_text(people)`` is the matching TOML (one handoff and one standoff rule). The shape of
the organisation is described in ``bench/engine_eval.py``, which measures the evaluator over it.
"""

from __future__ import annotations

import bisect
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bridge.core.model import (
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
from bridge.store import (
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
