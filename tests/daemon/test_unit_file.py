"""The systemd unit declares what the daemon relies on and stays hardened (exposure ≤ 1.5)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "handoff-bridge.service"
ENV_EXAMPLE = UNIT.with_name("handoff-bridge.env.example")
BIN = "/opt/handoff-bridge/venv/bin/handoff-bridge"
CONFIG = "/etc/handoff-bridge/config.toml"
MAX_EXPOSURE = 1.5

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not on PATH (install systemd to check the unit)"
)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Parse a unit file into section → key → values, keeping repeated keys in order.

    configparser would keep only the last of repeated keys (SystemCallFilter=, ExecPaths=).
    """
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a KEY=VALUE line: {line!r}"
        sections[section][key.strip()].append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return parse_unit(UNIT.read_text())


def one(unit, key: str, section: str = "Service") -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{key}= appears {len(values)} times in [{section}]"
    return values[0]


def seconds(value: str) -> float:
    """Convert a systemd time span like ``120s``, ``2min``, ``90`` into seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, suffix in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[suffix]
    return total


def test_notify_service_with_watchdog(unit):
    assert one(unit, "Type") == "notify"
    assert one(unit, "NotifyAccess") == "main"
    assert seconds(one(unit, "WatchdogSec")) >= 30
    assert seconds(one(unit, "TimeoutStopSec")) > 0
    assert one(unit, "Restart") == "on-failure"


def test_commands_use_one_binary_and_one_config(unit):
    assert one(unit, "ExecStartPre") == f"{BIN} check-config {CONFIG}"
    assert one(unit, "ExecStart") == f"{BIN} run --config {CONFIG}"
    assert one(unit, "ExecReload") == "/bin/kill -HUP $MAINPID"


def test_credentials_state_and_identity(unit):
    assert one(unit, "LoadCredential") == (
        "github-token:/etc/handoff-bridge/credentials/github-token"
    )
    assert one(unit, "StateDirectory") == "handoff-bridge"
    assert one(unit, "DynamicUser") == "yes"


def test_hardening_directives(unit):
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "MemoryDenyWriteExecute": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "RestrictNamespaces": "yes",
        "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert one(unit, key) == value, key
    families = set(one(unit, "RestrictAddressFamilies").split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert unit["Service"]["SystemCallFilter"][0] == "@system-service"


def test_exec_is_limited_to_the_venv_python_and_kill(unit):
    assert one(unit, "NoExecPaths") == "/"
    allowed = [p.lstrip("-") for v in unit["Service"]["ExecPaths"] for p in v.split()]
    venv = str(Path(BIN).parent.parent)
    assert venv in allowed
    assert "/usr/bin/kill" in allowed  # ExecReload's /bin/kill on a merged-/usr system
    assert "/usr/bin/python3.11" in allowed  # what the venv's python links to
    assert "/" not in allowed and "/usr" not in allowed and "/usr/bin" not in allowed


def test_installs_into_multi_user(unit):
    assert one(unit, "WantedBy", "Install") == "multi-user.target"


def test_env_example_holds_no_secret_values():
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.partition("=")
        assert not re.search(r"token|secret|password", key, re.I), line


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "cat", "LC_ALL": "C.UTF-8"}
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=120,
                          env=env)


@needs_analyze
def test_security_exposure_is_at_most_1_5():
    done = analyze("security", "--offline=true", "--no-pager", str(UNIT))
    assert done.returncode == 0, done.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", done.stdout)
    assert match, done.stdout
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, done.stdout


@needs_analyze
def test_verify_only_misses_the_installed_binary(tmp_path):
    # On a build machine the venv under /opt does not exist, and verify says so; that is
    # the one complaint allowed.
    done = analyze("verify", str(UNIT))
    for line in (done.stdout + done.stderr).splitlines():
        assert re.fullmatch(
            rf"handoff-bridge\.service: Command {re.escape(BIN)} is not executable: "
            r"No such file or directory", line
        ), line

    # With the binary present (a stand-in), the unit verifies cleanly.
    stand_in = tmp_path / "handoff-bridge"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    copy = tmp_path / "handoff-bridge.service"
    copy.write_text(UNIT.read_text().replace(BIN, str(stand_in)))
    done = analyze("verify", str(copy))
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stderr
