"""Serve a local, in-memory emulator of the GitHub REST API subset the connector uses.

Mimics API version 2022-11-28 (the default GitHub answers when no
``X-GitHub-Api-Version`` is sent): issues carry the singular ``assignee`` and
``GET /rate_limit`` the legacy ``rate`` object (shared/specs/README.md, "Version
caveat"). Shapes follow the vendor OpenAPI file
``shared/specs/github/api.github.com.2026-03-10.json.gz`` and the recorded traffic in
``shared/specs/recorded/github`` (DESIGN.md "Emulators").

This module assembles :class:`GitHubEmulator` from its parts: the world and its mutations
(:mod:`~connectors.sandbox.github.state`), the vendor JSON shapes
(:mod:`~connectors.sandbox.github.render`) and the Flask app
(:mod:`~connectors.sandbox.github.routes`), served by
:class:`~connectors.sandbox.emulation.LoopbackServer` on a daemon thread. Every
URL-bearing field (``url``, ``href``, ``*_url``) and every ``Link`` header is rendered
with the emulator's own ``scheme://host:port`` taken from the request, so clients that
follow URLs from responses (PyGithub's ``PaginatedList``) stay on the emulator. As on
github.com, follow-up ``Link`` pages use ``/repositories/{id}/...`` paths.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Callable

from flask import Response

from connectors.sandbox.emulation import Fault, Faults, LoopbackServer
from connectors.sandbox.github import render, routes
from connectors.sandbox.github.state import GitHubState


class GitHubEmulator(LoopbackServer):
    """An in-memory GitHub (REST, API version 2022-11-28) served on loopback.

    Drive it either through HTTP (the official client, PyGithub) or directly through the
    scenario methods below (``open_issue``, ``request_review``, ...), which write the same
    state and timeline events the HTTP endpoints do; they are those of
    :class:`~connectors.sandbox.github.state.GitHubState` (``state``), whose docstrings give
    the details. ``at=None`` means now, from ``clock``. Unknown items raise ``KeyError``, a
    pull-request act on an issue ``ValueError``. Returned objects carry canonical
    ``https://api.github.com`` URLs, except :meth:`issue` and :meth:`comments`, which give
    them as served over HTTP once started.

    ``faults`` (:class:`~connectors.sandbox.emulation.Faults`) injects failures;
    ``requests`` logs every answer as ``(method, path?query, status)``.
    """

    THREAD_NAME = "github-emulator"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        """Create an empty emulator; ``clock`` returns aware UTC datetimes (default: real time)."""
        self.state = GitHubState(clock)
        self.clock = self.state.clock
        self.faults = Faults()
        self.requests: list[tuple[str, str, int]] = []
        self._lock = self.state.lock
        self.app = routes.build_app(self.state, self.inject_fault, self.log_served)

    def _fault_response(self, fault: Fault) -> Response:
        return routes.fault_response(self.state, fault)

    def _served(self, obj: Any) -> Any:
        """``obj`` with its URLs as this server renders them over HTTP (when it is running)."""
        return render.rehost(obj, self.url) if self.url else obj

    # ------------------------------------------------------------------ setup
    def add_user(self, login: str, name: str | None = None, email: str | None = None) -> dict:
        """Create (or update) an account; return its simple-user object."""
        with self._lock:
            self.state.add_user(login, name, email)
            return render.simple_user(self.state, login)

    def add_token(self, token: str, login: str) -> None:
        """Accept ``token`` (``Authorization: token|Bearer <token>``) as ``login``."""
        self.state.add_token(token, login)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer 401 Bad credentials from now on."""
        self.state.revoke_token(token)

    def create_repo(self, full_name: str) -> dict:
        """Create (or return) repository ``owner/name``; return its full-repository object."""
        with self._lock:
            self.state.create_repo(full_name)
            return render.repo_json(self.state, full_name)

    # ------------------------------------------------------------------ scenario actions
    def open_issue(self, repo: str, actor: str, title: str, body: str = "",
                   pull_request: bool = False, at: datetime | None = None,
                   head_ref: str | None = None, number: int | None = None) -> int:
        """Open an issue (or a pull request) by ``actor``; return its number (shared numbering)."""
        return self.state.open_issue(repo, actor, title, body, pull_request, at, head_ref,
                                     number).number

    def request_review(self, repo: str, number: int, actor: str, reviewer: str,
                       at: datetime | None = None) -> None:
        """Request ``reviewer``'s review on PR ``number`` (timeline ``review_requested``)."""
        self.state.request_review(repo, number, actor, reviewer, at)

    def remove_review_request(self, repo: str, number: int, actor: str, reviewer: str,
                              at: datetime | None = None) -> None:
        """Withdraw ``reviewer``'s review request (timeline ``review_request_removed``)."""
        self.state.remove_review_request(repo, number, actor, reviewer, at)

    def request_team_review(self, repo: str, number: int, actor: str, team: str,
                            at: datetime | None = None, removed: bool = False) -> None:
        """Request (``removed``: withdraw) team ``team``'s review on PR ``number`` (timeline
        ``review_requested``/``review_request_removed`` with ``requested_team``)."""
        self.state.request_team_review(repo, number, actor, team, at, removed=removed)

    def submit_review(self, repo: str, number: int, actor: str, state: str, body: str = "",
                      at: datetime | None = None) -> dict:
        """Submit a review (APPROVED | CHANGES_REQUESTED | COMMENTED); return the ``reviewed`` item."""
        with self._lock:
            return copy.deepcopy(self.state.submit_review(repo, number, actor, state, body, at))

    def dismiss_review(self, repo: str, number: int, actor: str, review_id: int, message: str = "",
                       at: datetime | None = None) -> None:
        """Dismiss review ``review_id`` (timeline ``review_dismissed``; the review reads ``dismissed``)."""
        self.state.dismiss_review(repo, number, actor, review_id, message, at)

    def comment(self, repo: str, number: int, actor: str, body: str,
                at: datetime | None = None) -> dict:
        """Comment on an issue or PR as ``actor``; return the issue-comment object."""
        with self._lock:
            return copy.deepcopy(self.state.comment(repo, number, actor, body, at))

    def assign(self, repo: str, number: int, actor: str, assignee: str,
               at: datetime | None = None) -> None:
        """Assign ``assignee`` (timeline ``assigned`` by ``actor``); no-op if already assigned."""
        self.state.assign(repo, number, actor, assignee, at)

    def unassign(self, repo: str, number: int, actor: str, assignee: str,
                 at: datetime | None = None) -> None:
        """Unassign ``assignee`` (timeline ``unassigned``); no-op if not assigned."""
        self.state.unassign(repo, number, actor, assignee, at)

    def add_label(self, repo: str, number: int, actor: str, label: str,
                  at: datetime | None = None) -> None:
        """Add ``label`` (created on the repo if new; timeline ``labeled``)."""
        self.state.add_label(repo, number, actor, label, at)

    def remove_label(self, repo: str, number: int, actor: str, label: str,
                     at: datetime | None = None) -> None:
        """Remove ``label`` (timeline ``unlabeled``); no-op if absent."""
        self.state.remove_label(repo, number, actor, label, at)

    def close(self, repo: str, number: int, actor: str, at: datetime | None = None) -> None:
        """Close the issue or PR (timeline ``closed``)."""
        self.state.set_state(repo, number, actor, "closed", at)

    def reopen(self, repo: str, number: int, actor: str, at: datetime | None = None) -> None:
        """Reopen the issue or PR (timeline ``reopened``)."""
        self.state.set_state(repo, number, actor, "open", at)

    def commit(self, repo: str, number: int, actor: str, message: str,
               at: datetime | None = None, email: str | None = None,
               name: str | None = None) -> str:
        """Push a commit authored by ``actor`` (git author ``name``/``email`` if given) to PR
        ``number``; return its sha."""
        return self.state.commit(repo, number, actor, message, at, email, name)

    def edit(self, repo: str, number: int, actor: str, title: str | None = None,
             body: str | None = None, at: datetime | None = None) -> None:
        """Edit the title (timeline ``renamed``) and/or body as ``actor``; bumps ``updated_at``."""
        self.state.edit(repo, number, actor, title, body, at)

    def add_blocked_by(self, repo: str, number: int, actor: str, blocker_repo: str,
                       blocker_number: int, at: datetime | None = None) -> None:
        """Mark ``repo#number`` blocked by ``blocker_repo#blocker_number`` (issue dependencies)."""
        self.state.add_blocked_by(repo, number, actor, blocker_repo, blocker_number, at)

    def remove_blocked_by(self, repo: str, number: int, actor: str, blocker_repo: str,
                          blocker_number: int, at: datetime | None = None) -> None:
        """Undo :meth:`add_blocked_by` (``blocked_by_removed`` / ``blocking_removed``)."""
        self.state.remove_blocked_by(repo, number, actor, blocker_repo, blocker_number, at)

    def load_recorded(self, repo: str, number: int, issue_json: dict,
                      timeline_json: list) -> None:
        """Serve a recorded issue and timeline as-is at ``repo#number``.

        Only URL fields are re-rendered (host, and the issue's own ``/repos/{o}/{r}/issues/{n}``
        prefix when mounted elsewhere). Later writes append to the timeline and overlay
        ``updated_at``, ``comments``, and (once touched) assignees, labels and state.
        """
        self.state.load_recorded(repo, number, issue_json, timeline_json)

    # ------------------------------------------------------------------ inspection
    def comments(self, repo: str, number: int) -> list[dict]:
        """Return the comments that stand now on ``repo#number`` (recorded ones included), oldest first.

        URLs are rendered as served over HTTP once the emulator is started.
        """
        with self._lock:
            return self._served(render.comments_json(self.state, self.state.issue(repo, number)))

    def numbers(self, repo: str) -> list[int]:
        """Numbers of every issue and pull request in ``repo``, ascending."""
        return self.state.numbers(repo)

    def issue(self, repo: str, number: int) -> dict:
        """Return the issue object, with URLs as served over HTTP once started."""
        with self._lock:
            return self._served(render.issue_json(self.state, self.state.issue(repo, number)))

    def timeline(self, repo: str, number: int) -> list[dict]:
        """Return the timeline items as served (canonical URLs), in order."""
        with self._lock:
            return render.timeline_json(self.state, self.state.issue(repo, number))
