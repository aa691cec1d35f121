"""Serve a local, in-memory emulator of the Asana REST API subset the connector uses.

Paths live under ``/api/1.0`` like ``https://app.asana.com/api/1.0`` (the official
client's default host). Shapes follow Asana's own OpenAPI description
``shared/specs/asana/asana_oas.yaml`` (schemas named in each docstring of
:mod:`~connectors.sandbox.asana.render`); Asana publishes no recorded responses, so bodies
are composed from those schemas and the behaviour Asana documents
(shared/specs/recorded/README.md, "Asana: nothing stored").

Envelope: every success is ``{"data": ...}`` (paginated lists add ``next_page``; the
events feed adds ``sync`` and ``has_more``); every error is
``{"errors": [{"message": str, "help": str}]}`` (``ErrorResponse``). Timestamps are UTC,
rendered ``YYYY-MM-DDTHH:MM:SS.mmmZ``; dates (``due_on``) are ``YYYY-MM-DD``. Gids are
numeric strings.

This module is the assembly: :class:`AsanaEmulator` joins the world
(:mod:`~connectors.sandbox.asana.state`), its vendor shapes
(:mod:`~connectors.sandbox.asana.render`) and the Flask routes
(:mod:`~connectors.sandbox.asana.routes`), served through ``werkzeug.serving.make_server``
on a daemon thread by :class:`~connectors.sandbox.emulation.LoopbackServer`, with its fault
table (:class:`~connectors.sandbox.emulation.Faults`) and request log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable

from flask import Response

from connectors.sandbox.asana import render
from connectors.sandbox.asana.routes import build_app, fault_response
from connectors.sandbox.asana.state import AsanaState
from connectors.sandbox.emulation import Fault, Faults, LoopbackServer

__all__ = ["AsanaEmulator"]


class AsanaEmulator(LoopbackServer):
    """An in-memory Asana (REST API 1.0) served on loopback under ``/api/1.0``.

    Drive it through HTTP (the official ``asana`` client, ``configuration.host =
    emu.url + "/api/1.0"``) or through the driver methods below, which write the same
    state, system stories and events as the HTTP endpoints (``state``, an
    :class:`~connectors.sandbox.asana.state.AsanaState`). Every change to a task writes the
    system story Asana writes (``created_by`` = the actor), emits the matching events (task
    ``changed`` + story ``added``) and sets the task's ``modified_at`` to the change time.
    ``at=None`` means now, from ``clock``. Actors and assignees are user gids; an unknown
    gid raises KeyError.
    """

    THREAD_NAME = "asana-emulator"

    def __init__(self, clock: Callable[[], datetime] | None = None,
                 sync_token_ttl: timedelta = timedelta(hours=24)) -> None:
        """Create an empty emulator.

        ``clock`` returns aware UTC datetimes (default: real time). ``sync_token_ttl``:
        how long (clock time) an events sync token stays valid after it was issued.
        """
        self.state = AsanaState(clock, sync_token_ttl)
        self.faults = Faults()
        self.requests: list[tuple[str, str, int]] = []
        self._lock = self.state.lock
        self.app = build_app(self.state, self)

    def _fault_response(self, fault: Fault) -> Response:
        return fault_response(fault)

    # ------------------------------------------------------------------ setup
    def add_user(self, gid: str, name: str, email: str | None = None) -> dict:
        """Create (or update) user ``gid`` (numeric string); return its ``UserCompact``."""
        with self._lock:
            self.state.add_user(gid, name, email)
            return render.user_compact(self.state, gid)

    def add_token(self, token: str, user_gid: str) -> None:
        """Accept ``Authorization: Bearer <token>`` as ``user_gid`` (which must exist)."""
        self.state.add_token(token, user_gid)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer 401 from now on."""
        self.state.revoke_token(token)

    def create_project(self, gid: str, name: str,
                       sections: Iterable[str] = ("To do", "Doing", "Legal review", "Done"),
                       at: datetime | None = None) -> list[str]:
        """Create project ``gid`` with ``sections`` in that order; return the section gids."""
        return self.state.create_project(gid, name, sections, at)

    def section_gid(self, project: str, name: str) -> str:
        """Return the gid of the section called ``name`` in ``project``; KeyError if none."""
        return self.state.section_gid(project, name)

    # ------------------------------------------------------------------ driver actions
    def create_task(self, project: str, actor: str, name: str, notes: str = "",
                    assignee: str | None = None, section: str | None = None,
                    due_on: str | None = None, gid: str | None = None,
                    at: datetime | None = None) -> str:
        """Create a task in ``project`` (``section`` name, default the first); return its gid.

        Writes an ``added_to_project`` story (and ``assigned`` when ``assignee`` is given)
        and emits ``added`` events with parent = project and parent = section.
        """
        return self.state.create_task(project, actor, name, notes, assignee, section, due_on,
                                      gid, at)

    def assign(self, task: str, actor: str, assignee: str | None,
               at: datetime | None = None) -> None:
        """Set (user gid) or clear (``None``) the assignee: ``assigned``/``unassigned`` story."""
        self.state.assign(task, actor, assignee, at)

    def move_to_section(self, task: str, actor: str, section_name: str,
                        at: datetime | None = None) -> None:
        """Move the task to ``section_name`` of its project: ``section_changed`` story."""
        self.state.move_to_section(task, actor, section_name, at)

    def comment(self, task: str, actor: str, text: str | None = None,
                html_text: str | None = None, at: datetime | None = None) -> dict:
        """Add a comment (plain ``text`` or ``html_text`` ``<body>...</body>`` with
        ``<a data-asana-gid="GID"/>`` mentions); return it as ``StoryResponse``."""
        with self._lock:
            return render.story_full(self.state, self.state.comment(task, actor, text,
                                                                    html_text, at))

    def complete(self, task: str, actor: str, at: datetime | None = None) -> None:
        """Mark the task complete: ``marked_complete`` story."""
        self.state.complete(task, actor, at)

    def uncomplete(self, task: str, actor: str, at: datetime | None = None) -> None:
        """Mark the task incomplete: ``marked_incomplete`` story."""
        self.state.uncomplete(task, actor, at)

    def add_dependency(self, task: str, actor: str, depends_on_task: str,
                       at: datetime | None = None) -> None:
        """Make ``task`` blocked by ``depends_on_task``.

        Writes ``dependency_added`` on ``task`` and ``dependent_added`` on the blocker,
        each with ``dependency`` = the other task (TaskCompact).
        """
        self.state.add_dependency(task, actor, depends_on_task, at)

    def remove_dependency(self, task: str, actor: str, depends_on_task: str,
                          at: datetime | None = None) -> None:
        """Undo :meth:`add_dependency`: ``dependency_removed`` / ``dependent_removed`` stories."""
        self.state.remove_dependency(task, actor, depends_on_task, at)

    def set_due(self, task: str, actor: str, due_on: str | None,
                at: datetime | None = None) -> None:
        """Set the due date (``YYYY-MM-DD``) or clear it (``None``): ``due_date_changed`` story."""
        self.state.set_due(task, actor, due_on, at)

    def set_name(self, task: str, actor: str, name: str, at: datetime | None = None) -> None:
        """Rename the task: ``name_changed`` story with ``old_name``/``new_name``."""
        self.state.set_name(task, actor, name, at)

    def set_notes(self, task: str, actor: str, notes: str, at: datetime | None = None) -> None:
        """Replace the plain-text description: ``notes_changed`` story ("changed the description");
        ``html_notes`` becomes the escaped text in ``<body>``."""
        self.state.set_notes(task, actor, notes, at)

    def add_attachment_url(self, task: str, actor: str, url: str, name: str,
                           at: datetime | None = None) -> dict:
        """Attach an external link; return it as ``AttachmentResponse`` (``attachment_added`` story)."""
        with self._lock:
            return render.attachment_full(self.state, self.state.add_attachment_url(
                task, actor, url, name, at))

    def create_subtask(self, parent: str, actor: str, name: str, notes: str = "",
                       assignee: str | None = None, due_on: str | None = None,
                       at: datetime | None = None) -> str:
        """Create a subtask of ``parent`` (in no project, as in Asana); return its gid."""
        return self.state.create_subtask(parent, actor, name, notes, assignee, due_on, at)

    def expire_sync_tokens(self) -> None:
        """Invalidate every events sync token issued so far (the next call answers 412)."""
        self.state.expire_sync_tokens()

    def bulk_create(self, project: str, n: int, actor: str, stories_per_task: int = 0,
                    at: datetime | None = None, section: str | None = None,
                    events: bool = False, name_prefix: str = "Task") -> list[str]:
        """Load ``n`` tasks straight into memory (no HTTP); return their gids in order.

        For benchmarks (5,000 tasks take well under a second). Each task gets
        ``stories_per_task`` ``comment_added`` stories by ``actor``, all at ``at``.
        With ``events=False`` (default) no events are written: the load is the backlog
        that exists before any sync token, found by a ``modified_since`` crawl.
        """
        return self.state.bulk_create(project, n, actor, stories_per_task, at, section, events,
                                      name_prefix)

    # ------------------------------------------------------------------ inspection
    def task(self, gid: str) -> dict:
        """The task as ``TaskResponse`` (what ``GET /tasks/{gid}`` answers)."""
        with self._lock:
            return render.task_full(self.state, self.state.need_task(gid))

    def stories(self, gid: str) -> list[dict]:
        """The task's stories, oldest first, as ``StoryResponse``."""
        with self._lock:
            return [render.story_full(self.state, self.state.stories[s])
                    for s in self.state.need_task(gid).stories]

    def subtasks(self, gid: str) -> list[str]:
        """Gids of the task's subtasks, in creation order."""
        with self._lock:
            return list(self.state.need_task(gid).subtasks)

    def task_gids(self, project: str) -> list[str]:
        """Gids of the project's tasks (not subtasks), in creation order."""
        with self._lock:
            return list(self.state.need_project(project)["tasks"])

    def events(self, resource: str) -> list[dict]:
        """Every event recorded for ``resource`` (project or task gid), oldest first (``EventResponse``)."""
        with self._lock:
            return [ev for _, ev in self.state.feeds.get(resource, [])]
