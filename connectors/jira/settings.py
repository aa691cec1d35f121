"""``[connectors.jira]`` settings: ``JiraConnectorConfig`` (site, credentials, JQL queries, pace)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bridge.core.fields import DurationField, Text, http_url
from connectors.settings import ConnectorSettings

__all__ = ["JiraConnectorConfig"]


class JiraConnectorConfig(ConnectorSettings):
    """``[connectors.jira]``: site, credentials, the JQL queries polled, and pace (wall clock).

    Cloud (``deployment = "cloud"``) authenticates with ``email`` + API token (HTTP Basic) and
    searches ``/rest/api/3/search/jql``; Data Center / Server (``"datacenter"``) uses a personal
    access token (Bearer) and ``/rest/api/2/search``. Each ``jql`` entry is one scope with its
    own cursor; the connector adds ``AND updated >= "<cursor>"`` itself.
    """

    base_url: str
    deployment: Literal["cloud", "datacenter"] = "cloud"
    email: Text | None = Field(default=None, description="Cloud: the account the API token belongs to")
    jql: list[Text] = Field(min_length=1, json_schema_extra={"uniqueItems": True}, description='e.g. "project = WEB"')
    overlap: DurationField = Field(default="2m", validate_default=True, description="wall clock; JQL has minute granularity")
    page_size: int = Field(default=100, ge=1, le=5000, description="issues per search page")
    flagged_field: str = Field(default="customfield_10021",
                                description='id of the site\'s "Flagged" field (GET /rest/api/3/field, name '
                                            '"Flagged"); a flagged issue is blocked. Changelogs are read by name')

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value, "https://acme.atlassian.net")

    @field_validator("flagged_field")
    @classmethod
    def _flagged_field(cls, value: str) -> str:
        if not re.fullmatch(r"customfield_\d+", value):
            raise ValueError('expected a custom field id such as customfield_10021 (GET /rest/api/3/field lists '
                             'the one named "Flagged")')
        return value

    @field_validator("jql")
    @classmethod
    def _jql(cls, value: list[str]) -> list[str]:
        for q in value:
            if re.search(r"\border\s+by\b", q, re.I):
                raise ValueError(f"leave ORDER BY out; the connector orders by updated (bad entry {q!r})")
        if len(set(value)) != len(value):
            raise ValueError("each query may appear only once")
        return value

    @model_validator(mode="after")
    def _cloud_needs_email(self) -> "JiraConnectorConfig":
        if self.deployment == "cloud" and not self.email:
            # "missing_key" names the key (ctx["key"]), so the problem points at connectors.jira.email
            raise PydanticCustomError(
                "missing_key", "deployment = \"cloud\" needs the API token's account e-mail", {"key": "email"}
            )
        return self

    @property
    def scopes(self) -> list[str]:
        return list(self.jql)

    scope_noun: ClassVar[str] = "queries"
