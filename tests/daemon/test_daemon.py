"""``handoff-bridge run`` as systemd runs it: a real process, real signals, real sockets.

The daemon polls a `GitHubEmulator` served on loopback by the test process (real time
clock, ``poll_every = "1s"``) and talks sd_notify(3) to an ``AF_UNIX``/``SOCK_DGRAM``
socket bound by the test, standing in for systemd. Every wait has a deadline; the child is
killed in a ``finally`` whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from connectors.sandbox.github.emulator import GitHubEmulator

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ghp_daemonTestToken_Zx81Qv3Lm0"
BOT = "handoff-bridge-bot"
ISSUES = "/repos/acme/web/issues?"

pytestmark = [pytest.mark.slow,  # the real daemon process in real time
              pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or sys.platform == "win32",
                                reason="sd_notify needs AF_UNIX and POSIX signals")]


def wait_for(predicate, timeout: float = 10.0, what: str = "condition", interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


CONFIG = """\
[daemon]
database = "sqlite:///{db}"
log_format = "json"

# The review was asked ten days ago: adopted at first sight, with no grace, so nudged at once.
[adoption]
grace = "0h"

[defaults]
timezone = "UTC"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
working_hours = "00:00-23:59"

[people.ben]
display_name = "Ben Ortiz"
accounts = {{ github = "ben-o" }}

[connectors.github]
base_url = "{url}"
token = {{ env = "GITHUB_TOKEN" }}
repositories = ["acme/web"]
poll_every = "{poll_every}"
seconds_between_requests = 0
seconds_between_writes = 0

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{{ after = "0h", do = "comment", template = "nudge" }}]
"""


class NotifyListener:
    """The systemd side of sd_notify: a bound datagram socket and every message received."""

    def __init__(self) -> None:
        # AF_UNIX paths are limited to ~107 bytes; pytest's tmp_path can be longer.
        self.dir = tempfile.mkdtemp(prefix="hb-notify-", dir="/tmp")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notify-listener", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def all(self) -> list[dict[str, str]]:
        with self._lock:
            return [m for _t, m in self.messages]

    def with_key(self, key: str, value: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.all() if key in m and (value is None or m[key] == value)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    """One ``handoff-bridge run`` child with its stdout/stderr collected line by line."""

    def __init__(self, config: Path, notify: NotifyListener, env: dict[str, str]) -> None:
        self.config = config
        self.notify = notify
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "run", "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
            stdin=subprocess.DEVNULL,
        )
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True)]
        for t in self._readers:
            t.start()

    def _read(self, stream, sink: list[str]) -> None:
        for line in stream:
            with self._lock:
                sink.append(line)

    def out(self) -> str:
        with self._lock:
            return "".join(self.stdout)

    def err(self) -> str:
        with self._lock:
            return "".join(self.stderr)

    def records(self) -> list[dict]:
        """Every stdout line, parsed; a line that is not JSON fails the test."""
        with self._lock:
            lines = [ln for ln in self.stdout if ln.strip()]
        out = []
        for ln in lines:
            try:
                out.append(json.loads(ln))
            except json.JSONDecodeError:  # pragma: no cover - the assertion message is the point
                pytest.fail(f"stdout line is not JSON: {ln!r}")
        return out

    def events(self, name: str) -> list[dict]:
        return [r for r in self.records() if r.get("event") == name]

    def wait_event(self, name: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        return wait_for(lambda: (lambda evs: evs if len(evs) >= count else None)(self.events(name)),
                        timeout, f"{count}x {name!r} on stdout\n--- stdout tail:\n{self.out()[-3000:]}"
                                 f"\n--- stderr tail:\n{self.err()[-3000:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.alive(), f"daemon exited early ({self.proc.returncode}): {self.err()[-3000:]}"
        self.proc.send_signal(sig)

    def wait_ready(self, timeout: float = 15.0) -> None:
        wait_for(lambda: self.notify.with_key("READY", "1") or not self.alive(), timeout, "READY=1")
        assert self.alive(), f"daemon exited ({self.proc.returncode}) before READY:\n{self.err()[-3000:]}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        finally:
            for t in self._readers:
                t.join(timeout=5)
            for s in (self.proc.stdout, self.proc.stderr):
                if s:
                    s.close()


@pytest.fixture
def emu(github_emulator: GitHubEmulator) -> GitHubEmulator:
    """acme/web#12: ana asked ben-o for a review ten days ago (overdue), plus the daemon's token."""
    e = github_emulator
    e.add_token(TOKEN, BOT)
    e.create_repo("acme/web")
    asked = datetime.now(timezone.utc) - timedelta(days=10)
    e.open_issue("acme/web", "ana", "Rate-limit the login endpoint", pull_request=True,
                 at=asked - timedelta(minutes=5), number=12)
    e.request_review("acme/web", 12, "ana", "ben-o", at=asked)
    return e


@pytest.fixture
def config(tmp_path, emu) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=tmp_path / "state.db", url=emu.url, poll_every="1s"))
    return path


@pytest.fixture
def daemon(config):
    """Start ``handoff-bridge run`` under a fake systemd; always killed afterwards."""
    notify = NotifyListener()
    env = {k: v for k, v in os.environ.items()
           if k not in ("WATCHDOG_PID", "WATCHDOG_USEC", "NOTIFY_SOCKET", "HANDOFF_BRIDGE_CONFIG", "GITHUB_TOKEN")}
    env.update(GITHUB_TOKEN=TOKEN, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="2000000", PYTHONUNBUFFERED="1")
    d = Daemon(config, notify, env)
    try:
        yield d
    finally:
        d.kill()
        notify.close()


def issue_polls(emu: GitHubEmulator) -> list[tuple[str, str, int]]:
    return [r for r in list(emu.requests) if r[0] == "GET" and r[1].startswith(ISSUES)]


# --------------------------------------------------------------------------- tests


def test_notify_ready_status_and_watchdog(daemon):
    daemon.wait_ready()
    first = daemon.notify.all()[0]
    assert first.get("READY") == "1", "READY=1 must be the first notice"
    assert "STATUS" in first and "1 scopes" in first["STATUS"]

    statuses = wait_for(lambda: [m["STATUS"] for m in daemon.notify.with_key("STATUS") if "scopes polled" in m["STATUS"]],
                        10, "STATUS= after a cycle")
    assert "1 scopes polled" in statuses[0]
    # WATCHDOG_USEC=2000000 → WATCHDOG=1 every second (half of it)
    wait_for(lambda: len(daemon.notify.with_key("WATCHDOG", "1")) >= 2, 6, "two WATCHDOG=1 pings")
    times = [t for t, m in daemon.notify.messages if m.get("WATCHDOG") == "1"]
    assert 0.5 <= times[1] - times[0] <= 2.0, times
    assert daemon.alive()


def test_polls_with_etag_and_writes_once(daemon, emu):
    daemon.wait_ready()
    # The overdue review: one nudge, then 304s on every later poll.
    wait_for(lambda: len(issue_polls(emu)) >= 5, 12, "five issue polls")
    polls = issue_polls(emu)
    assert polls[0][2] == 200
    assert 304 in [status for _m, _p, status in polls[1:]], polls
    assert all(status in (200, 304) for _m, _p, status in polls), polls
    assert polls[-1][2] == 304 and polls[-2][2] == 304, polls
    posts = [r for r in emu.requests if r[0] != "GET"]
    assert posts == [("POST", "/repos/acme/web/issues/12/comments", 201)]
    assert len(emu.comments("acme/web", 12)) == 1
    assert any(r["event"] == "action_done" for r in daemon.records())

    # A change on the tracker is seen on the next poll: 200 again, then quiet.
    n = len(issue_polls(emu))
    emu.comment("acme/web", 12, "ana", "any news? @ben-o")
    wait_for(lambda: any(s == 200 for _m, _p, s in issue_polls(emu)[n:]), 6, "a 200 after the change")
    wait_for(lambda: daemon.events("cycle_done") and any(r.get("new_events", 0) >= 1 for r in daemon.events("cycle_done")[1:]),
             6, "a cycle that stored the new comment")
    assert len(emu.comments("acme/web", 12)) == 2  # ana's; the daemon did not nudge again


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_stops_cleanly_with_json_logs(daemon, emu, sig):
    daemon.wait_ready()
    daemon.wait_event("cycle_done")
    daemon.signal(sig)
    try:
        rc = daemon.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("daemon did not exit within 10 s of the stop signal")
    assert rc == 0, daemon.err()[-3000:]
    for t in daemon._readers:
        t.join(timeout=5)
    wait_for(lambda: daemon.notify.with_key("STOPPING", "1"), 2, "STOPPING=1")

    records = daemon.records()  # every non-empty stdout line is JSON
    names = [r.get("event") for r in records]
    assert "started" in names and "stopping" in names and "stopped" in names
    assert names.index("started") < names.index("stopping") < names.index("stopped")
    assert names[-1] == "stopped"
    started = records[names.index("started")]
    assert started["connectors"] == ["github"] and started["rules"] == 1
    assert records[names.index("stopping")]["signal"] == signal.Signals(sig).name
    for r in records:
        assert {"event", "level", "timestamp", "logger"} <= set(r), r
    assert TOKEN not in daemon.out() + daemon.err()


def test_sighup_with_broken_config_is_refused_then_fixed_config_reloads(daemon, config, emu):
    daemon.wait_ready()
    daemon.wait_event("cycle_done")
    good = config.read_text()

    config.write_text(good.replace('poll_every = "1s"', 'poll_every = "soon"'))
    daemon.signal(signal.SIGHUP)
    refused = daemon.wait_event("config_reload_refused")[0]
    assert refused["level"] == "error"
    assert refused["file"] == str(config)
    problems = " ".join(refused["problems"])
    assert "connectors.github.poll_every" in problems and "'soon'" in problems
    assert f"{config}:" in problems  # names the file and line
    wait_for(lambda: daemon.notify.with_key("RELOADING", "1"), 3, "RELOADING=1")
    reloading = daemon.notify.with_key("RELOADING", "1")[0]
    assert int(reloading["MONOTONIC_USEC"]) > 0
    wait_for(lambda: len(daemon.notify.with_key("READY", "1")) >= 2, 3, "READY=1 after the refused reload")

    # Still running on the old configuration: still polling every second.
    n = len(issue_polls(emu))
    wait_for(lambda: len(issue_polls(emu)) >= n + 2, 6, "polls after the refused reload")
    assert daemon.alive()
    assert not daemon.events("config_reloaded")

    config.write_text(good)
    daemon.signal(signal.SIGHUP)
    reloaded = daemon.wait_event("config_reloaded")[0]
    assert reloaded["rules"] == 1 and reloaded["connectors"] == 1
    n = len(issue_polls(emu))
    wait_for(lambda: len(issue_polls(emu)) >= n + 2, 6, "polls after the reload")
    assert daemon.alive()
    assert len(daemon.events("config_reload_refused")) == 1
    # the rebuilt engine recognises its own earlier nudge: still exactly one comment
    assert len(emu.comments("acme/web", 12)) == 1


def test_token_never_logged(daemon, config, emu):
    daemon.wait_ready()
    daemon.wait_event("action_done")
    # a rejected token, a refused and an accepted reload, then a stop: every path that logs
    emu.revoke_token(TOKEN)
    daemon.wait_event("connector_stopped")
    good = config.read_text()
    config.write_text(good.replace('poll_every = "1s"', 'poll_every = "soon"'))
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config_reload_refused")
    config.write_text(good)
    daemon.signal(signal.SIGHUP)
    daemon.wait_event("config_reloaded")
    daemon.signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=10) == 0
    for t in daemon._readers:
        t.join(timeout=5)
    text = daemon.out() + daemon.err()
    assert daemon.events("stopped")
    assert TOKEN not in text
    assert TOKEN[4:20] not in text  # nor a recognisable part of it


def test_revoked_token_stops_connector_once_and_daemon_stays_up(daemon, emu):
    daemon.wait_ready()
    daemon.wait_event("cycle_done")
    emu.revoke_token(TOKEN)
    stopped = daemon.wait_event("connector_stopped")[0]
    assert stopped["connector"] == "github" and stopped["level"] == "error"
    assert "401" in stopped["reason"]
    assert stopped.get("hint")

    # Several more cycles pass: the connector stays stopped, quietly.
    cycles = len(daemon.events("cycle_done"))
    daemon.wait_event("cycle_done", count=cycles + 3, timeout=10)
    assert len(daemon.events("connector_stopped")) == 1
    assert daemon.alive()
    unauthorized = [r for r in emu.requests if r[2] == 401]
    assert len(unauthorized) == 1, unauthorized  # no request after the 401
    statuses = [m["STATUS"] for m in daemon.notify.with_key("STATUS") if "scopes polled" in m["STATUS"]]
    assert statuses[-1].startswith("0 scopes polled")


def test_sigterm_finishes_the_cycle_in_flight(daemon, emu):
    daemon.wait_ready()
    daemon.wait_event("cycle_done")
    emu.faults.add("GET", r"^/repos/acme/web/issues$", "slow", delay=2.0)
    wait_for(lambda: len(emu.faults) == 0, 5, "the slow poll to be in flight")
    cycles = len(daemon.events("cycle_done"))
    sent = time.monotonic()
    daemon.signal(signal.SIGTERM)
    wait_for(lambda: daemon.notify.with_key("STOPPING", "1"), 1.5, "STOPPING=1 before the cycle ends")
    assert daemon.alive(), "exited without finishing the cycle in flight"
    assert daemon.proc.wait(timeout=10) == 0
    assert time.monotonic() - sent < 8
    for t in daemon._readers:
        t.join(timeout=5)
    names = [r.get("event") for r in daemon.records()]
    # the interrupted cycle completed (and was logged) before the daemon said it stopped
    assert len(daemon.events("cycle_done")) == cycles + 1
    assert names.index("stopping") < len(names) - 1 - names[::-1].index("cycle_done") < names.index("stopped")
    assert not daemon.events("cycle_failed")


def test_reload_restarts_a_connector_stopped_by_a_revoked_token(daemon, emu):
    daemon.wait_ready()
    daemon.wait_event("cycle_done")
    emu.revoke_token(TOKEN)
    daemon.wait_event("connector_stopped")
    n = len(issue_polls(emu))
    time.sleep(1.5)  # a stopped connector makes no request at all
    assert len(issue_polls(emu)) == n
    emu.add_token(TOKEN, BOT)  # the operator fixed the credential ...
    daemon.signal(signal.SIGHUP)  # ... and reloaded
    daemon.wait_event("config_reloaded")
    wait_for(lambda: len(issue_polls(emu)) >= n + 2, 6, "polling again after the reload")
    assert all(s in (200, 304) for _m, _p, s in issue_polls(emu)[n:]), issue_polls(emu)[n:]
    assert len(daemon.events("connector_stopped")) == 1


def test_info_log_is_not_flooded_with_sql(daemon):
    daemon.wait_ready()
    daemon.wait_event("cycle_done", count=2)
    noisy = [r for r in daemon.records() if str(r.get("logger", "")).startswith(("sqlalchemy", "alembic"))
             and r.get("level") == "info"]
    assert noisy == [], f"{len(noisy)} info lines from sqlalchemy/alembic, e.g. {noisy[:3]}"
