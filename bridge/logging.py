"""Configure structlog once for the whole process, with secrets redacted from every line.

One stream: structlog events and stdlib records (``github``, ``urllib3``, ``requests``,
``apscheduler``, ``alembic``, ``werkzeug``, ``asana``, ``jira``, ``py.warnings``) all pass
through the same `structlog.stdlib.ProcessorFormatter` on a single root handler, so they get
the same timestamp, level, redaction and renderer: JSON lines for journald, a console
renderer on a TTY.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any, TextIO

import structlog

__all__ = [
    "REDACTED",
    "configure_logging",
    "detach_foreign_handlers",
    "get_logger",
    "logging_settings_from_env",
    "redact",
    "register_secret",
]

REDACTED = "***"

#: Keys whose values are always replaced, whatever they hold (matched case-insensitively,
#: anywhere in the key: ``github_token``, ``Authorization``, ``client_secret`` …).
SENSITIVE_KEY = re.compile(
    r"token|passw(or)?d|secret|authorization|credential|api[-_]?key|cookie|private[-_]?key",
    re.IGNORECASE,
)

#: Third-party loggers routed into our stream. Their own handlers are removed.
FOREIGN_LOGGERS = (
    "github",
    "urllib3",
    "requests",
    "apscheduler",
    "alembic",
    "werkzeug",
    "asana",
    "jira",
    "sqlalchemy",
    "py.warnings",
)

_FORMATS = ("auto", "json", "console")
_HANDLER_MARK = "_handoff_bridge_handler"

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so a secret containing another goes whole


def register_secret(value: str) -> None:
    """Add ``value`` to the strings replaced by ``"***"`` in every later log line.

    Call it as soon as a token is resolved (config, credential file, environment). The
    value and its whitespace-stripped form are both registered (credential files often end
    in a newline). Empty or whitespace-only values are ignored. Thread-safe.
    """
    global _secrets
    if not isinstance(value, str):
        raise TypeError(f"secret must be a str, not {type(value).__name__}")
    candidates = {v for v in (value, value.strip()) if v.strip()}
    if not candidates:
        return
    with _lock:
        merged = set(_secrets) | candidates
        _secrets = tuple(sorted(merged, key=len, reverse=True))


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``"***"``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    """Return ``value`` with registered secrets removed, recursing into containers.

    Strings are scrubbed; dict values under a sensitive key become ``"***"``; other objects
    whose ``repr`` would leak a secret (what the JSON renderer falls back to) are replaced
    by their scrubbed ``repr``.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redact_item(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    if isinstance(value, (tuple, set, frozenset)):
        return tuple(_redact_value(v) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if _secrets:
        text = repr(value)
        scrubbed = redact(text)
        if scrubbed != text:
            return scrubbed
    return value


def _redact_item(key: Any, value: Any) -> Any:
    """Return ``"***"`` for a sensitive key, else the scrubbed value."""
    if isinstance(key, str) and SENSITIVE_KEY.search(key):
        return REDACTED
    return _redact_value(value)


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Structlog processor: scrub an event dict before it is rendered.

    Values of keys matching `SENSITIVE_KEY` become ``"***"``; registered secrets inside any
    value (nested dicts/lists, formatted exception text, stdlib messages) become ``"***"``.
    """
    return {k: (_redact_item(k, v) if k != "event" else _redact_value(v))
            for k, v in event_dict.items()}


def redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    """Structlog processor placed after the renderer: scrub the final line as a last guard."""
    if isinstance(rendered, str):
        return redact(rendered)
    if isinstance(rendered, bytes):
        return redact(rendered.decode("utf-8", "replace")).encode()
    return rendered


def _level_number(level: str | int) -> int:
    """Map ``"debug"``/``"INFO"``/``20`` to a stdlib level number; ValueError if unknown."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def detach_foreign_handlers() -> None:
    """Remove handlers third-party libraries attach to their loggers and let records propagate.

    PyGithub adds a ``StreamHandler`` to ``github`` on import; the asana client attaches to
    ``asana`` and ``urllib3`` when configured. Call again after building such a client.
    """
    for name in FOREIGN_LOGGERS:
        lib_logger = logging.getLogger(name)
        for handler in list(lib_logger.handlers):
            lib_logger.removeHandler(handler)
        lib_logger.propagate = True


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


def get_logger(name: str | None = None) -> Any:
    """Return a structlog bound logger named ``name`` (the caller's module when None)."""
    return structlog.stdlib.get_logger(name) if name is not None else structlog.get_logger()


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
