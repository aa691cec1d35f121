"""``handoff-bridge report`` time and peak memory over the engine bench's store; ``/metrics`` scrape time
while a cycle runs (issue 15).

Usage::

    python bench/report.py                                    # 100,000 items, 1,000,000 events
    python bench/report.py --items 10000 --events 100000 --edges 1000   # quick
    python bench/report.py --db /tmp/org.db                   # reuse (or keep) the engine bench's database

The store is the engine bench's synthetic organisation (``bench/engine_eval.py``,
``tests/support/org.py``; built when ``--db`` does not exist yet). Its ``handoffs`` table is
filled once, as the daemon's cycles would have left it: the real ``Evaluator`` walks every event
(``refresh(None)`` + ``evaluate(now)``) and every handoff is written with the engine's own row
builder; every handoff that was (or is) past its deadline gets one sent outbox row (a nudge at
its deadline). That preparation is not timed and is done on a copy (``<db>.report.db``).

Measured, each in a fresh subprocess so peaks do not mix:

1. ``report``: ``build_report(config, store, now, compare_at=now - 14 days)`` (the ``report
   --compare-at`` command's work: read, measure every lane and week, bootstrap every lane), then
   ``render_text``, ``to_json`` and ``render_page`` each timed; peak RSS of the process.
2. ``scrape``: a ``Metrics`` fed from the store, served by the real ``HttpEndpoint`` on loopback;
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


def prepare(db: str, org: str) -> dict:
    """Fill ``handoffs`` and the nudges in ``outbox`` of ``db`` (a copy of the organisation)."""
    from sqlalchemy import insert

    from bridge.engine.cycle import Engine
    from bridge.engine.evaluator import Evaluator
    from bridge.store import OutboxRow

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    t = time.perf_counter()
    ev = Evaluator(config, store, bots=lambda: set())
    ev.refresh(None)
    out = ev.evaluate(NOW)
    rows = [Engine._handoff_row(h, NOW) for h in out.handoffs]  # noqa: SLF001 - the engine's own row builder
    store.upsert_handoffs(rows)
    nudges = [
        {"key": f"{r.key}:0", "marker": f"hb:bench{i:08d}", "finding_key": r.key, "rule": r.rule, "step": 0,
         "connector": r.item_tool, "action": "{}", "status": "done", "attempts": 1, "created_at": r.deadline,
         "sent_at": r.deadline, "confirmed_at": r.deadline}
        for i, r in enumerate(rows) if (r.ended_at or NOW) > r.deadline
    ]
    with store.engine.begin() as conn:
        for i in range(0, len(nudges), 5000):
            conn.execute(insert(OutboxRow.__table__), nudges[i:i + 5000])
    store.engine.dispose()
    return {"handoffs": len(rows), "nudges": len(nudges), "prepare_s": round(time.perf_counter() - t, 1)}


def child_report(db: str, org: str) -> dict:
    from bridge.report.page import render_page
    from bridge.report.report import build_report, render_text, to_json

    config = parse_config(Path(org + ".toml").read_text(), environ=ENV)
    store = Store.open(f"sqlite:///{db}")
    base = rss_mib()
    t = time.perf_counter()
    report = build_report(config, store, NOW, compare_at=NOW - timedelta(days=14))
    build = time.perf_counter() - t
    t = time.perf_counter()
    text = render_text(report)
    text_s = time.perf_counter() - t
    t = time.perf_counter()
    doc = json.dumps(to_json(report))
    json_s = time.perf_counter() - t
    t = time.perf_counter()
    page = render_page(report, None)
    page_s = time.perf_counter() - t
    return {"build_report": build, "render_text": text_s, "to_json": json_s, "render_page": page_s,
            "handoffs": len(report.handoffs), "lanes": len(report.lanes), "weekly": len(report.weekly),
            "comparisons": len(report.comparisons or []), "text_kib": len(text) / 1024, "json_kib": len(doc) / 1024,
            "page_kib": len(page) / 1024, "rss_base": base, "rss_peak": rss_mib()}


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
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{args[0]} measurement failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000)
    ap.add_argument("--db", help="the engine bench's database (built there when absent; kept)")
    ap.add_argument("--scrapes", type=int, default=50)
    ap.add_argument("--child", choices=["report", "scrape"], help=argparse.SUPPRESS)
    ap.add_argument("--org", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        out = child_report(args.db, args.org) if args.child == "report" else child_scrape(args.db, args.org, args.scrapes)
        print(json.dumps(out))
        return 0
    import tempfile

    tmp = None
    db = args.db
    if db is None:
        tmp = tempfile.mkdtemp(prefix="bench-report-")
        db = os.path.join(tmp, "org.db")
    try:
        if not (Path(db).exists() and Path(db + ".json").exists()):
            from bench.engine_eval import build

            build(db, args)
        meta = json.loads(Path(db + ".json").read_text())
        work = db + ".report.db"
        if not Path(work).exists():
            shutil.copyfile(db, work)
            prep = prepare(work, db)
            Path(work + ".json").write_text(json.dumps(prep))
        prep = json.loads(Path(work + ".json").read_text())
        log(f"store: {meta['items']:,} items, {meta['events']:,} events; {prep['handoffs']:,} handoffs, "
            f"{prep['nudges']:,} nudges")
        r = run_child("--child", "report", "--db", work, "--org", db)
        print(f"report --compare-at: build {r['build_report']:.2f} s (read, {r['lanes']:,} lanes, {r['weekly']:,} "
              f"lane-weeks, {r['comparisons']:,} comparisons), text {r['render_text']:.2f} s ({r['text_kib']:.0f} KiB), "
              f"JSON {r['to_json']:.2f} s, HTML page {r['render_page']:.2f} s ({r['page_kib']:.0f} KiB); "
              f"peak RSS {r['rss_peak']:.0f} MiB (base {r['rss_base']:.0f} MiB)")
        s = run_child("--child", "scrape", "--db", work, "--org", db, "--scrapes", str(args.scrapes))
        print(f"/metrics while cycles run: median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max "
              f"{s['max_ms']:.1f} ms over {s['scrapes']} scrapes ({s['body_kib']:.0f} KiB; {s['cycle_rounds_meanwhile']} "
              f"cycle rounds meanwhile; the delay summary itself {s['delay_summary_s']:.2f} s, on the cycle's thread)")
        print(json.dumps({"report": r, "scrape": s, "store": meta, "prepared": prep}, default=str))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
