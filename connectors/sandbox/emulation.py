"""What every emulator shares: the fault table, the lost-response middleware, the loopback server.

Each tool's emulator (``connectors/sandbox/<tool>/``) is split by job: ``state`` (the in-memory
world, no Flask), ``render`` (vendor JSON shapes), ``routes`` (the Flask app) and ``emulator``
(the assembly tests and stages drive). This module holds the parts that are not about any vendor:

- ``Fault`` / ``Faults``: injected faults, consumed by matching requests (``status``: answer
  an HTTP error shaped by the emulator, e.g. 429 + ``Retry-After`` or a 5xx; ``slow``: sleep,
  then answer; ``lost_response``: apply the request, then drop the connection unanswered;
  ``late_apply``: drop the connection unanswered and hold the request, applied only when the
  test calls ``LoopbackServer.apply_held()``: a write the tool applies after the client gave up).
- ``lost_response_middleware``: the WSGI wrapper that makes ``lost_response`` real.
- ``LoopbackServer``: ``start()`` / ``stop()`` / ``url`` on a daemon thread, quiet logs, and
  the per-request fault hook and request log every emulator's Flask app calls.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from werkzeug.serving import WSGIRequestHandler, make_server


@dataclass
class Fault:
    """One injected fault: which requests it hits, what it does, how many times is left."""

    method: str
    pattern: re.Pattern
    kind: str
    status: int | None = None
    retry_after: int | float | None = None
    delay: float | None = None
    times: int | None = 1

    def matches(self, method: str, path: str, full_path: str) -> bool:
        if self.method not in ("*", method):
            return False
        return bool(self.pattern.search(path) or self.pattern.search(full_path))


class Faults:
    """An emulator's fault table; each request consumes the first fault that matches it."""

    KINDS = ("status", "slow", "lost_response", "late_apply")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, method: str, path_regex: str, kind: str, *, status: int | None = None,
            retry_after: int | float | None = None, delay: float | None = None,
            times: int | None = 1) -> Fault:
        """Inject a fault for requests whose method and path match.

        ``method``: HTTP verb or ``"*"``; ``path_regex``: ``re.search`` against the path,
        then against path+query. ``kind``: ``"status"`` (answer ``status`` with the vendor's
        error body; ``retry_after`` seconds adds ``Retry-After``), ``"slow"`` (sleep ``delay``
        seconds, then answer normally), ``"lost_response"`` (apply the request, then close the
        connection without answering), ``"late_apply"`` (close the connection without answering
        and without applying; the request is held until ``LoopbackServer.apply_held``).
        ``times``: how many requests it hits; ``None`` = until :meth:`clear`.

        Raises:
            ValueError: unknown kind, or ``status``/``delay`` missing for their kind.
        """
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {self.KINDS}")
        if kind == "status" and not status:
            raise ValueError("a 'status' fault needs status=")
        if kind == "slow" and delay is None:
            raise ValueError("a 'slow' fault needs delay=")
        fault = Fault((method or "*").upper(), re.compile(path_regex), kind, status,
                      retry_after, delay, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, full_path: str) -> Fault | None:
        """Return and consume the first fault matching this request, or ``None``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, full_path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """A copy of the faults not yet consumed (e.g. to report which were never hit)."""
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


#: WSGI environ key set on a request hit by a ``lost_response`` (or ``late_apply``) fault.
LOST = "emulator.lost_response"
#: WSGI environ key of a held request replayed by ``LoopbackServer.apply_held`` (no fault is taken).
REPLAY = "emulator.replay"


def lost_response_middleware(inner: Callable, environ_key: str = LOST) -> Callable:
    """Wrap a WSGI app: when a request's environ has ``environ_key`` set (a ``lost_response``
    fault), run the request to completion (the write applies), then drop the socket."""

    def middleware(environ: dict, start_response: Callable) -> Any:
        captured: list = []

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured[:] = [status, headers, exc_info]
            return lambda data: None

        it = inner(environ, capture)
        try:
            body = b"".join(it)
        finally:
            if hasattr(it, "close"):
                it.close()
        if environ.get(environ_key):
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise ConnectionAbortedError(f"{environ_key}: lost_response fault")
        start_response(*captured[:2])
        return [body]

    return middleware


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        pass

    def log_error(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        pass


class LoopbackServer:
    """Serve ``self.app`` (a WSGI app the subclass builds) on loopback in a daemon thread.

    Subclasses set ``self.app``, ``self.requests`` (a list), ``self.faults`` (a ``Faults``) and
    ``self._lock`` before ``start``, and override ``_fault_response`` to shape an injected HTTP
    error the vendor's way; ``THREAD_NAME`` names the serving thread.
    """

    THREAD_NAME = "emulator"
    app: Any
    requests: list
    faults: Faults
    _lock: Any
    _held: list | None = None
    _server: Any = None
    _thread: threading.Thread | None = None
    url: str | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0):
        """Serve on ``host:port`` (0 = any free port); set ``self.url``; return self."""
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.THREAD_NAME, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; idempotent."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self if self._server else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def reset_requests(self) -> None:
        """Forget the served-request log ``self.requests``."""
        with self._lock:
            self.requests.clear()

    def _fault_response(self, fault: Fault) -> Any:
        """The vendor-shaped answer to a ``status`` fault (each emulator defines it)."""
        raise NotImplementedError

    def inject_fault(self) -> Any:
        """Call first in a Flask ``before_request``: record ``g.full_path`` (path?query), take the
        first matching fault and act on it. Returns the response of a ``status`` fault (or the
        placeholder of a held ``late_apply`` request, never sent), else ``None`` (a ``slow``
        fault has slept; a ``lost_response`` fault marks the request for
        ``lost_response_middleware``)."""
        from flask import Response, g, request

        path = request.path
        g.full_path = path + ("?" + request.query_string.decode() if request.query_string else "")
        if request.environ.get(REPLAY):
            return None
        fault = self.faults.take(request.method, path, g.full_path)
        if fault is None:
            return None
        if fault.kind == "status":
            return self._fault_response(fault)
        if fault.kind == "late_apply":
            with self._lock:
                if self._held is None:
                    self._held = []
                self._held.append(dict(method=request.method, path=path,
                                       query_string=request.query_string.decode(),
                                       headers=[(k, v) for k, v in request.headers.items()],
                                       data=request.get_data()))
            request.environ[LOST] = True  # the middleware drops the connection unanswered
            return Response(status=204)
        if fault.kind == "slow":
            time.sleep(fault.delay or 0)
        if fault.kind == "lost_response":
            request.environ[LOST] = True
        return None

    def apply_held(self) -> int:
        """Apply every request held by a ``late_apply`` fault now, in arrival order (their
        answers go nowhere: the client gave up long ago). Returns how many were applied."""
        from werkzeug.test import EnvironBuilder

        with self._lock:
            held, self._held = list(self._held or []), []
        for req in held:
            environ = EnvironBuilder(**req).get_environ()
            environ[REPLAY] = True
            body = self.app(environ, lambda status, headers, exc_info=None: (lambda data: None))
            try:
                b"".join(body)
            finally:
                if hasattr(body, "close"):
                    body.close()
        return len(held)

    def log_served(self, resp: Any) -> Any:
        """Call in a Flask ``after_request``: append ``(method, path?query, status)`` to ``requests``."""
        from flask import g, request

        with self._lock:
            self.requests.append((request.method, getattr(g, "full_path", request.path), resp.status_code))
        return resp


class EmulatorStage:
    """What every demo stage (``connectors/sandbox/<tool>/stage.py``) does the same way with its
    emulator ``self.emu``: count requests, stop, inject a scenario's ``[[faults]]`` entry."""

    emu: Any

    @property
    def requests(self) -> int:
        return len(self.emu.requests)

    def stop(self) -> None:
        self.emu.stop()

    def add_fault(self, fault: dict) -> None:
        """``fault``: ``{method, path, kind[, status, retry_after, delay, times]}`` (docs/scenarios.md)."""
        self.emu.faults.add(fault["method"], fault["path"], fault["kind"],
                            **{k: v for k, v in fault.items() if k in ("status", "retry_after", "delay", "times")})
