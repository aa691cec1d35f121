"""Work split between replicas on one PostgreSQL database, by PostgreSQL's advisory locks.

Holds the lock keys (``MIGRATION_LOCK``, ``LEADER_LOCK``, the member and scope key spaces),
``Solo`` (one process owns everything: SQLite, or any single daemon) and ``AdvisoryLocks`` (a
replica among several), both answering the engine's two questions: *may I poll this scope?*
(``claim``) and *am I the one who evaluates, plans and delivers?* (``leader``).

How replicas share the work (PostgreSQL manual, "Advisory Locks" and ``pg_locks``):

- Every lock is **session-level**, taken with ``pg_try_advisory_lock`` on one dedicated
  connection per replica (autocommit, never inside a transaction). A replica that dies, even
  by ``kill -9``, loses its connection and so every lock with it; nothing is left to expire.
- **Membership**: each replica holds ``(MEMBER_SPACE, its backend pid)``; the number of live
  replicas is the number of such locks granted in ``pg_locks``.
- **Scopes** (a repository, a JQL query, an Asana project) are claimed one lock each,
  ``(SCOPE_SPACE, crc32("connector:scope"))``: the replica holding a scope's lock is the only
  one that polls it. A replica claims at most its fair share, ``ceil(scopes / replicas)``, and
  gives back what it holds above that share, so a replica that joins gets work within a cycle
  or two, and the scopes of one that died are taken over by the next cycles of the others.
  A replica whose connector is down (it never answered since start and backs off, or its
  credential was refused) gives that connector's scopes back (``release``): another replica,
  which may reach the tool, takes them, instead of the scope waiting out this one's backoff.
- **Leader**: one replica holds ``LEADER_LOCK`` and is the only one that evaluates, plans and
  delivers (every replica polls its share). When it dies another takes the lock at its next
  cycle and starts from the stored state, as a restart does.
- Migrations run under the transaction-level lock ``MIGRATION_LOCK`` (``migrations/env.py``).

A lost connection (server restart, network) counts as losing every lock: the replica polls
nothing and leads nothing until it has connected and claimed again.
"""

from __future__ import annotations

import math
import threading
import zlib
from sqlalchemy import create_engine, pool, text

from bridge.core.logs import get_logger

__all__ = ["AdvisoryLocks", "LEADER_LOCK", "MEMBER_SPACE", "MIGRATION_LOCK", "SCOPE_SPACE", "Solo",
           "coordinator_for", "scope_key"]

log = get_logger("bridge.store.locks")

#: First key of every two-key advisory lock the daemon takes ("hb" in ASCII); a database shared
#: with another application that uses the same space would confuse both.
SPACE = 0x6862
MIGRATION_LOCK = (SPACE, 1)
LEADER_LOCK = (SPACE, 2)
MEMBER_SPACE = SPACE + 1
SCOPE_SPACE = SPACE + 2


def scope_key(connector: str, scope: str) -> int:
    """The second key of ``scope``'s lock: CRC-32 of ``"connector:scope"`` as a signed 32-bit int.

    Two scopes that collide share one lock: they are then polled by the same replica, never by
    two.
    """
    n = zlib.crc32(f"{connector}:{scope}".encode())
    return n - (1 << 32) if n >= (1 << 31) else n


class Solo:
    """One daemon owns the database: every scope is its own and it always leads."""

    shared = False

    def watch(self, scopes: dict[str, list[str]]) -> None:
        """Told the scopes the engine polls (nothing to do alone)."""

    def claim(self, connector: str, scope: str) -> bool:
        return True

    def release(self, connector: str, scopes, why: str) -> int:
        """Nobody else could poll them: nothing to give back."""
        return 0

    def leader(self) -> bool:
        return True

    term = 0  # leadership never changes hands

    def close(self) -> None:
        pass


class AdvisoryLocks:
    """A replica's advisory locks, held on one dedicated connection to ``url`` (PostgreSQL).

    Thread-safe. ``claim`` and ``leader`` never raise on a lost connection: they answer
    ``False`` (logged once as ``replica_locks_lost``) and reconnect on the next call.
    ``term`` counts the times this replica became the leader (the engine starts from the
    store again at each new term).
    """

    shared = True
    #: Seconds a count of live replicas is reused (one ``pg_locks`` read per second at most).
    member_refresh = 1.0

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
        self._conn = None
        self._mutex = threading.Lock()
        self._held: set[int] = set()  # scope keys held
        self._wanted = 1  # scopes the engine polls in total
        self._leading = False
        self.term = 0
        self._members: tuple[float, int] | None = None

    # ---- connection

    def _connection(self):
        if self._conn is None:
            conn = self._engine.connect()
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.execute(text("SELECT pg_advisory_lock(:s, :k)"), {"s": MEMBER_SPACE, "k": pid})
            self._conn = conn
            log.info("replica_joined", backend_pid=pid)
        return self._conn

    def _run(self, sql: str, **params):
        """Execute on the lock connection; on failure forget every lock and raise ``_Lost``."""
        try:
            return self._connection().execute(text(sql), params).scalar()
        except Exception as exc:  # noqa: BLE001 - any failure of the lock connection loses the locks
            self._lost(exc)
            raise _Lost() from None

    def _lost(self, exc: Exception) -> None:
        if self._conn is not None or self._held or self._leading:
            log.error("replica_locks_lost", error_type=type(exc).__name__,
                      hint="polling and leading stop until the database answers again")
        try:
            if self._conn is not None:
                self._conn.invalidate()
                self._conn.close()
        except Exception:  # noqa: BLE001 - the connection is gone anyway
            pass
        self._conn, self._held, self._leading, self._members = None, set(), False, None

    # ---- work split

    def watch(self, scopes: dict[str, list[str]]) -> None:
        """Tell how many scopes there are in total (``{connector: [scope, …]}``) for the fair share."""
        with self._mutex:
            self._wanted = max(1, sum(len(v) for v in scopes.values()))

    def members(self) -> int:
        """Live replicas on the database (member locks granted), read at most every ``member_refresh`` s."""
        import time

        now = time.monotonic()
        if self._members is None or now - self._members[0] >= self.member_refresh:
            n = self._run("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                          "AND classid = :s AND objsubid = 2", s=MEMBER_SPACE)
            self._members = (now, max(1, int(n or 1)))
        return self._members[1]

    def share(self) -> int:
        """How many scopes this replica may hold: ``ceil(scopes / live replicas)``."""
        return math.ceil(self._wanted / self.members())

    def claim(self, connector: str, scope: str) -> bool:
        """May this replica poll ``scope`` now? Takes its lock when free and within the fair
        share; gives a held one back when this replica holds more than its share."""
        key = scope_key(connector, scope)
        with self._mutex:
            try:
                share = self.share()
                if key in self._held:
                    if len(self._held) <= share:
                        return True
                    self._run("SELECT pg_advisory_unlock(:s, :k)", s=SCOPE_SPACE, k=key)
                    self._held.discard(key)
                    log.info("scope_released", connector=connector, scope=scope, share=share)
                    return False
                if len(self._held) >= share:
                    return False
                if self._run("SELECT pg_try_advisory_lock(:s, :k)", s=SCOPE_SPACE, k=key):
                    self._held.add(key)
                    log.info("scope_claimed", connector=connector, scope=scope, share=share)
                    return True
                return False
            except _Lost:
                return False

    def release(self, connector: str, scopes, why: str) -> int:
        """Give back the locks of ``connector``'s ``scopes`` this replica holds, so another
        replica may poll them (this one cannot now: ``why``, logged with each). Returns how
        many were given back; a lost connection has given them all back already."""
        released = 0
        with self._mutex:
            for scope in scopes:
                key = scope_key(connector, scope)
                if key not in self._held:
                    continue
                try:
                    self._run("SELECT pg_advisory_unlock(:s, :k)", s=SCOPE_SPACE, k=key)
                except _Lost:
                    return released
                self._held.discard(key)
                released += 1
                log.info("scope_released", connector=connector, scope=scope, reason=why)
        return released

    def held(self) -> int:
        """How many scope locks this replica holds."""
        return len(self._held)

    def leader(self) -> bool:
        """Is this replica the leader? Tries to become it when nobody is."""
        with self._mutex:
            try:
                if self._leading:
                    self._run("SELECT 1")  # still connected, so still holding the lock
                    return True
                if self._run("SELECT pg_try_advisory_lock(:s, :k)", s=LEADER_LOCK[0], k=LEADER_LOCK[1]):
                    self._leading = True
                    self.term += 1
                    log.info("leader_elected", term=self.term)
                return self._leading
            except _Lost:
                return False

    def close(self) -> None:
        """Close the lock connection (every lock is released with it)."""
        with self._mutex:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
            self._conn, self._held, self._leading = None, set(), False
            self._engine.dispose()


class _Lost(Exception):
    """The lock connection failed (internal)."""


def coordinator_for(url: str) -> Solo | AdvisoryLocks:
    """``AdvisoryLocks`` for a PostgreSQL URL, ``Solo`` for anything else (SQLite: one process)."""
    return AdvisoryLocks(url) if url.startswith("postgresql") else Solo()

