"""``[promises]`` and ``detect = "promise"`` rules at load (issue 17): defaults, and every wrong value
named with its file, line, key and value."""

from __future__ import annotations

import pytest

from bridge.config import parse_config
from bridge.core.errors import ConfigError

BASE = """\
[people.sam]
accounts = { asana = "1100000000000021" }

[connectors.asana]
token = { env = "ASANA_TOKEN" }
projects = ["1300000000000007"]
"""
ENV = {"ASANA_TOKEN": "2/1/abc"}
RULE = """
[[rules]]
name = "promises"
detect = "promise"
steps = [{ after = "0h", do = "comment" }]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="config.toml", environ=ENV)
    return info.value.problems


def test_a_promise_rule_gets_its_defaults_and_the_english_patterns():
    config = parse_config(BASE + RULE, source="config.toml", environ=ENV)
    [rule] = config.rules
    assert rule.detect == "promise" and str(rule.within) == "1d"
    assert rule.steps[0].template == "promise"
    assert config.promises.patterns == ["english"]
    assert config.promises.compiled()


def test_a_pattern_that_is_no_regular_expression_is_named_with_its_line():
    text = BASE + '\n[promises]\npatterns = ["english", "(?i)\\\\bich (werde"]\n' + RULE
    [problem] = problems_of(text)
    assert problem.startswith("config.toml:9: promises.patterns")
    assert "not a regular expression" in problem and "ich (werde" in problem


def test_keys_of_other_detectors_and_reassign_are_refused_on_a_promise_rule():
    text = BASE + RULE.replace('steps = [{ after = "0h", do = "comment" }]',
                               'on = ["assigned"]\nsteps = [{ after = "0h", do = "reassign", to = "sam" }]')
    problems = problems_of(text)
    assert any("rules[0].on" in p and 'not used by detect = "promise"' in p for p in problems), problems
    assert any("rules[0].steps[0].do" in p and "a promise rule can comment, draft or label" in p for p in problems), problems


def test_a_template_may_use_the_promise_placeholders():
    text = BASE + '\n[templates]\nmine = "{receiver}: {promise}{when} ({written}): {quote}"\n' + RULE.replace(
        'do = "comment" }', 'do = "comment", template = "mine" }')
    config = parse_config(text, source="config.toml", environ=ENV)
    assert config.rules[0].steps[0].template == "mine"
