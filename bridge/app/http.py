"""The daemon's HTTP endpoint (``[daemon] http = "127.0.0.1:9464"``, off by default).

- ``/metrics``: Prometheus text format (prometheus-client, a registry of our own): open and
  overdue handoffs per rule, open findings per detector, writes by connector and outcome,
  per scope the last successful poll and the poll lag, requests and write budget left per
  connector, the vendor's API rate budget left per connector (``vendor_rate_remaining``,
  ``_limit``, ``_reset_timestamp_seconds``: GitHub's ``X-RateLimit-*`` headers, Asana's
  ``requests_per_minute`` limiter; Jira documents none), a cycle duration histogram, connector up/down/stopped, and the handoff delay
  (median and p90, business hours) per lane (all, team pair, rule; per tool and across tools).
- ``/healthz``: ``200 ok`` while the last cycle ended recently (within
  :func:`Metrics.stale_after`: three times the longest ``poll_every``, at least 5 minutes) and
  no connector is stopped; else ``503`` with the reason, one line each.
- ``/``: the report page (``handoff-bridge report --html``), built live from the store (at most
  every ``PAGE_EVERY``); its status table comes from the daemon's last evaluation
  (``daemon_status``), not from evaluating every item again.

Everything a scrape returns was computed after the last cycle (``Metrics.observe_cycle``, on
the cycle's own thread; the delay summary, which reads every stored handoff, on a thread of its
own outside the store lock), so a scrape only serialises numbers and never waits for a cycle. The
server is the standard library's ``ThreadingHTTPServer`` on its own daemon thread; it serves
GET only. Item titles and names appear on ``/``: keep the address on loopback unless a proxy
guards it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bridge.core.logs import get_logger
from bridge.core.model import HandoffState

log = get_logger("bridge.app.http")

#: Lane kinds exported as metrics (person pairs are left to the report: too many series).
METRIC_LANE_KINDS = ("all", "team", "rule")
#: The delay summary is recomputed after a cycle that read or wrote something, else at most this
#: often (it reads every stored handoff).
DELAY_EVERY = timedelta(minutes=1)
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The daemon's metrics in a registry of their own (``registry``), fed after each cycle."""

    def __init__(self, clock: Callable[[], datetime], *, delays_in_background: bool = True):
        self.clock = clock
        #: The delay summary reads every stored handoff (seconds on a big store): by default it is
        #: computed on a thread of its own, outside the cycle and its store lock, one at a time.
        self.delays_in_background = delays_in_background
        self._delay_thread: threading.Thread | None = None
        self.registry = r = CollectorRegistry(auto_describe=True)
        p = "handoff_bridge_"
        self.open_handoffs = Gauge(p + "open_handoffs", "Handoffs sent and not yet received, per rule", ["rule"], registry=r)
        self.overdue_handoffs = Gauge(p + "overdue_handoffs", "Handoffs past their deadline, per rule", ["rule"], registry=r)
        self.findings = Gauge(p + "findings", "Open findings, per detector", ["detect"], registry=r)
        self.writes = Counter(p + "writes", "Outbox deliveries, per connector and outcome", ["connector", "outcome"], registry=r)
        self.requests = Counter(p + "requests", "HTTP requests made to a tool, per connector", ["connector"], registry=r)
        self.budget_left = Gauge(p + "write_budget_left", "Writes left in the connector's hourly write budget",
                                 ["connector"], registry=r)
        self.last_success = Gauge(p + "last_poll_success_timestamp_seconds", "When a scope was last polled successfully "
                                  "(Unix time)", ["connector", "scope"], registry=r)
        self.poll_lag = Gauge(p + "poll_lag_seconds", "Seconds since a scope was last polled successfully",
                              ["connector", "scope"], registry=r)
        self.cycle_seconds = Histogram(p + "cycle_duration_seconds", "Wall-clock duration of one cycle", ["connector"],
                                       buckets=CYCLE_BUCKETS, registry=r)
        self.rate_remaining = Gauge(p + "vendor_rate_remaining", "Requests left in the tool's API rate budget, as the "
                                    "connector last knew it (GitHub: X-RateLimit-Remaining; Asana: our "
                                    "requests_per_minute limiter)", ["connector"], registry=r)
        self.rate_limit = Gauge(p + "vendor_rate_limit", "Size of the tool's API rate budget (GitHub: X-RateLimit-Limit; "
                                "Asana: requests_per_minute)", ["connector"], registry=r)
        self.rate_reset = Gauge(p + "vendor_rate_reset_timestamp_seconds", "When the tool's API rate budget is full "
                                "again (Unix time; GitHub: X-RateLimit-Reset)", ["connector"], registry=r)
        self.up = Gauge(p + "connector_up", "1 when the connector answered its last call, 0 when down, failing or stopped",
                        ["connector"], registry=r)
        self.stopped = Gauge(p + "connector_stopped", "1 when the connector is stopped (its credential was refused)",
                             ["connector"], registry=r)
        # The delay summary is swapped whole (one list), so a scrape never sees it half rebuilt.
        self._delays: list = []
        r.register(_DelayCollector(self))
        self.last_cycle_end: datetime | None = None
        self.stale_after = timedelta(minutes=5)
        self._delay_at: datetime | None = None
        self._states: dict[str, object] = {}
        self._lock = threading.Lock()

    def configure(self, config) -> None:
        """Take in ``config``: how old the last cycle may be for ``/healthz`` (3 × the longest poll_every, ≥ 5 min)."""
        longest = max((c.poll_every.wall() for c in config.connectors.values()), default=timedelta(minutes=1))
        self.stale_after = max(timedelta(minutes=5), 3 * longest)

    def observe_cycle(self, name: str, report, engine, seconds: float) -> None:
        """Take in one cycle of connector ``name`` (its ``CycleReport``, the engine it ran on,
        its wall-clock ``seconds``); called on the cycle's thread, under the store lock."""
        from bridge.actions import writes_in_last_hour

        now = self.clock()
        # New facts (events read, writes made) change the figures at once; open handoffs age with time.
        due = report.new_events or report.deliveries or self._delay_at is None or now - self._delay_at >= DELAY_EVERY
        if due and not (self._delay_thread is not None and self._delay_thread.is_alive()):
            self._delay_at = now
            if self.delays_in_background:
                self._delay_thread = threading.Thread(target=self._delays_safely, name="metrics-delays", daemon=True,
                                                      args=(engine.config, engine.store, now))
                self._delay_thread.start()
            else:
                self.observe_delays(engine.config, engine.store, now)
        self.cycle_seconds.labels(name).observe(seconds)
        self.requests.labels(name).inc(report.requests)
        by_rule: dict[str, list[int]] = {r.name: [0, 0] for r in engine.config.rules if r.detect == "handoff"}
        for h in report.handoffs:
            if h.state in (HandoffState.SENT, HandoffState.OVERDUE):
                counts = by_rule.setdefault(h.rule, [0, 0])
                counts[0] += 1
                counts[1] += h.state == HandoffState.OVERDUE
        for rule, (n_open, n_overdue) in by_rule.items():
            self.open_handoffs.labels(rule).set(n_open)
            self.overdue_handoffs.labels(rule).set(n_overdue)
        detects: dict[str, int] = {"handoff": 0, "standoff": 0, "ownerless": 0}
        for f in report.findings:
            detects[f.detect] = detects.get(f.detect, 0) + 1
        for detect, n in detects.items():
            self.findings.labels(detect).set(n)
        for polled in report.polled:
            connector, _, scope = polled.partition(":")
            at = report.at.timestamp()
            self.last_success.labels(connector, scope).set(at)
            self.poll_lag.labels(connector, scope).set_function(lambda at=at: max(0.0, self.clock().timestamp() - at))
        for conn_name, state in engine.health.states().items():
            self.up.labels(conn_name).set(1 if state.up and not state.failing and not state.stopped else 0)
            self.stopped.labels(conn_name).set(1 if state.stopped else 0)
        with self._lock:
            self._states = engine.health.states()
            self.last_cycle_end = now
        for conn_name in engine.connectors:
            budget = engine._budget(conn_name)  # noqa: SLF001 - the engine's own reading of the section
            self.budget_left.labels(conn_name).set(max(0, budget - writes_in_last_hour(engine.store, conn_name, now)))
        self.observe_rate_budgets(engine.connectors)
        for d in report.deliveries:  # last: a scrape that sees a cycle's writes sees the rest of it too
            self.writes.labels(name, str(d.status)).inc()

    def observe_rate_budgets(self, connectors: dict) -> None:
        """Set the vendor rate gauges of each connector (name → connector) that knows its budget
        (``connectors.base.rate_budget``); a connector that knows none (Jira, or GitHub before
        its first answer) has no series."""
        from connectors.base import rate_budget

        for name, conn in connectors.items():
            budget = rate_budget(conn)
            if budget is None:
                continue
            self.rate_remaining.labels(name).set(budget.remaining)
            self.rate_limit.labels(name).set(budget.limit)
            if budget.reset_at is not None:
                self.rate_reset.labels(name).set(budget.reset_at.timestamp())

    def _delays_safely(self, config, store, now: datetime) -> None:
        try:
            self.observe_delays(config, store, now)
        except Exception:  # noqa: BLE001 - metrics are a view; the daemon goes on
            log.exception("metrics_delays_failed")

    def observe_delays(self, config, store, now: datetime) -> None:
        """Recompute the per-lane delay summary from the store (median and p90 business hours):
        ended handoffs with the delay stored when they ended, open ones censored at ``now``."""
        from zoneinfo import ZoneInfo

        from bridge.report import collect
        from bridge.report.measure import measure
        from bridge.report.report import collector_paused

        with collector_paused():
            facts = collect.handoff_facts(config, store, now=now)
            lanes, _weekly = measure(facts, now, ZoneInfo(config.defaults.timezone), kinds=METRIC_LANE_KINDS)
        self._delays = lanes

    def health(self) -> tuple[bool, list[str]]:
        """``(healthy, reasons)``: the last cycle recent and no connector stopped."""
        now = self.clock()
        with self._lock:
            last, states = self.last_cycle_end, dict(self._states)
        reasons = []
        if last is None:
            reasons.append("no cycle has ended yet")
        elif now - last > self.stale_after:
            reasons.append(f"the last cycle ended {int((now - last).total_seconds())} s ago "
                           f"(more than {int(self.stale_after.total_seconds())} s)")
        reasons += [f"connector {name} is stopped: {s.stopped}" for name, s in sorted(states.items()) if s.stopped]
        return not reasons, reasons

    def scrape(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _DelayCollector:
    """``handoff_bridge_handoff_delay_business_hours`` and ``handoff_bridge_handoffs_measured``
    from the lanes :meth:`Metrics.observe_delays` last computed."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        delay = GaugeMetricFamily("handoff_bridge_handoff_delay_business_hours",
                                  "Handoff delay sent -> received in the receiver's business hours (open handoffs "
                                  "censored at now), per lane", labels=["kind", "lane", "tool", "quantile"])
        count = GaugeMetricFamily("handoff_bridge_handoffs_measured", "Handoffs measured per lane (received or open)",
                                  labels=["kind", "lane", "tool"])
        for f in self.metrics._delays:  # noqa: SLF001 - one list, swapped whole
            count.add_metric([f.kind, f.name, f.tool], f.count)
            for q, v in (("0.5", f.median_business_hours), ("0.9", f.p90_business_hours)):
                if v is not None:
                    delay.add_metric([f.kind, f.name, f.tool, q], v)
        yield delay
        yield count


class _Handler(BaseHTTPRequestHandler):
    server_version = "handoff-bridge"
    metrics: Metrics
    page: Callable[[], str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                self._send(200, self.metrics.scrape(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok, reasons = self.metrics.health()
                self._send(200 if ok else 503, ("ok\n" if ok else "\n".join(reasons) + "\n").encode(), "text/plain; charset=utf-8")
            elif path == "/":
                self._send(200, self.page().encode("utf-8"), "text/html; charset=utf-8")
            else:
                self._send(404, b"not found: try /, /metrics or /healthz\n", "text/plain; charset=utf-8")
        except Exception as exc:  # noqa: BLE001 - one failed request never stops the endpoint
            log.error("http_request_failed", path=path, error_type=type(exc).__name__)
            self._send(500, b"internal error (see the daemon's log)\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass  # access lines would flood journald; errors are logged above


class HttpEndpoint:
    """Serve ``metrics`` and ``page`` on ``(host, port)`` from a daemon thread.

    ``page``: returns the live report page (HTML text). ``start()`` binds (raising ``OSError``
    when the address is taken) and returns; ``stop()`` closes the socket.
    """

    def __init__(self, host: str, port: int, metrics: Metrics, page: Callable[[], str]):
        handler = type("Handler", (_Handler,), {"metrics": metrics, "page": staticmethod(page)})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def start(self) -> "HttpEndpoint":
        self._thread.start()
        log.info("http_serving", address=f"{self.address[0]}:{self.address[1]}", paths=["/", "/metrics", "/healthz"])
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


#: The live page is rebuilt at most this often (it reads every stored handoff); meanwhile the last one is served.
PAGE_EVERY = timedelta(seconds=30)


def live_page(config_of: Callable[[], object], store, clock: Callable[[], datetime],
              every: timedelta = PAGE_EVERY, status_of: Callable[[datetime], dict | None] | None = None) -> Callable[[], str]:
    """A ``page`` callable: the report page of the store now, with the status table; rebuilt at
    most once per ``every`` (one build at a time; concurrent requests get the same page).

    ``status_of(now)``: the status table's document (``status --json``); default an engine of
    its own that evaluates the store (``bridge.app.commands.report.status_json``). The daemon
    gives its own last evaluation instead (``daemon_status``): no second evaluation of every item.
    """
    cache: dict[str, object] = {}
    lock = threading.Lock()

    def page() -> str:
        from bridge.app.commands.report import status_json
        from bridge.report.page import render_page
        from bridge.report.report import build_report

        with lock:
            now = clock()
            built = cache.get("at")
            if built is None or now - built >= every or now < built:
                config = config_of()
                report = build_report(config, store, now)
                status = status_of(now) if status_of is not None else None
                if status is None:
                    status = status_json(config, store, now)
                cache["html"] = render_page(report, status, title="handoff-bridge: live report")
                cache["at"] = now
            return cache["html"]

    return page


def daemon_status(engine_of: Callable[[], object], lock) -> Callable[[datetime], dict | None]:
    """A ``status_of`` for :func:`live_page`: the status document of the daemon's last
    evaluation (``Engine.last``, made by its last leading cycle), built under the daemon's
    store lock ``lock`` (the rows read item snapshots through the engine's own cache); ``None``
    while there is none (before the first cycle, or on a replica that does not lead), and the
    page then evaluates the store itself."""

    def status_of(now: datetime) -> dict | None:
        from bridge.app.commands.status import build_status, to_json

        with lock:
            engine = engine_of()
            last = engine.last
            return None if last is None else to_json(build_status(engine, last.at, evaluation=last))

    return status_of
