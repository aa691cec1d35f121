"""Secret references in the configuration: ``resolve_secret`` and which keys hold secrets.

A reference is ``{ env = "NAME" }``, ``{ credential = "NAME" }`` (a file in
``$CREDENTIALS_DIRECTORY``) or, with ``daemon.allow_inline_secrets``, a literal. Connector tokens
are resolved while validating (``bridge.core.fields.SecretField``, which connector settings
declare and so must live in ``bridge.core``); this module gives the same resolution to callers
outside validation, and ``register_config_secrets`` registers every secret a raw TOML document
holds or references for log redaction before it is validated (so not even the refusal of a
reload can show one). Secrets are found by type (fields typed ``SecretStr``), not by key name.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, get_args, get_origin

from pydantic import BaseModel, SecretStr

from bridge.core.errors import ConfigError
from bridge.core.fields import is_secret_annotation, register_config_secret, resolve_secret_ref

__all__ = ["register_config_secrets", "resolve_secret"]


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation may hold directly (``X``, ``X | None``)."""
    members = get_args(annotation) if get_origin(annotation) is not None else (annotation,)
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def register_config_secrets(data: Any, model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Register for redaction every secret in the raw TOML ``data`` validated by ``model``.

    Walks the tables whose fields are models; at each ``SecretStr`` field a literal is
    registered as it is, a reference is resolved (failures are left to validation) and its
    value registered. A password in a URL-valued string (``scheme://user:password@host``) is
    registered too. Values shorter than ``bridge.core.fields.MIN_REGISTERED_SECRET`` are not
    registered (they would scrub ordinary text from every log line). Never raises.
    """
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if isinstance(value, str):
            match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:([^@/\s]+)@", value)
            if match:
                register_config_secret(match.group(1))
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is None:
            continue
        if is_secret_annotation(field.annotation):
            if isinstance(value, str):
                register_config_secret(value)
            else:
                try:
                    register_config_secret(resolve_secret_ref(value, environ=environ, allow_inline=False).get_secret_value())
                except (ValueError, TypeError):
                    pass
            continue
        for sub in _models(field.annotation):
            register_config_secrets(value, sub, environ)


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
        return resolve_secret_ref(ref, environ=env, allow_inline=allow_inline)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
