"""How many GitHub requests does a poll cycle cost? (cold crawl, idle, k changed items)

Runs the real ``GitHubConnector`` over real HTTP against the in-process
``GitHubEmulator`` and stores every poll with the real ``Store`` (SQLite in a temp dir),
the way ``bridge/engine/cycle.py`` does (``known=`` is ``store.item_updated_at("github", keys)``).
Requests are counted at the emulator (its ``requests`` log) and compared with the
connector's own ``PollResult.requests``; the bench fails if they disagree.

Usage::

    python bench/github_requests.py [--repos 1,10] [--issues 1000] [--changed 1,10,100]
                                    [--big-repo 10000] [--per-page 100]

``--repos 1,10,100`` adds the 100-repository case (its cold crawl alone takes minutes).

Per scenario (N repositories of M issues each; plus one repository of ``--big-repo``
issues to show that the cost of a change does not depend on the backlog):

1. setup through the emulator's Python methods (no HTTP), on a ``SteppingClock``; issue
   ``j`` is created ``j`` minutes after a fixed start, so timestamps are deterministic;
2. cold cycle: every repository polled once with cursor ``None`` (list pages + one
   timeline per issue: a full crawl);
3. idle cycles: clock +1 minute, every repository polled with its stored cursor (twice:
   the first idle poll after the cold crawl asks a different query, see README);
4. k changed: for each k, clock +10 minutes (more than the connector's 2-minute overlap),
   one comment on each of k issues spread round-robin over the repositories, clock +1
   minute, poll everything. Expected requests: per repository with c > 0 changes
   ``ceil(c / per_page)`` list pages + ``c`` timelines, per unchanged repository one 304;
   then clock +1 minute and one more idle poll (expected: one request per repository).

Prints one table; peak RSS at the end.
"""

from __future__ import annotations

import argparse
import math
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.core.clock import SteppingClock  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.github.client import GitHubConnector  # noqa: E402
from connectors.sandbox.github.emulator import GitHubEmulator  # noqa: E402

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
TOKEN = "ghp_bench_token"
TOOL = "github"


@dataclass
class CycleStats:
    label: str
    emulator: int  # requests in the emulator's log
    connector: int  # sum of PollResult.requests
    statuses: Counter
    lists: int  # GET .../issues (list pages, 200 or 304)
    timelines: int  # GET .../issues/{n}/timeline
    other: list  # anything else (method, path, status): unexpected
    wall: float
    expected: int | None = None
    changed_repos: int | None = None
    listed: int | None = None  # items the 200 list pages carried (changed + overlap re-reads)
    events: int = 0


def _classify(log: list[tuple[str, str, int]]) -> tuple[int, int, list]:
    lists = timelines = 0
    other = []
    for method, path, status in log:
        bare = path.split("?", 1)[0]
        if method == "GET" and bare.endswith("/timeline"):
            timelines += 1
        elif method == "GET" and bare.endswith("/issues"):
            lists += 1
        else:
            other.append((method, path, status))
    return lists, timelines, other


@dataclass
class Scenario:
    repos: int
    issues: int
    per_page: int
    workdir: Path
    clock: SteppingClock = field(init=False)
    emu: GitHubEmulator = field(init=False)
    store: Store = field(init=False)
    conn: GitHubConnector = field(init=False)
    names: list[str] = field(init=False)
    setup_wall: float = 0.0

    def __post_init__(self) -> None:
        t = time.perf_counter()
        self.clock = SteppingClock(T0)
        self.emu = GitHubEmulator(clock=self.clock)
        self.emu.add_user("alice")
        self.emu.add_token(TOKEN, "handoff-bot")
        self.names = [f"bench/r{r:03d}-{self.issues}" for r in range(self.repos)]
        for name in self.names:
            self.emu.create_repo(name)
        for name in self.names:
            for j in range(self.issues):
                self.emu.open_issue(name, "alice", f"Issue {j + 1}", body="",
                                    at=T0 + timedelta(minutes=j), number=j + 1)
        self.clock.set(T0 + timedelta(minutes=self.issues))
        self.emu.start()
        self.store = Store.open(f"sqlite:///{self.workdir / 'state.db'}")
        self.conn = GitHubConnector(
            TOOL, base_url=self.emu.url, token=TOKEN, repositories=self.names,
            per_page=self.per_page, clock=self.clock,
            seconds_between_requests=0, seconds_between_writes=0)
        self.setup_wall = time.perf_counter() - t

    def close(self) -> None:
        self.emu.stop()
        self.store.engine.dispose()

    def cycle(self, label: str) -> CycleStats:
        """Poll every repository once, as Engine.poll does; count at the emulator."""
        self.emu.reset_requests()
        connector = events = 0
        t = time.perf_counter()
        for scope in self.names:
            cursor = self.store.get_cursor(TOOL, scope)
            result = self.conn.poll(scope, cursor,
                                    known=lambda keys: self.store.item_updated_at(TOOL, keys))
            events += self.store.save_poll(TOOL, scope, result, self.clock())
            connector += result.requests
        wall = time.perf_counter() - t
        log = list(self.emu.requests)
        lists, timelines, other = _classify(log)
        stats = CycleStats(label, len(log), connector, Counter(s for _, _, s in log),
                           lists, timelines, other, wall, events=events)
        if stats.emulator != stats.connector:
            raise SystemExit(f"{label}: emulator served {stats.emulator} requests, "
                             f"connector counted {stats.connector}")
        return stats

    def change(self, k: int) -> dict[str, list[int]]:
        """Comment on k issues, round-robin over repositories, spread over each repository."""
        per_repo: dict[str, int] = Counter()
        for i in range(k):
            per_repo[self.names[i % self.repos]] += 1
        picked: dict[str, list[int]] = {}
        for name, c in per_repo.items():
            if c > self.issues:
                raise SystemExit(f"cannot change {c} issues in a repository of {self.issues}")
            stride = self.issues // c
            # odd offset: not the newest issues, so the change is what makes them listed
            picked[name] = [1 + (j * stride + stride // 2) % self.issues for j in range(c)]
            for n in picked[name]:
                self.emu.comment(name, n, "alice", f"bench change on #{n}")
        return picked

    def listed_since_cursor(self, repos: list[str]) -> int:
        """Items the next list call of ``repos`` returns (changed + re-read by the overlap)."""
        total = 0
        for name in repos:
            cur = self.store.get_cursor(TOOL, name)
            since = datetime.fromisoformat(cur["since"].replace("Z", "+00:00")) - self.conn.overlap
            total += sum(1 for n in range(1, self.issues + 1)
                         if datetime.fromisoformat(self.emu.issue(name, n)["updated_at"]
                                                   .replace("Z", "+00:00")) >= since)
        return total


def expected_requests(picked: dict[str, list[int]], repos: int, per_page: int) -> int:
    changed = sum(math.ceil(len(v) / per_page) + len(v) for v in picked.values())
    return changed + (repos - len(picked))


def run(repos: int, issues: int, ks: list[int], per_page: int, rows: list, idle: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-gh-") as tmp:
        sc = Scenario(repos, issues, per_page, Path(tmp))
        try:
            scen = f"{repos}x{issues}"
            print(f"# {scen}: setup {sc.setup_wall:.1f}s", file=sys.stderr, flush=True)
            rows.append((scen, sc.cycle("cold")))
            print(f"# {scen}: cold {rows[-1][1].wall:.1f}s", file=sys.stderr, flush=True)
            if idle:
                for i in (1, 2):
                    sc.clock.advance(timedelta(minutes=1))
                    rows.append((scen, sc.cycle(f"idle #{i}")))
            for k in ks:
                sc.clock.advance(timedelta(minutes=10))
                picked = sc.change(k)
                sc.clock.advance(timedelta(minutes=1))
                listed = sc.listed_since_cursor(list(picked))
                st = sc.cycle(f"k={k}")
                st.expected = expected_requests(picked, repos, per_page)
                st.changed_repos = len(picked)
                st.listed = listed
                rows.append((scen, st))
                # the next idle poll: one request per repository again, but a repository
                # whose cursor moved asks a new query (new since=), so its ETag cannot match
                sc.clock.advance(timedelta(minutes=1))
                st = sc.cycle(f"idle after k={k}")
                st.expected = repos
                rows.append((scen, st))
        finally:
            sc.close()


def table(rows: list) -> str:
    head = ("scenario", "cycle", "requests", "connector", "expected", "lists", "timelines",
            "200", "304", "listed", "events", "wall s", "req/s")
    out = [head]
    for scen, s in rows:
        out.append((
            scen, s.label, str(s.emulator), str(s.connector),
            "" if s.expected is None else str(s.expected),
            str(s.lists), str(s.timelines), str(s.statuses.get(200, 0)),
            str(s.statuses.get(304, 0)), "" if s.listed is None else str(s.listed),
            str(s.events), f"{s.wall:.2f}", f"{s.emulator / s.wall:.0f}" if s.wall else ""))
    widths = [max(len(r[i]) for r in out) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in out]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 100 x 1,000 is a 101,000-request cold crawl (~5 minutes here): opt in with --repos 1,10,100
    ap.add_argument("--repos", default="1,10", help="repository counts, comma-separated")
    ap.add_argument("--issues", type=int, default=1000, help="issues per repository")
    ap.add_argument("--changed", default="1,10,100", help="k values, comma-separated")
    ap.add_argument("--big-repo", type=int, default=10000,
                    help="issues in the extra single repository (0 = skip)")
    ap.add_argument("--per-page", type=int, default=100)
    args = ap.parse_args(argv)
    repo_counts = [int(x) for x in args.repos.split(",") if x.strip()]
    ks = [int(x) for x in args.changed.split(",") if x.strip()]

    started = time.perf_counter()
    rows: list = []
    for n in repo_counts:
        run(n, args.issues, ks, args.per_page, rows, idle=True)
    if args.big_repo:
        run(1, args.big_repo, ks, args.per_page, rows, idle=True)
    total = time.perf_counter() - started

    print(table(rows))
    unexpected = [(scen, s.label, o) for scen, s in rows for o in s.other]
    if unexpected:
        print("\nunexpected requests:")
        for scen, label, o in unexpected:
            print(f"  {scen} {label}: {o}")
    off = [(scen, s.label, s.emulator, s.expected) for scen, s in rows
           if s.expected is not None and s.emulator != s.expected]
    for scen, label, got, want in off:
        print(f"note: {scen} {label}: {got} requests, formula says {want}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"\npeak RSS {rss / 1024:.0f} MiB; total {total:.0f}s; python "
          f"{platform.python_version()}; per_page {args.per_page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
