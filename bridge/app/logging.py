"""Configure structlog once for the whole process, with secrets redacted from every line.

One stream: structlog events and stdlib records (``github``, ``urllib3``, ``requests``,
``apscheduler``, ``alembic``, ``werkzeug``, ``asana``, ``jira``, ``py.warnings``) all pass
through the same `structlog.stdlib.ProcessorFormatter` on a single root handler, so they get
the same timestamp, level, redaction and renderer: JSON lines for journald, a console
renderer on a TTY. The secret registry and ``get_logger`` live in ``bridge.core.logs``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

import structlog

from bridge.core.logs import (
    FOREIGN_LOGGERS,
    detach_foreign_handlers,
    redact_event,
    redact_rendered,
)

__all__ = ["configure_logging", "logging_settings_from_env"]

_FORMATS = ("auto", "json", "console")
_HANDLER_MARK = "_handoff_bridge_handler"
_lock = threading.Lock()


def _level_number(level: str | int) -> int:
    """Map ``"debug"``/``"INFO"``/``20`` to a stdlib level number; ValueError if unknown."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def _shared_processors() -> list[Any]:
    """Return the processors that both structlog events and stdlib records go through."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def configure_logging(
    *, fmt: str = "auto", level: str | int = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog and stdlib logging for the process; safe to call again.

    ``fmt``: ``"json"`` (one JSON object per line), ``"console"`` (human renderer), or
    ``"auto"``: console when ``stream.isatty()``, JSON otherwise (journald, pipes, files).
    ``level``: stdlib level name or number for the root logger (``werkzeug`` stays at
    WARNING or above). ``stream``: where lines go; defaults to ``sys.stderr`` at call time.
    Every line carries ``timestamp`` (ISO 8601 UTC), ``level``, ``logger`` and ``event``,
    plus bound contextvars; secrets are redacted (see `register_secret`).

    Raises ValueError for an unknown ``fmt`` or ``level``.
    """
    if fmt not in _FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; expected one of {', '.join(_FORMATS)}")
    level_no = _level_number(level)
    out = sys.stderr if stream is None else stream
    if fmt == "auto":
        isatty = getattr(out, "isatty", None)
        fmt = "console" if callable(isatty) and isatty() else "json"

    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(
            serializer=lambda obj, **kw: json.dumps(obj, ensure_ascii=False, **kw)
        )
    else:
        isatty = getattr(out, "isatty", None)
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(callable(isatty) and isatty()),
            exception_formatter=structlog.dev.plain_traceback,
        )

    shared = _shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
            redact_rendered,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    # PyGithub attaches its StreamHandler at import time: import first, then detach.
    try:
        import github  # noqa: F401
    except ImportError:  # pragma: no cover - PyGithub is a hard dependency
        pass

    root = logging.getLogger()
    with _lock:
        for old in list(root.handlers):
            root.removeHandler(old)
            if getattr(old, _HANDLER_MARK, False):
                old.close()
        root.addHandler(handler)
        root.setLevel(level_no)
        detach_foreign_handlers()
        for name in FOREIGN_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        # Libraries that narrate every request, SQL statement or job run speak only from
        # WARNING up (SQLAlchemy at INFO logs each statement with its parameters).
        for name in ("werkzeug", "sqlalchemy", "alembic", "apscheduler", "urllib3"):
            logging.getLogger(name).setLevel(max(level_no, logging.WARNING))
        logging.captureWarnings(True)

        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *shared,
                structlog.stdlib.PositionalArgumentsFormatter(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            context_class=dict,
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            # Not cached: tests and reloads reconfigure, and capture_logs must see events.
            cache_logger_on_first_use=False,
        )


def logging_settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Read ``HANDOFF_BRIDGE_LOG_FORMAT`` and ``HANDOFF_BRIDGE_LOG_LEVEL`` for `configure_logging`.

    Returns ``{"fmt": ..., "level": ...}`` with defaults ``"auto"`` and ``"info"``; values
    are lower-cased and validated by `configure_logging`, not here.
    """
    env = os.environ if environ is None else environ
    return {
        "fmt": (env.get("HANDOFF_BRIDGE_LOG_FORMAT") or "auto").strip().lower(),
        "level": (env.get("HANDOFF_BRIDGE_LOG_LEVEL") or "info").strip().lower(),
    }
