"""The one HTTP error edge (connectors.http): the status table, the Retry-After parser, kept causes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from bridge.core import errors
from bridge.core.logs import register_secret
from connectors import http
from connectors.jira.client import JiraConnector
from connectors.sandbox.jira.emulator import JiraEmulator

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("tool", ["github", "jira", "asana"])
@pytest.mark.parametrize(
    ("status", "read", "write"),
    [
        (401, errors.AuthError, errors.AuthError),
        (403, errors.PermanentError, errors.PermanentError),
        (404, errors.NotFound, errors.NotFound),
        (410, errors.NotFound, errors.NotFound),
        (422, errors.PermanentError, errors.PermanentError),
        (429, errors.RateLimited, errors.RateLimited),
        (0, errors.TransientError, errors.OutcomeUnknown),
        (503, errors.TransientError, errors.OutcomeUnknown),
    ],
)
def test_one_table_for_every_tool(tool, status, read, write):
    assert type(http.error_for(tool, status, {}, "GET /x", now=NOW)) is read
    assert type(http.error_for(tool, status, {}, "POST /x", now=NOW, write=True)) is write


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW.timestamp()) + 120)}, "API rate limit exceeded"),
        ({"Retry-After": "60"}, "You have triggered an abuse detection mechanism."),
        ({}, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
    ],
)
def test_github_rate_limit_rows_are_github_only(headers, message):
    err = http.error_for("github", 403, headers, "GET /x", now=NOW, message=message)
    assert isinstance(err, errors.RateLimited) and err.retry_after in (120, 60)
    assert type(http.error_for("jira", 403, headers, "GET /x", now=NOW, message=message)) is errors.PermanentError


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30),
        ({"retry-after": format_datetime(NOW + timedelta(seconds=90), usegmt=True)}, 90),
        ({"x-ratelimit-reset": str(NOW.timestamp() + 45)}, 45),
        ({"X-RateLimit-Reset": "2026-11-23T09:05Z"}, 300),
        ({"Retry-After": "soon", "X-RateLimit-Reset": "later"}, http.DEFAULT_WAIT),
        ({"Retry-After": "-5"}, 0),
        (None, http.DEFAULT_WAIT),
    ],
)
def test_retry_after_reads_seconds_http_dates_and_reset_times(headers, seconds):
    assert http.retry_after(headers, NOW) == pytest.approx(seconds)


def test_the_vendor_message_is_kept_redacted_but_never_for_a_401():
    register_secret("s3cret-in-a-message")
    err = http.error_for("asana", 400, {}, "GET /x", now=NOW, message="bad s3cret-in-a-message\nfield")
    assert "s3cret" not in str(err) and '"bad *** field"' in str(err)
    assert "said" not in str(http.error_for("asana", 401, {}, "GET /x", now=NOW, message="token x is revoked"))


def test_a_lost_write_is_outcome_unknown_unless_never_sent():
    assert type(http.no_answer("asana", "POST /x", "ReadTimeoutError", write=True)) is errors.OutcomeUnknown
    assert type(http.no_answer("asana", "POST /x", "NewConnectionError", write=True, sent=False)) is errors.TransientError
    assert type(http.no_answer("asana", "GET /x", "ReadTimeoutError", write=False)) is errors.TransientError


def test_a_jira_error_keeps_its_cause_without_the_credential():
    def clock():
        return NOW

    emu = JiraEmulator(clock=clock).start()
    try:
        emu.add_user("bot", email="bot@example.com")
        emu.add_token("tok-cause-secret", "bot", email="bot@example.com")
        conn = JiraConnector("jira", base_url=emu.url, token="tok-cause-secret", email="bot@example.com",
                             jql=["project = WEB"], clock=clock)
        emu._tokens.clear()  # the token is revoked
        with pytest.raises(errors.AuthError) as info:
            conn.poll("project = WEB", None)
        cause = info.value.__cause__
        assert cause is not None and cause.status_code == 401
        assert "Authorization" not in str(cause) and "request headers" not in str(cause)
    finally:
        emu.stop()
