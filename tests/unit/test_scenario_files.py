"""Scenario files (issue 12): an unknown key in an act is refused with file and key, and Jira acts
set due dates (``create_issue`` ``due_on``, ``set_due``), named as Asana's are, so ``before_due``
can be scenario-tested on Jira. The demo runs the Jira emulator and the real connector."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.app.commands import demo
from bridge.core.errors import ConfigError

SCENARIO = '''
name = "jira-due-date-in-auckland"
description = "WEB-21 is due Wednesday; Kiwi, in Auckland, is handed it on Monday and never answers."
timezone = "UTC"
start = "2026-11-23 08:00"
end = "2026-11-25 12:00"
step = "15m"
bot = "5b10a2844c20165700ede999"

[jira]
projects = ["WEB"]

[defaults]
timezone = "UTC"
working_hours = "09:00-17:00"

[people.dev]
accounts = { jira = "5b10a2844c20165700ede21a" }

[people.kiwi]
timezone = "Pacific/Auckland"
accounts = { jira = "5b10a2844c20165700ede21g" }

[[rules]]
name = "assigned-before-due"
detect = "handoff"
on = ["assigned"]
within = "5d"
before_due = "1d"
need = "answer"
next = "In Progress"
steps = [{ after = "0h", do = "comment", template = "nudge" }]

[[timeline]]
at = "Mon 09:00"
actor = "dev"
do = "create_issue"
item = "WEB-21"
title = "Ship it"
due_on = 2026-11-26

[[timeline]]
at = "Mon 09:30"
actor = "dev"
do = "set_due"
item = "WEB-21"
due_on = "2026-11-25"

[[timeline]]
at = "Mon 10:00"
actor = "dev"
do = "assign"
item = "WEB-21"
assignee = "kiwi"
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_key_in_an_act_is_refused_with_file_and_key(tmp_path):
    path = write(tmp_path, SCENARIO.replace('title = "Ship it"', 'title = "Ship it"\nassigne = "kiwi"'))
    with pytest.raises(ConfigError) as caught:
        demo.load_scenario(path)
    text = "\n".join(caught.value.problems)
    assert f"{path}: timeline[0].assigne: unknown key for jira act 'create_issue'" in text
    asana_typo = SCENARIO.replace("[jira]", "[asana]\nprojects = [{ gid = \"1200000000000001\", name = \"Legal\" }]\n[jira]")
    asana_typo += '\n[[timeline]]\nat = "Mon 11:00"\nactor = "dev"\ndo = "set_due"\nitem = "1200000000000042"\ndue = "2026-11-25"\n'
    with pytest.raises(ConfigError) as caught:
        demo.load_scenario(write(tmp_path, asana_typo))
    assert "timeline[3].due: unknown key for asana act 'set_due'" in "\n".join(caught.value.problems)


def test_every_bundled_scenario_uses_only_known_keys():
    scenarios = sorted((Path(demo.__file__).parents[1] / "scenarios").glob("*.toml"))
    assert len(scenarios) >= 10
    for path in scenarios:
        demo.load_scenario(path)  # raises ConfigError naming the key otherwise


def test_a_jira_due_date_from_the_scenario_nudges_auckland_at_wednesday_0900_nzdt(tmp_path):
    result = demo.Demo(demo.load_scenario(write(tmp_path, SCENARIO))).run()
    assert [(f["item"], f["receiver"], f["at"]) for f in result.findings] == [
        ("WEB-21", "kiwi", "2026-11-24T20:00:00+00:00")]  # Wed 25 Nov 09:00 NZDT, 1 working day before its end
    assert [n for _, n in result.narration][:2] == ['dev creates WEB-21 "Ship it", due 2026-11-26',
                                                    "dev sets WEB-21 due 2026-11-25"]
