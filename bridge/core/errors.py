"""One error tree for the whole daemon; vendor exceptions are translated at the connector edge.

::

    BridgeError
    ├── ConfigError            bad configuration: the daemon does not start / keeps the old one
    └── ConnectorError         a tool call failed (``tool`` names which)
        ├── TransientError     timeout, connection reset, 5xx: try again next cycle
        │   └── RateLimited    429 / exhausted quota: wait ``retry_after`` seconds
        ├── OutcomeUnknown     a write whose response was lost: reconcile by marker, never resend blindly
        ├── AuthError          token revoked or lacking scope: stop this connector, log once
        ├── NotFound           the item or container is gone
        └── PermanentError     the tool refused the request (4xx): do not retry

Every message says what to do next. No message ever carries a token.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error handoff-bridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration is invalid. ``problems`` lists every problem found, one line each."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class ConnectorError(BridgeError):
    """A call to a tool failed. ``answered`` is ``True`` when the tool answered with an HTTP
    status (it is reachable), ``False`` when no usable answer came (timeout, lost connection)."""

    answered: bool = False

    def __init__(self, tool: str, message: str):
        super().__init__(f"{tool}: {message}")
        self.tool = tool


class TransientError(ConnectorError):
    """Timeout, connection error or 5xx: the next cycle tries again."""


class RateLimited(TransientError):
    """The tool asked us to slow down; ``retry_after`` is in seconds (wall clock)."""

    def __init__(self, tool: str, message: str, retry_after: float):
        super().__init__(tool, f"{message} (retry after {retry_after:.0f}s)")
        self.retry_after = retry_after


class OutcomeUnknown(ConnectorError):
    """A write was sent but its response never arrived: reconcile by marker before resending."""


class AuthError(ConnectorError):
    """Credentials rejected: the connector stops until the config is reloaded."""


class NotFound(ConnectorError):
    """The item or container does not exist (or the token cannot see it)."""


class PermanentError(ConnectorError):
    """The tool rejected the request; retrying will not help."""
