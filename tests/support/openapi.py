"""Validate JSON bodies against response schemas of a vendor OpenAPI 3.0 description.

The whole (non-dereferenced) document is the root resource of a ``referencing``
registry, so ``#/components/...`` references resolve in place; the validator is
``openapi_schema_validator.OAS30Validator`` (``nullable``, ``discriminator`` as OAS 3.0).
Files come from ``../shared/specs`` (see its README).
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.support.recorded import SPECS

GITHUB_SPEC = SPECS / "github" / "api.github.com.2026-03-10.json.gz"
_ROOT_URI = "urn:openapi:root"


@functools.lru_cache(maxsize=None)
def load(path: Path = GITHUB_SPEC) -> tuple[dict, Registry]:
    """Load an OpenAPI file (``.json`` or ``.json.gz``) once; return (document, registry)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    _nullable_enums(doc)
    resource = Resource.from_contents(doc, default_specification=DRAFT4)
    return doc, Registry().with_resource(_ROOT_URI, resource)


def _nullable_enums(node: Any) -> None:
    """Let ``nullable: true`` admit null even where an ``enum`` omits it (in place).

    GitHub writes e.g. ``state_reason: {nullable: true, enum: [completed, ...]}`` and
    serves ``null`` for open issues; under the strict OAS 3.0.3 reading the enum would
    still reject null, which is not what the vendor means.
    """
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("enum"), list) \
                and None not in node["enum"]:
            node["enum"].append(None)
        for v in node.values():
            _nullable_enums(v)
    elif isinstance(node, list):
        for v in node:
            _nullable_enums(v)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def response_pointer(path: str, method: str, status: int | str) -> str:
    """JSON pointer to the ``application/json`` schema of one documented response."""
    return (f"#/paths/{_escape(path)}/{method.lower()}/responses/{status}"
            f"/content/application~1json/schema")


def component_pointer(name: str) -> str:
    """JSON pointer to ``#/components/schemas/<name>``."""
    return f"#/components/schemas/{_escape(name)}"


class SchemaMismatch(AssertionError):
    """A body does not validate; the message lists each failing JSON path."""


def errors(body: Any, pointer: str, path: Path = GITHUB_SPEC) -> list[str]:
    """Return ``"<json path>: <message>"`` for every validation error of ``body`` at ``pointer``."""
    doc, registry = load(path)
    validator = OAS30Validator({"$ref": _ROOT_URI + pointer}, registry=registry,
                               format_checker=oas30_format_checker)
    out = []
    for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = err.json_path
        detail = err.message
        if err.context:  # oneOf/anyOf: show the closest branch's complaints
            best = sorted(err.context, key=lambda e: (-len(e.absolute_path), e.message))[:3]
            detail += " | " + "; ".join(f"{e.json_path}: {e.message}" for e in best)
        out.append(f"{where}: {detail[:500]}")
    return out


def validate(body: Any, pointer: str, path: Path = GITHUB_SPEC) -> None:
    """Raise :class:`SchemaMismatch` naming the failing JSON paths unless ``body`` validates."""
    problems = errors(body, pointer, path)
    if problems:
        raise SchemaMismatch(f"{len(problems)} schema error(s) against {pointer}:\n  "
                             + "\n  ".join(problems[:20]))


def validate_response(body: Any, api_path: str, method: str, status: int | str,
                      path: Path = GITHUB_SPEC) -> None:
    """Validate ``body`` against the documented ``status`` response of ``method api_path``."""
    doc, _ = load(path)
    try:
        doc["paths"][api_path][method.lower()]["responses"][str(status)]
    except KeyError:
        raise KeyError(f"{method.upper()} {api_path} has no documented {status} response") from None
    validate(body, response_pointer(api_path, method, status), path)
