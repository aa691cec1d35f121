"""``handoff-bridge report`` time and peak memory over the engine bench's store; ``/metrics`` scrape time
while a cycle runs (issue 15).

Usage::

    python bench/report.py                                    # 100,000 items, 1,000,000 events
    python bench/report.py --items 10000 --events 100000 --edges 1000   # quick
    python bench/report.py --db /tmp/org.db                   # reuse (or keep) the engine bench's database

The store is the engine bench's synthetic organisation (``bench/engine_eval.py``,
``tests/support/org.py``; built when ``--db`` does not exist yet). Its ``handoffs`` table is
filled once, as the daemon's cycles would have left it: the real ``Evaluator`` walks every event
(``refresh(None)`` + ``evaluate(now)``); every handoff that was (or is) past its deadline gets
one sent outbox row (a nudge at its deadline); then every handoff is written by the engine's own
``_persist_handoffs`` (an ended one with its measured delay, migration 0005; that write is timed).
The preparation is done on a copy (``<db>.report.db``), once.

Measured, each in a fresh subprocess so peaks do not mix:

1. ``report``: ``build_report(config, store, now, compare_at=now - 14 days)`` (the ``report
   --compare-at`` command's work: read, measure every lane and week, bootstrap every lane), then
   ``render_text``, ``to_json`` and ``render_page`` each timed; peak RSS of the process.
2. ``backfill`` (unless ``--skip-backfill``): the same report on a copy whose stored delays are
   cleared, as a store upgraded from 0004 has them: the first build measures and stores them,
   the second reads them.
3. ``page``: the live ``/`` page (``live_page``): first build, a request from its cache, a
   rebuild after ``PAGE_EVERY``; and its two parts (report, status table) on their own; then
   the daemon's page, whose status table comes from the engine's last evaluation
   (``daemon_status``).
4. ``scrape``: a ``Metrics`` fed from the store, served by the real ``HttpEndpoint`` on loopback;
   a thread runs cycles' work meanwhile (the evaluator's ``evaluate(now)`` and the delay summary,
   over and over, contending for the GIL as a cycle does) while ``--scrapes`` GETs of
   ``/metrics`` are timed (requests over real HTTP).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.config import parse_config  # noqa: E402
from bridge.store import Store  # noqa: E402
from tests.support.org import ENV, NOW, log  # noqa: E402


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Bumped when ``prepare`` writes something else: a work copy prepared by an older version is redone.
PREPARED_BY = 3  # 3: walk states saved under the current config fingerprint, as a daemon leaves them


def prepare(db: str, org: str) -> dict:
    """Fill ``handoffs`` and the nudges in ``outbox`` of ``db`` (a copy of the organisation), as
    the daemon leaves them: the nudges first (each went out at its handoff's deadline), then
    the handoffs through the engine's own ``_persist_handoffs`` (an ended one with its measured
    delay, migration 0005), whose time is reported (``persist_s``: what a rebuild, which
    reports every ended handoff again, spends writing them)."""
    from sqlalchemy import insert

    from bridge.engine.cycle import Engine
    from bridge.store import OutboxRow

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    t = time.perf_counter()
    engine = Engine(config, store, {}, lambda: NOW)
    engine.evaluator.refresh(None)
    out = engine.evaluator.evaluate(NOW)
    nudges = [
        {"key": f"{h.key}:0", "marker": f"hb:bench{i:08d}", "finding_key": h.key, "rule": h.rule, "step": 0,
         "connector": h.item.tool, "action": "{}", "status": "done", "attempts": 1, "created_at": h.deadline,
         "sent_at": h.deadline, "confirmed_at": h.deadline}
        for i, h in enumerate(out.handoffs) if (h.ended_at or NOW) > h.deadline
    ]
    with store.engine.begin() as conn:
        for i in range(0, len(nudges), 5000):
            conn.execute(insert(OutboxRow.__table__), nudges[i:i + 5000])
    t_persist = time.perf_counter()
    engine._persist_handoffs(out.handoffs, NOW)  # noqa: SLF001 - the engine's own writer
    persist = time.perf_counter() - t_persist
    store.engine.dispose()
    return {"handoffs": len(out.handoffs), "nudges": len(nudges), "prepare_s": round(time.perf_counter() - t, 1),
            "persist_s": round(persist, 2), "prepared_by": PREPARED_BY}


def forget_figures(db: str) -> int:
    """Clear the stored delays of ``db``'s handoffs, as a store migrated from 0004 has them."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        n = conn.execute("UPDATE handoffs SET delay_business_h = NULL, delay_wall_h = NULL, first_nudge_at = NULL, "
                         "nudge_to_ack_business_h = NULL, measured_at = NULL WHERE measured_at IS NOT NULL").rowcount
    return n


def child_report(db: str, org: str) -> dict:
    """The ``report --compare-at`` command's work, run as the command runs it: the cyclic
    collector paused throughout (``bridge.app.commands.report.run``). ``collector_after``: the
    full collection a long-lived process (the daemon's page) pays once the report is built."""
    import gc

    from bridge.report.page import render_page
    from bridge.report.report import build_report, collector_paused, render_text, to_json

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    base = rss_mib()
    with collector_paused():
        t, cpu = time.perf_counter(), time.process_time()
        report = build_report(config, store, NOW, compare_at=NOW - timedelta(days=14))
        build = time.perf_counter() - t
        build_cpu = time.process_time() - cpu
        t = time.perf_counter()
        text = render_text(report)
        text_s = time.perf_counter() - t
        t = time.perf_counter()
        doc = json.dumps(to_json(report))
        json_s = time.perf_counter() - t
        t = time.perf_counter()
        page = render_page(report, None)
        page_s = time.perf_counter() - t
    t = time.perf_counter()
    gc.collect()
    collector_after = time.perf_counter() - t
    return {"build_report": build, "build_cpu": build_cpu, "render_text": text_s, "to_json": json_s, "render_page": page_s,
            "collector_after": collector_after,
            "handoffs": len(report.handoffs), "lanes": len(report.lanes), "weekly": len(report.weekly),
            "comparisons": len(report.comparisons or []), "text_kib": len(text) / 1024, "json_kib": len(doc) / 1024,
            "page_kib": len(page) / 1024, "rss_base": base, "rss_peak": rss_mib()}


def child_backfill(db: str, org: str) -> dict:
    """``report`` on a store whose ended handoffs have no stored delay (one migrated from 0004):
    the first build measures them all and writes the figures back; the second reads them."""
    from bridge.report.report import build_report

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    out = {}
    for run in ("first", "second"):
        t = time.perf_counter()
        build_report(config, store, NOW, compare_at=NOW - timedelta(days=14))
        out[run] = time.perf_counter() - t
    out["rss_peak"] = rss_mib()
    return out


def child_page(db: str, org: str) -> dict:
    """The daemon's live ``/`` page (``bridge.app.http.live_page``) on the bench store: the first
    build (report, status table, HTML), a request served from its cache, and a rebuild once the
    cache is older than ``PAGE_EVERY``."""
    from bridge.app.http import PAGE_EVERY, live_page
    from bridge.app.commands.report import status_json
    from bridge.report.report import build_report

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    now = [NOW]
    page = live_page(lambda: config, store, lambda: now[0])
    out = {}
    t = time.perf_counter()
    html = page()
    out["first"] = time.perf_counter() - t
    t = time.perf_counter()
    page()
    out["cached"] = time.perf_counter() - t
    now[0] = NOW + PAGE_EVERY
    t = time.perf_counter()
    page()
    out["rebuild"] = time.perf_counter() - t
    t = time.perf_counter()
    build_report(config, store, NOW)
    out["of_which_report"] = time.perf_counter() - t
    t = time.perf_counter()
    status_json(config, store, NOW)
    out["of_which_status"] = time.perf_counter() - t
    # The daemon's page (``daemon_status``): the status table from the engine's last evaluation.
    from bridge.app.http import daemon_status
    from bridge.engine.cycle import Engine

    engine = Engine(config, store, {}, lambda: NOW, persist=False)
    t = time.perf_counter()
    engine.last = engine.evaluate(NOW)  # the daemon's own cycle does this; timed for reference
    out["daemon_evaluation"] = time.perf_counter() - t
    now[0] = NOW + 2 * PAGE_EVERY
    daemon_page = live_page(lambda: config, store, lambda: now[0], status_of=daemon_status(lambda: engine, threading.Lock()))
    t = time.perf_counter()
    daemon_page()
    out["daemon_page"] = time.perf_counter() - t
    t = time.perf_counter()
    daemon_status(lambda: engine, threading.Lock())(NOW)
    out["daemon_status"] = time.perf_counter() - t
    out["page_kib"] = len(html) / 1024
    out["rss_peak"] = rss_mib()
    return out


def child_scrape(db: str, org: str, scrapes: int) -> dict:
    import requests

    from bridge.app.http import HttpEndpoint, Metrics
    from bridge.engine.evaluator import Evaluator

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    metrics = Metrics(lambda: NOW)
    metrics.configure(config)
    t = time.perf_counter()
    metrics.observe_delays(config, store, NOW)
    delay_summary = time.perf_counter() - t
    ev = Evaluator(config, store, bots=lambda: set())
    ev.refresh(None)
    endpoint = HttpEndpoint("127.0.0.1", 0, metrics, lambda: "").start()
    url = f"http://127.0.0.1:{endpoint.address[1]}/metrics"
    stop = threading.Event()
    rounds = [0]

    def cycle_work():
        while not stop.is_set():
            ev.evaluate(NOW)
            metrics.observe_delays(config, store, NOW)
            rounds[0] += 1

    worker = threading.Thread(target=cycle_work, daemon=True)
    worker.start()
    session = requests.Session()
    times, size = [], 0
    try:
        time.sleep(0.5)
        for _ in range(scrapes):
            t = time.perf_counter()
            r = session.get(url, timeout=10)
            times.append(time.perf_counter() - t)
            size = len(r.content)
            r.raise_for_status()
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
        endpoint.stop()
    times.sort()
    return {"scrapes": scrapes, "median_ms": 1000 * statistics.median(times),
            "p95_ms": 1000 * times[max(0, int(0.95 * len(times)) - 1)], "max_ms": 1000 * times[-1],
            "body_kib": size / 1024, "cycle_rounds_meanwhile": rounds[0], "delay_summary_s": delay_summary,
            "rss_peak": rss_mib()}


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)  # its progress to our stderr
    if proc.returncode != 0:
        raise SystemExit(f"{args[1]} failed (exit {proc.returncode}; its error is above)")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000)
    ap.add_argument("--db", help="the engine bench's database (built there when absent; kept)")
    ap.add_argument("--scrapes", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5, help="report runs (each in a fresh process); the median is "
                    "printed with the range (default 5)")
    ap.add_argument("--child", choices=["build", "prepare", "report", "scrape", "backfill", "page"], help=argparse.SUPPRESS)
    ap.add_argument("--skip-backfill", action="store_true", help="do not measure the first report after an upgrade "
                    "from 0004 (it needs one more copy of the store)")
    ap.add_argument("--org", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        from bench.engine_eval import build

        child = {"build": lambda: build(args.db, args) or {}, "prepare": lambda: prepare(args.db, args.org),
                 "report": lambda: child_report(args.db, args.org), "backfill": lambda: child_backfill(args.db, args.org),
                 "page": lambda: child_page(args.db, args.org),
                 "scrape": lambda: child_scrape(args.db, args.org, args.scrapes)}[args.child]
        out = child()
        print(json.dumps(out))
        return 0
    import tempfile

    tmp = None
    db = args.db
    if db is None:
        tmp = tempfile.mkdtemp(prefix="bench-report-")
        db = os.path.join(tmp, "org.db")
    try:
        # Built and prepared in child processes too: the peak RSS a child reports includes its
        # parent's at the fork (Linux keeps ru_maxrss across exec), so the parent stays small.
        if not (Path(db).exists() and Path(db + ".json").exists()):
            run_child("--child", "build", "--db", db, "--items", str(args.items), "--events", str(args.events),
                      "--edges", str(args.edges))
        meta = json.loads(Path(db + ".json").read_text())
        work = db + ".report.db"
        prepared = Path(work + ".json")
        if not (Path(work).exists() and prepared.exists()
                and json.loads(prepared.read_text()).get("prepared_by") == PREPARED_BY):
            shutil.copyfile(db, work)
            prep = run_child("--child", "prepare", "--db", work, "--org", db)
            prepared.write_text(json.dumps(prep))
        prep = json.loads(prepared.read_text())
        log(f"store: {meta['items']:,} items, {meta['events']:,} events; {prep['handoffs']:,} handoffs, "
            f"{prep['nudges']:,} nudges; the engine wrote them with their delays in {prep['persist_s']:.2f} s")
        runs = [run_child("--child", "report", "--db", work, "--org", db) for _ in range(args.repeat)]
        builds = sorted(x["build_report"] for x in runs)
        r = sorted(runs, key=lambda x: x["build_report"])[len(runs) // 2]  # the median run
        print(f"report --compare-at, {len(runs)} run{'s' if len(runs) != 1 else ''}: build median {r['build_report']:.2f} s (range "
              f"{builds[0]:.2f}-{builds[-1]:.2f} s); the collector's pass after it {r['collector_after']:.2f} s "
              "(paid by a long-lived process, not by the command)")
        print(f"report --compare-at: build {r['build_report']:.2f} s (CPU {r['build_cpu']:.2f} s; read, {r['lanes']:,} "
              f"lanes, {r['weekly']:,} lane-weeks, {r['comparisons']:,} comparisons), text {r['render_text']:.2f} s "
              f"({r['text_kib']:.0f} KiB), JSON {r['to_json']:.2f} s, HTML page {r['render_page']:.2f} s "
              f"({r['page_kib']:.0f} KiB); peak RSS {r['rss_peak']:.0f} MiB (base {r['rss_base']:.0f} MiB)")
        b = None
        if not args.skip_backfill:
            upgraded = work + ".upgraded.db"
            shutil.copyfile(work, upgraded)
            try:
                cleared = forget_figures(upgraded)
                b = run_child("--child", "backfill", "--db", upgraded, "--org", db)
            finally:
                for leftover in (upgraded, upgraded + "-wal", upgraded + "-shm"):
                    Path(leftover).unlink(missing_ok=True)
            print(f"report after an upgrade from 0004 ({cleared:,} ended handoffs without figures): first "
                  f"{b['first']:.2f} s (measures and stores them), second {b['second']:.2f} s; peak RSS "
                  f"{b['rss_peak']:.0f} MiB")
        g = run_child("--child", "page", "--db", work, "--org", db)
        print(f"live / page: first {g['first']:.2f} s (report {g['of_which_report']:.2f} s, status table "
              f"{g['of_which_status']:.2f} s), from the cache {1000 * g['cached']:.1f} ms, rebuilt after PAGE_EVERY "
              f"{g['rebuild']:.2f} s ({g['page_kib']:.0f} KiB); peak RSS {g['rss_peak']:.0f} MiB")
        print(f"the daemon's / page (status table from its last evaluation): {g['daemon_page']:.2f} s, of which the "
              f"status table {g['daemon_status']:.2f} s (the cycle's own evaluation of the store took "
              f"{g['daemon_evaluation']:.2f} s)")
        s = run_child("--child", "scrape", "--db", work, "--org", db, "--scrapes", str(args.scrapes))
        print(f"/metrics while cycles run: median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max "
              f"{s['max_ms']:.1f} ms over {s['scrapes']} scrapes ({s['body_kib']:.0f} KiB; {s['cycle_rounds_meanwhile']} "
              f"cycle rounds meanwhile; the delay summary itself {s['delay_summary_s']:.2f} s, on the cycle's thread)")
        print(json.dumps({"report": r, "backfill": b, "page": g, "scrape": s, "store": meta, "prepared": prep},
                         default=str))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
