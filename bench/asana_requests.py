"""How many Asana requests does a poll cycle cost? (cold crawl, idle, k changed tasks, 412 recovery)

Runs the real ``AsanaConnector`` (official ``asana`` client over real HTTP) against the
in-process ``AsanaEmulator`` holding one project of ``--tasks`` tasks (bulk loader, one
comment each), and stores every poll with the real ``Store`` (SQLite in a temp dir), the way
``bridge/engine/cycle.py`` does (``known=`` is ``store.item_updated_at("asana", keys)``). Requests
are counted at the emulator and compared with ``PollResult.requests``; the bench fails if
they disagree. The limiter is set high (``--rpm``) so the figures are the cost, not the pace;
at Asana's free-plan 150/min the cold crawl spreads over many cycles (printed at the end).

Usage::

    python bench/asana_requests.py [--tasks 5000] [--changed 1,10,100] [--rpm 1000000]

Steps (stepping clock, no sleeps): cold poll (412 → full crawl); idle x3; for each k: one
comment on each of k tasks, then one poll, then one idle poll; 412 recovery: tokens expired,
10 tasks changed, one poll (requests, wall time), then one idle poll. Peak RSS at the end.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.core.clock import SteppingClock  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.asana.client import AsanaConnector  # noqa: E402
from connectors.sandbox.asana.emulator import AsanaEmulator  # noqa: E402
from connectors.sandbox.asana.routes import API_PREFIX  # noqa: E402

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
TOKEN = "asana-bench-token"
BOT, ADA = "1100000000000001", "1100000000000002"
PROJECT = "1300000000000001"


def kinds(requests) -> str:
    c = Counter()
    for method, path, status in requests:
        p = path.split("?")[0].removeprefix(API_PREFIX)
        if p.endswith("/stories"):
            p = "/tasks/{gid}/stories"
        elif p.startswith("/tasks/") and p.count("/") == 2:
            p = "/tasks/{gid}"
        c[f"{method} {p} {status}"] += 1
    return ", ".join(f"{n} x {k}" for k, n in sorted(c.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=5000)
    ap.add_argument("--changed", default="1,10,100")
    ap.add_argument("--rpm", type=int, default=1_000_000)
    args = ap.parse_args()

    clock = SteppingClock(T0)
    emu = AsanaEmulator(clock=clock).start()
    emu.add_user(BOT, "Bench Bot")
    emu.add_user(ADA, "Ada")
    emu.add_token(TOKEN, BOT)
    emu.create_project(PROJECT, "Bench")
    t = time.perf_counter()
    gids = emu.bulk_create(PROJECT, args.tasks, ADA, stories_per_task=1, at=T0 - timedelta(days=1))
    print(f"loaded {len(gids)} tasks in {time.perf_counter() - t:.2f}s (python {platform.python_version()})")
    conn = AsanaConnector("asana", base_url=emu.url + API_PREFIX, token=TOKEN, projects=[PROJECT], timeout=30,
                          requests_per_minute=args.rpm, clock=clock)
    tmp = tempfile.TemporaryDirectory(prefix="hb-bench-asana-")
    store = Store.open(f"sqlite:///{tmp.name}/state.db")
    rows: list[tuple[str, int, float, str]] = []
    mismatch = False

    def cycle(label: str) -> int:
        nonlocal mismatch
        emu.reset_requests()
        cursor = store.get_cursor("asana", PROJECT)
        started = time.perf_counter()
        result = conn.poll(PROJECT, cursor, known=lambda keys: store.item_updated_at("asana", keys))
        store.save_poll("asana", PROJECT, result, clock())
        took = time.perf_counter() - started
        served = len(emu.requests)
        if served != result.requests:
            mismatch = True
        rows.append((label, served, took, kinds(emu.requests)))
        return served

    clock.advance(timedelta(minutes=1))
    cycle(f"cold (412, crawl of {args.tasks} tasks)")
    for i in range(3):
        clock.advance(timedelta(minutes=1))
        cycle(f"idle #{i + 1}")
    for k in [int(x) for x in args.changed.split(",") if x]:
        clock.advance(timedelta(minutes=1))
        step = max(1, len(gids) // k)
        for j in range(k):
            emu.comment(gids[(j * step) % len(gids)], ADA, f"change {j}")
        clock.advance(timedelta(seconds=30))
        cycle(f"k={k} changed")
        clock.advance(timedelta(minutes=1))
        cycle(f"idle after k={k}")
    clock.advance(timedelta(minutes=1))
    for j in range(10):
        emu.comment(gids[j * 7], ADA, f"before expiry {j}")
    emu.expire_sync_tokens()
    clock.advance(timedelta(seconds=30))
    cycle("412 recovery (10 changed)")
    clock.advance(timedelta(minutes=1))
    cycle("idle after 412")

    width = max(len(r[0]) for r in rows)
    print(f"\n{'cycle':<{width}}  requests  wall s   by kind")
    for label, n, took, detail in rows:
        print(f"{label:<{width}}  {n:>8}  {took:>6.2f}   {detail}")
    cold = rows[0][1]
    print(f"\nat 150 requests/minute the cold crawl needs {cold / 150:.0f} minutes of budget (spread over cycles)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    emu.stop()
    store.engine.dispose()
    tmp.cleanup()
    if mismatch:
        print("MISMATCH: PollResult.requests differs from the emulator's count", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
