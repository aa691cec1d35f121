"""Map Asana vendor JSON to the normalized model, in exactly one place.

Pure functions over plain dicts as parsed from Asana REST API 1.0 responses. No I/O, no
``asana`` client objects. Shapes follow Asana's OpenAPI description
(``shared/specs/asana/asana_oas.yaml``): ``TaskResponse`` for :func:`map_task`,
``StoryResponse`` for :func:`map_stories` (the *full* form, read with
:data:`STORY_OPT_FIELDS`: the compact ``StoryCompact`` hides ``assignee``,
``old_section``/``new_section`` and ``dependency``), ``AttachmentResponse`` for
:func:`map_attachments`, ``EventResponse`` for :func:`changed_task_gids`.

Event ids (``Event.id``; the store dedups on ``(tool, id)``):

=====================================  =================================================
source                                 id
=====================================  =================================================
story (assigned, comment, ...)         ``story:<story gid>``
item reference in a comment            ``story:<story gid>:<kind>:<tool>:<key>``
item reference in the name or notes    ``notes:<task gid>:<kind>:<tool>:<key>``
item reference of an attachment        ``attachment:<attachment gid>:mentions:<tool>:<key>``
=====================================  =================================================

``<kind>`` is ``mentions`` or ``blocked_by`` (the reference's ``link_type``, ``"mentions"``
or ``"is blocked by"``, from :func:`connectors.textrefs.find_refs`), so a mention that later
becomes "blocked by" in edited notes is a new fact with its own time.

Item references in text (task name, ``html_notes``, comment ``html_text``, attachment
``view_url``/name) are read by :func:`connectors.textrefs.find_refs`, the finder all three
tools share: tracker URLs of any tool (Asana task URLs too, so a task mention
``<a data-asana-gid=… href=…>`` in rich text is a link) and, except in attachments, bare
Jira keys (``LEG-4``). A reference to the task itself is ignored, and so is text carrying
the daemon's marker (``hb:<12 hex>``): its own comments and drafts name items but state
no fact.

Accounts (:func:`accounts_of`): the users a task and its stories name, as
``bridge.core.model.AccountInfo`` with ``name`` and ``email`` where the response carries them
(``UserResponse.email``; compact users carry it only when asked for with dot-notation
``opt_fields``, e.g. ``assignee.email``, which :data:`TASK_OPT_FIELDS` and
:data:`STORY_OPT_FIELDS` do).

All datetimes are aware UTC. Asana renders ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from html import unescape
from typing import Any, Iterable

from bridge.core.model import (
    Account,
    AccountInfo,
    Event,
    EventKind,
    ItemKind,
    ItemRef,
    ItemSnapshot,
    StatusCategory,
    Tool,
)
from connectors.textrefs import BLOCKED_BY_TYPE, MENTIONS_TYPE, TextRef, find_refs
from connectors.base import parse_iso_utc

TOOL = Tool.ASANA.value

#: ``opt_fields`` for ``GET /tasks`` and ``GET /tasks/{gid}`` (TaskResponse fields mapped below).
TASK_OPT_FIELDS = (
    "name,notes,html_notes,completed,completed_at,created_at,created_by,created_by.name,"
    "created_by.email,modified_at,permalink_url,assignee,assignee.name,assignee.email,"
    "memberships.project.name,memberships.section.name,parent,dependencies,resource_subtype,"
    "due_on,due_at"
)
#: ``opt_fields`` for ``GET /tasks/{gid}/stories``: the full StoryResponse fields this mapping reads.
STORY_OPT_FIELDS = (
    "created_at,created_by,created_by.name,created_by.email,resource_subtype,type,text,html_text,"
    "assignee,assignee.name,assignee.email,old_section.name,new_section.name,dependency.name,"
    "old_dates,new_dates,project.name"
)
#: ``opt_fields`` for ``GET /attachments?parent=``.
ATTACHMENT_OPT_FIELDS = "name,created_at,view_url,resource_subtype"

#: Link type of ``dependency_added`` and of text saying "blocked by"/"depends on"/"waiting on".
BLOCKED_BY = BLOCKED_BY_TYPE
#: Link type of any other item reference found in the name, notes, comments or attachments.
MENTIONS = MENTIONS_TYPE
#: The daemon's idempotency marker; text carrying it is the daemon's own (no links read from it).
MARKER = re.compile(r"(?<![\w:])hb:[0-9a-f]{12}(?![0-9a-f])")

__all__ = [
    "TASK_OPT_FIELDS", "STORY_OPT_FIELDS", "ATTACHMENT_OPT_FIELDS", "BLOCKED_BY", "MENTIONS",
    "MARKER", "StoryMapping", "parse_time", "status_category", "map_task", "map_stories",
    "map_attachments", "notes_links", "notes_link_events", "task_text_refs", "text_refs",
    "mentions", "accounts_of", "merge_accounts", "changed_task_gids",
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


# ---------------------------------------------------------------------------- item references in text


def _id_kind(link_type: str) -> str:
    """The event-id token of a text reference's link type: ``mentions`` | ``blocked_by``."""
    return "blocked_by" if link_type == BLOCKED_BY else "mentions"


def text_refs(text: str | None, *, html: bool = False, own: ItemRef | None = None,
              bare_jira_keys: bool = True) -> tuple[TextRef, ...]:
    """Items named in ``text`` (:func:`connectors.textrefs.find_refs`), without ``own``.

    ``html=True`` for Asana rich text (``html_notes``, ``html_text``: entities decoded, tags
    dropped, ``href`` kept). Text carrying the daemon's :data:`MARKER` gives ``()``.
    Never raises.
    """
    if not isinstance(text, str) or MARKER.search(text):
        return ()
    return tuple(r for r in find_refs(text, bare_jira_keys=bare_jira_keys, html=html) if r.ref != own)


def _merge_refs(*groups: Iterable[TextRef]) -> tuple[TextRef, ...]:
    """Concatenate in order, each item once; "is blocked by" wins over a mention."""
    out: dict[ItemRef, str] = {}
    for group in groups:
        for r in group:
            if out.get(r.ref) != BLOCKED_BY:
                out[r.ref] = r.link_type
    return tuple(TextRef(ref, kind) for ref, kind in out.items())


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


# ---------------------------------------------------------------------------- accounts

_A_LABELLED = re.compile(r"<a\b([^>]*?)(?:/>|>(.*?)</a>)", re.IGNORECASE | re.DOTALL)


def _user_info(obj: Any) -> AccountInfo | None:
    """``AccountInfo`` of a user object (``UserCompact``, or with ``email`` when asked for); ``None`` if no gid."""
    if not isinstance(obj, dict):
        return None
    gid = obj.get("gid")
    if isinstance(gid, int) and not isinstance(gid, bool):
        gid = str(gid)
    if not isinstance(gid, str) or not gid.isdigit():
        return None
    name = obj.get("name") if isinstance(obj.get("name"), str) and obj.get("name") else None
    email = obj.get("email") if isinstance(obj.get("email"), str) and "@" in obj.get("email") else None
    return AccountInfo(Account(TOOL, gid), name, email.strip().lower() if email else None)


def _mentioned_users(html_text: Any) -> list[AccountInfo]:
    """Users mentioned in rich text, named by the link's label (Asana renders ``@Name``), no e-mail."""
    out: list[AccountInfo] = []
    if not isinstance(html_text, str):
        return out
    for m in _A_LABELLED.finditer(html_text):
        attrs = {a.group(1).lower(): (a.group(2) if a.group(2) is not None else a.group(3)) for a in _ATTR.finditer(m.group(1))}
        gid, kind = attrs.get("data-asana-gid"), attrs.get("data-asana-type")
        if not gid or not gid.isdigit() or (kind is not None and kind != "user"):
            continue
        label = unescape(re.sub(r"<[^>]+>", "", m.group(2) or "")).strip().removeprefix("@").strip()
        out.append(AccountInfo(Account(TOOL, gid), label or None, None))
    return out


def merge_accounts(infos: Iterable[AccountInfo | None]) -> list[AccountInfo]:
    """One ``AccountInfo`` per account, in first-seen order; the first non-empty name and e-mail win."""
    merged: dict[Account, AccountInfo] = {}
    for info in infos:
        if info is None:
            continue
        old = merged.get(info.account)
        if old is None:
            merged[info.account] = info
        elif (old.display_name is None and info.display_name) or (old.email is None and info.email):
            merged[info.account] = AccountInfo(info.account, old.display_name or info.display_name, old.email or info.email)
    return list(merged.values())


def accounts_of(task: dict | None = None, stories: Iterable[Any] = ()) -> list[AccountInfo]:
    """The users a task and its stories name, merged (:func:`merge_accounts`).

    From a ``TaskResponse``: ``assignee``, ``created_by`` and ``followers`` (when present:
    :data:`TASK_OPT_FIELDS` does not ask for followers, so no poll reads them). From each
    ``StoryResponse``: ``created_by``, ``assignee`` (assigned/unassigned stories) and the
    users mentioned in ``html_text`` (``<a data-asana-gid>`` with ``data-asana-type`` user
    or none; name from the link's ``@Name`` label, no e-mail). ``email`` is lower-cased and
    only set when the object carries one (``UserResponse.email``, asked for with
    ``assignee.email``/``created_by.email``). Malformed entries are ignored; never raises.
    """
    infos: list[AccountInfo | None] = []
    if isinstance(task, dict):
        infos += [_user_info(task.get("assignee")), _user_info(task.get("created_by"))]
        followers = task.get("followers")
        if isinstance(followers, list):
            infos += [_user_info(f) for f in followers]
    for story in stories or ():
        if not isinstance(story, dict):
            continue
        infos += [_user_info(story.get("created_by")), _user_info(story.get("assignee"))]
        infos += _mentioned_users(story.get("html_text"))
    return merge_accounts(infos)


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


def task_text_refs(task: dict) -> tuple[TextRef, ...]:
    """Items named in the task's ``name`` and notes (``html_notes`` when read, else ``notes``).

    Bare Jira keys count (``"LEG-4: NDA for ACME"``); the task itself does not; notes
    carrying the daemon's marker (its drafted subtasks) give nothing. Never raises.
    """
    if not isinstance(task, dict):
        return ()
    if any(isinstance(task.get(k), str) and MARKER.search(task[k]) for k in ("notes", "html_notes")):
        return ()
    gid = task.get("gid")
    own = ItemRef(TOOL, str(gid)) if gid is not None else None
    html = task.get("html_notes")
    if isinstance(html, str) and html:
        notes = text_refs(html, html=True, own=own)
    else:
        notes = text_refs(task.get("notes"), own=own)
    return _merge_refs(text_refs(task.get("name"), own=own), notes)


def notes_links(task: dict) -> tuple[ItemRef, ...]:
    """Items named in the task's name and notes (see :func:`task_text_refs`), in order."""
    return tuple(r.ref for r in task_text_refs(task))


def map_task(
    project_gid: str | None,
    task: dict,
    extra_links: Iterable[ItemRef] = (),
    sections: Iterable[str] | None = None,
    extra_blocked_by: Iterable[ItemRef] = (),
) -> ItemSnapshot:
    """Map one ``TaskResponse`` (read with :data:`TASK_OPT_FIELDS`) to an :class:`ItemSnapshot`.

    Args:
        project_gid: the watched project; the task's section in it is its ``status``.
        task: the task object (``data`` of ``GET /tasks/{gid}`` or an element of ``GET /tasks``).
        extra_links: items named elsewhere (comments, attachments), added to ``links``.
        sections: the project's section names in board order (optional; first = TODO).
        extra_blocked_by: items comments say this task is blocked by, added to ``blocked_by``
            (and to ``links``).

    Mapping: ``status`` = section name in the project (``""`` for a task in no section of it,
    e.g. a subtask); ``status_category`` by :func:`status_category`; ``assignees`` = the one
    ``assignee``; ``author`` = ``created_by``; ``url`` = ``permalink_url``; ``updated_at`` =
    ``modified_at``; ``links`` = dependencies (``asana`` gids), then the items named in the
    name and notes (:func:`task_text_refs`), then ``extra_blocked_by`` and ``extra_links``;
    ``blocked_by`` = dependencies (Asana "Dependencies": the task waits on them), then the
    name/notes references whose link type is "is blocked by", then ``extra_blocked_by``;
    ``kind`` = task.

    Raises:
        ValueError: malformed task (no gid, no name, bad timestamps, bad assignee), naming the
            task and the field. The connector skips that task.
    """
    try:
        return _map_task(project_gid, task, extra_links, sections, extra_blocked_by)
    except _Malformed as exc:
        gid = task.get("gid") if isinstance(task, dict) else None
        raise ValueError(f"malformed Asana task {gid}: {exc}") from None


def _map_task(project_gid, task, extra_links, sections, extra_blocked_by=()) -> ItemSnapshot:
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
    deps = task.get("dependencies") or []
    if not isinstance(deps, list):
        raise _Malformed("task.dependencies is not a list")
    native = [ItemRef(TOOL, _gid(d, f"task.dependencies[{i}]")) for i, d in enumerate(deps)]
    refs = task_text_refs(task)
    blocked: list[ItemRef] = []
    for r in (*native, *(t.ref for t in refs if t.link_type == BLOCKED_BY), *extra_blocked_by):
        if r not in blocked and r != ref:
            blocked.append(r)
    links: list[ItemRef] = []
    for r in (*native, *(t.ref for t in refs), *extra_blocked_by, *extra_links):
        if r not in links and r != ref:
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
        blocked_by=tuple(blocked),
        description=task["notes"].strip() or None if isinstance(task.get("notes"), str) else None,
    )


def _due(task: dict) -> datetime | date | None:
    """``due_at`` (a moment, aware UTC), else ``due_on`` as a ``date``: a date alone is the end of
    that day for whoever owes the task, resolved in their schedule (``ItemSnapshot.due``)."""
    if task.get("due_at"):
        return _time(task, "due_at", "task")
    on = task.get("due_on")
    if not on:
        return None
    try:
        day = datetime.fromisoformat(str(on)).date()
    except ValueError:
        raise _Malformed(f"task.due_on: {on!r} is not a date") from None
    return day


def notes_link_events(task: dict) -> list[Event]:
    """LINKED events for the items named in the task's name and notes (:func:`task_text_refs`).

    ``link_type`` is the reference's (``"is blocked by"`` or ``"mentions"``). Asana's
    ``notes_changed``/``name_changed`` stories do not say what changed, so these are stated as
    of the task's ``modified_at`` when first seen, with no actor; ids
    (``notes:<gid>:<kind>:<tool>:<key>``) are stable per (task, kind, target), so a later read
    does not repeat them. Never raises (a malformed task yields none).
    """
    try:
        gid = _gid(task, "task")
        at = _time(task, "modified_at", "task")
    except _Malformed:
        return []
    ref = ItemRef(TOOL, gid)
    return [
        Event(TOOL, f"notes:{gid}:{_id_kind(t.link_type)}:{t.ref.tool}:{t.ref.key}", ref, at, EventKind.LINKED,
              link_type=t.link_type, target=t.ref)
        for t in task_text_refs(task)
    ]


# ---------------------------------------------------------------------------- stories


@dataclass(frozen=True)
class StoryMapping:
    """What :func:`map_stories` made of a task's stories.

    ``events`` in story order; ``links`` = items named in comments; ``blocked_by`` = the
    subset a comment says the task is blocked by / depends on / waits on; ``skipped`` =
    ``(index, resource_subtype, reason)``: reasons starting with ``"malformed"`` are broken
    stories, the rest deliberately unmapped subtypes.
    """

    events: list[Event] = field(default_factory=list)
    links: tuple[ItemRef, ...] = ()
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    blocked_by: tuple[ItemRef, ...] = ()


#: Subtypes deliberately not mapped, with the reason.
SKIP_REASONS = {
    "dependent_added": "recorded on the dependent task as dependency_added",
    "dependent_removed": "recorded on the dependent task as dependency_removed",
    "added_to_project": "project membership: not a change of hands",
    "removed_from_project": "project membership: not a change of hands",
    "name_changed": "rename: the snapshot carries the title",
    "attachment_added": "attachment: item references are read from the attachment itself",
}


def map_stories(ref: ItemRef, stories: list, project_gid: str | None = None) -> StoryMapping:
    """Map a task's stories (full ``StoryResponse``, oldest first) to events.

    Mapping (Asana story ``resource_subtype``):

    - ``assigned`` / ``unassigned`` → ASSIGNED / UNASSIGNED, ``subject`` = ``assignee.gid``
      (``None`` when Asana leaves it out of an ``unassigned`` story);
    - ``section_changed`` → STATUS_CHANGED from ``old_section.name`` to ``new_section.name``
      (a move in another project than ``project_gid`` is skipped);
    - ``marked_complete`` / ``marked_incomplete`` → CLOSED / REOPENED;
    - ``comment_added`` → COMMENTED with ``text``, ``mentions`` from ``html_text``; items
      named in it (:func:`text_refs` of ``html_text``, else ``text``) add LINKED events whose
      ``link_type`` is the reference's ("is blocked by" or "mentions");
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
    found_refs: list[TextRef] = []
    skipped: list[tuple[int, str, str]] = []
    for index, story in enumerate(stories or []):
        sub = story.get("resource_subtype") if isinstance(story, dict) else None
        sub = sub if isinstance(sub, str) else ""
        try:
            mapped, found = _map_story(ref, story, sub, project_gid)
            events.extend(mapped)
            found_refs.extend(found)
        except _Skip as exc:
            skipped.append((index, sub, str(exc)))
        except _Malformed as exc:
            skipped.append((index, sub, f"malformed: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one odd story must not sink the task
            skipped.append((index, sub, f"malformed: {type(exc).__name__}: {exc}"))
    merged = _merge_refs(found_refs)
    return StoryMapping(events=events, links=tuple(r.ref for r in merged), skipped=skipped,
                        blocked_by=tuple(r.ref for r in merged if r.link_type == BLOCKED_BY))


def _map_story(ref: ItemRef, story: Any, sub: str, project_gid: str | None) -> tuple[list[Event], list[TextRef]]:
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
    if sub == "notes_changed":  # the story does not say what changed: the snapshot has the new notes
        return [ev(EventKind.DESCRIPTION_CHANGED)], []
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
        if text is not None and MARKER.search(text):
            found: tuple[TextRef, ...] = ()  # the daemon's own comment: it names items, states no link
        elif html:
            found = text_refs(html, html=True, own=ref)
        else:
            found = text_refs(text, own=ref)
        out = [ev(EventKind.COMMENTED, text=text, mentions=mentions(html))]
        out += [ev(EventKind.LINKED, f"{eid}:{_id_kind(t.link_type)}:{t.ref.tool}:{t.ref.key}", link_type=t.link_type,
                   target=t.ref) for t in found]
        return out, list(found)
    # dependency_added / dependency_removed
    dep = story.get("dependency")
    if dep is None:
        raise _Malformed(f"{sub} story has no dependency (compact form?)")
    target = ItemRef(TOOL, _gid(dep, "story.dependency"))
    kind = EventKind.LINKED if sub == "dependency_added" else EventKind.UNLINKED
    return [ev(kind, link_type=BLOCKED_BY, target=target)], []


_MAPPED = frozenset({
    "assigned", "unassigned", "section_changed", "marked_complete", "marked_incomplete",
    "comment_added", "dependency_added", "dependency_removed", "due_date_changed", "notes_changed",
})
#: Story subtypes that map to events.
MAPPED_SUBTYPES = _MAPPED


# ---------------------------------------------------------------------------- attachments


def map_attachments(ref: ItemRef, attachments: list) -> tuple[list[Event], tuple[ItemRef, ...], list[tuple[str, str]]]:
    """Links from a task's attachments (``AttachmentResponse``, external URLs).

    Returns ``(events, links, skipped)``: one LINKED ``mentions`` event per item whose URL
    is an attachment's ``view_url`` or name (:func:`connectors.textrefs.find_refs`, URLs only:
    file names such as ``ISO-9001.pdf`` are no Jira keys), at the attachment's
    ``created_at``, with no actor (AttachmentResponse names none). An attachment is a
    mention, never "blocked by". ``skipped`` = ``(gid, reason)`` for malformed attachments.
    """
    events: list[Event] = []
    links: list[ItemRef] = []
    skipped: list[tuple[str, str]] = []
    for i, att in enumerate(attachments or []):
        try:
            agid = _gid(att, "attachment")
            text = "\n".join(x for x in (att.get("view_url"), att.get("name")) if isinstance(x, str))
            targets = [r.ref for r in text_refs(text, own=ref, bare_jira_keys=False)]
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
