"""A plain ``pip install .`` (no extras) gives a daemon without Flask; the demo names its extra.

A real virtual environment, built from this checkout, as an operator would install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"

pytestmark = pytest.mark.slow  # builds a virtual environment and installs the package (~1 min)


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("plain")
    # a copy of the checkout, so the build leaves nothing (build/, *.egg-info) in the source tree
    source = base / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info",
                                                                 "__pycache__", ".pytest_cache"))
    target = base / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    py = target / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
                   check=True, capture_output=True, text=True, timeout=900, cwd=target.parent)
    return target


def _run(venv_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    full_env.update(env or {})
    # cwd outside the checkout, so the installed package is imported, not the source tree
    return subprocess.run([str(venv_dir / "bin" / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=120, env=full_env, cwd=venv_dir.parent)


def test_plain_install_cannot_import_flask(plain_venv):
    proc = _run(plain_venv, "python", "-c", "import flask")
    assert proc.returncode != 0 and "No module named 'flask'" in proc.stderr
    proc = _run(plain_venv, "python", "-c", "import connectors.sandbox.github.stage")
    assert proc.returncode != 0
    assert "No module named 'werkzeug'" in proc.stderr or "No module named 'flask'" in proc.stderr


def test_plain_install_checks_the_example_config(plain_venv):
    env = {"GITHUB_TOKEN": "ghp_x", "JIRA_TOKEN": "j", "JIRA_EMAIL": "bot@example.com", "ASANA_TOKEN": "a"}
    proc = _run(plain_venv, "handoff-bridge", "check-config", str(EXAMPLE), env=env)
    assert proc.returncode == 0, proc.stderr


def test_plain_install_demo_names_the_extra(plain_venv):
    proc = _run(plain_venv, "handoff-bridge", "demo")
    assert proc.returncode == 2
    assert "handoff-bridge[demo]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plain_install_sandbox_names_the_extra(plain_venv):
    proc = _run(plain_venv, "handoff-bridge", "sandbox", "--config-out", "never-written.toml")
    assert proc.returncode == 2
    assert "handoff-bridge[demo]" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (plain_venv.parent / "never-written.toml").exists()
