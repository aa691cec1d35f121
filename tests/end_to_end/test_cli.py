"""The ``handoff-bridge`` command line, as a user meets it.

Most commands run in-process through ``bridge.app.cli.main`` (captured with ``capsys``); the
commands that touch a tracker (``once``, ``explain``) and the ones whose *process* exit
status matters run as real subprocesses against a `GitHubEmulator` on loopback.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest
import structlog

from bridge.app.commands import demo as demo_mod
from bridge.app.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"
TOKEN = "ghp_cliTestToken_9f3Kq7ZxW2"
BOT = "handoff-bridge-bot"
SUBCOMMANDS = ["run", "once", "check-config", "config-schema", "explain", "demo", "status", "people", "retry", "sandbox"]
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _restore_logging():
    """``main`` reconfigures the root logger onto capsys' stream; put everything back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    try:
        yield
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)
        logging.captureWarnings(False)
        structlog.configure(**config)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m bridge ARGS`` as a real process; never hangs."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "HANDOFF_BRIDGE_CONFIG", "NOTIFY_SOCKET")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bridge", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=TIMEOUT)


# --------------------------------------------------------------------------- help


def test_top_level_help_exits_0_and_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "handoff-bridge" in out and "handoff" in out.lower()
    for name in SUBCOMMANDS:
        assert name in out, name


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_help_exits_0_and_describes_it(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: handoff-bridge {command}")
    # `COMMAND --help` says what the command does (its description), not only its usage.
    description = build_parser()._subparsers._group_actions[0].choices[command].description
    assert description, f"{command} has no description"
    assert " ".join(description.split()[:4]) in " ".join(out.split())


def test_help_as_a_real_process_exits_0():
    p = run_cli("--help")
    assert p.returncode == 0, p.stderr
    assert "check-config" in p.stdout


def test_no_command_is_a_usage_error():
    p = run_cli()
    assert p.returncode == 2
    assert "usage:" in p.stderr


# --------------------------------------------------------------------------- check-config


def _example_tokens(monkeypatch):
    for name in ("GITHUB_TOKEN", "JIRA_TOKEN", "ASANA_TOKEN"):
        monkeypatch.setenv(name, TOKEN)


def test_check_config_example_ok(capsys, monkeypatch):
    _example_tokens(monkeypatch)
    assert main(["check-config", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert f"{EXAMPLE}: OK" in out
    assert "people: 4" in out
    assert "jira: https://acme.atlassian.net, 1 queries" in out
    assert "review-not-picked-up" in out
    assert "github" in out
    assert TOKEN not in out + err


def test_check_config_prints_the_ok_line_once(capsys, monkeypatch):
    _example_tokens(monkeypatch)
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.count(": OK") == 1, out


BAD = """\
[daemon]
log_format = "xml"

[defaults]
working_hours = "25:00-17:00"

[people.ana]
accounts = { github = "ana" }

[connectors.github]
base_url = "http://127.0.0.1:9"
token = { env = "GITHUB_TOKEN" }
repositories = ["acme/web"]
poll_every = "soon"

[[rules]]
name = "r"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{ after = "0h", do = "comment" }]
"""


def test_check_config_lists_every_mistake_with_file_line_key_and_value(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    p = run_cli("check-config", str(bad), env={"GITHUB_TOKEN": TOKEN})
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "OK" not in p.stdout
    err = p.stderr
    assert "3 problems" in err
    for line, key, value in [(2, "daemon.log_format", "'xml'"),
                             (5, "defaults.working_hours", "'25:00-17:00'"),
                             (14, "connectors.github.poll_every", "'soon'")]:
        hits = [ln for ln in err.splitlines() if f"{bad}:{line}:" in ln]
        assert len(hits) == 1, (line, err)
        assert key in hits[0] and value in hits[0], hits[0]


def test_check_config_missing_file_exit_2(tmp_path):
    missing = tmp_path / "nope.toml"
    p = run_cli("check-config", str(missing))
    assert p.returncode == 2
    assert str(missing) in p.stderr
    assert "cannot read" in p.stderr and "No such file" in p.stderr
    assert "Traceback" not in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("command", [["once"], ["run"], ["explain", "acme/web#1"]])
def test_commands_with_missing_config_exit_2(command, tmp_path, capsys):
    missing = tmp_path / "absent.toml"
    assert main([*command, "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "configuration file not found" in err and str(missing) in err


def test_check_config_secret_missing_is_named_not_crashed(capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert main(["check-config", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert "GITHUB_TOKEN" in err and "connectors.github.token" in err


# --------------------------------------------------------------------------- config-schema


def test_config_schema_is_valid_json_schema(capsys, monkeypatch):
    assert main(["config-schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for key in ("daemon", "people", "connectors", "rules"):
        assert key in schema["properties"], key


# --------------------------------------------------------------------------- demo


def test_demo_list_names_every_bundled_scenario(capsys):
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    names = sorted(demo_mod.bundled())
    assert {"review-never-picked-up", "review-picked-up-in-time"} <= set(names)
    listed = [ln.split()[0] for ln in out.splitlines() if ln.strip()]
    assert listed == names


def _demo_json(capsys, *args) -> tuple[int, dict]:
    code = main(["demo", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)  # exactly one JSON document, nothing else on stdout


def test_demo_json_default_scenario(capsys):
    code, doc = _demo_json(capsys)
    assert code == 0, doc["expectations"]
    assert doc["scenario"] == "content-update"
    assert doc["findings"] and doc["actions"]
    assert {f["detect"] for f in doc["findings"]} == {"standoff", "ownerless"}
    assert {a["tool"] for a in doc["actions"]} == {"github", "jira", "asana"}
    for f in doc["findings"]:
        assert {"rule", "detect", "item", "receiver", "at"} <= set(f), f
    for a in doc["actions"]:
        assert {"rule", "do", "tool", "item", "marker", "url"} <= set(a), a
        # Asana's permalinks name app.asana.com, as the real API's do; the others point at the emulator
        assert a["url"].startswith("https://app.asana.com/" if a["tool"] == "asana" else "http://127.0.0.1:"), a
        assert re.fullmatch(r"hb:[0-9a-f]{12}", a["marker"])
    assert [a["do"] for a in doc["actions"]] == ["comment", "comment", "comment"]
    assert len({a["marker"] for a in doc["actions"]}) == len(doc["actions"])
    e = doc["expectations"]
    assert set(e) == {"met", "missed", "unexpected"}
    assert e["missed"] == [] and e["unexpected"] == [] and len(e["met"]) == 5


def test_demo_in_time_has_no_findings_nor_actions(capsys):
    code, doc = _demo_json(capsys, "--scenario", "review-picked-up-in-time")
    assert code == 0
    assert doc["findings"] == [] and doc["actions"] == []
    assert doc["expectations"] == {"met": [], "missed": [], "unexpected": []}


def test_demo_unmet_expectation_exits_1_and_is_listed_missed(tmp_path, capsys):
    src = demo_mod.bundled()["review-never-picked-up"]
    scenario = tmp_path / "impossible.toml"
    impossible = {"rule": "review-not-picked-up", "item": "acme/web#99", "receiver": "lead"}
    scenario.write_text(src.read_text() + '\n[[expect.findings]]\nrule = "review-not-picked-up"\n'
                        'item = "acme/web#99"\nreceiver = "lead"\n')
    code, doc = _demo_json(capsys, "--scenario", str(scenario))
    assert code == 1
    assert doc["expectations"]["missed"] == [{"finding": impossible}]
    assert len(doc["expectations"]["met"]) == 3


def test_demo_unknown_scenario_exits_2(capsys):
    assert main(["demo", "--scenario", "nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "nonexistent" in err and "review-never-picked-up" in err


# --------------------------------------------------------------------------- once / explain


def _config(emu_url: str, db: Path) -> str:
    return f"""\
[daemon]
database = "sqlite:///{db}"
log_format = "json"

# The review was asked ten days ago: adopted at first sight, with no grace, so nudged at once.
[adoption]
grace = "0h"

[defaults]
timezone = "UTC"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
working_hours = "00:00-23:59"

[people.ana]
accounts = {{ github = "ana" }}

[people.ben]
accounts = {{ github = "ben-o" }}

[connectors.github]
base_url = "{emu_url}"
token = {{ env = "GITHUB_TOKEN" }}
repositories = ["acme/web"]
poll_every = "1m"
seconds_between_requests = 0
seconds_between_writes = 0

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{{ after = "0h", do = "comment", template = "nudge" }}]
"""


@pytest.fixture
def overdue(github_emulator, tmp_path):
    """acme/web#12: ana asked ben-o for a review ten days ago; the config watching it."""
    emu = github_emulator
    emu.add_token(TOKEN, BOT)
    emu.create_repo("acme/web")
    asked = datetime.now(timezone.utc) - timedelta(days=10)
    emu.open_issue("acme/web", "ana", "Rate-limit the login endpoint", pull_request=True,
                   at=asked - timedelta(minutes=5), number=12)
    emu.request_review("acme/web", 12, "ana", "ben-o", at=asked)
    cfg = tmp_path / "config.toml"
    cfg.write_text(_config(emu.url, tmp_path / "state.db"))
    return emu, cfg


def test_once_posts_one_comment_and_never_twice(overdue):
    emu, cfg = overdue
    env = {"GITHUB_TOKEN": TOKEN}
    p = run_cli("once", "--config", str(cfg), env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "1 writes" in p.stdout
    comments = emu.comments("acme/web", 12)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert comments[0]["user"]["login"] == BOT
    assert "@ben-o" in body and "review" in body
    marker = re.search(r"hb:[0-9a-f]{12}", body).group(0)
    assert marker in p.stdout
    assert TOKEN not in p.stdout + p.stderr

    p2 = run_cli("once", "--json", "--config", str(cfg), env=env)
    assert p2.returncode == 0, p2.stderr[-3000:]
    report = json.loads(p2.stdout)
    assert report["actions"] == [] and report["errors"] == []
    assert [f["item"] for f in report["findings"]] == ["acme/web#12"]
    assert len(emu.comments("acme/web", 12)) == 1
    assert [r for r in emu.requests if r[0] != "GET"] == [("POST", "/repos/acme/web/issues/12/comments", 201)]


def test_explain_after_once_names_handoff_deadline_state_and_marker(overdue):
    emu, cfg = overdue
    env = {"GITHUB_TOKEN": TOKEN}
    assert run_cli("once", "--config", str(cfg), env=env).returncode == 0
    marker = re.search(r"hb:[0-9a-f]{12}", emu.comments("acme/web", 12)[0]["body"]).group(0)
    requests_before = list(emu.requests)

    p = run_cli("explain", "acme/web#12", "--config", str(cfg), env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout
    assert "acme/web#12" in out and "Rate-limit the login endpoint" in out
    assert "review-not-picked-up" in out
    assert re.search(r"handoff ana → ben-o by review_requested", out), out
    assert re.search(r"deadline \d{4}-\d\d-\d\d \d\d:\d\dZ", out), out
    assert "OVERDUE" in out and "FIRED" in out
    assert marker in out
    assert TOKEN not in out + p.stderr
    # explain reads the store only: not one request to the tracker (it works while a tool is down)
    assert emu.requests == requests_before

    p = run_cli("explain", "github:acme/web#99", "--config", str(cfg), env=env)
    assert p.returncode == 4  # issue 12: an unknown item is an error (was 0)
    assert "not in the store" in p.stderr


def test_explain_bad_item_is_a_usage_error(overdue, capsys):
    _emu, cfg = overdue
    assert main(["explain", "not-an-item", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err.strip()


def test_bundled_scenarios_are_in_the_package():
    # demo --list must work from an installed package, not only from the checkout
    for name, path in demo_mod.bundled().items():
        assert path.is_file() and path.suffix == ".toml", name
    assert shutil.which("handoff-bridge") or (Path(sys.executable).parent / "handoff-bridge").exists()


# --------------------------------------------------------------------------- retry (dead-letter list)


def test_a_dead_lettered_item_is_shown_explained_and_read_again_by_retry(overdue):
    emu, cfg = overdue
    cfg.write_text(cfg.read_text().replace('log_format = "json"', 'log_format = "json"\nretry_tries = 1'))
    env = {"GITHUB_TOKEN": TOKEN}
    emu.faults.add("GET", r"/repos/acme/web/issues/12/timeline", "status", status=404, times=None)
    p = run_cli("once", "--config", str(cfg), env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert '"item_dead_lettered"' in p.stderr and "0 writes" in p.stdout
    status = run_cli("status", "--config", str(cfg), env=env)
    assert status.returncode == 0 and "Dead-letter (1)" in status.stdout and "acme/web#12" in status.stdout
    explained = run_cli("explain", "acme/web#12", "--config", str(cfg), env=env)
    assert explained.returncode == 0 and "DEAD-LETTER" in explained.stdout, explained.stdout + explained.stderr
    not_dead = run_cli("retry", "acme/web#99", "--config", str(cfg), env=env)
    assert not_dead.returncode == 1 and "not in the dead-letter list" in not_dead.stderr
    emu.faults.clear()
    p = run_cli("retry", "acme/web#12", "--config", str(cfg), env=env)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "read and stored" in p.stdout
    p = run_cli("once", "--config", str(cfg), env=env)
    assert p.returncode == 0 and "1 writes" in p.stdout, p.stdout + p.stderr[-2000:]
    assert sum("hb:" in c["body"] for c in emu.comments("acme/web", 12)) == 1


def test_once_dry_run_writes_and_records_nothing_and_says_what_comes_next(overdue):
    emu, cfg = overdue
    env = {"GITHUB_TOKEN": TOKEN}
    p = run_cli("once", "--dry-run", "--config", str(cfg), env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "dry run: nothing written, nothing recorded" in p.stdout and "dry_run" in p.stdout
    assert "Next steps:" in p.stdout and "review-not-picked-up acme/web#12 -> ben-o" in p.stdout, p.stdout
    assert not any("hb:" in c["body"] for c in emu.comments("acme/web", 12)), "nothing written"
    p = run_cli("once", "--config", str(cfg), env=env)
    assert p.returncode == 0 and "1 writes" in p.stdout, "the dry run recorded nothing: the real run writes"
    assert "every step planned: sent" in p.stdout, p.stdout
