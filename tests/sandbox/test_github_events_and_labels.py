"""The GitHub emulator's issue events list and label removal, which other GitHub clients call
on the same data (``GET /repos/{o}/{r}/issues/{n}/events``, ``DELETE
/repos/{o}/{r}/issues/{n}/labels/{name}``), checked against GitHub's OpenAPI description; and
its issue-dependency index (``issue_dependencies_summary`` without scanning every issue).
"""

from __future__ import annotations

import pytest
import requests
from github.GithubException import GithubException, UnknownObjectException

from connectors.sandbox.github.emulator import GitHubEmulator
from tests.sandbox.test_github_emulator import REPO, client, raw, world  # noqa: F401 - the fixture
from tests.support import openapi

EVENTS = "/repos/{owner}/{repo}/issues/{issue_number}/events"
LABEL = "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"
# The events API's variant of each event kind the emulator records (``issue-event-for-issue``
# lists no variant for closed/reopened; GitHub serves them with the state-change shape).
VARIANT = {
    "assigned": "assigned-issue-event",
    "unassigned": "unassigned-issue-event",
    "labeled": "labeled-issue-event",
    "unlabeled": "unlabeled-issue-event",
    "review_requested": "review-requested-issue-event",
    "review_request_removed": "review-request-removed-issue-event",
    "closed": "state-change-issue-event",
    "reopened": "state-change-issue-event",
}


def test_issue_events_are_the_timelines_events_without_comments_reviews_or_commits(world):
    emu, g, pr, _ = world
    _, _, body = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/events")
    assert [e["event"] for e in body] == [
        "review_requested", "assigned", "labeled", "review_requested", "review_request_removed",
        "unassigned", "unlabeled", "closed", "reopened"]
    timeline_ids = [e.get("id") for e in emu.timeline(REPO, pr)]
    assert [e["id"] for e in body] == [i for i in timeline_ids if i in {e["id"] for e in body}]
    assert body[1]["assigner"]["login"] == "ana" and body[1]["assignee"]["login"] == "ben"
    for e in body:
        openapi.validate(e, openapi.component_pointer(VARIANT[e["event"]]))
    openapi.validate_response([e for e in body if e["event"] not in ("closed", "reopened")], EVENTS, "get", 200)


def test_issue_events_through_pygithub_paginate_with_link(world):
    emu, g, pr, _ = world
    events = list(g.get_repo(REPO).get_issue(pr).get_events())
    assert [e.event for e in events][:3] == ["review_requested", "assigned", "labeled"]
    assert events[1].actor.login == "ana"
    _, headers, page = raw(g, "GET", f"/repos/{REPO}/issues/{pr}/events", {"per_page": 4})
    assert len(page) == 4 and 'rel="next"' in headers["link"]
    assert headers["link"].startswith(f"<{emu.url}/repositories/")
    with pytest.raises(UnknownObjectException):
        list(g.get_repo(REPO).get_issue(999).get_events())


def test_remove_label_answers_the_labels_left_and_records_unlabeled(world):
    emu, g, _, issue = world
    emu.add_label(REPO, issue, "ana", "bug")
    emu.add_label(REPO, issue, "ana", "area/login")
    it = g.get_repo(REPO).get_issue(issue)
    status, _, body = raw(g, "DELETE", f"/repos/{REPO}/issues/{issue}/labels/area%2Flogin")
    assert status == 200 and [lb["name"] for lb in body] == ["bug"]
    openapi.validate_response(body, LABEL, "delete", 200)
    it.remove_from_labels("bug")  # PyGithub's call
    assert emu.issue(REPO, issue)["labels"] == []
    assert [e["event"] for e in emu.timeline(REPO, issue)][-2:] == ["unlabeled", "unlabeled"]
    assert emu.timeline(REPO, issue)[-1]["actor"]["login"] == "ana"
    with pytest.raises(GithubException) as gone:
        it.remove_from_labels("bug")
    assert gone.value.status == 404 and gone.value.data["message"] == "Label does not exist"
    openapi.validate(gone.value.data, openapi.component_pointer("basic-error"))
    emu.add_label(REPO, issue, "ana", "bug")
    assert requests.delete(f"{emu.url}/repos/{REPO}/issues/{issue}/labels/bug", timeout=5).status_code == 401
    assert [lb["name"] for lb in emu.issue(REPO, issue)["labels"]] == ["bug"]


def test_dependencies_summary_counts_from_the_index():
    emu = GitHubEmulator()
    emu.create_repo(REPO)
    a, b, c = (emu.open_issue(REPO, "ana", t) for t in ("A", "B", "C"))
    emu.add_blocked_by(REPO, a, "ana", REPO, c)
    emu.add_blocked_by(REPO, b, "ana", REPO, c)
    emu.close(REPO, b, "ana")
    deps = emu.issue(REPO, c)["issue_dependencies_summary"]
    assert (deps["blocking"], deps["total_blocking"]) == (1, 2)
    assert emu.state.blocking[(REPO, c)] == [(REPO, a), (REPO, b)]  # the index, kept by the acts
    emu.remove_blocked_by(REPO, a, "ana", REPO, c)
    assert emu.state.blocking[(REPO, c)] == [(REPO, b)]
    deps = emu.issue(REPO, c)["issue_dependencies_summary"]
    assert (deps["blocking"], deps["total_blocking"], deps["blocked_by"]) == (0, 1, 0)
    assert emu.issue(REPO, a)["issue_dependencies_summary"]["total_blocked_by"] == 0
