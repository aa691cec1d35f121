"""A small world for end-to-end tests: emulator + stepping clock + real config, store and engine.

Everything is the production code path: the config goes through ``parse_config``, the
engine through ``build_engine``, the connector talks PyGithub over HTTP to the emulator.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.core.clock import SteppingClock
from bridge.config import parse_config
from bridge.store import Store
from bridge.app.wiring import build_engine
from connectors.sandbox.github.emulator import GitHubEmulator

BERLIN = ZoneInfo("Europe/Berlin")
TOKEN = "ghp_world_test_token_5f1e2d"
BOT = "hb-bot"
MARKER = re.compile(r"hb:[0-9a-f]{12}")

PEOPLE = """
[defaults]
timezone = "Europe/Berlin"
working_hours = "09:00-17:00"
holidays = "DE"

[people.ana]
accounts = { github = "ana" }

[people.ben]
accounts = { github = "ben-o" }

[people.lead]
accounts = { github = "cara" }
"""

REVIEW_RULE = """
[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [
  { after = "0h", do = "comment", template = "nudge" },
  { after = "8h", do = "reassign", to = "lead" },
]
"""


def berlin(text: str) -> datetime:
    """``"2026-11-23 09:00"`` in Berlin, aware."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


class World:
    """An emulated GitHub and a daemon pointed at it, sharing one stepping clock."""

    def __init__(self, tmp_path: Path, *, start: str = "2026-11-23 08:00", rules: str = REVIEW_RULE,
                 people: str = PEOPLE, daemon: str = "", extra: str = "", repos=("acme/web",),
                 connector: str = "", database: str | None = None):
        self.tmp_path = tmp_path
        self.clock = SteppingClock(berlin(start))
        self.emu = GitHubEmulator(clock=self.clock).start()
        self.emu.add_user(BOT)
        self.emu.add_token(TOKEN, BOT)
        for login in ("ana", "ben-o", "cara", "dana"):
            self.emu.add_user(login)
        for repo in repos:
            self.emu.create_repo(repo)
        self.config_text = f"""
[daemon]
database = "{database or f'sqlite:///{tmp_path}/state.db'}"
{daemon}

[connectors.github]
base_url = "{self.emu.url}"
token = {{ env = "GH_TOKEN" }}
repositories = {json.dumps(list(repos))}
seconds_between_requests = 0
seconds_between_writes = 0
timeout = "3s"
{connector}
{people}
{rules}
{extra}
"""
        self.config = parse_config(self.config_text, environ={"GH_TOKEN": TOKEN})
        self.restart()

    def restart(self) -> None:
        """A new process: fresh store connection and connectors over the same database."""
        self.store = Store.open(self.config.database_url())
        self.engine = build_engine(self.config, self.store, clock=self.clock)

    def at(self, text: str) -> datetime:
        return self.clock.set(berlin(text))

    def run_until(self, end: str, step: timedelta = timedelta(minutes=15)) -> list:
        """Cycle every ``step`` from now until ``end`` (Berlin), inclusive; return the reports."""
        stop = berlin(end)
        reports = []
        while self.clock() <= stop:
            reports.append(self.engine.cycle())
            self.clock.advance(step)
        return reports

    def bot_comments(self, repo: str = "acme/web", number: int = 12) -> list[dict]:
        return [c for c in self.emu.comments(repo, number) if c["user"]["login"] == BOT]

    def markers(self, repo: str = "acme/web", number: int = 12) -> list[str]:
        return [MARKER.search(c["body"]).group(0) for c in self.bot_comments(repo, number)]

    def open_pr_with_review_request(self, number: int = 12, title: str = "Rate-limit the login endpoint") -> None:
        """Mon 09:00 ana opens acme/web#N; 09:05 she requests ben's review (deadline 13:05)."""
        self.emu.open_issue("acme/web", "ana", title, pull_request=True, at=berlin("2026-11-23 09:00"), number=number)
        self.emu.request_review("acme/web", number, "ana", "ben-o", at=berlin("2026-11-23 09:05"))

    def close(self) -> None:
        self.emu.stop()
        self.store.engine.dispose()


class DiesAfterSending:
    """A connector that performs the real write, then the process dies before confirming."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def apply(self, action):
        self.inner.apply(action)
        raise SystemExit("killed between send and confirm")


@pytest.fixture
def world(tmp_path, database_url):
    """``world(**kw)`` → a ``World`` on the test's database (SQLite, or the real PostgreSQL server
    for the ``postgresql`` parameter of ``database_url``); every world made is closed at the end."""
    worlds = []

    def make(**kw):
        w = World(tmp_path, database=database_url, **kw)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        w.close()
