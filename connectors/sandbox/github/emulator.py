"""Serve a local, in-memory emulator of the GitHub REST API subset the connector uses.

Mimics API version 2022-11-28 (the default GitHub answers when no
``X-GitHub-Api-Version`` is sent): issues carry the singular ``assignee`` and
``GET /rate_limit`` the legacy ``rate`` object (shared/specs/README.md, "Version
caveat"). Shapes follow the vendor OpenAPI file
``shared/specs/github/api.github.com.2026-03-10.json.gz`` and the recorded traffic in
``shared/specs/recorded/github`` (DESIGN.md "Emulators").

Served by Flask through ``werkzeug.serving.make_server`` on a daemon thread. Every
URL-bearing field (``url``, ``href``, ``*_url``) and every ``Link`` header is rendered
with the emulator's own ``scheme://host:port`` taken from the request, so clients that
follow URLs from responses (PyGithub's ``PaginatedList``) stay on the emulator. As on
github.com, follow-up ``Link`` pages use ``/repositories/{id}/...`` paths.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from connectors.sandbox.emulation import Fault, Faults, LoopbackServer, lost_response_middleware

API_ROOT = "https://api.github.com"  # canonical roots stored internally, re-rendered per request
HTML_ROOT = "https://github.com"
API_VERSION = "2022-11-28"
JSON_TYPE = "application/json; charset=utf-8"
DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
_ZERO_REACTIONS = {"total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                   "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
_REVIEW_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"}
_REPO_URLS = [
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


def _ts(value: datetime | str) -> str:
    """Format an aware datetime (or pass an ISO string through) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if isinstance(value, str):
        return _ts(_parse_ts(value))
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def _sha(*parts: Any) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()


def _rehost(obj: Any, root: str, key: str = "") -> Any:
    """Return ``obj`` with the canonical API/HTML roots of URL fields replaced by ``root``."""
    if isinstance(obj, dict):
        return {k: _rehost(v, root, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rehost(v, root, key) for v in obj]
    if isinstance(obj, str) and (key in ("url", "href") or key.endswith("_url")):
        if obj.startswith(API_ROOT):
            return root + obj[len(API_ROOT):]
        if obj == HTML_ROOT or obj.startswith(HTML_ROOT + "/"):
            return root + obj[len(HTML_ROOT):]
    return obj


class GitHubError(Exception):
    """An HTTP error answered with GitHub's error body ``{message, documentation_url, status}``."""

    def __init__(self, status: int, message: str, errors: list | None = None,
                 doc: str = DOCS, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.doc = status, message, errors, doc
        self.headers = headers or {}

    def body(self) -> dict:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.doc
        out["status"] = str(self.status)
        return out


@dataclass
class _Issue:
    repo: str
    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: str
    updated_at: str
    is_pr: bool = False
    head_ref: str | None = None
    state: str = "open"
    state_reason: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None
    assignees: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    comment_ids: list[int] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)  # {"at", "seq", "item"|"comment_id"}
    commits: list[str] = field(default_factory=list)
    blocked_by: list[tuple[str, int]] = field(default_factory=list)  # native dependencies
    raw: dict | None = None  # recorded issue JSON, served as-is (plus overlays)
    raw_comments: int = 0
    dirty: set = field(default_factory=set)


class GitHubEmulator(LoopbackServer):
    """An in-memory GitHub (REST, API version 2022-11-28) served on loopback.

    Drive it either through HTTP (the official client, PyGithub) or directly through the
    scenario methods below (``open_issue``, ``request_review``, ...), which write the same
    state and timeline events the HTTP endpoints do. ``at=None`` means now, from ``clock``.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        """Create an empty emulator; ``clock`` returns aware UTC datetimes (default: real time)."""
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.faults = Faults()
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        self._seq = itertools.count()
        self._users: dict[str, dict] = {}
        self._tokens: dict[str, str] = {}
        self._revoked: set[str] = set()
        self._repos: dict[str, dict] = {}
        self._repo_ids: dict[int, str] = {}
        self._issues: dict[tuple[str, int], _Issue] = {}
        self._comments: dict[int, dict] = {}
        self._used = 0
        self._reset = int(self.clock().timestamp()) + 3600
        self._server = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.app = self._build_app()

    THREAD_NAME = "github-emulator"

    # ------------------------------------------------------------------ setup
    def add_user(self, login: str, name: str | None = None, email: str | None = None) -> dict:
        """Create (or return) an account; returns its simple-user object (canonical URLs)."""
        with self._lock:
            if login not in self._users:
                uid = next(self._ids)
                self._users[login] = {"login": login, "id": uid, "name": name, "email": email,
                                      "created_at": _ts(self.clock()), "type": "User"}
            else:
                if name is not None:
                    self._users[login]["name"] = name
                if email is not None:
                    self._users[login]["email"] = email
            return self._simple_user(login)

    def add_token(self, token: str, login: str) -> None:
        """Accept ``token`` (``Authorization: token|Bearer <token>``) as ``login``."""
        with self._lock:
            self.add_user(login)
            self._tokens[token] = login
            self._revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer 401 Bad credentials from now on."""
        with self._lock:
            self._revoked.add(token)

    def create_repo(self, full_name: str) -> dict:
        """Create (or return) repository ``owner/name``; returns its full-repository object."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
        with self._lock:
            self._ensure_repo(full_name, owner, name)
            return self._repo_json(full_name)

    def _ensure_repo(self, full_name: str, owner: str | None = None, name: str | None = None) -> None:
        """Create the repository's state if missing (no rendering: callers in loops stay O(1))."""
        if owner is None:
            owner, _, name = full_name.partition("/")
        with self._lock:
            if full_name not in self._repos:
                self.add_user(owner)
                rid = next(self._ids)
                now = _ts(self.clock())
                self._repos[full_name] = {"id": rid, "owner": owner, "name": name,
                                          "full_name": full_name, "created_at": now,
                                          "updated_at": now, "next_number": 1, "labels": {}}
                self._repo_ids[rid] = full_name

    # ------------------------------------------------------------------ scenario actions
    def open_issue(self, repo: str, actor: str, title: str, body: str = "",
                   pull_request: bool = False, at: datetime | None = None,
                   head_ref: str | None = None, number: int | None = None) -> int:
        """Open an issue (or a pull request) by ``actor``; return its number (shared numbering).

        ``number`` picks the number (scenarios name their items); it must be unused, and
        later items continue after the highest number given.
        """
        with self._lock:
            if repo not in self._repos:
                self.create_repo(repo)
            self.add_user(actor)
            r = self._repos[repo]
            if number is not None and (repo, number) in self._issues:
                raise ValueError(f"{repo}#{number} already exists")
            number = r["next_number"] if number is None else number
            r["next_number"] = max(r["next_number"], number + 1)
            when = self._when(at)
            self._issues[(repo, number)] = _Issue(
                repo=repo, number=number, id=next(self._ids), title=title, body=body,
                user=actor, created_at=when, updated_at=when, is_pr=pull_request,
                head_ref=(head_ref or f"feature-{number}") if pull_request else None)
            return number

    def request_review(self, repo: str, number: int, actor: str, reviewer: str,
                       at: datetime | None = None) -> None:
        """Request ``reviewer``'s review on PR ``number`` (timeline ``review_requested``)."""
        with self._lock:
            issue = self._pr(repo, number)
            self.add_user(reviewer)
            if reviewer not in issue.requested_reviewers:
                issue.requested_reviewers.append(reviewer)
            self._event(issue, actor, "review_requested", at,
                        review_requester=self._simple_user(actor),
                        requested_reviewer=self._simple_user(reviewer))

    def remove_review_request(self, repo: str, number: int, actor: str, reviewer: str,
                              at: datetime | None = None) -> None:
        """Withdraw ``reviewer``'s review request (timeline ``review_request_removed``)."""
        with self._lock:
            issue = self._pr(repo, number)
            self.add_user(reviewer)
            if reviewer in issue.requested_reviewers:
                issue.requested_reviewers.remove(reviewer)
            self._event(issue, actor, "review_request_removed", at,
                        review_requester=self._simple_user(actor),
                        requested_reviewer=self._simple_user(reviewer))

    def submit_review(self, repo: str, number: int, actor: str, state: str, body: str = "",
                      at: datetime | None = None) -> dict:
        """Submit a review by ``actor``; ``state`` APPROVED | CHANGES_REQUESTED | COMMENTED.

        Clears ``actor``'s pending review request, as GitHub does. Returns the timeline
        ``reviewed`` item (state lower-case there, as recorded in
        PullRequest.testGetIssueTimeline.txt).
        """
        state = state.upper()
        if state not in _REVIEW_STATES:
            raise ValueError(f"unknown review state {state!r}")
        with self._lock:
            issue = self._pr(repo, number)
            self.add_user(actor)
            when = self._when(at)
            if actor in issue.requested_reviewers:
                issue.requested_reviewers.remove(actor)
            rid = next(self._ids)
            pr_api = f"{API_ROOT}/repos/{repo}/pulls/{number}"
            html = f"{HTML_ROOT}/{repo}/pull/{number}#pullrequestreview-{rid}"
            item = {
                "id": rid, "node_id": _node_id("PullRequestReview", rid),
                "user": self._simple_user(actor), "body": body,
                "commit_id": self._head_sha(issue), "submitted_at": when,
                "state": state.lower(), "html_url": html, "pull_request_url": pr_api,
                "author_association": self._association(repo, actor),
                "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
                "event": "reviewed",
            }
            self._append(issue, when, item)
            return copy.deepcopy(item)

    def comment(self, repo: str, number: int, actor: str, body: str,
                at: datetime | None = None) -> dict:
        """Comment on an issue or PR as ``actor``; return the issue-comment object."""
        with self._lock:
            return copy.deepcopy(self._add_comment(self._issue(repo, number), actor, body, at))

    def assign(self, repo: str, number: int, actor: str, assignee: str,
               at: datetime | None = None) -> None:
        """Assign ``assignee`` (timeline ``assigned`` by ``actor``); no-op if already assigned."""
        with self._lock:
            self._assign(self._issue(repo, number), actor, assignee, at)

    def unassign(self, repo: str, number: int, actor: str, assignee: str,
                 at: datetime | None = None) -> None:
        """Unassign ``assignee`` (timeline ``unassigned``); no-op if not assigned."""
        with self._lock:
            self._unassign(self._issue(repo, number), actor, assignee, at)

    def add_label(self, repo: str, number: int, actor: str, label: str,
                  at: datetime | None = None) -> None:
        """Add ``label`` (created on the repo if new; timeline ``labeled``)."""
        with self._lock:
            self._add_label(self._issue(repo, number), actor, label, at)

    def remove_label(self, repo: str, number: int, actor: str, label: str,
                     at: datetime | None = None) -> None:
        """Remove ``label`` (timeline ``unlabeled``); no-op if absent."""
        with self._lock:
            self._remove_label(self._issue(repo, number), actor, label, at)

    def close(self, repo: str, number: int, actor: str, at: datetime | None = None) -> None:
        """Close the issue or PR (timeline ``closed``)."""
        with self._lock:
            self._set_state(self._issue(repo, number), actor, "closed", at)

    def reopen(self, repo: str, number: int, actor: str, at: datetime | None = None) -> None:
        """Reopen the issue or PR (timeline ``reopened``)."""
        with self._lock:
            self._set_state(self._issue(repo, number), actor, "open", at)

    def commit(self, repo: str, number: int, actor: str, message: str,
               at: datetime | None = None, email: str | None = None,
               name: str | None = None) -> str:
        """Push a commit authored by ``actor`` to PR ``number``; return its sha.

        The timeline ``committed`` item has no ``id``/``created_at``/``actor``, as in the
        real API (recorded PullRequest.testGetIssueTimeline.txt); its date is in
        ``author.date``. The git author is ``name``/``email`` when given, else the account's
        name and e-mail, else the login and its no-reply address
        ``<login>@users.noreply.github.com``.
        """
        with self._lock:
            issue = self._pr(repo, number)
            self.add_user(actor)
            when = self._when(at)
            parent = self._head_sha(issue)
            sha = _sha(repo, number, message, when, next(self._seq))
            tree = _sha("tree", sha)
            u = self._users[actor]
            person = {"name": name or u["name"] or actor,
                      "email": email or u["email"] or f"{actor}@users.noreply.github.com",
                      "date": when}
            item = {
                "sha": sha, "node_id": _node_id("Commit", int(sha[:8], 16)),
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
            issue.commits.append(sha)
            self._append(issue, when, item)
            return sha

    def edit(self, repo: str, number: int, actor: str, title: str | None = None,
             body: str | None = None, at: datetime | None = None) -> None:
        """Edit the title and/or body of an issue or PR as ``actor``; bumps ``updated_at``.

        A new title adds a timeline ``renamed`` event (``rename: {from, to}``), as GitHub
        does; a body edit adds no timeline entry (GitHub records none).
        """
        with self._lock:
            self._edit(self._issue(repo, number), actor, title, body, at)

    def add_blocked_by(self, repo: str, number: int, actor: str, blocker_repo: str,
                       blocker_number: int, at: datetime | None = None) -> None:
        """Mark ``repo#number`` blocked by ``blocker_repo#blocker_number`` (issue dependencies).

        Adds ``blocked_by_added`` to the blocked item's timeline and ``blocking_added`` to
        the blocker's, and counts it in ``issue_dependencies_summary`` (``blocked_by`` counts
        open blockers only, as GitHub does). No-op if already blocked by it.
        """
        with self._lock:
            issue = self._issue(repo, number)
            blocker = self._issue(blocker_repo, blocker_number)
            key = (blocker.repo, blocker.number)
            if key in issue.blocked_by:
                return
            issue.blocked_by.append(key)
            self._event(issue, actor, "blocked_by_added", at, blocked_by=self._issue_ref_json(blocker))
            self._event(blocker, actor, "blocking_added", at, blocking=self._issue_ref_json(issue))

    def remove_blocked_by(self, repo: str, number: int, actor: str, blocker_repo: str,
                          blocker_number: int, at: datetime | None = None) -> None:
        """Undo :meth:`add_blocked_by` (``blocked_by_removed`` / ``blocking_removed``)."""
        with self._lock:
            issue = self._issue(repo, number)
            blocker = self._issue(blocker_repo, blocker_number)
            key = (blocker.repo, blocker.number)
            if key not in issue.blocked_by:
                return
            issue.blocked_by.remove(key)
            self._event(issue, actor, "blocked_by_removed", at, blocked_by=self._issue_ref_json(blocker))
            self._event(blocker, actor, "blocking_removed", at, blocking=self._issue_ref_json(issue))

    def load_recorded(self, repo: str, number: int, issue_json: dict,
                      timeline_json: list) -> None:
        """Serve a recorded issue and timeline as-is at ``repo#number``.

        Only URL fields are re-rendered (host, and the issue's own ``/repos/{o}/{r}/issues/{n}``
        prefix when mounted elsewhere). Later writes append to the timeline and overlay
        ``updated_at``, ``comments``, and (once touched) assignees, labels and state.
        """
        with self._lock:
            self.create_repo(repo)
            raw = copy.deepcopy(issue_json)
            old_prefix = raw.get("url", "")
            new_prefix = f"{API_ROOT}/repos/{repo}/issues/{number}"
            if old_prefix and old_prefix != new_prefix:
                for k, v in list(raw.items()):
                    if isinstance(v, str) and v.startswith(old_prefix) and (
                            k == "url" or k.endswith("_url")):
                        raw[k] = new_prefix + v[len(old_prefix):]
            r = self._repos[repo]
            r["next_number"] = max(r["next_number"], number + 1)
            user = (raw.get("user") or {}).get("login") or "ghost"
            issue = _Issue(
                repo=repo, number=number, id=raw.get("id") or next(self._ids),
                title=raw.get("title", ""), body=raw.get("body"), user=user,
                created_at=raw.get("created_at") or _ts(self.clock()),
                updated_at=raw.get("updated_at") or _ts(self.clock()),
                is_pr="pull_request" in raw, state=raw.get("state", "open"),
                state_reason=raw.get("state_reason"), closed_at=raw.get("closed_at"),
                closed_by=(raw.get("closed_by") or {}).get("login"),
                assignees=[a["login"] for a in raw.get("assignees") or []],
                labels=[lb["name"] for lb in raw.get("labels") or []],
                raw=raw, raw_comments=int(raw.get("comments") or 0))
            for lb in raw.get("labels") or []:
                r["labels"].setdefault(lb["name"], {"id": lb.get("id") or next(self._ids),
                                                    "name": lb["name"],
                                                    "color": lb.get("color", "ededed"),
                                                    "description": lb.get("description")})
            for item in timeline_json:
                issue.timeline.append({"at": "", "seq": next(self._seq),
                                       "item": copy.deepcopy(item)})
            self._issues[(repo, number)] = issue

    # ------------------------------------------------------------------ inspection
    def comments(self, repo: str, number: int) -> list[dict]:
        """Return the comments that stand now on ``repo#number`` (recorded ones included), oldest first.

        URLs are rendered as served over HTTP once the emulator is started.
        """
        with self._lock:
            issue = self._issue(repo, number)
            out = []
            for entry in issue.timeline:
                item = entry.get("item")
                if item is not None and item.get("event") == "commented":
                    out.append({k: v for k, v in item.items() if k not in ("event", "actor")})
            out.extend(self._comments[cid] for cid in issue.comment_ids)
            return self._served(copy.deepcopy(out))

    def _served(self, obj: Any) -> Any:
        """``obj`` with its URLs as this server renders them over HTTP (when it is running)."""
        return _rehost(obj, self.url) if self.url else obj

    def numbers(self, repo: str) -> list[int]:
        """Numbers of every issue and pull request in ``repo``, ascending."""
        with self._lock:
            return sorted(n for (r, n) in self._issues if r == repo)

    def issue(self, repo: str, number: int) -> dict:
        """Return the issue object, with URLs as served over HTTP once started."""
        with self._lock:
            return self._served(self._issue_json(self._issue(repo, number)))

    def timeline(self, repo: str, number: int) -> list[dict]:
        """Return the timeline items as served (canonical URLs), in order."""
        with self._lock:
            return self._timeline_json(self._issue(repo, number))

    # ------------------------------------------------------------------ internals: state
    def _when(self, at: datetime | str | None) -> str:
        return _ts(self.clock() if at is None else at)

    def _issue(self, repo: str, number: int) -> _Issue:
        try:
            return self._issues[(repo, int(number))]
        except KeyError:
            raise KeyError(f"{repo}#{number} does not exist in the emulator") from None

    def _pr(self, repo: str, number: int) -> _Issue:
        issue = self._issue(repo, number)
        if not issue.is_pr:
            raise ValueError(f"{repo}#{number} is an issue, not a pull request")
        return issue

    def _touch(self, issue: _Issue, when: str) -> None:
        if not issue.updated_at or _parse_ts(when) > _parse_ts(issue.updated_at):
            issue.updated_at = when
        r = self._repos[issue.repo]
        if _parse_ts(when) > _parse_ts(r["updated_at"]):
            r["updated_at"] = when

    def _append(self, issue: _Issue, when: str, item: dict | None = None,
                comment_id: int | None = None) -> None:
        issue.timeline.append({"at": when, "seq": next(self._seq), "item": item,
                               "comment_id": comment_id})
        self._touch(issue, when)

    def _event(self, issue: _Issue, actor: str, kind: str, at: Any, **extra: Any) -> dict:
        self.add_user(actor)
        when = self._when(at)
        eid = next(self._ids)
        type_name = "".join(p.capitalize() for p in kind.split("_")) + "Event"
        item = {"id": eid, "node_id": _node_id(type_name, eid),
                "url": f"{API_ROOT}/repos/{issue.repo}/issues/events/{eid}",
                "actor": self._simple_user(actor), "event": kind, "commit_id": None,
                "commit_url": None, "created_at": when}
        item.update(extra)
        item["performed_via_github_app"] = None
        self._append(issue, when, item)
        return item

    def _add_comment(self, issue: _Issue, actor: str, body: str, at: Any) -> dict:
        self.add_user(actor)
        when = self._when(at)
        cid = next(self._ids)
        kind = "pull" if issue.is_pr else "issues"
        api = f"{API_ROOT}/repos/{issue.repo}/issues/comments/{cid}"
        comment = {
            "url": api, "html_url": f"{HTML_ROOT}/{issue.repo}/{kind}/{issue.number}#issuecomment-{cid}",
            "issue_url": f"{API_ROOT}/repos/{issue.repo}/issues/{issue.number}",
            "id": cid, "node_id": _node_id("IssueComment", cid),
            "user": self._simple_user(actor), "created_at": when, "updated_at": when,
            "author_association": self._association(issue.repo, actor), "body": body,
            "reactions": {"url": f"{api}/reactions", **_ZERO_REACTIONS},
            "performed_via_github_app": None,
        }
        self._comments[cid] = comment
        issue.comment_ids.append(cid)
        self._append(issue, when, comment_id=cid)
        return comment

    def _assign(self, issue: _Issue, actor: str, assignee: str, at: Any) -> None:
        self.add_user(assignee)
        if assignee in issue.assignees:
            return
        issue.assignees.append(assignee)
        issue.dirty.add("assignees")
        self._event(issue, actor, "assigned", at, assignee=self._simple_user(assignee))

    def _unassign(self, issue: _Issue, actor: str, assignee: str, at: Any) -> None:
        if assignee not in issue.assignees:
            return
        issue.assignees.remove(assignee)
        issue.dirty.add("assignees")
        self._event(issue, actor, "unassigned", at, assignee=self._simple_user(assignee))

    def _label(self, repo: str, name: str) -> dict:
        labels = self._repos[repo]["labels"]
        if name not in labels:
            labels[name] = {"id": next(self._ids), "name": name, "color": "ededed",
                            "description": None}
        return labels[name]

    def _add_label(self, issue: _Issue, actor: str, name: str, at: Any) -> None:
        lb = self._label(issue.repo, name)
        if name in issue.labels:
            return
        issue.labels.append(name)
        issue.dirty.add("labels")
        self._event(issue, actor, "labeled", at, label={"name": name, "color": lb["color"]})

    def _remove_label(self, issue: _Issue, actor: str, name: str, at: Any) -> None:
        if name not in issue.labels:
            return
        lb = self._label(issue.repo, name)
        issue.labels.remove(name)
        issue.dirty.add("labels")
        self._event(issue, actor, "unlabeled", at, label={"name": name, "color": lb["color"]})

    def _set_state(self, issue: _Issue, actor: str, state: str, at: Any,
                   reason: str | None = None) -> None:
        if issue.state == state:
            return
        when = self._when(at)
        issue.state = state
        issue.dirty.add("state")
        if state == "closed":
            issue.closed_at, issue.closed_by = when, actor
            issue.state_reason = None if issue.is_pr else (reason or "completed")
            self._event(issue, actor, "closed", when, state_reason=None)
        else:
            issue.closed_at, issue.closed_by = None, None
            issue.state_reason = None if issue.is_pr else "reopened"
            self._event(issue, actor, "reopened", when, state_reason=None)

    def _edit(self, issue: _Issue, actor: str, title: str | None, body: str | None,
              at: Any) -> None:
        when = self._when(at)
        if title is not None and title != issue.title:
            old, issue.title = issue.title, title
            if issue.raw is not None:
                issue.raw["title"] = title
            self._event(issue, actor, "renamed", when, rename={"from": old, "to": title})
        if body is not None and body != issue.body:
            issue.body = body
            if issue.raw is not None:
                issue.raw["body"] = body
        self._touch(issue, when)

    def _issue_ref_json(self, issue: _Issue) -> dict:
        """Issue Reference (``nullable-issue-reference``) embedded in dependency events."""
        return {"number": issue.number, "title": issue.title, "state": issue.state,
                "state_reason": issue.state_reason, "repository": self._repo_json(issue.repo),
                "issue_type": None}

    def _dependencies_json(self, issue: _Issue) -> dict:
        blocking = [i for i in self._issues.values() if (issue.repo, issue.number) in i.blocked_by]
        return {"blocked_by": sum(1 for k in issue.blocked_by if self._issues[k].state == "open"),
                "total_blocked_by": len(issue.blocked_by),
                "blocking": sum(1 for i in blocking if i.state == "open"),
                "total_blocking": len(blocking)}

    def _head_sha(self, issue: _Issue) -> str:
        return issue.commits[-1] if issue.commits else _sha("base", issue.repo, issue.number)

    def _association(self, repo: str, login: str) -> str:
        return "OWNER" if self._repos.get(repo, {}).get("owner") == login else "COLLABORATOR"

    # ------------------------------------------------------------------ internals: shapes
    def _simple_user(self, login: str) -> dict:
        """Simple-user object, the 19 keys recorded in Issue.setUp.txt (2025)."""
        if login not in self._users:
            self.add_user(login)
        u = self._users[login]
        api = f"{API_ROOT}/users/{login}"
        return {
            "login": login, "id": u["id"], "node_id": _node_id("User", u["id"]),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{u['id']}?v=4",
            "gravatar_id": "", "url": api, "html_url": f"{HTML_ROOT}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": u["type"], "user_view_type": "public", "site_admin": False,
        }

    def _public_user(self, login: str) -> dict:
        """Public-user object (GET /users/{username}; RateLimiting.testRateLimiting.txt)."""
        u = self._users[login]
        out = self._simple_user(login)
        out.update({
            "name": u["name"], "company": None, "blog": "", "location": None,
            "email": u["email"], "hireable": None, "bio": None, "twitter_username": None,
            "public_repos": sum(1 for r in self._repos.values() if r["owner"] == login),
            "public_gists": 0, "followers": 0, "following": 0,
            "created_at": u["created_at"], "updated_at": u["created_at"],
        })
        return out

    def _private_user(self, login: str) -> dict:
        """Private-user object (GET /user, authenticated), ``user_view_type: private``."""
        out = self._public_user(login)
        out["user_view_type"] = "private"
        out.update({"private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
                    "disk_usage": 0, "collaborators": 0, "two_factor_authentication": True,
                    "plan": {"name": "free", "space": 976562499, "collaborators": 0,
                             "private_repos": 10000}})
        return out

    def _repo_json(self, full_name: str) -> dict:
        """Full-repository object, keys as recorded in Issue.setUp.txt (exchange 1)."""
        r = self._repos[full_name]
        api = f"{API_ROOT}/repos/{full_name}"
        html = f"{HTML_ROOT}/{full_name}"
        open_count = sum(1 for i in self._issues.values()
                         if i.repo == full_name and i.state == "open")
        out: dict[str, Any] = {
            "id": r["id"], "node_id": _node_id("Repository", r["id"]), "name": r["name"],
            "full_name": full_name, "private": False, "owner": self._simple_user(r["owner"]),
            "html_url": html, "description": None, "fork": False, "url": api,
        }
        for key, suffix in _REPO_URLS:
            out[key] = api + suffix
        host = HTML_ROOT.split("//", 1)[1]
        out.update({
            "created_at": r["created_at"], "updated_at": r["updated_at"],
            "pushed_at": r["updated_at"], "git_url": f"git://{host}/{full_name}.git",
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

    def _label_json(self, repo: str, name: str) -> dict:
        lb = self._label(repo, name)
        return {"id": lb["id"], "node_id": _node_id("Label", lb["id"]),
                "url": f"{API_ROOT}/repos/{repo}/labels/{name}", "name": name,
                "color": lb["color"], "default": False, "description": lb["description"]}

    def _issue_json(self, issue: _Issue) -> dict:
        """Issue object for API 2022-11-28 (keys as recorded in Issue.setUp.txt)."""
        assignees = [self._simple_user(a) for a in issue.assignees]
        state = {"state": issue.state, "closed_at": issue.closed_at,
                 "closed_by": self._simple_user(issue.closed_by) if issue.closed_by else None,
                 "state_reason": issue.state_reason}
        if issue.raw is not None:
            out = copy.deepcopy(issue.raw)
            out["updated_at"] = issue.updated_at
            out["comments"] = issue.raw_comments + len(issue.comment_ids)
            if "assignees" in issue.dirty:
                out["assignee"] = assignees[0] if assignees else None
                out["assignees"] = assignees
            if "labels" in issue.dirty:
                out["labels"] = [self._label_json(issue.repo, n) for n in issue.labels]
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
            "id": issue.id, "node_id": _node_id("PullRequest" if issue.is_pr else "Issue", issue.id),
            "number": issue.number, "title": issue.title, "user": self._simple_user(issue.user),
            "labels": [self._label_json(issue.repo, n) for n in issue.labels],
            "state": issue.state, "locked": False,
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": None, "comments": len(issue.comment_ids),
            "created_at": issue.created_at, "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "author_association": self._association(issue.repo, issue.user),
            "type": None, "active_lock_reason": None,
            "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
            "issue_dependencies_summary": self._dependencies_json(issue),
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
            "reactions": {"url": f"{api}/reactions", **_ZERO_REACTIONS},
            "timeline_url": f"{api}/timeline", "performed_via_github_app": None,
            "state_reason": issue.state_reason,
        })
        return out

    def _pull_json(self, issue: _Issue) -> dict:
        """Pull-request object (GET /repos/{o}/{r}/pulls/{n}), API 2022-11-28."""
        repo = issue.repo
        owner = self._repos[repo]["owner"]
        api = f"{API_ROOT}/repos/{repo}/pulls/{issue.number}"
        html = f"{HTML_ROOT}/{repo}/pull/{issue.number}"
        iapi = f"{API_ROOT}/repos/{repo}/issues/{issue.number}"
        base = self._issue_json(issue)
        repo_obj = self._repo_json(repo)
        head_sha = self._head_sha(issue)
        assignees = [self._simple_user(a) for a in issue.assignees]
        return {
            "url": api, "id": issue.id, "node_id": _node_id("PullRequest", issue.id),
            "html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
            "issue_url": iapi, "number": issue.number, "state": issue.state,
            "locked": False, "title": issue.title, "user": self._simple_user(issue.user),
            "body": issue.body, "created_at": issue.created_at,
            "updated_at": issue.updated_at, "closed_at": issue.closed_at,
            "merged_at": None, "merge_commit_sha": None,
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "requested_reviewers": [self._simple_user(r) for r in issue.requested_reviewers],
            "requested_teams": [], "labels": base["labels"], "milestone": None,
            "draft": False, "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": f"{API_ROOT}/repos/{repo}/pulls/comments{{/number}}",
            "comments_url": f"{iapi}/comments",
            "statuses_url": f"{API_ROOT}/repos/{repo}/statuses/{head_sha}",
            "head": {"label": f"{owner}:{issue.head_ref}", "ref": issue.head_ref,
                     "sha": head_sha, "user": self._simple_user(owner), "repo": repo_obj},
            "base": {"label": f"{owner}:main", "ref": "main",
                     "sha": _sha("base", repo, issue.number), "user": self._simple_user(owner),
                     "repo": repo_obj},
            "_links": {
                "self": {"href": api}, "html": {"href": html}, "issue": {"href": iapi},
                "comments": {"href": f"{iapi}/comments"},
                "review_comments": {"href": f"{api}/comments"},
                "review_comment": {"href": f"{API_ROOT}/repos/{repo}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/commits"},
                "statuses": {"href": f"{API_ROOT}/repos/{repo}/statuses/{head_sha}"},
            },
            "author_association": self._association(repo, issue.user), "auto_merge": None,
            "active_lock_reason": None, "merged": False, "mergeable": None,
            "rebaseable": None, "mergeable_state": "unknown", "merged_by": None,
            "comments": base["comments"], "review_comments": 0,
            "maintainer_can_modify": False, "commits": len(issue.commits),
            "additions": 0, "deletions": 0, "changed_files": 0,
        }

    #: ``pull-request`` keys that ``pull-request-simple`` (the list) does not carry.
    _PULL_ONLY = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by",
                  "comments", "review_comments", "maintainer_can_modify", "commits",
                  "additions", "deletions", "changed_files")

    def _pull_simple_json(self, issue: _Issue) -> dict:
        """Pull-request-simple object (an element of GET /repos/{o}/{r}/pulls), API 2022-11-28."""
        out = self._pull_json(issue)
        for key in self._PULL_ONLY:
            out.pop(key, None)
        return out

    def _timeline_json(self, issue: _Issue) -> list[dict]:
        entries = sorted(issue.timeline, key=lambda e: (e["at"], e["seq"]))
        out = []
        for e in entries:
            if e.get("comment_id") is not None:
                c = self._comments[e["comment_id"]]
                item = copy.deepcopy(c)
                item["event"] = "commented"
                item["actor"] = copy.deepcopy(c["user"])
            else:
                item = copy.deepcopy(e["item"])
            out.append(item)
        return out

    def _rate_limit_json(self) -> dict:
        core = {"limit": RATE_LIMIT, "used": self._used, "remaining": RATE_LIMIT - self._used,
                "reset": self._reset}

        def fresh(limit: int) -> dict:
            return {"limit": limit, "used": 0, "remaining": limit, "reset": self._reset}

        return {"resources": {
            "core": core, "search": fresh(30), "graphql": fresh(5000),
            "integration_manifest": fresh(5000), "source_import": fresh(100),
            "code_scanning_upload": fresh(1000), "actions_runner_registration": fresh(10000),
            "scim": fresh(15000), "dependency_snapshots": fresh(100)},
            "rate": dict(core)}

    # ------------------------------------------------------------------ HTTP
    def _build_app(self) -> Flask:
        app = Flask("github_emulator")
        app.url_map.strict_slashes = False
        emu = self

        @app.before_request
        def _before() -> Response | None:
            g.login = None
            bad_credentials = False
            auth = request.headers.get("Authorization", "")
            if auth:
                scheme, _, token = auth.partition(" ")
                token = token.strip()
                with emu._lock:
                    login = emu._tokens.get(token)
                    bad_credentials = (scheme.lower() not in ("token", "bearer")
                                       or login is None or token in emu._revoked)
                g.login = None if bad_credentials else login
            faulted = emu.inject_fault()
            if faulted is not None:
                return faulted
            if bad_credentials:
                raise GitHubError(401, "Bad credentials")
            return None

        @app.after_request
        def _after(resp: Response) -> Response:
            with emu._lock:
                now = int(emu.clock().timestamp())
                if now >= emu._reset:
                    emu._used, emu._reset = 0, now + 3600
                counted = 200 <= resp.status_code < 300 and request.path != "/rate_limit"
                if counted and not resp.headers.get("X-RateLimit-Remaining"):
                    emu._used = min(RATE_LIMIT, emu._used + 1)
                resp.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
                resp.headers.setdefault("X-RateLimit-Remaining", str(RATE_LIMIT - emu._used))
                resp.headers.setdefault("X-RateLimit-Reset", str(emu._reset))
                resp.headers.setdefault("X-RateLimit-Used", str(emu._used))
                resp.headers["X-RateLimit-Resource"] = "core"
                resp.headers["X-GitHub-Api-Version-Selected"] = API_VERSION
                resp.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
                if resp.status_code == 304:
                    resp.headers.pop("Content-Type", None)
                emu.requests.append((request.method, getattr(g, "full_path", request.path),
                                     resp.status_code))
            return resp

        @app.errorhandler(GitHubError)
        def _gh_error(e: GitHubError) -> Response:
            resp = emu._json_response(e.body(), e.status, etag=False)
            for k, v in e.headers.items():
                resp.headers[k] = v
            return resp

        @app.errorhandler(HTTPException)
        def _http_error(e: HTTPException) -> Response:
            status = 404 if e.code in (404, 405) else (e.code or 500)
            msg = "Not Found" if status == 404 else (e.name or "Error")
            if status == 400:
                msg = "Problems parsing JSON"
            return emu._json_response(GitHubError(status, msg).body(), status, etag=False)

        app.wsgi_app = lost_response_middleware(app.wsgi_app)  # type: ignore[method-assign]
        self._routes(app)
        return app

    def _fault_response(self, fault: Fault) -> Response:
        status = int(fault.status or 500)
        headers: dict[str, str] = {}
        if status == 429 or (status == 403 and fault.retry_after is not None):
            msg = ("You have exceeded a secondary rate limit. Please wait a few minutes "
                   "before you try again. If you reach out to GitHub Support for help, "
                   "please include the request ID 0000:0000:0000000:0000000:00000000.")
            doc = ("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                   "#about-secondary-rate-limits")
        elif status == 403:
            with self._lock:
                uid = self._users[_g_login()]["id"] if _g_login() in self._users else 0
            msg = (f"API rate limit exceeded for user ID {uid}. If you reach out to GitHub "
                   "Support for help, please include the request ID "
                   "0000:0000:0000000:0000000:00000000.")
            doc = ("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                   "#about-the-primary-rate-limit")
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Used"] = str(RATE_LIMIT)
        elif status == 502:
            msg, doc = "Server Error", DOCS
        elif status == 503:
            msg, doc = "Service Unavailable", DOCS
        elif status == 500:
            msg, doc = "Server Error", DOCS
        else:
            msg, doc = "Fault injected by the GitHub emulator", DOCS
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after)) if float(
                fault.retry_after).is_integer() else str(fault.retry_after)
        resp = self._json_response(GitHubError(status, msg, doc=doc).body(), status, etag=False)
        for k, v in headers.items():
            resp.headers[k] = v
        return resp

    def _root(self) -> str:
        return f"{request.scheme}://{request.host}"

    def _json_response(self, obj: Any, status: int = 200, *, etag: bool = True,
                       link: str | None = None) -> Response:
        """Render ``obj`` for this request's host; ETag + If-None-Match → 304 on 2xx GETs."""
        payload = json.dumps(_rehost(obj, self._root()), ensure_ascii=False,
                             separators=(",", ":")).encode("utf-8")
        headers: dict[str, str] = {}
        if link:
            headers["Link"] = link
        if etag and 200 <= status < 300:
            tag = hashlib.sha256(payload).hexdigest()
            headers["ETag"] = f'W/"{tag}"'
            if request.method in ("GET", "HEAD") and _etag_matches(
                    request.headers.get("If-None-Match", ""), tag):
                headers["ETag"] = f'"{tag}"'  # GitHub answers a weak tag with the strong one
                headers.pop("Link", None)
                return Response(b"", 304, headers=headers)
        headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
        return Response(payload, status, headers=headers, content_type=JSON_TYPE)

    def _paginate(self, items: list, link_path: str, render: Callable[[Any], Any] | None = None) -> Response:
        """Answer one page of ``items`` (``per_page`` ≤ 100, default 30) with a GitHub ``Link``.

        ``render`` turns each item of the page into JSON; only the page is rendered.
        """
        try:
            per_page = int(request.args.get("per_page", 30))
            page = int(request.args.get("page", 1))
        except ValueError:
            raise GitHubError(422, "Validation Failed") from None
        per_page = max(1, min(per_page, 100))
        page = max(1, page)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        if render is not None:
            chunk = [render(i) for i in chunk]
        params = [(k, v) for k, vs in request.args.lists() for v in vs if k != "page"]

        def url(p: int) -> str:
            return f"<{API_ROOT}{link_path}?{urlencode(params + [('page', p)])}>"

        rels = []
        if page > 1:
            rels.append(f'{url(min(page - 1, last))}; rel="prev"')
        if page < last:
            rels.append(f'{url(page + 1)}; rel="next"')
            rels.append(f'{url(last)}; rel="last"')
        if page > 1:
            rels.append(f'{url(1)}; rel="first"')
        link = ", ".join(rels) or None
        if link:
            link = link.replace(API_ROOT, self._root())
        return self._json_response(chunk, 200, link=link)

    def _json_body(self) -> Any:
        if not request.data:
            return {}
        try:
            return json.loads(request.data)
        except ValueError:
            raise GitHubError(400, "Problems parsing JSON") from None

    def _need_login(self) -> str:
        login = g.get("login")
        if login is None:
            raise GitHubError(401, "Requires authentication")
        return login

    def _find_repo(self, owner: str | None = None, name: str | None = None,
                   rid: int | None = None) -> str:
        full = self._repo_ids.get(rid) if rid is not None else f"{owner}/{name}"
        if full is None or full not in self._repos:
            raise GitHubError(404, "Not Found")
        return full

    def _find_issue(self, repo: str, number: int) -> _Issue:
        issue = self._issues.get((repo, number))
        if issue is None:
            raise GitHubError(404, "Not Found")
        return issue

    def _routes(self, app: Flask) -> None:  # noqa: C901 - one place for the route table
        emu = self

        def repo_of(kw: dict) -> str:
            return emu._find_repo(kw.get("owner"), kw.get("name"), kw.get("rid"))

        def both(rule: str, **opts: Any) -> Callable:
            def deco(fn: Callable) -> Callable:
                app.add_url_rule("/repos/<owner>/<name>" + rule, fn.__name__ + "_n", fn, **opts)
                app.add_url_rule("/repositories/<int:rid>" + rule, fn.__name__ + "_i", fn, **opts)
                return fn
            return deco

        @app.get("/user")
        def get_user() -> Response:
            login = emu._need_login()
            with emu._lock:
                return emu._json_response(emu._private_user(login))

        @app.get("/users/<login>")
        def get_named_user(login: str) -> Response:
            with emu._lock:
                if login not in emu._users:
                    raise GitHubError(404, "Not Found")
                return emu._json_response(emu._public_user(login))

        @app.get("/rate_limit")
        def get_rate_limit() -> Response:
            with emu._lock:
                return emu._json_response(emu._rate_limit_json())

        @both("", methods=["GET"])
        def get_repo(**kw: Any) -> Response:
            with emu._lock:
                return emu._json_response(emu._repo_json(repo_of(kw)))

        @both("/issues", methods=["GET"])
        def list_issues(**kw: Any) -> Response:
            with emu._lock:
                repo = repo_of(kw)
                rid = emu._repos[repo]["id"]
                a = request.args
                state = a.get("state", "open")
                if state not in ("open", "closed", "all"):
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "Issue", "code": "invalid", "field": "state"}])
                since = None
                if a.get("since"):
                    try:
                        since = _parse_ts(a["since"])
                    except ValueError:
                        raise GitHubError(422, "Validation Failed", [
                            {"resource": "Issue", "code": "invalid", "field": "since"}]) from None
                issues = [i for i in emu._issues.values() if i.repo == repo]
                if state != "all":
                    issues = [i for i in issues if i.state == state]
                if since is not None:
                    issues = [i for i in issues if _parse_ts(i.updated_at) >= since]
                if a.get("assignee") == "none":
                    issues = [i for i in issues if not i.assignees]
                elif a.get("assignee") not in (None, "*"):
                    issues = [i for i in issues if a["assignee"] in i.assignees]
                if a.get("creator"):
                    issues = [i for i in issues if i.user == a["creator"]]
                if a.get("labels"):
                    want = {x.strip() for x in a["labels"].split(",") if x.strip()}
                    issues = [i for i in issues if want <= set(i.labels)]
                sort = a.get("sort", "created")
                keys = {"created": lambda i: (_parse_ts(i.created_at), i.number),
                        "updated": lambda i: (_parse_ts(i.updated_at), i.number),
                        "comments": lambda i: (len(i.comment_ids) + i.raw_comments, i.number)}
                if sort not in keys:
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "Issue", "code": "invalid", "field": "sort"}])
                issues.sort(key=keys[sort], reverse=a.get("direction", "desc") != "asc")
                return emu._paginate(issues, f"/repositories/{rid}/issues", emu._issue_json)

        @both("/issues", methods=["POST"])
        def create_issue(**kw: Any) -> Response:
            login = emu._need_login()
            with emu._lock:
                repo = repo_of(kw)
                data = emu._json_body()
                title = data.get("title") if isinstance(data, dict) else None
                if title is None or title == "":
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "Issue", "code": "missing_field", "field": "title"}],
                        doc="https://docs.github.com/rest/issues/issues#create-an-issue")
                assignees = list(data.get("assignees") or [])
                if data.get("assignee"):
                    assignees.insert(0, data["assignee"])
                bad = [a for a in assignees if a not in emu._users]
                if bad:
                    raise GitHubError(422, "Validation Failed", [
                        {"value": b, "resource": "Issue", "field": "assignees", "code": "invalid"}
                        for b in bad],
                        doc="https://docs.github.com/rest/issues/issues#create-an-issue")
                number = emu.open_issue(repo, login, str(title), data.get("body") or None)
                issue = emu._issues[(repo, number)]
                if data.get("body") is None:
                    issue.body = None
                for a in assignees:
                    emu._assign(issue, login, a, None)
                for lb in data.get("labels") or []:
                    emu._add_label(issue, login, lb["name"] if isinstance(lb, dict) else lb, None)
                resp = emu._json_response(emu._issue_json(issue), 201)
                resp.headers["Location"] = f"{emu._root()}/repos/{repo}/issues/{number}"
                return resp

        @both("/issues/<int:number>", methods=["GET"])
        def get_issue(number: int, **kw: Any) -> Response:
            with emu._lock:
                return emu._json_response(emu._issue_json(emu._find_issue(repo_of(kw), number)))

        @both("/issues/<int:number>", methods=["PATCH"])
        def edit_issue(number: int, **kw: Any) -> Response:
            login = emu._need_login()
            with emu._lock:
                issue = emu._find_issue(repo_of(kw), number)
                data = emu._json_body()
                if not isinstance(data, dict):
                    raise GitHubError(400, "Problems parsing JSON")
                if "state" in data and data["state"] not in ("open", "closed"):
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "Issue", "code": "invalid", "field": "state"}])
                if "title" in data:
                    if not data["title"]:
                        raise GitHubError(422, "Validation Failed", [
                            {"resource": "Issue", "code": "missing_field", "field": "title"}])
                    emu._edit(issue, login, str(data["title"]), None, None)
                if "body" in data:
                    issue.body = data["body"]
                wanted = None
                if "assignees" in data:
                    wanted = [a for a in (data["assignees"] or []) if a in emu._users]
                elif "assignee" in data:
                    wanted = [data["assignee"]] if data["assignee"] in emu._users else []
                if wanted is not None:
                    for a in list(issue.assignees):
                        if a not in wanted:
                            emu._unassign(issue, login, a, None)
                    for a in wanted:
                        emu._assign(issue, login, a, None)
                if "labels" in data:
                    names = [lb["name"] if isinstance(lb, dict) else lb
                             for lb in data["labels"] or []]
                    for n in list(issue.labels):
                        if n not in names:
                            emu._remove_label(issue, login, n, None)
                    for n in names:
                        emu._add_label(issue, login, n, None)
                if "state" in data:
                    emu._set_state(issue, login, data["state"], None, data.get("state_reason"))
                emu._touch(issue, emu._when(None))
                return emu._json_response(emu._issue_json(issue))

        @both("/issues/<int:number>/timeline", methods=["GET"])
        def get_timeline(number: int, **kw: Any) -> Response:
            with emu._lock:
                repo = repo_of(kw)
                issue = emu._find_issue(repo, number)
                rid = emu._repos[repo]["id"]
                return emu._paginate(emu._timeline_json(issue),
                                     f"/repositories/{rid}/issues/{number}/timeline")

        @both("/issues/<int:number>/comments", methods=["GET"])
        def list_comments(number: int, **kw: Any) -> Response:
            with emu._lock:
                repo = repo_of(kw)
                issue = emu._find_issue(repo, number)
                rid = emu._repos[repo]["id"]
                comments = emu.comments(repo, number)
                if request.args.get("since"):
                    try:
                        since = _parse_ts(request.args["since"])
                    except ValueError:
                        raise GitHubError(422, "Validation Failed") from None
                    comments = [c for c in comments if _parse_ts(c["updated_at"]) >= since]
                del issue
                return emu._paginate(comments, f"/repositories/{rid}/issues/{number}/comments")

        @both("/issues/<int:number>/comments", methods=["POST"])
        def create_comment(number: int, **kw: Any) -> Response:
            login = emu._need_login()
            with emu._lock:
                issue = emu._find_issue(repo_of(kw), number)
                data = emu._json_body()
                body = data.get("body") if isinstance(data, dict) else None
                if not body:
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "IssueComment", "code": "missing_field", "field": "body"}],
                        doc="https://docs.github.com/rest/issues/comments#create-an-issue-comment")
                comment = emu._add_comment(issue, login, str(body), None)
                resp = emu._json_response(comment, 201)
                resp.headers["Location"] = _rehost(comment, emu._root())["url"]
                return resp

        @both("/issues/<int:number>/assignees", methods=["POST", "DELETE"])
        def change_assignees(number: int, **kw: Any) -> Response:
            login = emu._need_login()
            with emu._lock:
                issue = emu._find_issue(repo_of(kw), number)
                data = emu._json_body()
                names = data.get("assignees") if isinstance(data, dict) else None
                if not isinstance(names, list):
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "Issue", "code": "missing_field", "field": "assignees"}])
                for a in names:
                    if a not in emu._users:
                        continue  # GitHub silently ignores users who cannot be assigned
                    if request.method == "POST":
                        emu._assign(issue, login, a, None)
                    else:
                        emu._unassign(issue, login, a, None)
                return emu._json_response(emu._issue_json(issue),
                                          201 if request.method == "POST" else 200)

        @both("/issues/<int:number>/labels", methods=["POST"])
        def add_labels(number: int, **kw: Any) -> Response:
            login = emu._need_login()
            with emu._lock:
                issue = emu._find_issue(repo_of(kw), number)
                data = emu._json_body()
                names = data.get("labels") if isinstance(data, dict) else data
                if not isinstance(names, list):
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "Label", "code": "invalid", "field": "labels"}])
                for lb in names:
                    emu._add_label(issue, login, lb["name"] if isinstance(lb, dict) else str(lb),
                                   None)
                return emu._json_response([emu._label_json(issue.repo, n) for n in issue.labels])

        @both("/pulls", methods=["GET"])
        def list_pulls(**kw: Any) -> Response:
            """GitHub REST "List pull requests": ``pull-request-simple`` items, ``Link`` pages."""
            with emu._lock:
                repo = repo_of(kw)
                rid = emu._repos[repo]["id"]
                a = request.args
                state = a.get("state", "open")
                if state not in ("open", "closed", "all"):
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "PullRequest", "code": "invalid", "field": "state"}])
                # Recorded items have no pull-request state to render (GET /pulls/{n} is a
                # 404 for them too).
                pulls = [i for i in emu._issues.values()
                         if i.repo == repo and i.is_pr and i.raw is None]
                if state != "all":
                    pulls = [i for i in pulls if i.state == state]
                if a.get("head"):
                    owner_ref = a["head"]
                    owner = emu._repos[repo]["owner"]
                    pulls = [i for i in pulls if f"{owner}:{i.head_ref}" == owner_ref]
                if a.get("base") and a["base"] != "main":
                    pulls = []
                sort = a.get("sort", "created")
                keys = {"created": lambda i: (_parse_ts(i.created_at), i.number),
                        "updated": lambda i: (_parse_ts(i.updated_at), i.number),
                        "popularity": lambda i: (len(i.comment_ids), i.number),
                        "long-running": lambda i: (_parse_ts(i.created_at), i.number)}
                if sort not in keys:
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "PullRequest", "code": "invalid", "field": "sort"}])
                # "Default: desc when sort is created or sort is not specified, otherwise asc."
                direction = a.get("direction", "desc" if sort == "created" else "asc")
                if direction not in ("asc", "desc"):
                    raise GitHubError(422, "Validation Failed", [
                        {"resource": "PullRequest", "code": "invalid", "field": "direction"}])
                pulls.sort(key=keys[sort], reverse=direction == "desc")
                return emu._paginate(pulls, f"/repositories/{rid}/pulls", emu._pull_simple_json)

        @both("/pulls/<int:number>", methods=["GET"])
        def get_pull(number: int, **kw: Any) -> Response:
            with emu._lock:
                issue = emu._find_issue(repo_of(kw), number)
                if not issue.is_pr or issue.raw is not None:
                    raise GitHubError(404, "Not Found")
                return emu._json_response(emu._pull_json(issue))

        @both("/pulls/<int:number>/requested_reviewers", methods=["GET"])
        def get_requested_reviewers(number: int, **kw: Any) -> Response:
            with emu._lock:
                issue = emu._find_issue(repo_of(kw), number)
                if not issue.is_pr:
                    raise GitHubError(404, "Not Found")
                return emu._json_response(
                    {"users": [emu._simple_user(r) for r in issue.requested_reviewers],
                     "teams": []})


def _g_login() -> str | None:
    """Return the login authenticated on the current request, if any."""
    return g.get("login")


def _etag_matches(header: str, tag: str) -> bool:
    for part in header.split(","):
        part = part.strip()
        if part == "*":
            return True
        if part.startswith("W/"):
            part = part[2:]
        if part.strip('"') == tag:
            return True
    return False


__all__ = ["GitHubEmulator", "GitHubError", "Faults", "Fault"]
