"""The retry queue and the dead-letter list: items whose own read failed (issue 12, "one bad
item never stalls a scope").

A poll that cannot read one item (a 404 on a GitHub issue's timeline, on a Jira issue's
comments or remote links, on an Asana task's stories; any ``NotFound`` or ``PermanentError``
about that item alone) lists it in ``PollResult.deferred`` and goes on; the scope's cursor
moves past it. `RetryQueue` keeps such items in the store (``bridge.store.tables.RetryRow``)
and says when each is due to be read again alone (``connector.fetch(ref)``, the engine's
``retry`` stage): after ``retry_wait``, doubling each failed try, at most ``retry_max_wait``
(``[daemon]``, wall clock). After ``retry_tries`` failed reads the item goes to the
dead-letter list: one error log line (``item_dead_lettered``), shown by ``status`` and
``explain``, read again only on demand (``handoff-bridge retry``). An item read fine again,
by a poll or a retry, leaves the queue (``item_recovered``). The same pattern as the
dead-letter queue of mozilla's jira-bugzilla-integration.

Logs, once per state change: ``item_deferred`` (warning) when an item enters the queue,
``item_dead_lettered`` (error), ``item_recovered`` (info).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bridge.core.logs import get_logger, redact
from bridge.core.model import ItemRef
from bridge.store import RetryRow, Store

log = get_logger("bridge.engine")

__all__ = ["RetryQueue", "backoff"]


def backoff(tries: int, first: timedelta, cap: timedelta) -> timedelta:
    """Wait before the next read after ``tries`` failed reads (``tries`` >= 1): ``first``,
    doubled per further failure, never more than ``cap``."""
    wait = first
    for _ in range(max(tries - 1, 0)):  # doubling stops at the cap: no overflow for any ``tries``
        if wait >= cap:
            break
        wait *= 2
    return min(wait, cap)


class RetryQueue:
    """The store's retry rows of every connector, with the policy that moves them.

    Args:
        store: where the rows live (``Store.retries`` and friends).
        tries: failed reads after which an item is dead-lettered (>= 1).
        first_wait, max_wait: the backoff (wall clock, see `backoff`).

    The set of queued items is kept in memory too (loaded once), so clearing the rows of the
    items a poll read fine costs nothing when none of them was queued.
    """

    def __init__(self, store: Store, *, tries: int, first_wait: timedelta, max_wait: timedelta):
        self.store = store
        self.tries = tries
        self.first_wait = first_wait
        self.max_wait = max_wait
        self._queued: set[tuple[str, ItemRef]] | None = None

    def _known(self) -> set[tuple[str, ItemRef]]:
        if self._queued is None:
            self._queued = {(r.connector, ItemRef(r.item_tool, r.item_key)) for r in self.store.retries()}
        return self._queued

    def deferred(self, connector: str, scope: str, ref: ItemRef, error: str, now: datetime) -> None:
        """A poll of ``scope`` could not read ``ref``. A new item enters the queue (first read
        again after ``first_wait``); an item already queued or dead-lettered keeps its place
        (a poll's failure is not a try of its own: the queue's reads count)."""
        error = redact(error)
        row = self.store.retry(connector, ref)
        if row is not None:
            row.error, row.last_failed_at = error, now
            self.store.save_retry(row)
            return
        wait = backoff(1, self.first_wait, self.max_wait)
        dead = self.tries <= 1
        self.store.save_retry(RetryRow(connector=connector, item_tool=ref.tool, item_key=ref.key, scope=scope,
                                       error=error, tries=1, first_failed_at=now, last_failed_at=now,
                                       next_try_at=now + wait, dead_at=now if dead else None))
        self._known().add((connector, ref))
        log.warning("item_deferred", connector=connector, scope=scope, item=ref.key, error=error,
                    retry_in_s=round(wait.total_seconds()),
                    hint="the rest of the scope goes on; this item is read again alone later")
        if dead:
            self._dead_log(connector, ref, 1, error)

    def failed(self, row: RetryRow, error: str, now: datetime) -> RetryRow:
        """A retry read of ``row``'s item failed again: count it, then wait longer or, after
        ``tries`` failures, dead-letter it. Returns the row as saved."""
        row.tries += 1
        row.error, row.last_failed_at = redact(error), now
        if row.tries >= self.tries:
            row.dead_at = now
            self._dead_log(row.connector, ItemRef(row.item_tool, row.item_key), row.tries, row.error)
        else:
            row.next_try_at = now + backoff(row.tries, self.first_wait, self.max_wait)
        self.store.save_retry(row)
        return row

    def read_fine(self, connector: str, refs: list[ItemRef]) -> None:
        """``refs`` were read and stored: those queued (or dead-lettered) leave the queue."""
        known = self._known()
        back = [r for r in refs if (connector, r) in known]
        if not back:
            return
        self.store.clear_retries(connector, back)
        for ref in back:
            known.discard((connector, ref))
            log.info("item_recovered", connector=connector, item=ref.key)

    def due(self, connector: str, now: datetime) -> list[RetryRow]:
        """``connector``'s queued rows due at ``now`` (not dead-lettered), oldest failure first.

        Read from the store each time (one query), so rows another replica queued are seen and
        known to `read_fine` too."""
        rows = self.store.retries(connector, dead=False)
        self._known().update((connector, ItemRef(r.item_tool, r.item_key)) for r in rows)
        return [r for r in rows if r.next_try_at <= now]

    def requeue(self, now: datetime, refs: list[ItemRef] | None = None) -> list[RetryRow]:
        """Dead-lettered rows (of ``refs``, or all) back in the queue, due at ``now`` with their
        tries reset (``handoff-bridge retry``). Returns them."""
        back = self.store.requeue_dead(now, refs)
        self._queued = None
        return back

    @staticmethod
    def _dead_log(connector: str, ref: ItemRef, tries: int, error: str) -> None:
        log.error("item_dead_lettered", connector=connector, item=ref.key, tries=tries, error=error,
                  hint="its events are not read until it is retried: `handoff-bridge retry "
                       f"{ref.key}` once the cause is fixed; `handoff-bridge status` lists such items")
