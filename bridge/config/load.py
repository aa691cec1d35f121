"""Configuration: one TOML file parsed once into validated pydantic models.

``load_config(path)`` reads the file, resolves secrets and returns a ``Config``, or raises
``ConfigError`` whose ``problems`` list *every* problem found, one line each::

    config.toml:23: rules[0].within: not a duration, expected e.g. 30m, 4h, 2d or 1d4h (got '4x')

This module assembles the top model: ``[daemon]``, ``[defaults]``, ``[people.*]``, the
``[connectors.*]`` sections (``connectors.<tool>.settings``), ``[templates]`` and ``[[rules]]``
(``rules.spec``); field types come from ``bridge.core.fields``, problems are humanised by
``bridge.config.problems`` with lines from ``bridge.config.positions``.

The schema is documented key by key in ``config.example.toml``; ``config_json_schema()`` gives
the same schema to editors. Vocabulary follows DESIGN.md: tool, person, account, rule, step,
template, business time.

Secrets (connector tokens) are ``pydantic.SecretStr``, resolved at load from an environment
variable (``{ env = "NAME" }``) or a systemd credential file (``{ credential = "NAME" }`` in
``$CREDENTIALS_DIRECTORY``); a literal token is refused unless ``daemon.allow_inline_secrets``.
No error message, ``repr`` or summary ever shows a secret value.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from bridge.config.availability import AwayPeriod, away_problems
from bridge.config.positions import Positions
from bridge.config.problems import cross_problems, format_problem, pydantic_problems, structure_problems, syntax_error
from bridge.config.secrets import register_config_secrets
from bridge.config.teams import Team, team_problems
from bridge.core.businesstime import WorkSchedule
from bridge.core.errors import ConfigError
from bridge.core.fields import (
    WEEKDAYS,
    DurationField,
    HolidaysCode,
    StrictModel,
    Text,
    TimezoneName,
    ToolName,
    WorkingDays,
    WorkingHours,
    account_key,
    parse_hours,
)
from bridge.core.model import Account
from connectors.asana.settings import AsanaConnectorConfig
from connectors.github.settings import GitHubConnectorConfig
from connectors.jira.settings import JiraConnectorConfig
from rules.feedback import FeedbackSettings, Limits
from rules.promise import PromiseSettings
from rules.spec import BUILTIN_TEMPLATES, Rule

__all__ = [
    "Config",
    "Connectors",
    "DaemonConfig",
    "Defaults",
    "Person",
    "config_json_schema",
    "load_config",
    "parse_config",
    "summarize",
]




class DaemonConfig(StrictModel):
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
    http: str | None = Field(
        default=None,
        description="HOST:PORT to serve /metrics, /healthz and the live report page / on (off when unset), "
                    "e.g. 127.0.0.1:9464",
    )
    retry_tries: int = Field(default=5, ge=1, description="failed reads of one item (the poll's included) "
                             "before it goes to the dead-letter list")
    retry_wait: DurationField = Field(default="5m", validate_default=True,
                                      description="wall clock: first wait before an item that failed is read "
                                                  "again; doubled after each failure")
    retry_max_wait: DurationField = Field(default="6h", validate_default=True,
                                          description="wall clock: longest wait between two reads of a failed item")

    @field_validator("http")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None:
            http_address(value)
        return value

    @field_validator("retry_wait", "retry_max_wait")
    @classmethod
    def _positive_wait(cls, value):
        if value.wall().total_seconds() <= 0:
            raise ValueError("must be longer than 0s")
        return value

    @field_validator("database")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            database_url_problem(value)
        return value


def http_address(text: str) -> tuple[str, int]:
    """Split ``[daemon] http``: ``"127.0.0.1:9464"`` → ``("127.0.0.1", 9464)``; ``"[::1]:9464"`` for IPv6.

    Raises:
        ValueError: not HOST:PORT, or the port is not 1-65535.
    """
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT such as 127.0.0.1:9464 (port 1-65535)")
    return host, int(port)


class CommandSettings(StrictModel):
    """``[commands]``: ``/hb`` lines in comments (``rules.commands``, ``docs/commands.md``)."""

    enabled: bool = Field(default=True, description="false: a /hb line is an ordinary comment")
    max_snooze: DurationField = Field(default="5d", validate_default=True,
                                      description="the longest `/hb snooze` (the asker's business time; wall length compared)")
    reply_within: DurationField = Field(default="1d", validate_default=True,
                                        description="wall clock: commands older than this when first read (a first start "
                                                    "with history) take effect but get no reply")


class AdoptionConfig(StrictModel):
    """``[adoption]``: handoffs first seen already overdue (a first start on a tracker with a
    backlog, or an outage longer than their deadline) are adopted, not nudged at once."""

    enabled: bool = Field(default=True, description="false: a handoff found long overdue is nudged at once, "
                                                   "naming its original deadline")
    late_after: DurationField = Field(default="1h", validate_default=True,
                                      description="wall clock: a handoff first found overdue this long after "
                                                  "its deadline is adopted")
    grace: DurationField = Field(default="4h", validate_default=True,
                                 description="receiver's business time: an adopted handoff's deadline restarts "
                                             "this long after the daemon first saw it overdue")
    per_person_per_day: int = Field(default=3, ge=1, description="at most this many first nudges of adopted "
                                    "handoffs per receiver in any 24 hours; the rest wait their turn, oldest first")


def database_url_problem(url: str) -> None:
    """Check a SQLAlchemy URL as the store will use it: syntax, port, dialect and installed driver.

    Raises:
        ValueError: a one-line reason (never the URL itself, which may carry a password).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if not re.match(r"[A-Za-z][A-Za-z0-9+]*://", url):
        raise ValueError("expected a database URL such as sqlite:///state/state.db")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError("malformed database URL (is the port a number?), expected e.g. "
                         "postgresql+psycopg://user@host:5432/bridge") from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ValueError(f"unknown database dialect {parsed.drivername!r}, expected e.g. sqlite or "
                         "postgresql+psycopg") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ValueError(f"the driver of {parsed.drivername!r} is not installed "
                         f"(no module {getattr(exc, 'name', None) or exc})") from None
    try:
        dialect().create_connect_args(parsed)  # e.g. SQLite refuses a host
    except Exception as exc:  # noqa: BLE001 - any dialect's refusal is a config problem
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a valid {parsed.drivername} URL: {_mask_url(first)}") from None


class Defaults(StrictModel):
    """``[defaults]``: the working schedule of people who do not set their own."""

    timezone: TimezoneName = "UTC"
    working_days: WorkingDays = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    working_hours: WorkingHours = "09:00-17:00"
    holidays: HolidaysCode | None = None


class Person(StrictModel):
    """``[people.<name>]``: one human with accounts in several tools; schedule keys override ``[defaults]``."""

    display_name: Text | None = None
    email: Text | None = None
    timezone: TimezoneName | None = None
    working_days: WorkingDays | None = None
    working_hours: WorkingHours | None = None
    holidays: HolidaysCode | None = None
    accounts: dict[ToolName, Text] = Field(default_factory=dict, description="tool -> account id")
    team: Text | None = Field(default=None, description="team name; `report` measures handoffs per team pair (lane)")
    away: list[AwayPeriod] = Field(default_factory=list, description="absences: handoffs go to the delegate, "
                                   "or their deadline waits for the return (bridge.config.availability)")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError("not an e-mail address")
        return value


class Connectors(StrictModel):
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


def _schedule(timezone: str, days: list[str], hours: str, holidays: str | None) -> WorkSchedule:
    start, end = parse_hours(hours)
    code = None if holidays in (None, "none") else holidays
    return WorkSchedule(timezone, [WEEKDAYS.index(d) for d in days], start, end, code)


class Config(StrictModel):
    """The whole configuration, validated; build it with ``load_config`` or ``parse_config``.

    ``templates`` has the built-in templates merged in; every ``Rule.tools`` is filled in
    (default: every configured tool). ``source`` is the file it came from, if any.

    ``person_for``, ``person_account`` and ``schedule_for_person`` answer from the
    ``[people.*]`` entries alone; callers ask ``bridge.core.people.Directory`` (the one people
    API: these entries, then accounts matched by e-mail), which reads them.
    """

    model_config = ConfigDict(extra="forbid", strict=True, title="handoff-bridge configuration")

    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    defaults: Defaults = Field(default_factory=Defaults)
    people: dict[str, Person] = Field(default_factory=dict)
    connectors: Connectors = Field(default_factory=Connectors)
    adoption: AdoptionConfig = Field(default_factory=AdoptionConfig)
    commands: CommandSettings = Field(default_factory=CommandSettings)
    templates: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    promises: PromiseSettings = Field(default_factory=PromiseSettings, description="how promise rules read comments")
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings,
                                       description="when a rule whose nudges are answered /hb wrong goes quiet")
    teams: dict[str, Team] = Field(default_factory=dict, description="[teams.<name>]: members, lead, github "
                                   "(bridge.config.teams)")

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
                (tool, account_key(tool, ident)): name
                for name, person in self.people.items()
                for tool, ident in person.accounts.items()
            }
        return index

    def person_for(self, account: Account) -> tuple[str, Person] | None:
        """Return ``(name, Person)`` owning ``account`` per ``[people.*].accounts``, else ``None``.

        GitHub logins compare case-insensitively.
        """
        name = self._account_index().get((account.tool, account_key(account.tool, account.id)))
        return (name, self.people[name]) if name is not None else None

    def person_account(self, person_name: str, tool: str) -> Account | None:
        """Return the ``Account`` of person ``person_name`` in ``tool``, or ``None`` if unknown."""
        person = self.people.get(person_name)
        if person is None or tool not in person.accounts:
            return None
        return Account(tool, person.accounts[tool])

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

    def feedback_limits(self, rule: Rule) -> Limits:
        """``rule``'s limits for going quiet on feedback: ``[feedback]`` with ``rule.feedback`` applied."""
        return self.feedback.limits(rule.feedback)

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


# --------------------------------------------------------------------------------------------
# Entry points


def parse_config(
    text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None, resolve_secrets: bool = True
) -> Config:
    """Parse and validate TOML ``text``; resolve secrets from ``environ`` (default ``os.environ``).

    ``source`` names the text in messages. Every secret the text holds or references is
    registered for log redaction before validation. ``resolve_secrets=False`` checks secret
    references' form only (for CI without tokens): the tokens of the result are empty.

    Raises:
        ConfigError: TOML syntax error, or any invalid key, value or reference; ``problems``
            lists every problem, one ``FILE:LINE: dotted.key: message (got VALUE)`` line each.
    """
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise syntax_error(source, exc, Positions(text)) from None
    if resolve_secrets:
        register_config_secrets(data, Config, env)
    positions = Positions(text)
    problems = structure_problems(data)
    daemon = data.get("daemon")
    allow_inline = isinstance(daemon, dict) and daemon.get("allow_inline_secrets") is True
    config: Config | None = None
    context = {"environ": env, "allow_inline": allow_inline, "resolve": resolve_secrets}
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as exc:
        problems += pydantic_problems(exc, data, Config)
    problems += cross_problems(data)
    problems += away_problems(data)
    problems += team_problems(data)
    if problems:
        indexed = sorted(enumerate(problems), key=lambda p: (positions.line_of(p[1].path) or 10**9, p[0]))
        lines = [format_problem(source, positions, p) for _, p in indexed]
        count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
        raise ConfigError(f"invalid configuration {source} ({count}):\n  " + "\n  ".join(lines), lines)
    assert config is not None
    config._state_directory = env.get("STATE_DIRECTORY") or None
    return config


def load_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None, resolve_secrets: bool = True
) -> Config:
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
    config = parse_config(text, source=source, environ=environ, resolve_secrets=resolve_secrets)
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
            (f"    {rule.name}: promises in comments in {', '.join(rule.tools or [])}, untimed due after {rule.within}, "
             f"{len(rule.steps)} steps{dry}") if rule.detect == "promise" else
            (f"    {rule.name}: standoff in {', '.join(rule.tools or [])}, min_age {rule.min_age}, "
             f"{len(rule.steps)} steps{dry}")
        )
    return "\n".join(lines)
