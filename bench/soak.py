"""Soak: the real engine over thousands of cycles against the in-process GitHub emulator.

The three-hundredth day of a daemon (issue 13): does a cycle cost the same after 417 hours as
after one? The harness builds what ``tests/support/world.py`` builds (``GitHubEmulator`` on
loopback, a ``SteppingClock``, the config through ``parse_config``, the engine through
``build_engine``, the real ``Store`` on SQLite in a temp dir, PyGithub over real HTTP), with
the emulator in a child process driven over a pipe, and runs
``Engine.cycle()`` every ``--step`` minutes of simulated time (default 5 min: 5,000 cycles =
417 h).

The world in steady state: ``--rate`` handoffs per simulated hour (default 20), each a new
pull request by ``ana`` with ``ben``'s, ``cy``'s or ``dee``'s review requested. Every other one
is acknowledged (a comment by the receiver 30 min later, inside the 1 h deadline); the others
are nudged at the deadline by the daemon, and their author closes them 3 h after the request.
Schedules are every day 00:00-23:59 UTC, the write budget is 1,000 per hour, so every due
nudge goes out at once.

Printed per ``--every`` cycles (default 500): simulated hours, mean and p95 cycle wall time
(ms), of which the emulator spent answering (``emu ms``) and the rest (``daemon ms``), RSS of
the daemon's process at the end of the block (MiB, ``/proc/self/status`` VmRSS; the emulator
runs in a child process, so its growing world is not counted), and the sizes of what the engine keeps in memory (``Engine._persisted``,
``Engine._recorded``, the evaluator's snapshot cache). At the end: writes the daemon made,
markers standing twice (must be 0), handoffs nudged after their acknowledgement (must be 0),
and overdue unacknowledged handoffs never nudged (must be 0). Exit 1 if one is not 0.

Usage (from the repository root)::

    .venv/bin/python bench/soak.py [--cycles 5000] [--every 500] [--rate 20] [--step 5]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bridge.app.logging import configure_logging  # noqa: E402
from bridge.app.wiring import build_engine  # noqa: E402
from bridge.config import parse_config  # noqa: E402
from bridge.core.clock import SteppingClock  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.sandbox.github.emulator import GitHubEmulator  # noqa: E402

TOKEN = "ghp_soak_token_0a1b2c"
BOT = "hb-bot"
REPO_NAME = "acme/web"
RECEIVERS = ("ben-o", "cy-p", "dee-r")
MARKER = re.compile(r"hb:[0-9a-f]{12}")
START = datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def config_text(db: Path, url: str) -> str:
    people = "\n".join(f'[people.{login.split("-")[0]}]\naccounts = {{ github = "{login}" }}\n'
                       for login in ("ana-l", *RECEIVERS))
    return f"""
[daemon]
database = "sqlite:///{db}"

[defaults]
timezone = "UTC"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
working_hours = "00:00-23:59"

[connectors.github]
base_url = "{url}"
token = {{ env = "GH_TOKEN" }}
repositories = ["{REPO_NAME}"]
seconds_between_requests = 0
seconds_between_writes = 0
timeout = "5s"
write_budget_per_hour = 1000

{people}

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "1h"
need = "review"
next = "merge"
steps = [{{ after = "0h", do = "comment", template = "nudge" }}]
"""


def emulator_process(conn) -> None:
    """The child process: serve the GitHub emulator and run the harness's commands on it.

    Commands arrive as ``(name, args)`` tuples on ``conn``; each gets one answer. ``served``
    answers the seconds spent inside request handlers so far (the emulator's share of the
    daemon's cycle time). The emulator's clock is set by the parent before each cycle.
    """
    clock = SteppingClock(START)
    emu = GitHubEmulator(clock=clock)
    emu.requests = deque(maxlen=1000)  # the request log would grow with the run
    served = [0.0]
    inner = emu.app.wsgi_app

    def timed(environ, start_response):
        t0 = time.perf_counter()
        try:
            return inner(environ, start_response)
        finally:
            served[0] += time.perf_counter() - t0

    emu.app.wsgi_app = timed
    emu.start()
    for login in (BOT, "ana-l", *RECEIVERS):
        emu.add_user(login)
    emu.add_token(TOKEN, BOT)
    emu.create_repo(REPO_NAME)
    conn.send(emu.url)
    commands = {
        "set": lambda at: clock.set(at) and None,
        "open": lambda number, at, receiver: (emu.open_issue(REPO_NAME, "ana-l", f"Change {number}",
                                                             pull_request=True, at=at, number=number),
                                              emu.request_review(REPO_NAME, number, "ana-l", receiver,
                                                                 at=at + timedelta(seconds=1))) and None,
        "comment": lambda number, who, at: emu.comment(REPO_NAME, number, who, "Looking at it now.", at=at) and None,
        "close": lambda number, at: emu.close(REPO_NAME, number, "ana-l", at=at),
        "served": lambda: served[0],
        "bot_comments": lambda: {n: [(c["body"], c["created_at"]) for c in emu.comments(REPO_NAME, n)
                                     if c["user"]["login"] == BOT] for n in emu.numbers(REPO_NAME)},
        "rss": rss_mib,
    }
    while True:
        name, args = conn.recv()
        if name == "stop":
            emu.stop()
            conn.send(None)
            return
        conn.send(commands[name](*args))


class Soak:
    """The daemon (this process) and the emulator (a child process, so RSS is the daemon's own)."""

    def __init__(self, tmp: Path, rate: int, step: timedelta) -> None:
        self.clock = SteppingClock(START)
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.child = ctx.Process(target=emulator_process, args=(child,), daemon=True)
        self.child.start()
        url = self.pipe.recv()
        self.config = parse_config(config_text(tmp / "state.db", url), environ={"GH_TOKEN": TOKEN})
        self.store = Store.open(self.config.database_url())
        self.engine = build_engine(self.config, self.store, clock=self.clock)
        self.rate = rate
        self.step = step
        self.made = 0  # handoffs made so far
        self.acts: list[tuple[datetime, str, int, str]] = []  # (at, act, number, receiver)
        self.opened: dict[int, datetime] = {}
        self.acked: dict[int, datetime] = {}
        self.unacked: set[int] = set()

    def ask(self, name: str, *args):
        self.pipe.send((name, args))
        return self.pipe.recv()

    def schedule_handoffs(self, until: datetime) -> None:
        """Open the PRs whose request falls in (last, until]: one every 60/rate minutes."""
        gap = timedelta(hours=1) / self.rate
        while START + self.made * gap <= until:
            at = START + self.made * gap
            number = self.made + 1
            receiver = RECEIVERS[self.made % len(RECEIVERS)]
            self.ask("open", number, at, receiver)
            self.opened[number] = at
            if self.made % 2 == 0:
                self.acts.append((at + timedelta(minutes=30), "ack", number, receiver))
            else:
                self.unacked.add(number)
                self.acts.append((at + timedelta(hours=3), "close", number, receiver))
            self.made += 1

    def apply_acts(self, now: datetime) -> None:
        self.acts.sort()
        while self.acts and self.acts[0][0] <= now:
            at, act, number, receiver = self.acts.pop(0)
            if act == "ack":
                self.ask("comment", number, receiver, at)
                self.acked[number] = at
            else:
                self.ask("close", number, at)

    def cycle(self) -> tuple[float, float]:
        """One engine cycle: (wall seconds, of which the emulator spent answering)."""
        now = self.clock()
        self.ask("set", now)
        self.schedule_handoffs(now)
        self.apply_acts(now)
        served, t0 = self.ask("served"), time.perf_counter()
        self.engine.cycle()
        took = time.perf_counter() - t0
        self.clock.advance(self.step)
        return took, self.ask("served") - served

    def sizes(self) -> dict[str, int]:
        e = self.engine
        return {"persisted": len(e._persisted), "recorded": len(e._recorded or ()),
                "snapshots": len(e.evaluator.items._known)}

    def verdict(self) -> dict[str, int]:
        """Writes, duplicates, nudges after an acknowledgement, overdue never nudged."""
        markers: Counter[str] = Counter()
        after_ack = never = writes = 0
        now = self.clock()
        for number, bot in self.ask("bot_comments").items():
            writes += len(bot)
            for body, created_at in bot:
                found = MARKER.search(body)
                markers[found.group(0) if found else "?"] += 1
                acked = self.acked.get(number)
                if acked is not None and datetime.fromisoformat(created_at.replace("Z", "+00:00")) >= acked:
                    after_ack += 1
            # requested at open + 1 s, due 1 h later: nudged by the next cycle or two
            if number in self.unacked and not bot and self.opened[number] + timedelta(hours=1) + 3 * self.step < now:
                never += 1
        return {"writes": writes, "duplicates": sum(n - 1 for n in markers.values() if n > 1),
                "nudged_after_ack": after_ack, "overdue_never_nudged": never}

    def close(self) -> None:
        self.ask("stop")
        self.child.join(timeout=30)
        self.store.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=5000, help="cycles to run (default 5000 = 417 h at 5 min)")
    p.add_argument("--every", type=int, default=500, help="print a line per this many cycles (default 500)")
    p.add_argument("--rate", type=int, default=20, help="handoffs per simulated hour (default 20)")
    p.add_argument("--step", type=float, default=5.0, help="simulated minutes between cycles (default 5)")
    args = p.parse_args(argv)
    configure_logging(level="warning")  # one line per write would drown the figures
    with tempfile.TemporaryDirectory(prefix="hb-soak-") as tmp:
        soak = Soak(Path(tmp), args.rate, timedelta(minutes=args.step))
        try:
            print(f"{'cycles':>11} {'sim h':>6} {'mean ms':>8} {'p95 ms':>7} {'emu ms':>7} {'daemon ms':>9} {'RSS MiB':>8} "
                  f"{'persisted':>9} {'recorded':>8} {'snapshots':>9}", flush=True)
            rows = []
            block: list[float] = []
            emu: list[float] = []
            for i in range(1, args.cycles + 1):
                took, served = soak.cycle()
                block.append(took)
                emu.append(served)
                if i % args.every == 0 or i == args.cycles:
                    gc.collect()
                    mean = statistics.fmean(block) * 1000
                    emu_ms = statistics.fmean(emu) * 1000
                    p95 = sorted(block)[max(0, int(len(block) * 0.95) - 1)] * 1000
                    hours = (soak.clock() - START) / timedelta(hours=1)
                    sizes = soak.sizes()
                    rows.append((mean, rss_mib(), mean - emu_ms))
                    print(f"{i - len(block) + 1:>5}-{i:<5} {hours:>6.0f} {mean:>8.1f} {p95:>7.1f} {emu_ms:>7.1f} "
                          f"{mean - emu_ms:>9.1f} {rss_mib():>8.1f} "
                          f"{sizes['persisted']:>9} {sizes['recorded']:>8} {sizes['snapshots']:>9}", flush=True)
                    block, emu = [], []
            v = soak.verdict()
            print(f"handoffs {soak.made}, writes {v['writes']}, duplicates {v['duplicates']}, "
                  f"nudged after ack {v['nudged_after_ack']}, overdue never nudged {v['overdue_never_nudged']}")
            if len(rows) > 1:
                print(f"first block → last block: cycle {rows[0][0]:.1f} → {rows[-1][0]:.1f} ms "
                      f"(daemon {rows[0][2]:.1f} → {rows[-1][2]:.1f} ms), "
                      f"RSS {rows[0][1]:.1f} → {rows[-1][1]:.1f} MiB")
            return 0 if v["duplicates"] == v["nudged_after_ack"] == v["overdue_never_nudged"] == 0 else 1
        finally:
            soak.close()


if __name__ == "__main__":
    sys.exit(main())
