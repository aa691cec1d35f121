"""The long-lived service: APScheduler 3.11 decides when ``Engine.cycle`` runs.

- One interval job per connector (``coalesce=True``, ``max_instances=1``, jitter), each on
  its own single-worker executor (``conn:<name>``), so one connector's cycles never overlap
  and a slow tool never delays the others. The engine and the store are touched only under
  one `StoreLock` (one writer); a tool call releases it (``bridge.app.wiring``). A cycle still
  running when its next run is due is skipped: logged once as ``cycle_overran`` (warning)
  and once as ``cycle_on_time`` when it ends, not once per skipped run as APScheduler would.
- ``SIGTERM``/``SIGINT``: ``STOPPING=1``, finish the cycles in flight, start no other, exit 0.
- ``SIGHUP``: re-read and re-validate the config on the ``reload`` thread (one for the
  process); a bad one is refused (logged with every problem) and the old one kept; a good
  one rebuilds connectors and jobs once no cycle is in flight. A SIGHUP during a reload
  starts another reload after it (never dropped).
- systemd ``Type=notify``: ``READY=1`` once the store is open, ``STATUS=`` after each cycle,
  ``WATCHDOG=1`` every half ``WatchdogSec`` **only while no cycle (nor reload) has been in
  flight longer than ``WatchdogSec``**: a hung cycle stops the pings (one ``cycle_stuck``
  error line), so systemd restarts the daemon.

Cursors live in our store, not in an APScheduler job store.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timezone
from pathlib import Path

from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from bridge.core import errors
from bridge.core.clock import utcnow
from bridge.config import Config, load_config
from bridge.core.logs import get_logger
from bridge.actions import OutboxStatus
from bridge.store import Store
from bridge.store.locks import coordinator_for
from bridge.app.systemd import Notifier
from bridge.app.wiring import StoreLock, build_engine, close_connectors

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


class _NoMaxInstancesWarning(logging.Filter):
    """Drop APScheduler's per-run "maximum number of running instances reached" warning (the
    daemon logs the overrun once when it starts and once when it ends)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


_SCHEDULER_LOG = logging.getLogger("apscheduler.scheduler")
if not any(isinstance(f, _NoMaxInstancesWarning) for f in _SCHEDULER_LOG.filters):
    _SCHEDULER_LOG.addFilter(_NoMaxInstancesWarning())


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
        self._lock = StoreLock()
        # replicas on one PostgreSQL database split the scopes and elect a leader (bridge.store.locks)
        self.coordinator = coordinator_for(self.config.database_url())
        self.engine = build_engine(self.config, self.store, clock=utcnow, lock=self._lock, coordinator=self.coordinator)
        self.notifier = Notifier()
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(1), "watchdog": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )
        self.scheduler.add_listener(self._on_max_instances, EVENT_JOB_MAX_INSTANCES)
        self.exit_code = 0
        self._stopping = threading.Event()
        self._reload_wanted = threading.Event()
        self._reload_thread: threading.Thread | None = None
        # cycles in flight (and the reload), by name → time.monotonic() when it began
        self._gate = threading.Condition()
        self._in_flight: dict[str, float] = {}
        self._reloading = False
        self._overran: set[str] = set()
        self._stuck = False
        self._executors: set[str] = set()
        self._shutdown: threading.Thread | None = None
        # [daemon] http: /metrics, /healthz and the live page (bridge.app.http), fed after each cycle
        from bridge.app.http import Metrics

        self.metrics = Metrics(utcnow)
        self.metrics.configure(self.config)
        self.http = None

    # ------------------------------------------------------------------ jobs

    def _schedule(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("poll:") and job.args[0] not in self.config.connectors:
                job.remove()
        for name, cfg in self.config.connectors.items():
            alias = f"conn:{name}"
            if alias not in self._executors:  # one worker thread per connector, kept across reloads
                self.scheduler.add_executor(ThreadPoolExecutor(1), alias=alias)
                self._executors.add(alias)
            seconds = max(1.0, cfg.poll_every.wall().total_seconds())
            self.scheduler.add_job(
                self.run_cycle,
                "interval",
                seconds=seconds,
                jitter=min(10.0, seconds / 10),
                args=[name],
                id=f"poll:{name}",
                executor=alias,
                next_run_time=utcnow(),
                replace_existing=True,
            )

    def _on_max_instances(self, event) -> None:
        name = event.job_id.removeprefix("poll:")
        if event.job_id.startswith("poll:") and name not in self._overran:
            self._overran.add(name)
            log.warning("cycle_overran", connector=name,
                        hint="a cycle outlasted poll_every; its next runs are skipped until it ends")

    def _begin(self, name: str) -> bool:
        """Mark a cycle of ``name`` in flight once no reload is; False when stopping."""
        with self._gate:
            while self._reloading and not self._stopping.is_set():
                self._gate.wait()
            if self._stopping.is_set():
                return False
            self._in_flight[name] = time.monotonic()
            return True

    def _end(self, name: str) -> None:
        with self._gate:
            self._in_flight.pop(name, None)
            self._gate.notify_all()

    def run_cycle(self, name: str) -> None:
        """One cycle for connector ``name``; never lets an exception kill the scheduler.

        Skipped once stopping has begun (a run already queued does not start).
        """
        if not self._begin(name):
            return
        try:
            with self._lock:
                engine = self.engine
                began = time.monotonic()
                report = engine.cycle(only={name})
                self._observe(name, report, engine, time.monotonic() - began)
                self.notifier.status(report.status_line())
                log.info("cycle_done", connector=name, requests=report.requests, new_events=report.new_events,
                         findings=len(report.findings), writes=sum(d.status == OutboxStatus.DONE for d in report.deliveries))
        except Exception:  # noqa: BLE001 - a bug in one cycle must not stop the daemon
            log.exception("cycle_failed", connector=name)
        finally:
            self._end(name)
            if name in self._overran:
                self._overran.discard(name)
                log.info("cycle_on_time", connector=name)

    def _observe(self, name: str, report, engine, seconds: float) -> None:
        """Feed the metrics; a failure here is logged and never fails the cycle."""
        try:
            self.metrics.observe_cycle(name, report, engine, seconds)
        except Exception:  # noqa: BLE001 - metrics are a view; the cycle stands
            log.exception("metrics_failed", connector=name)

    def start_http(self):
        """Serve ``[daemon] http`` (if set): returns the endpoint, or ``None``.

        Raises:
            OSError: the address cannot be bound (taken, or not this host's).
        """
        from bridge.app.http import HttpEndpoint, daemon_status, live_page
        from bridge.config.load import http_address

        if not self.config.daemon.http:
            return None
        host, port = http_address(self.config.daemon.http)
        page = live_page(lambda: self.config, self.store, utcnow,
                         status_of=daemon_status(lambda: self.engine, self._lock))
        self.http = HttpEndpoint(host, port, self.metrics, page).start()
        return self.http

    def reload(self) -> None:
        """Re-read the config; keep the old one if the new one is invalid or cannot be built.

        The new config is validated at once; the engine is swapped once no cycle is in flight
        (cycles wait meanwhile).
        """
        self.notifier.reloading("reloading configuration")
        config = reload_config(self.config_path, self.environ)
        if config is None:
            self.notifier.ready("reload refused; previous configuration kept")
            return
        with self._gate:
            self._reloading = True
            self._in_flight["reload"] = time.monotonic()
            while any(k != "reload" for k in self._in_flight) and not self._stopping.is_set():
                self._gate.wait()
        try:
            if self._stopping.is_set():
                return
            with self._lock:
                try:
                    engine = build_engine(config, self.store, clock=utcnow, lock=self._lock,
                                          coordinator=self.coordinator)
                except Exception as exc:  # noqa: BLE001 - a connector that cannot be built keeps the old config
                    log.error("config_reload_failed", file=str(self.config_path), error=str(exc),
                              hint="the previous configuration stays in force")
                    self.notifier.ready("reload failed; previous configuration kept")
                    return
                old, self.engine, self.config = self.engine, engine, config
                self.metrics.configure(config)
                close_connectors(old.connectors)
                self._schedule()
                log.info("config_reloaded", file=str(self.config_path), rules=len(config.rules),
                         connectors=len(config.connectors))
        finally:
            with self._gate:
                self._reloading = False
                self._in_flight.pop("reload", None)
                self._gate.notify_all()
        self.notifier.ready("configuration reloaded")

    def _reload_loop(self) -> None:
        """The one reload thread: a reload per SIGHUP-wakeup; a SIGHUP during a reload sets
        the event again, so another reload follows."""
        while True:
            self._reload_wanted.wait()
            if self._stopping.is_set():
                return
            self._reload_wanted.clear()
            try:
                self.reload()
            except Exception:  # noqa: BLE001 - the daemon keeps running on the old config
                log.exception("config_reload_failed", file=str(self.config_path))

    # ------------------------------------------------------------------ watchdog

    def watchdog(self, limit: float) -> bool:
        """Send ``WATCHDOG=1`` unless a cycle or reload has been in flight over ``limit`` s.

        Returns whether it pinged. Logs ``cycle_stuck`` (error) once when pings stop and
        ``cycle_unstuck`` once when they resume.
        """
        now = time.monotonic()
        with self._gate:
            stuck = {name: round(now - began, 1) for name, began in self._in_flight.items() if now - began > limit}
        if stuck:
            if not self._stuck:
                self._stuck = True
                log.error("cycle_stuck", running_s=stuck, watchdog_s=limit,
                          hint="no watchdog ping until it ends; systemd restarts the daemon after WatchdogSec")
            return False
        if self._stuck:
            self._stuck = False
            log.info("cycle_unstuck")
        return self.notifier.watchdog()

    # ------------------------------------------------------------------ main

    # Signal handlers run on the main thread, which may be inside the scheduler's own loop
    # (holding its re-entrant lock); they only set events or start a thread.

    def _on_term(self, signum, _frame) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        log.info("stopping", signal=signal.Signals(signum).name, hint="finishing the cycle in flight")
        self.notifier.stopping("finishing the cycle in flight")
        self._reload_wanted.set()  # let the reload thread end
        with self._gate:
            self._gate.notify_all()
        self._shutdown = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, name="shutdown")
        self._shutdown.start()

    def _on_hup(self, _signum, _frame) -> None:
        self._reload_wanted.set()

    def run(self) -> int:
        """Block until SIGTERM/SIGINT; return the exit code."""
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        self._reload_thread = threading.Thread(target=self._reload_loop, name="reload", daemon=True)
        self._reload_thread.start()
        self._schedule()
        try:
            self.start_http()
        except OSError as exc:
            log.error("http_failed", address=self.config.daemon.http, error=str(exc),
                      hint="[daemon] http: the address is taken or not this host's; the daemon runs without it")
        interval = self.notifier.watchdog_interval()
        if interval:
            self.scheduler.add_job(self.watchdog, "interval", args=[2 * interval], seconds=interval,
                                   id="watchdog", executor="watchdog")
        log.info("started", config=str(self.config_path), connectors=sorted(self.config.connectors), rules=len(self.config.rules))
        self.notifier.ready(f"watching {sum(len(c.scopes) for c in self.config.connectors.values())} scopes")
        try:
            self.scheduler.start()
        finally:
            self._stopping.set()
            self._reload_wanted.set()
            if self._shutdown is not None:
                self._shutdown.join()
            with self._gate:  # the cycles in flight finish (the scheduler loop may end first)
                while any(k != "reload" for k in self._in_flight):
                    self._gate.wait()
            self._reload_thread.join(timeout=30)
            with self._lock:
                close_connectors(self.engine.connectors)
            if self.http is not None:
                self.http.stop()
            self.coordinator.close()
        log.info("stopped")
        return self.exit_code
