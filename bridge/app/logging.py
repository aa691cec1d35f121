"""Configure structlog once for the whole process, with secrets redacted from every line.

One stream: structlog events and stdlib records (``github``, ``urllib3``, ``requests``,
``apscheduler``, ``alembic``, ``werkzeug``, ``asana``, ``jira``, ``py.warnings``) all pass
through the same `structlog.stdlib.ProcessorFormatter` on a single root handler, so they get
the same timestamp, level, redaction and renderer: JSON lines for journald, a console
renderer on a TTY. The secret registry and ``get_logger`` live in ``bridge.core.logs``.

Under systemd, journald reads a ``<N>`` syslog priority prefix on each line of a stream it
captures (``SyslogLevelPrefix=``, on by default; sd-daemon(3)): when ``$JOURNAL_STREAM``
names the stream's file descriptor (systemd.exec(5)), every line starts with ``<3>`` for
error and critical, ``<4>`` warning, ``<6>`` info, ``<7>`` debug, so ``journalctl -p err``
finds the errors; journald strips the prefix, so ``journalctl -o cat`` still prints JSON.
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

__all__ = ["LogSettingError", "configure_logging", "logging_settings_from_env", "journal_stream"]

_FORMATS = ("auto", "json", "console")
_HANDLER_MARK = "_handoff_bridge_handler"
_lock = threading.Lock()


class LogSettingError(ValueError):
    """An unknown log format or level (from the config or ``HANDOFF_BRIDGE_LOG_*``)."""


def _level_number(level: str | int) -> int:
    """Map ``"debug"``/``"INFO"``/``20`` to a stdlib level number; LogSettingError if unknown."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise LogSettingError(f"unknown log level {level!r}")
    return number


def _syslog_priority(levelno: int) -> int:
    """syslog(3) priority of a stdlib level: 2 crit, 3 err, 4 warning, 6 info, 7 debug."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def journal_stream(stream: object, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` is connected to journald: ``$JOURNAL_STREAM`` (``<device>:<inode>``,
    decimal) equals the ``st_dev:st_ino`` of its file descriptor (systemd.exec(5))."""
    env = os.environ if environ is None else environ
    raw = env.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in raw.split(":"))
        st = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (ValueError, AttributeError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class _PriorityFormatter(structlog.stdlib.ProcessorFormatter):
    """`ProcessorFormatter` that starts each line with journald's ``<N>`` priority prefix."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


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
    *, fmt: str = "auto", level: str | int = "info", stream: TextIO | None = None,
    syslog_prefix: bool | None = None, environ: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog and stdlib logging for the process; safe to call again.

    ``fmt``: ``"json"`` (one JSON object per line), ``"console"`` (human renderer), or
    ``"auto"``: console when ``stream.isatty()``, JSON otherwise (journald, pipes, files).
    ``level``: stdlib level name or number for the root logger (``werkzeug`` stays at
    WARNING or above). ``stream``: where lines go; defaults to ``sys.stderr`` at call time.
    Every line carries ``timestamp`` (ISO 8601 UTC), ``level``, ``logger`` and ``event``,
    plus bound contextvars; secrets are redacted (see `register_secret`).
    ``syslog_prefix``: start every line with ``<N>`` (journald's priority); ``None`` (default)
    decides by `journal_stream` of ``stream`` in ``environ`` (default ``os.environ``).

    Raises LogSettingError (a ValueError) for an unknown ``fmt`` or ``level``.
    """
    if fmt not in _FORMATS:
        raise LogSettingError(f"unknown log format {fmt!r}; expected one of {', '.join(_FORMATS)}")
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
    if syslog_prefix is None:
        syslog_prefix = journal_stream(out, environ)
    formatter = (_PriorityFormatter if syslog_prefix else structlog.stdlib.ProcessorFormatter)(
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


def logging_settings_from_env(environ: Mapping[str, str] | None = None, *, fmt: str = "auto",
                              level: str = "info") -> dict[str, str]:
    """Read ``HANDOFF_BRIDGE_LOG_FORMAT`` and ``HANDOFF_BRIDGE_LOG_LEVEL`` for `configure_logging`.

    Returns ``{"fmt": ..., "level": ...}``: each variable when set and not blank, else
    ``fmt`` / ``level`` (the CLI passes the config's ``[daemon] log_format`` / ``log_level``;
    defaults ``"auto"`` and ``"info"``); values are lower-cased and validated by
    `configure_logging`, not here.
    """
    env = os.environ if environ is None else environ
    return {
        "fmt": (env.get("HANDOFF_BRIDGE_LOG_FORMAT", "").strip() or fmt).lower(),
        "level": (env.get("HANDOFF_BRIDGE_LOG_LEVEL", "").strip() or str(level)).lower(),
    }
