"""The GitHub connector against the vendor's recorded exchanges, replayed with ``responses``.

Bodies, status codes and headers come byte for byte from ../shared/specs/recorded/github
(octokit fixtures: MIT; PyGithub replay data: LGPL-3.0). Only the host is ours.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import responses
from responses import matchers

from bridge.core import errors
from connectors.github.client import GitHubConnector
from tests.support.recorded import RECORDED, read_replay

API = "https://api.github.com"
WIRE = API + ":443"  # PyGithub puts the port in every URL it sends, Link-header URLs included


def connector(now: datetime, per_page: int = 3) -> GitHubConnector:
    return GitHubConnector("github", base_url=API, token="t0ken-recorded", repositories=["o/r"], per_page=per_page,
                           clock=lambda: now, seconds_between_requests=0, seconds_between_writes=0, timeout=5)


def octokit_pages() -> list[dict]:
    data = json.loads((RECORDED / "github/octokit-fixtures/paginate-issues.raw-fixture.json").read_text())
    return [e for e in data if e["method"] == "get"]


@responses.activate
def test_paginated_issue_list_is_followed_through_recorded_link_headers():
    pages = octokit_pages()
    repo = re.match(r"/repos/([^/]+/[^/?]+)/issues", pages[0]["path"]).group(1)
    for page in pages:
        headers = dict(zip(page["rawHeaders"][::2], page["rawHeaders"][1::2]))
        keep = {k: v for k, v in headers.items() if k.lower() in ("link", "etag", "x-ratelimit-remaining", "x-ratelimit-reset")}
        path, _, query = page["path"].partition("?")
        match = [] if page is pages[0] else [matchers.query_string_matcher(query)]
        responses.add(responses.GET, WIRE + path, json=page["response"], status=page["status"], headers=keep, match=match)
    responses.add(responses.GET, re.compile(rf"{WIRE}/repos/{repo}/issues/\d+/timeline"), json=[])
    now = datetime(2022, 7, 19, 5, 0, tzinfo=timezone.utc)
    c = connector(now)
    c.repositories = [repo]
    result = c.poll(repo, None)
    issues = [i for p in pages for i in p["response"]]
    assert sorted(it.ref.key for it in result.items) == sorted(f"{repo}#{i['number']}" for i in issues)
    assert result.requests == len(pages) + len(issues) == len(responses.calls)
    newest = max(i["updated_at"] for i in issues)
    window = datetime.fromisoformat(newest.replace("Z", "+00:00")) - timedelta(minutes=2)
    assert result.next_cursor == {
        "since": newest,
        "query_since": window.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "etag": dict(zip(pages[0]["rawHeaders"][::2], pages[0]["rawHeaders"][1::2]))["ETag"],
    }


@responses.activate
def test_recorded_304_answers_an_idle_poll_with_no_cursor_move():
    [ex] = read_replay("ConditionalRequestUpdate.testDidNotUpdate.txt")
    assert ex.status == 304
    responses.add(responses.GET, f"{WIRE}/repos/o/r/issues", status=304, headers=ex.response_headers, body="")
    cursor = {"since": "2026-11-23T08:00:00Z", "etag": ex.request_headers["If-None-Match"]}
    result = connector(datetime.now(timezone.utc)).poll("o/r", cursor)
    assert (result.next_cursor, result.events, result.items, result.requests) == (None, [], [], 1)
    sent = responses.calls[0].request
    assert sent.headers["If-None-Match"] == cursor["etag"]
    assert "since=2026-11-23T07%3A58%3A00Z" in sent.url, "re-reads from since minus the 2 minute overlap"


@pytest.mark.parametrize("name", ["SpecificExceptions.testRateLimitExceeded.txt",
                                  "SpecificExceptions.testAuthenticatedRateLimitExceeded.txt"])
@responses.activate
def test_recorded_rate_limit_answers_become_rate_limited_with_the_wait_asked(name):
    ex = read_replay(name)[-1]
    assert ex.status == 403
    headers = {k: v for k, v in ex.response_headers.items() if k not in ("status", "transfer-encoding", "content-encoding")}
    responses.add(responses.GET, f"{WIRE}/repos/o/r/issues", status=403, headers=headers, body=ex.body)
    now = parsedate_to_datetime(ex.response_headers["date"])
    with pytest.raises(errors.RateLimited) as info:
        connector(now).poll("o/r", None)
    if "retry-after" in ex.response_headers:
        expected = float(ex.response_headers["retry-after"])
    elif "x-ratelimit-reset" in ex.response_headers:
        expected = float(ex.response_headers["x-ratelimit-reset"]) - now.timestamp()
    else:  # the 2013 recording says remaining 0 without a reset time: the stated 60 s default
        expected = 60.0
    assert info.value.retry_after == pytest.approx(expected)
    assert "t0ken-recorded" not in str(info.value)
