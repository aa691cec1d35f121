"""Serve a local, in-memory emulator of the Jira REST API subset the connector uses.

Two deployments (constructor ``deployment=``):

* ``"cloud"``: Jira Cloud platform REST v2 and v3 (``/rest/api/2|3|latest/...``).
  ``GET serverInfo`` reports ``deploymentType: "Cloud"`` (the only value the jira client
  treats as Cloud, which ``enhanced_search_issues`` needs). Auth is HTTP Basic
  ``email:api_token``. Search is ``/search/jql`` (``nextPageToken``); the retired
  ``/search`` answers 410 Gone as Cloud does since its removal.
* ``"datacenter"``: Jira Data Center REST v2 (``/rest/api/2|latest``). ``serverInfo``
  reports ``deploymentType: "Server"``, which is what real Data Center reports
  (e.g. Jira DC 10.3.13, github.com/TestPlanIt/testplanit issue 494). Auth is
  ``Authorization: Bearer <personal access token>``. Search is ``/search``
  (``startAt``/``total``); ``/search/jql``, ``/changelog/bulkfetch``,
  ``/issue/{key}/changelog`` and v3 are 404 there.

Shapes follow the vendor OpenAPI file ``shared/specs/jira/swagger-v3.v3.json`` (Jira Cloud
platform v3; v2 has the same shapes except that ``description`` and comment ``body`` are
wiki-markup strings instead of Atlassian Document Format). Every ``self`` link is rendered
with the emulator's own ``scheme://host:port`` taken from the request.

Timestamps are served in Jira's format ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (e.g.
``2024-03-01T10:00:00.000+0100``) in the **time zone of the authenticated user**
(``add_user(time_zone=)``), as Jira renders them; JQL date literals are read in that same
zone. Internally every instant is an aware UTC datetime.

This module is the assembly, :class:`JiraEmulator`; the parts live beside it:
``state.py`` (the in-memory site and its changelog rules), ``jql.py`` (the JQL subset),
``render.py`` (the vendor JSON shapes, timestamps, ADF) and ``routes.py`` (the Flask app).
Served through ``connectors.sandbox.emulation.LoopbackServer`` (``werkzeug.serving`` on a
daemon thread) with its fault table and request log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from flask import Response

from connectors.sandbox.emulation import Fault, Faults, LoopbackServer
from connectors.sandbox.jira.render import CANONICAL_ROOT, JiraRenderer
from connectors.sandbox.jira.routes import build_app, fault_response
from connectors.sandbox.jira.state import UNCHANGED, JiraState

CLOUD_EMBEDDED_CHANGELOG_LIMIT = 40


class JiraEmulator(LoopbackServer):
    """An in-memory Jira (Cloud or Data Center) served on loopback.

    Drive it through HTTP (the official ``jira`` client) or through the driver methods
    below, which write the same state and changelog histories the HTTP endpoints do (they
    hand over to :class:`~connectors.sandbox.jira.state.JiraState`, ``self.state``, whose
    docstring gives the changelog rules). ``at=None`` means now, from ``clock``;
    ``actor``/``assignee`` are accountIds (on Data Center the accountId doubles as the
    username ``name`` and user ``key``).

    User objects (``User`` schema) carry ``emailAddress`` when the user record has an
    e-mail (``add_user(email=)``), as Jira Cloud does for users whose privacy settings
    show it; without one the key is absent, as for hidden e-mails.
    """

    THREAD_NAME = "jira-emulator"

    def __init__(self, clock: Callable[[], datetime] | None = None, *,
                 deployment: str = "cloud", embedded_changelog_limit: int | None = UNCHANGED,
                 site_time_zone: str = "UTC") -> None:
        """Create an empty emulator.

        Args:
            clock: returns aware UTC datetimes (default: real time).
            deployment: ``"cloud"`` or ``"datacenter"``.
            embedded_changelog_limit: most histories embedded per issue by a search with
                ``expand=changelog``. Default: 40 on Cloud (what ``/search/jql`` serves today,
                as reported by users since 2024; older ``/search`` served 100), unlimited
                (``None``) on Data Center. Jira keeps the **most recent** histories, newest
                first (spec: "a list of recent updates to an issue, sorted by date, starting
                from the most recent"); ``total > maxResults`` marks the truncation.
            site_time_zone: ``serverTimeZone`` reported by serverInfo (IANA name).
        """
        if deployment not in ("cloud", "datacenter"):
            raise ValueError("deployment must be 'cloud' or 'datacenter'")
        self.deployment = deployment
        self.cloud = deployment == "cloud"
        if embedded_changelog_limit is UNCHANGED:
            embedded_changelog_limit = CLOUD_EMBEDDED_CHANGELOG_LIMIT if self.cloud else None
        self.embedded_changelog_limit = embedded_changelog_limit
        self.site_time_zone = site_time_zone
        self.state = JiraState(clock)
        self.render = JiraRenderer(self.state, self.cloud)
        self.faults = Faults()
        self.requests: list[tuple[str, str, int]] = []
        self._lock = self.state._lock  # one lock for the state and the request log
        self._tokens: dict[str, str] = {}  # token -> accountId
        self.url: str | None = None
        self.app = build_app(self)

    def _fault_response(self, fault: Fault) -> Response:
        return fault_response(fault, self.state.clock)

    # ------------------------------------------------------------------ setup
    def add_user(self, account_id: str, display_name: str | None = None,
                 email: str | None = None, time_zone: str = "UTC") -> None:
        """Create or update an account. ``time_zone``: IANA name; responses to this user's
        requests render timestamps in it and its JQL date literals are read in it."""
        self.state.add_user(account_id, display_name, email, time_zone)

    def add_token(self, token: str, account_id: str, email: str | None = None) -> None:
        """Accept ``token`` for ``account_id``: on Cloud as Basic ``email:token`` (``email``
        defaults to the user's e-mail, and is set on the user if given), on Data Center as
        ``Authorization: Bearer <token>`` (a personal access token)."""
        with self._lock:
            self.state.ensure_user(account_id, email)
            self._tokens[token] = account_id

    def add_status(self, name: str, category: str) -> dict:
        """Add a workflow status; ``category`` is ``new``, ``indeterminate`` or ``done``.
        Returns ``{id, name, category}``."""
        return self.state.add_status(name, category)

    def create_project(self, key: str, name: str | None = None) -> None:
        """Create (or keep) project ``key``; its issues are ``KEY-1``, ``KEY-2``, ..."""
        self.state.create_project(key, name)

    # ------------------------------------------------------------------ driver: writes
    def create_issue(self, project: str, actor: str, summary: str, description: str = "",
                     assignee: str | None = None, status: str = "To Do",
                     labels: Iterable[str] = (), key: str | None = None,
                     at: datetime | None = None, duedate: str | None = None,
                     issuetype: str = "Task") -> str:
        """Create an issue (no changelog history, as in Jira); return its key.

        ``description``: wiki text (``""`` means none); ``duedate``: ``yyyy-MM-dd``;
        ``key``: force a key such as ``"WEB-17"`` (the project counter moves past it).
        """
        return self.state.create_issue(project, actor, summary, description, assignee, status,
                                       labels, key, at, duedate, issuetype)

    def transition(self, key: str, actor: str, status: str, assignee: Any = UNCHANGED,
                   at: datetime | None = None) -> None:
        """Move ``key`` to ``status``; with ``assignee`` (accountId or None) also reassign it
        in the SAME history (see :meth:`JiraState.transition`)."""
        self.state.transition(key, actor, status, assignee, at)

    def assign(self, key: str, actor: str, assignee: str | None,
               at: datetime | None = None) -> None:
        """Set (accountId) or clear (None) the assignee; no history if unchanged."""
        self.state.assign(key, actor, assignee, at)

    def comment(self, key: str, actor: str, body: str, at: datetime | None = None) -> dict:
        """Add a comment (wiki text) by ``actor``; return its v2 ``Comment`` JSON
        (canonical host ``https://emulator.atlassian.net``, UTC timestamps)."""
        with self._lock:
            return self.render.comment(self.state.comment(key, actor, body, at), "2",
                                       CANONICAL_ROOT, "UTC")

    def link(self, key: str, actor: str, link_type: str, other_key: str,
             at: datetime | None = None) -> dict:
        """Link two issues, read as a sentence: ``link("WEB-1", a, "is blocked by", "WEB-2")``;
        returns ``{id, type, inward, outward}`` (see :meth:`JiraState.link`)."""
        return self.state.link(key, actor, link_type, other_key, at)

    def unlink(self, key: str, actor: str, link_type: str, other_key: str,
               at: datetime | None = None) -> dict:
        """Remove the link read as ``key <link_type> other_key``; returns the removed
        ``{id, type, inward, outward}``; 404 :class:`JiraError` when no such link stands."""
        return self.state.unlink(key, actor, link_type, other_key, at)

    def edit(self, key: str, actor: str, summary: str | None = None,
             description: str | None = None, at: datetime | None = None) -> None:
        """Change the summary and/or description (wiki text; ``""`` clears it) in ONE
        history, as Jira's edit screen does."""
        self.state.edit(key, actor, summary, description, at)

    def add_label(self, key: str, actor: str, label: str, at: datetime | None = None) -> None:
        """Add ``label`` (no history if already present)."""
        self.state.add_label(key, actor, label, at)

    def remove_label(self, key: str, actor: str, label: str,
                     at: datetime | None = None) -> None:
        """Remove ``label`` (no history if absent)."""
        self.state.remove_label(key, actor, label, at)

    def set_flagged(self, key: str, actor: str, flagged: bool = True, at: datetime | None = None) -> None:
        """Flag the issue as an impediment (``flagged``) or clear its flag: Jira Software's "Flagged"."""
        self.state.set_flagged(key, actor, flagged, at)

    def set_duedate(self, key: str, actor: str, duedate: str | None,
                    at: datetime | None = None) -> None:
        """Set (``yyyy-MM-dd``) or clear the due date."""
        self.state.set_duedate(key, actor, duedate, at)

    def resolve(self, key: str, actor: str, resolution: str = "Done", at: datetime | None = None,
                status: str = "Done") -> None:
        """Move to ``status`` (a done-category status) and set ``resolution``, in one history."""
        self.state.resolve(key, actor, resolution, at, status)

    def reopen(self, key: str, actor: str, status: str = "To Do",
               at: datetime | None = None) -> None:
        """Move back to ``status`` and clear the resolution, in one history."""
        self.state.reopen(key, actor, status, at)

    def add_remote_link(self, key: str, actor: str, url: str, title: str,
                        at: datetime | None = None, global_id: str | None = None,
                        relationship: str | None = None) -> dict:
        """Add a web link (``RemoteIssueLink``); records a ``RemoteIssueLink`` history item.
        Same ``global_id`` as an existing link updates it instead (no new history)."""
        return self.state.add_remote_link(key, actor, url, title, at, global_id, relationship)

    def bulk_create(self, project: str, n: int, actor: str, histories_per_issue: int = 0,
                    start: datetime | None = None, step: timedelta = timedelta(minutes=1),
                    assignee: str | None = None) -> list[str]:
        """Create ``n`` issues quickly (no HTTP, no per-issue validation) for benchmarks;
        returns the keys in creation order (see :meth:`JiraState.bulk_create`)."""
        return self.state.bulk_create(project, n, actor, histories_per_issue, start, step,
                                      assignee)

    # ------------------------------------------------------------------ driver: reads
    def issue(self, key: str) -> dict:
        """The issue as v2 ``IssueBean`` JSON with all fields and the full changelog
        (canonical host ``https://emulator.atlassian.net``, timestamps in UTC)."""
        with self._lock:
            return self.render.issue(self.state._need_issue(key), "2", CANONICAL_ROOT, "UTC",
                                     None, changelog_limit=None)

    def comments(self, key: str) -> list[dict]:
        """The issue's comments, oldest first, as ``{id, author, body, created}`` (body
        is wiki text, created an aware UTC datetime)."""
        return self.state.comments(key)

    def issue_keys(self, project: str) -> list[str]:
        """Keys of the project's issues in creation order."""
        return self.state.issue_keys(project)

    def links(self, key: str) -> list[tuple[str, str]]:
        """The issue's links read as sentences: ``[("is blocked by", "WEB-2"), ...]``."""
        return self.state.links(key)

    def remote_links(self, key: str) -> list[dict]:
        """The issue's remote links as ``{id, globalId, object{url, title}, ...}``."""
        return self.state.remote_links(key)
