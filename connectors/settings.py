"""The settings every ``[connectors.<tool>]`` section shares: ``ConnectorSettings``.

Each tool's section (``connectors.<tool>.settings``) subclasses it and adds its API root and
what it polls (``scopes``, each with its own cursor; ``scope_noun`` names them in summaries).
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, field_validator

from bridge.core.businesstime import Duration
from bridge.core.fields import DurationField, SecretField, StrictModel

__all__ = ["ConnectorSettings"]


class ConnectorSettings(StrictModel):
    """Keys every ``[connectors.*]`` section has: token, polling pace and request timeout (wall clock), write budget.

    ``token`` is a secret reference (``SecretField``), resolved to a ``SecretStr`` at load;
    ``write_budget_per_hour`` caps this connector's writes per hour.
    """

    token: SecretField
    poll_every: DurationField = Field(default="1m", validate_default=True, description="wall clock")
    timeout: DurationField = Field(default="10s", validate_default=True, description="wall clock, per request")
    write_budget_per_hour: int = Field(default=60, ge=0)
    backfill: str = Field(default="14d", description='wall clock: on a first start (no cursor yet) read only items '
                                                   'updated within this window, e.g. "14d"; "all" reads the whole history')

    scope_noun: ClassVar[str] = "scopes"

    @field_validator("backfill")
    @classmethod
    def _backfill(cls, value: str) -> str:
        if value == "all":
            return value
        try:
            length = Duration.parse(value).wall()
        except ValueError:
            raise ValueError('expected a window such as "14d" or "36h", or "all"') from None
        if length.total_seconds() <= 0:
            raise ValueError('must be longer than 0s (or "all")')
        return value

    def backfill_window(self) -> timedelta | None:
        """The first start's window (wall clock), or ``None`` for ``"all"``."""
        return None if self.backfill == "all" else Duration.parse(self.backfill).wall()

    @field_validator("poll_every", "timeout")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.wall().total_seconds() <= 0:
            raise ValueError("must be longer than 0s")
        return value
