"""``[connectors.asana]`` settings: ``AsanaConnectorConfig`` (API root, token, project gids, pace)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from bridge.core.fields import Text, http_url
from connectors.settings import ConnectorSettings

__all__ = ["AsanaConnectorConfig"]


class AsanaConnectorConfig(ConnectorSettings):
    """``[connectors.asana]``: API root, personal access token, project gids, pace (wall clock).

    ``requests_per_minute`` caps every request of this connector (Asana's free plan allows
    150 per minute); a 429's ``Retry-After`` pauses it further.
    """

    base_url: str = "https://app.asana.com/api/1.0"
    projects: list[Text] = Field(min_length=1, json_schema_extra={"uniqueItems": True}, description="project gids")
    requests_per_minute: int = Field(default=150, ge=1, description="Asana free plan: 150")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value, "https://app.asana.com/api/1.0")

    @field_validator("projects")
    @classmethod
    def _projects(cls, value: list[str]) -> list[str]:
        for gid in value:
            if not gid.isdigit():
                raise ValueError(f"expected a project gid (digits only), the number in the project's URL (bad entry {gid!r})")
        if len(set(value)) != len(value):
            raise ValueError("each project may appear only once")
        return value

    @property
    def scopes(self) -> list[str]:
        return list(self.projects)

    scope_noun: ClassVar[str] = "projects"
