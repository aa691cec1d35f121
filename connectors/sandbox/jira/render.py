"""State -> Jira's JSON: the vendor shapes the emulator serves, and its text formats.

Holds :class:`JiraRenderer` (``User``, ``StatusDetails``, ``IssueLinkType``, ``IssueBean``,
``Changelog``, ``Comment``, ``RemoteIssueLink`` ... of ``shared/specs/jira/swagger-v3.v3.json``
``components/schemas``, v2 differing only in wiki-markup ``description`` and comment
``body`` where v3 has ADF), the ``serverInfo`` and ``/field`` bodies, the system field
table, Jira's timestamp format (:func:`jira_ts`, :func:`parse_jira_ts`) and the Atlassian
Document Format converters (:func:`text_to_adf`, :func:`adf_to_text`). No Flask: the
caller passes the API version, the ``scheme://host:port`` root every ``self`` link uses
and the viewer's time zone.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sandbox.jira.state import (FLAG_OPTION, FLAG_OPTION_ID, FLAGGED_FIELD, LINK_TYPES, STATUS_CATEGORIES,
                                           Issue, JiraState)

#: Where driver reads (``JiraEmulator.issue``/``comment``) point ``self`` links.
CANONICAL_ROOT = "https://emulator.atlassian.net"
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
#: Custom fields the emulated site has: (id, name, schema, navigable). Jira Software's "Flagged".
CUSTOM_FIELDS = [
    (FLAGGED_FIELD, "Flagged", {"type": "array", "items": "option",
                                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes",
                                "customId": int(FLAGGED_FIELD.rsplit("_", 1)[1])}, True),
]
FIELD_IDS = [f[0] for f in SYSTEM_FIELDS] + [f[0] for f in CUSTOM_FIELDS]
_AVATAR = "https://secure.gravatar.com/avatar/{}?d=identicon&s={}"
_MENTION = re.compile(r"\[~accountid:([^\]\s]+)\]")


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



class JiraRenderer:
    """Render a :class:`JiraState`'s records as Jira's JSON for one deployment.

    ``cloud``: Cloud shapes (users by ``accountId``, ``accountType``) or Data Center ones
    (users also by ``name``/``key``). Every method takes ``ver`` (``"2"`` or ``"3"``),
    ``root`` (``scheme://host:port`` for ``self`` links) and, where it renders instants,
    ``tz`` (IANA zone of the viewer). Call under the state's ``_lock``.
    """

    def __init__(self, state: JiraState, cloud: bool) -> None:
        self.state = state
        self.cloud = cloud

    def user(self, aid: str | None, ver: str, root: str, full: bool = False) -> dict | None:
        """``User`` of ``aid`` (None for None); ``emailAddress`` only when the user has one;
        ``full`` adds ``locale``, ``groups``, ``applicationRoles`` as ``/myself`` does."""
        if aid is None:
            return None
        u = self.state._users.get(aid) or {"accountId": aid, "displayName": aid, "email": None,
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

    def status(self, name: str, ver: str, root: str) -> dict:
        """``StatusDetails`` of status ``name`` with its ``statusCategory``."""
        st = self.state._statuses[name]
        cid, cname, color = STATUS_CATEGORIES[st["category"]]
        return {"self": f"{root}/rest/api/{ver}/status/{st['id']}", "description": "",
                "iconUrl": f"{root}/images/icons/statuses/generic.png", "name": name,
                "id": st["id"],
                "statusCategory": {"self": f"{root}/rest/api/{ver}/statuscategory/{cid}",
                                   "id": cid, "key": st["category"], "colorName": color,
                                   "name": cname}}

    def link_type(self, row: tuple, ver: str, root: str) -> dict:
        """``IssueLinkType`` of a :data:`LINK_TYPES` row."""
        return {"id": row[0], "name": row[1], "inward": row[2], "outward": row[3],
                "self": f"{root}/rest/api/{ver}/issueLinkType/{row[0]}"}

    def issue_ref(self, key: str, ver: str, root: str) -> dict:
        """``LinkedIssue``: the other end of a link (id, key, summary, status, issuetype)."""
        other = self.state._issues[key]
        return {"id": str(other.id), "key": key,
                "self": f"{root}/rest/api/{ver}/issue/{other.id}",
                "fields": {"summary": other.summary,
                           "status": self.status(other.status, ver, root),
                           "issuetype": self.issuetype(other.issuetype, ver, root)}}

    def issuetype(self, name: str, ver: str, root: str) -> dict:
        """``IssueTypeDetails`` named ``name`` (every type has the Task type's id and icon)."""
        return {"self": f"{root}/rest/api/{ver}/issuetype/10001", "id": "10001",
                "description": "A small, distinct piece of work.",
                "iconUrl": f"{root}/images/icons/issuetypes/task.svg", "name": name,
                "subtask": False, "hierarchyLevel": 0}

    def history(self, h: dict, ver: str, root: str, tz: str) -> dict:
        """``ChangelogHistory`` ``{id, author, created, items}`` of a stored history."""
        return {"id": h["id"], "author": self.user(h["author"], ver, root),
                "created": jira_ts(h["created"], tz), "items": copy.deepcopy(h["items"])}

    def comment(self, c: dict, ver: str, root: str, tz: str) -> dict:
        """``Comment`` of a stored comment record; ``body`` is ADF on v3, wiki text on v2."""
        issue = self.state._issues[c["issue"]]
        author = self.user(c["author"], ver, root)
        return {"self": f"{root}/rest/api/{ver}/issue/{issue.id}/comment/{c['id']}",
                "id": str(c["id"]), "author": author,
                "body": text_to_adf(c["body"]) if ver == "3" else c["body"],
                "updateAuthor": author, "created": jira_ts(c["created"], tz),
                "updated": jira_ts(c["updated"], tz), "jsdPublic": True}

    def field_values(self, issue: Issue, ver: str, root: str, tz: str) -> dict:
        """Every system field of ``issue`` as ``IssueBean.fields`` holds it."""
        proj = self.state._projects[issue.project]
        links = []
        for lid in issue.link_ids:
            ln = self.state._links[lid]
            row = next(r for r in LINK_TYPES if r[1] == ln["type"])
            entry: dict[str, Any] = {"id": str(lid), "self": f"{root}/rest/api/{ver}/issueLink/{lid}",
                                     "type": self.link_type(row, ver, root)}
            if ln["inward"] == issue.key:  # this issue does the outward verb
                entry["outwardIssue"] = self.issue_ref(ln["outward"], ver, root)
            else:
                entry["inwardIssue"] = self.issue_ref(ln["inward"], ver, root)
            links.append(entry)
        comments = [self.comment(self.state._comments[i], ver, root, tz)
                    for i in issue.comment_ids]
        res = None
        if issue.resolution:
            rid = self.state._resolutions[issue.resolution]
            res = {"self": f"{root}/rest/api/{ver}/resolution/{rid}", "id": rid,
                   "description": "", "name": issue.resolution}
        return {
            "summary": issue.summary,
            "status": self.status(issue.status, ver, root),
            "assignee": self.user(issue.assignee, ver, root),
            "reporter": self.user(issue.reporter, ver, root),
            "creator": self.user(issue.reporter, ver, root),
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
            "issuetype": self.issuetype(issue.issuetype, ver, root),
            FLAGGED_FIELD: [{"self": f"{root}/rest/api/{ver}/customFieldOption/{FLAG_OPTION_ID}",
                             "value": FLAG_OPTION, "id": FLAG_OPTION_ID}] if issue.flagged else None,
            "comment": {"comments": comments,
                        "self": f"{root}/rest/api/{ver}/issue/{issue.id}/comment",
                        "maxResults": len(comments), "total": len(comments), "startAt": 0},
        }

    def issue(self, issue: Issue, ver: str, root: str, tz: str,
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
            values = self.field_values(issue, ver, root, tz)
            out["fields"] = values if fields is None else {f: values[f] for f in fields
                                                          if f in values}
        if changelog_limit != -1:
            total = len(issue.histories)
            limit = total if changelog_limit is None else min(changelog_limit, total)
            chosen = issue.histories[total - limit:][::-1] if limit else []
            out["changelog"] = {"startAt": 0, "maxResults": limit, "total": total,
                                "histories": [self.history(h, ver, root, tz)
                                              for h in chosen]}
        return out

    def remote_link(self, issue: Issue, rl: dict, ver: str, root: str) -> dict:
        """``RemoteIssueLink`` of ``issue``: ``globalId``/``relationship`` only when set,
        ``object.icon``/``object.status`` ``{}`` unless given."""
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

    def server_info(self, root: str, now: datetime, tz: str, site_time_zone: str) -> dict:
        """``ServerInfo``: Cloud reports ``deploymentType: "Cloud"``, Data Center
        ``"Server"`` (as real Data Center does); ``serverTime`` is ``now`` in ``tz``."""
        if self.cloud:
            return {"baseUrl": root, "displayUrl": root, "version": "1001.0.0-SNAPSHOT",
                    "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud",
                    "buildNumber": 100284, "buildDate": "2025-06-02T00:00:00.000+0000",
                    "serverTime": jira_ts(now, tz),
                    "scmInfo": "0f9a1c3d2e4b5a6978c8d7e6f5a4b3c2d1e0f9a8",
                    "serverTitle": "Jira", "serverTimeZone": site_time_zone}
        return {"baseUrl": root, "version": "9.12.15", "versionNumbers": [9, 12, 15],
                "deploymentType": "Server", "buildNumber": 9120015,
                "buildDate": "2024-10-01T00:00:00.000+0000",
                "serverTime": jira_ts(now, tz),
                "scmInfo": "6f3c7cb5e8b2f8d1c5a3e1e0b9f8a7c6d5e4f3a2",
                "serverTitle": "Jira", "serverTimeZone": site_time_zone}


def field_list() -> list[dict]:
    """``GET /field``: the system fields, then the custom ones (``Flagged``), as ``FieldDetails``."""
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
    for fid, name, schema, nav in CUSTOM_FIELDS:
        out.append({"id": fid, "key": fid, "name": name, "custom": True,
                    "orderable": True, "navigable": nav, "searchable": True,
                    "clauseNames": [f"cf[{schema['customId']}]", name], "schema": schema})
    return out
