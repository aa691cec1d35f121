"""Humanised configuration problems: one line each, ``FILE:LINE: dotted.key: message (got VALUE)``.

Holds ``Problem`` (a key path, a message, the offending value), the translation of pydantic's
``ValidationError`` (``pydantic_problems``), the checks pydantic cannot make because they span
sections (``cross_problems``: templates, people, steps, tools), the structural problems removed
before validation (``structure_problems``), ``syntax_error`` for TOML that does not parse, and
``format_problem``.

Values are masked by type and origin, never by key name: a value at a secret-typed field
(``SecretStr``) shows only its reference (``{'env': 'NAME'}``) or ``'***'``; a table (a section
or an inline table printed whole) is never shown; a string under an unknown key (perhaps a
pasted token) is ``'***'``; a URL's password is ``***``; and every registered secret
(``bridge.core.logs.register_secret``: the loader registers each resolved one before
validating) is scrubbed from the finished line.
"""

from __future__ import annotations

import difflib
import json
import re
import string
import tomllib
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bridge.config.positions import BARE_KEY, Positions
from bridge.core.businesstime import Duration
from bridge.core.errors import ConfigError
from bridge.core.fields import account_key, is_secret_annotation
from bridge.core.logs import redact
from bridge.core.model import Tool
from rules.spec import ASSIGNEE, BUILTIN_TEMPLATES, PLACEHOLDERS, STEP_TEMPLATE_DEFAULTS

__all__ = [
    "AVAILABLE_CONNECTORS",
    "Problem",
    "cross_problems",
    "format_problem",
    "pydantic_problems",
    "structure_problems",
    "syntax_error",
]

#: Tools whose connector can be configured today (``[connectors.<tool>]``).
AVAILABLE_CONNECTORS = tuple(t.value for t in Tool)

_MISSING = object()


@dataclass
class Problem:
    """One problem: the TOML key ``path`` (``("rules", 0, "within")``), a message, the value if any."""

    path: tuple
    message: str
    value: Any = _MISSING
    secret: bool = False  # the value sits in a secret-typed field
    unknown: bool = False  # the value sits under a key nobody reads


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if BARE_KEY.fullmatch(part) else json.dumps(part)
            out += f".{text}" if out else text
    return out or "(top level)"


def _has_table(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and any(_has_table(v) for v in value)


def _has_string(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and any(_has_string(v) for v in value)


def _is_reference(value: Any) -> bool:
    return (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("env", "credential")
            and isinstance(next(iter(value.values())), str))


def _show(problem: Problem) -> str | None:
    """Return how ``problem.value`` may be shown, or ``None`` when it must not be shown at all."""
    value = problem.value
    if problem.secret:
        return repr(value) if _is_reference(value) else "'***'"
    if _has_table(value):
        return None  # a table printed whole may hold anything, a token included
    if problem.unknown and _has_string(value):
        return "'***'"
    text = repr(value)
    text = re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1***@", text)  # a URL's password
    return text if len(text) <= 80 else text[:77] + "..."


def format_problem(source: str, positions: Positions | None, problem: Problem) -> str:
    """Return ``SOURCE:LINE: dotted.key: message (got VALUE)``; no line when ``positions`` has none.

    The value is masked as the module docstring says; registered secrets are scrubbed from the line.
    """
    line = positions.line_of(problem.path) if positions else None
    where = f"{source}:{line}" if line else source
    shown = None if problem.value is _MISSING else _show(problem)
    got = "" if shown is None else f" (got {shown})"
    return redact(f"{where}: {_dotted(problem.path)}: {problem.message}{got}")


def _is_secret_field(root: type[BaseModel], path: tuple) -> bool:
    """Return whether ``path`` below ``root`` is a field typed as a secret (``SecretStr``)."""
    if not path or not isinstance(path[-1], str):
        return False
    model = _model_at(root, path[:-1])
    field = model.model_fields.get(path[-1]) if model is not None else None
    return field is not None and is_secret_annotation(_unwrap(field.annotation))


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


def _model_at(root: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """Return the model class that holds the keys of the table at ``path`` below ``root``."""
    tp: Any = root
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


def _unknown_key(root: type[BaseModel], path: tuple) -> str:
    model = _model_at(root, path[:-1])
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


def pydantic_problems(exc: ValidationError, data: Any, root: type[BaseModel]) -> list[Problem]:
    """Translate ``exc`` (``root`` validating the TOML ``data``) into problems at TOML key paths."""
    problems: list[Problem] = []
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
            problem = Problem(path, "required key is missing")
        elif kind == "missing_key":  # a model-level check naming the key it misses (PydanticCustomError)
            problem = Problem(path + (error["ctx"]["key"],), f"required key is missing: {error['msg']}")
        elif kind == "extra_forbidden":
            problem = Problem(path, _unknown_key(root, path), error["input"], unknown=True)
        elif kind == "literal_error" and loc and loc[-1] == "[key]":
            problem = Problem(path, f"unknown tool, expected {error['ctx']['expected']}", path[-1] if path else None)
        elif kind == "literal_error":
            problem = Problem(path, f"expected {error['ctx']['expected']}", error["input"])
        elif kind in _BOUND_MESSAGES:
            text, bound = _BOUND_MESSAGES[kind]
            problem = Problem(path, text.format((error.get("ctx") or {}).get(bound)), error["input"])
        elif kind in _TYPE_MESSAGES:
            problem = Problem(path, _TYPE_MESSAGES[kind], error["input"])
        else:
            message = error["msg"]
            for prefix in ("Value error, ", "Assertion failed, "):
                message = message.removeprefix(prefix)
            message = message[:1].lower() + message[1:]
            problem = Problem(path, message, error["input"])
        problem.secret = _is_secret_field(root, problem.path)
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


def cross_problems(data: dict) -> list[Problem]:
    """Problems across sections of the raw TOML ``data``: templates, accounts, rules, steps, people, tools."""
    problems: list[Problem] = []
    people = data.get("people") if isinstance(data.get("people"), dict) else {}
    connectors = data.get("connectors") if isinstance(data.get("connectors"), dict) else {}
    user_templates = data.get("templates") if isinstance(data.get("templates"), dict) else {}

    for name, text in user_templates.items():
        if isinstance(text, str):
            message = _template_problem(text)
            if message:
                problems.append(Problem(("templates", name), f"template {name!r}: {message}", text))
    templates = {**BUILTIN_TEMPLATES, **user_templates}

    owners: dict[tuple[str, str], str] = {}
    for name, person in people.items():
        accounts = person.get("accounts") if isinstance(person, dict) else None
        if not isinstance(accounts, dict):
            continue
        for tool, ident in accounts.items():
            if not isinstance(ident, str):
                continue
            key = (tool, account_key(tool, ident))
            if key in owners:
                problems.append(
                    Problem(("people", name, "accounts", tool), f"account already belongs to person {owners[key]!r}", ident)
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
                problems.append(Problem(("rules", r, "name"), f"duplicate rule name, also rules[{names[name]}]", name))
            else:
                names[name] = r
        tools = rule.get("tools")
        if isinstance(tools, list):
            for t, tool in enumerate(tools):
                if isinstance(tool, str) and tool in {x.value for x in Tool} and tool not in connectors:
                    problems.append(Problem(("rules", r, "tools", t), f"no [connectors.{tool}] is configured", tool))
            rule_tools = [t for t in tools if isinstance(t, str) and t in connectors]
        else:
            rule_tools = [t for t in connectors if t in AVAILABLE_CONNECTORS]
        detect = rule.get("detect") if isinstance(rule.get("detect"), str) else None
        only = {"handoff": ("on", "before_due", "require", "clock"), "standoff": ("min_age", "blocked_statuses")}
        for key in only.get("standoff" if detect == "handoff" else "handoff" if detect == "standoff" else "", ()):
            if key in rule:
                problems.append(Problem(("rules", r, key), f"only used by detect = \"{'handoff' if key in only['handoff'] else 'standoff'}\"", rule[key]))
        if detect == "handoff":
            for key in ("on", "within", "need", "next"):
                if key not in rule:
                    problems.append(Problem(("rules", r, key), "required key is missing"))
                elif key == "on" and rule[key] == []:
                    problems.append(Problem(("rules", r, key), "detect = \"handoff\" needs at least one trigger in on", []))
        if detect == "promise":  # a promise's own keys: within, before_due, steps (rules.spec.Rule)
            for key in ("on", "min_age", "blocked_statuses", "require", "clock"):
                if key in rule:
                    problems.append(Problem(("rules", r, key), f"not used by detect = \"promise\"", rule[key]))
        if detect in ("standoff", "promise"):
            for s_, step in enumerate(rule.get("steps") if isinstance(rule.get("steps"), list) else []):
                if isinstance(step, dict) and step.get("do") == "reassign":
                    problems.append(Problem(("rules", r, "steps", s_, "do"), f"a {detect} rule can comment, draft or label, not reassign", "reassign"))
        on = rule.get("on")
        for t, trig in enumerate(on if isinstance(on, list) else []):
            owner = trig.get("owner") if isinstance(trig, dict) else None
            if owner == ASSIGNEE:
                continue
            if isinstance(owner, str) and owner not in people:
                close = difflib.get_close_matches(owner, list(people), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(people)) or 'none'}"
                problems.append(Problem(("rules", r, "on", t, "owner"), f"unknown person, {hint}", owner))
            elif isinstance(owner, str) and isinstance(people[owner], dict):
                accounts = people[owner].get("accounts")
                if not any(tool in (accounts if isinstance(accounts, dict) else {}) for tool in rule_tools):
                    problems.append(Problem(("rules", r, "on", t, "owner"),
                                             f"person {owner!r} has no account in {', '.join(rule_tools) or 'any configured tool'}", owner))
        leads = rule.get("leads")
        for i, lead in enumerate(leads if isinstance(leads, list) else []):
            if isinstance(lead, str) and lead not in people:
                close = difflib.get_close_matches(lead, list(people), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(people)) or 'none'}"
                problems.append(Problem(("rules", r, "leads", i), f"unknown person, {hint}", lead))
        steps = rule.get("steps")
        if not isinstance(steps, list):
            continue
        previous: tuple[int, Duration] | None = None
        for s, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            where = ("rules", r, "steps", s)
            do = step.get("do") if isinstance(step.get("do"), str) else None
            try:
                after = Duration.parse(step.get("after", "0h"))
            except (ValueError, TypeError, AttributeError):  # not a duration: pydantic reports it
                after = None
            if after is not None:
                if previous is not None and after < previous[1]:
                    problems.append(
                        Problem(
                            where + ("after",),
                            f"steps must not go back in time: steps[{previous[0]}] is after {previous[1]}",
                            step.get("after"),
                        )
                    )
                previous = (s, after)
            if do in ("reassign", "draft") and (do == "reassign" or step.get("to") is not None):
                to = step.get("to")
                if to is None:
                    problems.append(Problem(where + ("to",), "do = \"reassign\" needs to = \"<person>\""))
                elif isinstance(to, str) and to not in people:
                    close = difflib.get_close_matches(to, list(people), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(people)) or 'none'}"
                    problems.append(Problem(where + ("to",), f"unknown person, {hint}", to))
                elif isinstance(to, str) and isinstance(people[to], dict):
                    accounts = people[to].get("accounts")
                    accounts = accounts if isinstance(accounts, dict) else {}
                    for tool in rule_tools:
                        if tool not in accounts:
                            problems.append(
                                Problem(where + ("to",), f"person {to!r} has no {tool} account to {do} to", to)
                            )
            if do == "label" and step.get("label") is None:
                problems.append(Problem(where + ("label",), "do = \"label\" needs label = \"<name>\""))
            for field, allowed_for in (("to", ("reassign", "draft")), ("label", ("label",)), ("title_template", ("draft",))):
                if field in step and do in ("comment", "reassign", "label", "draft") and do not in allowed_for:
                    problems.append(
                        Problem(where + (field,), "only used by " + " or ".join(f'do = "{a}"' for a in allowed_for) + f', not "{do}"', step[field])
                    )
            if "template" in step and do == "label":
                problems.append(Problem(where + ("template",), "do = \"label\" writes no text", step["template"]))
            for field, default in (("template", STEP_TEMPLATE_DEFAULTS.get(do)), ("title_template", "draft_title")):
                if field == "title_template" and do != "draft":
                    continue
                ref = step.get(field, default)
                if isinstance(ref, str) and default is not None and ref not in templates:
                    known = ", ".join(sorted(templates))
                    problems.append(Problem(where + (field,), f"unknown template (known: {known})", ref))
    return problems


def structure_problems(data: dict) -> list[Problem]:
    """Problems pydantic would report badly; the offending parts are removed from ``data``."""
    problems: list[Problem] = []
    connectors = data.get("connectors")
    if isinstance(connectors, dict):
        for name in list(connectors):
            if name in AVAILABLE_CONNECTORS:
                continue
            message = f"unknown tool, expected {', '.join(AVAILABLE_CONNECTORS)}"
            problems.append(Problem(("connectors", name), message, name))
            del connectors[name]
    return problems


def syntax_error(source: str, exc: tomllib.TOMLDecodeError, positions: Positions | None = None) -> ConfigError:
    """Return the ``ConfigError`` for TOML that does not parse, naming line and column when known.

    A key or table defined twice is named (from ``positions``) with the line of its first definition.
    """
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    duplicate = positions.duplicate_at(int(match.group(1))) if match and positions else None
    if match and duplicate:
        path, first = duplicate
        line = (f"{source}:{match.group(1)}: {_dotted(path)}: duplicate key, first defined on line {first} "
                f"(TOML syntax error, column {match.group(2)})")
    elif match:
        line = f"{source}:{match.group(1)}: TOML syntax error: {message[: match.start()]} (column {match.group(2)})"
    else:
        line = f"{source}: TOML syntax error: {message}"
    return ConfigError(f"invalid configuration {source}:\n  {line}", [line])
