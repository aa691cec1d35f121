"""Team review requests (issue 16, "Teams are not owners") in the GitHub emulator, over real HTTP.

The emulator serves a team's request as GitHub does (timeline ``review_requested`` /
``review_request_removed`` with ``requested_team``, the pull's ``requested_teams``, the
``requested_reviewers`` list's ``teams``), checked against GitHub's OpenAPI description; the
real connector maps it to a ``review_requested`` / ``review_request_removed`` with no subject and
``label`` ``team:<slug>``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from bridge.core.model import Account, EventKind, ItemRef
from tests.sandbox.test_github_emulator import TIMELINE_VARIANT, client, raw
from tests.support import openapi
from tests.support.github import emulated_github
from tests.support.recorded import SPECS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
REPO = "acme/web"
RECORDED = SPECS / "recorded" / "github"


def test_a_team_request_is_served_as_github_serves_it_and_validates():
    with emulated_github(T0, "ghp_team", "hb-bot", REPO) as (emu, _, clock):
        emu.add_token("ghp_ana", "ana")
        g = client(emu, token="ghp_ana")
        emu.open_issue(REPO, "ana", "Copy for the landing page", pull_request=True, number=7, at=clock())
        emu.request_team_review(REPO, 7, "ana", "content", at=clock() + timedelta(minutes=1))
        users, teams = g.get_repo(REPO).get_pull(7).get_review_requests()
        assert list(users) == [] and [(t.slug, t.name) for t in teams] == [("content", "content")]
        _, _, body = raw(g, "GET", f"/repos/{REPO}/pulls/7/requested_reviewers")
        openapi.validate_response(body, "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "get", 200)
        _, _, pull = raw(g, "GET", f"/repos/{REPO}/pulls/7")
        openapi.validate_response(pull, "/repos/{owner}/{repo}/pulls/{pull_number}", "get", 200)
        assert pull["requested_teams"][0]["html_url"].endswith("/orgs/acme/teams/content")  # served on its own host

        emu.request_team_review(REPO, 7, "ana", "content", at=clock() + timedelta(minutes=2), removed=True)
        _, _, body = raw(g, "GET", f"/repos/{REPO}/pulls/7/requested_reviewers")
        assert body == {"users": [], "teams": []}
        _, _, timeline = raw(g, "GET", f"/repos/{REPO}/issues/7/timeline")
        openapi.validate_response(timeline, "/repos/{owner}/{repo}/issues/{issue_number}/timeline", "get", 200)
        requests = [t for t in timeline if t["event"] in ("review_requested", "review_request_removed")]
        assert [(t["event"], t["requested_team"]["slug"], "requested_reviewer" in t) for t in requests] == [
            ("review_requested", "content", False), ("review_request_removed", "content", False)]
        for item in requests:
            openapi.validate(item, openapi.component_pointer(TIMELINE_VARIANT[item["event"]]))


def _example_teams(node):
    if isinstance(node, dict):
        if node.get("requested_teams"):
            yield node["requested_teams"][0]
        for v in node.values():
            yield from _example_teams(v)
    elif isinstance(node, list):
        for v in node:
            yield from _example_teams(v)


def test_the_served_team_carries_every_key_of_githubs_own_example():
    # No recorded exchange holds a team; GitHub's own pull request example does (recorded/github/
    # spec-examples.api.github.com.2026-03-10.json): every key it shows, the emulator serves.
    examples = json.loads((RECORDED / "spec-examples.api.github.com.2026-03-10.json").read_text(encoding="utf-8"))
    example = next(_example_teams(examples))
    with emulated_github(T0, "ghp_team", "hb-bot", REPO) as (emu, _, clock):
        emu.add_token("ghp_ana", "ana")
        emu.open_issue(REPO, "ana", "Copy", pull_request=True, number=7, at=clock())
        emu.request_team_review(REPO, 7, "ana", "content", at=clock())
        _, _, body = raw(client(emu, token="ghp_ana"), "GET", f"/repos/{REPO}/pulls/7/requested_reviewers")
        assert set(example) - set(body["teams"][0]) == set()


def test_the_connector_maps_a_team_request_and_its_removal_to_the_team_label():
    with emulated_github(T0, "ghp_team", "hb-bot", REPO) as (emu, conn, clock):
        emu.open_issue(REPO, "ana", "Copy for the landing page", pull_request=True, number=7, at=clock())
        emu.request_team_review(REPO, 7, "ana", "content", at=clock() + timedelta(minutes=1))
        emu.request_team_review(REPO, 7, "ana", "content", at=clock() + timedelta(minutes=2), removed=True)
        clock.advance(timedelta(minutes=5))
        result = conn.fetch(ItemRef("github", f"{REPO}#7"))
        team = [(e.kind, e.actor, e.subject, e.label) for e in result.events
                if e.kind in (EventKind.REVIEW_REQUESTED, EventKind.REVIEW_REQUEST_REMOVED)]
        assert team == [(EventKind.REVIEW_REQUESTED, Account("github", "ana"), None, "team:content"),
                        (EventKind.REVIEW_REQUEST_REMOVED, Account("github", "ana"), None, "team:content")]
        assert not [s for s in result.skipped if "team" in s[1]]
