"""How many Jira requests does a poll cycle cost? (cold crawl, idle, k changed issues)

Runs the real ``JiraConnector`` (official ``jira`` client's session) over real HTTP against
the in-process ``JiraEmulator`` (Cloud: ``/rest/api/3/search/jql``). The project is loaded
with the emulator's ``bulk_create`` (no HTTP). ``known=`` is an in-memory map of the
``updated`` of every issue returned so far (what ``store.item_updated_at`` gives the engine).
Requests are counted at the emulator and compared with ``PollResult.requests``.

Usage::

    python bench/jira_requests.py [--issues 10000] [--histories 3] [--truncated 5]
                                  [--changed 1,10,100] [--page 100]

1. cold crawl: cursor ``None``; every issue read, ``--truncated`` of them carry 45
   histories (Cloud embeds 40), so their changelogs are fetched (one bulkfetch per page
   holding any);
2. idle: clock +10 min, one poll with the stored cursor (goal: 1 request);
3. k changed: clock +10 min, one comment on each of k issues, clock +1 min, poll (goal:
   ``ceil(k/page)`` search pages), then one more idle poll.
Prints a table and peak RSS.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.core.clock import SteppingClock  # noqa: E402
from connectors.jira.client import JiraConnector  # noqa: E402
from connectors.sandbox.jira.emulator import JiraEmulator  # noqa: E402

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
SCOPE = "project = WEB"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=10_000)
    ap.add_argument("--histories", type=int, default=3)
    ap.add_argument("--truncated", type=int, default=5)
    ap.add_argument("--changed", default="1,10,100")
    ap.add_argument("--page", type=int, default=100)
    a = ap.parse_args()
    clock = SteppingClock(T0)
    emu = JiraEmulator(clock=clock).start()
    emu.add_user("bot", "Bot", email="bot@example.com", time_zone="Asia/Tokyo")
    emu.add_token("tok", "bot", email="bot@example.com")
    emu.add_user("dev")
    keys = emu.bulk_create("WEB", a.issues - a.truncated, "dev", histories_per_issue=a.histories,
                           start=T0 - timedelta(days=30), step=timedelta(seconds=30))
    keys += emu.bulk_create("WEB", a.truncated, "dev", histories_per_issue=45, start=T0 - timedelta(hours=1))
    conn = JiraConnector("jira", base_url=emu.url, token="tok", email="bot@example.com", jql=[SCOPE],
                         page_size=a.page, clock=clock)
    stored: dict = {}
    cursor = None
    rows = []

    def cycle(label: str, goal: str) -> None:
        nonlocal cursor
        emu.reset_requests()
        t = time.perf_counter()
        r = conn.poll(SCOPE, cursor, known=lambda ks: {k: stored[k] for k in ks if k in stored})
        dt = time.perf_counter() - t
        assert r.requests == len(emu.requests), (r.requests, emu.requests[:3])
        for it in r.items:
            stored[it.ref.key] = it.updated_at
        cursor = r.next_cursor or cursor
        kinds = {}
        for m, p, _ in emu.requests:
            name = p.split("?")[0].replace("/rest/api/", "")
            name = "issue/{key}/…" if name.startswith(("2/issue/", "3/issue/")) else name
            kinds[name] = kinds.get(name, 0) + 1
        rows.append((label, r.requests, goal, len(r.items), len(r.events), f"{dt:.2f}s",
                     ", ".join(f"{k} ×{v}" for k, v in kinds.items())))

    cycle("cold crawl", f"/myself + {math.ceil(a.issues / a.page)} pages + bulkfetch")
    clock.advance(timedelta(minutes=10))
    cycle("idle", "1")
    for k in [int(x) for x in a.changed.split(",")]:
        clock.advance(timedelta(minutes=10))
        for key in keys[:k]:
            emu.comment(key, "dev", "ping")
        clock.advance(timedelta(minutes=1))
        cycle(f"k = {k} changed", str(math.ceil(k / a.page)))
        clock.advance(timedelta(minutes=10))
        cycle("idle after", "1")
    emu.stop()
    print(f"Jira Cloud emulator, {a.issues} issues in one project, page {a.page}, "
          f"{a.truncated} with truncated changelogs (45 > 40 embedded)")
    print(f"{'cycle':<16} {'requests':>8} {'goal':>28} {'issues':>7} {'events':>7} {'time':>7}  requests by endpoint")
    for label, n, goal, items, events, dt, kinds in rows:
        print(f"{label:<16} {n:>8} {goal:>28} {items:>7} {events:>7} {dt:>7}  {kinds}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {rss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
