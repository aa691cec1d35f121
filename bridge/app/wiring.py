"""Build connectors and the engine from a validated config (one place, used by the daemon,
``once``, ``explain`` and the demo alike), and the store lock the daemon shares between
connectors.

- `build_connectors` / `build_engine`: one connector per ``[connectors.<name>]`` section. No
  connector calls its tool while being built, so a tracker that is down or refuses the token
  at start is found by its first poll and handled by ``bridge.engine.health`` (down, retried
  with backoff) while the others run.
- `StoreLock` and `LockedConnector`: the daemon runs each connector's cycles on its own
  thread; the engine and the store are touched only under the one `StoreLock` (one writer),
  and every call that may reach a tool (``poll``, ``fetch``, ``apply``, ``find_marker``,
  ``whoami``, ...) releases it for its duration, so one slow tool never holds the others.
- `close_connectors`: release the clients' pools and sessions (at exit and on reload).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

from bridge.config import Config
from bridge.engine import Engine
from bridge.core.logs import register_secret
from bridge.store import Store
from connectors.base import factory_for

__all__ = ["StoreLock", "LockedConnector", "build_connectors", "build_engine", "close_connectors"]

#: Connector methods that never reach the tool (pure text and configuration): called under the lock.
PURE = frozenset({"scopes", "mention", "escape", "literal", "footer",
                  "rate_budget"})  # what the connector last knew: a metrics read must not wait for a slow poll


class StoreLock:
    """The one lock over the engine and the store, which a tool call releases for its duration.

    ``with lock:`` takes it (not re-entrant). `released` gives it up for a tool call when the
    current thread holds it (and does nothing otherwise); `reacquired` takes it back for a
    callback made from inside such a call (``poll``'s ``known``), so store reads stay under it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._local = threading.local()

    def __enter__(self) -> "StoreLock":
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(self, *_exc) -> None:
        self._owner = None
        self._lock.release()

    def held(self) -> bool:
        """Whether the current thread holds the lock."""
        return self._owner == threading.get_ident()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give the lock up for the block if this thread holds it; take it back after."""
        if not self.held():
            yield
            return
        self.__exit__()
        self._local.out = getattr(self._local, "out", 0) + 1
        try:
            yield
        finally:
            self._local.out -= 1
            self.__enter__()

    @contextmanager
    def reacquired(self) -> Iterator[None]:
        """Inside a `released` block of this thread: hold the lock for the block."""
        if getattr(self._local, "out", 0) == 0 or self.held():
            yield
            return
        self.__enter__()
        try:
            yield
        finally:
            self.__exit__()


class LockedConnector:
    """A connector whose tool calls run with the `StoreLock` released and one at a time.

    Every public callable but the `PURE` ones releases ``lock`` (when held) and takes this
    connector's own lock, so the connector is never used by two threads at once; callable
    arguments (``known``) are called back with ``lock`` held again. Any other attribute
    (``name``, ``tool``, ``requests``) is the connector's. The connector's lock is never held
    while waiting for ``lock`` except inside such a callback, and ``lock`` is never held while
    waiting for a connector's lock: no deadlock.
    """

    def __init__(self, inner: Any, lock: StoreLock) -> None:
        self.__dict__["_inner"] = inner
        self.__dict__["_store_lock"] = lock
        self.__dict__["_calls"] = threading.RLock()

    @property
    def inner(self) -> Any:
        """The connector itself."""
        return self._inner

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if attr.startswith("_") or attr in PURE or not callable(value):
            return value
        lock, calls = self._store_lock, self._calls

        def under(fn):
            def call_back(*a, **kw):
                with lock.reacquired():
                    return fn(*a, **kw)
            return call_back

        def call(*args, **kwargs):
            args = tuple(under(a) if callable(a) else a for a in args)
            kwargs = {k: under(v) if callable(v) else v for k, v in kwargs.items()}
            with lock.released(), calls:
                return value(*args, **kwargs)

        return call

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._inner, attr, value)


def build_connectors(config: Config, clock: Callable[[], datetime], lock: StoreLock | None = None) -> dict:
    """Instantiate one connector per ``[connectors.<name>]`` section (no tool is called).

    Tokens are registered for redaction before any client sees them. With ``lock``, each is
    wrapped in a `LockedConnector`.
    """
    out = {}
    for name, section in config.connectors.items():
        token = section.token.get_secret_value()
        register_secret(token)
        conn = factory_for(name).from_config(name, section, token, clock=clock)
        out[name] = LockedConnector(conn, lock) if lock is not None else conn
    return out


def build_engine(config: Config, store: Store, clock: Callable[[], datetime], lock: StoreLock | None = None,
                 coordinator=None) -> Engine:
    """An ``Engine`` over ``store`` with freshly built connectors (see `build_connectors`).

    ``coordinator``: the replica work split (``bridge.store.locks.coordinator_for``); default
    ``Solo``, this process does everything.
    """
    return Engine(config, store, build_connectors(config, clock, lock), clock, coordinator=coordinator)


def close_connectors(connectors: dict) -> None:
    """Release each connector's client resources; never raises.

    Asana's ``ApiClient`` starts a ``ThreadPool`` (one thread per CPU, plus three) when built
    and closes it only in ``__del__``: at interpreter exit that prints a traceback to stderr,
    and every reload would leave the old pool's threads behind. PyGithub's ``Github`` and
    jira's ``JIRA`` hold a requests session each.
    """
    for conn in connectors.values():
        conn = getattr(conn, "inner", conn)
        own = getattr(conn, "__dict__", {})
        api = own.get("_api")
        pool = getattr(api, "__dict__", {}).pop("pool", None)  # so ApiClient.__del__ does nothing
        for close in (getattr(pool, "close", None), getattr(pool, "join", None),
                      getattr(own.get("_gh"), "close", None), getattr(own.get("_jira"), "close", None)):
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
