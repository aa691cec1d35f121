"""``handoff-bridge sandbox``: live emulated trackers for the real daemon to run against.

Starts the emulator of each tool a scenario uses (GitHub, Jira, Asana; the bundled default
``content-update`` uses all three) on loopback with the real clock, seeds them with the
scenario's people, containers and acts, writes a ready daemon config pointing at them, and
stays up until Ctrl-C (or SIGTERM), printing every write the daemon makes (each ``POST``,
``PUT``, ``PATCH`` and ``DELETE`` the emulators answer, from their request logs).

Scenario times are moved by whole weeks (weekday and local time kept, so working hours and
holidays mean what the scenario meant) to the latest week in which the scenario's ``end`` is
not after now (``shift``): every act then lies in the past and is applied at once, each at its
own time, as history the daemon finds on its first crawl. What the daemon then does is what it
would do on a team's first start: handoffs already overdue are nudged once their receivers are
inside working hours (a scenario whose people work 09:00-17:00 in Berlin stays quiet at night).

The written config (TOML, checked by the same ``parse_config`` as any other) holds the
emulators' URLs, their own tokens inline (``daemon.allow_inline_secrets``: these tokens open
nothing but the local emulators), ``poll_every = "10s"`` per connector, and a SQLite store next
to the config file. ``handoff-bridge run --config FILE``, ``status``, ``explain`` and ``people``
work with it as with a real team's config. The emulators live only as long as this process:
a store left from an earlier sandbox names items and ids a new sandbox does not have, so the
store file is removed when the sandbox starts.

Flask (the extra ``demo``) is needed; without it ``stage_class`` raises ``ConfigError`` with the
same hint as ``demo``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, TextIO

import tomli_w

from bridge.app.commands.demo import Scenario, Stage, stage_class
from bridge.config import parse_config

#: Methods that change something in a tracker: the daemon's writes.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: How often a sandbox's connectors are polled by the daemon it configures.
POLL_EVERY = "10s"


def shift(scenario: Scenario, now: datetime) -> timedelta:
    """Whole weeks to add to every scenario time so that its ``end`` is at or before ``now``, as late
    as possible (0 or negative weeks when the scenario ends in the future, positive when in the past).

    Local wall time is kept: the weeks are added to the local (``scenario.tz``) date and time.
    """
    weeks = (now - scenario.end) // timedelta(weeks=1)
    while moved(scenario.end, timedelta(weeks=weeks), scenario.tz) > now:  # a DST change in between
        weeks -= 1
    return timedelta(weeks=weeks)


def moved(at: datetime, by: timedelta, tz) -> datetime:
    """``at`` moved by ``by`` (whole weeks) in local wall time of ``tz`` (DST kept right)."""
    local = at.astimezone(tz).replace(tzinfo=None) + by
    return local.replace(tzinfo=tz)


class Sandbox:
    """The emulators of one scenario on loopback with the real clock.

    Args:
        scenario: the loaded scenario (``bridge.app.commands.demo.load_scenario``).
        config_out: where the daemon config is written (its SQLite store goes next to it).
        out: where writes and notices are printed (default ``sys.stdout``), one line each.
        clock: aware UTC now (default: the real clock); the emulators read it too.
    """

    def __init__(self, scenario: Scenario, config_out: Path, out: TextIO | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.s = scenario
        self.config_out = Path(config_out)
        self.out = out or sys.stdout
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.stages: dict[str, Stage] = {
            tool: stage_class(tool)(self.clock, settings, scenario.config["people"], scenario.bot)
            for tool, settings in scenario.tools.items()
        }
        self.by = shift(scenario, self.clock())
        self.pending = [{**a, "at": moved(a["at"], self.by, scenario.tz)} for a in scenario.acts]
        self._seen = {tool: 0 for tool in self.stages}
        self._started: list[Stage] = []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self) -> None:
        """Start the emulators, apply the acts already past, write the config."""
        for tool, stage in self.stages.items():
            stage.start()
            self._started.append(stage)
            self.say(f"sandbox: {tool} emulator at {stage.emu.url}")
        history = self.apply_due()
        path = self.write_config()
        weeks = self.by.days // 7
        self.say(f"sandbox: scenario {self.s.name}: {history} acts applied as history "
                 f"(scenario times moved by {weeks} week{'' if abs(weeks) == 1 else 's'})")
        self.say(f"sandbox: config written to {path}")
        self.say(f"sandbox: now run the daemon against it:  handoff-bridge run --config {path}")
        self.say("sandbox: every write the daemon makes is printed below; Ctrl-C stops the sandbox")

    def apply_due(self) -> int:
        """Apply the acts whose time has come (each at its own time); returns how many."""
        now, done = self.clock(), 0
        while self.pending and self.pending[0]["at"] <= now:
            act = self.pending.pop(0)
            text = self.stages[act["tool"]].apply(act)
            done += 1
            self.say(f"{act['at'].astimezone(self.s.tz):%a %d %b %H:%M %Z} act: {text}")
        return done

    def build_config(self) -> dict:
        """The daemon's config as a TOML document (a dict), validated by ``parse_config``."""
        cfg = {k: v for k, v in self.s.config.items() if v}
        db = self.config_out.with_name(self.config_out.stem + "-state.db").resolve()
        cfg["daemon"] = {**self.s.config.get("daemon", {}), "database": f"sqlite:///{db}",
                         "allow_inline_secrets": True}
        cfg["connectors"] = {}
        for tool, stage in self.stages.items():
            section, env = stage.connector_config()
            for key, value in list(section.items()):
                if isinstance(value, dict) and set(value) == {"env"}:
                    section[key] = env[value["env"]]  # the emulator's own token, nothing real
            section["poll_every"] = POLL_EVERY
            cfg["connectors"][tool] = section
        text = tomli_w.dumps(cfg)
        parse_config(text, source=str(self.config_out), environ={})  # refuse to write what run would refuse
        return cfg

    def write_config(self) -> Path:
        cfg = self.build_config()
        db = Path(cfg["daemon"]["database"].removeprefix("sqlite:///"))
        for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            stale.unlink(missing_ok=True)
        self.config_out.parent.mkdir(parents=True, exist_ok=True)
        header = (f"# Written by `handoff-bridge sandbox --scenario {self.s.name}`: the daemon against the local\n"
                  f"# emulators (their own tokens inline; valid only while that sandbox runs).\n")
        self.config_out.write_text(header + tomli_w.dumps(cfg), encoding="utf-8")
        return self.config_out

    def writes(self) -> list[str]:
        """Lines for the writes served since last asked (``<time> <tool> <METHOD> <path> -> <status>``)."""
        lines = []
        for tool, stage in self.stages.items():
            log = stage.emu.requests
            new, self._seen[tool] = log[self._seen[tool]:], len(log)
            for method, path, status in new:
                if method in WRITES:
                    lines.append(f"{datetime.now().astimezone():%H:%M:%S} {tool} write: {method} {path} -> {status}")
        return lines

    def serve(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Until ``stop`` is set: print each write (and apply any act whose time comes)."""
        while not stop.is_set():
            self.apply_due()
            for line in self.writes():
                self.say(line)
            stop.wait(interval)
        for line in self.writes():
            self.say(line)

    def stop(self) -> None:
        for stage in self._started:
            stage.stop()
        self._started = []


def run(scenario: Scenario, config_out: Path) -> int:
    """The command: start, serve until SIGINT/SIGTERM, stop. Returns the exit status (0)."""
    box = Sandbox(scenario, config_out)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ANN001
        stop.set()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        box.start()
        box.serve(stop)
        box.say("sandbox: stopped")
        return 0
    finally:
        box.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        time.sleep(0)  # let the servers' threads end
