"""Progress of a first crawl: the scopes (repositories, queries, projects) a connector reads
for the first time, with no cursor yet (issue 13, "progress").

`CrawlProgress` is fed by the engine's poll stage. While a connector's first crawl goes on it
logs ``first_crawl_progress`` at a steady pace (at most every ``every_s`` seconds of wall time):
scopes read of the total, items and requests so far, elapsed and estimated time left (seconds,
wall clock, from the pace so far); ``first_crawl_done`` once when every scope has a cursor.
``text()`` is the one-line form for sd_notify ``STATUS=`` and ``once``
(``first crawl: github 3 of 10 repositories read``). `crawl_status` answers the same from the
store alone, for ``handoff-bridge status``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from bridge.core.logs import get_logger
from bridge.core.model import PollResult

log = get_logger("bridge.engine")

__all__ = ["CrawlProgress", "crawl_status"]


@dataclass
class _Crawl:
    total: int
    noun: str
    started: float
    done: set[str] = field(default_factory=set)
    items: int = 0
    requests: int = 0
    logged: float = 0.0
    finished: bool = False


class CrawlProgress:
    """First crawls per connector. ``nouns``: connector name → what its scopes are called."""

    def __init__(self, nouns: dict[str, str], *, every_s: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.nouns = nouns
        self.every_s = every_s
        self.monotonic = monotonic
        self._crawls: dict[str, _Crawl] = {}

    def read(self, name: str, pending: Callable[[], list[str]], scope: str, result: PollResult) -> None:
        """``scope`` of connector ``name`` was polled with no cursor and gave ``result``.
        ``pending()``: the connector's scopes with no cursor yet (called once, when its crawl
        begins)."""
        now = self.monotonic()
        c = self._crawls.get(name)
        if c is None:
            c = self._crawls[name] = _Crawl(total=max(len(pending()), 1), noun=self.nouns.get(name, "scopes"),
                                            started=now, logged=now)
        if c.finished:
            return
        c.items += len(result.items)
        c.requests += result.requests
        if result.stopped_by is None:
            c.done.add(scope)
        elapsed = now - c.started
        if len(c.done) >= c.total:
            c.finished = True
            log.info("first_crawl_done", connector=name, scopes=c.total, items=c.items, requests=c.requests,
                     elapsed_s=round(elapsed, 1))
        elif now - c.logged >= self.every_s:
            c.logged = now
            left = elapsed / len(c.done) * (c.total - len(c.done)) if c.done else None
            log.info("first_crawl_progress", connector=name, scopes_read=len(c.done), scopes=c.total,
                     items=c.items, requests=c.requests, elapsed_s=round(elapsed, 1),
                     left_s=round(left, 1) if left is not None else None)

    def text(self) -> str:
        """``first crawl: github 3 of 10 repositories read`` for each unfinished crawl, or ``""``."""
        parts = [f"{name} {len(c.done)} of {c.total} {c.noun} read" for name, c in self._crawls.items() if not c.finished]
        return "first crawl: " + ", ".join(parts) if parts else ""


def crawl_status(config, store) -> str:
    """From the store alone: ``first crawl: github 3 of 10 repositories read`` for each
    connector some of whose scopes have no cursor yet (never polled through), or ``""``."""
    parts = []
    for name, section in config.connectors.items():
        scopes = list(section.scopes)
        done = sum(1 for s in scopes if store.get_cursor(name, s) is not None)
        if done < len(scopes):
            parts.append(f"{name} {done} of {len(scopes)} {section.scope_noun} read")
    return "first crawl: " + ", ".join(parts) if parts else ""
