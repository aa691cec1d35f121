"""A GitHub emulator with a bot token, three people and one repository, and the real connector
over HTTP against it (the setup the GitHub connector tests share)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from bridge.core.clock import SteppingClock
from connectors.github.client import GitHubConnector
from connectors.sandbox.github.emulator import GitHubEmulator


@contextmanager
def emulated_github(start: datetime, token: str, bot: str, repo: str,
                    logins: tuple[str, ...] = ("ana", "ben", "cara"),
                    ) -> Iterator[tuple[GitHubEmulator, GitHubConnector, SteppingClock]]:
    """``(emulator, connector, clock)``: the emulator on loopback from ``start`` (UTC), ``bot``
    holding ``token``, ``logins`` as users, ``repo`` created; no pauses between requests. The
    emulator is stopped on exit."""
    clock = SteppingClock(start)
    emu = GitHubEmulator(clock=clock).start()
    emu.add_user(bot)
    emu.add_token(token, bot)
    for login in logins:
        emu.add_user(login)
    emu.create_repo(repo)
    conn = GitHubConnector("github", base_url=emu.url, token=token, repositories=[repo], clock=clock,
                           per_page=100, seconds_between_requests=0, seconds_between_writes=0)
    try:
        yield emu, conn, clock
    finally:
        emu.stop()
