"""Secret references in the configuration: ``resolve_secret`` and which keys hold secrets.

A reference is ``{ env = "NAME" }``, ``{ credential = "NAME" }`` (a file in
``$CREDENTIALS_DIRECTORY``) or, with ``daemon.allow_inline_secrets``, a literal. Connector tokens
are resolved while validating (``bridge.core.fields.SecretField``, which connector settings
declare and so must live in ``bridge.core``); this module gives the same resolution to callers
outside validation and names the keys whose values messages must mask.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from pydantic import SecretStr

from bridge.core.errors import ConfigError
from bridge.core.fields import resolve_secret_ref

__all__ = ["SECRET_KEYS", "is_secret_path", "resolve_secret"]

#: Key names (lower case) whose values are secrets wherever they appear.
SECRET_KEYS = frozenset({"token", "password", "secret", "api_key", "apikey"})


def is_secret_path(path: tuple) -> bool:
    """Return whether the key path (``("connectors", "github", "token")``) holds a secret."""
    return any(isinstance(p, str) and p.lower() in SECRET_KEYS for p in path)


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
