"""The Asana emulator's vendor shapes: its in-memory state rendered as Asana's JSON.

Holds the error type (``ErrorResponse`` and the fault bodies), the timestamp format, the
compact and full renderings of users, tasks, stories, attachments, projects and sections
(schemas named in each docstring, from ``shared/specs/asana/asana_oas.yaml``), the
``opt_fields`` selection, and the comment/notes HTML normaliser (``<body>`` with
``data-asana-gid`` mentions). Functions that need other objects take the
:class:`~connectors.sandbox.asana.state.AsanaState` as ``world``; nothing here mutates it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from connectors.sandbox.asana.state import AsanaState, Task

APP_ROOT = "https://app.asana.com"
HELP = ("For more information on API status codes and how to handle them, read the docs "
        "on errors: https://developers.asana.com/docs/errors")
SYNC_INVALID = ("Sync token invalid or too old. If you are attempting to keep resources in "
                "sync, you must fetch the full dataset for this query now and use the new "
                "sync token for the next sync.")
RATE_LIMITED = ("You've made too many requests and hit a rate limit. Please retry after "
                "the given amount of time.")
WORKSPACE = {"gid": "1000000000001", "resource_type": "workspace", "name": "Emulated workspace"}
STORY_COMPACT = ("gid", "created_at", "created_by", "resource_type", "resource_subtype",
                 "text", "type")


class AsanaError(Exception):
    """An HTTP error answered with Asana's ``ErrorResponse`` body.

    ``status``: the HTTP status; ``message``: ``errors[0].message``; ``headers``: extra
    response headers; ``extra``: top-level keys beside ``errors`` (the 412's ``sync``);
    ``help``: whether ``errors[0]`` carries Asana's ``help`` sentence.
    """

    def __init__(self, status: int, message: str, headers: dict | None = None,
                 extra: dict | None = None, help: bool = True):
        super().__init__(message)
        self.status, self.message = status, message
        self.headers = headers or {}
        self.extra = extra or {}
        self.help = help

    def body(self) -> dict:
        """``{"errors": [{"message", "help"?}], **extra}``."""
        err: dict[str, Any] = {"message": self.message}
        if self.help:
            err["help"] = HELP
        return {"errors": [err], **self.extra}


def fault_body(status: int) -> dict:
    """The body of an injected ``status`` fault: 429 → Asana's documented rate-limit body;
    5xx → ``Server Error`` with a phrase; anything else → an ``ErrorResponse``."""
    if status == 429:
        return AsanaError(429, RATE_LIMITED, help=False).body()
    if status >= 500:
        return {"errors": [{"message": "Server Error", "phrase": "6 sad squid snuggle softly"}]}
    return AsanaError(status, "Fault injected by the Asana emulator").body()


def ts(value: datetime) -> str:
    """Render an aware datetime as Asana does: UTC, milliseconds, ``Z``; ValueError if naive."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    v = value.astimezone(timezone.utc)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def body_html(text: str) -> str:
    """Plain text as Asana's rich text: ``<body>`` + the text, ``<>&`` escaped."""
    return f"<body>{escape(text, quote=False)}</body>"


# ---------------------------------------------------------------------- compact renderings
def user_compact(world: AsanaState, gid: str | None) -> dict | None:
    """``UserCompact`` of user ``gid``, or ``None`` for ``None``."""
    if gid is None:
        return None
    u = world.users[gid]
    return {"gid": gid, "resource_type": "user", "name": u["name"]}


def task_compact(t: Task) -> dict:
    """``TaskCompact``."""
    return {"gid": t.gid, "resource_type": "task", "name": t.name,
            "resource_subtype": "default_task"}


def project_named(world: AsanaState, gid: str) -> dict:
    """``ProjectCompact``."""
    return {"gid": gid, "resource_type": "project", "name": world.projects[gid]["name"]}


def section_compact(world: AsanaState, gid: str | None) -> dict | None:
    """``SectionCompact`` of section ``gid``, or ``None`` for ``None``."""
    if gid is None:
        return None
    return {"gid": gid, "resource_type": "section", "name": world.sections[gid]["name"]}


def dates(t: Task) -> dict:
    """The task's dates as ``due_date_changed`` stories carry them (``old_dates``/``new_dates``)."""
    return {"start_on": None, "due_at": ts(t.due_at) if t.due_at else None, "due_on": t.due_on}


def attachment_compact(a: dict) -> dict:
    """``AttachmentCompact`` of an external attachment."""
    return {"gid": a["gid"], "name": a["name"], "resource_type": "attachment",
            "resource_subtype": "external"}


def permalink(t: Task) -> str:
    """The task's ``permalink_url``."""
    return f"{APP_ROOT}/0/{t.project or 0}/{t.gid}"


# ---------------------------------------------------------------------- full renderings
def task_full(world: AsanaState, t: Task) -> dict:
    """Render ``TaskResponse`` (default fields of ``GET /tasks/{gid}``)."""
    memberships, projects = [], []
    if t.project:
        projects = [project_named(world, t.project)]
        memberships = [{"project": project_named(world, t.project),
                        "section": section_compact(world, t.section)}]
    return {
        "gid": t.gid, "resource_type": "task", "name": t.name,
        "resource_subtype": "default_task",
        "actual_time_minutes": None,
        "assignee": user_compact(world, t.assignee),
        "assignee_status": "upcoming" if t.assignee else "inbox",
        "completed": t.completed,
        "completed_at": ts(t.completed_at) if t.completed_at else None,
        "completed_by": user_compact(world, t.completed_by),
        "created_at": ts(t.created_at),
        "created_by": {"gid": t.created_by, "resource_type": "user"},
        "custom_fields": [],
        "dependencies": [{"gid": d, "resource_type": "task"} for d in t.dependencies],
        "dependents": [{"gid": d, "resource_type": "task"} for d in t.dependents],
        "due_at": ts(t.due_at) if t.due_at else None,
        "due_on": t.due_on,
        "followers": [user_compact(world, u) for u in t.followers],
        "hearted": False, "hearts": [],
        "html_notes": t.html_notes if t.html_notes is not None else body_html(t.notes),
        "is_rendered_as_separator": False,
        "liked": False, "likes": [],
        "memberships": memberships,
        "modified_at": ts(t.modified_at),
        "notes": t.notes,
        "num_hearts": 0, "num_likes": 0,
        "num_subtasks": len(t.subtasks),
        "parent": task_compact(world.tasks[t.parent]) if t.parent else None,
        "permalink_url": permalink(t),
        "projects": projects,
        "start_at": None, "start_on": None,
        "tags": [],
        "workspace": dict(WORKSPACE),
    }


def story_full(world: AsanaState, s: dict) -> dict:
    """Render ``StoryResponse`` (every field a story of its subtype carries)."""
    out: dict[str, Any] = {
        "gid": s["gid"], "resource_type": "story",
        "created_at": ts(s["created_at"]),
        "created_by": user_compact(world, s["created_by"]),
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
    out["target"] = task_compact(world.tasks[s["task"]])
    return out


def story_compact(world: AsanaState, s: dict) -> dict:
    """``StoryCompact``: the :data:`STORY_COMPACT` fields of :func:`story_full`."""
    f = story_full(world, s)
    return {k: f[k] for k in STORY_COMPACT}


def attachment_full(world: AsanaState, a: dict) -> dict:
    """Render ``AttachmentResponse`` of an external (URL) attachment."""
    return {"gid": a["gid"], "resource_type": "attachment", "name": a["name"],
            "resource_subtype": "external", "created_at": ts(a["created_at"]),
            "download_url": None,
            "permanent_url": f"{APP_ROOT}/app/asana/-/get_asset?asset_id={a['gid']}",
            "host": "external", "view_url": a["url"], "connected_to_app": False,
            "parent": task_compact(world.tasks[a["parent"]])}


def project_full(world: AsanaState, gid: str) -> dict:
    """Render ``ProjectResponse`` (a plain list project, no custom fields)."""
    p = world.projects[gid]
    return {"gid": gid, "resource_type": "project", "name": p["name"], "archived": False,
            "color": None, "icon": None, "completed": False, "completed_at": None,
            "created_at": ts(p["created_at"]), "modified_at": ts(p["modified_at"]),
            "custom_fields": [], "custom_field_settings": [], "default_view": "list",
            "due_on": None, "due_date": None, "start_on": None, "followers": [],
            "members": [], "notes": "", "html_notes": "<body></body>",
            "permalink_url": f"{APP_ROOT}/0/{gid}", "public": False,
            "privacy_setting": "private", "workspace": dict(WORKSPACE)}


def section_full(world: AsanaState, gid: str) -> dict:
    """Render ``SectionResponse``."""
    s = world.sections[gid]
    return {"gid": gid, "resource_type": "section", "name": s["name"],
            "created_at": ts(s["created_at"]),
            "project": project_named(world, s["project"]),
            "projects": [project_named(world, s["project"])]}


def user_full(world: AsanaState, gid: str) -> dict:
    """Render ``UserResponse``."""
    u = world.users[gid]
    return {"gid": gid, "resource_type": "user", "name": u["name"], "email": u["email"],
            "photo": None, "workspaces": [dict(WORKSPACE)]}


# ---------------------------------------------------------------------- opt_fields
def expand(world: AsanaState, ref: dict) -> dict | None:
    """The full rendering of a referenced object (for dotted ``opt_fields``), or ``None``."""
    gid, kind = ref.get("gid"), ref.get("resource_type")
    if kind == "user" and gid in world.users:
        return user_full(world, gid)
    if kind == "task" and gid in world.tasks:
        return task_full(world, world.tasks[gid])
    if kind == "project" and gid in world.projects:
        return project_full(world, gid)
    if kind == "section" and gid in world.sections:
        return section_full(world, gid)
    if kind == "story" and gid in world.stories:
        return story_full(world, world.stories[gid])
    if kind == "attachment" and gid in world.attachments:
        return attachment_full(world, world.attachments[gid])
    return None


def select(obj: Any, tree: dict, expand: Callable[[dict], dict | None] | None = None) -> Any:
    """Keep the ``opt_fields`` tree of ``obj``; objects always keep ``gid``.

    ``tree``: field name → sub-tree (``{}`` for a leaf). A field named without sub-fields
    keeps its full value as rendered (for a reference, its compact form); ``a.b`` keeps
    ``b`` of the object (or of each item) under ``a``. When a referenced object lacks a
    requested field (``assignee.email``), ``expand`` returns its full rendering to select from.
    """
    if isinstance(obj, list):
        return [select(v, tree, expand) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if expand is not None and any(k not in obj for k in tree):
        obj = expand(obj) or obj
    out: dict[str, Any] = {}
    if "gid" in obj:
        out["gid"] = obj["gid"]
    for key, sub in tree.items():
        if key in obj:
            out[key] = select(obj[key], sub, expand) if sub else obj[key]
    return out


# ---------------------------------------------------------------------- rich text
def rich_text(world: AsanaState, html_text: str) -> tuple[str, str]:
    """Normalise ``<body>...</body>`` as Asana stores it; return (plain text, stored html).

    Each ``<a data-asana-gid="GID"/>`` naming a user or task gets Asana's link attributes
    and the user's ``@name`` or the task's name as its text.

    Raises:
        AsanaError: 400 when the XML is malformed, its root is not ``<body>``, or a
            mention names an unknown object.
    """
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
        if mgid in world.users:
            label = "@" + world.users[mgid]["name"]
            a.attrib = {"href": f"{APP_ROOT}/0/profile/{mgid}",
                        "data-asana-accessible": "true", "data-asana-dynamic": "true",
                        "data-asana-type": "user", "data-asana-gid": mgid}
        elif mgid in world.tasks:
            mt = world.tasks[mgid]
            label = mt.name
            a.attrib = {"href": permalink(mt), "data-asana-accessible": "true",
                        "data-asana-dynamic": "true", "data-asana-type": "task",
                        "data-asana-gid": mgid}
        else:
            raise AsanaError(400, f"html_text: Unknown object: {mgid}")
        for child in list(a):
            a.remove(child)
        a.text = label
    text = "".join(root.itertext())
    return text, ET.tostring(root, encoding="unicode", short_empty_elements=True)
