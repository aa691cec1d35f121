"""``[connectors.github]`` settings: ``GitHubConnectorConfig`` (API root, token, repositories, pace)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from bridge.core.fields import DurationField, http_url
from connectors.settings import ConnectorSettings

__all__ = ["GitHubConnectorConfig"]

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class GitHubConnectorConfig(ConnectorSettings):
    """``[connectors.github]``: API root, token, repositories and polling pace (wall clock)."""

    base_url: str = "https://api.github.com"
    repositories: list[str] = Field(min_length=1, json_schema_extra={"uniqueItems": True})
    overlap: DurationField = Field(default="2m", validate_default=True, description="wall clock")
    per_page: int = Field(default=100, ge=1, le=100)
    crawl_share: float = Field(default=0.5, gt=0, le=1,
                               description="a crawl (a poll with more than 10 changed items: a first start, a "
                                           "catch-up) stops once less than 1 - crawl_share of the token's hourly "
                                           "rate budget is left, keeping the rest for other integrations")
    seconds_between_requests: float = Field(
        default=0.25, ge=0, description="pause between any two requests (PyGithub's pacing; 0 for an emulator)"
    )
    seconds_between_writes: float = Field(
        default=1.0, ge=0, description="pause between two writes (GitHub's secondary rate limit advice)"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value, "https://api.github.com")

    @field_validator("repositories")
    @classmethod
    def _repositories(cls, value: list[str]) -> list[str]:
        for repo in value:
            if not _REPO.fullmatch(repo):
                raise ValueError(f"expected owner/name, e.g. acme/web (bad entry {repo!r})")
        if len(set(r.lower() for r in value)) != len(value):
            raise ValueError("each repository may appear only once")
        return value

    @property
    def scopes(self) -> list[str]:
        """What is polled, each with its own cursor: the repositories."""
        return list(self.repositories)

    scope_noun: ClassVar[str] = "repositories"
