"""/healthz and /metrics of ``bridge.app.http`` in process: a stepping clock, a GitHub emulator,
the real engine and the real HTTP server on a free loopback port."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.app.http import HttpEndpoint, Metrics, live_page
from bridge.core import errors
from tests.support.world import World


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_healthz_follows_the_last_cycle_and_stopped_connectors(world):
    metrics = Metrics(world.clock, delays_in_background=False)
    metrics.configure(world.config)
    endpoint = HttpEndpoint("127.0.0.1", 0, metrics, live_page(lambda: world.config, world.store, world.clock)).start()
    base = f"http://127.0.0.1:{endpoint.address[1]}"
    try:
        r = requests.get(base + "/healthz", timeout=5)
        assert (r.status_code, r.text) == (503, "no cycle has ended yet\n")
        world.open_pr_with_review_request()
        world.at("2026-11-23 13:15")  # past the deadline (13:05)
        report = world.engine.cycle()
        metrics.observe_cycle("github", report, world.engine, 0.3)
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        world.clock.advance(timedelta(minutes=6))  # 5 min: three poll_every (1m default) but at least 5 min
        r = requests.get(base + "/healthz", timeout=5)
        assert r.status_code == 503 and r.text.startswith("the last cycle ended 360 s ago")
        world.engine.health.recovered("github")
        world.engine.health.failed("github", errors.AuthError("github", "401 Bad credentials"))
        metrics.observe_cycle("github", world.engine.cycle(), world.engine, 0.1)
        r = requests.get(base + "/healthz", timeout=5)
        assert r.status_code == 503 and "connector github is stopped" in r.text
        text = requests.get(base + "/metrics", timeout=5).text
        got = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
        assert got[("handoff_bridge_connector_stopped", (("connector", "github"),))] == 1
        assert got[("handoff_bridge_connector_up", (("connector", "github"),))] == 0
        assert got[("handoff_bridge_overdue_handoffs", (("rule", "review-not-picked-up"),))] == 1
        assert got[("handoff_bridge_writes_total", (("connector", "github"), ("outcome", "done")))] == 1
        assert got[("handoff_bridge_poll_lag_seconds", (("connector", "github"), ("scope", "acme/web")))] == 360
        assert got[("handoff_bridge_cycle_duration_seconds_count", (("connector", "github"),))] == 2
        assert got[("handoff_bridge_write_budget_left", (("connector", "github"),))] == 59
        # 09:05 → 13:21, Berlin business hours: 4.27 h, the open handoff censored at now
        assert got[("handoff_bridge_handoff_delay_business_hours",
                    (("kind", "all"), ("lane", "all"), ("quantile", "0.5"), ("tool", "all")))] == pytest.approx(4 + 16 / 60, abs=1e-3)
    finally:
        endpoint.stop()


def test_the_live_page_takes_its_status_table_from_the_daemons_last_evaluation(world):
    """The daemon's ``/`` used to evaluate every stored item again for its status table (441 s
    of a 609 s page on 100,000 items); it now reads the last cycle's evaluation, which must say
    what an evaluation of the store says."""
    from bridge.app.commands.report import status_json
    from bridge.app.http import daemon_status
    from bridge.app.wiring import StoreLock

    lock = StoreLock()
    status_of = daemon_status(lambda: world.engine, lock)
    assert status_of(world.clock()) is None  # no cycle yet: the page evaluates the store itself
    world.open_pr_with_review_request()
    world.at("2026-11-23 13:15")  # past the deadline (13:05): ben holds an overdue review
    world.engine.cycle()
    at = world.engine.last.at
    got = status_of(world.clock())
    assert got == status_json(world.config, world.store, at)
    [row] = got["items"]
    assert (row["key"], row["state"], row["holder"]["account"]) == ("acme/web#12", "BLOCKED", "github:ben-o")
    page = live_page(lambda: world.config, world.store, world.clock, status_of=status_of)()
    assert "acme/web#12" in page and got["summary"]["text"] in page
