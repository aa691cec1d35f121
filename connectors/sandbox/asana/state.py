"""The Asana emulator's in-memory world and every change to it (no HTTP).

Holds :class:`Task` (one task record) and :class:`AsanaState`: users and their tokens,
projects and sections, tasks, stories, attachments, the per-resource event feeds and the
events sync tokens, with

- the driver methods scenarios, tests and the demo stage call (``create_task``, ``assign``,
  ``comment`` …; gids in, ``at=None`` meaning now from ``clock``), and
- the record-level ``apply_*`` / ``new_task`` changes the HTTP routes call with a resolved
  :class:`Task`, the request time and ``source="api"``.

Every change to a task writes the system story Asana writes (``created_by`` = the actor),
emits the matching events (task ``changed`` + story ``added``) and sets the task's
``modified_at`` to the change time. Users, projects, sections, stories and attachments are
plain dicts (stories: ``gid, task, created_at, created_by, resource_subtype, type, text,
html_text, source, extra``); timestamps are aware UTC datetimes.
"""

from __future__ import annotations

import bisect
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from connectors.sandbox.asana import render
from connectors.sandbox.asana.render import SYNC_INVALID, AsanaError

EVENTS_PER_RESPONSE = 100   # "Asana limits a single sync token to 100 events"
MAX_DEPENDENCIES = 15       # "A task can have at most 15 dependencies" (addDependencies)


@dataclass
class Task:
    """One task: gids for references (users, project, section, parent, related tasks, stories)."""

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


class AsanaState:
    """Everything the Asana emulator knows, guarded by ``lock`` (re-entrant).

    ``clock`` returns aware UTC datetimes (default: real time). ``sync_token_ttl``: how
    long (clock time) an events sync token stays valid after it was issued. Tables, by gid:
    ``users`` (``{gid, name, email}``), ``tokens`` (bearer token → user gid), ``projects``
    (``{gid, name, sections, tasks, created_at, modified_at}``), ``sections`` (``{gid, name,
    project, created_at}``), ``tasks``, ``stories``, ``attachments`` (``{gid, name, url,
    parent, created_at}``); ``feeds``: resource gid → ``[(seq, EventResponse)]``; ``syncs``:
    sync token → ``(resource, seq, issued)``.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None,
                 sync_token_ttl: timedelta = timedelta(hours=24)) -> None:
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sync_token_ttl = sync_token_ttl
        self.lock = threading.RLock()
        self._gids = itertools.count(1200000000000001)
        self._seq = itertools.count(1)
        self.last_seq = 0
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}
        self.projects: dict[str, dict] = {}
        self.sections: dict[str, dict] = {}
        self.tasks: dict[str, Task] = {}
        self.stories: dict[str, dict] = {}
        self.attachments: dict[str, dict] = {}
        self.feeds: dict[str, list[tuple[int, dict]]] = {}
        self.syncs: dict[str, tuple[str, int, datetime]] = {}

    # ------------------------------------------------------------------ setup
    def _gid(self) -> str:
        """A fresh gid, skipping any a caller chose itself (users, projects, tasks given ``gid=``)."""
        while True:
            gid = str(next(self._gids))
            if not self._taken(gid):
                return gid

    def _taken(self, gid: str) -> bool:
        return any(gid in table for table in (self.users, self.projects, self.sections, self.tasks,
                                              self.stories, self.attachments))

    def _when(self, at: datetime | None) -> datetime:
        when = self.clock() if at is None else at
        if when.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        return when.astimezone(timezone.utc)

    def add_user(self, gid: str, name: str, email: str | None = None) -> None:
        """Create (or update) user ``gid`` (numeric string); e-mail default ``<name>@example.com``."""
        with self.lock:
            local = re.sub(r"\W+", ".", name.lower()).strip(".") or gid
            self.users[gid] = {"gid": gid, "name": name, "email": email or f"{local}@example.com"}

    def add_token(self, token: str, user_gid: str) -> None:
        """Accept ``Authorization: Bearer <token>`` as ``user_gid`` (KeyError unless it exists)."""
        with self.lock:
            self.need_user(user_gid)
            self.tokens[token] = user_gid

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer 401 from now on."""
        with self.lock:
            self.tokens.pop(token, None)

    def create_project(self, gid: str, name: str,
                       sections: Iterable[str] = ("To do", "Doing", "Legal review", "Done"),
                       at: datetime | None = None) -> list[str]:
        """Create project ``gid`` with ``sections`` in that order; return the section gids."""
        with self.lock:
            if gid in self.projects:
                raise ValueError(f"project {gid} already exists")
            when = self._when(at)
            self.projects[gid] = {"gid": gid, "name": name, "sections": [], "tasks": [],
                                  "created_at": when, "modified_at": when}
            for sname in sections:
                sgid = self._gid()
                self.sections[sgid] = {"gid": sgid, "name": sname, "project": gid,
                                       "created_at": when}
                self.projects[gid]["sections"].append(sgid)
            return list(self.projects[gid]["sections"])

    def section_gid(self, project: str, name: str) -> str:
        """Return the gid of the section called ``name`` in ``project``; KeyError if none."""
        with self.lock:
            for sgid in self.need_project(project)["sections"]:
                if self.sections[sgid]["name"] == name:
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
        with self.lock:
            proj = self.need_project(project)
            sgid = self.section_gid(project, section) if section else (
                proj["sections"][0] if proj["sections"] else None)
            return self.new_task(actor, name, notes, self._when(at), project=project,
                                 section=sgid, assignee=assignee, due_on=due_on, gid=gid).gid

    def assign(self, task: str, actor: str, assignee: str | None,
               at: datetime | None = None) -> None:
        """Set (user gid) or clear (``None``) the assignee: ``assigned``/``unassigned`` story."""
        with self.lock:
            self.apply_assignee(self.need_task(task), actor, assignee, self._when(at))

    def move_to_section(self, task: str, actor: str, section_name: str,
                        at: datetime | None = None) -> None:
        """Move the task to ``section_name`` of its project: ``section_changed`` story."""
        with self.lock:
            t = self.need_task(task)
            if t.project is None:
                raise ValueError(f"task {task} is in no project")
            self.apply_section(t, actor, self.section_gid(t.project, section_name), self._when(at))

    def comment(self, task: str, actor: str, text: str | None = None,
                html_text: str | None = None, at: datetime | None = None) -> dict:
        """Add a comment (plain ``text`` or ``html_text``, see :func:`render.rich_text`);
        return its story record."""
        with self.lock:
            return self.apply_comment(self.need_task(task), actor, text, html_text,
                                      self._when(at), source="web")

    def complete(self, task: str, actor: str, at: datetime | None = None) -> None:
        """Mark the task complete: ``marked_complete`` story."""
        with self.lock:
            self.apply_completed(self.need_task(task), actor, True, self._when(at))

    def uncomplete(self, task: str, actor: str, at: datetime | None = None) -> None:
        """Mark the task incomplete: ``marked_incomplete`` story."""
        with self.lock:
            self.apply_completed(self.need_task(task), actor, False, self._when(at))

    def add_dependency(self, task: str, actor: str, depends_on_task: str,
                       at: datetime | None = None) -> None:
        """Make ``task`` blocked by ``depends_on_task``.

        Writes ``dependency_added`` on ``task`` and ``dependent_added`` on the blocker,
        each with ``dependency`` = the other task (TaskCompact).
        """
        with self.lock:
            self.apply_add_dependency(self.need_task(task), actor,
                                      self.need_task(depends_on_task), self._when(at))

    def remove_dependency(self, task: str, actor: str, depends_on_task: str,
                          at: datetime | None = None) -> None:
        """Undo :meth:`add_dependency`: ``dependency_removed`` / ``dependent_removed`` stories."""
        with self.lock:
            self.apply_remove_dependency(self.need_task(task), actor,
                                         self.need_task(depends_on_task), self._when(at))

    def set_due(self, task: str, actor: str, due_on: str | None,
                at: datetime | None = None) -> None:
        """Set the due date (``YYYY-MM-DD``) or clear it (``None``): ``due_date_changed`` story."""
        with self.lock:
            self.apply_due(self.need_task(task), actor, due_on, None, self._when(at))

    def set_name(self, task: str, actor: str, name: str, at: datetime | None = None) -> None:
        """Rename the task: ``name_changed`` story with ``old_name``/``new_name``."""
        with self.lock:
            self.apply_name(self.need_task(task), actor, name, self._when(at))

    def set_notes(self, task: str, actor: str, notes: str, at: datetime | None = None) -> None:
        """Replace the plain-text description: ``notes_changed`` story ("changed the description");
        ``html_notes`` becomes the escaped text in ``<body>``."""
        with self.lock:
            self.apply_notes(self.need_task(task), actor, notes, None, self._when(at))

    def add_attachment_url(self, task: str, actor: str, url: str, name: str,
                           at: datetime | None = None) -> dict:
        """Attach an external link (``attachment_added`` story); return its attachment record."""
        with self.lock:
            return self.apply_attachment(self.need_task(task), actor, url, name, self._when(at))

    def create_subtask(self, parent: str, actor: str, name: str, notes: str = "",
                       assignee: str | None = None, due_on: str | None = None,
                       at: datetime | None = None) -> str:
        """Create a subtask of ``parent`` (in no project, as in Asana); return its gid."""
        with self.lock:
            p = self.need_task(parent)
            return self.new_task(actor, name, notes, self._when(at), parent=p.gid,
                                 assignee=assignee, due_on=due_on).gid

    def expire_sync_tokens(self) -> None:
        """Invalidate every events sync token issued so far (the next call answers 412)."""
        with self.lock:
            self.syncs.clear()

    def bulk_create(self, project: str, n: int, actor: str, stories_per_task: int = 0,
                    at: datetime | None = None, section: str | None = None,
                    events: bool = False, name_prefix: str = "Task") -> list[str]:
        """Load ``n`` tasks straight into memory (no HTTP); return their gids in order.

        For benchmarks (5,000 tasks take well under a second). Each task gets
        ``stories_per_task`` ``comment_added`` stories by ``actor``, all at ``at``.
        With ``events=False`` (default) no events are written: the load is the backlog
        that exists before any sync token, found by a ``modified_since`` crawl.
        """
        with self.lock:
            proj = self.need_project(project)
            self.need_user(actor)
            when = self._when(at)
            sgid = self.section_gid(project, section) if section else (
                proj["sections"][0] if proj["sections"] else None)
            out = []
            for i in range(n):
                gid = self._gid()
                t = Task(gid=gid, name=f"{name_prefix} {i + 1}", notes="", created_at=when,
                         modified_at=when, created_by=actor, project=project, section=sgid,
                         followers=[actor])
                self.tasks[gid] = t
                proj["tasks"].append(gid)
                for k in range(stories_per_task):
                    text = f"Comment {k + 1} on {t.name}"
                    sg = self._gid()
                    self.stories[sg] = {
                        "gid": sg, "task": gid, "created_at": when, "created_by": actor,
                        "resource_subtype": "comment_added", "type": "comment", "text": text,
                        "html_text": render.body_html(text), "source": "web", "extra": {}}
                    t.stories.append(sg)
                    if events:
                        self._story_event(t, sg, actor, when)
                if events:
                    self._emit(actor, when, "added", render.task_compact(t),
                               render.project_named(self, project), scopes=self._scopes(t))
                out.append(gid)
            return out

    # ------------------------------------------------------------------ lookups
    def need_user(self, gid: str | None) -> dict:
        """User ``gid``'s record; KeyError if unknown."""
        if gid not in self.users:
            raise KeyError(f"unknown user {gid!r}")
        return self.users[gid]  # type: ignore[index]

    def need_project(self, gid: str) -> dict:
        """Project ``gid``'s record; KeyError if unknown."""
        if gid not in self.projects:
            raise KeyError(f"unknown project {gid!r}")
        return self.projects[gid]

    def need_task(self, gid: str) -> Task:
        """Task ``gid``; KeyError if unknown."""
        if gid not in self.tasks:
            raise KeyError(f"unknown task {gid!r}")
        return self.tasks[gid]

    # ------------------------------------------------------------------ events
    def _scopes(self, t: Task) -> set[str]:
        """Resources whose event feed sees changes to ``t``: itself and its project."""
        return {t.gid} | ({t.project} if t.project else set())

    def _emit(self, actor: str | None, when: datetime, action: str, resource: dict,
              parent: dict | None = None, change: dict | None = None,
              scopes: Iterable[str] = ()) -> dict:
        """Record one ``EventResponse`` for every resource in ``scopes``."""
        seq = next(self._seq)
        self.last_seq = seq
        ev: dict[str, Any] = {"user": render.user_compact(self, actor),
                              "created_at": render.ts(when),
                              "type": resource["resource_type"], "action": action,
                              "resource": resource, "parent": parent}
        if change is not None:
            ev["change"] = change
        for s in scopes:
            self.feeds.setdefault(s, []).append((seq, ev))
        return ev

    def _changed(self, t: Task, actor: str, when: datetime, fld: str, action: str = "changed",
                 value_key: str | None = None, value: dict | None = None) -> None:
        change: dict[str, Any] = {"field": fld, "action": action}
        if value_key and value is not None:
            change[value_key] = value
        self._emit(actor, when, "changed", render.task_compact(t), None, change, self._scopes(t))

    def _story_event(self, t: Task, sgid: str, actor: str | None, when: datetime) -> None:
        s = self.stories[sgid]
        self._emit(actor, when, "added",
                   {"gid": sgid, "resource_type": "story",
                    "resource_subtype": s["resource_subtype"]},
                   render.task_compact(t), None, self._scopes(t))

    def _issue_sync(self, resource: str) -> str:
        token = secrets.token_hex(16)
        self.syncs[token] = (resource, self.last_seq, self.clock())
        return token

    def read_feed(self, resource: str, token: str | None) -> tuple[list[dict], str, bool]:
        """The events of ``resource`` since sync ``token``: ``(events, next token, has_more)``.

        At most :data:`EVENTS_PER_RESPONSE` events, oldest first (``EventResponse``).

        Raises:
            AsanaError: 412 (with a fresh ``sync`` token in the body) when ``token`` is
                missing, unknown, issued for another resource or older than ``sync_token_ttl``.
        """
        entry = self.syncs.get(token) if token else None
        now = self.clock()
        if entry is None or entry[0] != resource or now - entry[2] > self.sync_token_ttl:
            raise AsanaError(412, SYNC_INVALID, help=False,
                             extra={"sync": self._issue_sync(resource)})
        _, pos, _ = entry
        log = self.feeds.get(resource, [])
        i = bisect.bisect_right(log, pos, key=lambda e: e[0])
        chunk = log[i:i + EVENTS_PER_RESPONSE]
        has_more = len(log) - i > EVENTS_PER_RESPONSE
        new_pos = chunk[-1][0] if has_more else self.last_seq
        new_token = secrets.token_hex(16)
        self.syncs[new_token] = (resource, new_pos, now)
        return [ev for _, ev in chunk], new_token, has_more

    # ------------------------------------------------------------------ record-level changes
    def _touch(self, t: Task, when: datetime) -> None:
        t.modified_at = when
        if t.project:
            self.projects[t.project]["modified_at"] = when

    def _follow(self, t: Task, user: str | None) -> None:
        if user is not None and user not in t.followers:
            t.followers.append(user)

    def _story(self, t: Task, actor: str, when: datetime, subtype: str, text: str,
               type_: str = "system", html_text: str | None = None, source: str = "web",
               **extra: Any) -> dict:
        """Append a story to ``t``, emit its ``added`` event and bump ``modified_at``."""
        self.need_user(actor)
        sgid = self._gid()
        story = {"gid": sgid, "task": t.gid, "created_at": when, "created_by": actor,
                 "resource_subtype": subtype, "type": type_, "text": text,
                 "html_text": html_text, "source": source, "extra": extra}
        self.stories[sgid] = story
        t.stories.append(sgid)
        self._story_event(t, sgid, actor, when)
        self._touch(t, when)
        return story

    def new_task(self, actor: str, name: str, notes: str, when: datetime, *,
                 project: str | None = None, section: str | None = None,
                 parent: str | None = None, assignee: str | None = None,
                 due_on: str | None = None, due_at: datetime | None = None,
                 html_notes: str | None = None, gid: str | None = None,
                 source: str = "web") -> Task:
        """Create a task in ``project``/``section`` (gids) or under task ``parent``.

        Raises:
            KeyError: unknown actor or assignee.
            ValueError: ``gid`` taken or not numeric.
        """
        self.need_user(actor)
        if assignee is not None:
            self.need_user(assignee)
        if gid is not None and (self._taken(gid) or not gid.isdigit()):
            raise ValueError(f"task gid {gid!r} is taken (by any object) or not numeric")
        t = Task(gid=gid or self._gid(), name=name, notes=notes, created_at=when,
                 modified_at=when, created_by=actor, project=project, section=section,
                 parent=parent, due_on=due_on, due_at=due_at, html_notes=html_notes,
                 followers=[actor])
        if due_at is not None:
            t.due_on = due_at.date().isoformat()
        self.tasks[t.gid] = t
        if project:
            self.projects[project]["tasks"].append(t.gid)
            self._emit(actor, when, "added", render.task_compact(t),
                       render.project_named(self, project), scopes=self._scopes(t))
            if section:
                self._emit(actor, when, "added", render.task_compact(t),
                           render.section_compact(self, section), scopes=self._scopes(t))
            self._story(t, actor, when, "added_to_project",
                        f"added to {self.projects[project]['name']}", source=source,
                        project=render.project_named(self, project))
        if parent:
            p = self.tasks[parent]
            p.subtasks.append(t.gid)
            self._emit(actor, when, "added", render.task_compact(t), render.task_compact(p),
                       scopes=self._scopes(p) | {t.gid})
            self._touch(p, when)
        if assignee is not None:
            self.apply_assignee(t, actor, assignee, when, source=source)
        return t

    def apply_assignee(self, t: Task, actor: str, assignee: str | None, when: datetime,
                       source: str = "web") -> None:
        """Set or clear ``t``'s assignee (no-op when unchanged); KeyError for an unknown user."""
        if assignee is not None:
            self.need_user(assignee)
        if assignee == t.assignee:
            return
        old, t.assignee = t.assignee, assignee
        self._follow(t, assignee)
        self._changed(t, actor, when, "assignee", "changed", "new_value",
                      render.user_compact(self, assignee))
        if assignee is None:
            self._story(t, actor, when, "unassigned",
                        f"unassigned from {self.users[old]['name']}", source=source,
                        assignee=render.user_compact(self, old))
        else:
            self._story(t, actor, when, "assigned",
                        f"assigned to {self.users[assignee]['name']}", source=source,
                        assignee=render.user_compact(self, assignee))

    def apply_section(self, t: Task, actor: str, section: str, when: datetime,
                      source: str = "web") -> None:
        """Move ``t`` to section gid ``section`` (no-op when already there)."""
        if section == t.section:
            return
        old, t.section = t.section, section
        pname = self.projects[t.project]["name"] if t.project else ""
        if old is not None:
            self._emit(actor, when, "removed", render.task_compact(t),
                       render.section_compact(self, old), scopes=self._scopes(t))
        self._emit(actor, when, "added", render.task_compact(t),
                   render.section_compact(self, section), scopes=self._scopes(t))
        old_name = self.sections[old]["name"] if old else ""
        self._story(t, actor, when, "section_changed",
                    f'moved this Task from "{old_name}" to "{self.sections[section]["name"]}" '
                    f"in {pname}", source=source,
                    old_section=render.section_compact(self, old),
                    new_section=render.section_compact(self, section),
                    project=render.project_named(self, t.project) if t.project else None)

    def apply_completed(self, t: Task, actor: str, value: bool, when: datetime,
                        source: str = "web") -> None:
        """Mark ``t`` complete or incomplete (no-op when unchanged)."""
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

    def apply_due(self, t: Task, actor: str, due_on: str | None, due_at: datetime | None,
                  when: datetime, source: str = "web") -> None:
        """Set ``t``'s due date (``due_on``) or time (``due_at``, which sets ``due_on`` too) or
        clear both; no-op when unchanged; ValueError for a malformed ``due_on``."""
        if due_on is not None:
            date.fromisoformat(due_on)
        if due_at is not None:
            due_on = due_at.date().isoformat()
        if (due_on, due_at) == (t.due_on, t.due_at):
            return
        old = render.dates(t)
        t.due_on, t.due_at = due_on, due_at
        fld = "due_at" if due_at is not None or old["due_at"] else "due_on"
        self._changed(t, actor, when, fld)
        if due_on is None:
            text = "removed the due date"
        else:
            d = date.fromisoformat(due_on)
            text = f"changed the due date to {d.strftime('%b')} {d.day}"
        self._story(t, actor, when, "due_date_changed", text, source=source,
                    old_dates=old, new_dates=render.dates(t))

    def apply_name(self, t: Task, actor: str, name: str, when: datetime,
                   source: str = "web") -> None:
        """Rename ``t`` (no-op when unchanged)."""
        if name == t.name:
            return
        old, t.name = t.name, name
        self._changed(t, actor, when, "name")
        self._story(t, actor, when, "name_changed", f'changed the name to "{name}"',
                    source=source, old_name=old, new_name=name)

    def apply_notes(self, t: Task, actor: str, notes: str, html_notes: str | None,
                    when: datetime, source: str = "web") -> None:
        """Replace ``t``'s description (``html_notes`` ``None``: the escaped ``notes``)."""
        if notes == t.notes and html_notes == t.html_notes:
            return
        t.notes, t.html_notes = notes, html_notes
        self._changed(t, actor, when, "notes")
        self._story(t, actor, when, "notes_changed", "changed the description", source=source)

    def apply_add_dependency(self, t: Task, actor: str, blocker: Task, when: datetime,
                             source: str = "web") -> None:
        """Make ``t`` depend on ``blocker`` (no-op when it already does).

        Raises:
            AsanaError: 400 for a self-dependency or beyond :data:`MAX_DEPENDENCIES`.
        """
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
                    dependency=render.task_compact(blocker))
        self._changed(blocker, actor, when, "dependents", "added", "added_value",
                      {"gid": t.gid, "resource_type": "task"})
        self._story(blocker, actor, when, "dependent_added",
                    f"marked {t.name} as dependent on this task", source=source,
                    dependency=render.task_compact(t))

    def apply_remove_dependency(self, t: Task, actor: str, blocker: Task, when: datetime,
                                source: str = "web") -> None:
        """Undo :meth:`apply_add_dependency` (no-op when ``t`` does not depend on ``blocker``)."""
        if blocker.gid not in t.dependencies:
            return
        t.dependencies.remove(blocker.gid)
        blocker.dependents.remove(t.gid)
        self._changed(t, actor, when, "dependencies", "removed", "removed_value",
                      {"gid": blocker.gid, "resource_type": "task"})
        self._story(t, actor, when, "dependency_removed",
                    f"removed the dependency on {blocker.name}", source=source,
                    dependency=render.task_compact(blocker))
        self._changed(blocker, actor, when, "dependents", "removed", "removed_value",
                      {"gid": t.gid, "resource_type": "task"})
        self._story(blocker, actor, when, "dependent_removed",
                    f"removed {t.name} as dependent on this task", source=source,
                    dependency=render.task_compact(t))

    def apply_comment(self, t: Task, actor: str, text: str | None, html_text: str | None,
                      when: datetime, source: str) -> dict:
        """Add a ``comment_added`` story (the actor follows ``t``); return the story record.

        Raises:
            AsanaError: 400 when both or neither of ``text``/``html_text`` are given, or
                ``html_text`` is invalid (:func:`render.rich_text`).
        """
        if text is not None and html_text is not None:
            raise AsanaError(400, "You may only provide one of text or html_text.")
        if html_text is not None:
            text, html = render.rich_text(self, html_text)
        elif text:
            html = render.body_html(text)
        else:
            raise AsanaError(400, "text: Missing input")
        self._follow(t, actor)
        return self._story(t, actor, when, "comment_added", text, type_="comment",
                           html_text=html, source=source)

    def apply_attachment(self, t: Task, actor: str, url: str, name: str,
                         when: datetime) -> dict:
        """Attach external link ``url`` as ``name`` to ``t``; return the attachment record."""
        agid = self._gid()
        att = {"gid": agid, "name": name, "url": url, "parent": t.gid, "created_at": when}
        self.attachments[agid] = att
        t.attachments.append(agid)
        self._emit(actor, when, "added",
                   {"gid": agid, "resource_type": "attachment", "resource_subtype": "external",
                    "name": name}, render.task_compact(t), scopes=self._scopes(t))
        self._story(t, actor, when, "attachment_added", f"attached {name}")
        return att
