"""The GitHub emulator's state rendered as GitHub's JSON shapes (API version 2022-11-28).

Holds the canonical URL roots and :func:`rehost`, the object renderers the routes serve
(simple/public/private user, full repository, label, issue, pull request and its simple form,
timeline, comments, rate limit) and the builders of the timeline items a mutation stores
(event, comment, review, commit, issue reference). Every function reads a
:class:`~connectors.sandbox.github.state.GitHubState` and returns fresh dicts with canonical
``https://api.github.com`` / ``https://github.com`` URLs; callers hold the state's lock.

Shapes follow ``shared/specs/github/api.github.com.2026-03-10.json.gz`` and the recorded
traffic in ``shared/specs/recorded/github`` (file names given per function).
"""

from __future__ import annotations

import base64
import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.sandbox.github.state import GitHubState, Issue, Label, RateWindow

API_ROOT = "https://api.github.com"  # canonical roots stored internally, re-rendered per request
HTML_ROOT = "https://github.com"
ZERO_REACTIONS = {"total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                  "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
REPO_URLS = [
    ("forks_url", "/forks"), ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"), ("teams_url", "/teams"),
    ("hooks_url", "/hooks"), ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"), ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"), ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"), ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"), ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"), ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"), ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"), ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"), ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"), ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"), ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"), ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"), ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"), ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
]
#: ``pull-request`` keys that ``pull-request-simple`` (the list) does not carry.
PULL_ONLY = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by",
             "comments", "review_comments", "maintainer_can_modify", "commits",
             "additions", "deletions", "changed_files")


def node_id(kind: str, ident: int) -> str:
    """A GraphQL-style ``node_id`` for object type ``kind`` and database id ``ident``."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def rehost(obj: Any, root: str, key: str = "") -> Any:
    """Return ``obj`` with the canonical API/HTML roots of URL fields replaced by ``root``.

    URL fields are ``url``, ``href`` and ``*_url`` keys, at any depth; ``root`` is
    ``scheme://host:port`` with no trailing slash.
    """
    if isinstance(obj, dict):
        return {k: rehost(v, root, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rehost(v, root, key) for v in obj]
    if isinstance(obj, str) and (key in ("url", "href") or key.endswith("_url")):
        if obj.startswith(API_ROOT):
            return root + obj[len(API_ROOT):]
        if obj == HTML_ROOT or obj.startswith(HTML_ROOT + "/"):
            return root + obj[len(HTML_ROOT):]
    return obj


# ---------------------------------------------------------------------- accounts and repos
def simple_user(world: GitHubState, login: str) -> dict:
    """Simple-user object, the 19 keys recorded in Issue.setUp.txt (2025); an unknown
    ``login`` gets an account."""
    u = world.account(login)
    api = f"{API_ROOT}/users/{login}"
    return {
        "login": login, "id": u.id, "node_id": node_id("User", u.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
        "gravatar_id": "", "url": api, "html_url": f"{HTML_ROOT}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": u.type, "user_view_type": "public", "site_admin": False,
    }


def team_json(org: str, slug: str) -> dict:
    """Team object as a pull request's ``requested_teams`` and a timeline ``requested_team`` hold it
    (the ``team`` schema's example in the GitHub REST description, ``requested_teams`` of
    ``pulls/get``); ``name`` is the slug, ``id`` a stable number derived from ``org/slug``."""
    tid = sum((i + 1) * ord(c) for i, c in enumerate(f"{org}/{slug}")) % 1_000_000 + 1
    api = f"{API_ROOT}/organizations/{org}/team/{tid}"
    return {
        "id": tid, "node_id": node_id("Team", tid), "url": api,
        "html_url": f"{HTML_ROOT}/orgs/{org}/teams/{slug}", "name": slug, "slug": slug,
        "description": None, "privacy": "closed", "notification_setting": "notifications_enabled",
        "permission": "pull", "type": "organization", "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos", "parent": None,
    }


def public_user(world: GitHubState, login: str) -> dict:
    """Public-user object (GET /users/{username}; RateLimiting.testRateLimiting.txt)."""
    u = world.users[login]
    out = simple_user(world, login)
    out.update({
        "name": u.name, "company": None, "blog": "", "location": None,
        "email": u.email, "hireable": None, "bio": None, "twitter_username": None,
        "public_repos": sum(1 for r in world.repos.values() if r.owner == login),
        "public_gists": 0, "followers": 0, "following": 0,
        "created_at": u.created_at, "updated_at": u.created_at,
    })
    return out


def private_user(world: GitHubState, login: str) -> dict:
    """Private-user object (GET /user, authenticated), ``user_view_type: private``."""
    out = public_user(world, login)
    out["user_view_type"] = "private"
    out.update({"private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
                "disk_usage": 0, "collaborators": 0, "two_factor_authentication": True,
                "plan": {"name": "free", "space": 976562499, "collaborators": 0,
                         "private_repos": 10000}})
    return out


def repo_json(world: GitHubState, full_name: str) -> dict:
    """Full-repository object, keys as recorded in Issue.setUp.txt (exchange 1)."""
    r = world.repos[full_name]
    api = f"{API_ROOT}/repos/{full_name}"
    html = f"{HTML_ROOT}/{full_name}"
    open_count = sum(1 for i in world.issues.values()
                     if i.repo == full_name and i.state == "open")
    out: dict[str, Any] = {
        "id": r.id, "node_id": node_id("Repository", r.id), "name": r.name,
        "full_name": full_name, "private": False, "owner": simple_user(world, r.owner),
        "html_url": html, "description": None, "fork": False, "url": api,
    }
    for key, suffix in REPO_URLS:
        out[key] = api + suffix
    host = HTML_ROOT.split("//", 1)[1]
    out.update({
        "created_at": r.created_at, "updated_at": r.updated_at,
        "pushed_at": r.updated_at, "git_url": f"git://{host}/{full_name}.git",
        "ssh_url": f"git@{host}:{full_name}.git", "clone_url": f"{html}.git",
        "svn_url": html, "homepage": None, "size": 0, "stargazers_count": 0,
        "watchers_count": 0, "language": None, "has_issues": True, "has_projects": True,
        "has_downloads": True, "has_wiki": True, "has_pages": False,
        "has_discussions": False, "forks_count": 0, "mirror_url": None,
        "archived": False, "disabled": False, "open_issues_count": open_count,
        "license": None, "allow_forking": True, "is_template": False,
        "web_commit_signoff_required": False, "topics": [], "visibility": "public",
        "forks": 0, "open_issues": open_count, "watchers": 0, "default_branch": "main",
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True,
                        "pull": True},
        "custom_properties": {}, "network_count": 0, "subscribers_count": 0,
    })
    return out


def label_json(world: GitHubState, repo: str, name: str) -> dict:
    """Label object (``GET /repos/{o}/{r}/labels/{name}``); creates the label if new."""
    lb = world.label(repo, name)
    return {"id": lb.id, "node_id": node_id("Label", lb.id),
            "url": f"{API_ROOT}/repos/{repo}/labels/{name}", "name": name,
            "color": lb.color, "default": False, "description": lb.description}


def label_ref(lb: Label) -> dict:
    """The ``label: {name, color}`` of a ``labeled`` / ``unlabeled`` event."""
    return {"name": lb.name, "color": lb.color}


# ---------------------------------------------------------------------- issues and pulls
def issue_json(world: GitHubState, issue: Issue) -> dict:
    """Issue object for API 2022-11-28 (keys as recorded in Issue.setUp.txt).

    A recorded item is its recorded JSON with ``updated_at`` and ``comments`` overlaid, and
    assignees, labels and state once a write has touched them.
    """
    assignees = [simple_user(world, a) for a in issue.assignees]
    state = {"state": issue.state, "closed_at": issue.closed_at,
             "closed_by": simple_user(world, issue.closed_by) if issue.closed_by else None,
             "state_reason": issue.state_reason}
    if issue.raw is not None:
        out = copy.deepcopy(issue.raw)
        out["updated_at"] = issue.updated_at
        out["comments"] = issue.raw_comments + len(issue.comment_ids)
        if "assignees" in issue.dirty:
            out["assignee"] = assignees[0] if assignees else None
            out["assignees"] = assignees
        if "labels" in issue.dirty:
            out["labels"] = [label_json(world, issue.repo, n) for n in issue.labels]
        if "state" in issue.dirty:
            out.update(state)
        return out
    api = f"{API_ROOT}/repos/{issue.repo}/issues/{issue.number}"
    kind = "pull" if issue.is_pr else "issues"
    out = {
        "url": api, "repository_url": f"{API_ROOT}/repos/{issue.repo}",
        "labels_url": f"{api}/labels{{/name}}", "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{HTML_ROOT}/{issue.repo}/{kind}/{issue.number}",
        "id": issue.id, "node_id": node_id("PullRequest" if issue.is_pr else "Issue", issue.id),
        "number": issue.number, "title": issue.title, "user": simple_user(world, issue.user),
        "labels": [label_json(world, issue.repo, n) for n in issue.labels],
        "state": issue.state, "locked": False,
        "assignee": assignees[0] if assignees else None, "assignees": assignees,
        "milestone": None, "comments": len(issue.comment_ids),
        "created_at": issue.created_at, "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "author_association": world.association(issue.repo, issue.user),
        "type": None, "active_lock_reason": None,
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        "issue_dependencies_summary": dependencies_json(world, issue),
    }
    if issue.is_pr:
        pr = f"{API_ROOT}/repos/{issue.repo}/pulls/{issue.number}"
        html = f"{HTML_ROOT}/{issue.repo}/pull/{issue.number}"
        out["draft"] = False
        # merged_at is left out while unmerged: the spec marks it non-nullable and its
        # own example omits it (see the report / tests for this caveat).
        out["pull_request"] = {"url": pr, "html_url": html, "diff_url": f"{html}.diff",
                               "patch_url": f"{html}.patch"}
    out.update({
        "body": issue.body, "closed_by": state["closed_by"],
        "reactions": {"url": f"{api}/reactions", **ZERO_REACTIONS},
        "timeline_url": f"{api}/timeline", "performed_via_github_app": None,
        "state_reason": issue.state_reason,
    })
    return out


def dependencies_json(world: GitHubState, issue: Issue) -> dict:
    """``issue_dependencies_summary``: ``blocked_by`` / ``blocking`` count open items only,
    the ``total_*`` counts every one, as GitHub does."""
    blocking = [world.issues[k] for k in world.blocking.get((issue.repo, issue.number), ())]
    return {"blocked_by": sum(1 for k in issue.blocked_by if world.issues[k].state == "open"),
            "total_blocked_by": len(issue.blocked_by),
            "blocking": sum(1 for i in blocking if i.state == "open"),
            "total_blocking": len(blocking)}


def issue_ref(world: GitHubState, issue: Issue) -> dict:
    """Issue Reference (``nullable-issue-reference``) embedded in dependency events."""
    return {"number": issue.number, "title": issue.title, "state": issue.state,
            "state_reason": issue.state_reason, "repository": repo_json(world, issue.repo),
            "issue_type": None}


def pull_json(world: GitHubState, issue: Issue) -> dict:
    """Pull-request object (GET /repos/{o}/{r}/pulls/{n}), API 2022-11-28, never merged."""
    repo = issue.repo
    owner = world.repos[repo].owner
    api = f"{API_ROOT}/repos/{repo}/pulls/{issue.number}"
    html = f"{HTML_ROOT}/{repo}/pull/{issue.number}"
    iapi = f"{API_ROOT}/repos/{repo}/issues/{issue.number}"
    base = issue_json(world, issue)
    repo_obj = repo_json(world, repo)
    head_sha = issue.head_sha()
    assignees = [simple_user(world, a) for a in issue.assignees]
    return {
        "url": api, "id": issue.id, "node_id": node_id("PullRequest", issue.id),
        "html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
        "issue_url": iapi, "number": issue.number, "state": issue.state,
        "locked": False, "title": issue.title, "user": simple_user(world, issue.user),
        "body": issue.body, "created_at": issue.created_at,
        "updated_at": issue.updated_at, "closed_at": issue.closed_at,
        "merged_at": None, "merge_commit_sha": None,
        "assignee": assignees[0] if assignees else None, "assignees": assignees,
        "requested_reviewers": [simple_user(world, r) for r in issue.requested_reviewers],
        "requested_teams": [team_json(issue.repo.split("/")[0], t) for t in issue.requested_teams],
        "labels": base["labels"], "milestone": None,
        "draft": False, "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{API_ROOT}/repos/{repo}/pulls/comments{{/number}}",
        "comments_url": f"{iapi}/comments",
        "statuses_url": f"{API_ROOT}/repos/{repo}/statuses/{head_sha}",
        "head": {"label": f"{owner}:{issue.head_ref}", "ref": issue.head_ref,
                 "sha": head_sha, "user": simple_user(world, owner), "repo": repo_obj},
        "base": {"label": f"{owner}:main", "ref": "main",
                 "sha": issue.base_sha(), "user": simple_user(world, owner),
                 "repo": repo_obj},
        "_links": {
            "self": {"href": api}, "html": {"href": html}, "issue": {"href": iapi},
            "comments": {"href": f"{iapi}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": f"{API_ROOT}/repos/{repo}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": f"{API_ROOT}/repos/{repo}/statuses/{head_sha}"},
        },
        "author_association": world.association(repo, issue.user), "auto_merge": None,
        "active_lock_reason": None, "merged": False, "mergeable": None,
        "rebaseable": None, "mergeable_state": "unknown", "merged_by": None,
        "comments": base["comments"], "review_comments": 0,
        "maintainer_can_modify": False, "commits": len(issue.commits),
        "additions": 0, "deletions": 0, "changed_files": 0,
    }


def pull_simple_json(world: GitHubState, issue: Issue) -> dict:
    """Pull-request-simple object (an element of GET /repos/{o}/{r}/pulls), API 2022-11-28."""
    out = pull_json(world, issue)
    for key in PULL_ONLY:
        out.pop(key, None)
    return out


def timeline_json(world: GitHubState, issue: Issue) -> list[dict]:
    """The timeline items in order (time, then insertion); comments as ``commented`` items."""
    entries = sorted(issue.timeline, key=lambda e: (e["at"], e["seq"]))
    out = []
    for e in entries:
        if e.get("comment_id") is not None:
            c = world.comments[e["comment_id"]]
            item = copy.deepcopy(c)
            item["event"] = "commented"
            item["actor"] = copy.deepcopy(c["user"])
        else:
            item = copy.deepcopy(e["item"])
        out.append(item)
    return out


#: Timeline item kinds that are not issue events (the events API leaves them out).
TIMELINE_ONLY = frozenset({"commented", "reviewed", "committed", "cross-referenced", "line-commented",
                           "commit-commented"})


def issue_events_json(world: GitHubState, issue: Issue) -> list[dict]:
    """Issue events (GET /repos/{o}/{r}/issues/{n}/events, ``issue-event-for-issue``), oldest first:
    the timeline's event items, without comments, reviews and commits."""
    entries = sorted(issue.timeline, key=lambda e: (e["at"], e["seq"]))
    out = []
    for e in entries:
        item = e.get("item")
        if item is None or "id" not in item or item.get("event") in TIMELINE_ONLY:
            continue
        item = copy.deepcopy(item)
        if item["event"] in ("assigned", "unassigned") and "assigner" not in item:
            # the events API names who assigned (``assigned-issue-event``); the timeline does not
            item["assigner"] = copy.deepcopy(item["actor"])
        out.append(item)
    return out


def comments_json(world: GitHubState, issue: Issue) -> list[dict]:
    """The issue-comment objects standing on ``issue`` (recorded ones first), oldest first."""
    out = []
    for entry in issue.timeline:
        item = entry.get("item")
        if item is not None and item.get("event") == "commented":
            out.append({k: v for k, v in item.items() if k not in ("event", "actor")})
    out.extend(world.comments[cid] for cid in issue.comment_ids)
    return copy.deepcopy(out)


def rate_limit_json(rate: RateWindow) -> dict:
    """Rate-limit overview (GET /rate_limit): ``resources`` plus the legacy ``rate`` (= core)."""
    core = {"limit": rate.limit, "used": rate.used, "remaining": rate.limit - rate.used,
            "reset": rate.reset}

    def fresh(limit: int) -> dict:
        return {"limit": limit, "used": 0, "remaining": limit, "reset": rate.reset}

    return {"resources": {
        "core": core, "search": fresh(30), "graphql": fresh(5000),
        "integration_manifest": fresh(5000), "source_import": fresh(100),
        "code_scanning_upload": fresh(1000), "actions_runner_registration": fresh(10000),
        "scim": fresh(15000), "dependency_snapshots": fresh(100)},
        "rate": dict(core)}


# ---------------------------------------------------------------------- stored timeline items
def event_item(world: GitHubState, issue: Issue, actor: str, kind: str, eid: int, when: str,
               extra: dict) -> dict:
    """Issue-event timeline item ``kind`` (``assigned``, ``labeled``, ``closed`` …) by ``actor``;
    ``extra`` holds the kind's own keys (``assignee``, ``label``, ``rename`` …)."""
    type_name = "".join(p.capitalize() for p in kind.split("_")) + "Event"
    item = {"id": eid, "node_id": node_id(type_name, eid),
            "url": f"{API_ROOT}/repos/{issue.repo}/issues/events/{eid}",
            "actor": simple_user(world, actor), "event": kind, "commit_id": None,
            "commit_url": None, "created_at": when}
    item.update(extra)
    item["performed_via_github_app"] = None
    return item


def comment_item(world: GitHubState, issue: Issue, actor: str, body: str, cid: int,
                 when: str) -> dict:
    """Issue-comment object ``cid`` by ``actor`` (GET /repos/{o}/{r}/issues/comments/{id})."""
    kind = "pull" if issue.is_pr else "issues"
    api = f"{API_ROOT}/repos/{issue.repo}/issues/comments/{cid}"
    return {
        "url": api, "html_url": f"{HTML_ROOT}/{issue.repo}/{kind}/{issue.number}#issuecomment-{cid}",
        "issue_url": f"{API_ROOT}/repos/{issue.repo}/issues/{issue.number}",
        "id": cid, "node_id": node_id("IssueComment", cid),
        "user": simple_user(world, actor), "created_at": when, "updated_at": when,
        "author_association": world.association(issue.repo, actor), "body": body,
        "reactions": {"url": f"{api}/reactions", **ZERO_REACTIONS},
        "performed_via_github_app": None,
    }


def review_item(world: GitHubState, issue: Issue, actor: str, state: str, body: str, rid: int,
                when: str) -> dict:
    """Timeline ``reviewed`` item ``rid``; ``state`` upper case in, lower case out, as recorded
    in PullRequest.testGetIssueTimeline.txt."""
    repo, number = issue.repo, issue.number
    pr_api = f"{API_ROOT}/repos/{repo}/pulls/{number}"
    html = f"{HTML_ROOT}/{repo}/pull/{number}#pullrequestreview-{rid}"
    return {
        "id": rid, "node_id": node_id("PullRequestReview", rid),
        "user": simple_user(world, actor), "body": body,
        "commit_id": issue.head_sha(), "submitted_at": when,
        "state": state.lower(), "html_url": html, "pull_request_url": pr_api,
        "author_association": world.association(repo, actor),
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
        "event": "reviewed",
    }


def commit_item(repo: str, sha: str, parent: str, tree: str, person: dict, message: str) -> dict:
    """Timeline ``committed`` item: no ``id``/``created_at``/``actor``, as in the real API
    (PullRequest.testGetIssueTimeline.txt); ``person`` is ``{name, email, date}``, both
    author and committer."""
    return {
        "sha": sha, "node_id": node_id("Commit", int(sha[:8], 16)),
        "url": f"{API_ROOT}/repos/{repo}/git/commits/{sha}",
        "html_url": f"{HTML_ROOT}/{repo}/commit/{sha}",
        "author": dict(person), "committer": dict(person),
        "tree": {"sha": tree, "url": f"{API_ROOT}/repos/{repo}/git/trees/{tree}"},
        "message": message,
        "parents": [{"sha": parent, "url": f"{API_ROOT}/repos/{repo}/git/commits/{parent}",
                     "html_url": f"{HTML_ROOT}/{repo}/commit/{parent}"}],
        "verification": {"verified": False, "reason": "unsigned", "signature": None,
                         "payload": None, "verified_at": None},
        "event": "committed",
    }
