"""The long-lived service: APScheduler 3.11 decides when ``Engine.cycle`` runs.

- One interval job per connector (``coalesce=True``, ``max_instances=1``, jitter), all on a
  single-worker executor, so cycles never overlap and the store has one writer.
- ``SIGTERM``/``SIGINT``: ``STOPPING=1``, finish the cycle in flight, exit 0.
- ``SIGHUP``: re-read and re-validate the config; a bad one is refused (logged with every
  problem) and the old one kept; a good one rebuilds connectors and jobs.
- systemd ``Type=notify``: ``READY=1`` once the store is open, ``WATCHDOG=1`` from a
  separate executor at half ``WatchdogSec``, ``STATUS=`` after each cycle.

Cursors live in our store, not in an APScheduler job store.
"""

from __future__ import annotations

import signal
import threading
from datetime import timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from bridge.core import errors
from bridge.core.clock import utcnow
from bridge.config import Config, load_config
from bridge.core.logs import get_logger
from bridge.actions import OutboxStatus
from bridge.store import Store
from bridge.app.systemd import Notifier
from bridge.app.wiring import build_engine

log = get_logger("bridge.app.daemon")


def reload_config(path: Path, environ=None) -> Config | None:
    """Load ``path`` for a reload: the new ``Config``, or ``None`` after logging why it is refused.

    The refusal is one ``config_reload_refused`` error line listing every problem. The new
    file's secrets are registered for redaction before it is validated (``load_config``), and
    problems never show a secret-typed value, a table printed whole or an unknown key's string.
    """
    try:
        return load_config(path, environ=environ)
    except errors.ConfigError as exc:
        log.error("config_reload_refused", file=str(path), problems=exc.problems,
                  hint="the previous configuration stays in force")
        return None


class Daemon:
    """Own the scheduler, the engine and the signals for one config file.

    Args:
        config_path: the TOML file (re-read on SIGHUP).
        environ: where secrets referenced by ``{ env = ... }`` are read.
    """

    def __init__(self, config_path: str | Path, environ=None):
        self.config_path = Path(config_path)
        self.environ = environ
        self.config = load_config(self.config_path, environ=environ)
        self.store = Store.open(self.config.database_url())
        self.engine = build_engine(self.config, self.store, clock=utcnow)
        self.notifier = Notifier()
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(1), "watchdog": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )
        self._lock = threading.Lock()
        self.exit_code = 0

    # ------------------------------------------------------------------ jobs

    def _schedule(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("poll:"):
                job.remove()
        for name, cfg in self.config.connectors.items():
            seconds = max(1.0, cfg.poll_every.wall().total_seconds())
            self.scheduler.add_job(
                self.run_cycle,
                "interval",
                seconds=seconds,
                jitter=min(10.0, seconds / 10),
                args=[name],
                id=f"poll:{name}",
                next_run_time=utcnow(),
                replace_existing=True,
            )

    def run_cycle(self, name: str) -> None:
        """One cycle for connector ``name``; never lets an exception kill the scheduler."""
        with self._lock:
            try:
                report = self.engine.cycle(only={name})
                self.notifier.status(report.status_line())
                log.info("cycle_done", connector=name, requests=report.requests, new_events=report.new_events,
                         findings=len(report.findings), writes=sum(d.status == OutboxStatus.DONE for d in report.deliveries))
            except Exception:  # noqa: BLE001 - a bug in one cycle must not stop the daemon
                log.exception("cycle_failed", connector=name)

    def reload(self) -> None:
        """Re-read the config; keep the old one if the new one is invalid."""
        self.notifier.reloading("reloading configuration")
        with self._lock:
            config = reload_config(self.config_path, self.environ)
            if config is None:
                self.notifier.ready("reload refused; previous configuration kept")
                return
            self.config = config
            self.engine = build_engine(config, self.store, clock=utcnow)
            self._schedule()
            log.info("config_reloaded", file=str(self.config_path), rules=len(config.rules), connectors=len(config.connectors))
        self.notifier.ready("configuration reloaded")

    # ------------------------------------------------------------------ main

    # Signal handlers run on the main thread, which may be inside the scheduler's own loop
    # (holding its re-entrant lock); they only start a thread that talks to the scheduler.

    def _on_term(self, signum, _frame) -> None:
        log.info("stopping", signal=signal.Signals(signum).name, hint="finishing the cycle in flight")
        self.notifier.stopping("finishing the cycle in flight")
        threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, name="shutdown").start()

    def _on_hup(self, _signum, _frame) -> None:
        threading.Thread(
            target=self.scheduler.add_job, args=(self.reload,), kwargs={"id": "reload", "replace_existing": True},
            name="reload-request",
        ).start()

    def run(self) -> int:
        """Block until SIGTERM/SIGINT; return the exit code."""
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        self._schedule()
        interval = self.notifier.watchdog_interval()
        if interval:
            self.scheduler.add_job(self.notifier.watchdog, "interval", seconds=interval, id="watchdog", executor="watchdog")
        log.info("started", config=str(self.config_path), connectors=sorted(self.config.connectors), rules=len(self.config.rules))
        self.notifier.ready(f"watching {sum(len(c.scopes) for c in self.config.connectors.values())} scopes")
        self.scheduler.start()
        log.info("stopped")
        return self.exit_code
