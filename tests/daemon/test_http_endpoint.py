"""``[daemon] http``: the real daemon process serves /metrics, /healthz and the live page.

The daemon polls a GitHub emulator (real time, ``poll_every = "1s"``) holding one overdue
review request; the test scrapes the endpoint over real HTTP like Prometheus would.
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.test_daemon import BOT, CONFIG, TOKEN, Daemon, NotifyListener, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or sys.platform == "win32",
                                 reason="sd_notify needs AF_UNIX and POSIX signals")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


@pytest.fixture
def served(tmp_path, github_emulator):
    e = github_emulator
    e.add_token(TOKEN, BOT)
    e.create_repo("acme/web")
    asked = datetime.now(timezone.utc) - timedelta(days=10)
    e.open_issue("acme/web", "ana", "Rate-limit the login endpoint", pull_request=True,
                 at=asked - timedelta(minutes=5), number=12)
    e.request_review("acme/web", 12, "ana", "ben-o", at=asked)
    port = free_port()
    text = CONFIG.format(db=tmp_path / "state.db", url=e.url, poll_every="1s")
    text = text.replace('log_format = "json"\n', f'log_format = "json"\nhttp = "127.0.0.1:{port}"\n', 1)
    path = tmp_path / "config.toml"
    path.write_text(text)
    notify = NotifyListener()
    env = {k: v for k, v in os.environ.items()
           if k not in ("WATCHDOG_PID", "WATCHDOG_USEC", "NOTIFY_SOCKET", "HANDOFF_BRIDGE_CONFIG", "GITHUB_TOKEN")}
    env.update(GITHUB_TOKEN=TOKEN, NOTIFY_SOCKET=notify.path, PYTHONUNBUFFERED="1")
    d = Daemon(path, notify, env)
    try:
        yield d, f"http://127.0.0.1:{port}", e
    finally:
        d.kill()
        notify.close()


def test_metrics_healthz_and_live_page_from_the_running_daemon(served):
    daemon, base, emu = served
    daemon.wait_ready()
    wait_for(lambda: daemon.events("http_serving"), 10, "http_serving")
    # The first cycle nudges the overdue review request; then /metrics shows it.
    wait_for(lambda: any(c["user"]["login"] == BOT for c in emu.comments("acme/web", 12)), 15, "the nudge")
    health = wait_for(lambda: (r := requests.get(base + "/healthz", timeout=5)).status_code == 200 and r, 10, "healthz 200")
    assert health.text == "ok\n"
    delay_key = ("handoff_bridge_handoff_delay_business_hours",
                 (("kind", "all"), ("lane", "all"), ("quantile", "0.5"), ("tool", "all")))
    # the delay summary is computed on its own thread after the cycle: wait for both
    got = wait_for(lambda: (m := samples(requests.get(base + "/metrics", timeout=5).text)).get(
        ("handoff_bridge_writes_total", (("connector", "github"), ("outcome", "done")))) and delay_key in m and m,
        15, "a write counted and the delay summary")
    assert got[("handoff_bridge_open_handoffs", (("rule", "review-not-picked-up"),))] == 1
    assert got[("handoff_bridge_overdue_handoffs", (("rule", "review-not-picked-up"),))] == 1
    assert got[("handoff_bridge_findings", (("detect", "handoff"),))] == 1
    assert got[("handoff_bridge_connector_up", (("connector", "github"),))] == 1
    assert got[("handoff_bridge_requests_total", (("connector", "github"),))] > 0
    assert got[("handoff_bridge_cycle_duration_seconds_count", (("connector", "github"),))] >= 1
    assert ("handoff_bridge_poll_lag_seconds", (("connector", "github"), ("scope", "acme/web"))) in got
    # the open handoff, censored at now: about ten days of an all-week 00:00-23:59 schedule
    delay = got[delay_key]
    assert 230 < delay < 241  # 10 days of 23 h 59 min, censored at now
    page = requests.get(base + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "acme/web#12" in page.text and "<svg" in page.text
    assert requests.get(base + "/nope", timeout=5).status_code == 404

