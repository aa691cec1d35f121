"""The daemon's parts without a process: connector health at start, the store lock, the
journald priority prefix, the log settings from the environment, the deploy README."""

from __future__ import annotations

import io
import json
import os
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bridge.app.logging import configure_logging, journal_stream, logging_settings_from_env
from bridge.app.wiring import LockedConnector, StoreLock
from bridge.config import Config
from bridge.core import errors
from bridge.core.clock import SteppingClock
from bridge.core.logs import get_logger
from bridge.engine.health import DOWN_BACKOFF_FIRST, DOWN_BACKOFF_MAX, Health, down_backoff

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- health at start


def test_a_connector_down_at_start_backs_off_with_one_line_then_comes_up():
    clock = SteppingClock(T0)
    h = Health(["jira", "github"], clock)
    with capture_logs() as logs:
        h.failed("jira", errors.TransientError("jira", "GET /myself: ConnectionError"))
        assert not h.available("jira") and h.available("github")
        waits = []
        for _ in range(12):
            start = clock()
            while not h.available("jira"):
                clock.advance(timedelta(seconds=1))
            waits.append(clock() - start)
            h.failed("jira", errors.TransientError("jira", "GET /myself: ConnectionError"))
        assert "jira" in h.unhealthy()
        clock.advance(DOWN_BACKOFF_MAX)
        h.recovered("jira")
    assert waits[0] == DOWN_BACKOFF_FIRST and waits[1] == DOWN_BACKOFF_FIRST * 2
    assert waits == sorted(waits) and waits[-1] == DOWN_BACKOFF_MAX
    assert [e["event"] for e in logs] == ["connector_down", "connector_up"]
    assert logs[0]["connector"] == "jira" and logs[0]["log_level"] == "warning"
    assert h.unhealthy() == {} and h.available("jira")


def test_a_connector_polled_every_second_backs_off_from_one_second_not_ten():
    """In the chaos run a daemon restarted under faults lost 10 s per tool after each restart:
    one failed first poll (a 503) paused a connector polled every second for 10 s."""
    clock = SteppingClock(T0)
    h = Health(["jira"], clock, first_wait={"jira": timedelta(seconds=1)})
    h.failed("jira", errors.TransientError("jira", "GET /search/jql: server error 503"))
    assert not h.available("jira")
    clock.advance(timedelta(seconds=1))
    assert h.available("jira"), "tried again after its own poll interval"
    h.failed("jira", errors.TransientError("jira", "GET /search/jql: server error 503"))
    clock.advance(timedelta(seconds=1))
    assert not h.available("jira") and (clock.advance(timedelta(seconds=1)) or h.available("jira")), "then 2 s"


def test_a_tracker_that_answers_a_server_error_at_start_is_failing_not_down():
    """It is reachable: retried at its next poll, not after a growing backoff (in the chaos run
    a 503 on the first poll after each restart paused a tool for 10 s, then 20 s, ...)."""
    from connectors import http

    clock = SteppingClock(T0)
    h = Health(["jira"], clock)
    with capture_logs() as logs:
        h.failed("jira", http.error_for("jira", 503, {}, "GET /search/jql", now=clock()))
        assert h.available("jira"), "no backoff: it answered"
        h.failed("jira", http.no_answer("jira", "GET /search/jql", "ConnectionError", write=False))
        assert not h.available("jira"), "no answer at all: down, backing off"
    assert [e["event"] for e in logs] == ["connector_failing", "connector_down"]


def test_the_engine_starts_the_down_backoff_at_the_shorter_of_10_s_and_poll_every(tmp_path):
    from tests.support.world import World

    w = World(tmp_path, connector='poll_every = "2s"')
    try:
        assert w.engine.health.first_wait == {"github": timedelta(seconds=2)}
    finally:
        w.close()
    w = World(tmp_path / "b")
    try:
        assert w.engine.health.first_wait == {"github": DOWN_BACKOFF_FIRST}, "poll_every 1m: 10 s as before"
    finally:
        w.close()


def test_a_token_refused_at_start_is_retried_but_refused_after_answering_stops():
    clock = SteppingClock(T0)
    h = Health(["jira"], clock)
    with capture_logs() as logs:
        h.failed("jira", errors.AuthError("jira", "GET /myself: 401"))
        assert not h.available("jira")
        clock.advance(DOWN_BACKOFF_FIRST)
        assert h.available("jira"), "refused at start: tried again after the backoff"
        h.recovered("jira")
        h.failed("jira", errors.AuthError("jira", "GET /search: 401"))
        clock.advance(DOWN_BACKOFF_MAX * 10)
        assert not h.available("jira"), "refused after it answered: stopped until reload"
    assert [(e["event"], e["log_level"]) for e in logs] == [("connector_down", "error"), ("connector_up", "info"),
                                                        ("connector_stopped", "error")]


def test_down_backoff_is_bounded_and_monotone():
    waits = [down_backoff(tries) for tries in range(1, 200)]
    assert waits[0] == DOWN_BACKOFF_FIRST and waits[-1] == DOWN_BACKOFF_MAX
    assert waits == sorted(waits)


# --------------------------------------------------------------------------- store lock


class SlowTool:
    """A connector stand-in whose poll blocks until told to return."""

    name = tool = "slow"

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.known_held: list[bool] = []

    def poll(self, scope, cursor, known=None):
        self.entered.set()
        assert self.release.wait(10)
        if known:
            known(["x"])
        return "polled"

    def mention(self, account):
        return f"@{account}"


def test_a_tool_call_releases_the_store_lock_and_its_callbacks_retake_it():
    lock = StoreLock()
    tool = SlowTool()
    conn = LockedConnector(tool, lock)
    seen = []

    def known(keys):
        seen.append(lock.held())
        return {}

    def cycle():
        with lock:
            seen.append(conn.poll("s", None, known=known))
            seen.append(lock.held())

    t = threading.Thread(target=cycle)
    t.start()
    assert tool.entered.wait(10)
    with lock:  # another connector's cycle gets the store while the slow call is out
        assert conn.mention("ana") == "@ana" and conn.name == "slow"
    tool.release.set()
    t.join(10)
    assert seen == [True, "polled", True]


def test_the_store_lock_is_not_taken_by_a_thread_that_does_not_hold_it():
    lock = StoreLock()
    assert not lock.held()
    with lock.released():  # no-op outside the lock
        assert not lock.held()
    with lock:
        assert lock.held()
        with lock.released():
            assert not lock.held()
            with lock.reacquired():
                assert lock.held()
            assert not lock.held()
        assert lock.held()


# --------------------------------------------------------------------------- journald priority


@pytest.fixture
def relog():
    """Give logging back to stderr after a test that pointed it at a file it closes."""
    yield
    configure_logging(fmt="json", level="info")


def test_lines_carry_the_syslog_priority_when_the_stream_is_the_journal(tmp_path, relog):
    path = tmp_path / "journal"
    with open(path, "w") as out:
        st_ = os.fstat(out.fileno())
        env = {"JOURNAL_STREAM": f"{st_.st_dev}:{st_.st_ino}"}
        assert journal_stream(out, env)
        configure_logging(fmt="json", level="debug", stream=out, environ=env)
        log = get_logger("bridge.test")
        log.error("e1")
        log.warning("w1")
        log.info("i1")
        log.debug("d1")
        import logging
        logging.getLogger("apscheduler.scheduler").error("from a library")
    lines = path.read_text().splitlines()
    prefixes = [re.match(r"<(\d)>", ln).group(1) for ln in lines]
    assert prefixes == ["3", "4", "6", "7", "3"]
    assert [json.loads(ln[3:])["event"] for ln in lines][:4] == ["e1", "w1", "i1", "d1"]


def test_no_prefix_when_the_stream_is_not_the_journal(tmp_path, relog):
    with open(tmp_path / "other", "w") as other, open(tmp_path / "journal", "w") as journal:
        st_ = os.fstat(journal.fileno())
        env = {"JOURNAL_STREAM": f"{st_.st_dev}:{st_.st_ino}"}
        assert not journal_stream(other, env) and not journal_stream(io.StringIO(), env) and not journal_stream(other, {})
        buf = io.StringIO()
        configure_logging(fmt="json", level="info", stream=buf, environ=env)
        get_logger("bridge.test").error("plain")
        assert json.loads(buf.getvalue())["event"] == "plain"


# --------------------------------------------------------------------------- settings and docs


def test_environment_overrides_the_config_log_settings():
    assert logging_settings_from_env({}, fmt="json", level="warning") == {"fmt": "json", "level": "warning"}
    assert logging_settings_from_env({"HANDOFF_BRIDGE_LOG_LEVEL": " Debug "}, fmt="json", level="warning") == \
        {"fmt": "json", "level": "debug"}
    assert logging_settings_from_env({"HANDOFF_BRIDGE_LOG_FORMAT": "", "HANDOFF_BRIDGE_LOG_LEVEL": " "},
                                     fmt="console", level="error") == {"fmt": "console", "level": "error"}


def test_the_deploy_readme_names_only_tables_the_config_accepts():
    text = (REPO / "deploy/systemd/README.md").read_text()
    tables = re.findall(r"^\s*#?\s*\[\[?([A-Za-z0-9_.\-]+)\]?\]\s*$", text, flags=re.M)
    assert tables, "the README shows a config table"
    fields = set(Config.model_fields)
    for table in tables:
        head, _, rest = table.partition(".")
        assert head in fields, f"[{table}] in deploy/systemd/README.md: the config has no {head!r} table"
        if head == "connectors":
            assert rest in ("github", "jira", "asana"), table


# --------------------------------------------------------------------------- one connector's cycle


def test_a_cycle_for_some_connectors_sends_only_their_rows(tmp_path):
    """The daemon runs each connector's cycle on its own thread: a row must only be sent by the
    cycle of its own connector (another's would work from a stale outbox snapshot)."""
    from bridge.engine.cycle import CycleReport
    from tests.support.world import World, berlin

    w = World(tmp_path, start="2026-11-23 12:00", extra='[adoption]\ngrace = "0h"\n')  # old: adopted, nudged now
    try:
        w.emu.open_issue("acme/web", "ana", "Old request", pull_request=True, at=berlin("2026-11-20 09:00"), number=12)
        w.emu.request_review("acme/web", 12, "ana", "ben-o", at=berlin("2026-11-20 09:05"))
        for name, scope, result in w.engine.poll(CycleReport(at=w.clock()), {"github"}):
            w.engine.store_result(name, scope, result)
        other = w.engine.cycle(only=set())  # evaluates and plans, but is no connector's cycle
        assert other.findings and other.planned, "precondition: the overdue review is planned"
        assert other.deliveries == [] and w.bot_comments() == []
        mine = w.engine.cycle(only={"github"})
        assert [d.status for d in mine.deliveries] == ["done"] and len(w.bot_comments()) == 1
    finally:
        w.close()
