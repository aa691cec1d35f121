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
wiki-markup strings instead of Atlassian Document Format). Section names in docstrings
refer to its ``components/schemas``. Every ``self`` link is rendered with the emulator's
own ``scheme://host:port`` taken from the request.

Timestamps are served in Jira's format ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (e.g.
``2024-03-01T10:00:00.000+0100``) in the **time zone of the authenticated user**
(``add_user(time_zone=)``), as Jira renders them; JQL date literals are read in that same
zone. Internally every instant is an aware UTC datetime.

Served by Flask through ``werkzeug.serving.make_server`` on a daemon thread, like
``connectors.sandbox.github.emulator``, whose :class:`Faults` table it reuses.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from connectors.sandbox.emulation import Fault, Faults, LoopbackServer, lost_response_middleware

JSON_TYPE = "application/json;charset=UTF-8"
UNCHANGED: Any = object()  # sentinel: "leave the assignee as it is"
CLOUD_EMBEDDED_CHANGELOG_LIMIT = 40
ISSUE_EMBEDDED_CHANGELOG_LIMIT = 100
RATE_LIMIT = 350  # shown in X-RateLimit-Limit on injected 429s
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
SYSTEM_FIELDS = [  # (id, name, schema type, items, navigable)
    ("summary", "Summary", "string", None, True),
    ("status", "Status", "status", None, True),
    ("assignee", "Assignee", "user", None, True),
    ("reporter", "Reporter", "user", None, True),
    ("creator", "Creator", "user", None, True),
    ("labels", "Labels", "array", "string", True),
    ("issuelinks", "Linked Issues", "array", "issuelinks", True),
    ("resolution", "Resolution", "resolution", None, True),
    ("resolutiondate", "Resolved", "datetime", None, True),
    ("duedate", "Due date", "date", None, True),
    ("created", "Created", "datetime", None, True),
    ("updated", "Updated", "datetime", None, True),
    ("description", "Description", "string", None, True),
    ("project", "Project", "project", None, True),
    ("issuetype", "Issue Type", "issuetype", None, True),
    ("comment", "Comment", "comments-page", None, False),
]
_FIELD_IDS = [f[0] for f in SYSTEM_FIELDS]
_AVATAR = "https://secure.gravatar.com/avatar/{}?d=identicon&s={}"
_MENTION = re.compile(r"\[~accountid:([^\]\s]+)\]")
_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_AUTH_MSG = "Client must be authenticated to access this resource."


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


# ---------------------------------------------------------------------- helpers
def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def jira_ts(value: datetime, tz: str = "UTC") -> str:
    """Format an aware datetime as Jira does, in zone ``tz``: ``2024-03-01T10:00:00.000+0100``."""
    local = value.astimezone(ZoneInfo(tz))
    return (local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
            + local.strftime("%z"))


def parse_jira_ts(value: str) -> datetime:
    """Parse Jira's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (or ISO 8601) into an aware UTC datetime."""
    v = value.strip().replace("Z", "+00:00")
    m = re.match(r"^(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)$", v)
    if m:
        v = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    return datetime.fromisoformat(v).astimezone(timezone.utc)


def text_to_adf(text: str | None) -> dict | None:
    """Build a minimal ADF ``doc`` (version 1) from wiki text: paragraphs split on blank lines,
    single newlines as ``hardBreak``, ``[~accountid:ID]`` as ``mention`` nodes."""
    if text is None:
        return None
    paragraphs = []
    for para in re.split(r"\n\s*\n", text):
        content: list[dict] = []
        for i, line in enumerate(para.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            pos = 0
            for m in _MENTION.finditer(line):
                if m.start() > pos:
                    content.append({"type": "text", "text": line[pos:m.start()]})
                content.append({"type": "mention", "attrs": {"id": m.group(1)}})
                pos = m.end()
            if pos < len(line):
                content.append({"type": "text", "text": line[pos:]})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_to_text(node: Any) -> str:
    """Flatten an ADF document (or a plain string) into wiki text (inverse of :func:`text_to_adf`)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(n) for n in node)
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return f"[~accountid:{node.get('attrs', {}).get('id', '')}]"
    inner = adf_to_text(node.get("content", []))
    if kind == "doc":
        return "\n\n".join(adf_to_text(c) for c in node.get("content", []))
    return inner


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _untoken(tok: str) -> int:
    try:
        pad = "=" * (-len(tok) % 4)
        return int(json.loads(base64.urlsafe_b64decode(tok + pad))["o"])
    except (ValueError, KeyError, TypeError):
        raise JiraError(400, f"Invalid nextPageToken: '{tok}'") from None


# ---------------------------------------------------------------------- JQL
_JQL_HELP = ('supported: project = KEY, project in (A, B), key = X, '
             'updated >=|>|<=|< "yyyy-MM-dd[ HH:mm]", AND, '
             'ORDER BY updated|created|key [ASC|DESC]')
_TOKEN_RE = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|'
                       r'(?P<op>>=|<=|!=|=|>|<|\(|\)|,)|(?P<word>[^\s=<>!(),"\']+))')


@dataclass
class Jql:
    """A parsed JQL query of the emulator's subset.

    ``clauses``: list of ``(field, op, value)`` ANDed together, where field is
    ``project`` (op ``=``/``in``, value a key or list of keys), ``key`` (op ``=``) or
    ``updated``/``created`` (op ``>=``, ``>``, ``<=``, ``<``, value an aware UTC datetime).
    ``order``: list of ``(field, descending)``.
    """

    clauses: list[tuple[str, str, Any]]
    order: list[tuple[str, bool]]


def parse_jql(jql: str, tz: str = "UTC") -> Jql:
    """Parse ``jql``; date literals are minutes in zone ``tz``.

    Raises:
        JiraError: 400 naming the unsupported or malformed part.
    """
    toks: list[tuple[str, str]] = []
    pos, text = 0, jql or ""
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise JiraError(400, f"Error in the JQL Query: the character at position {pos} "
                                 f"is not expected ({_JQL_HELP}).")
        kind = m.lastgroup or "word"
        val = m.group(kind)
        if kind == "str":
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        toks.append((kind, val))
        pos = m.end()
    i = 0

    def peek(k: int = 0) -> tuple[str, str] | None:
        return toks[i + k] if i + k < len(toks) else None

    def unsupported(start: int, end: int | None = None) -> JiraError:
        part = " ".join(t[1] if t[0] != "str" else f'"{t[1]}"' for t in toks[start:end])
        return JiraError(400, f"The emulator does not support this JQL: '{part}' ({_JQL_HELP}).")

    clauses: list[tuple[str, str, Any]] = []
    order: list[tuple[str, bool]] = []
    while i < len(toks):
        t = peek()
        assert t is not None
        if t[0] == "word" and t[1].lower() == "order" and (peek(1) or ("", ""))[1].lower() == "by":
            i += 2
            while i < len(toks):
                start = i
                f = toks[i][1].lower()
                if f == "issuekey":
                    f = "key"
                if toks[i][0] != "word" or f not in ("updated", "created", "key"):
                    raise unsupported(start, start + 1)
                i += 1
                desc = False
                if peek() and peek()[1].lower() in ("asc", "desc"):  # type: ignore[index]
                    desc = toks[i][1].lower() == "desc"
                    i += 1
                order.append((f, desc))
                if peek() and peek()[1] == ",":  # type: ignore[index]
                    i += 1
                    continue
                if i < len(toks):
                    raise unsupported(i)
            break
        if clauses:
            if t[0] == "word" and t[1].lower() == "and":
                i += 1
            else:
                raise unsupported(i, i + 1)
        start = i
        f, op = peek(), peek(1)
        if f is None or op is None or f[0] == "op":
            raise JiraError(400, f"Error in the JQL Query: Expecting a field name at the end "
                                 f"of the query ({_JQL_HELP}).")
        name = f[1].lower()
        name = "key" if name == "issuekey" else name
        i += 2
        if name == "project" and op[1] == "=" and peek():
            clauses.append(("project", "in", [toks[i][1]]))
            i += 1
        elif name == "project" and op[1].lower() == "in" and peek() and peek()[1] == "(":  # type: ignore[index]
            i += 1
            keys = []
            while peek() and peek()[1] != ")":  # type: ignore[index]
                if toks[i][1] != ",":
                    keys.append(toks[i][1])
                i += 1
            if not peek():
                raise JiraError(400, "Error in the JQL Query: Expecting ')' before the end "
                                     "of the query.")
            i += 1
            clauses.append(("project", "in", keys))
        elif name == "key" and op[1] == "=" and peek():
            clauses.append(("key", "=", toks[i][1]))
            i += 1
        elif name in ("updated", "created") and op[1] in (">=", ">", "<=", "<") and peek():
            lit = toks[i][1]
            m = re.fullmatch(r"(\d{4})[-/](\d{2})[-/](\d{2})(?:\s+(\d{1,2}):(\d{2}))?", lit)
            if not m:
                raise JiraError(400, f"Date value '{lit}' for field '{name}' is invalid. Valid "
                                     "formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
                                     "'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. "
                                     "'-5d', '4w 2d'.")
            y, mo, d, hh, mm = (int(x) if x else 0 for x in m.groups())
            local = datetime(y, mo, d, hh, mm, tzinfo=ZoneInfo(tz))
            clauses.append((name, op[1], local.astimezone(timezone.utc)))
            i += 1
        else:
            raise unsupported(start, min(start + 3, len(toks)))
    return Jql(clauses, order)


# ---------------------------------------------------------------------- state
@dataclass
class _Issue:
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


class JiraEmulator(LoopbackServer):
    """An in-memory Jira (Cloud or Data Center) served on loopback.

    Drive it through HTTP (the official ``jira`` client) or through the driver methods
    below, which write the same state and changelog histories the HTTP endpoints do.
    ``at=None`` means now, from ``clock``; ``actor``/``assignee`` are accountIds (on Data
    Center the accountId doubles as the username ``name`` and user ``key``).

    Changelog rules (as Jira records them, ``Changelog``/``ChangeDetails`` schemas): one
    history per write, holding items ``{field, fieldtype: "jira", fieldId, from,
    fromString, to, toString}``; ``status`` (from/to status ids, strings names),
    ``assignee`` (from/to accountIds, strings display names), ``labels`` (from/to null,
    strings space-separated), ``resolution`` (ids and names), ``duedate``, ``summary`` and
    ``description`` (from/to null, strings the old and new text), ``Link`` (no fieldId; to =
    other key, toString ``"This issue is blocked by WEB-2"``, recorded on both issues; a
    removal has from/fromString instead) and ``RemoteIssueLink``. Creating an issue and
    commenting record no history. Every write sets ``updated``.

    User objects (``User`` schema) carry ``emailAddress`` when the user record has an
    e-mail (``add_user(email=)``), as Jira Cloud does for users whose privacy settings
    show it; without one the key is absent, as for hidden e-mails.
    """

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
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.deployment = deployment
        self.cloud = deployment == "cloud"
        if embedded_changelog_limit is UNCHANGED:
            embedded_changelog_limit = CLOUD_EMBEDDED_CHANGELOG_LIMIT if self.cloud else None
        self.embedded_changelog_limit = embedded_changelog_limit
        self.site_time_zone = site_time_zone
        self.faults = Faults()
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(10000)
        self._history_ids = itertools.count(10000)
        self._comment_ids = itertools.count(10000)
        self._link_ids = itertools.count(10000)
        self._remote_ids = itertools.count(10000)
        self._users: dict[str, dict] = {}
        self._tokens: dict[str, str] = {}
        self._projects: dict[str, dict] = {}
        self._issues: dict[str, _Issue] = {}
        self._issue_by_id: dict[int, str] = {}
        self._comments: dict[int, dict] = {}
        self._links: dict[int, dict] = {}
        self._statuses: dict[str, dict] = {}
        self._resolutions: dict[str, str] = {}
        for name, cat in DEFAULT_STATUSES:
            self.add_status(name, cat)
        for n, name in enumerate(RESOLUTIONS):
            self._resolutions[name] = str(10000 + n)
        self._server = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.app = self._build_app()

    THREAD_NAME = "jira-emulator"

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

    def add_token(self, token: str, account_id: str, email: str | None = None) -> None:
        """Accept ``token`` for ``account_id``: on Cloud as Basic ``email:token`` (``email``
        defaults to the user's e-mail, and is set on the user if given), on Data Center as
        ``Authorization: Bearer <token>`` (a personal access token)."""
        with self._lock:
            if account_id not in self._users:
                self.add_user(account_id, email=email)
            elif email is not None:
                self._users[account_id]["email"] = email
            self._tokens[token] = account_id

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

    def _need_issue(self, key: str) -> _Issue:
        issue = self._issues.get(key)
        if issue is None and key.isdigit():
            issue = self._issues.get(self._issue_by_id.get(int(key), ""))
        if issue is None:
            raise JiraError(404, _NOT_FOUND)
        return issue

    def _need_user(self, account_id: str) -> None:
        if account_id not in self._users:
            raise JiraError(400, errors={"assignee": f"User '{account_id}' does not exist."})

    def _record(self, issue: _Issue, actor: str, items: list[dict], at: datetime) -> None:
        if items:
            issue.histories.append({"id": str(next(self._history_ids)), "author": actor,
                                    "created": at, "items": items})
        issue.updated = at

    def _user_ref(self, account_id: str | None) -> str | None:
        return account_id

    def _assignee_item(self, issue: _Issue, new: str | None) -> dict:
        def name(a: str | None) -> str | None:
            return self._users[a]["displayName"] if a in self._users else a

        return {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                "from": self._user_ref(issue.assignee), "fromString": name(issue.assignee),
                "to": self._user_ref(new), "toString": name(new)}

    def _status_item(self, issue: _Issue, new: str) -> dict:
        if new not in self._statuses:
            raise ValueError(f"unknown status {new!r}; add it with add_status()")
        old = self._statuses[issue.status]
        return {"field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": old["id"], "fromString": old["name"],
                "to": self._statuses[new]["id"], "toString": new}

    def _resolution_item(self, issue: _Issue, new: str | None) -> dict:
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
            issue = _Issue(iid, key, project, summary, description or None, status, actor,
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
        """Add a comment (wiki text) by ``actor``; return its v2 ``Comment`` JSON
        (canonical host ``https://emulator.atlassian.net``, UTC timestamps)."""
        with self._lock:
            issue = self._need_issue(key)
            when = self._when(at)
            cid = next(self._comment_ids)
            self._comments[cid] = {"id": cid, "issue": issue.key, "author": actor,
                                   "body": body, "created": when, "updated": when}
            issue.comment_ids.append(cid)
            issue.updated = when
            return self._comment_json(self._comments[cid], "2", "https://emulator.atlassian.net",
                                      "UTC")

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

    def _edit(self, issue: _Issue, actor: str, summary: str | None, description: str | None,
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

    def _set_labels(self, issue: _Issue, actor: str, labels: list[str], when: datetime) -> None:
        new = list(dict.fromkeys(labels))
        items = []
        if sorted(new) != sorted(issue.labels):
            items.append({"field": "labels", "fieldtype": "jira", "fieldId": "labels",
                          "from": None, "fromString": " ".join(issue.labels) or None,
                          "to": None, "toString": " ".join(new) or None})
        issue.labels = new
        self._record(issue, actor, items, when)

    def set_duedate(self, key: str, actor: str, duedate: str | None,
                    at: datetime | None = None) -> None:
        """Set (``yyyy-MM-dd``) or clear the due date."""
        with self._lock:
            issue = self._need_issue(key)
            self._set_duedate(issue, actor, duedate, self._when(at))

    def _set_duedate(self, issue: _Issue, actor: str, duedate: str | None,
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

    def _add_remote(self, issue: _Issue, actor: str, obj: dict, global_id: str | None,
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
                issue = _Issue(iid, key, project, f"Benchmark issue {i + 1}", None, "To Do",
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
    def issue(self, key: str) -> dict:
        """The issue as v2 ``IssueBean`` JSON with all fields and the full changelog
        (canonical host ``https://emulator.atlassian.net``, timestamps in UTC)."""
        with self._lock:
            issue = self._need_issue(key)
            return self._issue_json(issue, "2", "https://emulator.atlassian.net", "UTC",
                                    None, changelog_limit=None)

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

    # ------------------------------------------------------------------ rendering
    def _root(self) -> str:
        return f"{request.scheme}://{request.host}"

    def _tz(self) -> str:
        aid = g.get("account")
        return self._users[aid]["timeZone"] if aid in self._users else self.site_time_zone

    def _user_json(self, aid: str | None, ver: str, root: str, full: bool = False) -> dict | None:
        if aid is None:
            return None
        u = self._users.get(aid) or {"accountId": aid, "displayName": aid, "email": None,
                                     "timeZone": "UTC"}
        av = {f"{s}x{s}": _AVATAR.format(aid, s) for s in (48, 24, 16, 32)}
        if self.cloud:
            out: dict[str, Any] = {"self": f"{root}/rest/api/{ver}/user?accountId={aid}",
                                   "accountId": aid}
        else:
            out = {"self": f"{root}/rest/api/{ver}/user?username={aid}", "name": aid,
                   "key": aid, "accountId": aid}
        if u.get("email"):
            out["emailAddress"] = u["email"]
        out.update({"avatarUrls": av, "displayName": u["displayName"], "active": True,
                    "timeZone": u["timeZone"]})
        if self.cloud:
            out["accountType"] = "atlassian"
        if full:
            out["locale"] = "en_US"
            out["groups"] = {"size": 1, "items": []}
            out["applicationRoles"] = {"size": 1, "items": []}
            out["expand"] = "groups,applicationRoles"
        return out

    def _status_json(self, name: str, ver: str, root: str) -> dict:
        st = self._statuses[name]
        cid, cname, color = STATUS_CATEGORIES[st["category"]]
        return {"self": f"{root}/rest/api/{ver}/status/{st['id']}", "description": "",
                "iconUrl": f"{root}/images/icons/statuses/generic.png", "name": name,
                "id": st["id"],
                "statusCategory": {"self": f"{root}/rest/api/{ver}/statuscategory/{cid}",
                                   "id": cid, "key": st["category"], "colorName": color,
                                   "name": cname}}

    def _link_type_json(self, row: tuple, ver: str, root: str) -> dict:
        return {"id": row[0], "name": row[1], "inward": row[2], "outward": row[3],
                "self": f"{root}/rest/api/{ver}/issueLinkType/{row[0]}"}

    def _issue_ref(self, key: str, ver: str, root: str) -> dict:
        other = self._issues[key]
        return {"id": str(other.id), "key": key,
                "self": f"{root}/rest/api/{ver}/issue/{other.id}",
                "fields": {"summary": other.summary,
                           "status": self._status_json(other.status, ver, root),
                           "issuetype": self._issuetype_json(other.issuetype, ver, root)}}

    def _issuetype_json(self, name: str, ver: str, root: str) -> dict:
        return {"self": f"{root}/rest/api/{ver}/issuetype/10001", "id": "10001",
                "description": "A small, distinct piece of work.",
                "iconUrl": f"{root}/images/icons/issuetypes/task.svg", "name": name,
                "subtask": False, "hierarchyLevel": 0}

    def _history_json(self, h: dict, ver: str, root: str, tz: str) -> dict:
        return {"id": h["id"], "author": self._user_json(h["author"], ver, root),
                "created": jira_ts(h["created"], tz), "items": copy.deepcopy(h["items"])}

    def _comment_json(self, c: dict, ver: str, root: str, tz: str) -> dict:
        issue = self._issues[c["issue"]]
        author = self._user_json(c["author"], ver, root)
        return {"self": f"{root}/rest/api/{ver}/issue/{issue.id}/comment/{c['id']}",
                "id": str(c["id"]), "author": author,
                "body": text_to_adf(c["body"]) if ver == "3" else c["body"],
                "updateAuthor": author, "created": jira_ts(c["created"], tz),
                "updated": jira_ts(c["updated"], tz), "jsdPublic": True}

    def _field_values(self, issue: _Issue, ver: str, root: str, tz: str) -> dict:
        proj = self._projects[issue.project]
        links = []
        for lid in issue.link_ids:
            ln = self._links[lid]
            row = next(r for r in LINK_TYPES if r[1] == ln["type"])
            entry: dict[str, Any] = {"id": str(lid), "self": f"{root}/rest/api/{ver}/issueLink/{lid}",
                                     "type": self._link_type_json(row, ver, root)}
            if ln["inward"] == issue.key:  # this issue does the outward verb
                entry["outwardIssue"] = self._issue_ref(ln["outward"], ver, root)
            else:
                entry["inwardIssue"] = self._issue_ref(ln["inward"], ver, root)
            links.append(entry)
        comments = [self._comment_json(self._comments[i], ver, root, tz)
                    for i in issue.comment_ids]
        res = None
        if issue.resolution:
            rid = self._resolutions[issue.resolution]
            res = {"self": f"{root}/rest/api/{ver}/resolution/{rid}", "id": rid,
                   "description": "", "name": issue.resolution}
        return {
            "summary": issue.summary,
            "status": self._status_json(issue.status, ver, root),
            "assignee": self._user_json(issue.assignee, ver, root),
            "reporter": self._user_json(issue.reporter, ver, root),
            "creator": self._user_json(issue.reporter, ver, root),
            "labels": list(issue.labels),
            "issuelinks": links,
            "resolution": res,
            "resolutiondate": jira_ts(issue.resolutiondate, tz) if issue.resolutiondate else None,
            "duedate": issue.duedate,
            "created": jira_ts(issue.created, tz),
            "updated": jira_ts(issue.updated, tz),
            "description": text_to_adf(issue.description) if ver == "3" else issue.description,
            "project": {"self": f"{root}/rest/api/{ver}/project/{proj['id']}", "id": proj["id"],
                        "key": proj["key"], "name": proj["name"],
                        "projectTypeKey": "software", "simplified": False,
                        "avatarUrls": {f"{s}x{s}": f"{root}/secure/projectavatar?size={s}"
                                       for s in (48, 24, 16, 32)}},
            "issuetype": self._issuetype_json(issue.issuetype, ver, root),
            "comment": {"comments": comments,
                        "self": f"{root}/rest/api/{ver}/issue/{issue.id}/comment",
                        "maxResults": len(comments), "total": len(comments), "startAt": 0},
        }

    def _issue_json(self, issue: _Issue, ver: str, root: str, tz: str,
                    fields: list[str] | None, changelog_limit: int | None = -1) -> dict:
        """``IssueBean``. ``fields``: None = all, ``["id"]`` = id only, ``[]`` = no
        ``fields`` object; ``changelog_limit``: -1 = no changelog, None = every history,
        n = the n most recent. Embedded histories are newest first."""
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                      "versionedRepresentations",
            "id": str(issue.id), "self": f"{root}/rest/api/{ver}/issue/{issue.id}",
            "key": issue.key}
        if fields == ["id"]:
            out = {"id": str(issue.id)}
        elif fields is None or fields:
            values = self._field_values(issue, ver, root, tz)
            out["fields"] = values if fields is None else {f: values[f] for f in fields
                                                          if f in values}
        if changelog_limit != -1:
            total = len(issue.histories)
            limit = total if changelog_limit is None else min(changelog_limit, total)
            chosen = issue.histories[total - limit:][::-1] if limit else []
            out["changelog"] = {"startAt": 0, "maxResults": limit, "total": total,
                                "histories": [self._history_json(h, ver, root, tz)
                                              for h in chosen]}
        return out

    # ------------------------------------------------------------------ search
    def _select_fields(self, raw: list[str] | None, default: list[str] | None) -> list[str] | None:
        """Resolve a ``fields`` request list into field ids (None = all)."""
        names: list[str] = []
        for part in raw or []:
            names.extend(x.strip() for x in str(part).split(",") if x.strip())
        if not names:
            return default
        include: list[str] = []
        exclude = {n[1:] for n in names if n.startswith("-")}
        for n in names:
            if n.startswith("-"):
                continue
            if n == "*all":
                include.extend(_FIELD_IDS)
            elif n == "*navigable":
                include.extend(f[0] for f in SYSTEM_FIELDS if f[4])
            elif n == "id" and len(names) == 1:
                return ["id"]
            elif n in _FIELD_IDS:
                include.append(n)
        if not include and exclude:
            include = [f[0] for f in SYSTEM_FIELDS if f[4]]
        return [f for f in dict.fromkeys(include) if f not in exclude]

    def _search(self, jql: str) -> list[_Issue]:
        q = parse_jql(jql, self._tz())
        issues = list(self._issues.values())
        for fld, op, val in q.clauses:
            if fld == "project":
                for k in val:
                    if k not in self._projects:
                        raise JiraError(400, f"The value '{k}' does not exist for the field "
                                             "'project'.")
                keys = set(val)
                issues = [i for i in issues if i.project in keys]
            elif fld == "key":
                if val not in self._issues:
                    raise JiraError(400, f"An issue with key '{val}' does not exist for field "
                                         "'key'.")
                issues = [i for i in issues if i.key == val]
            else:
                cmp = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b,
                       "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}[op]
                issues = [i for i in issues if cmp(getattr(i, fld), val)]
        order = q.order or [("key", True)]
        for fld, desc in reversed(order):
            keyf: Callable[[_Issue], Any]
            if fld == "key":
                keyf = lambda i: (i.project, int(i.key.rsplit("-", 1)[1]))  # noqa: E731
            else:
                keyf = lambda i, f=fld: getattr(i, f)  # type: ignore[misc] # noqa: E731
            issues.sort(key=keyf, reverse=desc)
        return issues

    def _search_params(self) -> dict:
        """Merge query args and a JSON body into one dict (lists kept for ``fields``)."""
        if request.method == "POST":
            data = self._json_body()
            if not isinstance(data, dict):
                raise JiraError(400, "Request body must be a JSON object.")
            out = {k: v for k, v in data.items() if v is not None}
            if isinstance(out.get("fields"), str):
                out["fields"] = [out["fields"]]
            if isinstance(out.get("expand"), list):
                out["expand"] = ",".join(out["expand"])
            return out
        a = request.args
        out = {k: a.get(k) for k in a if k != "fields"}
        if "fields" in a:
            out["fields"] = a.getlist("fields")
        return out

    def _int(self, params: dict, name: str, default: int) -> int:
        v = params.get(name)
        if v in (None, ""):
            return default
        try:
            return int(v)
        except (TypeError, ValueError):
            raise JiraError(400, f"The value '{v}' is invalid for the parameter '{name}'.") from None

    # ------------------------------------------------------------------ HTTP
    def _json_body(self) -> Any:
        if not request.data:
            return {}
        try:
            return json.loads(request.data)
        except ValueError:
            raise JiraError(400, "Unexpected character in the request body: not valid JSON.") \
                from None

    def _json_response(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type=JSON_TYPE)

    def _need_account(self) -> str:
        aid = g.get("account")
        if aid is None:
            raise JiraError(401, _AUTH_MSG)
        return aid

    def _authenticate(self) -> tuple[str | None, bool]:
        """Return (accountId or None, credentials were bad)."""
        auth = request.headers.get("Authorization", "")
        if not auth:
            return None, False
        scheme, _, cred = auth.partition(" ")
        cred = cred.strip()
        with self._lock:
            if self.cloud and scheme.lower() == "basic":
                try:
                    email, _, token = base64.b64decode(cred).decode().partition(":")
                except ValueError:
                    return None, True
                aid = self._tokens.get(token)
                if aid is None:
                    return None, True
                want = self._users[aid].get("email")
                if want is not None and want.lower() != email.lower():
                    return None, True
                return aid, False
            if not self.cloud and scheme.lower() == "bearer":
                aid = self._tokens.get(cred)
                return aid, aid is None
        return None, True

    def _fault_response(self, fault: Fault) -> Response:
        status = int(fault.status or 500)
        headers: dict[str, str] = {}
        if status == 429:
            msgs = ["Rate limit exceeded."]
            reset = self.clock() + timedelta(seconds=float(fault.retry_after or 60))
            headers.update({"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": reset.astimezone(timezone.utc)
                            .strftime("%Y-%m-%dT%H:%MZ"),
                            "RateLimit-Reason": "jira-burst-based"})
        elif status == 503:
            msgs = ["Service Unavailable"]
        elif status >= 500:
            msgs = ["Internal server error"]
        else:
            msgs = ["Fault injected by the Jira emulator"]
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(float(fault.retry_after)))
        resp = self._json_response(JiraError(status, msgs).body(), status)
        for k, v in headers.items():
            resp.headers[k] = v
        return resp

    def _build_app(self) -> Flask:
        app = Flask("jira_emulator")
        app.url_map.strict_slashes = False
        emu = self

        @app.before_request
        def _before() -> Response | None:
            g.account, bad = emu._authenticate()
            faulted = emu.inject_fault()
            if faulted is not None:
                return faulted
            if bad:
                raise JiraError(401, _AUTH_MSG)
            ver = (request.view_args or {}).get("ver")
            if ver == "3" and not emu.cloud:
                raise JiraError(404, "null for uri: " + request.url)
            return None

        @app.after_request
        def _after(resp: Response) -> Response:
            return emu.log_served(resp)

        @app.errorhandler(JiraError)
        def _jira_error(e: JiraError) -> Response:
            resp = emu._json_response(e.body(), e.status)
            for k, v in e.headers.items():
                resp.headers[k] = v
            return resp

        @app.errorhandler(HTTPException)
        def _http_error(e: HTTPException) -> Response:
            status = e.code or 500
            msg = "null for uri: " + request.url if status == 404 else (e.name or "Error")
            return emu._json_response(JiraError(status, msg).body(), status)

        app.wsgi_app = lost_response_middleware(app.wsgi_app)  # type: ignore[method-assign]
        self._routes(app)
        return app

    def _routes(self, app: Flask) -> None:  # noqa: C901 - one place for the route table
        emu = self
        API = "/rest/api/<any('2','3','latest'):ver>"

        def v(ver: str) -> str:
            return "2" if ver == "latest" else ver

        def cloud_only() -> None:
            if not emu.cloud:
                raise JiraError(404, "null for uri: " + request.url)

        @app.get(API + "/serverInfo")
        def server_info(ver: str) -> Response:
            now = emu.clock()
            root = emu._root()
            if emu.cloud:
                body = {"baseUrl": root, "displayUrl": root, "version": "1001.0.0-SNAPSHOT",
                        "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud",
                        "buildNumber": 100284, "buildDate": "2025-06-02T00:00:00.000+0000",
                        "serverTime": jira_ts(now, emu._tz()),
                        "scmInfo": "0f9a1c3d2e4b5a6978c8d7e6f5a4b3c2d1e0f9a8",
                        "serverTitle": "Jira", "serverTimeZone": emu.site_time_zone}
            else:
                body = {"baseUrl": root, "version": "9.12.15", "versionNumbers": [9, 12, 15],
                        "deploymentType": "Server", "buildNumber": 9120015,
                        "buildDate": "2024-10-01T00:00:00.000+0000",
                        "serverTime": jira_ts(now, emu._tz()),
                        "scmInfo": "6f3c7cb5e8b2f8d1c5a3e1e0b9f8a7c6d5e4f3a2",
                        "serverTitle": "Jira", "serverTimeZone": emu.site_time_zone}
            return emu._json_response(body)

        @app.get(API + "/myself")
        def myself(ver: str) -> Response:
            aid = emu._need_account()
            with emu._lock:
                return emu._json_response(emu._user_json(aid, v(ver), emu._root(), full=True))

        @app.get(API + "/field")
        def fields(ver: str) -> Response:
            emu._need_account()
            out = []
            for fid, name, typ, items, nav in SYSTEM_FIELDS:
                schema: dict[str, Any] = {"type": typ, "system": fid}
                if items:
                    schema["items"] = items
                out.append({"id": fid, "key": fid, "name": name, "custom": False,
                            "orderable": fid not in ("created", "updated", "resolutiondate",
                                                     "status", "creator"),
                            "navigable": nav, "searchable": True,
                            "clauseNames": ["issuelinks" if fid == "issuelinks" else fid],
                            "schema": schema})
            return emu._json_response(out)

        def user_matches(u: dict, q: str) -> bool:
            q = q.lower()
            return (q in u["displayName"].lower() or q in (u.get("email") or "").lower()
                    or q == u["accountId"].lower())

        def list_users(assignable: bool, ver: str) -> Response:
            emu._need_account()
            a = request.args
            q = a.get("query") or a.get("username") or ""
            aid = a.get("accountId")
            if not q and not aid:
                if assignable and (a.get("project") or a.get("issueKey")):
                    pass
                else:
                    raise JiraError(400, "The query parameter 'query' or 'accountId' is "
                                         "required." if emu.cloud else
                                    "The username query parameter was not provided")
            with emu._lock:
                if a.get("issueKey"):
                    emu._need_issue(a["issueKey"])
                users = [u for u in emu._users.values()
                         if (aid is None or u["accountId"] == aid)
                         and (not q or user_matches(u, q))]
                start = emu._int(a, "startAt", 0)
                mx = emu._int(a, "maxResults", 50)
                root = emu._root()
                return emu._json_response([emu._user_json(u["accountId"], v(ver),
                                                          root) for u in users[start:start + mx]])

        @app.get(API + "/user/search")
        def user_search(ver: str) -> Response:
            return list_users(False, ver)

        @app.get(API + "/user/assignable/search")
        def user_assignable(ver: str) -> Response:
            return list_users(True, ver)

        @app.get(API + "/user")
        def get_user(ver: str) -> Response:
            emu._need_account()
            aid = request.args.get("accountId") or request.args.get("username")
            with emu._lock:
                if aid not in emu._users:
                    raise JiraError(404, "Specified user does not exist or you do not have "
                                         "required permissions")
                return emu._json_response(emu._user_json(aid, v(ver), emu._root(), full=True))

        @app.get(API + "/issueLinkType")
        def link_types(ver: str) -> Response:
            emu._need_account()
            return emu._json_response({"issueLinkTypes": [
                emu._link_type_json(r, v(ver), emu._root()) for r in LINK_TYPES]})

        @app.route(API + "/search/jql", methods=["GET", "POST"])
        def search_jql(ver: str) -> Response:
            cloud_only()
            emu._need_account()
            p = emu._search_params()
            with emu._lock:
                if not parse_jql(p.get("jql") or "", emu._tz()).clauses:
                    raise JiraError(400, "Unbounded JQL queries are not allowed here. Please "
                                         "add a search restriction to your query.")
                issues = emu._search(p.get("jql") or "")
                mx = max(1, min(emu._int(p, "maxResults", 50), 5000))
                off = _untoken(p["nextPageToken"]) if p.get("nextPageToken") else 0
                raw_fields = p.get("fields")
                sel = emu._select_fields(raw_fields, ["id"])
                if sel is None or len(sel) > 1:
                    mx = min(mx, 100)  # Cloud pages fewer issues when many fields are asked
                expand = [x.strip() for x in str(p.get("expand") or "").split(",")]
                page = issues[off:off + mx]
                root, tz = emu._root(), emu._tz()
                limit = emu.embedded_changelog_limit if "changelog" in expand else -1
                body: dict[str, Any] = {"issues": [
                    emu._issue_json(i, v(ver), root, tz, sel, limit) for i in page]}
                if off + mx < len(issues):
                    body["nextPageToken"] = _token(off + mx)
                    body["isLast"] = False
                else:
                    body["isLast"] = True
                return emu._json_response(body)

        @app.route(API + "/search", methods=["GET", "POST"])
        def search_dc(ver: str) -> Response:
            emu._need_account()
            if emu.cloud:
                raise JiraError(410, "The requested API has been removed. Please migrate to "
                                     "the /rest/api/3/search/jql API. A full migration "
                                     "guideline is available at https://developer.atlassian."
                                     "com/changelog/#CHANGE-2046")
            p = emu._search_params()
            with emu._lock:
                issues = emu._search(p.get("jql") or "")
                start = max(0, emu._int(p, "startAt", 0))
                mx = max(0, min(emu._int(p, "maxResults", 50), 1000))
                sel = emu._select_fields(p.get("fields"), [f[0] for f in SYSTEM_FIELDS if f[4]])
                expand = [x.strip() for x in str(p.get("expand") or "").split(",")]
                root, tz = emu._root(), emu._tz()
                limit = emu.embedded_changelog_limit if "changelog" in expand else -1
                return emu._json_response({
                    "expand": "schema,names", "startAt": start, "maxResults": mx,
                    "total": len(issues),
                    "issues": [emu._issue_json(i, v(ver), root, tz, sel, limit)
                               for i in issues[start:start + mx]]})

        @app.get(API + "/issue/<key>")
        def get_issue(ver: str, key: str) -> Response:
            emu._need_account()
            with emu._lock:
                issue = emu._need_issue(key)
                sel = emu._select_fields(request.args.getlist("fields"), None)
                expand = [x.strip() for x in request.args.get("expand", "").split(",")]
                limit = (ISSUE_EMBEDDED_CHANGELOG_LIMIT if emu.cloud else None) \
                    if "changelog" in expand else -1
                return emu._json_response(emu._issue_json(issue, v(ver), emu._root(), emu._tz(),
                                                          sel, limit))

        @app.post(API + "/issue")
        def create_issue(ver: str) -> Response:
            aid = emu._need_account()
            data = emu._json_body()
            f = data.get("fields") if isinstance(data, dict) else None
            if not isinstance(f, dict):
                raise JiraError(400, "Field 'fields' is required.")
            errors: dict[str, str] = {}
            with emu._lock:
                proj = f.get("project") or {}
                pkey = proj.get("key") or next((k for k, p in emu._projects.items()
                                                if p["id"] == str(proj.get("id"))), None)
                if pkey not in emu._projects:
                    errors["project"] = "Specify a valid project ID or key"
                if not f.get("summary"):
                    errors["summary"] = "You must specify a summary of the issue."
                itype = f.get("issuetype") or {}
                if not (itype.get("name") or itype.get("id")):
                    errors["issuetype"] = "Specify an issue type"
                assignee = None
                if f.get("assignee"):
                    assignee = f["assignee"].get("accountId" if emu.cloud else "name")
                    if assignee not in emu._users:
                        errors["assignee"] = f"User '{assignee}' does not exist."
                if f.get("duedate"):
                    try:
                        date.fromisoformat(f["duedate"])
                    except (TypeError, ValueError):
                        errors["duedate"] = "Error parsing date string: " + str(f["duedate"])
                if errors:
                    raise JiraError(400, [], errors)
                desc = f.get("description")
                desc = adf_to_text(desc) if isinstance(desc, dict) else desc
                key = emu.create_issue(pkey, aid, str(f["summary"]), desc or "",
                                       assignee=assignee, labels=f.get("labels") or (),
                                       duedate=f.get("duedate"),
                                       issuetype=itype.get("name") or "Task")
                issue = emu._issues[key]
                return emu._json_response({"id": str(issue.id), "key": key,
                                           "self": f"{emu._root()}/rest/api/{v(ver)}/issue/"
                                                   f"{issue.id}"}, 201)

        @app.put(API + "/issue/<key>")
        def edit_issue(ver: str, key: str) -> Response:
            aid = emu._need_account()
            data = emu._json_body()
            if not isinstance(data, dict):
                raise JiraError(400, "Request body must be a JSON object.")
            with emu._lock:
                issue = emu._need_issue(key)
                f, upd = data.get("fields") or {}, data.get("update") or {}
                unsupported = (set(f) | set(upd)) - {"labels", "duedate", "summary", "description"}
                if unsupported:
                    raise JiraError(400, [], {n: f"Field '{n}' cannot be set. It is not on the "
                                                 "appropriate screen, or unknown."
                                              for n in sorted(unsupported)})
                when = emu._when(None)
                if "summary" in f or "description" in f:
                    desc = f.get("description")
                    if "description" in f and v(ver) == "3" and desc is not None and not isinstance(desc, dict):
                        raise JiraError(400, [], {"description": "Operation value must be an "
                                                                 "Atlassian Document (see the "
                                                                 "Atlassian Document Format)"})
                    emu._edit(issue, aid, str(f["summary"]) if "summary" in f else None,
                              (adf_to_text(desc) if desc is not None else "") if "description" in f else None,
                              when)
                labels = list(issue.labels)
                if "labels" in f:
                    labels = list(f["labels"] or [])
                for op in upd.get("labels", []):
                    if "add" in op:
                        labels.append(op["add"])
                    if "remove" in op:
                        labels = [x for x in labels if x != op["remove"]]
                    if "set" in op:
                        labels = list(op["set"] or [])
                if "labels" in f or "labels" in upd:
                    emu._set_labels(issue, aid, labels, when)
                if "duedate" in f:
                    try:
                        emu._set_duedate(issue, aid, f["duedate"], when)
                    except (TypeError, ValueError):
                        raise JiraError(400, [], {"duedate": "Error parsing date string: "
                                                             + str(f["duedate"])}) from None
                return Response(status=204)

        @app.put(API + "/issue/<key>/assignee")
        def assign(ver: str, key: str) -> Response:
            aid = emu._need_account()
            data = emu._json_body()
            if not isinstance(data, dict):
                raise JiraError(400, "Request body must be a JSON object.")
            who = data.get("accountId" if emu.cloud else "name")
            if who == "-1":
                who = None  # "automatic": projects here have no default assignee
            with emu._lock:
                issue = emu._need_issue(key)
                if who is not None and who not in emu._users:
                    raise JiraError(404 if emu.cloud else 400,
                                    [] if not emu.cloud else [f"User '{who}' does not exist."],
                                    {} if emu.cloud else {"assignee": f"User '{who}' does not "
                                                                      "exist."})
                emu.assign(issue.key, aid, who)
                return Response(status=204)

        @app.get(API + "/issue/<key>/changelog")
        def changelog(ver: str, key: str) -> Response:
            cloud_only()
            emu._need_account()
            with emu._lock:
                issue = emu._need_issue(key)
                start = max(0, emu._int(request.args, "startAt", 0))
                mx = max(1, min(emu._int(request.args, "maxResults", 100), 100))
                root, tz = emu._root(), emu._tz()
                hs = issue.histories
                base = f"{root}/rest/api/{v(ver)}/issue/{key}/changelog"
                body: dict[str, Any] = {
                    "self": f"{base}?maxResults={mx}&startAt={start}",
                    "maxResults": mx, "startAt": start, "total": len(hs),
                    "isLast": start + mx >= len(hs),
                    "values": [emu._history_json(h, v(ver), root, tz) for h in hs[start:start + mx]]}
                if not body["isLast"]:
                    body["nextPage"] = f"{base}?maxResults={mx}&startAt={start + mx}"
                return emu._json_response(body)

        @app.post(API + "/changelog/bulkfetch")
        def bulkfetch(ver: str) -> Response:
            cloud_only()
            emu._need_account()
            data = emu._json_body()
            ids = data.get("issueIdsOrKeys") if isinstance(data, dict) else None
            if not isinstance(ids, list) or not 1 <= len(ids) <= 1000:
                raise JiraError(400, "issueIdsOrKeys must list between 1 and 1000 issue IDs or "
                                     "keys.")
            fids = data.get("fieldIds") or []
            if len(fids) > 10:
                raise JiraError(400, "fieldIds accepts at most 10 field IDs.")
            mx = max(1, min(int(data.get("maxResults") or 1000), 10000))
            off = _untoken(data["nextPageToken"]) if data.get("nextPageToken") else 0
            with emu._lock:
                rows = []
                for ref in ids:
                    try:
                        issue = emu._need_issue(str(ref))
                    except JiraError:
                        continue  # unknown or invisible issues are silently left out
                    for h in issue.histories:
                        items = [it for it in h["items"]
                                 if not fids or it.get("fieldId", it["field"]) in fids]
                        if items:
                            rows.append((h["created"], issue.id, h, items))
                rows.sort(key=lambda r: (r[0], r[1], int(r[2]["id"])))
                page = rows[off:off + mx]
                root, tz = emu._root(), emu._tz()
                grouped: dict[int, list] = {}
                for _, iid, h, items in page:
                    hj = emu._history_json(h, v(ver), root, tz)
                    hj["items"] = copy.deepcopy(items)
                    grouped.setdefault(iid, []).append(hj)
                body: dict[str, Any] = {"issueChangeLogs": [
                    {"issueId": str(iid), "changeHistories": hs} for iid, hs in grouped.items()]}
                if off + mx < len(rows):
                    body["nextPageToken"] = _token(off + mx)
                return emu._json_response(body)

        @app.get(API + "/issue/<key>/comment")
        def list_comments(ver: str, key: str) -> Response:
            emu._need_account()
            a = request.args
            order = a.get("orderBy", "created")
            if order not in ("created", "+created", "-created"):
                raise JiraError(400, f"Invalid orderBy value '{order}'; use 'created', "
                                     "'+created' or '-created'.")
            with emu._lock:
                issue = emu._need_issue(key)
                cs = [emu._comments[i] for i in issue.comment_ids]
                cs.sort(key=lambda c: (c["created"], c["id"]), reverse=order == "-created")
                start = max(0, emu._int(a, "startAt", 0))
                mx = max(0, min(emu._int(a, "maxResults", 100), 5000))
                root, tz = emu._root(), emu._tz()
                return emu._json_response({
                    "startAt": start, "maxResults": mx, "total": len(cs),
                    "comments": [emu._comment_json(c, v(ver), root, tz)
                                 for c in cs[start:start + mx]]})

        @app.post(API + "/issue/<key>/comment")
        def add_comment(ver: str, key: str) -> Response:
            aid = emu._need_account()
            data = emu._json_body()
            body = data.get("body") if isinstance(data, dict) else None
            if v(ver) == "3" and not isinstance(body, dict):
                raise JiraError(400, [], {"comment": "Comment body is not valid!"})
            if v(ver) == "2" and not isinstance(body, str):
                raise JiraError(400, [], {"comment": "Comment body can not be empty!"})
            text = adf_to_text(body)
            if not text.strip():
                raise JiraError(400, [], {"comment": "Comment body can not be empty!"})
            with emu._lock:
                issue = emu._need_issue(key)
                c = emu.comment(issue.key, aid, text)
                cid = int(c["id"])
                return emu._json_response(emu._comment_json(emu._comments[cid], v(ver),
                                                            emu._root(), emu._tz()), 201)

        @app.post(API + "/issueLink")
        def create_link(ver: str) -> Response:
            aid = emu._need_account()
            data = emu._json_body()
            if not isinstance(data, dict):
                raise JiraError(400, "Request body must be a JSON object.")
            t = data.get("type") or {}
            row = next((r for r in LINK_TYPES
                        if r[1] == t.get("name") or r[0] == str(t.get("id"))), None)
            if row is None:
                raise JiraError(404, f"No issue link type with name '{t.get('name')}' found.")

            def ref(side: str) -> str:
                r = data.get(side) or {}
                return str(r.get("key") or r.get("id") or "")

            with emu._lock:
                inward = emu._need_issue(ref("inwardIssue")).key
                outward = emu._need_issue(ref("outwardIssue")).key
                emu._create_link(row, inward, outward, aid, emu._when(None))
                if isinstance(data.get("comment"), dict) and data["comment"].get("body"):
                    emu.comment(inward, aid, adf_to_text(data["comment"]["body"]))
            return Response(status=201)

        @app.delete(API + "/issueLink/<link_id>")
        def delete_link(ver: str, link_id: str) -> Response:
            aid = emu._need_account()
            with emu._lock:
                lid = int(link_id) if link_id.isdigit() else -1
                if lid not in emu._links:
                    raise JiraError(404, f"No issue link with id '{link_id}' exists.")
                emu._delete_link(lid, aid, emu._when(None))
            return Response(status=204)

        def remote_json(issue: _Issue, rl: dict, ver: str, root: str) -> dict:
            out: dict[str, Any] = {
                "id": rl["id"], "self": f"{root}/rest/api/{ver}/issue/{issue.key}/remotelink/"
                                        f"{rl['id']}"}
            if rl.get("globalId"):
                out["globalId"] = rl["globalId"]
            out["application"] = rl.get("application") or {}
            if rl.get("relationship"):
                out["relationship"] = rl["relationship"]
            obj = dict(rl["object"])
            obj.setdefault("icon", {})
            obj.setdefault("status", {})
            out["object"] = obj
            return out

        @app.get(API + "/issue/<key>/remotelink")
        def get_remote_links(ver: str, key: str) -> Response:
            emu._need_account()
            with emu._lock:
                issue = emu._need_issue(key)
                root = emu._root()
                gid = request.args.get("globalId")
                if gid is not None:
                    rl = next((r for r in issue.remote_links if r.get("globalId") == gid), None)
                    if rl is None:
                        raise JiraError(404, "No remote link with the given globalId.")
                    return emu._json_response(remote_json(issue, rl, v(ver), root))
                return emu._json_response([remote_json(issue, rl, v(ver), root)
                                           for rl in issue.remote_links])

        @app.post(API + "/issue/<key>/remotelink")
        def post_remote_link(ver: str, key: str) -> Response:
            aid = emu._need_account()
            data = emu._json_body()
            obj = data.get("object") if isinstance(data, dict) else None
            if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
                raise JiraError(400, [], {"object": "'object' with 'url' and 'title' is "
                                                    "required."})
            with emu._lock:
                issue = emu._need_issue(key)
                rl, created = emu._add_remote(issue, aid, obj, data.get("globalId"),
                                              data.get("application"), data.get("relationship"),
                                              emu._when(None))
                return emu._json_response(
                    {"id": rl["id"], "self": f"{emu._root()}/rest/api/{v(ver)}/issue/"
                                             f"{issue.key}/remotelink/{rl['id']}"},
                    201 if created else 200)

        @app.get("/rest/applinks/latest/listApplicationlinks")
        def applinks() -> Response:
            # Non-admin accounts may not list application links; the jira client falls
            # back to an empty list (with a warning) on any error here.
            emu._need_account()
            raise JiraError(403, "You do not have permission to list application links.")


__all__ = ["JiraEmulator", "JiraError", "Faults", "Fault", "UNCHANGED", "parse_jql", "Jql",
           "jira_ts", "parse_jira_ts", "text_to_adf", "adf_to_text"]
