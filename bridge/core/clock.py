"""Clocks: the real one for the daemon, a stepping one for tests and the demo.

The engine, the connectors and the emulators all take a ``clock`` callable returning an
aware UTC ``datetime``; nothing in the project calls ``datetime.now`` on its own, so a
scenario of three days runs in a second without sleeping.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


def utcnow() -> datetime:
    """The real time, aware UTC."""
    return datetime.now(timezone.utc)


class SteppingClock:
    """A clock that only moves when told to. Call the instance to read it.

    Args:
        start: aware datetime (any zone); kept as UTC.

    Raises:
        ValueError: ``start`` is naive, or ``set`` would move time backwards.
    """

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("SteppingClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; return the new now."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, at: datetime) -> datetime:
        """Jump forward to ``at`` (aware)."""
        at = at.astimezone(timezone.utc)
        with self._lock:
            if at < self._now:
                raise ValueError(f"the clock cannot go back from {self._now.isoformat()} to {at.isoformat()}")
            self._now = at
            return self._now
