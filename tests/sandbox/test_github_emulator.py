"""The GitHub emulator, driven by PyGithub over real HTTP, checked against the vendor.

Responses are validated against GitHub's OpenAPI description (shared/specs/github, API
2026-03-10) and their key sets compared with the recorded traffic (shared/specs/recorded/
github/pygithub, API 2022-11-28). See shared/specs/README.md for the version caveat.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import github
import pytest
import requests
from github.GithubException import (
    BadCredentialsException,
    GithubException,
    UnknownObjectException,
)

from bridge.core.clock import SteppingClock
from connectors.sandbox.github.emulator import GitHubEmulator
from tests.support import openapi
from tests.support.recorded import read_replay

TOKEN = "ghp_emulator_token"
REPO = "acme/web"

# Timeline event -> the variant of the `timeline-issue-events` anyOf that describes it.
TIMELINE_VARIANT = {
    "assigned": "timeline-assigned-issue-event",
    "unassigned": "timeline-unassigned-issue-event",
    "labeled": "labeled-issue-event",
    "unlabeled": "unlabeled-issue-event",
    "review_requested": "review-requested-issue-event",
    "review_request_removed": "review-request-removed-issue-event",
    "reviewed": "timeline-reviewed-event",
    "commented": "timeline-comment-event",
    "committed": "timeline-committed-event",
    "closed": "state-change-issue-event",
    "reopened": "state-change-issue-event",
}

# Keys of recorded objects the emulator deliberately does not serve, with the reason.
OMITTED = {
    # /issues/events/{id} (IssueEvent.setUp.txt) embeds the whole issue; timeline items
    # never do (PullRequest.testGetIssueTimeline.txt, Issue.testGetTimeline.txt).
    "issue",
    # `assigner` appears only in /issues/events/{id}; neither timeline recording (2017,
    # 2025) carries it on assigned/unassigned items, so the emulator leaves it out.
    "assigner",
}



def client(emu: GitHubEmulator, token: str = TOKEN, **kw) -> github.Github:
    kw.setdefault("timeout", 5)
    # PyGithub throttles by default (0.25 s between requests, 1 s between writes).
    kw.setdefault("seconds_between_requests", None)
    kw.setdefault("seconds_between_writes", None)
    return github.Github(base_url=emu.url, auth=github.Auth.Token(token), retry=None, **kw)


def raw(g: github.Github, verb: str, path: str, params=None, body=None, headers=None):
    """Return (status, lower-cased headers, decoded JSON or None) of one raw request."""
    status, hdrs, data = g.requester.requestJson(verb, path, parameters=params, input=body,
                                                 headers=headers)
    return status, {k.lower(): v for k, v in hdrs.items()}, (json.loads(data) if data else None)


def keys_missing(recorded: dict, served: dict) -> set:
    return set(recorded) - set(served) - OMITTED


def url_fields(obj, key=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from url_fields(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from url_fields(v, key)
    elif isinstance(obj, str) and (key in ("url", "href") or key.endswith("_url")):
        yield key, obj


@pytest.fixture
def world(github_emulator):
    """acme/web with PR #1 (a full review round) and issue #2; ana holds TOKEN."""
    emu = github_emulator
    emu.add_user("ana", name="Ana Lima", email="ana@example.com")
    emu.add_user("ben", name="Ben Ode")
    emu.add_token(TOKEN, "ana")
    emu.create_repo(REPO)
    pr = emu.open_issue(REPO, "ana", "Speed up login", body="Please review", pull_request=True,
                        head_ref="fast-login")
    emu.commit(REPO, pr, "ana", "Cache the session lookup")
    emu.request_review(REPO, pr, "ana", "ben")
    emu.assign(REPO, pr, "ana", "ben")
    emu.add_label(REPO, pr, "ana", "needs-review")
    emu.submit_review(REPO, pr, "ben", "CHANGES_REQUESTED", body="One nit")
    emu.comment(REPO, pr, "ana", "Fixed, thanks")
    emu.request_review(REPO, pr, "ana", "ben")
    emu.remove_review_request(REPO, pr, "ana", "ben")
    emu.unassign(REPO, pr, "ana", "ben")
    emu.remove_label(REPO, pr, "ana", "needs-review")
    emu.close(REPO, pr, "ana")
    emu.reopen(REPO, pr, "ana")
    issue = emu.open_issue(REPO, "ben", "Login is slow", body="It takes 3 s")
    emu.assign(REPO, issue, "ben", "ana")
    return emu, client(emu), pr, issue


# ---------------------------------------------------------------- users, repo, rate limit
def test_user_endpoints_read_back_and_validate(world):
    emu, g, *_ = world
    me = g.get_user()
    assert (me.login, me.name, me.email) == ("ana", "Ana Lima", "ana@example.com")
    assert g.get_user("ben").name == "Ben Ode"
    _, _, body = raw(g, "GET", "/user")
    openapi.validate_response(body, "/user", "get", 200)
    _, _, body = raw(g, "GET", "/users/ben")
    openapi.validate_response(body, "/users/{username}", "get", 200)
    recorded = read_replay("RateLimiting.testRateLimiting.txt")[1].json()  # GET /users/{u}
    assert not keys_missing(recorded, body)
    recorded_simple = read_replay("Issue.setUp.txt")[1].json()["user"]
    assert not keys_missing(recorded_simple, emu.add_user("ben"))


def test_repo_reads_back_and_validates(world):
    emu, g, *_ = world
    repo = g.get_repo(REPO)
    assert (repo.full_name, repo.owner.login, repo.default_branch) == (REPO, "acme", "main")
    _, _, body = raw(g, "GET", f"/repos/{REPO}")
    openapi.validate_response(body, "/repos/{owner}/{repo}", "get", 200)
    # The recorded repo belongs to an organisation with a license; ours has neither
    # (`license` is served as null; `organization` only exists for org-owned repos).
    assert keys_missing(read_replay("Issue.setUp.txt")[0].json(), body) <= {"organization"}


def test_rate_limit_body_headers_and_recorded_shape(world):
    emu, g, *_ = world
    core = g.get_rate_limit().resources.core
    assert core.limit == 5000 and core.remaining <= 5000
    status, headers, body = raw(g, "GET", "/rate_limit")
    openapi.validate_response(body, "/rate_limit", "get", 200)
    recorded = read_replay("RateLimiting.testRateLimiting.txt")[0].json()
    assert not keys_missing(recorded, body)
    assert not keys_missing(recorded["resources"], body["resources"])
    assert body["rate"] == body["resources"]["core"]  # legacy `rate`, kept by 2022-11-28
    for name in ("limit", "remaining", "reset", "used", "resource"):
        assert f"x-ratelimit-{name}" in headers
    assert headers["x-github-api-version-selected"] == "2022-11-28"
    assert headers["content-type"] == "application/json; charset=utf-8"


def test_remaining_decrements_on_200(world):
    emu, g, *_ = world
    _, h1, _ = raw(g, "GET", f"/repos/{REPO}")
    _, h2, _ = raw(g, "GET", f"/repos/{REPO}")
    assert int(h2["x-ratelimit-remaining"]) == int(h1["x-ratelimit-remaining"]) - 1
    assert int(h2["x-ratelimit-used"]) == int(h1["x-ratelimit-used"]) + 1


# ---------------------------------------------------------------- issues
def test_issue_list_includes_prs_and_validates(world):
    emu, g, pr, issue = world
    items = list(g.get_repo(REPO).get_issues(state="all", sort="updated", direction="asc"))
    assert [i.number for i in items] == [pr, issue]
    assert items[0].pull_request is not None and items[1].pull_request is None
    assert [a.login for a in items[1].assignees] == ["ana"]
    _, _, body = raw(g, "GET", f"/repos/{REPO}/issues", {"state": "all"})
    # 2022-11-28 adds `assignee` back (shared/specs/README.md); the 2026-03-10 `issue`
    # schema does not forbid unknown keys, so no field needs stripping before validation.
    schema = openapi.load()[0]["components"]["schemas"]["issue"]
    assert "assignee" not in schema["properties"] and "additionalProperties" not in schema
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues", "get", 200)
    assert [i["number"] for i in body] == [issue, pr]  # default sort: created, desc
    assert body[0]["assignee"]["login"] == "ana"  # first of assignees
    assert body[1]["assignee"] is None and body[1]["assignees"] == []


def test_issue_object_matches_recorded_keys_and_schema(world):
    emu, g, pr, issue = world
    it = g.get_repo(REPO).get_issue(issue)
    assert (it.title, it.body, it.state, it.user.login) == ("Login is slow", "It takes 3 s",
                                                            "open", "ben")
    _, _, body = raw(g, "GET", f"/repos/{REPO}/issues/{issue}")
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues/{issue_number}", "get", 200)
    recorded = read_replay("Issue.setUp.txt")[1].json()
    assert not keys_missing(recorded, body)
    assert not keys_missing(recorded["user"], body["user"])
    assert not keys_missing(recorded["reactions"], body["reactions"])
    for key, url in url_fields(body):
        assert url.startswith(emu.url) or url.startswith("https://avatars."), (key, url)


def test_since_state_and_sort_filters_follow_updated_at():
    clock = SteppingClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    emu = GitHubEmulator(clock=clock).start()
    try:
        emu.add_token(TOKEN, "ana")
        a = emu.open_issue(REPO, "ana", "a")
        clock.advance(timedelta(hours=1))
        b = emu.open_issue(REPO, "ana", "b")
        clock.advance(timedelta(hours=1))
        emu.close(REPO, b, "ana")
        clock.advance(timedelta(hours=1))
        emu.comment(REPO, a, "ana", "bump")  # moves a's updated_at past b's
        g = client(emu)
        _, _, body = raw(g, "GET", f"/repos/{REPO}/issues",
                         {"state": "all", "sort": "updated", "direction": "asc",
                          "since": "2026-03-02T10:30:00Z"})
        assert [(i["number"], i["updated_at"]) for i in body] == [
            (b, "2026-03-02T11:00:00Z"), (a, "2026-03-02T12:00:00Z")]
        _, _, body = raw(g, "GET", f"/repos/{REPO}/issues", {"since": "2026-03-02T11:30:00Z"})
        assert [i["number"] for i in body] == [a]  # default state=open
        _, _, body = raw(g, "GET", f"/repos/{REPO}/issues", {"state": "closed"})
        assert [(i["number"], i["closed_at"]) for i in body] == [(b, "2026-03-02T11:00:00Z")]
    finally:
        emu.stop()


def test_create_issue_and_validation_error(world):
    emu, g, *_ = world
    repo = g.get_repo(REPO)
    created = repo.create_issue(title="Draft handoff", body="for ben", assignees=["ben"],
                                labels=["handoff"])
    assert [a.login for a in created.assignees] == ["ben"]
    assert [lb.name for lb in created.labels] == ["handoff"]
    assert emu.issue(REPO, created.number)["user"]["login"] == "ana"
    status, _, body = raw(g, "POST", f"/repos/{REPO}/issues", body={"title": "x", "body": "y"})
    assert status == 201
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues", "post", 201)
    status, _, err = raw(g, "POST", f"/repos/{REPO}/issues", body={"body": "no title"})
    assert status == 422
    recorded = next(x for x in json.load(open(
        openapi.SPECS / "recorded/github/octokit-fixtures/errors.raw-fixture.json"))
        if x["status"] == 422)["response"]
    assert set(recorded) <= set(err) and set(recorded["errors"][0]) <= set(err["errors"][0])
    assert err["message"] == "Validation Failed"


def test_patch_issue_edits_and_emits_events(world):
    emu, g, pr, issue = world
    it = g.get_repo(REPO).get_issue(issue)
    it.edit(title="Login is very slow", state="closed", assignees=["ben"], labels=["perf"])
    assert (it.title, it.state, [a.login for a in it.assignees]) == (
        "Login is very slow", "closed", ["ben"])
    events = [e["event"] for e in emu.timeline(REPO, issue)]
    assert events[-4:] == ["unassigned", "assigned", "labeled", "closed"]
    status, _, body = raw(g, "PATCH", f"/repos/{REPO}/issues/{issue}", body={"state": "open"})
    assert status == 200 and body["state"] == "open"
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues/{issue_number}", "patch", 200)


def test_unknown_repo_or_issue_is_github_shaped_404(world):
    emu, g, *_ = world
    with pytest.raises(UnknownObjectException):
        g.get_repo("acme/nope")
    with pytest.raises(UnknownObjectException) as exc:
        g.get_repo(REPO).get_issue(999)
    assert exc.value.status == 404 and exc.value.data["message"] == "Not Found"
    assert "documentation_url" in exc.value.data


# ---------------------------------------------------------------- timeline
def test_timeline_through_pygithub(world):
    emu, g, pr, _ = world
    events = list(g.get_repo(REPO).get_issue(pr).get_timeline())
    assert [e.event for e in events] == [
        "committed", "review_requested", "assigned", "labeled", "reviewed", "commented",
        "review_requested", "review_request_removed", "unassigned", "unlabeled", "closed",
        "reopened"]
    by = {e.event: e for e in events}
    assert by["assigned"].actor.login == "ana" and by["commented"].body == "Fixed, thanks"
    assert by["reviewed"].raw_data["state"] == "changes_requested"
    assert by["reviewed"].raw_data["user"]["login"] == "ben"
    assert by["review_requested"].raw_data["requested_reviewer"]["login"] == "ben"
    committed = by["committed"].raw_data
    assert "id" not in committed and "created_at" not in committed  # as in the real API
    assert committed["message"] == "Cache the session lookup"


def test_timeline_items_validate_against_their_variants(world):
    emu, g, pr, _ = world
    _, _, body = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/timeline")
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues/{issue_number}/timeline",
                              "get", 200)
    for item in body:
        openapi.validate(item, openapi.component_pointer(TIMELINE_VARIANT[item["event"]]))


def test_timeline_items_carry_every_recorded_key(world):
    emu, g, pr, _ = world
    _, _, body = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/timeline")
    served = {}
    for item in body:
        served.setdefault(item["event"], item)
    recorded = {}
    for item in read_replay("PullRequest.testGetIssueTimeline.txt")[0].json():
        recorded.setdefault(item["event"], item)
    for ex in read_replay("IssueEvent.setUp.txt")[1:]:  # events API objects, 2025
        recorded.setdefault(ex.json()["event"], ex.json())
    compared = set(served) & set(recorded)
    assert compared == set(TIMELINE_VARIANT)
    for event in sorted(compared):
        assert not keys_missing(recorded[event], served[event]), event
        for sub in ("actor", "user", "assignee", "label", "author", "requested_reviewer"):
            if isinstance(recorded[event].get(sub), dict):
                assert not keys_missing(recorded[event][sub], served[event][sub]), (event, sub)


def test_timeline_paginates_with_link(world):
    emu, g, pr, _ = world
    status, headers, body = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/timeline",
                                {"per_page": 5})
    assert len(body) == 5 and 'rel="next"' in headers["link"]
    assert headers["link"].startswith(f"<{emu.url}/repositories/")


# ---------------------------------------------------------------- comments, assignees, labels
def test_comments_create_list_since_and_validate(world):
    emu, g, _, issue = world
    it = g.get_repo(REPO).get_issue(issue)
    c = it.create_comment("On it hb:abc")
    assert c.user.login == "ana" and c.body == "On it hb:abc"
    assert [x["body"] for x in emu.comments(REPO, issue)] == ["On it hb:abc"]
    timeline = emu.timeline(REPO, issue)
    assert timeline[-1]["event"] == "commented" and timeline[-1]["actor"]["login"] == "ana"
    listed = list(it.get_comments(since=c.created_at - timedelta(seconds=1)))
    assert [x.id for x in listed] == [c.id]
    assert list(it.get_comments(since=c.created_at + timedelta(seconds=1))) == []
    _, _, body = raw(g, "GET", f"/repos/{REPO}/issues/{issue}/comments")
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                              "get", 200)
    recorded = read_replay("IssueComment.setUp.txt")[2].json()
    assert not keys_missing(recorded, body[0])
    status, _, created = raw(g, "POST", f"/repos/{REPO}/issues/{issue}/comments",
                             body={"body": "second"})
    assert status == 201
    openapi.validate_response(created, "/repos/{owner}/{repo}/issues/{issue_number}/comments",
                              "post", 201)


def test_assignees_add_remove_and_validate(world):
    emu, g, _, issue = world
    it = g.get_repo(REPO).get_issue(issue)
    it.add_to_assignees("ben")
    assert sorted(a.login for a in it.assignees) == ["ana", "ben"]
    it.remove_from_assignees("ana")
    assert [a.login for a in it.assignees] == ["ben"] and emu.issue(REPO, issue)["assignee"]["login"] == "ben"
    tail = emu.timeline(REPO, issue)[-2:]
    assert [(e["event"], e["actor"]["login"], e["assignee"]["login"]) for e in tail] == [
        ("assigned", "ana", "ben"), ("unassigned", "ana", "ana")]
    path = "/repos/{owner}/{repo}/issues/{issue_number}/assignees"
    status, _, body = raw(g, "POST", f"/repos/{REPO}/issues/{issue}/assignees",
                          body={"assignees": ["ana"]})
    assert status == 201
    openapi.validate_response(body, path, "post", 201)
    status, _, body = raw(g, "DELETE", f"/repos/{REPO}/issues/{issue}/assignees",
                          body={"assignees": ["ana"]})
    assert status == 200
    openapi.validate_response(body, path, "delete", 200)


def test_labels_add_and_validate(world):
    emu, g, _, issue = world
    it = g.get_repo(REPO).get_issue(issue)
    it.add_to_labels("blocked", "perf")
    assert [lb.name for lb in g.get_repo(REPO).get_issue(issue).labels] == ["blocked", "perf"]
    assert [e["label"]["name"] for e in emu.timeline(REPO, issue) if e["event"] == "labeled"] \
        == ["blocked", "perf"]
    status, _, body = raw(g, "POST", f"/repos/{REPO}/issues/{issue}/labels",
                          body={"labels": ["x"]})
    assert status == 200 and [lb["name"] for lb in body] == ["blocked", "perf", "x"]
    openapi.validate_response(body, "/repos/{owner}/{repo}/issues/{issue_number}/labels",
                              "post", 200)


# ---------------------------------------------------------------- pulls
def test_pull_and_requested_reviewers(world):
    emu, g, pr, issue = world
    emu.request_review(REPO, pr, "ana", "ben")
    pull = g.get_repo(REPO).get_pull(pr)
    assert (pull.head.ref, pull.base.ref, pull.user.login) == ("fast-login", "main", "ana")
    users, teams = pull.get_review_requests()
    assert [u.login for u in users] == ["ben"] and list(teams) == []
    _, _, body = raw(g, "GET", f"/repos/{REPO}/pulls/{pr}/requested_reviewers")
    openapi.validate_response(body, "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
                              "get", 200)
    _, _, body = raw(g, "GET", f"/repos/{REPO}/pulls/{pr}")
    openapi.validate_response(body, "/repos/{owner}/{repo}/pulls/{pull_number}", "get", 200)
    emu.submit_review(REPO, pr, "ben", "APPROVED")  # a review clears the request
    _, _, body = raw(g, "GET", f"/repos/{REPO}/pulls/{pr}/requested_reviewers")
    assert body == {"users": [], "teams": []}
    with pytest.raises(UnknownObjectException):
        g.get_repo(REPO).get_pull(issue)


# ---------------------------------------------------------------- ETag / 304, pagination
def test_etag_304_is_free_and_changes_after_a_comment(world):
    emu, g, pr, _ = world
    params = {"state": "all", "sort": "updated", "since": "2020-01-01T00:00:00Z"}
    s1, h1, _ = raw(g, "GET", f"/repos/{REPO}/issues", params)
    assert s1 == 200 and h1["etag"].startswith('W/"')
    s2, h2, b2 = raw(g, "GET", f"/repos/{REPO}/issues", params,
                     headers={"If-None-Match": h1["etag"]})
    assert (s2, b2) == (304, None)
    assert h2["x-ratelimit-remaining"] == h1["x-ratelimit-remaining"]
    assert "x-ratelimit-reset" in h2 and h2["etag"].strip('"') == h1["etag"][3:-1]
    assert "content-type" not in h2  # as recorded (Environment.testEnvironmentVariables.txt)
    g.get_repo(REPO).get_issue(pr).create_comment("ping")
    s3, h3, b3 = raw(g, "GET", f"/repos/{REPO}/issues", params,
                     headers={"If-None-Match": h1["etag"]})
    assert s3 == 200 and h3["etag"] != h1["etag"] and b3


def test_pagination_250_issues_three_pages(github_emulator):
    emu = github_emulator
    emu.add_token(TOKEN, "ana")
    for i in range(250):
        emu.open_issue(REPO, "ana", f"issue {i}")
    g = client(emu, per_page=100)
    _, headers, body = raw(g, "GET", f"/repos/{REPO}/issues", {"per_page": 100})
    assert len(body) == 100
    links = dict((rel.split('"')[1], url.strip("<> "))
                 for url, rel in (part.split(";") for part in headers["link"].split(",")))
    assert set(links) == {"next", "last"}
    assert all(u.startswith(emu.url + "/repositories/") for u in links.values())
    assert links["last"].endswith("page=3")
    emu.reset_requests()
    numbers = [i.number for i in g.get_repo(REPO).get_issues(state="all")]
    assert sorted(numbers) == list(range(1, 251)) and numbers[0] == 250  # created desc
    pages = [r for r in emu.requests if "/issues" in r[1]]
    assert len(pages) == 3 and all(status == 200 for *_, status in pages)
    _, headers, body = raw(g, "GET", links["next"])
    assert len(body) == 100 and {'rel="prev"', 'rel="first"', 'rel="last"', 'rel="next"'} <= {
        p.split(";")[1].strip() for p in headers["link"].split(",")}


# ---------------------------------------------------------------- faults and auth
def test_fault_429_with_retry_after(world):
    emu, g, *_ = world
    emu.faults.add("GET", r"^/repos/acme/web$", "status", status=429, retry_after=7)
    with pytest.raises(GithubException) as exc:
        g.get_repo(REPO)
    assert exc.value.status == 429 and exc.value.headers["retry-after"] == "7"
    assert "secondary rate limit" in exc.value.data["message"]
    assert g.get_repo(REPO).full_name == REPO  # times=1: the next call goes through


def test_fault_502(world):
    emu, g, _, issue = world
    emu.faults.add("GET", r"/issues/\d+$", "status", status=502)
    with pytest.raises(GithubException) as exc:
        g.get_repo(REPO).get_issue(issue)
    assert exc.value.status == 502


def test_fault_slow_times_out_client(world):
    emu, _, _, issue = world
    g = client(emu, timeout=1)  # PyGithub asserts an int timeout, so 1 s is the floor
    repo = g.get_repo(REPO)
    emu.faults.add("GET", r"/issues/\d+$", "slow", delay=1.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        repo.get_issue(issue)


def test_fault_lost_response_applies_the_write_once(world):
    emu, g, _, issue = world
    it = g.get_repo(REPO).get_issue(issue)
    emu.faults.add("POST", r"/issues/\d+/comments$", "lost_response")
    with pytest.raises(requests.exceptions.ConnectionError):
        it.create_comment("Nudge hb:k1")
    assert [c["body"] for c in emu.comments(REPO, issue)] == ["Nudge hb:k1"]
    assert [c.body for c in it.get_comments()] == ["Nudge hb:k1"]  # server still healthy


def test_revoked_token_is_bad_credentials(world):
    emu, g, *_ = world
    assert g.get_user().login == "ana"
    emu.revoke_token(TOKEN)
    with pytest.raises(BadCredentialsException) as exc:
        client(emu).get_user().login
    assert exc.value.status == 401 and exc.value.data["message"] == "Bad credentials"
    with pytest.raises(BadCredentialsException):
        client(emu, token="never-issued").get_repo(REPO)


# ---------------------------------------------------------------- recorded data
def test_load_recorded_issue_and_timeline(github_emulator):
    emu = github_emulator
    emu.add_token(TOKEN, "ana")
    issue_json = read_replay("Issue.setUp.txt")[1].json()
    timeline_json = read_replay("PullRequest.testGetIssueTimeline.txt")[0].json()
    emu.load_recorded("PyGithub/PyGithub", 28, issue_json, timeline_json)
    g = client(emu)
    it = g.get_repo("PyGithub/PyGithub").get_issue(28)
    assert (it.title, it.id) == (issue_json["title"], issue_json["id"])
    events = list(it.get_timeline())
    assert [e.event for e in events] == [x["event"] for x in timeline_json]
    assert events[0].raw_data["sha"] == timeline_json[0]["sha"]
    _, _, body = raw(g, "GET", "/repos/PyGithub/PyGithub/issues/28")
    assert set(body) == set(issue_json) and body["body"] == issue_json["body"]
    assert body["url"] == f"{emu.url}/repos/PyGithub/PyGithub/issues/28"
    assert body["user"]["avatar_url"] == issue_json["user"]["avatar_url"]  # not a host URL
    # Mounted under another repo/number, the issue's own URLs follow the mount point.
    emu.load_recorded(REPO, 12, issue_json, timeline_json)
    moved = g.get_repo(REPO).get_issue(12)
    assert len(list(moved.get_timeline())) == len(timeline_json)


def test_scenarios_may_choose_numbers(github_emulator):
    emu = github_emulator
    assert emu.open_issue(REPO, "ana", "named", number=12) == 12
    assert emu.open_issue(REPO, "ana", "next") == 13  # numbering continues after 12
    with pytest.raises(ValueError):
        emu.open_issue(REPO, "ana", "clash", number=12)
    assert emu.numbers(REPO) == [12, 13]


# ---------------------------------------------------------------- issue 5: pulls list, edits, dependencies
def _spec_example(path: str, method: str = "GET", status: str = "200"):
    data = json.loads((openapi.SPECS / "recorded" / "github"
                       / "spec-examples.api.github.com.2026-03-10.json").read_text())
    [op] = [o for o in data["operations"] if o["path"] == path and o["method"] == method]
    return op["responses"][status]["examples"]["application/json#default"]


def test_pulls_list_through_pygithub_sorted_paged_and_valid(world):
    emu, g, pr, issue = world
    soon = datetime.now(timezone.utc) + timedelta(minutes=1)
    second = emu.open_issue(REPO, "ben", "Second PR", pull_request=True, head_ref="WEB-7-fix", at=soon)
    emu.comment(REPO, pr, "ana", "bump", at=soon + timedelta(minutes=1))  # pr: updated last
    pulls = list(g.get_repo(REPO).get_pulls(state="all", sort="updated", direction="desc"))
    assert [(p.number, p.head.ref) for p in pulls] == [(pr, "fast-login"), (second, "WEB-7-fix")]
    assert [p.number for p in g.get_repo(REPO).get_pulls(state="all", sort="created")] == [second, pr]
    status, headers, body = raw(g, "GET", f"/repos/{REPO}/pulls",
                                {"state": "all", "sort": "updated", "direction": "desc", "per_page": 1})
    assert status == 200 and len(body) == 1 and 'rel="next"' in headers["link"]
    assert headers["link"].startswith(f"<{emu.url}/repositories/")
    openapi.validate_response(body, "/repos/{owner}/{repo}/pulls", "get", 200)
    assert not keys_missing(_spec_example("/repos/{owner}/{repo}/pulls")[0], body[0])
    # Issues are no pull requests; state filters; the list's head ref is GET /pulls/{n}'s.
    assert issue not in [p["number"] for p in raw(g, "GET", f"/repos/{REPO}/pulls", {"state": "all"})[2]]
    emu.close(REPO, second, "ben")
    assert [p["number"] for p in raw(g, "GET", f"/repos/{REPO}/pulls")[2]] == [pr]
    assert raw(g, "GET", f"/repos/{REPO}/pulls/{second}")[2]["head"]["ref"] == "WEB-7-fix"
    status, _, body = raw(g, "GET", f"/repos/{REPO}/pulls", {"state": "merged"})
    assert status == 422 and body["message"] == "Validation Failed"


def test_edit_renames_with_a_timeline_event_and_bumps_updated_at():
    clock = SteppingClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    emu = GitHubEmulator(clock=clock).start()
    try:
        emu.add_token(TOKEN, "ana")
        n = emu.open_issue(REPO, "ana", "Old title", body="old body")
        clock.advance(timedelta(minutes=5))
        emu.edit(REPO, n, "ana", body="new body")
        assert emu.issue(REPO, n)["updated_at"] == "2026-03-02T09:05:00Z"
        assert [e.get("event") for e in emu.timeline(REPO, n)] == [], "a body edit leaves no timeline entry"
        clock.advance(timedelta(minutes=5))
        emu.edit(REPO, n, "ana", title="New title")
        g = client(emu)
        it = g.get_repo(REPO).get_issue(n)
        assert (it.title, it.body, it.updated_at.minute) == ("New title", "new body", 10)
        _, _, body = raw(g, "GET", f"/repos/{REPO}/issues/{n}/timeline")
        [renamed] = body
        assert renamed["rename"] == {"from": "Old title", "to": "New title"}
        openapi.validate(renamed, openapi.component_pointer("renamed-issue-event"))
        it.edit(title="Via PATCH")  # the REST edit records the rename too
        assert emu.timeline(REPO, n)[-1]["rename"] == {"from": "New title", "to": "Via PATCH"}
    finally:
        emu.stop()


def test_dependencies_add_events_on_both_sides_and_count_open_blockers(world):
    emu, g, pr, issue = world
    emu.add_blocked_by(REPO, issue, "ben", REPO, pr)
    emu.add_blocked_by(REPO, issue, "ben", REPO, pr)  # no-op
    _, _, blocked = raw(g, "GET", f"/repos/{REPO}/issues/{issue}")
    assert blocked["issue_dependencies_summary"] == {"blocked_by": 1, "total_blocked_by": 1,
                                                     "blocking": 0, "total_blocking": 0}
    openapi.validate_response(blocked, "/repos/{owner}/{repo}/issues/{issue_number}", "get", 200)
    _, _, timeline = raw(g, "GET", f"/repos/{REPO}/issues/{issue}/timeline")
    added = [e for e in timeline if e["event"] == "blocked_by_added"]
    assert len(added) == 1 and added[0]["blocked_by"]["number"] == pr
    openapi.validate(added[0], openapi.component_pointer("blocked-by-added-issue-event"))
    _, _, timeline = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/timeline")
    [blocking] = [e for e in timeline if e["event"] == "blocking_added"]
    openapi.validate(blocking, openapi.component_pointer("blocking-added-issue-event"))
    assert raw(g, "GET", f"/repos/{REPO}/issues/{pr}")[2]["issue_dependencies_summary"]["blocking"] == 1
    emu.close(REPO, pr, "ana")  # a closed blocker no longer blocks
    assert raw(g, "GET", f"/repos/{REPO}/issues/{issue}")[2]["issue_dependencies_summary"]["blocked_by"] == 0
    emu.remove_blocked_by(REPO, issue, "ben", REPO, pr)
    _, _, timeline = raw(g, "GET", f"/repos/{REPO}/issues/{issue}/timeline")
    removed = [e for e in timeline if e["event"] == "blocked_by_removed"]
    assert len(removed) == 1
    openapi.validate(removed[0], openapi.component_pointer("blocked-by-removed-issue-event"))
    assert raw(g, "GET", f"/repos/{REPO}/issues/{issue}")[2]["issue_dependencies_summary"]["total_blocked_by"] == 0


def test_commit_author_may_be_given(world):
    emu, g, pr, _ = world
    emu.commit(REPO, pr, "ben", "Tidy", email="ben@work.example", name="Ben O.")
    _, _, timeline = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/timeline")
    commits = [e for e in timeline if e["event"] == "committed"]
    assert [(c["author"]["name"], c["author"]["email"]) for c in commits] == [
        ("Ana Lima", "ana@example.com"), ("Ben O.", "ben@work.example")]
    openapi.validate(commits[-1], openapi.component_pointer("timeline-committed-event"))
    emu.commit(REPO, pr, "cara", "No e-mail on the account")
    assert emu.timeline(REPO, pr)[-1]["author"]["email"] == "cara@users.noreply.github.com"
