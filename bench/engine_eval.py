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
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.config import parse_config  # noqa: E402
from bridge.core.model import Event, EventKind, ItemRef, PollResult  # noqa: E402
from bridge.store import Store  # noqa: E402
from tests.support.org import (  # noqa: E402  (the organisation builder)
    ASANA,
    ENV,
    GH,
    JIRA,
    NOW,
    SEED,
    account_info,
    acct,
    config_text,
    dump_tables,
    log,
    make_plan,
    write_bulk,
    write_save_poll,
)


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
