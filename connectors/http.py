"""The one HTTP error edge of every connector: vendor answers become ``bridge.core.errors``.

Holds ``ROWS`` (the status → error table, with the few vendor rows a vendor documents),
``error_for`` (one answer → one error), ``no_answer`` (a request that got no usable answer)
and ``retry_after`` (the one parser of the wait a rate limit asks for). The clients call
these and ``raise … from exc``, so the vendor's exception stays the cause; the error tree
itself is drawn in ``bridge/core/errors.py``.

Error texts say what happened and what to do next, never carry a credential: a vendor's own
message is appended only after ``bridge.core.logs.redact`` and never for a 401.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Callable

from bridge.core import errors
from bridge.core.logs import redact
from connectors.base import parse_iso_utc

#: Seconds to wait when a rate limit names no time (GitHub's advice for a secondary limit:
#: "wait for at least one minute"; used for every tool).
DEFAULT_WAIT = 60.0

#: How much of a vendor's own message an error text repeats.
MESSAGE_CHARS = 200

_RATE_LIMIT_MESSAGE = re.compile(r"rate limit|abuse detection", re.IGNORECASE)


def lower_keys(headers: Any) -> dict[str, str]:
    """``headers`` (a dict, ``requests``' ``CaseInsensitiveDict``, urllib3's ``HTTPHeaderDict``
    or ``None``) as a plain dict with lower-cased names."""
    return {str(k).lower(): str(v) for k, v in dict(headers or {}).items()}


def _github_rate_limited(h: dict[str, str], message: str) -> bool:
    return "retry-after" in h or h.get("x-ratelimit-remaining") == "0" or bool(_RATE_LIMIT_MESSAGE.search(message))


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Attributes:
        statuses: the HTTP statuses it covers (``0``: the client got no status at all).
        error: the class raised on a read (and on a write, unless ``write_error``).
        text: what happened and what to do, ``{status}`` filled in (a ``TransientError``
            gets "will retry next cycle" added, an ``OutcomeUnknown`` "reconcile by marker").
        tools: only for these tools (a documented vendor difference); ``None``: every tool.
        when: a further test on (lower-cased headers, the vendor's message).
        write_error: the class raised instead when the request was a write.
        echo: whether the vendor's own message is appended to ``text``.
        source: where the row's meaning is documented.
    """

    statuses: Container[int]
    error: type[errors.ConnectorError]
    text: str
    tools: frozenset[str] | None = None
    when: Callable[[dict[str, str], str], bool] | None = None
    write_error: type[errors.ConnectorError] | None = None
    echo: bool = True
    source: str = "RFC 9110 §15"


#: Read top to bottom; the first row that matches decides. A status no row names is a
#: ``PermanentError`` ("refused").
ROWS: tuple[Row, ...] = (
    Row(
        (403, 429),
        errors.RateLimited,
        "rate limited ({status}); waiting as GitHub asked",
        tools=frozenset({"github"}),
        when=_github_rate_limited,
        source=(
            'GitHub REST "Rate limits for the REST API": a primary limit is 403 or 429 with '
            "x-ratelimit-remaining: 0 (wait until x-ratelimit-reset, epoch seconds); a secondary "
            "limit is 403 or 429 with retry-after or a message saying so (recorded: "
            "specs/recorded/github/pygithub/SpecificExceptions.*)"
        ),
    ),
    Row((401,), errors.AuthError, "credentials rejected (401); replace the token and reload", echo=False),
    Row((429,), errors.RateLimited, "rate limited (429)", source="RFC 6585 §4; Jira and Asana rate-limit docs"),
    Row((403,), errors.PermanentError, "forbidden (403); the account may not do this, check its permissions"),
    Row((404,), errors.NotFound, "not found (404); check the name and the account's access"),
    Row((410,), errors.NotFound, "gone (410); it was deleted"),
    Row(
        (0,),
        errors.TransientError,
        "no HTTP status",
        write_error=errors.OutcomeUnknown,
    ),
    Row(
        range(500, 600),
        errors.TransientError,
        "server error {status}",
        write_error=errors.OutcomeUnknown,
    ),
)

_REFUSED = Row((), errors.PermanentError, "refused ({status})")

_UNKNOWN_OUTCOME = "outcome unknown, reconcile by marker"
_RETRY = "will retry next cycle"


def row_for(tool: str, status: int, headers: Any = None, message: str = "") -> Row:
    """The first row of ``ROWS`` matching this answer (``status`` 0: none was given)."""
    h = lower_keys(headers)
    for row in ROWS:
        if status not in row.statuses or (row.tools is not None and tool not in row.tools):
            continue
        if row.when is None or row.when(h, message or ""):
            return row
    return _REFUSED


def error_for(
    tool: str,
    status: int,
    headers: Any,
    what: str,
    *,
    now: datetime,
    write: bool = False,
    message: str = "",
) -> errors.ConnectorError:
    """The error for a non-2xx answer, to be raised ``from`` the vendor's exception.

    Args:
        tool: ``github`` | ``jira`` | ``asana`` (picks vendor rows; names the error).
        status: the HTTP status, ``0`` when the client had none.
        headers: the response headers (any mapping; ``None`` for none).
        what: the request, e.g. ``"GET /repos/o/r/issues"``, put first in the text.
        now: aware UTC now, for a ``RateLimited`` wait given as a date.
        write: the request was a write; a 5xx (or no status) then is ``OutcomeUnknown``.
        message: the vendor's own error message, appended (redacted, at most
            ``MESSAGE_CHARS``) unless the row says not to.

    Returns:
        A ``bridge.core.errors.ConnectorError`` subclass; ``RateLimited.retry_after`` is
        ``retry_after(headers, now)`` seconds.
    """
    row = row_for(tool, status, headers, message)
    text = f"{what}: {row.text.format(status=status)}"
    if write and row.write_error is not None:
        exc = row.write_error(tool, f"{text}; {_UNKNOWN_OUTCOME}")
        exc.answered = True
        return exc
    if row.error is errors.TransientError:
        text += f"; {_RETRY}"
    hint = redact(" ".join(str(message or "").split()))[:MESSAGE_CHARS]
    if hint and row.echo:
        text += f' (the tool said: "{hint}")'
    if row.error is errors.RateLimited:
        exc = errors.RateLimited(tool, text, retry_after(headers, now))
    else:
        exc = row.error(tool, text)
    exc.answered = True  # the tool is reachable: it answered with a status (bridge.engine.health)
    return exc


def no_answer(tool: str, what: str, reason: str, *, write: bool, sent: bool = True) -> errors.ConnectorError:
    """The error for a request that got no usable answer (timeout, lost connection, unreadable body).

    Args:
        reason: what went wrong, e.g. the exception's class name (never its text, which
            may hold a URL with credentials).
        write: the request was a write.
        sent: ``False`` when the request provably never left (no connection made).

    Returns:
        ``OutcomeUnknown`` for a write that may have been applied, else ``TransientError``.
    """
    if write and sent:
        return errors.OutcomeUnknown(tool, f"{what}: {reason}; {_UNKNOWN_OUTCOME}")
    return errors.TransientError(tool, f"{what}: {reason}; {_RETRY}")


def retry_after(headers: Any, now: datetime) -> float:
    """Seconds to wait (at least 0) before the next request, from the response headers.

    In order: ``Retry-After`` as seconds or an HTTP date (RFC 9110 §10.2.3, all three
    tools); ``X-RateLimit-Reset`` as epoch seconds (GitHub) or an ISO 8601 time (Jira
    Cloud, minute precision: ``2026-11-23T09:05Z``); else ``DEFAULT_WAIT``. A value that
    does not parse is skipped.

    Args:
        headers: any mapping of response headers (names in any case), or ``None``.
        now: aware UTC now.
    """
    h = lower_keys(headers)
    value = h.get("retry-after", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    value = h.get("x-ratelimit-reset", "").strip()
    if value:
        try:
            return max(0.0, float(value) - now.timestamp())
        except ValueError:
            try:
                return max(0.0, (parse_iso_utc(value) - now).total_seconds())
            except ValueError:
                pass
    return DEFAULT_WAIT
