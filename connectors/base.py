"""The contract every connector satisfies, and the registry that names them.

A connector only fetches and writes; the engine owns cursors, storage and timing
(DESIGN.md "Connectors"). Vendor exceptions are translated at the edge, in each client,
through ``connectors.http`` (one status → error table, one Retry-After parser) into the
error tree drawn in ``bridge/core/errors.py``, raised ``from`` the vendor exception so its
cause is kept. Each tool's text markup lives in ``connectors/<tool>/markup.py``.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timezone
from typing import Callable, NamedTuple, Protocol, runtime_checkable

from bridge.core.model import Account, Action, ActionResult, ItemRef, PollResult, Tool


@runtime_checkable
class Connector(Protocol):
    """A tool's poller and writer.

    ``name`` is the config section (``[connectors.<name>]``); ``tool`` is ``github`` |
    ``jira`` | ``asana``.
    """

    name: str
    tool: str

    def scopes(self) -> list[str]:
        """Containers polled independently, each with its own cursor (repositories, JQLs, projects)."""

    def poll(
        self, scope: str, cursor: dict | None, known: Callable[[list[str]], dict] | None = None
    ) -> PollResult:
        """Read what changed in ``scope`` since ``cursor`` (``None`` = first poll).

        ``known`` maps item keys to their stored ``updated_at``; unchanged items are not re-read.

        Never raises for one malformed vendor item: it is skipped and listed in
        ``PollResult.skipped``. Raises ``bridge.core.errors.ConnectorError`` subclasses for
        failures of the call itself (which status gives which: ``connectors.http.ROWS``);
        the cursor then stays where it was.
        """

    def fetch(self, ref: ItemRef) -> PollResult:
        """Re-read one item now: its snapshot and all its events (the live re-check before acting).

        Event ids are the same as ``poll`` gives for the same facts, so storing the result
        adds only what is new. ``next_cursor`` is ``None`` (no cursor moves). A deleted or
        invisible item gives an empty ``items`` list. Raises ``bridge.core.errors.ConnectorError``
        subclasses like ``poll``.
        """

    def apply(self, action: Action) -> ActionResult:
        """Write ``action`` once. Raises ``OutcomeUnknown`` when the response was lost (a
        timeout, a lost connection or a 5xx: ``connectors.http`` with ``write=True``), and when
        an action of several writes fails after its first write went out (partly applied:
        a Jira draft created but not linked); any other error means nothing was applied.
        Every part of a multi-write action is idempotent on its own or finished by
        ``find_marker`` (a reassignment's assignee write is repeated harmlessly; a draft's link
        is made by the lookup that finds the draft)."""

    def find_marker(self, action: Action, since: datetime) -> ActionResult | None:
        """Look for text carrying ``action.marker`` written on or after ``since`` (UTC); the
        engine asks before every send, the first one included.

        Three answers: the ``ActionResult`` of what stands (``already_present=True``; a part
        of the action found missing, like a draft's link, is made now), ``None`` only when
        the whole window was read and the marker is not there, or a raised
        ``bridge.core.errors.ConnectorError`` when it cannot tell (a failed, unreadable or
        wrongly shaped read, a pagination cut short): the row then waits, never sent."""

    def whoami(self) -> Account:
        """The daemon's own account in this tool (for echo suppression)."""

    def mention(self, account: Account) -> str:
        """The tool's native mention of ``account`` (GitHub ``@login``)."""

    def escape(self, text: str) -> str:
        """Make untrusted text inert in this tool's markup: no mention, link or formatting."""

    def literal(self, text: str) -> str:
        """A template's own words (between placeholders) made valid in this tool's markup."""

    def footer(self, rule: str, marker: str) -> str:
        """The tail of every text written: the rule's name and the marker ``hb:<12 hex>``."""


def parse_iso_utc(s: object) -> datetime:
    """Parse an ISO 8601 timestamp with a zone (``2025-03-09T13:08:59Z``,
    ``2012-02-22T02:06:58.147Z``, ``…+01:00``) into an aware UTC datetime.

    Raises:
        ValueError: not a string, not ISO 8601, or without a time zone.
    """
    if not isinstance(s, str):
        raise ValueError(f"timestamp is {type(s).__name__}, not a string: {s!r}")
    text = s.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {s!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"timestamp has no time zone: {s!r}")
    return parsed.astimezone(timezone.utc)


class RateBudget(NamedTuple):
    """What is left of a tool's API rate budget, as the connector last knew it.

    ``remaining`` of ``limit`` requests, the window (or bucket) full again at ``reset_at``
    (aware UTC; ``None`` when the tool does not say).
    """

    remaining: int
    limit: int
    reset_at: datetime | None


def rate_budget(connector) -> RateBudget | None:
    """The connector's ``rate_budget()`` (an optional method: GitHub's from its last
    ``X-RateLimit-*`` headers, Asana's from its own ``requests_per_minute`` limiter), or ``None``
    when it has none or knows nothing yet (Jira documents no budget)."""
    method = getattr(connector, "rate_budget", None)
    return method() if callable(method) else None


ConnectorFactory = Callable[..., Connector]

#: Tools with a connector package ``connectors.<tool>``: every ``bridge.core.model.Tool``.
KNOWN_TOOLS = tuple(t.value for t in Tool)

_REGISTRY: dict[str, ConnectorFactory] = {}


def register(tool: str) -> Callable[[ConnectorFactory], ConnectorFactory]:
    """Register a connector class under its tool name."""

    def deco(factory: ConnectorFactory) -> ConnectorFactory:
        _REGISTRY[tool] = factory
        return factory

    return deco


def factory_for(tool: str) -> ConnectorFactory:
    """Return the registered factory for ``tool`` (importing ``connectors.<tool>.client``).

    Raises:
        KeyError: no connector is registered under that name.
    """
    if tool not in _REGISTRY and tool in KNOWN_TOOLS:
        importlib.import_module(f"connectors.{tool}.client")  # registers itself
    return _REGISTRY[tool]

