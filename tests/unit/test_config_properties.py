"""Property (hypothesis): any single mutation of a valid configuration is refused with file and key, or valid.

A valid configuration with every section (``[daemon]``, ``[defaults]``, people, the three
connectors, templates, a handoff and a standoff rule) is mutated once, anywhere: a key deleted,
a value replaced by one of another type, an unknown key inserted, or a ``key = value`` line
duplicated. ``parse_config`` then returns a ``Config`` or raises ``ConfigError`` whose every
problem reads ``config.toml[:LINE]: dotted.key: message``; never another exception, and never
the token.
"""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import datetime, timezone

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.config import Config, parse_config
from bridge.core.errors import ConfigError

TOKEN = "ghp_PropertyTestTokenValue0001"
ENV = {"GITHUB_TOKEN": TOKEN, "JIRA_TOKEN": "jira-property-token-0002", "ASANA_TOKEN": "asana-property-token-0003"}

VALID = """\
[daemon]
dry_run = false
log_level = "info"

[defaults]
timezone = "Europe/Berlin"
working_days = ["mon", "tue", "wed", "thu", "fri"]
working_hours = "09:00-17:00"
holidays = "DE-BY"

[people.ben]
display_name = "Ben"
email = "ben@example.com"
timezone = "America/New_York"
accounts = { github = "ben-o", jira = "ben-j", asana = "111" }

[people.lead]
accounts = { github = "lea-c", jira = "lea-j", asana = "222" }

[connectors.github]
token = { env = "GITHUB_TOKEN" }
repositories = ["acme/web"]
poll_every = "2m"

[connectors.jira]
base_url = "https://jira.example.com"
deployment = "datacenter"
token = { env = "JIRA_TOKEN" }
jql = ["project = WEB"]

[connectors.asana]
token = { env = "ASANA_TOKEN" }
projects = ["1201"]

[templates]
nudge = "{receiver}: please {need} {item} by {deadline}."

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested", { label = "needs-qa" }, { status = "Ready for QA", owner = "ben" }]
within = "4h"
need = "review"
next = "merge"
steps = [
  { after = "0h", do = "comment" },
  { after = "8h", do = "reassign", to = "lead" },
]

[[rules]]
name = "standoffs"
detect = "standoff"
tools = ["jira", "asana"]
blocked_statuses = ["Blocked"]
steps = [{ after = "0h", do = "comment" }]
"""

DATA = tomllib.loads(VALID)
OTHER_TYPES = ["text", 7, -1, True, 1.5, [], ["a", 1], {"k": "v"}, datetime(2026, 1, 1, tzinfo=timezone.utc)]
PROBLEM = re.compile(r"^config\.toml(:\d+)?: (\S+): \S")


def _paths(node, path=()):
    """Every key path and list index below ``node`` (what a mutation may hit)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield path + (key,)
        yield from _paths(value, path + (key,))


def _tables(node, path=()):
    if isinstance(node, dict):
        yield path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _tables(value, path + (key,))


PATHS = list(_paths(DATA))
TABLES = list(_tables(DATA))


def _parent(data, path):
    for part in path[:-1]:
        data = data[part]
    return data


def _check(text: str, expect_key: str | None = None) -> None:
    try:
        config = parse_config(text, source="config.toml", environ=ENV)
    except ConfigError as exc:
        assert exc.problems, str(exc)
        for line in exc.problems:
            assert PROBLEM.match(line), line
            assert TOKEN not in line
        if expect_key is not None:
            assert any(PROBLEM.match(p).group(2) == expect_key for p in exc.problems), exc.problems
        assert TOKEN not in str(exc)
    else:
        assert isinstance(config, Config)


def test_the_base_configuration_is_valid():
    assert len(parse_config(VALID, environ=ENV).rules) == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS))
def test_deleting_any_key_or_entry(path):
    data = copy.deepcopy(DATA)
    del _parent(data, path)[path[-1]]
    _check(tomli_w.dumps(data))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), st.sampled_from(OTHER_TYPES))
def test_changing_any_value_to_another_type(path, value):
    data = copy.deepcopy(DATA)
    _parent(data, path)[path[-1]] = copy.deepcopy(value)
    _check(tomli_w.dumps(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TABLES), st.sampled_from(["tokn", "github_token", "extra", "Token", "x-y"]),
       st.sampled_from(OTHER_TYPES + [TOKEN]))
def test_inserting_an_unknown_key_anywhere(table, key, value):
    data = copy.deepcopy(DATA)
    node = data
    for part in table:
        node = node[part]
    if key in node:
        return
    node[key] = copy.deepcopy(value)
    _check(tomli_w.dumps(data))


ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
LINES = VALID.splitlines()
ASSIGNMENT_LINES = [n for n, line in enumerate(LINES) if ASSIGNMENT.match(line) and not line.rstrip().endswith("[")]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ASSIGNMENT_LINES))
def test_duplicating_any_key_names_it(n):
    lines = LINES[: n + 1] + [LINES[n]] + LINES[n + 1 :]
    key = ASSIGNMENT.match(LINES[n]).group(1)
    with_error = "\n".join(lines) + "\n"
    try:
        parse_config(with_error, source="config.toml", environ=ENV)
    except ConfigError as exc:
        (line,) = exc.problems
        assert line.startswith(f"config.toml:{n + 2}: "), line
        dotted = PROBLEM.match(line).group(2)
        assert dotted.split(".")[-1] == key and "duplicate key, first defined on line" in line, line
    else:
        raise AssertionError("a duplicate key was accepted")
