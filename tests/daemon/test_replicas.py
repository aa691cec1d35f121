"""Several ``handoff-bridge run`` replicas on one PostgreSQL database (issue 14).

Real processes, real time, a real PostgreSQL server (``tests/support/postgres.py``), and the
three emulators served by the test process through their demo stages (the chaos harness's
world, ``bench/chaos.py``: GitHub, Jira and Asana items handed off to receivers who never
answer; one rule: a nudge comment at the deadline, a draft 20 s later).

The replicas start at the same moment on an empty database (they race on the migrations), the
leader is killed with ``kill -9`` once the first write went out, and the test waits (deadlines
only, no fixed sleep) until every due step is out. Then: every marker stands exactly once,
every item got its nudge and its draft, no outbox row is cancelled while its finding stands,
and no replica logged a traceback.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

import bench.chaos as chaos

REPO = Path(__file__).resolve().parents[2]
WITHIN_S = 15  # the rule's deadline (the draft follows 20 s later)

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25, explain=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{explain()}")
        time.sleep(interval)


def config(url: str, sections: dict) -> str:
    within, chaos.WITHIN_S = chaos.WITHIN_S, WITHIN_S
    try:
        toml = chaos.config_toml(Path("unused.db"), sections)
    finally:
        chaos.WITHIN_S = within
    lines = toml.splitlines()
    lines[1] = f"database = {chaos.toml_value(url)}"
    return "\n".join(lines) + "\n"


class Replica:
    def __init__(self, n: int, cfg: Path, env: dict, workdir: Path):
        self.n, self.out = n, workdir / f"replica{n}.log"
        with open(self.out, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "run", "--config", str(cfg)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=REPO)

    def log(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.mark.parametrize("replicas", [2, 4])
def test_replicas_started_at_once_one_killed_post_every_step_exactly_once(replicas, postgres_server, tmp_path):
    url = postgres_server.database()
    world = chaos.World(n_items=9, rng=random.Random(14), handoff_window=1.0)
    running: list[Replica] = []
    try:
        sections, env = world.sections()
        cfg = tmp_path / "config.toml"
        cfg.write_text(config(url, sections))
        env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        running = [Replica(n, cfg, env, tmp_path) for n in range(replicas)]  # at once, on an empty database

        # Every replica comes up (none crashed in the migrations) and the scopes are split.
        wait_for(lambda: all('"started"' in r.log() for r in running), 120, "every replica to start")
        assert all(r.proc.poll() is None for r in running), [r.log()[-2000:] for r in running]
        wait_for(lambda: sum('"scope_claimed"' in r.log() for r in running) >= min(replicas, 3), 120,
                 "the scopes to be split between replicas")
        for item in world.items:
            world.handoff(item)

        wait_for(lambda: world.bot_writes(), 180, "the first write")
        [leader] = wait_for(lambda: [r for r in running if '"leader_elected"' in r.log()] or None, 60, "a leader")
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait(timeout=30)
        survivors = [r for r in running if r is not leader]

        def outbox_rows():
            engine = create_engine(url, poolclass=pool.NullPool)
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT key, marker, connector, status, attempts, sent_at, last_error "
                                         "FROM outbox ORDER BY key")).all()
            engine.dispose()
            return rows

        def every_step_out():  # a nudge and a draft per item, every row confirmed done
            rows = outbox_rows()
            return rows if len(rows) == 2 * len(world.items) and all(r.status == "done" for r in rows) else None

        def explain() -> str:
            # who held which scope and which tool was down: what a timeout here needs to be read
            said = ("scope_", "connector_", "leader_", "poll_crashed", "replica_")
            logs = "".join(f"\nreplica {r.n}{' (killed)' if r is leader else ''}:\n" + "\n".join(
                [line[:300] for line in r.log().splitlines() if any(f'"{w}' in line for w in said)][-25:])
                for r in running)
            return "\noutbox:\n" + "\n".join(map(str, outbox_rows())) + "\nwritten:\n" + "\n".join(
                f"{w['tool']} {w['where']} {w['marker']} draft={bool(w.get('draft'))}" for w in world.bot_writes()) + logs

        rows = wait_for(every_step_out, 300, "every item's nudge and draft after the kill", interval=1.0,
                        explain=explain)
        written = world.bot_writes()
        assert any('"leader_elected"' in r.log() for r in survivors), "a survivor took the lead over"
        markers = [w["marker"] for w in written]
        assert None not in markers
        assert sorted(m for m in set(markers) if markers.count(m) > 1) == [], "a marker stands twice"
        assert sorted(markers) == sorted(r.marker for r in rows), "every step stands once, under its own marker"
        nudged = {(w["tool"], w["where"]) for w in written if not w.get("draft")}
        assert nudged == {(it.tool, it.key) for it in world.items}, "every item got its nudge"

        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            cancelled = conn.execute(text(
                "SELECT o.key FROM outbox o JOIN findings f ON f.key = o.finding_key "
                "WHERE o.status = 'cancelled' AND f.resolved_at IS NULL")).all()
        engine.dispose()
        assert cancelled == [], "rows cancelled while their finding stands"
        for r in running:
            assert chaos.TRACEBACK not in r.log(), r.log()[-3000:]
    finally:
        for r in running:
            r.stop()
        world.stop()
