"""Shared pytest fixtures."""

from __future__ import annotations

import pytest

from connectors.sandbox.github.emulator import GitHubEmulator


@pytest.fixture
def github_emulator():
    """A fresh GitHub emulator served on 127.0.0.1 (free port), stopped after the test."""
    emu = GitHubEmulator().start(host="127.0.0.1", port=0)
    try:
        yield emu
    finally:
        emu.stop()
