"""Replicas on one real PostgreSQL server: the advisory-lock work split (``bridge.store.locks``),
the outbox claim, migrations started at once, ``migrate`` and ``store copy``."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect, pool, text

from bridge.app.cli import main
from bridge.core.model import Account, Event, EventKind, ItemRef, PollResult
from bridge.store import FindingRow, OutboxRow, Store
from bridge.store.locks import AdvisoryLocks, Solo, coordinator_for
from bridge.store.store import upgrade

T = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
SCOPES = {"github": ["acme/web", "acme/api", "acme/ops"], "jira": ["project = WEB"]}


def _pairs():
    return [(c, s) for c, scopes in SCOPES.items() for s in scopes]


def _replica(url: str) -> AdvisoryLocks:
    locks = AdvisoryLocks(url)
    locks.member_refresh = 0  # count the replicas at every claim
    locks.watch(SCOPES)
    return locks


def _sweep(locks: AdvisoryLocks) -> set[tuple[str, str]]:
    """One cycle's worth of claims: the scopes this replica polls now."""
    return {(c, s) for c, s in _pairs() if locks.claim(c, s)}


def test_a_sqlite_store_is_solo_and_a_postgresql_one_is_split():
    assert isinstance(coordinator_for("sqlite:///x.db"), Solo)
    assert isinstance(coordinator_for("postgresql+psycopg://u@h/db"), AdvisoryLocks)


def test_scopes_are_split_into_fair_shares_each_polled_by_one_replica(postgres_server):
    url = postgres_server.database()
    a, b = _replica(url), _replica(url)
    try:
        assert _sweep(a) == set(_pairs())  # alone: every scope
        assert _sweep(b) == set()  # joined: everything is held
        first = _sweep(a)  # gives back what is above its share (ceil(4 / 2) = 2)
        assert len(first) == 2
        second = _sweep(b)
        assert len(second) == 2 and not (first & second)
        assert _sweep(a) == first and _sweep(b) == second  # stable from then on
    finally:
        a.close()
        b.close()


def test_a_dead_replica_loses_its_scopes_and_the_lead_to_the_others(postgres_server):
    url = postgres_server.database()
    a, b = _replica(url), _replica(url)
    try:
        assert a.leader() and not b.leader()
        _sweep(a), _sweep(b), _sweep(a), _sweep(b)
        assert a.held() == b.held() == 2
        # kill -9 of a replica: its connection ends, and PostgreSQL drops its session locks
        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
                                  "AND classid = :s AND objid = :k"), {"s": 0x6862, "k": 2}).scalar_one()
        engine.dispose()
        assert n == 1
        deadline = time.monotonic() + 30  # the terminated backend exits (and unlocks) a moment later
        while not b.leader() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.leader() and b.term == 1
        assert _sweep(b) == set(_pairs())  # within its next cycle
        assert not a.leader() and _sweep(a) == set()  # the dead session knows it lost everything
    finally:
        a.close()
        b.close()


def test_a_replica_whose_tool_is_down_gives_its_scopes_to_one_that_reaches_it(postgres_server, tmp_path):
    """A replica whose connector never answered since start backs off (up to 10 min); it held
    its scopes meanwhile, so nobody polled them (the replica test saw a tool's items get no
    nudge for five minutes). It now gives them back at once and another replica polls them."""
    from structlog.testing import capture_logs

    from bridge.app.wiring import build_engine
    from bridge.config import parse_config
    from tests.support.world import TOKEN, World

    url = postgres_server.database()
    world = World(tmp_path, database=url)  # replica B reaches the emulator
    dead = world.config_text.replace(world.emu.url, "http://127.0.0.1:9")  # replica A: nothing answers
    config_a = parse_config(dead, environ={"GH_TOKEN": TOKEN})
    locks_a, locks_b = AdvisoryLocks(url), AdvisoryLocks(url)
    locks_a.member_refresh = locks_b.member_refresh = 0
    try:
        a = build_engine(config_a, Store.open(url), clock=world.clock, coordinator=locks_a)
        with capture_logs() as logs:
            report_a = a.cycle()  # alone: it claims the scope, and the poll finds nobody there
        assert report_a.polled == [] and report_a.errors
        events = [(e["event"], e.get("reason")) for e in logs if e["event"].startswith(("scope_", "connector_"))]
        assert events == [("scope_claimed", None), ("connector_down", events[1][1]), ("scope_released", "connector down")]
        assert locks_a.held() == 0
        b = build_engine(world.config, world.store, clock=world.clock, coordinator=locks_b)
        assert b.cycle().polled == ["github:acme/web"]  # at once, not after A's backoff
        world.clock.advance(timedelta(minutes=1))
        assert a.cycle().polled == [] and locks_a.held() == 0  # A, back from its backoff, finds it held
    finally:
        locks_a.close()
        locks_b.close()
        world.close()


def _row(key: str) -> OutboxRow:
    return OutboxRow(key=key, marker="hb:0123456789ab", finding_key="f1", rule="r", step=0, connector="github",
                     action="{}", status="pending", created_at=T)


def test_an_outbox_row_is_claimed_by_one_replica(database_url):
    one, two = Store.open(database_url), Store.open(database_url)
    one.record_finding_and_plan(FindingRow(key="f1", rule="r", detect="handoff", item_tool="github",
                                           item_key="acme/web#1", at=T, evidence="[]", summary="s", first_seen=T),
                                [_row("f1:0")])
    seen = two.outbox()[0]
    assert one.claim_outbox("f1:0", ("pending", 0), status="sending", attempts=1, sent_at=T) is not None
    assert two.claim_outbox("f1:0", (seen.status, seen.attempts), status="sending", attempts=1) is None
    assert [(r.status, r.attempts) for r in two.outbox()] == [("sending", 1)]
    one.engine.dispose()
    two.engine.dispose()


def test_a_row_locked_by_another_replica_is_skipped_not_waited_for(postgres_server):
    url = postgres_server.database()
    store = Store.open(url)
    store.record_finding_and_plan(FindingRow(key="f1", rule="r", detect="handoff", item_tool="github",
                                             item_key="acme/web#1", at=T, evidence="[]", summary="s", first_seen=T),
                                  [_row("f1:0")])
    other = create_engine(url, poolclass=pool.NullPool)
    with other.begin() as conn:  # another replica inside its claim
        conn.execute(text("SELECT key FROM outbox WHERE key = 'f1:0' FOR UPDATE"))
        assert store.claim_outbox("f1:0", ("pending", 0), status="sending") is None
    assert store.claim_outbox("f1:0", ("pending", 0), status="sending") is not None
    other.dispose()
    store.engine.dispose()


def test_replicas_migrating_an_empty_database_at_once_all_succeed(postgres_server):
    """Without the migration lock, one of two processes crashed inside Alembic in 5 of 5 trials
    (UniqueViolation on pg_type_typname_nsp_index). Processes, not threads: Alembic's context is
    process-global."""
    url = postgres_server.database()
    code = "import sys; from bridge.store.store import upgrade; upgrade(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    engine = create_engine(url, poolclass=pool.NullPool)
    assert {"events", "outbox", "cursors", "walk_states"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def _config(tmp_path, url: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[daemon]\ndatabase = "{url}"\n\n[connectors.github]\nbase_url = "http://127.0.0.1:9"\n'
                    f'token = {{ env = "GH_TOKEN" }}\nrepositories = ["acme/web"]\n', encoding="utf-8")
    return path


def test_migrate_command_brings_an_empty_postgresql_database_to_head(postgres_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GH_TOKEN", "ghp_x")
    url = postgres_server.database()
    assert main(["migrate", "--config", str(_config(tmp_path, url))]) == 0
    assert "newest schema" in capsys.readouterr().out
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def test_store_copy_moves_a_sqlite_store_to_postgresql_without_a_recrawl(postgres_server, tmp_path, capsys):
    src = f"sqlite:///{tmp_path}/state.db"
    dst = postgres_server.database()
    ref = ItemRef("github", "acme/web#1")
    ev = [Event("github", f"ev:{i}", ref, T, EventKind.COMMENTED, Account("github", "ana"), text="hi") for i in range(3)]
    store = Store.open(src)
    assert store.save_poll("github", "acme/web", PollResult(events=ev, next_cursor={"since": "x"}), T) == 3
    store.record_finding_and_plan(FindingRow(key="f1", rule="r", detect="handoff", item_tool="github",
                                             item_key="acme/web#1", at=T, evidence="[]", summary="s", first_seen=T),
                                  [_row("f1:0")])
    store.engine.dispose()

    assert main(["store", "copy", "--from", src, "--to", dst]) == 0
    out = capsys.readouterr().out
    assert "events       3 rows" in out
    moved = Store.open(dst)
    assert moved.get_cursor("github", "acme/web") == {"since": "x"}
    assert moved.events(ref) == ev
    assert [r.key for r in moved.outbox()] == ["f1:0"]
    new = Event("github", "ev:new", ref, T, EventKind.COMMENTED, Account("github", "ana"), text="again")
    assert moved.save_poll("github", "acme/web", PollResult(events=[*ev, new]), T) == 1  # keys continue after the copy
    moved.engine.dispose()

    assert main(["store", "copy", "--from", src, "--to", dst]) == 2  # never into a store that holds rows
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize("url, says", [("postgresql+nosuchdriver://u@h/db", "unknown database dialect"),
                                        ("nonsense", "expected a database URL")])
def test_store_copy_refuses_a_bad_url(url, says, tmp_path, capsys):
    assert main(["store", "copy", "--from", f"sqlite:///{tmp_path}/x.db", "--to", url]) == 2
    assert says in capsys.readouterr().err
