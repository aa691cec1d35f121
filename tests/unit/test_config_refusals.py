"""Configuration, issue 12: no secret in any message, every problem named, every wrong value refused at load.

- secrets are masked by type and origin (a ``SecretStr`` field, a value resolved from a
  reference, a table printed whole, a string under an unknown key), through
  ``handoff-bridge check-config`` and through the daemon's reload refusal;
- Jira Cloud without ``email`` names ``connectors.jira.email``; a duplicate TOML key names the key;
- a bad database URL, ``steps = []`` and an ownerless status handoff point are refused at load;
- ``check-config --no-secrets`` and ``check-config --config FILE``.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from structlog.testing import capture_logs

from bridge.app import cli
from bridge.app.daemon import reload_config
from bridge.config import parse_config
from bridge.core.errors import ConfigError
from bridge.core.logs import redact
from bridge.core.model import Account, Event, EventKind, ItemRef
from bridge.engine.evaluator import Evaluator
from bridge.store import Store
from rules import handoff
from rules.spec import ASSIGNEE

GH_TOKEN = "ghp_Issue12EnvResolvedToken0001"
PASTED = "ghp_Issue12PastedLiteralToken0002"

BASE = """\
[people.ben]
accounts = { github = "ben-o", jira = "ben-j" }

[people.lead]
accounts = { github = "lea-c", jira = "lea-j" }

[connectors.github]
token = { env = "GITHUB_TOKEN" }
repositories = ["acme/web"]

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
tools = ["github"]
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [
  { after = "0h", do = "comment" },
  { after = "8h", do = "reassign", to = "lead" },
]
"""

ENV = {"GITHUB_TOKEN": GH_TOKEN}
INLINE = "[daemon]\nallow_inline_secrets = true\n\n"
JIRA_CLOUD_NO_EMAIL = f"""
[connectors.jira]
base_url = "https://acme.atlassian.net"
token = "{PASTED}"
jql = ["project = WEB"]
"""


def problems_of(text: str, environ=ENV) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), source="config.toml", environ=environ)
    return info.value.problems


def check_config(tmp_path, capsys, monkeypatch, text: str, *args: str, env=ENV) -> tuple[int, str, str]:
    """Run ``handoff-bridge check-config`` on ``text`` in-process: (exit code, stdout, stderr)."""
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["check-config", *(a.replace("FILE", str(path)) for a in args or ("FILE",))])
    out, err = capsys.readouterr()
    return code, out, err


# -- secrets never reach a message -------------------------------------------------------------


@pytest.mark.parametrize("key", ["github_token", "tokn"])
def test_a_token_pasted_under_another_key_is_not_printed_by_check_config(tmp_path, capsys, monkeypatch, key):
    text = BASE.replace('token = { env = "GITHUB_TOKEN" }\n', f'token = {{ env = "GITHUB_TOKEN" }}\n{key} = "{PASTED}"\n')
    code, out, err = check_config(tmp_path, capsys, monkeypatch, text)
    assert code == 2
    assert f"connectors.github.{key}: unknown key" in err
    assert PASTED not in err + out


def test_a_typo_for_token_is_masked_and_the_missing_token_named(tmp_path, capsys, monkeypatch):
    text = BASE.replace('token = { env = "GITHUB_TOKEN" }', f'tokn = "{PASTED}"')
    code, out, err = check_config(tmp_path, capsys, monkeypatch, text)
    assert code == 2
    assert "connectors.github.tokn: unknown key, did you mean 'token'? (got '***')" in err
    assert "connectors.github.token: required key is missing" in err
    assert PASTED not in err + out


def test_a_section_level_error_names_the_key_and_never_prints_the_table(tmp_path, capsys, monkeypatch):
    code, out, err = check_config(tmp_path, capsys, monkeypatch, INLINE + BASE + JIRA_CLOUD_NO_EMAIL)
    assert code == 2
    assert PASTED not in err + out
    (line,) = [p for p in err.splitlines() if "connectors.jira" in p]
    # the line of the [connectors.jira] table, the key the check is about
    assert line.strip().startswith(f"{tmp_path / 'bridge.toml'}:27: connectors.jira.email: required key is missing")
    assert "(got" not in line


def test_a_value_resolved_from_a_reference_is_scrubbed_wherever_it_appears():
    # the GitHub token (from $GITHUB_TOKEN) pasted by mistake into a person's e-mail
    text = BASE.replace('[people.ben]\n', f'[people.ben]\nemail = "{GH_TOKEN}"\n')
    (line,) = problems_of(text)
    assert "people.ben.email: not an e-mail address" in line
    assert GH_TOKEN not in line


def test_a_database_password_is_masked():
    (line,) = problems_of('[daemon]\ndatabase = "nosuchdb://hb:s3cretpw@db/hb"\n' + BASE)
    assert "daemon.database: unknown database dialect 'nosuchdb'" in line
    assert "s3cretpw" not in line and "hb:***@db" in line


def test_the_reload_refusal_log_shows_no_secret_and_the_new_secrets_are_registered_first(tmp_path):
    new_token = "ghp_Issue12TokenOfTheNewFile0003"
    path = tmp_path / "bridge.toml"
    text = INLINE + BASE.replace('token = { env = "GITHUB_TOKEN" }', 'token = { env = "NEW_TOKEN" }\ngithub_token = "'
                                 + PASTED + '"') + JIRA_CLOUD_NO_EMAIL
    path.write_text(text)
    with capture_logs() as logs:
        assert reload_config(path, {"NEW_TOKEN": new_token}) is None
    (entry,) = [e for e in logs if e["event"] == "config_reload_refused"]
    assert entry["log_level"] == "error" and entry["file"] == str(path)
    problems = "\n".join(entry["problems"])
    assert "connectors.github.github_token: unknown key" in problems
    assert "connectors.jira.email: required key is missing" in problems
    assert PASTED not in repr(entry) and new_token not in repr(entry)
    # the refused file's secrets are registered for redaction all the same (before validation)
    assert redact(f"x {new_token} y {PASTED}") == "x *** y ***"


# -- everything named ----------------------------------------------------------------------------


def test_a_duplicate_key_names_the_key_and_both_lines():
    text = BASE.replace('within = "4h"', 'within = "4h"\nwithin = "6h"')
    (line,) = problems_of(text)
    assert line.startswith("config.toml:17: rules[0].within: duplicate key, first defined on line 16")
    (line,) = problems_of(BASE + '\n[connectors.github]\nrepositories = ["acme/api"]\n')
    assert line.startswith("config.toml:24: connectors.github: duplicate key, first defined on line 7")


# -- everything wrong refused at load ----------------------------------------------------------


@pytest.mark.parametrize("url, message", [
    ("nosuchdb:///x", "unknown database dialect 'nosuchdb'"),
    ("postgresql+psycopg2://hb@db:54x2/hb", "malformed database URL (is the port a number?)"),
    ("mysql+mysqldb://hb@db/hb", "the driver of 'mysql+mysqldb' is not installed (no module MySQLdb)"),
    ("sqlite://hb@host/x.db", "not a valid sqlite URL"),
    # psycopg 3 is the [postgres] extra; a URL naming psycopg2 is refused at load, not at first use
    ("postgresql+psycopg2://hb@db/hb", "the driver of 'postgresql+psycopg2' is not installed (no module psycopg2)"),
])
def test_a_database_url_that_would_fail_later_is_refused_at_load(url, message):
    (line,) = problems_of(f'[daemon]\ndatabase = "{url}"\n' + BASE)
    assert line.startswith("config.toml:2: daemon.database: " + message), line


def test_a_sqlite_url_is_accepted():
    assert parse_config('[daemon]\ndatabase = "sqlite:///state/x.db"\n' + BASE, environ=ENV).database_url() == (
        "sqlite:///state/x.db")


def test_a_postgresql_url_with_the_postgres_extra_is_accepted():
    url = "postgresql+psycopg://hb@db.example:5432/bridge"
    assert parse_config(f'[daemon]\ndatabase = "{url}"\n' + BASE, environ=ENV).database_url() == url


def test_a_rule_without_steps_is_refused():
    text = BASE[: BASE.index("steps = [")] + "steps = []\n"
    (line,) = problems_of(text)
    assert line == "config.toml:19: rules[0].steps: needs at least 1 item(s) (got [])"
    (line,) = problems_of(BASE[: BASE.index("steps = [")])
    assert line == "config.toml:11: rules[0].steps: required key is missing"


def test_a_status_handoff_point_needs_an_owner():
    (line,) = problems_of(BASE.replace('on = ["review_requested"]', 'on = [{ status = "In Review" }]'))
    assert "rules[0].on[0]: a status handoff point needs owner = \"<person>\"" in line
    config = parse_config(BASE.replace('on = ["review_requested"]', 'on = [{ status = "In Review", owner = "assignee" }]'),
                          environ=ENV)
    assert config.rules[0].on[0].owner == ASSIGNEE


T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
REF = ItemRef("github", "acme/web#12")
ANA, DAN = Account("github", "ana"), Account("github", "dan")


def test_owner_assignee_hands_a_status_move_to_the_items_assignees(tmp_path):
    config = parse_config(BASE.replace('on = ["review_requested"]', 'on = [{ status = "In Review", owner = "assignee" }]'),
                          environ=ENV)
    rule = config.rules[0]
    evaluator = Evaluator(config, Store.open(f"sqlite:///{tmp_path / 's.db'}"), bots=lambda: set())
    status_owner = evaluator._status_owner(rule)
    assert status_owner("in review", "github") == ASSIGNEE
    events = [
        Event("github", "e1", REF, T0, EventKind.ASSIGNED, ANA, subject=DAN),
        Event("github", "e2", REF, T0 + timedelta(hours=1), EventKind.STATUS_CHANGED, ANA, from_status="Open",
              to_status="In Review"),
    ]
    handoffs, findings = handoff.detect(rule, {REF: events}, {}, bots=set(),
                                        deadline_for=lambda acct, at: at + timedelta(hours=4),
                                        now=T0 + timedelta(days=1), status_owner=status_owner)
    assert [(h.receiver, h.trigger) for h in handoffs] == [(DAN, "status:In Review")]
    assert [f.receiver for f in findings] == [DAN]


# -- check-config: --no-secrets and --config -----------------------------------------------------


def test_check_config_no_secrets_validates_all_but_secret_resolution(tmp_path, capsys, monkeypatch):
    code, out, err = check_config(tmp_path, capsys, monkeypatch, BASE, "FILE", env={})
    assert code == 2 and "environment variable GITHUB_TOKEN is not set" in err
    code, out, err = check_config(tmp_path, capsys, monkeypatch, BASE, "--no-secrets", "FILE", env={})
    assert code == 0 and ": OK" in out and "not resolved (--no-secrets)" in out, err
    # everything else is still checked, the form of each reference included
    text = BASE.replace('within = "4h"', 'within = "4x"').replace('{ env = "GITHUB_TOKEN" }', '{ vault = "x" }')
    code, out, err = check_config(tmp_path, capsys, monkeypatch, text, "--no-secrets", "FILE", env={})
    assert code == 2 and "rules[0].within: not a duration" in err
    assert 'connectors.github.token: expected { env = "NAME" } or { credential = "NAME" }' in err


def test_check_config_accepts_config_like_every_command(tmp_path, capsys, monkeypatch):
    code, out, _ = check_config(tmp_path, capsys, monkeypatch, BASE, "--config", "FILE")
    assert code == 0 and f"{tmp_path / 'bridge.toml'}: OK" in out
    code, out, _ = check_config(tmp_path, capsys, monkeypatch, BASE, "FILE")
    assert code == 0 and ": OK" in out
    code, _, err = check_config(tmp_path, capsys, monkeypatch, BASE, "FILE", "--config", str(tmp_path / "other.toml"))
    assert code == 2 and "two files" in err
