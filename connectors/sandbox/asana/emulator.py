"""Serve a local, in-memory emulator of the Asana REST API subset the connector uses.

Paths live under ``/api/1.0`` like ``https://app.asana.com/api/1.0`` (the official
client's default host). Shapes follow Asana's own OpenAPI description
``shared/specs/asana/asana_oas.yaml`` (schemas named in each docstring below); Asana
publishes no recorded responses, so bodies are composed from those schemas and the
behaviour Asana documents (shared/specs/recorded/README.md, "Asana: nothing stored").

Envelope: every success is ``{"data": ...}`` (paginated lists add ``next_page``; the
events feed adds ``sync`` and ``has_more``); every error is
``{"errors": [{"message": str, "help": str}]}`` (``ErrorResponse``). Timestamps are UTC,
rendered ``YYYY-MM-DDTHH:MM:SS.mmmZ``; dates (``due_on``) are ``YYYY-MM-DD``. Gids are
numeric strings.

Served by Flask through ``werkzeug.serving.make_server`` on a daemon thread, like the
GitHub emulator, whose fault table (:class:`~connectors.sandbox.github.emulator.Faults`) is reused.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import re
import secrets
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from html import escape
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from connectors.sandbox.emulation import Fault, Faults, LoopbackServer, lost_response_middleware

__all__ = ["AsanaEmulator", "AsanaError", "Fault", "Faults", "API_PREFIX"]

API_PREFIX = "/api/1.0"
APP_ROOT = "https://app.asana.com"
JSON_TYPE = "application/json; charset=UTF-8"
EVENTS_PER_RESPONSE = 100   # "Asana limits a single sync token to 100 events"
UNPAGINATED_MAX = 1000      # unpaginated lists larger than this answer 400 (see _page)
MAX_DEPENDENCIES = 15       # "A task can have at most 15 dependencies" (addDependencies)
HELP = ("For more information on API status codes and how to handle them, read the docs "
        "on errors: https://developers.asana.com/docs/errors")
SYNC_INVALID = ("Sync token invalid or too old. If you are attempting to keep resources in "
                "sync, you must fetch the full dataset for this query now and use the new "
                "sync token for the next sync.")
RATE_LIMITED = ("You've made too many requests and hit a rate limit. Please retry after "
                "the given amount of time.")
WORKSPACE = {"gid": "1000000000001", "resource_type": "workspace", "name": "Emulated workspace"}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_TASK_COMPACT = ("gid", "name", "resource_type", "resource_subtype")
_STORY_COMPACT = ("gid", "created_at", "created_by", "resource_type", "resource_subtype",
                  "text", "type")


def _ts(value: datetime) -> str:
    """Render an aware datetime as Asana does: UTC, milliseconds, ``Z``."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    v = value.astimezone(timezone.utc)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def _parse_ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


class AsanaError(Exception):
    """An HTTP error answered with Asana's ``ErrorResponse`` body."""

    def __init__(self, status: int, message: str, headers: dict | None = None,
                 extra: dict | None = None, help: bool = True):
        super().__init__(message)
        self.status, self.message = status, message
        self.headers = headers or {}
        self.extra = extra or {}
        self.help = help

    def body(self) -> dict:
        err: dict[str, Any] = {"message": self.message}
        if self.help:
            err["help"] = HELP
        return {"errors": [err], **self.extra}


@dataclass
class _Task:
    gid: str
    name: str
    notes: str
    created_at: datetime
    modified_at: datetime
    created_by: str | None
    project: str | None = None
    section: str | None = None
    parent: str | None = None
    assignee: str | None = None
    completed: bool = False
    completed_at: datetime | None = None
    completed_by: str | None = None
    due_on: str | None = None
    due_at: datetime | None = None
    html_notes: str | None = None
    subtasks: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
    stories: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    followers: list[str] = field(default_factory=list)


def _field_tree(fields: Iterable[str]) -> dict:
    tree: dict = {}
    for f in fields:
        node = tree
        for part in f.split("."):
            node = node.setdefault(part, {})
    return tree


def _select(obj: Any, tree: dict, expand: Callable[[dict], dict | None] | None = None) -> Any:
    """Keep the ``opt_fields`` tree of ``obj``; objects always keep ``gid``.

    A field named without sub-fields keeps its full value as rendered (for a reference,
    its compact form); ``a.b`` keeps ``b`` of the object (or of each item) under ``a``.
    When a referenced object lacks a requested field (``assignee.email``), ``expand``
    returns its full rendering to select from.
    """
    if isinstance(obj, list):
        return [_select(v, tree, expand) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if expand is not None and any(k not in obj for k in tree):
        obj = expand(obj) or obj
    out: dict[str, Any] = {}
    if "gid" in obj:
        out["gid"] = obj["gid"]
    for key, sub in tree.items():
        if key in obj:
            out[key] = _select(obj[key], sub, expand) if sub else obj[key]
    return out


class AsanaEmulator(LoopbackServer):
    """An in-memory Asana (REST API 1.0) served on loopback under ``/api/1.0``.

    Drive it through HTTP (the official ``asana`` client, ``configuration.host =
    emu.url + "/api/1.0"``) or through the driver methods below, which write the same
    state, system stories and events as the HTTP endpoints. Every change to a task
    writes the system story Asana writes (``created_by`` = the actor), emits the
    matching events (task ``changed`` + story ``added``) and sets the task's
    ``modified_at`` to the change time. ``at=None`` means now, from ``clock``. Actors
    and assignees are user gids.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None,
                 sync_token_ttl: timedelta = timedelta(hours=24)) -> None:
        """Create an empty emulator.

        ``clock`` returns aware UTC datetimes (default: real time). ``sync_token_ttl``:
        how long (clock time) an events sync token stays valid after it was issued.
        """
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sync_token_ttl = sync_token_ttl
        self.faults = Faults()
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.RLock()
        self._gids = itertools.count(1200000000000001)
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._users: dict[str, dict] = {}
        self._tokens: dict[str, str] = {}
        self._projects: dict[str, dict] = {}
        self._sections: dict[str, dict] = {}
        self._tasks: dict[str, _Task] = {}
        self._stories: dict[str, dict] = {}
        self._attachments: dict[str, dict] = {}
        self._events: dict[str, list[tuple[int, dict]]] = {}  # scope gid -> [(seq, event)]
        self._syncs: dict[str, tuple[str, int, datetime]] = {}  # token -> (resource, seq, issued)
        self._server = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.app = self._build_app()

    THREAD_NAME = "asana-emulator"

    # ------------------------------------------------------------------ setup
    def _gid(self) -> str:
        """A fresh gid, skipping any a caller chose itself (users, projects, tasks given ``gid=``)."""
        while True:
            gid = str(next(self._gids))
            if not self._taken(gid):
                return gid

    def _taken(self, gid: str) -> bool:
        return any(gid in table for table in (self._users, self._projects, self._sections, self._tasks,
                                              self._stories, self._attachments))

    def _when(self, at: datetime | None) -> datetime:
        when = self.clock() if at is None else at
        if when.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        return when.astimezone(timezone.utc)

    def add_user(self, gid: str, name: str, email: str | None = None) -> dict:
        """Create (or update) user ``gid`` (numeric string); return its ``UserCompact``."""
        with self._lock:
            local = re.sub(r"\W+", ".", name.lower()).strip(".") or gid
            self._users[gid] = {"gid": gid, "name": name,
                                "email": email or f"{local}@example.com"}
            return self._user_compact(gid)

    def add_token(self, token: str, user_gid: str) -> None:
        """Accept ``Authorization: Bearer <token>`` as ``user_gid`` (which must exist)."""
        with self._lock:
            self._need_user(user_gid)
            self._tokens[token] = user_gid

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer 401 from now on."""
        with self._lock:
            self._tokens.pop(token, None)

    def create_project(self, gid: str, name: str,
                       sections: Iterable[str] = ("To do", "Doing", "Legal review", "Done"),
                       at: datetime | None = None) -> list[str]:
        """Create project ``gid`` with ``sections`` in that order; return the section gids."""
        with self._lock:
            if gid in self._projects:
                raise ValueError(f"project {gid} already exists")
            when = self._when(at)
            self._projects[gid] = {"gid": gid, "name": name, "sections": [], "tasks": [],
                                   "created_at": when, "modified_at": when}
            for sname in sections:
                sgid = self._gid()
                self._sections[sgid] = {"gid": sgid, "name": sname, "project": gid,
                                        "created_at": when}
                self._projects[gid]["sections"].append(sgid)
            return list(self._projects[gid]["sections"])

    def section_gid(self, project: str, name: str) -> str:
        """Return the gid of the section called ``name`` in ``project``; KeyError if none."""
        with self._lock:
            for sgid in self._need_project(project)["sections"]:
                if self._sections[sgid]["name"] == name:
                    return sgid
        raise KeyError(f"project {project} has no section {name!r}")

    # ------------------------------------------------------------------ driver actions
    def create_task(self, project: str, actor: str, name: str, notes: str = "",
                    assignee: str | None = None, section: str | None = None,
                    due_on: str | None = None, gid: str | None = None,
                    at: datetime | None = None) -> str:
        """Create a task in ``project`` (``section`` name, default the first); return its gid.

        Writes an ``added_to_project`` story (and ``assigned`` when ``assignee`` is given)
        and emits ``added`` events with parent = project and parent = section.
        """
        with self._lock:
            proj = self._need_project(project)
            sgid = self.section_gid(project, section) if section else (
                proj["sections"][0] if proj["sections"] else None)
            return self._new_task(actor, name, notes, self._when(at), project=project,
                                  section=sgid, assignee=assignee, due_on=due_on, gid=gid).gid

    def assign(self, task: str, actor: str, assignee: str | None,
               at: datetime | None = None) -> None:
        """Set (user gid) or clear (``None``) the assignee: ``assigned``/``unassigned`` story."""
        with self._lock:
            self._set_assignee(self._need_task(task), actor, assignee, self._when(at))

    def move_to_section(self, task: str, actor: str, section_name: str,
                        at: datetime | None = None) -> None:
        """Move the task to ``section_name`` of its project: ``section_changed`` story."""
        with self._lock:
            t = self._need_task(task)
            if t.project is None:
                raise ValueError(f"task {task} is in no project")
            self._move(t, actor, self.section_gid(t.project, section_name), self._when(at))

    def comment(self, task: str, actor: str, text: str | None = None,
                html_text: str | None = None, at: datetime | None = None) -> dict:
        """Add a comment (plain ``text`` or ``html_text`` ``<body>...</body>`` with
        ``<a data-asana-gid="GID"/>`` mentions); return it as ``StoryResponse``."""
        with self._lock:
            story = self._comment(self._need_task(task), actor, text, html_text,
                                  self._when(at), source="web")
            return self._story_full(story)

    def complete(self, task: str, actor: str, at: datetime | None = None) -> None:
        """Mark the task complete: ``marked_complete`` story."""
        with self._lock:
            self._set_completed(self._need_task(task), actor, True, self._when(at))

    def uncomplete(self, task: str, actor: str, at: datetime | None = None) -> None:
        """Mark the task incomplete: ``marked_incomplete`` story."""
        with self._lock:
            self._set_completed(self._need_task(task), actor, False, self._when(at))

    def add_dependency(self, task: str, actor: str, depends_on_task: str,
                       at: datetime | None = None) -> None:
        """Make ``task`` blocked by ``depends_on_task``.

        Writes ``dependency_added`` on ``task`` and ``dependent_added`` on the blocker,
        each with ``dependency`` = the other task (TaskCompact).
        """
        with self._lock:
            self._add_dependency(self._need_task(task), actor, self._need_task(depends_on_task),
                                 self._when(at))

    def remove_dependency(self, task: str, actor: str, depends_on_task: str,
                          at: datetime | None = None) -> None:
        """Undo :meth:`add_dependency`: ``dependency_removed`` / ``dependent_removed`` stories."""
        with self._lock:
            self._remove_dependency(self._need_task(task), actor,
                                    self._need_task(depends_on_task), self._when(at))

    def set_due(self, task: str, actor: str, due_on: str | None,
                at: datetime | None = None) -> None:
        """Set the due date (``YYYY-MM-DD``) or clear it (``None``): ``due_date_changed`` story."""
        with self._lock:
            self._set_due(self._need_task(task), actor, due_on, None, self._when(at))

    def set_name(self, task: str, actor: str, name: str, at: datetime | None = None) -> None:
        """Rename the task: ``name_changed`` story with ``old_name``/``new_name``."""
        with self._lock:
            self._set_name(self._need_task(task), actor, name, self._when(at))

    def set_notes(self, task: str, actor: str, notes: str, at: datetime | None = None) -> None:
        """Replace the plain-text description: ``notes_changed`` story ("changed the description");
        ``html_notes`` becomes the escaped text in ``<body>``."""
        with self._lock:
            self._set_notes(self._need_task(task), actor, notes, None, self._when(at))

    def add_attachment_url(self, task: str, actor: str, url: str, name: str,
                           at: datetime | None = None) -> dict:
        """Attach an external link; return it as ``AttachmentResponse`` (``attachment_added`` story)."""
        with self._lock:
            att = self._add_attachment(self._need_task(task), actor, url, name, self._when(at))
            return self._attachment_full(att)

    def create_subtask(self, parent: str, actor: str, name: str, notes: str = "",
                       assignee: str | None = None, due_on: str | None = None,
                       at: datetime | None = None) -> str:
        """Create a subtask of ``parent`` (in no project, as in Asana); return its gid."""
        with self._lock:
            p = self._need_task(parent)
            return self._new_task(actor, name, notes, self._when(at), parent=p.gid,
                                  assignee=assignee, due_on=due_on).gid

    def expire_sync_tokens(self) -> None:
        """Invalidate every events sync token issued so far (the next call answers 412)."""
        with self._lock:
            self._syncs.clear()

    def bulk_create(self, project: str, n: int, actor: str, stories_per_task: int = 0,
                    at: datetime | None = None, section: str | None = None,
                    events: bool = False, name_prefix: str = "Task") -> list[str]:
        """Load ``n`` tasks straight into memory (no HTTP); return their gids in order.

        For benchmarks (5,000 tasks take well under a second). Each task gets
        ``stories_per_task`` ``comment_added`` stories by ``actor``, all at ``at``.
        With ``events=False`` (default) no events are written: the load is the backlog
        that exists before any sync token, found by a ``modified_since`` crawl.
        """
        with self._lock:
            proj = self._need_project(project)
            self._need_user(actor)
            when = self._when(at)
            sgid = self.section_gid(project, section) if section else (
                proj["sections"][0] if proj["sections"] else None)
            out = []
            for i in range(n):
                gid = self._gid()
                t = _Task(gid=gid, name=f"{name_prefix} {i + 1}", notes="", created_at=when,
                          modified_at=when, created_by=actor, project=project, section=sgid,
                          followers=[actor])
                self._tasks[gid] = t
                proj["tasks"].append(gid)
                for k in range(stories_per_task):
                    text = f"Comment {k + 1} on {t.name}"
                    sg = self._gid()
                    self._stories[sg] = {
                        "gid": sg, "task": gid, "created_at": when, "created_by": actor,
                        "resource_subtype": "comment_added", "type": "comment", "text": text,
                        "html_text": f"<body>{escape(text, quote=False)}</body>",
                        "source": "web", "extra": {}}
                    t.stories.append(sg)
                    if events:
                        self._story_event(t, sg, actor, when)
                if events:
                    self._emit(actor, when, "added", self._task_named(t),
                               self._project_named(project), scopes=self._scopes(t))
                out.append(gid)
            return out

    # ------------------------------------------------------------------ inspection
    def task(self, gid: str) -> dict:
        """The task as ``TaskResponse`` (what ``GET /tasks/{gid}`` answers)."""
        with self._lock:
            return self._task_full(self._need_task(gid))

    def stories(self, gid: str) -> list[dict]:
        """The task's stories, oldest first, as ``StoryResponse``."""
        with self._lock:
            return [self._story_full(self._stories[s]) for s in self._need_task(gid).stories]

    def subtasks(self, gid: str) -> list[str]:
        """Gids of the task's subtasks, in creation order."""
        with self._lock:
            return list(self._need_task(gid).subtasks)

    def task_gids(self, project: str) -> list[str]:
        """Gids of the project's tasks (not subtasks), in creation order."""
        with self._lock:
            return list(self._need_project(project)["tasks"])

    def events(self, resource: str) -> list[dict]:
        """Every event recorded for ``resource`` (project or task gid), oldest first (``EventResponse``)."""
        with self._lock:
            return [ev for _, ev in self._events.get(resource, [])]

    # ------------------------------------------------------------------ lookups
    def _need_user(self, gid: str | None) -> dict:
        if gid not in self._users:
            raise KeyError(f"unknown user {gid!r}")
        return self._users[gid]  # type: ignore[index]

    def _need_project(self, gid: str) -> dict:
        if gid not in self._projects:
            raise KeyError(f"unknown project {gid!r}")
        return self._projects[gid]

    def _need_task(self, gid: str) -> _Task:
        if gid not in self._tasks:
            raise KeyError(f"unknown task {gid!r}")
        return self._tasks[gid]

    # ------------------------------------------------------------------ compact renderings
    def _user_compact(self, gid: str | None) -> dict | None:
        if gid is None:
            return None
        u = self._users[gid]
        return {"gid": gid, "resource_type": "user", "name": u["name"]}

    def _task_compact(self, t: _Task) -> dict:
        return {"gid": t.gid, "resource_type": "task", "name": t.name,
                "resource_subtype": "default_task"}

    def _task_named(self, t: _Task) -> dict:
        return self._task_compact(t)

    def _project_named(self, gid: str) -> dict:
        return {"gid": gid, "resource_type": "project", "name": self._projects[gid]["name"]}

    def _section_compact(self, gid: str | None) -> dict | None:
        if gid is None:
            return None
        return {"gid": gid, "resource_type": "section", "name": self._sections[gid]["name"]}

    def _dates(self, t: _Task) -> dict:
        return {"start_on": None, "due_at": _ts(t.due_at) if t.due_at else None,
                "due_on": t.due_on}

    # ------------------------------------------------------------------ events
    def _scopes(self, t: _Task) -> set[str]:
        """Resources whose event feed sees changes to ``t``: itself and its project."""
        return {t.gid} | ({t.project} if t.project else set())

    def _emit(self, actor: str | None, when: datetime, action: str, resource: dict,
              parent: dict | None = None, change: dict | None = None,
              scopes: Iterable[str] = ()) -> dict:
        """Record one ``EventResponse`` for every resource in ``scopes``."""
        seq = next(self._seq)
        self._last_seq = seq
        ev: dict[str, Any] = {"user": self._user_compact(actor), "created_at": _ts(when),
                              "type": resource["resource_type"], "action": action,
                              "resource": resource, "parent": parent}
        if change is not None:
            ev["change"] = change
        for s in scopes:
            self._events.setdefault(s, []).append((seq, ev))
        return ev

    def _changed(self, t: _Task, actor: str, when: datetime, fld: str, action: str = "changed",
                 value_key: str | None = None, value: dict | None = None) -> None:
        change: dict[str, Any] = {"field": fld, "action": action}
        if value_key and value is not None:
            change[value_key] = value
        self._emit(actor, when, "changed", self._task_named(t), None, change, self._scopes(t))

    def _story_event(self, t: _Task, sgid: str, actor: str | None, when: datetime) -> None:
        s = self._stories[sgid]
        self._emit(actor, when, "added",
                   {"gid": sgid, "resource_type": "story",
                    "resource_subtype": s["resource_subtype"]},
                   self._task_named(t), None, self._scopes(t))

    def _issue_sync(self, resource: str) -> str:
        token = secrets.token_hex(16)
        self._syncs[token] = (resource, self._last_seq, self.clock())
        return token

    # ------------------------------------------------------------------ mutations
    def _touch(self, t: _Task, when: datetime) -> None:
        t.modified_at = when
        if t.project:
            self._projects[t.project]["modified_at"] = when

    def _follow(self, t: _Task, user: str | None) -> None:
        if user is not None and user not in t.followers:
            t.followers.append(user)

    def _story(self, t: _Task, actor: str, when: datetime, subtype: str, text: str,
               type_: str = "system", html_text: str | None = None, source: str = "web",
               **extra: Any) -> dict:
        """Append a story to ``t``, emit its ``added`` event and bump ``modified_at``."""
        self._need_user(actor)
        sgid = self._gid()
        story = {"gid": sgid, "task": t.gid, "created_at": when, "created_by": actor,
                 "resource_subtype": subtype, "type": type_, "text": text,
                 "html_text": html_text, "source": source, "extra": extra}
        self._stories[sgid] = story
        t.stories.append(sgid)
        self._story_event(t, sgid, actor, when)
        self._touch(t, when)
        return story

    def _new_task(self, actor: str, name: str, notes: str, when: datetime, *,
                  project: str | None = None, section: str | None = None,
                  parent: str | None = None, assignee: str | None = None,
                  due_on: str | None = None, due_at: datetime | None = None,
                  html_notes: str | None = None, gid: str | None = None,
                  source: str = "web") -> _Task:
        self._need_user(actor)
        if assignee is not None:
            self._need_user(assignee)
        if gid is not None and (self._taken(gid) or not gid.isdigit()):
            raise ValueError(f"task gid {gid!r} is taken (by any object) or not numeric")
        t = _Task(gid=gid or self._gid(), name=name, notes=notes, created_at=when,
                  modified_at=when, created_by=actor, project=project, section=section,
                  parent=parent, due_on=due_on, due_at=due_at, html_notes=html_notes,
                  followers=[actor])
        if due_at is not None:
            t.due_on = due_at.date().isoformat()
        self._tasks[t.gid] = t
        if project:
            self._projects[project]["tasks"].append(t.gid)
            self._emit(actor, when, "added", self._task_named(t), self._project_named(project),
                       scopes=self._scopes(t))
            if section:
                self._emit(actor, when, "added", self._task_named(t),
                           self._section_compact(section), scopes=self._scopes(t))
            self._story(t, actor, when, "added_to_project",
                        f"added to {self._projects[project]['name']}", source=source,
                        project=self._project_named(project))
        if parent:
            p = self._tasks[parent]
            p.subtasks.append(t.gid)
            self._emit(actor, when, "added", self._task_named(t), self._task_named(p),
                       scopes=self._scopes(p) | {t.gid})
            self._touch(p, when)
        if assignee is not None:
            self._set_assignee(t, actor, assignee, when, source=source)
        return t

    def _set_assignee(self, t: _Task, actor: str, assignee: str | None, when: datetime,
                      source: str = "web") -> None:
        if assignee is not None:
            self._need_user(assignee)
        if assignee == t.assignee:
            return
        old, t.assignee = t.assignee, assignee
        self._follow(t, assignee)
        self._changed(t, actor, when, "assignee", "changed", "new_value",
                      self._user_compact(assignee))
        if assignee is None:
            self._story(t, actor, when, "unassigned",
                        f"unassigned from {self._users[old]['name']}", source=source,
                        assignee=self._user_compact(old))
        else:
            self._story(t, actor, when, "assigned",
                        f"assigned to {self._users[assignee]['name']}", source=source,
                        assignee=self._user_compact(assignee))

    def _move(self, t: _Task, actor: str, section: str, when: datetime,
              source: str = "web") -> None:
        if section == t.section:
            return
        old, t.section = t.section, section
        pname = self._projects[t.project]["name"] if t.project else ""
        if old is not None:
            self._emit(actor, when, "removed", self._task_named(t), self._section_compact(old),
                       scopes=self._scopes(t))
        self._emit(actor, when, "added", self._task_named(t), self._section_compact(section),
                   scopes=self._scopes(t))
        old_name = self._sections[old]["name"] if old else ""
        self._story(t, actor, when, "section_changed",
                    f'moved this Task from "{old_name}" to "{self._sections[section]["name"]}" '
                    f"in {pname}", source=source,
                    old_section=self._section_compact(old),
                    new_section=self._section_compact(section),
                    project=self._project_named(t.project) if t.project else None)

    def _set_completed(self, t: _Task, actor: str, value: bool, when: datetime,
                       source: str = "web") -> None:
        if value == t.completed:
            return
        t.completed = value
        t.completed_at = when if value else None
        t.completed_by = actor if value else None
        self._changed(t, actor, when, "completed")
        if value:
            self._story(t, actor, when, "marked_complete", "marked this task complete",
                        source=source)
        else:
            self._story(t, actor, when, "marked_incomplete", "marked incomplete", source=source)

    def _set_due(self, t: _Task, actor: str, due_on: str | None, due_at: datetime | None,
                 when: datetime, source: str = "web") -> None:
        if due_on is not None:
            date.fromisoformat(due_on)
        if due_at is not None:
            due_on = due_at.date().isoformat()
        if (due_on, due_at) == (t.due_on, t.due_at):
            return
        old = self._dates(t)
        t.due_on, t.due_at = due_on, due_at
        fld = "due_at" if due_at is not None or old["due_at"] else "due_on"
        self._changed(t, actor, when, fld)
        if due_on is None:
            text = "removed the due date"
        else:
            d = date.fromisoformat(due_on)
            text = f"changed the due date to {d.strftime('%b')} {d.day}"
        self._story(t, actor, when, "due_date_changed", text, source=source,
                    old_dates=old, new_dates=self._dates(t))

    def _set_name(self, t: _Task, actor: str, name: str, when: datetime,
                  source: str = "web") -> None:
        if name == t.name:
            return
        old, t.name = t.name, name
        self._changed(t, actor, when, "name")
        self._story(t, actor, when, "name_changed", f'changed the name to "{name}"',
                    source=source, old_name=old, new_name=name)

    def _set_notes(self, t: _Task, actor: str, notes: str, html_notes: str | None,
                   when: datetime, source: str = "web") -> None:
        if notes == t.notes and html_notes == t.html_notes:
            return
        t.notes, t.html_notes = notes, html_notes
        self._changed(t, actor, when, "notes")
        self._story(t, actor, when, "notes_changed", "changed the description", source=source)

    def _add_dependency(self, t: _Task, actor: str, blocker: _Task, when: datetime,
                        source: str = "web") -> None:
        if blocker.gid == t.gid:
            raise AsanaError(400, "dependencies: A task cannot depend on itself.")
        if blocker.gid in t.dependencies:
            return
        if len(t.dependencies) >= MAX_DEPENDENCIES:
            raise AsanaError(400, f"dependencies: A task can have at most {MAX_DEPENDENCIES} "
                                  "dependencies.")
        t.dependencies.append(blocker.gid)
        blocker.dependents.append(t.gid)
        ref = {"gid": blocker.gid, "resource_type": "task"}
        self._changed(t, actor, when, "dependencies", "added", "added_value", ref)
        self._story(t, actor, when, "dependency_added",
                    f"marked this task as dependent on {blocker.name}", source=source,
                    dependency=self._task_compact(blocker))
        self._changed(blocker, actor, when, "dependents", "added", "added_value",
                      {"gid": t.gid, "resource_type": "task"})
        self._story(blocker, actor, when, "dependent_added",
                    f"marked {t.name} as dependent on this task", source=source,
                    dependency=self._task_compact(t))

    def _remove_dependency(self, t: _Task, actor: str, blocker: _Task, when: datetime,
                           source: str = "web") -> None:
        if blocker.gid not in t.dependencies:
            return
        t.dependencies.remove(blocker.gid)
        blocker.dependents.remove(t.gid)
        self._changed(t, actor, when, "dependencies", "removed", "removed_value",
                      {"gid": blocker.gid, "resource_type": "task"})
        self._story(t, actor, when, "dependency_removed",
                    f"removed the dependency on {blocker.name}", source=source,
                    dependency=self._task_compact(blocker))
        self._changed(blocker, actor, when, "dependents", "removed", "removed_value",
                      {"gid": t.gid, "resource_type": "task"})
        self._story(blocker, actor, when, "dependent_removed",
                    f"removed {t.name} as dependent on this task", source=source,
                    dependency=self._task_compact(t))

    def _render_html(self, html_text: str) -> tuple[str, str]:
        """Parse ``<body>...</body>``; return (plain text, stored html). 400 if malformed."""
        try:
            root = ET.fromstring(html_text)
        except ET.ParseError as e:
            raise AsanaError(400, f"html_text: XML is invalid: {e}") from None
        if root.tag != "body":
            raise AsanaError(400, "html_text: XML is invalid: the root element must be <body>")
        for a in root.iter("a"):
            mgid = a.get("data-asana-gid")
            if not mgid:
                continue
            if mgid in self._users:
                label = "@" + self._users[mgid]["name"]
                a.attrib = {"href": f"{APP_ROOT}/0/profile/{mgid}",
                            "data-asana-accessible": "true", "data-asana-dynamic": "true",
                            "data-asana-type": "user", "data-asana-gid": mgid}
            elif mgid in self._tasks:
                mt = self._tasks[mgid]
                label = mt.name
                a.attrib = {"href": self._permalink(mt), "data-asana-accessible": "true",
                            "data-asana-dynamic": "true", "data-asana-type": "task",
                            "data-asana-gid": mgid}
            else:
                raise AsanaError(400, f"html_text: Unknown object: {mgid}")
            for child in list(a):
                a.remove(child)
            a.text = label
        text = "".join(root.itertext())
        return text, ET.tostring(root, encoding="unicode", short_empty_elements=True)

    def _comment(self, t: _Task, actor: str, text: str | None, html_text: str | None,
                 when: datetime, source: str) -> dict:
        if text is not None and html_text is not None:
            raise AsanaError(400, "You may only provide one of text or html_text.")
        if html_text is not None:
            text, html = self._render_html(html_text)
        elif text:
            html = f"<body>{escape(text, quote=False)}</body>"
        else:
            raise AsanaError(400, "text: Missing input")
        self._follow(t, actor)
        return self._story(t, actor, when, "comment_added", text, type_="comment",
                           html_text=html, source=source)

    def _add_attachment(self, t: _Task, actor: str, url: str, name: str,
                        when: datetime) -> dict:
        agid = self._gid()
        att = {"gid": agid, "name": name, "url": url, "parent": t.gid, "created_at": when}
        self._attachments[agid] = att
        t.attachments.append(agid)
        self._emit(actor, when, "added",
                   {"gid": agid, "resource_type": "attachment", "resource_subtype": "external",
                    "name": name}, self._task_named(t), scopes=self._scopes(t))
        self._story(t, actor, when, "attachment_added", f"attached {name}")
        return att

    # ------------------------------------------------------------------ full renderings
    def _permalink(self, t: _Task) -> str:
        return f"{APP_ROOT}/0/{t.project or 0}/{t.gid}"

    def _task_full(self, t: _Task) -> dict:
        """Render ``TaskResponse`` (default fields of ``GET /tasks/{gid}``)."""
        memberships, projects = [], []
        if t.project:
            projects = [self._project_named(t.project)]
            memberships = [{"project": self._project_named(t.project),
                            "section": self._section_compact(t.section)}]
        return {
            "gid": t.gid, "resource_type": "task", "name": t.name,
            "resource_subtype": "default_task",
            "actual_time_minutes": None,
            "assignee": self._user_compact(t.assignee),
            "assignee_status": "upcoming" if t.assignee else "inbox",
            "completed": t.completed,
            "completed_at": _ts(t.completed_at) if t.completed_at else None,
            "completed_by": self._user_compact(t.completed_by),
            "created_at": _ts(t.created_at),
            "created_by": {"gid": t.created_by, "resource_type": "user"},
            "custom_fields": [],
            "dependencies": [{"gid": d, "resource_type": "task"} for d in t.dependencies],
            "dependents": [{"gid": d, "resource_type": "task"} for d in t.dependents],
            "due_at": _ts(t.due_at) if t.due_at else None,
            "due_on": t.due_on,
            "followers": [self._user_compact(u) for u in t.followers],
            "hearted": False, "hearts": [],
            "html_notes": t.html_notes if t.html_notes is not None
            else f"<body>{escape(t.notes, quote=False)}</body>",
            "is_rendered_as_separator": False,
            "liked": False, "likes": [],
            "memberships": memberships,
            "modified_at": _ts(t.modified_at),
            "notes": t.notes,
            "num_hearts": 0, "num_likes": 0,
            "num_subtasks": len(t.subtasks),
            "parent": self._task_compact(self._tasks[t.parent]) if t.parent else None,
            "permalink_url": self._permalink(t),
            "projects": projects,
            "start_at": None, "start_on": None,
            "tags": [],
            "workspace": dict(WORKSPACE),
        }

    def _story_full(self, s: dict) -> dict:
        """Render ``StoryResponse`` (every field a story of its subtype carries)."""
        out: dict[str, Any] = {
            "gid": s["gid"], "resource_type": "story",
            "created_at": _ts(s["created_at"]),
            "created_by": self._user_compact(s["created_by"]),
            "resource_subtype": s["resource_subtype"], "type": s["type"],
            "text": s["text"],
        }
        if s["type"] == "comment":
            out.update(html_text=s["html_text"], is_editable=True, is_edited=False,
                       is_pinned=False, hearted=False, hearts=[], num_hearts=0, liked=False,
                       likes=[], num_likes=0, previews=[])
        for k, v in s["extra"].items():
            if v is not None:
                out[k] = v
        out["source"] = s["source"]
        out["target"] = self._task_compact(self._tasks[s["task"]])
        return out

    def _attachment_full(self, a: dict) -> dict:
        """Render ``AttachmentResponse`` of an external (URL) attachment."""
        return {"gid": a["gid"], "resource_type": "attachment", "name": a["name"],
                "resource_subtype": "external", "created_at": _ts(a["created_at"]),
                "download_url": None,
                "permanent_url": f"{APP_ROOT}/app/asana/-/get_asset?asset_id={a['gid']}",
                "host": "external", "view_url": a["url"], "connected_to_app": False,
                "parent": self._task_compact(self._tasks[a["parent"]])}

    def _project_full(self, gid: str) -> dict:
        """Render ``ProjectResponse`` (a plain list project, no custom fields)."""
        p = self._projects[gid]
        return {"gid": gid, "resource_type": "project", "name": p["name"], "archived": False,
                "color": None, "icon": None, "completed": False, "completed_at": None,
                "created_at": _ts(p["created_at"]), "modified_at": _ts(p["modified_at"]),
                "custom_fields": [], "custom_field_settings": [], "default_view": "list",
                "due_on": None, "due_date": None, "start_on": None, "followers": [],
                "members": [], "notes": "", "html_notes": "<body></body>",
                "permalink_url": f"{APP_ROOT}/0/{gid}", "public": False,
                "privacy_setting": "private", "workspace": dict(WORKSPACE)}

    def _section_full(self, gid: str) -> dict:
        """Render ``SectionResponse``."""
        s = self._sections[gid]
        return {"gid": gid, "resource_type": "section", "name": s["name"],
                "created_at": _ts(s["created_at"]),
                "project": self._project_named(s["project"]),
                "projects": [self._project_named(s["project"])]}

    def _expand(self, ref: dict) -> dict | None:
        """The full rendering of a referenced object (for dotted ``opt_fields``), or ``None``."""
        gid, kind = ref.get("gid"), ref.get("resource_type")
        if kind == "user" and gid in self._users:
            return self._user_full(gid)
        if kind == "task" and gid in self._tasks:
            return self._task_full(self._tasks[gid])
        if kind == "project" and gid in self._projects:
            return self._project_full(gid)
        if kind == "section" and gid in self._sections:
            return self._section_full(gid)
        if kind == "story" and gid in self._stories:
            return self._story_full(self._stories[gid])
        if kind == "attachment" and gid in self._attachments:
            return self._attachment_full(self._attachments[gid])
        return None

    def _user_full(self, gid: str) -> dict:
        """Render ``UserResponse``."""
        u = self._users[gid]
        return {"gid": gid, "resource_type": "user", "name": u["name"], "email": u["email"],
                "photo": None, "workspaces": [dict(WORKSPACE)]}

    # ------------------------------------------------------------------ HTTP plumbing
    def _build_app(self) -> Flask:
        app = Flask("asana_emulator")
        app.url_map.strict_slashes = False
        emu = self

        @app.before_request
        def _before() -> Response | None:
            g.user = None
            faulted = emu.inject_fault()
            if faulted is not None:
                return faulted
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            with emu._lock:
                user = emu._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                raise AsanaError(401, "Not Authorized", help=False)
            g.user = user
            return None

        @app.after_request
        def _after(resp: Response) -> Response:
            return emu.log_served(resp)

        @app.errorhandler(AsanaError)
        def _asana_error(e: AsanaError) -> Response:
            resp = emu._json(e.body(), e.status)
            for k, v in e.headers.items():
                resp.headers[k] = v
            return resp

        @app.errorhandler(HTTPException)
        def _http_error(e: HTTPException) -> Response:
            if e.code in (404, 405):
                return emu._json(AsanaError(404, "No matching route for request").body(), 404)
            return emu._json(AsanaError(e.code or 500, e.name or "Error").body(), e.code or 500)

        app.wsgi_app = lost_response_middleware(app.wsgi_app)  # type: ignore[method-assign]
        self._routes(app)
        return app

    def _fault_response(self, fault: Fault) -> Response:
        """429 → Asana's documented rate-limit body; 5xx → ``Server Error`` with a phrase."""
        status = int(fault.status or 500)
        if status == 429:
            body = AsanaError(429, RATE_LIMITED, help=False).body()
        elif status >= 500:
            body = {"errors": [{"message": "Server Error", "phrase": "6 sad squid snuggle softly"}]}
        else:
            body = AsanaError(status, "Fault injected by the Asana emulator").body()
        resp = self._json(body, status)
        if fault.retry_after is not None:
            ra = float(fault.retry_after)
            resp.headers["Retry-After"] = str(int(ra)) if ra.is_integer() else str(ra)
        return resp

    def _json(self, obj: Any, status: int = 200) -> Response:
        payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Response(payload, status, content_type=JSON_TYPE)

    def _root(self) -> str:
        return f"{request.scheme}://{request.host}"

    def _opt_fields(self) -> dict | None:
        """The ``opt_fields`` tree of this request (comma-separated), or ``None``; 400 if malformed."""
        raw = request.args.get("opt_fields")
        if raw is None or raw == "":
            return None
        fields = [f.strip() for f in raw.split(",") if f.strip()]
        for f in fields:
            if not _FIELD.match(f):
                raise AsanaError(400, f"opt_fields: Invalid field: {f!r}")
        return _field_tree(fields)

    def _one(self, full: dict, status: int = 200) -> Response:
        tree = self._opt_fields()
        return self._json({"data": _select(full, tree, self._expand) if tree else full}, status)

    def _page(self, items: list, compact: Callable[[Any], dict],
              full: Callable[[Any], dict]) -> Response:
        """Answer a list with Asana's offset pagination.

        ``limit`` (1..100) turns pagination on: ``next_page`` is ``{offset, path, uri}``
        while more remain and ``null`` on the last page; without ``limit`` there is no
        ``next_page`` key and the whole list is answered (400 "The result is too large"
        above ``UNPAGINATED_MAX``). ``offset`` is an opaque token from a previous page.
        Items render compact, or with ``opt_fields`` as the selected fields of ``full``.
        """
        tree = self._opt_fields()
        raw_limit = request.args.get("limit")
        limit = None
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                limit = -1
            if not 1 <= limit <= 100:
                raise AsanaError(400, "limit: Must be between 1 and 100")
        start = 0
        raw_offset = request.args.get("offset")
        if raw_offset:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(raw_offset + "=" * (-len(raw_offset) % 4)))["o"])
            except Exception:
                raise AsanaError(400, "offset: Your pagination token is invalid.") from None
        if limit is None:
            chunk = items[start:]
            if len(chunk) > UNPAGINATED_MAX:
                raise AsanaError(400, "The result is too large. You should use pagination "
                                      "(may require specifying a workspace)!")
        else:
            chunk = items[start:start + limit]
        render = (lambda x: _select(full(x), tree, self._expand)) if tree else compact
        body: dict[str, Any] = {"data": [render(x) for x in chunk]}
        if limit is not None:
            end = start + len(chunk)
            if end < len(items):
                token = base64.urlsafe_b64encode(
                    json.dumps({"o": end, "typ": "offset"}).encode()).decode().rstrip("=")
                params = [(k, v) for k, vs in request.args.lists() for v in vs if k != "offset"]
                rel = request.path[len(API_PREFIX):] + "?" + urlencode(params + [("offset", token)])
                body["next_page"] = {"offset": token, "path": rel,
                                     "uri": self._root() + API_PREFIX + rel}
            else:
                body["next_page"] = None
        return self._json(body)

    def _data(self) -> dict:
        """The ``data`` object of a JSON (or form) request body; 400 if missing."""
        if request.mimetype == "application/json" or request.data:
            try:
                body = json.loads(request.data or b"{}")
            except ValueError:
                raise AsanaError(400, "Could not parse request data, invalid JSON") from None
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict):
                raise AsanaError(400, "data: Missing input")
            return data
        return request.form.to_dict()

    def _task_or_404(self, gid: str) -> _Task:
        t = self._tasks.get(gid)
        if t is None:
            raise AsanaError(404, f"task: Unknown object: {gid}")
        return t

    def _user_ref(self, value: Any, field_name: str = "assignee") -> str | None:
        """Resolve an assignee given as gid, ``"me"``, e-mail or ``None``; 400 if unknown."""
        if value is None:
            return None
        v = str(value)
        if v == "me":
            return g.user
        if v in self._users:
            return v
        for gid, u in self._users.items():
            if u["email"].lower() == v.lower():
                return gid
        raise AsanaError(400, f"{field_name}: Not a recognized ID: {v}")

    def _since(self, name: str) -> datetime | None:
        raw = request.args.get(name)
        if raw is None:
            return None
        if raw == "now":
            return self.clock()
        try:
            return _parse_ts(raw)
        except ValueError:
            raise AsanaError(400, f"{name}: Not a valid ISO 8601 date-time: {raw}") from None

    def _due_fields(self, data: dict) -> tuple[bool, str | None, datetime | None]:
        """(present, due_on, due_at) from a request body; 400 on bad values."""
        if "due_on" in data and "due_at" in data and data["due_on"] and data["due_at"]:
            raise AsanaError(400, "You may only provide one of due_on or due_at.")
        due_on = due_at = None
        present = "due_on" in data or "due_at" in data
        try:
            if data.get("due_on"):
                due_on = date.fromisoformat(str(data["due_on"])).isoformat()
            if data.get("due_at"):
                due_at = _parse_ts(str(data["due_at"]))
        except ValueError:
            raise AsanaError(400, "due_on: Invalid date value") from None
        return present, due_on, due_at

    def _routes(self, app: Flask) -> None:  # noqa: C901 - one place for the route table
        emu = self
        P = API_PREFIX

        @app.get(P + "/users/<user_gid>")
        def get_user(user_gid: str) -> Response:
            with emu._lock:
                try:
                    gid = emu._user_ref(user_gid, "user")
                except AsanaError:
                    gid = None
                if gid is None or gid not in emu._users:
                    raise AsanaError(404, f"user: Unknown object: {user_gid}")
                return emu._one(emu._user_full(gid))

        @app.get(P + "/events")
        def get_events() -> Response:
            resource = request.args.get("resource")
            if not resource:
                raise AsanaError(400, "resource: Missing input")
            with emu._lock:
                if resource not in emu._projects and resource not in emu._tasks:
                    raise AsanaError(404, f"resource: Unknown object: {resource}")
                token = request.args.get("sync")
                entry = emu._syncs.get(token) if token else None
                now = emu.clock()
                if entry is None or entry[0] != resource or now - entry[2] > emu.sync_token_ttl:
                    raise AsanaError(412, SYNC_INVALID, help=False,
                                     extra={"sync": emu._issue_sync(resource)})
                _, pos, _ = entry
                log = emu._events.get(resource, [])
                i = bisect.bisect_right(log, pos, key=lambda e: e[0])
                chunk = log[i:i + EVENTS_PER_RESPONSE]
                has_more = len(log) - i > EVENTS_PER_RESPONSE
                new_pos = chunk[-1][0] if has_more else emu._last_seq
                new_token = secrets.token_hex(16)
                emu._syncs[new_token] = (resource, new_pos, now)
                tree = emu._opt_fields()
                data = [_select(ev, tree, emu._expand) if tree else ev for _, ev in chunk]
                return emu._json({"data": data, "sync": new_token, "has_more": has_more})

        @app.get(P + "/tasks")
        def get_tasks() -> Response:
            project, section = request.args.get("project"), request.args.get("section")
            if bool(project) == bool(section):
                raise AsanaError(400, "Must specify exactly one of project, tag, section, "
                                      "user task list, or assignee + workspace")
            with emu._lock:
                if project:
                    if project not in emu._projects:
                        raise AsanaError(404, f"project: Unknown object: {project}")
                    gids = emu._projects[project]["tasks"]
                else:
                    if section not in emu._sections:
                        raise AsanaError(404, f"section: Unknown object: {section}")
                    gids = [t for t in emu._projects[emu._sections[section]["project"]]["tasks"]
                            if emu._tasks[t].section == section]
                modified_since = emu._since("modified_since")
                completed_since = emu._since("completed_since")
                if request.args.get("completed_since") == "now":  # incomplete tasks only
                    completed_since = datetime.max.replace(tzinfo=timezone.utc)
                tasks = [emu._tasks[x] for x in gids]
                if modified_since is not None:
                    tasks = [t for t in tasks if t.modified_at >= modified_since]
                if completed_since is not None:
                    tasks = [t for t in tasks if not t.completed
                             or (t.completed_at and t.completed_at >= completed_since)]
                return emu._page(tasks, emu._task_compact, emu._task_full)

        @app.get(P + "/tasks/<task_gid>")
        def get_task(task_gid: str) -> Response:
            with emu._lock:
                return emu._one(emu._task_full(emu._task_or_404(task_gid)))

        @app.put(P + "/tasks/<task_gid>")
        def update_task(task_gid: str) -> Response:
            data = emu._data()
            with emu._lock:
                t = emu._task_or_404(task_gid)
                actor, when = g.user, emu.clock()
                present, due_on, due_at = emu._due_fields(data)
                assignee = emu._user_ref(data["assignee"]) if "assignee" in data else t.assignee
                if "name" in data:
                    emu._set_name(t, actor, str(data["name"]), when, source="api")
                if "notes" in data or "html_notes" in data:
                    if "html_notes" in data:
                        notes, html = emu._render_html(str(data["html_notes"]))
                    else:
                        notes, html = str(data["notes"]), None
                    emu._set_notes(t, actor, notes, html, when, source="api")
                if "assignee" in data:
                    emu._set_assignee(t, actor, assignee, when, source="api")
                if present:
                    emu._set_due(t, actor, due_on, due_at, when, source="api")
                if "completed" in data:
                    emu._set_completed(t, actor, bool(data["completed"]), when, source="api")
                return emu._one(emu._task_full(t))

        @app.get(P + "/tasks/<task_gid>/subtasks")
        def get_subtasks(task_gid: str) -> Response:
            with emu._lock:
                t = emu._task_or_404(task_gid)
                return emu._page([emu._tasks[s] for s in t.subtasks], emu._task_compact,
                                 emu._task_full)

        @app.post(P + "/tasks/<task_gid>/subtasks")
        def create_subtask(task_gid: str) -> Response:
            data = emu._data()
            with emu._lock:
                p = emu._task_or_404(task_gid)
                _, due_on, due_at = emu._due_fields(data)
                assignee = emu._user_ref(data.get("assignee"))
                notes, html = str(data.get("notes") or ""), None
                if data.get("html_notes"):
                    notes, html = emu._render_html(str(data["html_notes"]))
                t = emu._new_task(g.user, str(data.get("name") or ""), notes, emu.clock(),
                                  parent=p.gid, assignee=assignee, due_on=due_on,
                                  due_at=due_at, html_notes=html, source="api")
                return emu._one(emu._task_full(t), 201)

        @app.get(P + "/tasks/<task_gid>/dependencies")
        def get_dependencies(task_gid: str) -> Response:
            with emu._lock:
                t = emu._task_or_404(task_gid)
                return emu._page([emu._tasks[d] for d in t.dependencies], emu._task_compact,
                                 emu._task_full)

        @app.get(P + "/tasks/<task_gid>/dependents")
        def get_dependents(task_gid: str) -> Response:
            with emu._lock:
                t = emu._task_or_404(task_gid)
                return emu._page([emu._tasks[d] for d in t.dependents], emu._task_compact,
                                 emu._task_full)

        def _dep_change(task_gid: str, add: bool) -> Response:
            data = emu._data()
            deps = data.get("dependencies")
            if not isinstance(deps, list) or not deps:
                raise AsanaError(400, "dependencies: Missing input")
            with emu._lock:
                t = emu._task_or_404(task_gid)
                blockers = [emu._task_or_404(str(d)) for d in deps]
                when = emu.clock()
                for b in blockers:
                    if add:
                        emu._add_dependency(t, g.user, b, when, source="api")
                    else:
                        emu._remove_dependency(t, g.user, b, when, source="api")
                return emu._json({"data": {}})

        @app.post(P + "/tasks/<task_gid>/addDependencies")
        def add_dependencies(task_gid: str) -> Response:
            return _dep_change(task_gid, True)

        @app.post(P + "/tasks/<task_gid>/removeDependencies")
        def remove_dependencies(task_gid: str) -> Response:
            return _dep_change(task_gid, False)

        @app.get(P + "/tasks/<task_gid>/stories")
        def get_stories(task_gid: str) -> Response:
            with emu._lock:
                t = emu._task_or_404(task_gid)
                stories = [emu._stories[s] for s in t.stories]
                full = emu._story_full

                def compact(s: dict) -> dict:
                    f = full(s)
                    return {k: f[k] for k in _STORY_COMPACT}

                return emu._page(stories, compact, full)

        @app.post(P + "/tasks/<task_gid>/stories")
        def create_story(task_gid: str) -> Response:
            data = emu._data()
            with emu._lock:
                t = emu._task_or_404(task_gid)
                story = emu._comment(t, g.user, data.get("text"), data.get("html_text"),
                                     emu.clock(), source="api")
                return emu._one(emu._story_full(story), 201)

        @app.get(P + "/stories/<story_gid>")
        def get_story(story_gid: str) -> Response:
            with emu._lock:
                if story_gid not in emu._stories:
                    raise AsanaError(404, f"story: Unknown object: {story_gid}")
                return emu._one(emu._story_full(emu._stories[story_gid]))

        @app.get(P + "/projects/<project_gid>")
        def get_project(project_gid: str) -> Response:
            with emu._lock:
                if project_gid not in emu._projects:
                    raise AsanaError(404, f"project: Unknown object: {project_gid}")
                return emu._one(emu._project_full(project_gid))

        _section_full = emu._section_full

        @app.get(P + "/projects/<project_gid>/sections")
        def get_sections(project_gid: str) -> Response:
            with emu._lock:
                if project_gid not in emu._projects:
                    raise AsanaError(404, f"project: Unknown object: {project_gid}")
                return emu._page(list(emu._projects[project_gid]["sections"]),
                                 emu._section_compact, _section_full)

        @app.get(P + "/sections/<section_gid>")
        def get_section(section_gid: str) -> Response:
            with emu._lock:
                if section_gid not in emu._sections:
                    raise AsanaError(404, f"section: Unknown object: {section_gid}")
                return emu._one(_section_full(section_gid))

        @app.post(P + "/sections/<section_gid>/addTask")
        def add_task_for_section(section_gid: str) -> Response:
            data = emu._data()
            with emu._lock:
                if section_gid not in emu._sections:
                    raise AsanaError(404, f"section: Unknown object: {section_gid}")
                if not data.get("task"):
                    raise AsanaError(400, "task: Missing input")
                t = emu._task_or_404(str(data["task"]))
                if t.project != emu._sections[section_gid]["project"]:
                    raise AsanaError(400, "task: The task is not in the section's project")
                emu._move(t, g.user, section_gid, emu.clock(), source="api")
                return emu._json({"data": {}})

        @app.get(P + "/attachments")
        def get_attachments() -> Response:
            parent = request.args.get("parent")
            if not parent:
                raise AsanaError(400, "parent: Missing input")
            with emu._lock:
                t = emu._task_or_404(parent)
                atts = [emu._attachments[a] for a in t.attachments]
                return emu._page(atts, lambda a: {"gid": a["gid"], "name": a["name"],
                                                  "resource_type": "attachment",
                                                  "resource_subtype": "external"},
                                 emu._attachment_full)

        @app.get(P + "/attachments/<attachment_gid>")
        def get_attachment(attachment_gid: str) -> Response:
            with emu._lock:
                if attachment_gid not in emu._attachments:
                    raise AsanaError(404, f"attachment: Unknown object: {attachment_gid}")
                return emu._one(emu._attachment_full(emu._attachments[attachment_gid]))

        @app.post(P + "/attachments")
        def create_attachment() -> Response:
            form = request.form
            if form.get("resource_subtype") != "external" or "file" in request.files:
                raise AsanaError(400, "resource_subtype: only external (URL) attachments "
                                      "are emulated")
            for k in ("parent", "url", "name"):
                if not form.get(k):
                    raise AsanaError(400, f"{k}: Missing input")
            with emu._lock:
                t = emu._task_or_404(form["parent"])
                att = emu._add_attachment(t, g.user, form["url"], form["name"], emu.clock())
                return emu._one(emu._attachment_full(att))
