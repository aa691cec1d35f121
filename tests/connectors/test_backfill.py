"""The backfill window (issue 13): a first poll (no cursor) reads only the items updated within
``backfill`` (GitHub ``since=``, Jira ``updated >= ...``, Asana ``modified_since``), never the whole
backlog; ``"all"`` reads everything. Real HTTP through the official clients against the emulators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.config import parse_config
from bridge.core.errors import ConfigError
from connectors.asana.client import AsanaConnector
from connectors.sandbox.asana.routes import API_PREFIX
from tests.connectors import test_jira_fetch_and_links as jira_t
from tests.connectors.test_asana_client import ADA, P1, T0, TOKEN as ASANA_TOKEN, clock, emu  # noqa: F401
from tests.support.github import emulated_github

__all__ = ["clock", "emu"]  # the fixtures
WINDOW = timedelta(days=14)


def test_github_first_poll_reads_only_the_window():
    with emulated_github(T0, "ghp_backfill_7a1c", "hb-bot", "acme/web") as (gh, _conn, clock):
        gh.open_issue("acme/web", "ana", "dormant", number=1, at=T0 - timedelta(days=30))
        gh.open_issue("acme/web", "ana", "recent", number=2, at=T0 - timedelta(days=2))
        from connectors.github.client import GitHubConnector

        conn = GitHubConnector("github", base_url=gh.url, token="ghp_backfill_7a1c", repositories=["acme/web"],
                               clock=clock, seconds_between_requests=0, seconds_between_writes=0, backfill=WINDOW)
        gh.reset_requests()
        result = conn.poll("acme/web", None)
        assert [i.ref.key for i in result.items] == ["acme/web#2"]
        timelines = [p for _m, p, _s in gh.requests if "/timeline" in p]
        assert [t.split("?")[0] for t in timelines] == ["/repos/acme/web/issues/2/timeline"], \
            "the dormant issue's timeline is never read"
        assert result.requests == 2, "one list page and one timeline"
        clock.advance(timedelta(minutes=1))
        gh.comment("acme/web", 1, "ben", "waking up the old one")
        later = conn.poll("acme/web", result.next_cursor)
        assert "acme/web#1" in {i.ref.key for i in later.items}, "an old item is read once it moves again"


def test_jira_first_poll_asks_for_the_window_only():
    emu, _conn, clock = jira_t.world()
    try:
        from connectors.jira.client import JiraConnector

        clock.now = T0
        emu.create_issue("WEB", jira_t.ANA, "dormant", key="WEB-1", at=T0 - timedelta(days=30))
        emu.create_issue("WEB", jira_t.ANA, "recent", key="WEB-2", at=T0 - timedelta(days=1))
        conn = JiraConnector("jira", base_url=emu.url, token=jira_t.TOKEN, email="bot@example.com", jql=[jira_t.SCOPE],
                             clock=clock, backfill=WINDOW)
        result = conn.poll(jira_t.SCOPE, None)
        assert [i.ref.key for i in result.items] == ["WEB-2"]
        everything = JiraConnector("jira", base_url=emu.url, token=jira_t.TOKEN, email="bot@example.com",
                                   jql=[jira_t.SCOPE], clock=clock, backfill=None).poll(jira_t.SCOPE, None)
        assert sorted(i.ref.key for i in everything.items) == ["WEB-1", "WEB-2"], '"all" reads everything'
    finally:
        emu.stop()


def test_asana_first_crawl_lists_the_window_only(emu, clock):
    dormant = emu.create_task(P1, ADA, "dormant", at=T0 - timedelta(days=30))
    recent = emu.create_task(P1, ADA, "recent", at=T0 - timedelta(days=3))
    conn = AsanaConnector("asana", base_url=emu.url + API_PREFIX, token=ASANA_TOKEN, projects=[P1], timeout=3,
                          requests_per_minute=10_000, clock=clock, backfill=WINDOW)
    result = conn.poll(P1, None)
    assert [i.ref.key for i in result.items] == [recent]
    assert dormant not in {e.item.key for e in result.events}


def test_backfill_config_accepts_a_window_or_all_and_names_a_bad_value():
    base = '[connectors.github]\ntoken = { env = "T" }\nrepositories = ["acme/web"]\n'
    default = parse_config(base, environ={"T": "x"})
    assert default.connectors["github"].backfill_window() == timedelta(days=14)
    assert parse_config(base + 'backfill = "all"\n', environ={"T": "x"}).connectors["github"].backfill_window() is None
    with pytest.raises(ConfigError) as caught:
        parse_config(base + 'backfill = "forever"\n', environ={"T": "x"})
    text = "\n".join(caught.value.problems)
    assert "connectors.github.backfill" in text and "forever" in text and '"all"' in text
