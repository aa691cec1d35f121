"""The retry queue and the dead-letter list through the real engine (issue 12, "one bad item
never stalls a scope"): a pull request whose timeline answers 404 never keeps its repository's
other pull requests from being nudged; it is read again alone with backoff, dead-lettered after
``retry_tries`` failed reads (one error log line, listed by ``status`` and ``explain``), and read
again on demand once the cause is gone — then nudged like any other."""

from __future__ import annotations

from datetime import timedelta

from structlog.testing import capture_logs

from bridge.app.commands.explain import explain
from bridge.app.commands.status import build_status, render_text
from bridge.core.model import ItemRef
from tests.support.world import World, berlin

BAD = r"/repos/acme/web/issues/12/timeline"


def _world(tmp_path) -> World:
    # [adoption] grace 0h: an item first read hours after its deadline is adopted, and nudged at once.
    w = World(tmp_path, daemon='retry_tries = 3\nretry_wait = "10m"\nretry_max_wait = "1h"',
              extra='[adoption]\ngrace = "0h"\n')
    w.open_pr_with_review_request(12, "Bad timeline")
    w.emu.open_issue("acme/web", "ana", "Good one", pull_request=True, at=berlin("2026-11-23 09:00"), number=13)
    w.emu.request_review("acme/web", 13, "ana", "ben-o", at=berlin("2026-11-23 09:05"))
    return w


def test_a_bad_item_is_retried_with_backoff_dead_lettered_and_retried_on_demand(tmp_path):
    w = _world(tmp_path)
    ref = ItemRef("github", "acme/web#12")
    try:
        w.emu.faults.add("GET", BAD, "status", status=404, times=None)
        with capture_logs() as logs:
            w.at("2026-11-23 13:10")  # both review requests are overdue (deadline 13:05)
            first = w.engine.cycle()
            assert "github:acme/web" in first.polled, "the repository's poll succeeded"
            assert len(w.bot_comments(number=13)) == 1, "the good pull request was nudged"
            assert w.bot_comments(number=12) == []
            [row] = w.store.retries()
            assert (row.item_key, row.tries, row.dead_at) == ("acme/web#12", 1, None)
            assert row.next_try_at == berlin("2026-11-23 13:20"), "first retry after retry_wait"

            w.at("2026-11-23 13:15")
            w.engine.cycle()
            assert w.store.retries()[0].tries == 1, "not due yet: not read again"
            timeline_reads = lambda: sum(1 for m, p, _ in w.emu.requests if p.split("?")[0] == BAD)  # noqa: E731
            before = timeline_reads()
            w.at("2026-11-23 13:20")
            w.engine.cycle()
            assert timeline_reads() == before + 1, "read again alone, once"
            row = w.store.retries()[0]
            assert row.tries == 2 and row.next_try_at == berlin("2026-11-23 13:40"), "the wait doubled"
            w.at("2026-11-23 13:40")
            w.engine.cycle()
            row = w.store.retries()[0]
            assert row.tries == 3 and row.dead_at is not None, "dead-lettered after retry_tries failed reads"
            for t in ("2026-11-23 14:40", "2026-11-23 16:40"):
                w.at(t)
                w.engine.cycle()
            assert w.store.retries()[0].tries == 3, "a dead-lettered item is not read again by itself"
        events = [e["event"] for e in logs]
        assert events.count("item_deferred") == 1 and events.count("item_dead_lettered") == 1
        assert "item_recovered" not in events
        assert not any(e["log_level"] == "error" and e["event"] != "item_dead_lettered" for e in logs)

        text = render_text(build_status(w.engine, w.clock()))
        assert "dead-letter" in text.lower() and "acme/web#12" in text
        assert "dead-letter" in explain(w.engine, ref).lower()

        w.emu.faults.clear()  # the cause is gone
        assert [r.item_key for r in w.engine.retries.requeue(w.clock())] == ["acme/web#12"]
        w.at("2026-11-23 16:45")
        w.engine.cycle()
        assert w.store.retries() == []
        assert len(w.bot_comments(number=12)) == 1, "read at last, and nudged"
        assert len(w.bot_comments(number=13)) == 1, "never twice"
    finally:
        w.close()


def test_a_retry_that_reads_fine_clears_the_queue(tmp_path):
    w = _world(tmp_path)
    try:
        w.emu.faults.add("GET", BAD, "status", status=404, times=1)  # one 404, then fine
        w.at("2026-11-23 13:10")
        w.engine.cycle()
        assert [r.item_key for r in w.store.retries()] == ["acme/web#12"]
        w.at("2026-11-23 13:20")
        w.engine.cycle()
        assert w.store.retries() == []
        assert len(w.bot_comments(number=12)) == 1
    finally:
        w.close()


def test_the_queue_survives_a_restart(tmp_path):
    w = _world(tmp_path)
    try:
        w.emu.faults.add("GET", BAD, "status", status=404, times=1)
        w.at("2026-11-23 13:10")
        w.engine.cycle()
        w.restart()
        w.at("2026-11-23 13:20")
        w.engine.cycle()
        w.at("2026-11-23 13:21")
        w.engine.cycle()
        assert w.store.retries() == [] and len(w.bot_comments(number=12)) == 1
    finally:
        w.close()
