"""Connector health: which connectors may be called now, and the log lines when that changes.

Holds ``ConnectorHealth`` (one connector's state) and ``Health`` (all of them).

- **Down at start**: until a connector has answered once since start (or reload), no answer
  at all (timeout, connection refused or lost: ``ConnectorError.answered`` false) or a
  refused credential marks it *down*: one ``connector_down`` line (its reason and when it is
  tried again), then retries with exponential backoff (`DOWN_BACKOFF_FIRST` doubling up to
  `DOWN_BACKOFF_MAX`, on the health clock) without a line per failure; its first successful
  poll logs ``connector_up``. A tracker unreachable or refusing the token at start so never
  stops the daemon or the other connectors. A tracker that answers with a server error at
  start is up but failing: retried at its next poll, as below.
- Once it has answered: an ``AuthError`` stops it for good (one ``connector_stopped`` line)
  until the config is reloaded; a ``RateLimited`` pauses it for the time the tool asked
  (``connector_rate_limited``); any other error is logged once while it lasts
  (``connector_failing``) and once when a poll succeeds again (``connector_recovered``).

Every other connector goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from bridge.core import errors
from bridge.core.logs import get_logger

log = get_logger("bridge.engine")

#: First wait before a connector that is down at start is tried again; doubled per failure.
DOWN_BACKOFF_FIRST = timedelta(seconds=10)
#: Longest wait between two tries of a connector that is down at start.
DOWN_BACKOFF_MAX = timedelta(minutes=10)


def down_backoff(tries: int, first: timedelta = DOWN_BACKOFF_FIRST) -> timedelta:
    """The wait after the ``tries``-th failed try (1-based) of a connector down at start:
    ``first * 2**(tries-1)`` (``first`` default `DOWN_BACKOFF_FIRST`), at most ``DOWN_BACKOFF_MAX``."""
    if tries < 1:
        return timedelta(0)
    return min(DOWN_BACKOFF_MAX, first * 2 ** min(tries - 1, 32))


@dataclass
class ConnectorHealth:
    """One connector's state: ``stopped`` (the reason, when stopped by auth), ``not_before``
    (rate limited or backing off until, aware), ``failing`` (a failure was logged and no
    recovery yet), ``up`` (it has answered since start), ``down_tries`` (failed tries while
    down at start), ``reason`` (the last error's text, ``None`` once a poll succeeded)."""

    stopped: str | None = None
    not_before: datetime | None = None
    failing: bool = False
    up: bool = False
    down_tries: int = 0
    reason: str | None = None


class Health:
    """The health of every connector by name.

    Args:
        names: the connectors' names (``[connectors.<name>]``).
        clock: returns aware now (rate-limit pauses are measured on it).
        first_wait: per connector, the first wait of the down-at-start backoff (default
            `DOWN_BACKOFF_FIRST`; the engine gives the shorter of that and the connector's
            ``poll_every``, so a connector polled every second is not left 10 s behind after
            one failed first poll).
    """

    def __init__(self, names: Iterable[str], clock: Callable[[], datetime],
                 first_wait: dict[str, timedelta] | None = None):
        self.clock = clock
        self.first_wait = dict(first_wait or {})
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
        h.reason = str(exc)
        if not h.up and (isinstance(exc, errors.AuthError) or not (exc.answered or isinstance(exc, errors.RateLimited))):
            self._down(name, h, exc)
            return
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

    def _down(self, name: str, h: ConnectorHealth, exc: errors.ConnectorError) -> None:
        """``name`` failed before it ever answered: back off, and say so once."""
        h.down_tries += 1
        wait = down_backoff(h.down_tries, self.first_wait.get(name, DOWN_BACKOFF_FIRST))
        h.not_before = self.clock() + wait
        if h.down_tries == 1:
            refused = isinstance(exc, errors.AuthError)
            (log.error if refused else log.warning)(
                "connector_down", connector=name, reason=str(exc), retry_in_s=round(wait.total_seconds()),
                hint=("the tool refused the credential: fix it (or reload); tried again with backoff"
                      if refused else "tried again with backoff; the other connectors go on"))

    def down(self, name: str) -> str | None:
        """Why ``name`` is out of this process's reach for a while: ``"stopped"`` (its credential
        was refused) or ``"down"`` (it never answered since start and is backing off); else
        ``None``: callable, failing but tried at each poll, or paused by a rate limit (which
        binds every replica with the same token alike)."""
        h = self._by_name[name]
        if h.stopped:
            return "stopped"
        if not h.up and h.down_tries and not self.available(name):
            return "down"
        return None

    def unhealthy(self) -> dict[str, str]:
        """Connectors that are down, stopped, failing or paused now: name → the last error's text."""
        return {name: h.stopped or h.reason or "unavailable" for name, h in self._by_name.items()
                if h.stopped or h.failing or (not h.up and h.down_tries) or not self.available(name)}

    def states(self) -> dict[str, ConnectorHealth]:
        """Every connector's state by name (copies: for ``/metrics`` and ``/healthz``)."""
        from dataclasses import replace

        return {name: replace(h) for name, h in self._by_name.items()}

    def recovered(self, name: str) -> None:
        """A poll of ``name`` succeeded: the pause ends, and a failure logged is reported over
        (``connector_up`` for a connector that was down at start)."""
        h = self._by_name[name]
        if not h.up:
            h.up = True
            if h.down_tries:
                log.info("connector_up", connector=name, failed_tries=h.down_tries)
        h.down_tries = 0
        h.reason = None
        h.not_before = None
        if h.failing:
            h.failing = False
            log.info("connector_recovered", connector=name)
