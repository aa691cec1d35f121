"""Configuration: one TOML file parsed once into validated pydantic models.

``load_config(path)`` reads the file, resolves secrets and returns a ``Config``, or raises
``ConfigError`` whose ``problems`` list *every* problem found, one line each::

    config.toml:23: rules[0].within: not a duration, expected e.g. 30m, 4h, 2d or 1d4h (got '4x')

The schema is documented key by key in ``config.example.toml``; ``config_json_schema()`` gives
the same schema to editors. Vocabulary follows DESIGN.md: tool, person, account, rule, step,
template, business time.

Secrets (connector tokens) are ``pydantic.SecretStr``, resolved at load from an environment
variable (``{ env = "NAME" }``) or a systemd credential file (``{ credential = "NAME" }`` in
``$CREDENTIALS_DIRECTORY``); a literal token is refused unless ``daemon.allow_inline_secrets``.
No error message, ``repr`` or summary ever shows a secret value.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import string
import tomllib
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Mapping, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from bridge.core.businesstime import DURATION_PATTERN, Duration, WorkSchedule, parse_holidays_code
from bridge.core.errors import ConfigError
from bridge.core.model import Account, EventKind, Tool

__all__ = [
    "BUILTIN_TEMPLATES",
    "PLACEHOLDERS",
    "Config",
    "DaemonConfig",
    "Defaults",
    "AsanaConnectorConfig",
    "Connectors",
    "GitHubConnectorConfig",
    "JiraConnectorConfig",
    "Person",
    "Rule",
    "Step",
    "Trigger",
    "config_json_schema",
    "load_config",
    "parse_config",
    "resolve_secret",
    "summarize",
]

#: Names a template may use, each written ``{name}``.
PLACEHOLDERS = frozenset({"receiver", "sender", "need", "item", "title", "deadline", "next", "url", "rule", "to",
                          "cycle", "decider", "decision", "blocker"})

#: Templates that exist unless ``[templates]`` overrides them.
BUILTIN_TEMPLATES: dict[str, str] = {
    "nudge": "{receiver}: I need your {need} of {item} by {deadline} to move it to {next}.",
    "reassign": (
        "{to}: {item} has waited for {receiver}'s {need} since {deadline}. "
        "I am handing it to you: I need your {need} to move it to {next}."
    ),
    "draft_title": "{need} needed: {title}",
    "draft": "{receiver}: I need your {need} of {item} ({url}) by {deadline} to move it to {next}.",
    "standoff": (
        "Standoff: {cycle}. Nobody can move until one of these waits ends. "
        "Proposal: {decider} decides {decision} by {deadline}."
    ),
    "standoff_draft_title": "Decide: {decision}",
    "standoff_draft": "{decider}: {cycle}. Please decide {decision} by {deadline}.",
    "ownerless": "{receiver}: {item} waits on {blocker}, which nobody holds. Please find it an owner, or drop the dependency, by {deadline}.",
}

#: Step templates of a ``standoff`` rule when the step names none.
STANDOFF_TEMPLATE_DEFAULTS = {"comment": "standoff", "draft": "standoff_draft"}

#: Tools whose connector can be configured today (``[connectors.<tool>]``).
AVAILABLE_CONNECTORS = tuple(t.value for t in Tool)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SECRET_KEYS = frozenset({"token", "password", "secret", "api_key", "apikey"})
_STEP_TEMPLATE_DEFAULTS = {"comment": "nudge", "reassign": "reassign", "draft": "draft"}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_HOURS_PATTERN = r"^\d{2}:\d{2}-\d{2}:\d{2}$"
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_RULE_NAME = re.compile(r"[a-z0-9-]+")


# --------------------------------------------------------------------------------------------
# Field types: each validates the raw TOML value and documents its JSON Schema.


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if not isinstance(value, str):
        raise ValueError("not a duration, expected a string such as 30m, 4h, 2d or 1d4h")
    try:
        return Duration.parse(value)
    except ValueError:
        raise ValueError("not a duration, expected e.g. 30m, 4h, 2d or 1d4h") from None


DurationField = Annotated[
    Duration,
    PlainValidator(_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30m", "4h", "2d", "1d4h"]}),
]


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected an IANA time zone name such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except Exception:
        raise ValueError("unknown time zone, expected an IANA name such as Europe/Berlin or America/New_York") from None
    return value


TimezoneName = Annotated[
    str,
    PlainValidator(_timezone),
    WithJsonSchema({"type": "string", "minLength": 1, "examples": ["UTC", "Europe/Berlin"]}),
]


def _working_days(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of weekdays such as [\"mon\", \"tue\"]")
    days = [v.lower() for v in value]
    bad = [v for v in days if v not in WEEKDAYS]
    if bad:
        raise ValueError(f"unknown weekday {bad[0]!r}, expected some of {', '.join(WEEKDAYS)}")
    if not days:
        raise ValueError("at least one working day is needed")
    if len(set(days)) != len(days):
        raise ValueError("each weekday may appear only once")
    return days


WorkingDays = Annotated[
    list[str],
    PlainValidator(_working_days),
    WithJsonSchema({"type": "array", "items": {"enum": list(WEEKDAYS)}, "minItems": 1, "uniqueItems": True}),
]


def _parse_hours(value: str) -> tuple[time, time]:
    match = _HOURS.fullmatch(value)
    if match is None:
        raise ValueError("expected working hours as HH:MM-HH:MM, e.g. 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("not a time of day, expected HH:MM-HH:MM between 00:00 and 23:59")
    start, end = time(h1, m1), time(h2, m2)
    if not start < end:
        raise ValueError("working hours must start before they end, within one day")
    return start, end


def _working_hours(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected working hours as a string HH:MM-HH:MM, e.g. \"09:00-17:00\"")
    _parse_hours(value)
    return value


WorkingHours = Annotated[
    str,
    PlainValidator(_working_hours),
    WithJsonSchema({"type": "string", "pattern": _HOURS_PATTERN, "examples": ["09:00-17:00"]}),
]


def _holidays(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a holidays code such as US, DE or DE-BY (or \"none\")")
    if value.lower() == "none":
        return "none"
    country, subdiv = parse_holidays_code(value)
    return f"{country}-{subdiv}" if subdiv else country


HolidaysCode = Annotated[
    str,
    PlainValidator(_holidays),
    WithJsonSchema({"type": "string", "minLength": 1, "examples": ["US", "DE-BY", "none"]}),
]


def _nonempty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value


Text = Annotated[str, PlainValidator(_nonempty), WithJsonSchema({"type": "string", "minLength": 1})]

_SECRET_SCHEMA = {
    "description": "{ env = \"NAME\" }, { credential = \"NAME\" }, or a literal (only with allow_inline_secrets)",
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "properties": {"env": {"type": "string", "minLength": 1}},
            "required": ["env"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"credential": {"type": "string", "minLength": 1}},
            "required": ["credential"],
            "additionalProperties": False,
        },
    ],
}


def _secret(value: Any, info: ValidationInfo) -> SecretStr:
    context = info.context or {}
    return _resolve(
        value,
        environ=context.get("environ", os.environ),
        allow_inline=context.get("allow_inline", False),
    )


SecretField = Annotated[
    SecretStr,
    PlainValidator(_secret),
    PlainSerializer(lambda v: "**********", return_type=str),
    WithJsonSchema(_SECRET_SCHEMA),
]


@dataclass(frozen=True)
class Trigger:
    """One event kind that passes the baton: review requested, assigned, a label, or a status.

    ``kind`` is ``EventKind.REVIEW_REQUESTED``, ``ASSIGNED``, ``LABELED`` (``label`` names the
    label; the receivers are the item's assignees at that moment) or ``STATUS_CHANGED``
    (``status`` names a handoff point: a Jira status or an Asana section, compared without
    regard to case). A status hands the item to the assignee set in the same change, else to
    ``owner`` (a ``[people.*]`` name: ownership is explicit, a person, never a team).
    """

    kind: EventKind
    label: str | None = None
    status: str | None = None
    owner: str | None = None

    def __str__(self) -> str:
        if self.status is not None:
            return f"status:{self.status}"
        return f"label:{self.label}" if self.label is not None else self.kind.value

    def matches(self, kind: EventKind, label: str | None = None) -> bool:
        """Return whether an event of ``kind`` (with ``label`` for labeled events) is this trigger."""
        return kind == self.kind and (self.label is None or label == self.label)


_TRIGGER_HELP = (
    "expected \"review_requested\", \"assigned\", { label = \"...\" } "
    "or { status = \"...\", owner = \"<person>\" }"
)


def _trigger(value: Any) -> Trigger:
    if isinstance(value, Trigger):
        return value
    if value in ("review_requested", "assigned"):
        return Trigger(EventKind(value))
    if isinstance(value, dict):
        if set(value) == {"label"} and isinstance(value["label"], str) and value["label"]:
            return Trigger(EventKind.LABELED, value["label"])
        if "status" in value and set(value) <= {"status", "owner"}:
            status, owner = value["status"], value.get("owner")
            if not isinstance(status, str) or not status.strip():
                raise ValueError(f"status must be a non-empty status or section name; {_TRIGGER_HELP}")
            if owner is not None and (not isinstance(owner, str) or not owner):
                raise ValueError("owner must name a [people.*] entry")
            return Trigger(EventKind.STATUS_CHANGED, status=status.strip(), owner=owner)
    raise ValueError(f"unknown trigger, {_TRIGGER_HELP}")


def _trigger_json(t: Trigger) -> Any:
    if t.status is not None:
        return {"status": t.status, **({"owner": t.owner} if t.owner else {})}
    return {"label": t.label} if t.label is not None else t.kind.value


TriggerField = Annotated[
    Trigger,
    PlainValidator(_trigger),
    PlainSerializer(_trigger_json),
    WithJsonSchema(
        {
            "oneOf": [
                {"enum": ["review_requested", "assigned"]},
                {
                    "type": "object",
                    "properties": {"label": {"type": "string", "minLength": 1}},
                    "required": ["label"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "description": "a handoff point: a Jira status or an Asana section",
                    "properties": {
                        "status": {"type": "string", "minLength": 1},
                        "owner": {"type": "string", "minLength": 1, "description": "a [people.*] name"},
                    },
                    "required": ["status"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]

ToolName = Literal["github", "jira", "asana"]


# --------------------------------------------------------------------------------------------
# Models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DaemonConfig(_Model):
    """``[daemon]``: where state lives, how to log, whether to write at all."""

    database: str | None = Field(
        default=None,
        repr=False,  # a URL may carry a password
        description="SQLAlchemy URL; default sqlite under $STATE_DIRECTORY/state.db, else ./state/state.db",
    )
    dry_run: bool = Field(default=False, description="record and print actions instead of writing")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    allow_inline_secrets: bool = Field(default=False, description="permit token = \"literal\"")

    @field_validator("database")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"[A-Za-z][A-Za-z0-9+]*://", value):
            raise ValueError("expected a database URL such as sqlite:///state/state.db")
        return value


class Defaults(_Model):
    """``[defaults]``: the working schedule of people who do not set their own."""

    timezone: TimezoneName = "UTC"
    working_days: WorkingDays = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    working_hours: WorkingHours = "09:00-17:00"
    holidays: HolidaysCode | None = None


class Person(_Model):
    """``[people.<name>]``: one human with accounts in several tools; schedule keys override ``[defaults]``."""

    display_name: Text | None = None
    email: Text | None = None
    timezone: TimezoneName | None = None
    working_days: WorkingDays | None = None
    working_hours: WorkingHours | None = None
    holidays: HolidaysCode | None = None
    accounts: dict[ToolName, Text] = Field(default_factory=dict, description="tool -> account id")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError("not an e-mail address")
        return value


def _http_url(value: str, example: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError(f"expected an http(s) URL such as {example}")
    return value.rstrip("/")


class _ConnectorSection(_Model):
    """Keys every ``[connectors.*]`` section has: polling pace and request timeout (wall clock), write budget."""

    token: SecretField
    poll_every: DurationField = Field(default="1m", validate_default=True, description="wall clock")
    timeout: DurationField = Field(default="10s", validate_default=True, description="wall clock, per request")
    write_budget_per_hour: int = Field(default=60, ge=0)

    scope_noun: ClassVar[str] = "scopes"

    @field_validator("poll_every", "timeout")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.wall().total_seconds() <= 0:
            raise ValueError("must be longer than 0s")
        return value


class GitHubConnectorConfig(_ConnectorSection):
    """``[connectors.github]``: API root, token, repositories and polling pace (wall clock)."""

    base_url: str = "https://api.github.com"
    repositories: list[str] = Field(min_length=1, json_schema_extra={"uniqueItems": True})
    overlap: DurationField = Field(default="2m", validate_default=True, description="wall clock")
    per_page: int = Field(default=100, ge=1, le=100)
    seconds_between_requests: float = Field(
        default=0.25, ge=0, description="pause between any two requests (PyGithub's pacing; 0 for an emulator)"
    )
    seconds_between_writes: float = Field(
        default=1.0, ge=0, description="pause between two writes (GitHub's secondary rate limit advice)"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value, "https://api.github.com")

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


class JiraConnectorConfig(_ConnectorSection):
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

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value, "https://acme.atlassian.net")

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
            raise ValueError("email is required when deployment = \"cloud\" (the API token's account)")
        return self

    @property
    def scopes(self) -> list[str]:
        return list(self.jql)

    scope_noun: ClassVar[str] = "queries"


class AsanaConnectorConfig(_ConnectorSection):
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
        return _http_url(value, "https://app.asana.com/api/1.0")

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


class Connectors(_Model):
    """``[connectors.*]``: at most one section per tool. Reads like a mapping of tool → section."""

    github: GitHubConnectorConfig | None = None
    jira: JiraConnectorConfig | None = None
    asana: AsanaConnectorConfig | None = None

    def items(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in type(self).model_fields if getattr(self, name) is not None]

    def keys(self) -> list[str]:
        return [name for name, _ in self.items()]

    def values(self) -> list[Any]:
        return [section for _, section in self.items()]

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, None) if name in type(self).model_fields else default

    def __getitem__(self, name: str) -> Any:
        section = self.get(name)
        if section is None:
            raise KeyError(name)
        return section

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self):  # type: ignore[override]  # names, like a dict
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.items())


class Step(_Model):
    """One escalation step: ``after`` business time past the deadline, ``do`` an action.

    ``template`` defaults to ``nudge`` (comment), ``reassign`` (reassign) or ``draft`` (draft);
    ``title_template`` (draft only) defaults to ``draft_title``. ``to`` names a ``[people.*]``
    entry (reassign); ``label`` the label to add (label).
    """

    after: DurationField = Field(default="0h", validate_default=True, description="business time past the deadline")
    do: Literal["comment", "reassign", "label", "draft"]
    to: Text | None = None
    template: Text | None = None
    title_template: Text | None = None
    _defaulted: set[str] = PrivateAttr(default_factory=set)  # keys filled in by default, not written
    label: Text | None = None

    @model_validator(mode="after")
    def _defaults(self) -> "Step":
        self._defaulted = {k for k in ("template", "title_template") if getattr(self, k) is None}
        if self.template is None and self.do in _STEP_TEMPLATE_DEFAULTS:
            self.template = _STEP_TEMPLATE_DEFAULTS[self.do]
        if self.title_template is None and self.do == "draft":
            self.title_template = "draft_title"
        return self


class Rule(_Model):
    """``[[rules]]``: what to detect, on which tools, the deadline and the escalation steps.

    ``detect = "handoff"`` needs ``on``, ``within``, ``need`` and ``next``; ``before_due``
    (business time) brings the deadline forward so that much remains before the item's due
    date. ``detect = "standoff"`` takes ``min_age`` (business time every wait-for edge must
    have lasted, default ``1d``), ``blocked_statuses`` (statuses/sections meaning "waiting on
    what I link to") and ``within`` (time the decider gets, default ``1d``).
    """

    name: str = Field(pattern=r"^[a-z0-9-]+$")
    detect: Literal["handoff", "standoff"]
    tools: list[ToolName] | None = Field(
        default=None, min_length=1, json_schema_extra={"uniqueItems": True}, description="default: every configured tool"
    )
    on: list[TriggerField] = Field(default_factory=list)
    within: DurationField | None = None
    need: Text | None = None
    next: Text | None = None
    before_due: DurationField | None = Field(default=None, description="handoff: business time kept free before the item's due date")
    min_age: DurationField | None = Field(default=None, description="standoff: business time every edge must have lasted (default 1d)")
    blocked_statuses: list[Text] = Field(default_factory=list, description="standoff: statuses that wait on the items they link to")
    dry_run: bool = False
    steps: list[Step] = Field(default_factory=list)

    @model_validator(mode="after")
    def _per_detector(self) -> "Rule":
        # Keys that belong to the other detector, and missing handoff keys, are reported with
        # their paths by _cross_problems; here the standoff defaults are filled in.
        if self.detect == "standoff":
            self.min_age = self.min_age or Duration.parse("1d")
            self.within = self.within or Duration.parse("1d")
            self.need = self.need or "decision"
            self.next = self.next or "move again"
            for step in self.steps:
                if "template" in step._defaulted and step.do in STANDOFF_TEMPLATE_DEFAULTS:
                    step.template = STANDOFF_TEMPLATE_DEFAULTS[step.do]
                if "title_template" in step._defaulted and step.do == "draft":
                    step.title_template = "standoff_draft_title"
        return self

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str) and not _RULE_NAME.fullmatch(value):
            raise ValueError("rule names use only a-z, 0-9 and -")
        return value

    @field_validator("detect", mode="before")
    @classmethod
    def _detect(cls, value: Any) -> Any:
        if value not in ("handoff", "standoff"):
            raise ValueError("unknown detector, expected \"handoff\" or \"standoff\"")
        return value

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each tool may appear only once")
        return value


def _schedule(timezone: str, days: list[str], hours: str, holidays: str | None) -> WorkSchedule:
    start, end = _parse_hours(hours)
    code = None if holidays in (None, "none") else holidays
    return WorkSchedule(timezone, [WEEKDAYS.index(d) for d in days], start, end, code)


class Config(_Model):
    """The whole configuration, validated; build it with ``load_config`` or ``parse_config``.

    ``templates`` has the built-in templates merged in; every ``Rule.tools`` is filled in
    (default: every configured tool). ``source`` is the file it came from, if any.
    """

    model_config = ConfigDict(extra="forbid", strict=True, title="handoff-bridge configuration")

    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    defaults: Defaults = Field(default_factory=Defaults)
    people: dict[str, Person] = Field(default_factory=dict)
    connectors: Connectors = Field(default_factory=Connectors)
    templates: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    _source: Path | None = PrivateAttr(default=None)
    _state_directory: str | None = PrivateAttr(default=None)
    _schedules: dict[str | None, WorkSchedule] = PrivateAttr(default_factory=dict)
    _schedules_by_key: dict[tuple, WorkSchedule] = PrivateAttr(default_factory=dict)
    _accounts: dict[tuple[str, str], str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _complete(self) -> "Config":
        self.templates = {**BUILTIN_TEMPLATES, **self.templates}
        for rule in self.rules:
            if rule.tools is None:
                rule.tools = list(self.connectors)
        return self

    @property
    def source(self) -> Path | None:
        """The file this configuration was loaded from (``None`` for ``parse_config``)."""
        return self._source

    def _account_index(self) -> dict[tuple[str, str], str]:
        # Read through __pydantic_private__: a private attribute's own lookup costs ~20 µs a call,
        # and this runs for every account the evaluator meets.
        private = self.__pydantic_private__
        index = private.get("_accounts")
        if index is None:
            index = private["_accounts"] = {
                (tool, _account_key(tool, ident)): name
                for name, person in self.people.items()
                for tool, ident in person.accounts.items()
            }
        return index

    def person_for(self, account: Account) -> tuple[str, Person] | None:
        """Return ``(name, Person)`` owning ``account`` per ``[people.*].accounts``, else ``None``.

        GitHub logins compare case-insensitively.
        """
        name = self._account_index().get((account.tool, _account_key(account.tool, account.id)))
        return (name, self.people[name]) if name is not None else None

    def person_by_email(self, email: str) -> tuple[str, Person] | None:
        """Return ``(name, Person)`` whose ``email`` matches (case-insensitive), else ``None``."""
        wanted = email.lower()
        for name, person in self.people.items():
            if person.email and person.email.lower() == wanted:
                return name, person
        return None

    def person_account(self, person_name: str, tool: str) -> Account | None:
        """Return the ``Account`` of person ``person_name`` in ``tool``, or ``None`` if unknown."""
        person = self.people.get(person_name)
        if person is None or tool not in person.accounts:
            return None
        return Account(tool, person.accounts[tool])

    def schedule_for(self, account: Account | None) -> WorkSchedule:
        """Return the working schedule of ``account``'s person, else the ``[defaults]`` schedule.

        Each key a person leaves out falls back to ``[defaults]``; ``holidays = "none"`` turns
        holidays off. Schedules are built once per person and cached.
        """
        found = self.person_for(account) if account is not None else None
        return self.schedule_for_person(found[0] if found else None)

    def schedule_for_person(self, name: str | None) -> WorkSchedule:
        """Return the working schedule of the ``[people.<name>]`` entry (``None``: ``[defaults]``)."""
        cached = self._schedules.get(name)
        if cached is not None:
            return cached
        d = self.defaults
        p = self.people.get(name) if name is not None else None
        p = p or Person()
        key = (
            p.timezone or d.timezone,
            tuple(p.working_days or d.working_days),
            p.working_hours or d.working_hours,
            p.holidays if p.holidays is not None else d.holidays,
        )
        # People with the same zone, days, hours and holidays share one schedule (and its
        # per-year calendars): a team of 2,000 usually has a handful of distinct ones.
        schedule = self._schedules_by_key.get(key)
        if schedule is None:
            schedule = self._schedules_by_key[key] = _schedule(key[0], list(key[1]), key[2], key[3])
        self._schedules[name] = schedule
        return schedule

    def dry_run_for(self, rule: Rule) -> bool:
        """Return whether ``rule``'s actions are only recorded: ``daemon.dry_run`` or ``rule.dry_run``."""
        return self.daemon.dry_run or rule.dry_run

    def database_url(self) -> str:
        """Return the SQLAlchemy URL of the store.

        ``daemon.database`` if set, else ``sqlite:///$STATE_DIRECTORY/state.db`` (the environment
        seen at load), else ``sqlite:///state/state.db`` relative to the working directory.
        """
        if self.daemon.database:
            return self.daemon.database
        if self._state_directory:
            return "sqlite:///" + str(Path(self._state_directory) / "state.db")
        return "sqlite:///state/state.db"


def _account_key(tool: str, ident: str) -> str:
    return ident.lower() if tool == Tool.GITHUB.value else ident


# --------------------------------------------------------------------------------------------
# Secrets


def _resolve(ref: Any, *, environ: Mapping[str, str], allow_inline: bool) -> SecretStr:
    """Resolve a secret reference; ValueError messages never contain the secret."""
    if isinstance(ref, SecretStr):
        return ref
    if isinstance(ref, str):
        if not allow_inline:
            raise ValueError(
                "inline secrets are refused: use { env = \"NAME\" } or { credential = \"NAME\" }, "
                "or set daemon.allow_inline_secrets = true"
            )
        if not ref:
            raise ValueError("the secret is empty")
        return SecretStr(ref)
    if isinstance(ref, Mapping) and len(ref) == 1:
        ((kind, name),) = ref.items()
        if kind == "env" and isinstance(name, str) and name:
            value = environ.get(name)
            if not value:
                raise ValueError(f"environment variable {name} is not set or empty")
            return SecretStr(value)
        if kind == "credential" and isinstance(name, str) and name:
            if "/" in name or name in (".", ".."):
                raise ValueError(f"credential name {name!r} must be a plain file name")
            directory = environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ValueError(
                    f"credential {name} needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=), which is not set"
                )
            path = Path(directory) / name
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError:
                raise ValueError(f"credential {name} not found in $CREDENTIALS_DIRECTORY ({directory})") from None
            if not value:
                raise ValueError(f"credential {name} in $CREDENTIALS_DIRECTORY ({directory}) is empty")
            return SecretStr(value)
    raise ValueError("expected { env = \"NAME\" } or { credential = \"NAME\" }")


def resolve_secret(
    ref: Any, *, key: str, environ: Mapping[str, str] | None = None, allow_inline: bool = True
) -> SecretStr:
    """Return the secret ``ref`` points to: ``{"env": NAME}``, ``{"credential": NAME}`` or a literal.

    ``key`` is the dotted config key, used in messages. Credentials are files in
    ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), trailing whitespace stripped.

    Raises:
        ConfigError: variable unset or empty, credential missing, literal refused
            (``allow_inline=False``) or malformed reference. The message names ``key`` and the
            variable / credential name, never the value.
    """
    env = os.environ if environ is None else environ
    try:
        return _resolve(ref, environ=env, allow_inline=allow_inline)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Line numbers: tomllib has none, so a small scanner maps key paths to the line they start on.


class _Positions:
    """Map key paths (``("rules", 0, "steps", 1, "after")``) to 1-based line numbers, best-effort."""

    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self._aot_count: dict[tuple, int] = {}
        self._aot_current: dict[tuple, int] = {}
        try:
            self._document()
        except Exception:  # never let the locator hide the real problem
            pass

    def line_of(self, path: tuple) -> int | None:
        """Return the line of ``path`` or of its nearest recorded ancestor (``None`` if none)."""
        for n in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                return line
        return None

    # -- scanning ------------------------------------------------------------------------------

    def _peek(self, n: int = 1) -> str:
        return self.text[self.i : self.i + n]

    def _advance(self, n: int = 1) -> None:
        self.line += self.text.count("\n", self.i, self.i + n)
        self.i += n

    def _skip(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._advance()
            elif c == "#":
                end = self.text.find("\n", self.i)
                self._advance((len(self.text) if end < 0 else end) - self.i)
            else:
                return

    def _string(self) -> str:
        for quote in ('"""', "'''"):
            if self._peek(3) == quote:
                end = self.text.find(quote, self.i + 3)
                while quote[0] == '"' and end > 0 and self._escaped(end):
                    end = self.text.find(quote, end + 1)
                end = len(self.text) if end < 0 else end
                while self.text[end + 3 : end + 4] == quote[0]:
                    end += 1
                value = self.text[self.i + 3 : end]
                self._advance(end + 3 - self.i)
                return value
        quote = self.text[self.i]
        j = self.i + 1
        while j < len(self.text) and self.text[j] != quote and self.text[j] != "\n":
            j += 2 if quote == '"' and self.text[j] == "\\" else 1
        raw = self.text[self.i + 1 : j]
        self._advance(j + 1 - self.i)
        if quote == '"':
            try:
                return json.loads(f'"{raw}"')
            except ValueError:
                return raw
        return raw

    def _escaped(self, at: int) -> bool:
        n = 0
        while at - 1 - n >= 0 and self.text[at - 1 - n] == "\\":
            n += 1
        return n % 2 == 1

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._skip(False)
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                m = _BARE_KEY.match(self.text, self.i)
                if not m:
                    raise ValueError("no key")
                parts.append(m.group())
                self._advance(m.end() - self.i)
            self._skip(False)
            if self._peek() != ".":
                return parts
            self._advance()

    def _record(self, path: tuple, line: int) -> None:
        self.lines.setdefault(path, line)

    def _value(self, path: tuple) -> None:
        self._skip(False)
        c = self._peek()
        if c == "[":
            self._advance()
            index = 0
            while True:
                self._skip(True)
                if self._peek() == "]":
                    self._advance()
                    return
                self._record(path + (index,), self.line)
                self._value(path + (index,))
                self._skip(True)
                if self._peek() == ",":
                    self._advance()
                    index += 1
                elif self._peek() != "]":
                    raise ValueError("unexpected text in array")
        elif c == "{":
            self._advance()
            while True:
                self._skip(True)
                if self._peek() == "}":
                    self._advance()
                    return
                if self._peek() == ",":
                    self._advance()
                    continue
                line = self.line
                key = tuple(self._key())
                for n in range(1, len(key) + 1):
                    self._record(path + key[:n], line)
                self._skip(False)
                self._advance()  # '='
                self._value(path + key)
        elif c in ('"', "'"):
            self._string()
        else:
            m = re.compile(r"[^,\]}\n#]*").match(self.text, self.i)
            self._advance(m.end() - self.i)

    def _document(self) -> None:
        table: tuple = ()
        while True:
            self._skip(True)
            if self.i >= len(self.text):
                return
            line = self.line
            if self._peek() == "[":
                aot = self._peek(2) == "[["
                self._advance(2 if aot else 1)
                keys = self._key()
                self._advance(2 if aot else 1)
                path: tuple = ()
                for n, key in enumerate(keys):
                    path += (key,)
                    last = n == len(keys) - 1
                    if last and aot:
                        index = self._aot_count.get(path, 0)
                        self._aot_count[path] = index + 1
                        self._aot_current[path] = index
                        path += (index,)
                    elif path in self._aot_current:
                        path += (self._aot_current[path],)
                    self._record(path, line)
                table = path
            else:
                key = tuple(self._key())
                for n in range(1, len(key) + 1):
                    self._record(table + key[:n], line)
                self._skip(False)
                self._advance()  # '='
                self._value(table + key)


# --------------------------------------------------------------------------------------------
# Problems: one line each, FILE:LINE: dotted.key: message (got VALUE)

_MISSING = object()


@dataclass
class _Problem:
    path: tuple
    message: str
    value: Any = _MISSING


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
            out += f".{text}" if out else text
    return out or "(top level)"


def _is_secret_path(path: tuple) -> bool:
    return any(isinstance(p, str) and p.lower() in _SECRET_KEYS for p in path)


def _show(value: Any, path: tuple) -> str:
    if _is_secret_path(path) and not isinstance(value, (dict, bool, int, float)):
        return "'***'"
    if isinstance(value, dict) and _is_secret_path(path):
        value = {k: (v if k in ("env", "credential") else "***") for k, v in value.items()}
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _format(source: str, positions: _Positions | None, problem: _Problem) -> str:
    line = positions.line_of(problem.path) if positions else None
    where = f"{source}:{line}" if line else source
    got = "" if problem.value is _MISSING else f" (got {_show(problem.value, problem.path)})"
    return f"{where}: {_dotted(problem.path)}: {problem.message}{got}"


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or type(tp).__name__ == "UnionType":
            members = [a for a in get_args(tp) if a is not type(None)]
            tp = members[0] if len(members) == 1 else tp
            if len(members) != 1:
                return tp
        else:
            return tp


def _model_at(path: tuple) -> type[BaseModel] | None:
    """Return the model class that holds the keys of the table at ``path``."""
    tp: Any = Config
    for part in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unknown_key(path: tuple) -> str:
    model = _model_at(path[:-1])
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
    return f"unknown key, {hint}"


_TYPE_MESSAGES = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "list_type": "expected an array",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
}


_BOUND_MESSAGES = {
    "less_than_equal": ("must be at most {}", "le"),
    "greater_than_equal": ("must be at least {}", "ge"),
    "less_than": ("must be less than {}", "lt"),
    "greater_than": ("must be more than {}", "gt"),
    "too_short": ("needs at least {} item(s)", "min_length"),
    "too_long": ("allows at most {} item(s)", "max_length"),
    "string_pattern_mismatch": ("must match {}", "pattern"),
}


def _pydantic_problems(exc: ValidationError, data: Any) -> list[_Problem]:
    problems: list[_Problem] = []
    seen: set[tuple] = set()
    for error in exc.errors(include_url=False):
        # keep only the parts of loc that walk the TOML data (drops '[key]', union tags, ...)
        path: tuple = ()
        node = data
        loc = error["loc"]
        for n, part in enumerate(loc):
            if isinstance(node, dict) and part in node:
                node = node[part]
                path += (part,)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                path += (part,)
            elif n == len(loc) - 1 and error["type"] in ("missing", "extra_forbidden"):
                path += (part,)
        kind = error["type"]
        if kind == "missing":
            problem = _Problem(path, "required key is missing")
        elif kind == "extra_forbidden":
            problem = _Problem(path, _unknown_key(path), error["input"])
        elif kind == "literal_error" and loc and loc[-1] == "[key]":
            problem = _Problem(path, f"unknown tool, expected {error['ctx']['expected']}", path[-1] if path else None)
        elif kind == "literal_error":
            problem = _Problem(path, f"expected {error['ctx']['expected']}", error["input"])
        elif kind in _BOUND_MESSAGES:
            text, bound = _BOUND_MESSAGES[kind]
            problem = _Problem(path, text.format((error.get("ctx") or {}).get(bound)), error["input"])
        elif kind in _TYPE_MESSAGES:
            problem = _Problem(path, _TYPE_MESSAGES[kind], error["input"])
        else:
            message = error["msg"]
            for prefix in ("Value error, ", "Assertion failed, "):
                message = message.removeprefix(prefix)
            message = message[:1].lower() + message[1:]
            problem = _Problem(path, message, error["input"])
        key = (problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            problems.append(problem)
    return problems


# --------------------------------------------------------------------------------------------
# Cross references: templates, people, steps, tools. Runs on the raw TOML data, defensively,
# so its problems are reported together with pydantic's.


def _template_problem(text: str) -> str | None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"bad brace syntax ({exc}); write {{{{ and }}}} for literal braces"
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return f"unknown placeholder {shown}, allowed: " + " ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
    return None


def _cross_problems(data: dict) -> list[_Problem]:
    problems: list[_Problem] = []
    people = data.get("people") if isinstance(data.get("people"), dict) else {}
    connectors = data.get("connectors") if isinstance(data.get("connectors"), dict) else {}
    user_templates = data.get("templates") if isinstance(data.get("templates"), dict) else {}

    for name, text in user_templates.items():
        if isinstance(text, str):
            message = _template_problem(text)
            if message:
                problems.append(_Problem(("templates", name), f"template {name!r}: {message}", text))
    templates = {**BUILTIN_TEMPLATES, **user_templates}

    owners: dict[tuple[str, str], str] = {}
    for name, person in people.items():
        accounts = person.get("accounts") if isinstance(person, dict) else None
        if not isinstance(accounts, dict):
            continue
        for tool, ident in accounts.items():
            if not isinstance(ident, str):
                continue
            key = (tool, _account_key(tool, ident))
            if key in owners:
                problems.append(
                    _Problem(("people", name, "accounts", tool), f"account already belongs to person {owners[key]!r}", ident)
                )
            else:
                owners[key] = name

    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    names: dict[str, int] = {}
    for r, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        name = rule.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(_Problem(("rules", r, "name"), f"duplicate rule name, also rules[{names[name]}]", name))
            else:
                names[name] = r
        tools = rule.get("tools")
        if isinstance(tools, list):
            for t, tool in enumerate(tools):
                if tool in {x.value for x in Tool} and tool not in connectors:
                    problems.append(_Problem(("rules", r, "tools", t), f"no [connectors.{tool}] is configured", tool))
            rule_tools = [t for t in tools if t in connectors]
        else:
            rule_tools = [t for t in connectors if t in AVAILABLE_CONNECTORS]
        detect = rule.get("detect")
        only = {"handoff": ("on", "before_due"), "standoff": ("min_age", "blocked_statuses")}
        for key in only.get("standoff" if detect == "handoff" else "handoff" if detect == "standoff" else "", ()):
            if key in rule:
                problems.append(_Problem(("rules", r, key), f"only used by detect = \"{'handoff' if key in only['handoff'] else 'standoff'}\"", rule[key]))
        if detect == "handoff":
            for key in ("on", "within", "need", "next"):
                if key not in rule:
                    problems.append(_Problem(("rules", r, key), "required key is missing"))
                elif key == "on" and rule[key] == []:
                    problems.append(_Problem(("rules", r, key), "detect = \"handoff\" needs at least one trigger in on", []))
        if detect == "standoff":
            for s_, step in enumerate(rule.get("steps") if isinstance(rule.get("steps"), list) else []):
                if isinstance(step, dict) and step.get("do") == "reassign":
                    problems.append(_Problem(("rules", r, "steps", s_, "do"), "a standoff rule can comment, draft or label, not reassign", "reassign"))
        on = rule.get("on")
        for t, trig in enumerate(on if isinstance(on, list) else []):
            owner = trig.get("owner") if isinstance(trig, dict) else None
            if isinstance(owner, str) and owner not in people:
                close = difflib.get_close_matches(owner, list(people), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(people)) or 'none'}"
                problems.append(_Problem(("rules", r, "on", t, "owner"), f"unknown person, {hint}", owner))
            elif isinstance(owner, str) and isinstance(people[owner], dict):
                accounts = people[owner].get("accounts")
                if not any(tool in (accounts if isinstance(accounts, dict) else {}) for tool in rule_tools):
                    problems.append(_Problem(("rules", r, "on", t, "owner"),
                                             f"person {owner!r} has no account in {', '.join(rule_tools) or 'any configured tool'}", owner))
        steps = rule.get("steps")
        if not isinstance(steps, list):
            continue
        previous: tuple[int, Duration] | None = None
        for s, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            where = ("rules", r, "steps", s)
            do = step.get("do")
            try:
                after = Duration.parse(step.get("after", "0h"))
            except ValueError:
                after = None
            if after is not None:
                if previous is not None and after < previous[1]:
                    problems.append(
                        _Problem(
                            where + ("after",),
                            f"steps must not go back in time: steps[{previous[0]}] is after {previous[1]}",
                            step.get("after"),
                        )
                    )
                previous = (s, after)
            if do in ("reassign", "draft") and (do == "reassign" or step.get("to") is not None):
                to = step.get("to")
                if to is None:
                    problems.append(_Problem(where + ("to",), "do = \"reassign\" needs to = \"<person>\""))
                elif isinstance(to, str) and to not in people:
                    close = difflib.get_close_matches(to, list(people), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(people)) or 'none'}"
                    problems.append(_Problem(where + ("to",), f"unknown person, {hint}", to))
                elif isinstance(to, str) and isinstance(people[to], dict):
                    accounts = people[to].get("accounts")
                    accounts = accounts if isinstance(accounts, dict) else {}
                    for tool in rule_tools:
                        if tool not in accounts:
                            problems.append(
                                _Problem(where + ("to",), f"person {to!r} has no {tool} account to {do} to", to)
                            )
            if do == "label" and step.get("label") is None:
                problems.append(_Problem(where + ("label",), "do = \"label\" needs label = \"<name>\""))
            for field, allowed_for in (("to", ("reassign", "draft")), ("label", ("label",)), ("title_template", ("draft",))):
                if field in step and do in ("comment", "reassign", "label", "draft") and do not in allowed_for:
                    problems.append(
                        _Problem(where + (field,), "only used by " + " or ".join(f'do = "{a}"' for a in allowed_for) + f', not "{do}"', step[field])
                    )
            if "template" in step and do == "label":
                problems.append(_Problem(where + ("template",), "do = \"label\" writes no text", step["template"]))
            for field, default in (("template", _STEP_TEMPLATE_DEFAULTS.get(do)), ("title_template", "draft_title")):
                if field == "title_template" and do != "draft":
                    continue
                ref = step.get(field, default)
                if isinstance(ref, str) and default is not None and ref not in templates:
                    known = ", ".join(sorted(templates))
                    problems.append(_Problem(where + (field,), f"unknown template (known: {known})", ref))
    return problems


def _structure_problems(data: dict) -> list[_Problem]:
    """Problems pydantic would report badly; the offending parts are removed from ``data``."""
    problems: list[_Problem] = []
    connectors = data.get("connectors")
    if isinstance(connectors, dict):
        for name in list(connectors):
            if name in AVAILABLE_CONNECTORS:
                continue
            message = f"unknown tool, expected {', '.join(AVAILABLE_CONNECTORS)}"
            problems.append(_Problem(("connectors", name), message, name))
            del connectors[name]
    return problems


# --------------------------------------------------------------------------------------------
# Entry points


def _syntax_error(source: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        line = f"{source}:{match.group(1)}: TOML syntax error: {message[: match.start()]} (column {match.group(2)})"
    else:
        line = f"{source}: TOML syntax error: {message}"
    return ConfigError(f"invalid configuration {source}:\n  {line}", [line])


def parse_config(text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None) -> Config:
    """Parse and validate TOML ``text``; resolve secrets from ``environ`` (default ``os.environ``).

    ``source`` names the text in messages.

    Raises:
        ConfigError: TOML syntax error, or any invalid key, value or reference; ``problems``
            lists every problem, one ``FILE:LINE: dotted.key: message (got VALUE)`` line each.
    """
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(source, exc) from None
    positions = _Positions(text)
    problems = _structure_problems(data)
    daemon = data.get("daemon")
    allow_inline = isinstance(daemon, dict) and daemon.get("allow_inline_secrets") is True
    config: Config | None = None
    try:
        config = Config.model_validate(data, context={"environ": env, "allow_inline": allow_inline})
    except ValidationError as exc:
        problems += _pydantic_problems(exc, data)
    problems += _cross_problems(data)
    if problems:
        indexed = sorted(enumerate(problems), key=lambda p: (positions.line_of(p[1].path) or 10**9, p[0]))
        lines = [_format(source, positions, p) for _, p in indexed]
        count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
        raise ConfigError(f"invalid configuration {source} ({count}):\n  " + "\n  ".join(lines), lines)
    assert config is not None
    config._state_directory = env.get("STATE_DIRECTORY") or None
    return config


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, parse and validate the TOML file at ``path`` (see ``parse_config``).

    Raises:
        ConfigError: the file cannot be read, or it is invalid (every problem listed).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        line = f"{source}: cannot read the configuration: {exc.strerror or exc}" if isinstance(exc, OSError) else (
            f"{source}: the configuration is not UTF-8 text"
        )
        raise ConfigError(line, [line]) from None
    config = parse_config(text, source=source, environ=environ)
    config._source = Path(path)
    return config


def config_json_schema() -> dict:
    """Return the JSON Schema (draft 2020-12) of the TOML file, for editors (e.g. Taplo, VS Code)."""
    schema = Config.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def summarize(config: Config) -> str:
    """Return a short human summary for ``check-config``: counts and names, never secrets."""
    source = str(config.source) if config.source else "configuration"
    d = config.daemon
    scopes = sum(len(c.scopes) for c in config.connectors.values())
    accounts = sum(len(p.accounts) for p in config.people.values())
    lines = [
        f"{source}: OK",
        f"  daemon: database {_mask_url(config.database_url())}, dry_run {'on' if d.dry_run else 'off'}, "
        f"log {d.log_format}/{d.log_level}",
        f"  defaults: {config.defaults.timezone}, {','.join(config.defaults.working_days)} "
        f"{config.defaults.working_hours}, holidays {config.defaults.holidays or 'none'}",
        f"  people: {len(config.people)} ({accounts} accounts)",
        f"  connectors: {len(config.connectors)}, scopes polled: {scopes}",
    ]
    for name, conn in config.connectors.items():
        lines.append(
            f"    {name}: {conn.base_url}, {len(conn.scopes)} {conn.scope_noun}, poll every {conn.poll_every}, "
            f"budget {conn.write_budget_per_hour} writes/h"
        )
    lines.append(f"  templates: {len(config.templates)}")
    lines.append(f"  rules: {len(config.rules)}")
    for rule in config.rules:
        dry = " (dry run)" if config.dry_run_for(rule) else ""
        lines.append(
            (f"    {rule.name}: {rule.detect} on {', '.join(map(str, rule.on))} in {', '.join(rule.tools or [])}, "
             f"within {rule.within}, {len(rule.steps)} steps{dry}") if rule.detect == "handoff" else
            (f"    {rule.name}: standoff in {', '.join(rule.tools or [])}, min_age {rule.min_age}, "
             f"{len(rule.steps)} steps{dry}")
        )
    return "\n".join(lines)
