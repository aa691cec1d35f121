"""First start on a tracker with history: what does the backfill window save, and when can the
first nudge go out? (issue 13)

The real ``Engine`` (config through ``parse_config``, ``build_engine``) polls the in-process
``GitHubEmulator`` over real HTTP with PyGithub, on a ``SteppingClock``. The world: ``--repos``
repositories of ``--issues`` pull requests each, opened 60 days before "now"; ``--recent`` of
them (5 % by default) got a review request 1-13 days before now (all long overdue: the rule
asks for a review within 4 business hours). The first cycle runs with ``backfill = "14d"``
(the default) and, for comparison, with ``backfill = "all"`` (the whole backlog crawled).

Printed per case: requests of the first cycle (list pages, timelines), wall time of that cycle,
requests per 100 recent items, findings, nudges planned in the first cycle (adopted handoffs:
none at once), and when the first nudge goes out (simulated time after the first cycle, with the
default ``[adoption] grace = "4h"`` in business time, found by stepping the clock in 15-minute
cycles) and how many nudges went out in the first 24 simulated hours (``per_person_per_day``).

Usage::

    .venv/bin/python bench/first_start.py [--repos 10] [--issues 1000] [--recent 0.05] [--no-all]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.app.wiring import build_engine  # noqa: E402
from bridge.config import parse_config  # noqa: E402
from bridge.core.clock import SteppingClock  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.sandbox.github.emulator import GitHubEmulator  # noqa: E402

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)  # a Monday, 08:00 UTC = 09:00 Berlin
TOKEN = "ghp_first_start_bench"
REVIEWERS = ("ben", "dee", "fay", "gus", "ida")


def build_world(repos: int, issues: int, recent: float, seed: int = 1):
    """The emulator (not started) and the list of recent (repo, number) pairs."""
    rng = random.Random(seed)
    clock = SteppingClock(NOW - timedelta(days=60))
    emu = GitHubEmulator(clock=clock)
    emu.add_user("handoff-bot")
    emu.add_token(TOKEN, "handoff-bot")
    for login in ("ana", *REVIEWERS):
        emu.add_user(login)
    names = [f"acme/r{r:03d}" for r in range(repos)]
    picked = []
    for name in names:
        emu.create_repo(name)
        for j in range(issues):
            emu.open_issue(name, "ana", f"Change {j + 1}", pull_request=True,
                           at=NOW - timedelta(days=60) + timedelta(seconds=j), number=j + 1)
        for j in rng.sample(range(1, issues + 1), max(1, round(issues * recent))):
            picked.append((name, j))
    for name, j in picked:
        at = NOW - timedelta(days=rng.uniform(1, 13))
        emu.request_review(name, j, "ana", rng.choice(REVIEWERS), at=at)
    clock.set(NOW)
    return emu, clock, names, picked


def config_text(db: Path, url: str, names: list[str], backfill: str) -> str:
    people = "".join(f'[people.{r}]\naccounts = {{ github = "{r}" }}\n' for r in ("ana", *REVIEWERS))
    return f"""
[daemon]
database = "sqlite:///{db}"

[defaults]
timezone = "Europe/Berlin"
working_hours = "09:00-17:00"

{people}
[connectors.github]
base_url = "{url}"
token = {{ env = "GH_TOKEN" }}
repositories = {json.dumps(names)}
seconds_between_requests = 0
seconds_between_writes = 0
write_budget_per_hour = 100000
backfill = "{backfill}"

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{{ after = "0h", do = "comment", template = "nudge" }}]
"""


def run_case(repos: int, issues: int, recent: float, backfill: str) -> dict:
    t_setup = time.perf_counter()
    emu, clock, names, picked = build_world(repos, issues, recent)
    emu.start()
    setup = time.perf_counter() - t_setup
    with tempfile.TemporaryDirectory(prefix="hb-first-start-") as tmp:
        config = parse_config(config_text(Path(tmp) / "state.db", emu.url, names, backfill), environ={"GH_TOKEN": TOKEN})
        store = Store.open(config.database_url())
        engine = build_engine(config, store, clock=clock)
        emu.reset_requests()
        t = time.perf_counter()
        first = engine.cycle()
        wall = time.perf_counter() - t
        log = list(emu.requests)
        lists = sum(1 for m, p, _ in log if m == "GET" and p.split("?")[0].endswith("/issues"))
        timelines = sum(1 for m, p, _ in log if "/timeline" in p)
        out = {"case": f"{repos} x {issues}, {len(picked)} recent, backfill {backfill}", "requests": len(log),
               "lists": lists, "timelines": timelines, "first_cycle_s": round(wall, 1),
               "requests_per_100_recent": round(100 * len(log) / len(picked), 1),
               "findings": len(first.findings), "planned_first_cycle": first.planned, "setup_s": round(setup, 1)}
        start = clock()
        first_nudge, nudges_day = None, 0
        while clock() < start + timedelta(days=1):
            clock.advance(timedelta(minutes=15))
            report = engine.cycle()
            done = sum(1 for d in report.deliveries if d.status == "done")
            if done and first_nudge is None:
                first_nudge = clock() - start
            nudges_day += done
        out["first_nudge_after"] = str(first_nudge) if first_nudge is not None else None
        out["nudges_first_24h"] = nudges_day
        store.engine.dispose()
    emu.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repos", type=int, default=10)
    ap.add_argument("--issues", type=int, default=1000)
    ap.add_argument("--recent", type=float, default=0.05, help="share of items updated within the window")
    ap.add_argument("--no-all", action="store_true", help='skip the backfill = "all" comparison')
    args = ap.parse_args(argv)
    from bridge.app.logging import configure_logging

    configure_logging(fmt="console", level="warning", stream=sys.stderr)
    rows = [run_case(args.repos, args.issues, args.recent, "14d")]
    if not args.no_all:
        rows.append(run_case(args.repos, args.issues, args.recent, "all"))
    keys = ["case", "requests", "lists", "timelines", "requests_per_100_recent", "first_cycle_s", "findings",
            "planned_first_cycle", "first_nudge_after", "nudges_first_24h", "setup_s"]
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
