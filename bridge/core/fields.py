"""Field types shared by the settings models of ``bridge.config``, ``rules.spec`` and ``connectors.*.settings``.

Each type validates one raw TOML value and documents its JSON Schema: ``DurationField``
(``Duration``: ``30m``, ``4h``, ``2d``, ``1d4h``), ``TimezoneName`` (IANA), ``WorkingDays``,
``WorkingHours`` (``HH:MM-HH:MM``), ``HolidaysCode`` (``US``, ``DE-BY``, ``none``), ``Text``
(non-empty), ``SecretField`` (a secret reference resolved to ``SecretStr``) and ``ToolName``;
``StrictModel`` is the base of every settings model (unknown keys refused, no coercion).
Validators raise ``ValueError`` with a one-line message that ``bridge.config`` turns into a
``FILE:LINE: key: message`` problem.

Secret references are resolved here, inside ``SecretField``'s validator, because connector
settings (which may import only ``bridge.core``) declare their ``token`` with it: the loader
passes ``environ`` and ``allow_inline`` in the validation context.
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
)

from bridge.core.businesstime import DURATION_PATTERN, Duration, parse_holidays_code
from bridge.core.logs import register_secret
from bridge.core.model import Tool

__all__ = [
    "WEEKDAYS",
    "DurationField",
    "HolidaysCode",
    "SecretField",
    "StrictModel",
    "Text",
    "TimezoneName",
    "ToolName",
    "WorkingDays",
    "WorkingHours",
    "account_key",
    "check_secret_ref",
    "http_url",
    "is_secret_annotation",
    "parse_hours",
    "register_config_secret",
    "resolve_secret_ref",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_HOURS_PATTERN = r"^\d{2}:\d{2}-\d{2}:\d{2}$"

ToolName = Literal["github", "jira", "asana"]


class StrictModel(BaseModel):
    """Base of every settings model: unknown keys are refused, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


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


def parse_hours(value: str) -> tuple[time, time]:
    """Return ``(start, end)`` of working hours ``HH:MM-HH:MM`` (one day); ``ValueError`` if malformed."""
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
    parse_hours(value)
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


def http_url(value: str, example: str) -> str:
    """Return the http(s) URL ``value`` without a trailing ``/``; ``ValueError`` naming ``example`` if it is none."""
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError(f"expected an http(s) URL such as {example}")
    return value.rstrip("/")


def account_key(tool: str, ident: str) -> str:
    """Return how account ``ident`` of ``tool`` compares: GitHub logins case-insensitively, others exactly."""
    return ident.lower() if tool == Tool.GITHUB.value else ident


# --------------------------------------------------------------------------------------------
# Secrets: { env = "NAME" }, { credential = "NAME" } or, when allowed, a literal


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


def resolve_secret_ref(ref: Any, *, environ: Mapping[str, str], allow_inline: bool) -> SecretStr:
    """Resolve a secret reference to its value.

    ``{"env": NAME}`` reads ``environ[NAME]``; ``{"credential": NAME}`` reads the file ``NAME`` in
    ``environ["CREDENTIALS_DIRECTORY"]`` (systemd ``LoadCredential=``), trailing whitespace
    stripped; a plain string is the secret itself, refused unless ``allow_inline``.

    Raises:
        ValueError: unset or empty variable, missing or empty credential, refused literal or
            malformed reference; the message names the variable or credential, never the value.
    """
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


#: Shortest value registered for redaction while validating: a shorter "secret" (a test's
#: ``"x"``) would scrub that text out of every later log line, and is no real token.
MIN_REGISTERED_SECRET = 8


def register_config_secret(value: str) -> None:
    """Register ``value`` for log redaction (``bridge.core.logs``) unless shorter than ``MIN_REGISTERED_SECRET``."""
    if len(value.strip()) >= MIN_REGISTERED_SECRET:
        register_secret(value)


def _secret(value: Any, info: ValidationInfo) -> SecretStr:
    """Resolve a secret reference; context ``resolve=False`` checks its form only (``SecretStr("")``).

    Every value resolved (or written inline) is registered for log redaction at once, so no
    later message about this configuration, accepted or refused, can show it.
    """
    context = info.context or {}
    allow_inline = context.get("allow_inline", False)
    if isinstance(value, str) and value:
        register_config_secret(value)  # a pasted token is a secret even where it is refused
    if context.get("resolve", True) is False:
        check_secret_ref(value, allow_inline=allow_inline)
        return SecretStr("")
    secret = resolve_secret_ref(value, environ=context.get("environ", os.environ), allow_inline=allow_inline)
    register_config_secret(secret.get_secret_value())
    return secret


def check_secret_ref(ref: Any, *, allow_inline: bool) -> None:
    """Check the form of a secret reference without reading it (``check-config --no-secrets``).

    Raises:
        ValueError: as ``resolve_secret_ref`` for a refused literal or a malformed reference.
    """
    if isinstance(ref, (SecretStr, str)):
        if isinstance(ref, str):
            resolve_secret_ref(ref, environ={}, allow_inline=allow_inline)
        return
    if isinstance(ref, Mapping) and len(ref) == 1:
        ((kind, name),) = ref.items()
        if kind in ("env", "credential") and isinstance(name, str) and name:
            if kind == "credential" and ("/" in name or name in (".", "..")):
                raise ValueError(f"credential name {name!r} must be a plain file name")
            return
    raise ValueError("expected { env = \"NAME\" } or { credential = \"NAME\" }")


def is_secret_annotation(annotation: Any) -> bool:
    """Return whether a field annotated ``annotation`` holds a secret (``SecretStr``, e.g. ``SecretField``)."""
    return annotation is SecretStr or (isinstance(annotation, type) and issubclass(annotation, SecretStr))


SecretField = Annotated[
    SecretStr,
    PlainValidator(_secret),
    PlainSerializer(lambda v: "**********", return_type=str),
    WithJsonSchema(_SECRET_SCHEMA),
]
