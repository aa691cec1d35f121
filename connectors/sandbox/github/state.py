"""The GitHub emulator's in-memory world, with no HTTP in it.

Holds the records (:class:`User`, :class:`Label`, :class:`Repo`, :class:`Issue` for issues and
pull requests alike, :class:`RateWindow`), the id and ordering counters, the accepted tokens,
and :class:`GitHubState`: the world plus the mutations that scenarios, tests, the demo stage and
the HTTP routes perform (open, assign, label, comment, review, commit, close, block …).

Timelines store vendor-shaped items (recorded ones are loaded as-is), so each mutation builds
its item once, through :mod:`connectors.sandbox.github.render`, as GitHub freezes an event's
actor and references when it happens. Timestamps are stored as ``YYYY-MM-DDTHH:MM:SSZ``
strings (UTC), as GitHub serves them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from connectors.sandbox.github import render

#: Requests per hour of the core rate limit (the authenticated-user quota).
RATE_LIMIT = 5000
#: Review states ``submit_review`` accepts (upper case, as the REST API takes them).
REVIEW_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"}


def ts(value: datetime | str) -> str:
    """Format an aware datetime (or pass an ISO string through) as ``YYYY-MM-DDTHH:MM:SSZ``.

    Raises:
        ValueError: a naive datetime, or a string that is not ISO 8601.
    """
    if isinstance(value, str):
        return ts(parse_ts(value))
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` allowed; naive means UTC) into an aware UTC datetime.

    Raises:
        ValueError: not ISO 8601.
    """
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def sha(*parts: Any) -> str:
    """A stable 40-hex git-like sha of ``parts`` (commits, trees, branch heads)."""
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()


@dataclass
class User:
    """An account; ``created_at`` is a GitHub timestamp string."""

    login: str
    id: int
    name: str | None
    email: str | None
    created_at: str
    type: str = "User"


@dataclass
class Label:
    """A repository label (colour as six hex digits, GitHub's default ``ededed``)."""

    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Repo:
    """A repository ``owner/name`` and its label set; ``next_number`` is shared by issues and PRs."""

    id: int
    owner: str
    name: str
    full_name: str
    created_at: str
    updated_at: str
    next_number: int = 1
    labels: dict[str, Label] = field(default_factory=dict)


@dataclass
class Issue:
    """An issue or pull request (``is_pr``), its people, labels, comments and timeline."""

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
    requested_teams: list[str] = field(default_factory=list)  # team slugs of the repository's org
    comment_ids: list[int] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)  # {"at", "seq", "item"|"comment_id"}
    commits: list[str] = field(default_factory=list)
    blocked_by: list[tuple[str, int]] = field(default_factory=list)  # native dependencies
    raw: dict | None = None  # recorded issue JSON, served as-is (plus overlays)
    raw_comments: int = 0
    dirty: set = field(default_factory=set)

    def base_sha(self) -> str:
        """The sha of the base branch (``main``) this pull request starts from."""
        return sha("base", self.repo, self.number)

    def head_sha(self) -> str:
        """The sha of the last commit pushed, else of the base."""
        return self.commits[-1] if self.commits else self.base_sha()


@dataclass
class RateWindow:
    """The core rate-limit window: ``used`` of ``limit`` requests until ``reset`` (epoch seconds)."""

    reset: int
    used: int = 0
    limit: int = RATE_LIMIT

    def roll(self, now: int) -> None:
        """Open a fresh hour-long window when ``now`` (epoch seconds) has reached ``reset``."""
        if now >= self.reset:
            self.used, self.reset = 0, now + 3600

    def spend(self) -> None:
        """Count one request (never past ``limit``)."""
        self.used = min(self.limit, self.used + 1)


class GitHubState:
    """The emulated GitHub's accounts, tokens, repositories, items and their timelines.

    Every method takes ``lock`` (re-entrant); callers that read several records for one
    answer (the routes, the renderers) hold it around the whole read. ``at=None`` means now,
    from ``clock``. Unknown items raise ``KeyError``; a pull-request act on an issue raises
    ``ValueError``.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        """Create an empty world; ``clock`` returns aware UTC datetimes (default: real time)."""
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.lock = threading.RLock()
        self._ids = itertools.count(1001)
        self._seq = itertools.count()
        self.users: dict[str, User] = {}
        self._tokens: dict[str, str] = {}
        self._revoked: set[str] = set()
        self.repos: dict[str, Repo] = {}
        self.repo_ids: dict[int, str] = {}
        self.issues: dict[tuple[str, int], Issue] = {}
        self.comments: dict[int, dict] = {}  # issue-comment objects by id
        # The reverse of ``Issue.blocked_by``: (repo, number) → the items it blocks, in order
        # (an index, so rendering dependencies never scans every issue).
        self.blocking: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.rate = RateWindow(reset=int(self.clock().timestamp()) + 3600)

    # ------------------------------------------------------------------ accounts and repos
    def add_user(self, login: str, name: str | None = None, email: str | None = None) -> User:
        """Create (or update the name/e-mail of) account ``login``; return its record."""
        with self.lock:
            if login not in self.users:
                uid = next(self._ids)
                self.users[login] = User(login=login, id=uid, name=name, email=email,
                                         created_at=ts(self.clock()))
            else:
                if name is not None:
                    self.users[login].name = name
                if email is not None:
                    self.users[login].email = email
            return self.users[login]

    def account(self, login: str) -> User:
        """The record of ``login``, created on first mention (as :meth:`add_user`)."""
        if login not in self.users:
            self.add_user(login)
        return self.users[login]

    def add_token(self, token: str, login: str) -> None:
        """Accept ``token`` as ``login`` (creating the account)."""
        with self.lock:
            self.add_user(login)
            self._tokens[token] = login
            self._revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        """Refuse ``token`` from now on."""
        with self.lock:
            self._revoked.add(token)

    def token_login(self, token: str) -> str | None:
        """The login ``token`` authenticates, or ``None`` (unknown or revoked)."""
        with self.lock:
            login = self._tokens.get(token)
            return None if login is None or token in self._revoked else login

    def create_repo(self, full_name: str) -> Repo:
        """Create (or return) repository ``owner/name`` and its owner's account.

        Raises:
            ValueError: ``full_name`` is not ``owner/name``.
        """
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
        with self.lock:
            if full_name not in self.repos:
                self.add_user(owner)
                rid = next(self._ids)
                now = ts(self.clock())
                self.repos[full_name] = Repo(id=rid, owner=owner, name=name, full_name=full_name,
                                             created_at=now, updated_at=now)
                self.repo_ids[rid] = full_name
            return self.repos[full_name]

    def label(self, repo: str, name: str) -> Label:
        """Label ``name`` of ``repo``, created (colour ``ededed``) if new."""
        labels = self.repos[repo].labels
        if name not in labels:
            labels[name] = Label(id=next(self._ids), name=name)
        return labels[name]

    def association(self, repo: str, login: str) -> str:
        """``author_association`` of ``login`` in ``repo``: ``OWNER`` or ``COLLABORATOR``."""
        r = self.repos.get(repo)
        return "OWNER" if r is not None and r.owner == login else "COLLABORATOR"

    # ------------------------------------------------------------------ items
    def open_issue(self, repo: str, actor: str, title: str, body: str | None = "",
                   pull_request: bool = False, at: datetime | None = None,
                   head_ref: str | None = None, number: int | None = None) -> Issue:
        """Open an issue (or a pull request, head ``head_ref`` or ``feature-<N>``) by ``actor``.

        ``number`` picks the number (scenarios name their items); it must be unused, and
        later items continue after the highest number given. Returns the new record.

        Raises:
            ValueError: ``number`` is taken, or ``repo`` is not ``owner/name``.
        """
        with self.lock:
            r = self.create_repo(repo)
            self.add_user(actor)
            if number is not None and (repo, number) in self.issues:
                raise ValueError(f"{repo}#{number} already exists")
            number = r.next_number if number is None else number
            r.next_number = max(r.next_number, number + 1)
            when = self.when(at)
            issue = Issue(repo=repo, number=number, id=next(self._ids), title=title, body=body,
                          user=actor, created_at=when, updated_at=when, is_pr=pull_request,
                          head_ref=(head_ref or f"feature-{number}") if pull_request else None)
            self.issues[(repo, number)] = issue
            return issue

    def issue(self, repo: str, number: int) -> Issue:
        """The record of ``repo#number``.

        Raises:
            KeyError: no such issue or pull request.
        """
        try:
            return self.issues[(repo, int(number))]
        except KeyError:
            raise KeyError(f"{repo}#{number} does not exist in the emulator") from None

    def pr(self, repo: str, number: int) -> Issue:
        """The record of pull request ``repo#number``.

        Raises:
            KeyError: no such item. ValueError: it is an issue.
        """
        issue = self.issue(repo, number)
        if not issue.is_pr:
            raise ValueError(f"{repo}#{number} is an issue, not a pull request")
        return issue

    def numbers(self, repo: str) -> list[int]:
        """Numbers of every issue and pull request in ``repo``, ascending."""
        with self.lock:
            return sorted(n for (r, n) in self.issues if r == repo)

    def request_review(self, repo: str, number: int, actor: str, reviewer: str,
                       at: datetime | None = None) -> None:
        """Request ``reviewer``'s review on PR ``number`` (timeline ``review_requested``)."""
        with self.lock:
            issue = self.pr(repo, number)
            self.add_user(reviewer)
            if reviewer not in issue.requested_reviewers:
                issue.requested_reviewers.append(reviewer)
            self._event(issue, actor, "review_requested", at,
                        review_requester=render.simple_user(self, actor),
                        requested_reviewer=render.simple_user(self, reviewer))

    def remove_review_request(self, repo: str, number: int, actor: str, reviewer: str,
                              at: datetime | None = None) -> None:
        """Withdraw ``reviewer``'s review request (timeline ``review_request_removed``)."""
        with self.lock:
            issue = self.pr(repo, number)
            self.add_user(reviewer)
            if reviewer in issue.requested_reviewers:
                issue.requested_reviewers.remove(reviewer)
            self._event(issue, actor, "review_request_removed", at,
                        review_requester=render.simple_user(self, actor),
                        requested_reviewer=render.simple_user(self, reviewer))

    def request_team_review(self, repo: str, number: int, actor: str, team: str,
                            at: datetime | None = None, removed: bool = False) -> None:
        """Request (or, ``removed``, withdraw) the review of the team ``team`` (a slug of the
        repository owner's organisation) on PR ``number``: timeline ``review_requested`` /
        ``review_request_removed`` with ``requested_team`` instead of ``requested_reviewer``."""
        with self.lock:
            issue = self.pr(repo, number)
            if removed and team in issue.requested_teams:
                issue.requested_teams.remove(team)
            elif not removed and team not in issue.requested_teams:
                issue.requested_teams.append(team)
            self._event(issue, actor, "review_request_removed" if removed else "review_requested", at,
                        review_requester=render.simple_user(self, actor),
                        requested_team=render.team_json(repo.split("/")[0], team))

    def submit_review(self, repo: str, number: int, actor: str, state: str, body: str = "",
                      at: datetime | None = None) -> dict:
        """Submit a review by ``actor``; ``state`` APPROVED | CHANGES_REQUESTED | COMMENTED.

        Clears ``actor``'s pending review request, as GitHub does. Returns the stored
        timeline ``reviewed`` item (see :func:`render.review_item`).

        Raises:
            ValueError: unknown ``state``, or the item is not a pull request.
        """
        state = state.upper()
        if state not in REVIEW_STATES:
            raise ValueError(f"unknown review state {state!r}")
        with self.lock:
            issue = self.pr(repo, number)
            self.add_user(actor)
            when = self.when(at)
            if actor in issue.requested_reviewers:
                issue.requested_reviewers.remove(actor)
            item = render.review_item(self, issue, actor, state, body, next(self._ids), when)
            self._append(issue, when, item)
            return item

    def dismiss_review(self, repo: str, number: int, actor: str, review_id: int, message: str,
                       at: datetime | None = None) -> None:
        """Dismiss review ``review_id`` as ``actor``, as GitHub does: the timeline ``reviewed``
        item now reads state ``dismissed`` (its ``user`` and ``submitted_at`` stay), and a
        ``review_dismissed`` event by ``actor`` names the review and the state it had
        (``dismissed_review``: spec ``review-dismissed-issue-event``, IssueEvent.setUp.txt).

        Raises:
            ValueError: no such submitted review on this pull request, or it is dismissed already.
        """
        with self.lock:
            issue = self.pr(repo, number)
            review = next((e["item"] for e in issue.timeline if e["item"] and e["item"].get("event") == "reviewed"
                           and e["item"]["id"] == review_id), None)
            if review is None or review["state"] in ("dismissed", "pending"):
                raise ValueError(f"{repo}#{number} has no submitted review {review_id} to dismiss")
            was, review["state"] = review["state"], "dismissed"
            self._event(issue, actor, "review_dismissed", at, dismissed_review={
                "state": was, "review_id": review_id, "dismissal_message": message})

    def comment(self, repo: str, number: int, actor: str, body: str,
                at: datetime | None = None) -> dict:
        """Comment on an issue or PR as ``actor``; return the stored issue-comment object."""
        with self.lock:
            issue = self.issue(repo, number)
            self.add_user(actor)
            when = self.when(at)
            cid = next(self._ids)
            comment = render.comment_item(self, issue, actor, body, cid, when)
            self.comments[cid] = comment
            issue.comment_ids.append(cid)
            self._append(issue, when, comment_id=cid)
            return comment

    def assign(self, repo: str, number: int, actor: str, assignee: str,
               at: datetime | None = None) -> None:
        """Assign ``assignee`` (timeline ``assigned`` by ``actor``); no-op if already assigned."""
        with self.lock:
            issue = self.issue(repo, number)
            self.add_user(assignee)
            if assignee in issue.assignees:
                return
            issue.assignees.append(assignee)
            issue.dirty.add("assignees")
            self._event(issue, actor, "assigned", at, assignee=render.simple_user(self, assignee))

    def unassign(self, repo: str, number: int, actor: str, assignee: str,
                 at: datetime | None = None) -> None:
        """Unassign ``assignee`` (timeline ``unassigned``); no-op if not assigned."""
        with self.lock:
            issue = self.issue(repo, number)
            if assignee not in issue.assignees:
                return
            issue.assignees.remove(assignee)
            issue.dirty.add("assignees")
            self._event(issue, actor, "unassigned", at, assignee=render.simple_user(self, assignee))

    def add_label(self, repo: str, number: int, actor: str, label: str,
                  at: datetime | None = None) -> None:
        """Add ``label`` (created on the repo if new; timeline ``labeled``); no-op if present."""
        with self.lock:
            issue = self.issue(repo, number)
            lb = self.label(issue.repo, label)
            if label in issue.labels:
                return
            issue.labels.append(label)
            issue.dirty.add("labels")
            self._event(issue, actor, "labeled", at, label=render.label_ref(lb))

    def remove_label(self, repo: str, number: int, actor: str, label: str,
                     at: datetime | None = None) -> None:
        """Remove ``label`` (timeline ``unlabeled``); no-op if absent."""
        with self.lock:
            issue = self.issue(repo, number)
            if label not in issue.labels:
                return
            lb = self.label(issue.repo, label)
            issue.labels.remove(label)
            issue.dirty.add("labels")
            self._event(issue, actor, "unlabeled", at, label=render.label_ref(lb))

    def set_state(self, repo: str, number: int, actor: str, state: str,
                  at: datetime | None = None, reason: str | None = None) -> None:
        """Close (``state="closed"``, issue ``state_reason`` = ``reason`` or ``completed``) or
        reopen (``"open"``) the item: timeline ``closed`` / ``reopened``; no-op if already so."""
        with self.lock:
            issue = self.issue(repo, number)
            if issue.state == state:
                return
            when = self.when(at)
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

    def commit(self, repo: str, number: int, actor: str, message: str,
               at: datetime | None = None, email: str | None = None,
               name: str | None = None) -> str:
        """Push a commit authored by ``actor`` to PR ``number``; return its sha.

        The git author is ``name``/``email`` when given, else the account's name and e-mail,
        else the login and its no-reply address ``<login>@users.noreply.github.com``; the
        timeline item is :func:`render.commit_item`.
        """
        with self.lock:
            issue = self.pr(repo, number)
            self.add_user(actor)
            when = self.when(at)
            parent = issue.head_sha()
            commit_sha = sha(repo, number, message, when, next(self._seq))
            u = self.users[actor]
            person = {"name": name or u.name or actor,
                      "email": email or u.email or f"{actor}@users.noreply.github.com",
                      "date": when}
            item = render.commit_item(repo, commit_sha, parent, sha("tree", commit_sha), person,
                                      message)
            issue.commits.append(commit_sha)
            self._append(issue, when, item)
            return commit_sha

    def edit(self, repo: str, number: int, actor: str, title: str | None = None,
             body: str | None = None, at: datetime | None = None) -> None:
        """Edit the title and/or body of an issue or PR as ``actor``; bumps ``updated_at``.

        A new title adds a timeline ``renamed`` event (``rename: {from, to}``), as GitHub
        does; a body edit adds no timeline entry (GitHub records none). A recorded item's
        JSON follows both.
        """
        with self.lock:
            issue = self.issue(repo, number)
            when = self.when(at)
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

    def set_body(self, repo: str, number: int, body: str | None) -> None:
        """Replace the body verbatim (``None`` clears it), as a REST write does: no timeline
        entry, no ``updated_at`` bump, a recorded item's JSON untouched."""
        with self.lock:
            self.issue(repo, number).body = body

    def touch(self, repo: str, number: int, at: datetime | None = None) -> None:
        """Move the item's (and its repository's) ``updated_at`` forward to ``at``."""
        with self.lock:
            self._touch(self.issue(repo, number), self.when(at))

    def add_blocked_by(self, repo: str, number: int, actor: str, blocker_repo: str,
                       blocker_number: int, at: datetime | None = None) -> None:
        """Mark ``repo#number`` blocked by ``blocker_repo#blocker_number`` (issue dependencies).

        Adds ``blocked_by_added`` to the blocked item's timeline and ``blocking_added`` to
        the blocker's. No-op if already blocked by it.
        """
        with self.lock:
            issue = self.issue(repo, number)
            blocker = self.issue(blocker_repo, blocker_number)
            key = (blocker.repo, blocker.number)
            if key in issue.blocked_by:
                return
            issue.blocked_by.append(key)
            self.blocking.setdefault(key, []).append((issue.repo, issue.number))
            self._event(issue, actor, "blocked_by_added", at,
                        blocked_by=render.issue_ref(self, blocker))
            self._event(blocker, actor, "blocking_added", at, blocking=render.issue_ref(self, issue))

    def remove_blocked_by(self, repo: str, number: int, actor: str, blocker_repo: str,
                          blocker_number: int, at: datetime | None = None) -> None:
        """Undo :meth:`add_blocked_by` (``blocked_by_removed`` / ``blocking_removed``)."""
        with self.lock:
            issue = self.issue(repo, number)
            blocker = self.issue(blocker_repo, blocker_number)
            key = (blocker.repo, blocker.number)
            if key not in issue.blocked_by:
                return
            issue.blocked_by.remove(key)
            self.blocking[key].remove((issue.repo, issue.number))
            self._event(issue, actor, "blocked_by_removed", at,
                        blocked_by=render.issue_ref(self, blocker))
            self._event(blocker, actor, "blocking_removed", at,
                        blocking=render.issue_ref(self, issue))

    def load_recorded(self, repo: str, number: int, issue_json: dict,
                      timeline_json: list) -> None:
        """Hold a recorded issue and timeline (vendor JSON) as-is at ``repo#number``.

        URL fields under the issue's own ``/repos/{o}/{r}/issues/{n}`` prefix are moved to
        ``repo#number`` when mounted elsewhere; its labels join the repository's label set.
        """
        with self.lock:
            r = self.create_repo(repo)
            raw = copy.deepcopy(issue_json)
            old_prefix = raw.get("url", "")
            new_prefix = f"{render.API_ROOT}/repos/{repo}/issues/{number}"
            if old_prefix and old_prefix != new_prefix:
                for k, v in list(raw.items()):
                    if isinstance(v, str) and v.startswith(old_prefix) and (
                            k == "url" or k.endswith("_url")):
                        raw[k] = new_prefix + v[len(old_prefix):]
            r.next_number = max(r.next_number, number + 1)
            user = (raw.get("user") or {}).get("login") or "ghost"
            issue = Issue(
                repo=repo, number=number, id=raw.get("id") or next(self._ids),
                title=raw.get("title", ""), body=raw.get("body"), user=user,
                created_at=raw.get("created_at") or ts(self.clock()),
                updated_at=raw.get("updated_at") or ts(self.clock()),
                is_pr="pull_request" in raw, state=raw.get("state", "open"),
                state_reason=raw.get("state_reason"), closed_at=raw.get("closed_at"),
                closed_by=(raw.get("closed_by") or {}).get("login"),
                assignees=[a["login"] for a in raw.get("assignees") or []],
                labels=[lb["name"] for lb in raw.get("labels") or []],
                raw=raw, raw_comments=int(raw.get("comments") or 0))
            for lb in raw.get("labels") or []:
                r.labels.setdefault(lb["name"], Label(id=lb.get("id") or next(self._ids),
                                                      name=lb["name"],
                                                      color=lb.get("color", "ededed"),
                                                      description=lb.get("description")))
            for item in timeline_json:
                issue.timeline.append({"at": "", "seq": next(self._seq),
                                       "item": copy.deepcopy(item)})
            self.issues[(repo, number)] = issue

    # ------------------------------------------------------------------ internals
    def when(self, at: datetime | str | None) -> str:
        """``at`` (``None`` = now, from ``clock``) as a GitHub timestamp string."""
        return ts(self.clock() if at is None else at)

    def _touch(self, issue: Issue, when: str) -> None:
        if not issue.updated_at or parse_ts(when) > parse_ts(issue.updated_at):
            issue.updated_at = when
        r = self.repos[issue.repo]
        if parse_ts(when) > parse_ts(r.updated_at):
            r.updated_at = when

    def _append(self, issue: Issue, when: str, item: dict | None = None,
                comment_id: int | None = None) -> None:
        issue.timeline.append({"at": when, "seq": next(self._seq), "item": item,
                               "comment_id": comment_id})
        self._touch(issue, when)

    def _event(self, issue: Issue, actor: str, kind: str, at: Any, **extra: Any) -> None:
        self.add_user(actor)
        when = self.when(at)
        self._append(issue, when, render.event_item(self, issue, actor, kind, next(self._ids),
                                                    when, extra))
