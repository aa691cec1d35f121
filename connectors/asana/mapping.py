"""Map Asana vendor JSON to the normalized model, in exactly one place.

Pure functions over plain dicts as parsed from Asana REST API 1.0 responses. No I/O, no
``asana`` client objects. Shapes follow Asana's OpenAPI description
(``shared/specs/asana/asana_oas.yaml``): ``TaskResponse`` for :func:`map_task`,
``StoryResponse`` for :func:`map_stories` (the *full* form, read with
:data:`STORY_OPT_FIELDS`: the compact ``StoryCompact`` hides ``assignee``,
``old_section``/``new_section`` and ``dependency``), ``AttachmentResponse`` for
:func:`map_attachments`, ``EventResponse`` for :func:`changed_task_gids`.

Event ids (``Event.id``; the store dedups on ``(tool, id)``):

=================================  =================================================
source                             id
=================================  =================================================
story (assigned, comment, ...)     ``story:<story gid>``
cross-tool URL in a comment        ``story:<story gid>:mentions:<tool>:<key>``
cross-tool URL in the notes        ``notes:<task gid>:mentions:<tool>:<key>``
cross-tool URL of an attachment    ``attachment:<attachment gid>:mentions:<tool>:<key>``
=================================  =================================================

All datetimes are aware UTC. Asana renders ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import unescape
from typing import Any, Iterable

from bridge.model import (
    Account,
    Event,
    EventKind,
    ItemKind,
    ItemRef,
    ItemSnapshot,
    StatusCategory,
    Tool,
)
from connectors.base import parse_iso_utc

TOOL = Tool.ASANA.value

#: ``opt_fields`` for ``GET /tasks`` and ``GET /tasks/{gid}`` (TaskResponse fields mapped below).
TASK_OPT_FIELDS = (
    "name,notes,completed,completed_at,created_at,created_by,modified_at,permalink_url,"
    "assignee,assignee.name,memberships.project.name,memberships.section.name,parent,"
    "dependencies,resource_subtype,due_on,due_at"
)
#: ``opt_fields`` for ``GET /tasks/{gid}/stories``: the full StoryResponse fields this mapping reads.
STORY_OPT_FIELDS = (
    "created_at,created_by,created_by.name,resource_subtype,type,text,html_text,"
    "assignee,assignee.name,old_section.name,new_section.name,dependency.name,"
    "old_dates,new_dates,project.name"
)
#: ``opt_fields`` for ``GET /attachments?parent=``.
ATTACHMENT_OPT_FIELDS = "name,created_at,view_url,resource_subtype"

#: Link type of ``dependency_added``: the story's task waits on the dependency.
BLOCKED_BY = "is blocked by"
#: Link type of a cross-tool URL found in notes, comments or attachments.
MENTIONS = "mentions"

__all__ = [
    "TASK_OPT_FIELDS", "STORY_OPT_FIELDS", "ATTACHMENT_OPT_FIELDS", "BLOCKED_BY", "MENTIONS",
    "StoryMapping", "parse_time", "status_category", "map_task", "map_stories",
    "map_attachments", "notes_links", "cross_tool_refs", "mentions", "changed_task_gids",
]


class _Malformed(Exception):
    """A vendor object lacks a required field or has one of the wrong type."""


class _Skip(Exception):
    """A well-formed story this mapping deliberately does not turn into an event."""


def parse_time(s: Any) -> datetime:
    """Parse a Asana ISO 8601 timestamp into aware UTC (``connectors.base.parse_iso_utc``).

    Raises:
        ValueError: not a string, not ISO 8601, or without a time zone.
    """
    return parse_iso_utc(s)


def _time(obj: dict, key: str, where: str) -> datetime:
    try:
        return parse_time(obj.get(key))
    except ValueError as exc:
        raise _Malformed(f"{where}.{key}: {exc}") from None


def _gid(obj: Any, where: str) -> str:
    """The ``gid`` of a referenced object (numeric string)."""
    if not isinstance(obj, dict):
        raise _Malformed(f"{where} is {'missing' if obj is None else type(obj).__name__}, not an object")
    gid = obj.get("gid")
    if isinstance(gid, int) and not isinstance(gid, bool):
        gid = str(gid)
    if not isinstance(gid, str) or not gid.isdigit():
        raise _Malformed(f"{where}.gid is {gid!r}, not a numeric string")
    return gid


def _str(obj: dict, key: str, where: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{where}.{key} is {type(value).__name__}: {value!r}")
    return value


# ---------------------------------------------------------------------------- status

_BLOCKED_WORDS = ("blocked", "waiting", "on hold")
_TODO_NAMES = {"to do", "todo", "to-do", "backlog", "inbox", "untitled section", "new", "ideas"}
_DONE_NAMES = {"done", "complete", "completed", "shipped", "closed"}


def status_category(section: str | None, completed: bool, sections: Iterable[str] | None = None) -> StatusCategory:
    """The status category of a task in a section (Asana has no workflow states: the column is the status).

    Rules, first match wins: ``completed`` → DONE; a name containing "blocked", "waiting" or
    "on hold" → BLOCKED; containing "review" → IN_REVIEW; "Done"/"Completed"/... → DONE;
    the project's first section (when ``sections``, the names in board order, is given) or
    "To do"/"Backlog"/"Untitled section"/no section → TODO; anything else → IN_PROGRESS.
    Names are compared case-insensitively.
    """
    if completed:
        return StatusCategory.DONE
    name = (section or "").strip().casefold()
    if any(w in name for w in _BLOCKED_WORDS):
        return StatusCategory.BLOCKED
    if "review" in name:
        return StatusCategory.IN_REVIEW
    if name in _DONE_NAMES:
        return StatusCategory.DONE
    first = next(iter(sections), None) if sections is not None else None
    if not name or name in _TODO_NAMES or (first is not None and first.strip().casefold() == name):
        return StatusCategory.TODO
    return StatusCategory.IN_PROGRESS


# ---------------------------------------------------------------------------- cross-tool links

_JIRA_URL = re.compile(r"https?://[A-Za-z0-9-]+\.atlassian\.net/browse/([A-Z][A-Z0-9_]+-\d+)(?![\w-])")
_GITHUB_URL = re.compile(
    r"https?://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]+)/(?:issues|pull)/(\d+)(?!\d)"
)


def cross_tool_refs(text: str | None) -> tuple[ItemRef, ...]:
    """Jira and GitHub items named by URL in ``text``, deduplicated, in order.

    ``https://<site>.atlassian.net/browse/KEY-1`` → ``ItemRef("jira", "KEY-1")``;
    ``https://github.com/o/r/issues/N`` or ``.../pull/N`` → ``ItemRef("github", "o/r#N")``.
    HTML entities are decoded first (``html_text`` and ``html_notes`` carry ``&amp;``).
    Never raises.
    """
    if not text or not isinstance(text, str):
        return ()
    text = unescape(text)
    found: list[tuple[int, ItemRef]] = []
    for m in _JIRA_URL.finditer(text):
        found.append((m.start(), ItemRef(Tool.JIRA.value, m.group(1))))
    for m in _GITHUB_URL.finditer(text):
        repo = m.group(1).removesuffix(".git")
        found.append((m.start(), ItemRef(Tool.GITHUB.value, f"{repo}#{int(m.group(2))}")))
    out: list[ItemRef] = []
    for _, ref in sorted(found, key=lambda x: x[0]):
        if ref not in out:
            out.append(ref)
    return tuple(out)


# ---------------------------------------------------------------------------- mentions

_A_TAG = re.compile(r"<a\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def mentions(html_text: str | None) -> tuple[Account, ...]:
    """People mentioned in a comment's ``html_text``: ``<a data-asana-gid="GID" ...>`` links.

    Follows Asana's rich text guide ("Links and mentions"): a user mention is an ``<a>`` with
    ``data-asana-gid``; Asana adds ``data-asana-type="user"`` on output. Links whose
    ``data-asana-type`` is another object (task, project) are not people. Deduplicated, in
    order. Never raises.
    """
    if not html_text or not isinstance(html_text, str):
        return ()
    out: list[Account] = []
    for tag in _A_TAG.finditer(html_text):
        attrs = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTR.finditer(tag.group(1))}
        gid = attrs.get("data-asana-gid")
        kind = attrs.get("data-asana-type")
        if not gid or not gid.isdigit() or (kind is not None and kind != "user"):
            continue
        acc = Account(TOOL, gid)
        if acc not in out:
            out.append(acc)
    return tuple(out)


# ---------------------------------------------------------------------------- tasks


def _membership_section(task: dict, project_gid: str | None) -> str | None:
    """The task's section name in ``project_gid`` (or its only/first membership)."""
    memberships = task.get("memberships") or []
    if not isinstance(memberships, list):
        raise _Malformed(f"task.memberships is {type(memberships).__name__}, not a list")
    chosen = None
    for i, m in enumerate(memberships):
        if not isinstance(m, dict):
            raise _Malformed(f"task.memberships[{i}] is not an object")
        proj = m.get("project")
        if project_gid is None or (isinstance(proj, dict) and str(proj.get("gid")) == project_gid):
            chosen = m
            break
    if chosen is None:
        return None
    section = chosen.get("section")
    if section is None:
        return None
    if not isinstance(section, dict) or not isinstance(section.get("name"), str):
        raise _Malformed("task.memberships[].section has no name")
    return section["name"]


def notes_links(task: dict) -> tuple[ItemRef, ...]:
    """Cross-tool items named by URL in the task's ``notes`` (and ``html_notes``)."""
    return cross_tool_refs(" ".join(x for x in (task.get("notes"), task.get("html_notes")) if isinstance(x, str)))


def map_task(
    project_gid: str | None,
    task: dict,
    extra_links: Iterable[ItemRef] = (),
    sections: Iterable[str] | None = None,
) -> ItemSnapshot:
    """Map one ``TaskResponse`` (read with :data:`TASK_OPT_FIELDS`) to an :class:`ItemSnapshot`.

    Args:
        project_gid: the watched project; the task's section in it is its ``status``.
        task: the task object (``data`` of ``GET /tasks/{gid}`` or an element of ``GET /tasks``).
        extra_links: cross-tool items found elsewhere (comments, attachments), added to ``links``.
        sections: the project's section names in board order (optional; first = TODO).

    Mapping: ``status`` = section name in the project (``""`` for a task in no section of it,
    e.g. a subtask); ``status_category`` by :func:`status_category`; ``assignees`` = the one
    ``assignee``; ``author`` = ``created_by``; ``url`` = ``permalink_url``; ``updated_at`` =
    ``modified_at``; ``links`` = dependencies (``asana`` gids, "is blocked by"), then
    Jira/GitHub URLs in the notes, then ``extra_links``; ``kind`` = task.

    Raises:
        ValueError: malformed task (no gid, no name, bad timestamps, bad assignee), naming the
            task and the field. The connector skips that task.
    """
    try:
        return _map_task(project_gid, task, extra_links, sections)
    except _Malformed as exc:
        gid = task.get("gid") if isinstance(task, dict) else None
        raise ValueError(f"malformed Asana task {gid}: {exc}") from None


def _map_task(project_gid, task, extra_links, sections) -> ItemSnapshot:
    if not isinstance(task, dict):
        raise _Malformed(f"task is {type(task).__name__}, not an object")
    gid = _gid(task, "task")
    ref = ItemRef(TOOL, gid)
    name = _str(task, "name", "task")
    completed = task.get("completed", False)
    if not isinstance(completed, bool):
        raise _Malformed(f"task.completed is {completed!r}, not a boolean")
    section = _membership_section(task, project_gid)
    assignees: tuple[Account, ...] = ()
    if task.get("assignee") is not None:
        assignees = (Account(TOOL, _gid(task["assignee"], "task.assignee")),)
    author = Account(TOOL, _gid(task["created_by"], "task.created_by")) if task.get("created_by") else None
    created = _time(task, "created_at", "task") if task.get("created_at") is not None else None
    updated = _time(task, "modified_at", "task") if task.get("modified_at") is not None else None
    links: list[ItemRef] = []
    deps = task.get("dependencies") or []
    if not isinstance(deps, list):
        raise _Malformed("task.dependencies is not a list")
    for i, d in enumerate(deps):
        links.append(ItemRef(TOOL, _gid(d, f"task.dependencies[{i}]")))
    for r in (*notes_links(task), *extra_links):
        if r not in links:
            links.append(r)
    url = task.get("permalink_url")
    if not isinstance(url, str):
        url = f"https://app.asana.com/0/{project_gid or 0}/{gid}"
    due = _due(task)
    return ItemSnapshot(
        ref=ref,
        title=name,
        url=url,
        kind=ItemKind.TASK,
        status=section or "",
        status_category=status_category(section, completed, sections),
        assignees=assignees,
        author=author,
        created_at=created,
        updated_at=updated,
        links=tuple(links),
        due=due,
    )


def _due(task: dict) -> datetime | None:
    """``due_at`` (a moment), else ``due_on`` (a date: the end of that day, 23:59:59 UTC)."""
    if task.get("due_at"):
        return _time(task, "due_at", "task")
    on = task.get("due_on")
    if not on:
        return None
    try:
        day = datetime.fromisoformat(str(on)).date()
    except ValueError:
        raise _Malformed(f"task.due_on: {on!r} is not a date") from None
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc)


def notes_link_events(task: dict) -> list[Event]:
    """LINKED ``mentions`` events for Jira/GitHub URLs in the task's notes.

    Asana keeps no story per notes edit that says what changed, so these are stated as of
    the task's ``modified_at`` when first seen, with no actor; ids are stable per (task,
    target), so a later read does not repeat them. Never raises (a malformed task yields none).
    """
    try:
        gid = _gid(task, "task")
        at = _time(task, "modified_at", "task")
    except _Malformed:
        return []
    ref = ItemRef(TOOL, gid)
    return [
        Event(TOOL, f"notes:{gid}:mentions:{t.tool}:{t.key}", ref, at, EventKind.LINKED, link_type=MENTIONS, target=t)
        for t in notes_links(task)
    ]


# ---------------------------------------------------------------------------- stories


@dataclass(frozen=True)
class StoryMapping:
    """What :func:`map_stories` made of a task's stories.

    ``events`` in story order; ``links`` = cross-tool items named in comments;
    ``skipped`` = ``(index, resource_subtype, reason)``: reasons starting with
    ``"malformed"`` are broken stories, the rest deliberately unmapped subtypes.
    """

    events: list[Event] = field(default_factory=list)
    links: tuple[ItemRef, ...] = ()
    skipped: list[tuple[int, str, str]] = field(default_factory=list)


#: Subtypes deliberately not mapped, with the reason.
SKIP_REASONS = {
    "dependent_added": "recorded on the dependent task as dependency_added",
    "dependent_removed": "recorded on the dependent task as dependency_removed",
    "added_to_project": "project membership: not a change of hands",
    "removed_from_project": "project membership: not a change of hands",
    "name_changed": "rename: the snapshot carries the title",
    "notes_changed": "description edit: cross-tool URLs in the notes are read from the task",
    "attachment_added": "attachment: cross-tool URLs are read from the attachment itself",
}


def map_stories(ref: ItemRef, stories: list, project_gid: str | None = None) -> StoryMapping:
    """Map a task's stories (full ``StoryResponse``, oldest first) to events.

    Mapping (Asana story ``resource_subtype``):

    - ``assigned`` / ``unassigned`` → ASSIGNED / UNASSIGNED, ``subject`` = ``assignee.gid``
      (``None`` when Asana leaves it out of an ``unassigned`` story);
    - ``section_changed`` → STATUS_CHANGED from ``old_section.name`` to ``new_section.name``
      (a move in another project than ``project_gid`` is skipped);
    - ``marked_complete`` / ``marked_incomplete`` → CLOSED / REOPENED;
    - ``comment_added`` → COMMENTED with ``text``, ``mentions`` from ``html_text``; Jira and
      GitHub URLs in it add LINKED ``mentions`` events;
    - ``dependency_added`` / ``dependency_removed`` → LINKED / UNLINKED, ``link_type``
      "is blocked by", ``target`` = ``ItemRef("asana", dependency.gid)``;
    - ``due_date_changed`` → DUE_CHANGED, ``due`` = ``new_dates.due_at`` else
      ``new_dates.due_on`` (``None`` when cleared);
    - :data:`SKIP_REASONS` and other subtypes are skipped.

    ``actor`` = ``created_by.gid`` (``None`` for Asana's own automation), ``at`` =
    ``created_at``. A malformed story is skipped with a ``"malformed: ..."`` reason; the
    rest still map. Never raises for story content.
    """
    events: list[Event] = []
    links: list[ItemRef] = []
    skipped: list[tuple[int, str, str]] = []
    for index, story in enumerate(stories or []):
        sub = story.get("resource_subtype") if isinstance(story, dict) else None
        sub = sub if isinstance(sub, str) else ""
        try:
            mapped, found = _map_story(ref, story, sub, project_gid)
            events.extend(mapped)
            links.extend(r for r in found if r not in links)
        except _Skip as exc:
            skipped.append((index, sub, str(exc)))
        except _Malformed as exc:
            skipped.append((index, sub, f"malformed: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one odd story must not sink the task
            skipped.append((index, sub, f"malformed: {type(exc).__name__}: {exc}"))
    return StoryMapping(events=events, links=tuple(links), skipped=skipped)


def _map_story(ref: ItemRef, story: Any, sub: str, project_gid: str | None) -> tuple[list[Event], list[ItemRef]]:
    if not isinstance(story, dict):
        raise _Malformed(f"story is {type(story).__name__}, not an object")
    if not sub:
        raise _Malformed("story has no resource_subtype")
    if sub in SKIP_REASONS:
        raise _Skip(SKIP_REASONS[sub])
    if sub not in _MAPPED:
        raise _Skip(f"unmapped story subtype {sub!r}: no handoff meaning known to this mapping")
    sgid = _gid(story, "story")
    eid = f"story:{sgid}"
    at = _time(story, "created_at", "story")
    actor = Account(TOOL, _gid(story["created_by"], "story.created_by")) if story.get("created_by") is not None else None

    def ev(kind: EventKind, event_id: str = eid, **kw: Any) -> Event:
        return Event(tool=TOOL, id=event_id, item=ref, at=at, kind=kind, actor=actor, **kw)

    if sub in ("assigned", "unassigned"):
        kind = EventKind.ASSIGNED if sub == "assigned" else EventKind.UNASSIGNED
        if story.get("assignee") is None:
            if sub == "assigned":
                raise _Malformed("assigned story has no assignee (read stories with opt_fields: the compact form hides it)")
            return [ev(kind)], []
        return [ev(kind, subject=Account(TOOL, _gid(story["assignee"], "story.assignee")))], []
    if sub == "section_changed":
        proj = story.get("project")
        if project_gid and isinstance(proj, dict) and proj.get("gid") and str(proj["gid"]) != project_gid:
            raise _Skip(f"section move in another project ({proj['gid']})")
        new = story.get("new_section")
        if not isinstance(new, dict) or not isinstance(new.get("name"), str):
            raise _Malformed("section_changed story has no new_section.name (compact form?)")
        old = story.get("old_section")
        old_name = old.get("name") if isinstance(old, dict) and isinstance(old.get("name"), str) else None
        return [ev(EventKind.STATUS_CHANGED, from_status=old_name, to_status=new["name"])], []
    if sub in ("marked_complete", "marked_incomplete"):
        return [ev(EventKind.CLOSED if sub == "marked_complete" else EventKind.REOPENED)], []
    if sub == "due_date_changed":
        new_dates = story.get("new_dates")
        if new_dates is not None and not isinstance(new_dates, dict):
            raise _Malformed("due_date_changed story: new_dates is not an object")
        new_dates = new_dates or {}
        due = new_dates.get("due_at") or new_dates.get("due_on")
        if due is not None and not isinstance(due, str):
            raise _Malformed(f"due_date_changed story: due date {due!r} is not a string")
        return [ev(EventKind.DUE_CHANGED, due=due)], []
    if sub == "comment_added":
        text = _str(story, "text", "story", required=False)
        html = _str(story, "html_text", "story", required=False)
        found = list(cross_tool_refs(" ".join(x for x in (text, html) if x)))
        out = [ev(EventKind.COMMENTED, text=text, mentions=mentions(html))]
        out += [ev(EventKind.LINKED, f"{eid}:mentions:{t.tool}:{t.key}", link_type=MENTIONS, target=t) for t in found]
        return out, found
    # dependency_added / dependency_removed
    dep = story.get("dependency")
    if dep is None:
        raise _Malformed(f"{sub} story has no dependency (compact form?)")
    target = ItemRef(TOOL, _gid(dep, "story.dependency"))
    kind = EventKind.LINKED if sub == "dependency_added" else EventKind.UNLINKED
    return [ev(kind, link_type=BLOCKED_BY, target=target)], []


_MAPPED = frozenset({
    "assigned", "unassigned", "section_changed", "marked_complete", "marked_incomplete",
    "comment_added", "dependency_added", "dependency_removed", "due_date_changed",
})
#: Story subtypes that map to events.
MAPPED_SUBTYPES = _MAPPED


# ---------------------------------------------------------------------------- attachments


def map_attachments(ref: ItemRef, attachments: list) -> tuple[list[Event], tuple[ItemRef, ...], list[tuple[str, str]]]:
    """Cross-tool links from a task's attachments (``AttachmentResponse``, external URLs).

    Returns ``(events, links, skipped)``: one LINKED ``mentions`` event per attachment whose
    ``view_url`` (or name) names a Jira or GitHub item, at the attachment's ``created_at``,
    with no actor (AttachmentResponse names none); ``skipped`` = ``(gid, reason)`` for
    malformed attachments.
    """
    events: list[Event] = []
    links: list[ItemRef] = []
    skipped: list[tuple[str, str]] = []
    for i, att in enumerate(attachments or []):
        try:
            agid = _gid(att, "attachment")
            targets = cross_tool_refs(" ".join(x for x in (att.get("view_url"), att.get("name")) if isinstance(x, str)))
            if not targets:
                continue
            at = _time(att, "created_at", "attachment")
            for t in targets:
                events.append(Event(TOOL, f"attachment:{agid}:mentions:{t.tool}:{t.key}", ref, at, EventKind.LINKED,
                                    link_type=MENTIONS, target=t))
                if t not in links:
                    links.append(t)
        except _Malformed as exc:
            gid = att.get("gid") if isinstance(att, dict) else None
            skipped.append((f"attachment {gid if gid else i}", f"malformed: {exc}"))
    return events, tuple(links), skipped


# ---------------------------------------------------------------------------- events feed


def changed_task_gids(events: list) -> list[str]:
    """Gids of the tasks touched by an ``/events`` page, deduplicated, in order.

    An event on a task names it as ``resource``; an event on a story or attachment names the
    task as ``parent`` (EventResponse: "resource" is what triggered the event). Events on
    sections, projects and malformed events are ignored.
    """
    out: list[str] = []
    for ev in events or []:
        if not isinstance(ev, dict):
            continue
        res, parent = ev.get("resource"), ev.get("parent")
        gid = None
        if isinstance(res, dict) and res.get("resource_type") == "task":
            gid = res.get("gid")
        elif isinstance(parent, dict) and parent.get("resource_type") == "task":
            gid = parent.get("gid")
        if isinstance(gid, str) and gid.isdigit() and gid not in out:
            out.append(gid)
    return out
