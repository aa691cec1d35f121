"""Progress of a first crawl (issue 13): the engine says how many of a connector's scopes it has
read for the first time (sd_notify STATUS= and ``once`` through ``CycleReport.status_line``,
``status`` from the store alone), logs ``first_crawl_progress`` at a steady pace and
``first_crawl_done`` once."""

from __future__ import annotations

from datetime import timedelta

from structlog.testing import capture_logs

from bridge.app.commands.status import build_status, render_text
from tests.support.world import World


def test_a_first_crawl_reports_its_progress_until_every_repository_is_read(tmp_path):
    w = World(tmp_path, repos=("acme/web", "acme/api", "acme/ops"))
    try:
        w.engine.crawl.every_s = 0  # log every scope read (the daemon: at most every 10 s)
        w.emu.faults.add("GET", r"^/repos/acme/ops/issues$", "status", status=502, times=3)  # + urllib3's 2 retries
        with capture_logs() as logs:
            first = w.engine.cycle()
            assert "first crawl: github 2 of 3 repositories read" in first.status_line()
            text = render_text(build_status(w.engine, w.clock()))
            assert "first crawl: github 2 of 3 repositories read" in text
            w.clock.advance(timedelta(minutes=5))  # past any backoff of the failing repository
            second = w.engine.cycle()
        assert second.crawl == "" and "first crawl" not in second.status_line()
        assert "first crawl" not in render_text(build_status(w.engine, w.clock()))
        events = [e["event"] for e in logs]
        assert events.count("first_crawl_done") == 1
        progress = [e for e in logs if e["event"] == "first_crawl_progress"]
        assert progress and progress[0]["scopes"] == 3 and progress[0]["scopes_read"] >= 1
    finally:
        w.close()
