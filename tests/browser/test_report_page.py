"""The report's HTML page in a real browser: Debian's headless Chromium through Playwright.

The page is loaded from a file with every request that is not that file refused (the page must
need no network); the test checks the tables and the charts are there and drawn, that the
console shows no error, and saves a screenshot in the test's temp folder. Chromium is
``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` and ``scripts/test.sh`` install
it); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bridge.core.businesstime import WorkSchedule
from bridge.report.measure import HandoffFact, StandoffFact, compare, measure, standoff_weeks
from bridge.report.page import render_page
from bridge.report.report import Report

CHROMIUM = os.environ.get("HANDOFF_BRIDGE_CHROMIUM", "/usr/bin/chromium")
UTC = timezone.utc
MON = datetime(2026, 11, 2, tzinfo=UTC)
SCHEDULE = WorkSchedule("Europe/Berlin", range(5), time(9), time(17))


def _report() -> Report:
    facts = []
    for i in range(24):
        week = i // 6
        sent = MON + timedelta(days=7 * week + i % 5, hours=8 + i % 4)
        delay = timedelta(hours=(9 - 2 * week) + i % 3)
        state = "overdue" if i == 23 else "received"
        facts.append(HandoffFact(
            key=f"h{i}", rule="review-not-picked-up" if i % 2 else "qa-not-picked-up", tool="github" if i % 2 else "jira",
            item=f"acme/web#{i}" if i % 2 else f"WEB-{i}", sender="Ana <b>Souza</b>", receiver="Ben Ortiz",
            sender_team="web", receiver_team="qa" if i % 3 else "web",
            status_pair=None if i % 2 else ("In Review", "Ready for QA"), sent_at=sent, state=state,
            ended_at=None if state == "overdue" else sent + delay,
            nudged_at=sent + delay / 2 if week >= 2 else None, schedule=SCHEDULE))
    now = MON + timedelta(days=28)
    standoffs = [StandoffFact("s1", "waiting-on-each-other", "WEB-3", MON + timedelta(days=3), MON + timedelta(days=4)),
                 StandoffFact("s2", "waiting-on-each-other", "acme/web#7", MON + timedelta(days=20), None)]
    tz = ZoneInfo("Europe/Berlin")
    lanes, weekly = measure(facts, now, tz)
    at = MON + timedelta(days=14)
    return Report(at=now, tz=tz, since=None, until=None, handoffs=facts, standoffs=standoffs, lanes=lanes,
                  weekly=weekly, standoff_weeks=standoff_weeks(standoffs, tz), before=(MON, at), after=(at, now),
                  comparisons=compare(facts, now, (MON, at), (at, now)))


STATUS = {
    "summary": {"text": "2 items: 1 moving, 1 blocked (1 in standoffs); oldest wait 8d"},
    "items": [
        {"tool": "jira", "key": "WEB-3", "title": "Checkout <script>alert(1)</script>", "url": "https://jira.example/browse/WEB-3",
         "state": "BLOCKED", "holder": {"name": "Quinn Adler"}, "blockers": [{"text": "standoff: Quinn waits on Ana"}],
         "next": {"who": "Ana Souza", "what": "answer the changes requested", "by_local": "Tue 03 Nov 13:00 CET"}},
        {"tool": "github", "key": "acme/web#7", "title": "Rate-limit login", "url": None, "state": "MOVING",
         "holder": {"name": "Ben Ortiz"}, "blockers": [], "next": None},
    ],
}


def test_the_page_opens_in_chromium_with_tables_and_charts_and_no_console_error(tmp_path):
    assert shutil.which(CHROMIUM) or os.path.exists(CHROMIUM), (
        f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium); "
        "scripts/test.sh does so when run as root")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    page_file.write_text(render_page(_report(), STATUS), encoding="utf-8")
    url = page_file.as_uri()
    errors, foreign = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def refuse_foreign(route):
                if route.request.url == url:
                    route.continue_()
                else:
                    foreign.append(route.request.url)
                    route.abort()

            page.route("**/*", refuse_foreign)
            page.goto(url, wait_until="load")
            assert page.title() == "handoff-bridge report"
            # The status table: MOVING/BLOCKED, holder, blocker, next decision; tracker text escaped.
            assert page.locator("#status tbody tr").count() == 2
            assert page.locator("#status .BLOCKED").inner_text() == "BLOCKED"
            assert "Checkout <script>alert(1)</script>" in page.locator("#status").inner_text()
            assert page.locator("script").count() == 0
            assert "Quinn waits on Ana" in page.locator("#status").inner_text()
            assert page.locator("#standoffs tbody tr").count() == 1  # the open standoff
            assert page.locator("#lanes tbody tr").count() > 10
            assert page.locator("#weekly tbody tr").count() >= 4
            assert page.locator("#comparison tbody tr").count() > 5
            assert page.locator("#comparison tbody tr").first.inner_text().startswith("all handoffs")
            # Three charts (delay per lane, weekly trend, nudge effectiveness), each drawn with a size.
            charts = page.locator("svg.pygal-chart")
            assert charts.count() == 3
            for i in range(3):
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 300 and box["height"] > 150
            assert page.locator("svg.pygal-chart .bar rect, svg.pygal-chart rect.rect").count() >= 4  # bars drawn
            assert page.locator("svg.pygal-chart path.line").count() >= 1  # the trend line
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == [], errors
    assert foreign == [], f"the page asked the network for {foreign}"
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_the_status_table_shows_the_oldest_rows_and_counts_the_rest():
    """13,367 status rows made the 100,000-item page 5 MB; it shows ``status_rows`` of them."""
    item = STATUS["items"][1]
    status = {"summary": {"text": "7 items"}, "items": [{**item, "key": f"acme/web#{n}"} for n in range(7)]}
    page = render_page(_report(), status, status_rows=3)
    assert [f"acme/web#{n}" in page for n in range(7)] == [True] * 3 + [False] * 4
    assert "4 more items wait, each newer than these" in page
    everything = render_page(_report(), status, status_rows=0)
    assert all(f"acme/web#{n}" in everything for n in range(7)) and "status-more" not in everything
    assert "status-more" not in render_page(_report(), status, status_rows=7)
