"""``/metrics`` shows what is left of each vendor's API rate budget, per connector, scraped over
real HTTP from the real endpoint: GitHub's from the ``X-RateLimit-*`` headers the emulator sends
to PyGithub, Asana's from the connector's own ``requests_per_minute`` limiter (the official
``asana`` client against the Asana emulator). A connector that knows no budget has no series."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.app.http import HttpEndpoint, Metrics
from bridge.core.clock import SteppingClock
from connectors.asana.client import AsanaConnector
from connectors.sandbox.asana.emulator import AsanaEmulator
from connectors.sandbox.asana.routes import API_PREFIX
from tests.support.world import World

NAMES = ("handoff_bridge_vendor_rate_remaining", "handoff_bridge_vendor_rate_limit",
         "handoff_bridge_vendor_rate_reset_timestamp_seconds")


def scrape(metrics: Metrics) -> dict:
    """``{(metric, connector): value}`` of the vendor rate gauges, read over HTTP from ``/metrics``."""
    endpoint = HttpEndpoint("127.0.0.1", 0, metrics, lambda: "").start()
    try:
        text = requests.get(f"http://127.0.0.1:{endpoint.address[1]}/metrics", timeout=5).text
    finally:
        endpoint.stop()
    return {(s.name, s.labels["connector"]): s.value for fam in text_string_to_metric_families(text)
            for s in fam.samples if s.name in NAMES}


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_github_budget_is_the_rate_limit_headers_of_its_last_answer(world):
    metrics = Metrics(world.clock, delays_in_background=False)
    metrics.configure(world.config)
    metrics.observe_rate_budgets(world.engine.connectors)
    assert scrape(metrics) == {}  # nothing answered yet: no figure rather than a made-up one
    world.open_pr_with_review_request()
    world.at("2026-11-23 10:00")  # before the deadline: reads only, no write after the last read
    report = world.engine.cycle()
    assert report.requests > 0
    metrics.observe_cycle("github", report, world.engine, 0.2)
    rate = world.emu.state.rate
    got = scrape(metrics)
    assert got == {("handoff_bridge_vendor_rate_remaining", "github"): rate.limit - rate.used,
                   ("handoff_bridge_vendor_rate_limit", "github"): rate.limit,
                   ("handoff_bridge_vendor_rate_reset_timestamp_seconds", "github"): rate.reset}
    assert 0 < rate.used < rate.limit


TOKEN = "2/1200/asana-rate-test-token"
BOT, ADA, BEA = "1100000000000001", "1100000000000002", "1100000000000003"
PROJECT = "1300000000000001"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


def test_asana_budget_is_what_its_requests_per_minute_limiter_has_left():
    clock = SteppingClock(T0)
    emu = AsanaEmulator(clock=clock).start()
    try:
        for gid, name in ((BOT, "Handoff Bot"), (ADA, "Ada"), (BEA, "Bea")):
            emu.add_user(gid, name)
        emu.add_token(TOKEN, BOT)
        emu.create_project(PROJECT, "Deals", sections=("To do", "Doing", "Done"))
        emu.create_task(PROJECT, ADA, "Contract", assignee=BEA, at=T0 - timedelta(hours=1))
        conn = AsanaConnector("asana", base_url=emu.url + API_PREFIX, token=TOKEN, projects=[PROJECT], timeout=3,
                              requests_per_minute=100, clock=clock)
        metrics = Metrics(clock, delays_in_background=False)
        result = conn.poll(PROJECT, None, known=lambda keys: {})
        made = len(emu.requests)
        assert made == result.requests > 0
        metrics.observe_rate_budgets({"asana": conn})
        # the stepping clock has not moved: no token came back; full again after made × 0.6 s
        assert scrape(metrics) == {("handoff_bridge_vendor_rate_remaining", "asana"): 100 - made,
                                   ("handoff_bridge_vendor_rate_limit", "asana"): 100,
                                   ("handoff_bridge_vendor_rate_reset_timestamp_seconds", "asana"):
                                       pytest.approx((T0 + timedelta(seconds=made * 0.6)).timestamp())}
        clock.advance(timedelta(seconds=30))  # 50 tokens a half minute, capped at the bucket's size
        metrics.observe_rate_budgets({"asana": conn})
        assert scrape(metrics)[("handoff_bridge_vendor_rate_remaining", "asana")] == min(100, 100 - made + 50)
    finally:
        emu.stop()
