"""``handoff-bridge sandbox`` + ``handoff-bridge run`` + ``handoff-bridge status``, three real processes.

The sandbox serves the emulators of a scenario with the real clock and writes a daemon config;
the daemon, started on that config, finds the scenario's history, nudges the overdue review
request, and the sandbox prints that write; ``status`` reads the same store. Every wait polls
for its condition with a generous deadline (a loaded machine is slow, never wrong); the
processes are stopped in a ``finally`` whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # real processes in real time

SCENARIO = """\
name = "sandbox-test"
description = "One review request, long overdue: the daemon nudges it as soon as it starts."
timezone = "UTC"
start = "2026-11-23 09:00"
end = "2026-11-23 10:00"
repositories = ["acme/web"]
bot = "handoff-bridge-bot"

# Found long overdue at the daemon's first start: adopted, with no grace, so nudged at once.
[adoption]
grace = "0h"

[defaults]
timezone = "UTC"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
working_hours = "00:00-23:59"

[people.ana]
accounts = { github = "ana" }

[people.ben]
accounts = { github = "ben-o" }

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "1m"
need = "review"
next = "merge"
steps = [{ after = "0h", do = "comment", template = "nudge" }]

[[timeline]]
at = "2026-11-23 09:00"
actor = "ana"
do = "open_pull_request"
item = "acme/web#7"
title = "Cache the session lookup"

[[timeline]]
at = "2026-11-23 09:05"
actor = "ana"
do = "request_review"
item = "acme/web#7"
reviewer = "ben"
"""


class Lines:
    """A child's stdout, read line by line on a thread (never blocks the test)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def find(self, text: str) -> str | None:
        return next((ln for ln in list(self.lines) if text in ln), None)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _stop(proc: subprocess.Popen | None, sig: int) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def test_sandbox_run_and_status_work_together(tmp_path):
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    config = tmp_path / "sandbox.toml"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HANDOFF_BRIDGE_CONFIG", None)
    cli = [sys.executable, "-m", "bridge"]
    sandbox = daemon = None
    daemon_log = tmp_path / "daemon.log"
    try:
        sandbox = subprocess.Popen([*cli, "sandbox", "--scenario", str(scenario), "--config-out", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   text=True, env=env, cwd=tmp_path)
        out = Lines(sandbox)
        wait_for(lambda: out.find("sandbox: every write the daemon makes") or sandbox.poll() is not None,
                 120, "the sandbox to be ready")
        assert sandbox.poll() is None, "\n".join(out.lines)
        assert out.find("act: ana requests ben's review on acme/web#7"), out.lines
        cfg = tomllib.loads(config.read_text())
        assert cfg["connectors"]["github"]["base_url"].startswith("http://127.0.0.1:")
        with open(daemon_log, "w") as log:
            daemon = subprocess.Popen([*cli, "run", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
        write = wait_for(lambda: out.find("github write: POST /repos/acme/web/issues/7/comments -> 201")
                         or (daemon.poll() is not None and "daemon exited"), 180, "the daemon's nudge in the sandbox's output")
        assert write != "daemon exited", daemon_log.read_text()[-3000:]
        status = subprocess.run([*cli, "status", "--config", str(config)], capture_output=True, text=True,
                                env=env, cwd=tmp_path, timeout=120)
        assert status.returncode == 0, status.stderr
        assert "acme/web#7" in status.stdout, status.stdout
        assert _stop(daemon, signal.SIGTERM) == 0, daemon_log.read_text()[-3000:]
        daemon = None
        assert _stop(sandbox, signal.SIGINT) == 0, "\n".join(out.lines)
        sandbox = None
        assert "Traceback" not in "\n".join(out.lines) + daemon_log.read_text()
        # one nudge: the marker stands once (the sandbox printed one comment write)
        assert sum("issues/7/comments -> 201" in ln for ln in out.lines) == 1, out.lines
    finally:
        _stop(daemon, signal.SIGKILL)
        _stop(sandbox, signal.SIGKILL)
