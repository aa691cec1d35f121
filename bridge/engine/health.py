"""Connector health: which connectors may be called now, and the log lines when that changes.

Holds ``ConnectorHealth`` (one connector's state) and ``Health`` (all of them). An
``AuthError`` stops a connector for good (one ``connector_stopped`` line) until the config
is reloaded; a ``RateLimited`` pauses it for the time the tool asked
(``connector_rate_limited``); any other error is logged once while it lasts
(``connector_failing``) and once when a poll succeeds again (``connector_recovered``). Every
other connector goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from bridge.core import errors
from bridge.core.logs import get_logger

log = get_logger("bridge.engine")


@dataclass
class ConnectorHealth:
    """One connector's state: ``stopped`` (the reason, when stopped by auth), ``not_before``
    (rate limited until, aware), ``failing`` (a failure was logged and no recovery yet)."""

    stopped: str | None = None
    not_before: datetime | None = None
    failing: bool = False


class Health:
    """The health of every connector by name.

    Args:
        names: the connectors' names (``[connectors.<name>]``).
        clock: returns aware now (rate-limit pauses are measured on it).
    """

    def __init__(self, names: Iterable[str], clock: Callable[[], datetime]):
        self.clock = clock
        self._by_name: dict[str, ConnectorHealth] = {name: ConnectorHealth() for name in names}

    def add(self, name: str) -> None:
        """Watch one more connector (healthy)."""
        self._by_name[name] = ConnectorHealth()

    def available(self, name: str) -> bool:
        """May ``name`` be called now: not stopped, and not inside a rate-limit pause."""
        h = self._by_name[name]
        if h.stopped:
            return False
        return h.not_before is None or self.clock() >= h.not_before

    def failed(self, name: str, exc: errors.ConnectorError) -> None:
        """Take in a connector error: auth stops ``name``, a rate limit pauses it, others mark it failing."""
        h = self._by_name[name]
        if isinstance(exc, errors.AuthError):
            if not h.stopped:
                h.stopped = str(exc)
                log.error("connector_stopped", connector=name, reason=str(exc),
                          hint="fix the credential, then reload (systemctl reload handoff-bridge)")
            return
        if isinstance(exc, errors.RateLimited):
            h.not_before = self.clock() + timedelta(seconds=exc.retry_after)
            log.warning("connector_rate_limited", connector=name, retry_after_s=round(exc.retry_after), until=h.not_before.isoformat())
            return
        if not h.failing:
            h.failing = True
            log.warning("connector_failing", connector=name, error=str(exc))

    def recovered(self, name: str) -> None:
        """A poll of ``name`` succeeded: the pause ends, and a failure logged is reported over."""
        h = self._by_name[name]
        h.not_before = None
        if h.failing:
            h.failing = False
            log.info("connector_recovered", connector=name)
