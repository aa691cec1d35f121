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


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the whole session (``tests/support/postgres.py``).

    Never skipped: when it cannot start, every test that asked for it fails saying why.
    """
    from tests.support.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL for the tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The store's URL, once on SQLite (a file under ``tmp_path``) and once on a fresh database
    of the session's real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return request.getfixturevalue("postgres_server").database()
