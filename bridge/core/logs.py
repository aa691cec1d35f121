"""What every layer needs to log: ``get_logger``, the secret registry and redaction.

Secrets registered here (``register_secret``) are replaced by ``"***"`` in every line;
``bridge.app.logging.configure_logging`` installs the processors (``redact_event``,
``redact_rendered``) once per process. ``detach_foreign_handlers`` routes third-party
loggers into that one stream.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

import structlog

__all__ = [
    "FOREIGN_LOGGERS",
    "REDACTED",
    "SENSITIVE_KEY",
    "detach_foreign_handlers",
    "get_logger",
    "redact",
    "redact_event",
    "redact_rendered",
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


def get_logger(name: str | None = None) -> Any:
    """Return a structlog bound logger named ``name`` (the caller's module when None)."""
    return structlog.stdlib.get_logger(name) if name is not None else structlog.get_logger()
