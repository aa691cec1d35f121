"""The Jira emulator's in-memory world, without HTTP: what a Jira site holds and how it changes.

Holds :class:`JiraState` (users, projects, workflow statuses, issues with their changelog
histories, comments, issue links, remote links, and the driver methods that change them as
Jira does), the :class:`Issue` record, :class:`JiraError` (an HTTP error with Jira's
``ErrorCollection`` body, raised here and by ``jql.py`` and ``routes.py``), the
:data:`UNCHANGED` sentinel and the site's fixed tables (status categories, default statuses,
link types, resolutions).
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

UNCHANGED: Any = object()  # sentinel: "leave the assignee as it is"
STATUS_CATEGORIES = {  # key -> (id, name, colorName); /rest/api/3/statuscategory
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
DEFAULT_STATUSES = [
    ("To Do", "new"), ("In Progress", "indeterminate"), ("In Review", "indeterminate"),
    ("Ready for QA", "indeterminate"), ("In QA", "indeterminate"),
    ("Blocked", "indeterminate"), ("Waiting for Ops", "indeterminate"), ("Done", "done"),
]
LINK_TYPES = [  # (id, name, inward, outward) as a fresh Jira Cloud site ships them
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
]
RESOLUTIONS = ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]
_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


class JiraError(Exception):
    """An HTTP error answered with Jira's ``ErrorCollection`` body ``{errorMessages, errors}``."""

    def __init__(self, status: int, messages: Iterable[str] | str = (),
                 errors: dict | None = None, headers: dict | None = None):
        msgs = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(msgs) or str(errors))
        self.status, self.messages, self.errors = status, msgs, errors or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"errorMessages": self.messages, "errors": self.errors}


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class Issue:
    """One issue as the state keeps it. ``description``: wiki text or None; ``status``,
    ``resolution``, ``issuetype``: names; ``reporter``/``assignee``: accountIds; ``duedate``:
    ``yyyy-MM-dd``; ``histories``: ``{id, author, created, items}`` oldest first;
    ``comment_ids``/``link_ids``: keys of :attr:`JiraState._comments` / ``_links``;
    ``remote_links``: ``{id, globalId, object, application, relationship}``."""

    id: int
    key: str
    project: str
    summary: str
    description: str | None
    status: str
    reporter: str
    created: datetime
    updated: datetime
    assignee: str | None = None
    labels: list[str] = field(default_factory=list)
    resolution: str | None = None
    resolutiondate: datetime | None = None
    duedate: str | None = None
    issuetype: str = "Task"
    histories: list[dict] = field(default_factory=list)  # {id, author, created, items}
    comment_ids: list[int] = field(default_factory=list)
    link_ids: list[int] = field(default_factory=list)
    remote_links: list[dict] = field(default_factory=list)
    flagged: bool = False  # Jira Software's "Flagged" (Impediment), FLAGGED_FIELD


#: Jira Software's "Flagged" custom field as the emulated site has it: (id, its one option's id and value).
FLAGGED_FIELD, FLAG_OPTION_ID, FLAG_OPTION = "customfield_10021", "10019", "Impediment"


class JiraState:
    """The in-memory Jira site: users, projects, statuses, issues, comments, links.

    The driver methods write the same state and changelog histories the HTTP endpoints do
    (``routes.py`` calls them, and the ``_``-prefixed per-issue helpers below, under
    ``_lock``). ``at=None`` means now, from ``clock``; ``actor``/``assignee`` are
    accountIds (on Data Center the accountId doubles as the username ``name`` and user
    ``key``). Instants are aware UTC datetimes, cut to milliseconds as Jira stores them.

    Changelog rules (as Jira records them, ``Changelog``/``ChangeDetails`` schemas of
    ``shared/specs/jira/swagger-v3.v3.json``): one history per write, holding items
    ``{field, fieldtype: "jira", fieldId, from, fromString, to, toString}``; ``status``
    (from/to status ids, strings names), ``assignee`` (from/to accountIds, strings display
    names), ``labels`` (from/to null, strings space-separated), ``resolution`` (ids and
    names), ``duedate``, ``summary`` and ``description`` (from/to null, strings the old and
    new text), ``Link`` (no fieldId; to = other key, toString ``"This issue is blocked by
    WEB-2"``, recorded on both issues; a removal has from/fromString instead),
    ``RemoteIssueLink`` and ``Flagged`` (``fieldtype`` ``custom``, ``fieldId`` the custom field's
    id, to ``[10019]``/toString ``Impediment`` when set, from/fromString when cleared). Creating an issue and commenting record no history. Every write
    sets ``updated``.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        """Create an empty site: the default statuses and resolutions, no users or projects.

        ``clock`` returns aware UTC datetimes (default: real time); ``at=None`` reads it.
        """
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.RLock()
        self._ids = itertools.count(10000)
        self._history_ids = itertools.count(10000)
        self._comment_ids = itertools.count(10000)
        self._link_ids = itertools.count(10000)
        self._remote_ids = itertools.count(10000)
        self._users: dict[str, dict] = {}
        self._projects: dict[str, dict] = {}
        self._issues: dict[str, Issue] = {}
        self._issue_by_id: dict[int, str] = {}
        self._comments: dict[int, dict] = {}
        self._links: dict[int, dict] = {}
        self._statuses: dict[str, dict] = {}
        self._resolutions: dict[str, str] = {}
        for name, cat in DEFAULT_STATUSES:
            self.add_status(name, cat)
        for n, name in enumerate(RESOLUTIONS):
            self._resolutions[name] = str(10000 + n)

    # ------------------------------------------------------------------ setup
    def add_user(self, account_id: str, display_name: str | None = None,
                 email: str | None = None, time_zone: str = "UTC") -> None:
        """Create or update an account. ``time_zone``: IANA name; responses to this user's
        requests render timestamps in it and its JQL date literals are read in it."""
        ZoneInfo(time_zone)  # raises for an unknown zone
        with self._lock:
            u = self._users.setdefault(account_id, {"accountId": account_id,
                                                    "displayName": account_id,
                                                    "email": None, "timeZone": "UTC"})
            if display_name is not None:
                u["displayName"] = display_name
            if email is not None:
                u["email"] = email
            u["timeZone"] = time_zone

    def ensure_user(self, account_id: str, email: str | None = None) -> None:
        """Create the account if it is new; set its e-mail when ``email`` is given (its
        display name and time zone stay as they are)."""
        with self._lock:
            if account_id not in self._users:
                self.add_user(account_id, email=email)
            elif email is not None:
                self._users[account_id]["email"] = email

    def add_status(self, name: str, category: str) -> dict:
        """Add a workflow status; ``category`` is ``new``, ``indeterminate`` or ``done``."""
        if category not in STATUS_CATEGORIES:
            raise ValueError(f"category must be one of {sorted(STATUS_CATEGORIES)}")
        with self._lock:
            sid = str(10000 + len(self._statuses))
            self._statuses[name] = {"id": sid, "name": name, "category": category}
            return dict(self._statuses[name])

    def create_project(self, key: str, name: str | None = None) -> None:
        """Create (or keep) project ``key``; its issues are ``KEY-1``, ``KEY-2``, ..."""
        with self._lock:
            if key not in self._projects:
                self._projects[key] = {"id": str(next(self._ids)), "key": key,
                                       "name": name or key, "next": 1}

    # ------------------------------------------------------------------ driver: writes
    def _when(self, at: datetime | None) -> datetime:
        return _utc(at if at is not None else self.clock())

    def _need_issue(self, key: str) -> Issue:
        issue = self._issues.get(key)
        if issue is None and key.isdigit():
            issue = self._issues.get(self._issue_by_id.get(int(key), ""))
        if issue is None:
            raise JiraError(404, _NOT_FOUND)
        return issue

    def _record(self, issue: Issue, actor: str, items: list[dict], at: datetime) -> None:
        if items:
            issue.histories.append({"id": str(next(self._history_ids)), "author": actor,
                                    "created": at, "items": items})
        issue.updated = at

    def _user_ref(self, account_id: str | None) -> str | None:
        return account_id

    def _assignee_item(self, issue: Issue, new: str | None) -> dict:
        def name(a: str | None) -> str | None:
            return self._users[a]["displayName"] if a in self._users else a

        return {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                "from": self._user_ref(issue.assignee), "fromString": name(issue.assignee),
                "to": self._user_ref(new), "toString": name(new)}

    def _status_item(self, issue: Issue, new: str) -> dict:
        if new not in self._statuses:
            raise ValueError(f"unknown status {new!r}; add it with add_status()")
        old = self._statuses[issue.status]
        return {"field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": old["id"], "fromString": old["name"],
                "to": self._statuses[new]["id"], "toString": new}

    def _resolution_item(self, issue: Issue, new: str | None) -> dict:
        if new is not None and new not in self._resolutions:
            self._resolutions[new] = str(10000 + len(self._resolutions))
        return {"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                "from": self._resolutions.get(issue.resolution) if issue.resolution else None,
                "fromString": issue.resolution,
                "to": self._resolutions[new] if new else None, "toString": new}

    def create_issue(self, project: str, actor: str, summary: str, description: str = "",
                     assignee: str | None = None, status: str = "To Do",
                     labels: Iterable[str] = (), key: str | None = None,
                     at: datetime | None = None, duedate: str | None = None,
                     issuetype: str = "Task") -> str:
        """Create an issue (no changelog history, as in Jira); return its key.

        ``description``: wiki text (``""`` means none); ``duedate``: ``yyyy-MM-dd``;
        ``key``: force a key such as ``"WEB-17"`` (the project counter moves past it).
        """
        with self._lock:
            self.create_project(project)
            if status not in self._statuses:
                raise ValueError(f"unknown status {status!r}")
            for a in (actor, assignee):
                if a is not None and a not in self._users:
                    self.add_user(a)
            proj = self._projects[project]
            if key is None:
                key = f"{project}-{proj['next']}"
            num = int(key.rsplit("-", 1)[1])
            proj["next"] = max(proj["next"], num + 1)
            if key in self._issues:
                raise ValueError(f"issue {key} exists")
            when = self._when(at)
            iid = next(self._ids)
            issue = Issue(iid, key, project, summary, description or None, status, actor,
                           when, when, assignee=assignee, labels=list(labels),
                           duedate=duedate, issuetype=issuetype)
            if self._statuses[status]["category"] == "done":
                issue.resolution, issue.resolutiondate = "Done", when
            self._issues[key] = issue
            self._issue_by_id[iid] = key
            return key

    def transition(self, key: str, actor: str, status: str, assignee: Any = UNCHANGED,
                   at: datetime | None = None) -> None:
        """Move ``key`` to ``status``; with ``assignee`` (accountId or None) also reassign it
        in the SAME history, as a transition screen that sets the assignee does.

        Entering a ``done`` status does not set a resolution (use :meth:`resolve`); leaving
        one for a non-done status clears the resolution in the same history.
        """
        with self._lock:
            issue = self._need_issue(key)
            when = self._when(at)
            items = [self._status_item(issue, status)]
            if assignee is not UNCHANGED and assignee != issue.assignee:
                if assignee is not None and assignee not in self._users:
                    self.add_user(assignee)
                items.append(self._assignee_item(issue, assignee))
                issue.assignee = assignee
            if issue.resolution and self._statuses[status]["category"] != "done":
                items.append(self._resolution_item(issue, None))
                issue.resolution, issue.resolutiondate = None, None
            issue.status = status
            self._record(issue, actor, items, when)

    def assign(self, key: str, actor: str, assignee: str | None,
               at: datetime | None = None) -> None:
        """Set (accountId) or clear (None) the assignee; no history if unchanged."""
        with self._lock:
            issue = self._need_issue(key)
            when = self._when(at)
            if assignee is not None and assignee not in self._users:
                self.add_user(assignee)
            items = [] if assignee == issue.assignee else [self._assignee_item(issue, assignee)]
            issue.assignee = assignee
            self._record(issue, actor, items, when)

    def comment(self, key: str, actor: str, body: str, at: datetime | None = None) -> dict:
        """Add a comment (wiki text) by ``actor``; return its stored record ``{id (int),
        issue (key), author, body, created, updated}`` (the state's own dict: read it only)."""
        with self._lock:
            issue = self._need_issue(key)
            when = self._when(at)
            cid = next(self._comment_ids)
            self._comments[cid] = {"id": cid, "issue": issue.key, "author": actor,
                                   "body": body, "created": when, "updated": when}
            issue.comment_ids.append(cid)
            issue.updated = when
            return self._comments[cid]

    def _link_type(self, link_type: str) -> tuple[tuple[str, str, str, str], bool]:
        """Return (type row, reversed): reversed means ``key`` is the inward-phrase side."""
        for row in LINK_TYPES:
            if link_type in (row[1], row[3]) or link_type.lower() == row[1].lower():
                return row, False
            if link_type == row[2]:
                return row, True
        raise JiraError(404, f"No issue link type with name '{link_type}' found.")

    def link(self, key: str, actor: str, link_type: str, other_key: str,
             at: datetime | None = None) -> dict:
        """Link two issues, read as a sentence: ``link("WEB-1", a, "is blocked by", "WEB-2")``.

        ``link_type``: a type name (``"Blocks"``: key blocks other), its outward phrase
        (``"blocks"``) or its inward phrase (``"is blocked by"``). Records a ``Link`` history
        on both issues. Returns ``{id, type, inward, outward}`` where ``inward`` is the
        issue that does the outward verb (Jira's ``inwardIssue`` in POST issueLink).
        """
        row, rev = self._link_type(link_type)
        inward, outward = (other_key, key) if rev else (key, other_key)
        return self._create_link(row, inward, outward, actor, self._when(at))

    def _create_link(self, row: tuple, inward: str, outward: str, actor: str,
                     when: datetime) -> dict:
        with self._lock:
            a, b = self._need_issue(inward), self._need_issue(outward)
            lid = next(self._link_ids)
            link = {"id": lid, "type": row[1], "inward": a.key, "outward": b.key}
            self._links[lid] = link
            a.link_ids.append(lid)
            b.link_ids.append(lid)
            # a <outward verb> b; b <inward verb> a
            self._record(a, actor, [{"field": "Link", "fieldtype": "jira", "from": None,
                                     "fromString": None, "to": b.key,
                                     "toString": f"This issue {row[3]} {b.key}"}], when)
            self._record(b, actor, [{"field": "Link", "fieldtype": "jira", "from": None,
                                     "fromString": None, "to": a.key,
                                     "toString": f"This issue {row[2]} {a.key}"}], when)
            return dict(link)

    def unlink(self, key: str, actor: str, link_type: str, other_key: str,
               at: datetime | None = None) -> dict:
        """Remove the link read as ``key <link_type> other_key`` (same phrases as :meth:`link`),
        as ``DELETE /issueLink/{id}`` does: a ``Link`` history on both issues with ``from`` =
        the other key, ``fromString`` the old sentence, ``to``/``toString`` null. Returns the
        removed ``{id, type, inward, outward}``.

        Raises:
            JiraError: 404 when no such link stands.
        """
        row, rev = self._link_type(link_type)
        inward, outward = (other_key, key) if rev else (key, other_key)
        with self._lock:
            self._need_issue(key)
            self._need_issue(other_key)
            lid = next((i for i, ln in self._links.items()
                        if ln["type"] == row[1] and ln["inward"] == inward and ln["outward"] == outward), None)
            if lid is None:
                raise JiraError(404, f"No link '{key} {link_type} {other_key}' found.")
            return self._delete_link(lid, actor, self._when(at))

    def _delete_link(self, lid: int, actor: str, when: datetime) -> dict:
        with self._lock:
            link = self._links.pop(lid)
            row = next(r for r in LINK_TYPES if r[1] == link["type"])
            a, b = self._issues[link["inward"]], self._issues[link["outward"]]
            for issue in (a, b):
                if lid in issue.link_ids:
                    issue.link_ids.remove(lid)
            self._record(a, actor, [{"field": "Link", "fieldtype": "jira", "from": b.key,
                                     "fromString": f"This issue {row[3]} {b.key}", "to": None,
                                     "toString": None}], when)
            self._record(b, actor, [{"field": "Link", "fieldtype": "jira", "from": a.key,
                                     "fromString": f"This issue {row[2]} {a.key}", "to": None,
                                     "toString": None}], when)
            return dict(link)

    def edit(self, key: str, actor: str, summary: str | None = None,
             description: str | None = None, at: datetime | None = None) -> None:
        """Change the summary and/or description (wiki text; ``""`` clears it) in ONE history,
        as Jira's edit screen does: items ``summary``/``description`` with ``from``/``to``
        null and ``fromString``/``toString`` the old and new text. Unchanged fields record
        nothing; ``updated`` moves either way."""
        with self._lock:
            issue = self._need_issue(key)
            self._edit(issue, actor, summary, description, self._when(at))

    def _edit(self, issue: Issue, actor: str, summary: str | None, description: str | None,
              when: datetime) -> None:
        items = []
        if summary is not None and summary != issue.summary:
            items.append({"field": "summary", "fieldtype": "jira", "fieldId": "summary",
                          "from": None, "fromString": issue.summary, "to": None,
                          "toString": summary})
            issue.summary = summary
        if description is not None and (description or None) != issue.description:
            items.append({"field": "description", "fieldtype": "jira", "fieldId": "description",
                          "from": None, "fromString": issue.description, "to": None,
                          "toString": description or None})
            issue.description = description or None
        self._record(issue, actor, items, when)

    def add_label(self, key: str, actor: str, label: str, at: datetime | None = None) -> None:
        """Add ``label`` (no history if already present)."""
        with self._lock:
            issue = self._need_issue(key)
            self._set_labels(issue, actor, issue.labels + [label], self._when(at))

    def remove_label(self, key: str, actor: str, label: str,
                     at: datetime | None = None) -> None:
        """Remove ``label`` (no history if absent)."""
        with self._lock:
            issue = self._need_issue(key)
            self._set_labels(issue, actor, [x for x in issue.labels if x != label],
                             self._when(at))

    def _set_labels(self, issue: Issue, actor: str, labels: list[str], when: datetime) -> None:
        new = list(dict.fromkeys(labels))
        items = []
        if sorted(new) != sorted(issue.labels):
            items.append({"field": "labels", "fieldtype": "jira", "fieldId": "labels",
                          "from": None, "fromString": " ".join(issue.labels) or None,
                          "to": None, "toString": " ".join(new) or None})
        issue.labels = new
        self._record(issue, actor, items, when)

    def set_flagged(self, key: str, actor: str, flagged: bool, at: datetime | None = None) -> None:
        """Flag (``flagged``) or clear the flag of an issue, as Jira Software's "Add flag" does
        (no history when nothing changes)."""
        with self._lock:
            self._set_flagged(self._need_issue(key), actor, flagged, self._when(at))

    def _set_flagged(self, issue: Issue, actor: str, flagged: bool, when: datetime) -> None:
        items = []
        if flagged != issue.flagged:
            on = (f"[{FLAG_OPTION_ID}]", FLAG_OPTION)
            off = (None, None)
            (frm, frm_s), (to, to_s) = (off, on) if flagged else (on, off)
            items.append({"field": "Flagged", "fieldtype": "custom", "fieldId": FLAGGED_FIELD,
                          "from": frm, "fromString": frm_s, "to": to, "toString": to_s})
        issue.flagged = flagged
        self._record(issue, actor, items, when)

    def set_duedate(self, key: str, actor: str, duedate: str | None,
                    at: datetime | None = None) -> None:
        """Set (``yyyy-MM-dd``) or clear the due date."""
        with self._lock:
            issue = self._need_issue(key)
            self._set_duedate(issue, actor, duedate, self._when(at))

    def _set_duedate(self, issue: Issue, actor: str, duedate: str | None,
                     when: datetime) -> None:
        if duedate is not None:
            date.fromisoformat(duedate)
        items = []
        if duedate != issue.duedate:
            items.append({"field": "duedate", "fieldtype": "jira", "fieldId": "duedate",
                          "from": issue.duedate,
                          "fromString": f"{issue.duedate} 00:00:00.0" if issue.duedate else None,
                          "to": duedate,
                          "toString": f"{duedate} 00:00:00.0" if duedate else None})
        issue.duedate = duedate
        self._record(issue, actor, items, when)

    def resolve(self, key: str, actor: str, resolution: str = "Done", at: datetime | None = None,
                status: str = "Done") -> None:
        """Move to ``status`` (a done-category status) and set ``resolution``, in one history."""
        with self._lock:
            issue = self._need_issue(key)
            when = self._when(at)
            items = [self._status_item(issue, status), self._resolution_item(issue, resolution)]
            issue.status, issue.resolution, issue.resolutiondate = status, resolution, when
            self._record(issue, actor, items, when)

    def reopen(self, key: str, actor: str, status: str = "To Do",
               at: datetime | None = None) -> None:
        """Move back to ``status`` and clear the resolution, in one history."""
        self.transition(key, actor, status, at=at)

    def add_remote_link(self, key: str, actor: str, url: str, title: str,
                        at: datetime | None = None, global_id: str | None = None,
                        relationship: str | None = None) -> dict:
        """Add a web link (``RemoteIssueLink``); records a ``RemoteIssueLink`` history item.
        Same ``global_id`` as an existing link updates it instead (no new history)."""
        with self._lock:
            issue = self._need_issue(key)
            return self._add_remote(issue, actor, {"url": url, "title": title}, global_id,
                                    None, relationship, self._when(at))[0]

    def _add_remote(self, issue: Issue, actor: str, obj: dict, global_id: str | None,
                    application: dict | None, relationship: str | None,
                    when: datetime) -> tuple[dict, bool]:
        for rl in issue.remote_links:
            if global_id is not None and rl.get("globalId") == global_id:
                rl.update({"object": obj, "application": application or {},
                           "relationship": relationship})
                issue.updated = when
                return rl, False
        rl = {"id": next(self._remote_ids), "globalId": global_id, "object": dict(obj),
              "application": application or {}, "relationship": relationship}
        issue.remote_links.append(rl)
        self._record(issue, actor, [{"field": "RemoteIssueLink", "fieldtype": "jira",
                                     "from": None, "fromString": None, "to": str(rl["id"]),
                                     "toString": f'This issue links to "{obj.get("title")}"'}],
                     when)
        return rl, True

    def bulk_create(self, project: str, n: int, actor: str, histories_per_issue: int = 0,
                    start: datetime | None = None, step: timedelta = timedelta(minutes=1),
                    assignee: str | None = None) -> list[str]:
        """Create ``n`` issues quickly (no HTTP, no per-issue validation) for benchmarks.

        Issue ``i`` is created at ``start + i*step`` (default start: now − n·step) and gets
        ``histories_per_issue`` status histories cycling To Do → In Progress → In Review →
        To Do ..., one second apart. Returns the keys in creation order.
        """
        cycle = ["In Progress", "In Review", "To Do"]
        with self._lock:
            self.create_project(project)
            for a in (actor, assignee):
                if a is not None and a not in self._users:
                    self.add_user(a)
            start = _utc(start) if start else self._when(None) - step * n
            proj = self._projects[project]
            st = self._statuses
            keys = []
            for i in range(n):
                when = start + step * i
                iid = next(self._ids)
                key = f"{project}-{proj['next']}"
                proj["next"] += 1
                issue = Issue(iid, key, project, f"Benchmark issue {i + 1}", None, "To Do",
                               actor, when, when, assignee=assignee)
                status = "To Do"
                for h in range(histories_per_issue):
                    new = cycle[h % 3]
                    hw = when + timedelta(seconds=h + 1)
                    issue.histories.append({
                        "id": str(next(self._history_ids)), "author": actor, "created": hw,
                        "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                                   "from": st[status]["id"], "fromString": status,
                                   "to": st[new]["id"], "toString": new}]})
                    status = new
                    issue.updated = hw
                issue.status = status
                self._issues[key] = issue
                self._issue_by_id[iid] = key
                keys.append(key)
            return keys

    # ------------------------------------------------------------------ driver: reads
    def comments(self, key: str) -> list[dict]:
        """The issue's comments, oldest first, as ``{id, author, body, created}`` (body
        is wiki text, created an aware UTC datetime)."""
        with self._lock:
            issue = self._need_issue(key)
            return [{"id": str(c["id"]), "author": c["author"], "body": c["body"],
                     "created": c["created"]}
                    for c in (self._comments[i] for i in issue.comment_ids)]

    def issue_keys(self, project: str) -> list[str]:
        """Keys of the project's issues in creation order."""
        with self._lock:
            return [k for k, i in self._issues.items() if i.project == project]

    def links(self, key: str) -> list[tuple[str, str]]:
        """The issue's links read as sentences: ``[("is blocked by", "WEB-2"), ...]``."""
        with self._lock:
            issue = self._need_issue(key)
            out = []
            for lid in issue.link_ids:
                ln = self._links[lid]
                row = next(r for r in LINK_TYPES if r[1] == ln["type"])
                if ln["inward"] == key:
                    out.append((row[3], ln["outward"]))
                else:
                    out.append((row[2], ln["inward"]))
            return out

    def remote_links(self, key: str) -> list[dict]:
        """The issue's remote links as ``{id, globalId, object{url, title}, ...}``."""
        with self._lock:
            return copy.deepcopy(self._need_issue(key).remote_links)
