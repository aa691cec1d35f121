"""Map Jira vendor JSON to the normalized model, in exactly one place.

Pure functions over plain dicts as parsed from Jira REST responses. No I/O, no ``jira``
client objects. Both Jira Cloud (REST v3: ``description`` and comment ``body`` in Atlassian
Document Format; users by ``accountId``) and Data Center (REST v2: wiki-markup strings;
users by ``name``/``key``) shapes are accepted.

Sources followed (schemas of ``shared/specs/jira/swagger-v3.v3.json``):

- ``IssueBean`` (``GET /rest/api/3/search/jql`` and ``/rest/api/2/search`` with
  ``expand=changelog``) with ``fields`` ``summary, status{name, statusCategory{key}},
  assignee, reporter, labels, issuelinks, resolution, created, updated, description,
  comment{comments, total}`` and ``changelog{histories, total, maxResults}``;
- ``Changelog``/``ChangeDetails`` (``{id, author, created, items[{field, fieldId, from,
  fromString, to, toString}]}``), also as served by ``/issue/{key}/changelog`` and
  ``/changelog/bulkfetch``;
- ``Comment`` (``{id, author, body, created}``);
- ``RemoteIssueLink`` (``{id, object{url, title}}``);
- Jira wiki markup (user mentions ``[~accountid:ID]`` on Cloud, ``[~username]`` on Data
  Center) and ADF ``mention`` nodes (``attrs.id`` = accountId).

Event ids (``Event.id``; the store dedups on ``(tool, id)``):

===================================  ==================================================
source                               id
===================================  ==================================================
changelog item                       ``<issue id>:<history id>:<item index>``
  second fact of the same item       ``…:<item index>:unassigned`` (assignee A → B),
                                     ``…:<item index>:+<label>`` / ``:-<label>`` (labels)
comment                              ``comment:<comment id>``
item named in a comment              ``comment:<comment id>:mentions:<tool>:<key>``
item named in the description        ``description:<issue id>:mentions:<tool>:<key>``
remote link                          ``remotelink:<issue id>:<remote link id>``
===================================  ==================================================

The ``mentions`` in the text ids is a fixed tag ("the text names"), kept whatever the
event's ``link_type`` says, so ids stay stable when wording changes.

Links (``ItemSnapshot.links``/``blocked_by``, ``linked`` events): native issue links
(``fields.issuelinks``: an entry with ``inwardIssue`` reads with the type's ``inward``
phrase, e.g. "is blocked by", per the spec's ``IssueLink``), items named in the description
and comments (``connectors.textrefs.find_refs`` with bare Jira keys: tracker URLs of the three
tools and ``KEY-1``; the issue's own key left out; ``link_type`` ``"is blocked by"`` or
``"mentions"``), and remote links (``"remote link"``, or ``"is blocked by"`` when the
link's title says so). Changelog ``Link`` items give ``linked``/``unlinked`` events with
the phrase as ``link_type``.

Accounts (``IssueMapping.accounts``): every ``User`` object the issue carries (assignee,
reporter, creator, changelog and comment authors) with ``displayName`` and
``emailAddress`` (lower-cased; absent or null when the user's privacy settings hide it,
spec ``User``), plus accounts named by changelog ``assignee`` items and mentions.

Status categories: ``statusCategory.key`` ``new`` → TODO, ``indeterminate`` →
IN_PROGRESS (IN_REVIEW when the status name says "review"), ``done`` → DONE; a status
named like "blocked", "waiting" or "on hold" → BLOCKED whatever its category.

Flagged (Jira Software's flag, an impediment): a custom multi-checkbox field named "Flagged"
whose one option is "Impediment" (its id differs per site; ``customfield_10021`` on most Cloud
sites, ``[connectors.jira] flagged_field``). In ``fields`` it reads ``[{"self": …, "value":
"Impediment", "id": "10019"}]`` when set, ``null`` when not (the agile API's ``IssueBean`` shows
the same as ``"flagged": true``, ``software-swagger.v3.json``); a changelog item reads ``{"field":
"Flagged", "fieldtype": "custom", "fieldId": "customfield_…", "from": null, "fromString": null,
"to": "[10019]", "toString": "Impediment"}`` when set and the reverse when cleared. The item maps
to ``labeled``/``unlabeled`` events with ``label`` ``bridge.core.model.FLAGGED`` (id suffix
``:flag``), and a flagged issue's snapshot has ``flagged_since`` (the last flagging's time) and
status category BLOCKED (unless done). The field decides when the issue carries it, else the
changelog's last Flagged item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable

from bridge.core.model import (BLOCKED_BY, FLAGGED, Account, AccountInfo, Event, EventKind, ItemKind, ItemRef,
                               ItemSnapshot, StatusCategory, Tool, link_kind)
from connectors.textrefs import BLOCKED_BY_TYPE, TextRef, find_refs, says_blocked

TOOL = Tool.JIRA.value

__all__ = [
    "IssueMapping",
    "parse_time",
    "user_id",
    "status_category",
    "body_text",
    "mentions",
    "ref_text",
    "text_refs",
    "says_blocked",
    "merge_accounts",
    "native_links",
    "remote_links_added",
    "map_issue",
    "map_histories",
    "map_comments",
    "map_remote_links",
]

_KEY = re.compile(r"^[A-Z][A-Z0-9_]+-\d+$")
_TS = re.compile(r"^(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)$")
_BLOCKED = re.compile(r"\b(block(ed)?|waiting|on hold|impeded)\b", re.I)
_WIKI_MENTION = re.compile(r"(?<!\\)\[~(?:accountid:)?([^\]\s\\|]+)\]")
_LINK_PHRASE = re.compile(r"^This issue (.+?) ([A-Z][A-Z0-9_]+-\d+)$")
_CURRENT_LINK_IDS = ("comment:", "description:", "remotelink:")


class Malformed(ValueError):
    """A vendor object lacks what the mapping needs."""


@dataclass
class IssueMapping:
    """The snapshot and events of one issue, ``(vendor id, reason)`` for parts skipped, and
    the accounts the issue shows (``AccountInfo``, one per account)."""

    item: ItemSnapshot
    events: list[Event] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    accounts: list[AccountInfo] = field(default_factory=list)


# ---------------------------------------------------------------------------- basics


def parse_time(s: Any) -> datetime:
    """Parse Jira's ``2024-03-01T10:00:00.000+0100`` (or ISO 8601 with ``Z``/``+01:00``)
    into an aware UTC datetime.

    Raises:
        ValueError: not a string, not a timestamp, or without a time zone.
    """
    if not isinstance(s, str):
        raise Malformed(f"timestamp is {type(s).__name__}, not a string: {s!r}")
    v = s.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    m = _TS.match(v)
    if m:
        v = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    try:
        parsed = datetime.fromisoformat(v)
    except ValueError:
        raise Malformed(f"not a Jira timestamp: {s!r}") from None
    if parsed.tzinfo is None:
        raise Malformed(f"timestamp has no time zone: {s!r}")
    return parsed.astimezone(timezone.utc)


def user_id(user: Any) -> str | None:
    """The account id of a Jira ``User`` object: ``accountId`` (Cloud), else ``name`` then
    ``key`` (Data Center). ``None`` for ``None`` or an object without any of them."""
    if not isinstance(user, dict):
        return None
    for k in ("accountId", "name", "key"):
        if isinstance(user.get(k), str) and user[k]:
            return user[k]
    return None


def _account(user: Any) -> Account | None:
    uid = user_id(user)
    return Account(TOOL, uid) if uid else None


def status_category(name: str, category_key: str | None) -> StatusCategory:
    """Our category of a Jira status (see the module docstring)."""
    if _BLOCKED.search(name or ""):
        return StatusCategory.BLOCKED
    if category_key == "done":
        return StatusCategory.DONE
    if category_key == "new":
        return StatusCategory.TODO
    if "review" in (name or "").lower():
        return StatusCategory.IN_REVIEW
    return StatusCategory.IN_PROGRESS


# ---------------------------------------------------------------------------- text


def _adf_walk(node: Any, out: list[str], found: list[Account], urls: list[str], rich: list[str]) -> None:
    """Flatten ADF: ``out`` gets the plain text, ``rich`` the same text with each link
    mark's ``href`` written just before its anchor text (so "blocked by <a>the PR</a>"
    still reads "blocked by https://…")."""
    if isinstance(node, list):
        for n in node:
            _adf_walk(n, out, found, urls, rich)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "text":
        text = str(node.get("text", ""))
        for mark in node.get("marks") or []:
            if isinstance(mark, dict) and mark.get("type") == "link":
                href = (mark.get("attrs") or {}).get("href")
                if isinstance(href, str):
                    urls.append(href)
                    if href != text:
                        rich.append(href + " ")
        out.append(text)
        rich.append(text)
    elif kind == "hardBreak":
        out.append("\n")
        rich.append("\n")
    elif kind == "mention":
        if isinstance(attrs.get("id"), str) and attrs["id"]:
            found.append(Account(TOOL, attrs["id"]))
        shown = str(attrs.get("text") or f"@{attrs.get('id', '')}")
        out.append(shown)
        rich.append(shown)
    elif kind in ("inlineCard", "blockCard", "embedCard"):
        if isinstance(attrs.get("url"), str):
            urls.append(attrs["url"])
            out.append(attrs["url"])
            rich.append(attrs["url"])
    else:
        _adf_walk(node.get("content", []), out, found, urls, rich)
        if kind in ("paragraph", "heading", "listItem", "codeBlock", "blockquote"):
            out.append("\n")
            rich.append("\n")


def _adf_mention_names(node: Any, names: dict[str, str]) -> None:
    if isinstance(node, list):
        for n in node:
            _adf_mention_names(n, names)
    elif isinstance(node, dict):
        attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
        if node.get("type") == "mention" and isinstance(attrs.get("id"), str) and isinstance(attrs.get("text"), str):
            names.setdefault(attrs["id"], attrs["text"].lstrip("@").strip())
        _adf_mention_names(node.get("content", []), names)


def _dedup(accounts: Iterable[Account]) -> tuple[Account, ...]:
    return tuple(dict.fromkeys(accounts))


def body_text(body: Any) -> tuple[str, tuple[Account, ...], list[str]]:
    """Plain text, mentioned accounts and link URLs of a description or comment body.

    ``body``: a wiki-markup string (REST v2, Data Center) or an ADF document (REST v3).
    Wiki mentions are ``[~accountid:ID]`` and ``[~username]`` (not when backslash-escaped);
    ADF mentions are ``mention`` nodes. Never raises; ``None`` gives ``("", (), [])``.
    """
    if body is None:
        return "", (), []
    if isinstance(body, str):
        return body, mentions(body), []
    out: list[str] = []
    found: list[Account] = []
    urls: list[str] = []
    _adf_walk(body, out, found, urls, [])
    return "".join(out).strip(), _dedup(found), urls


def ref_text(body: Any) -> str:
    """The text to search for item references: wiki markup as is (``[title|url]`` keeps its
    URL), ADF flattened with every link mark's ``href`` placed before its anchor text.
    Never raises; ``None`` gives ``""``."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    rich: list[str] = []
    _adf_walk(body, [], [], [], rich)
    return "".join(rich).strip()


def mentions(text: str | None) -> tuple[Account, ...]:
    """People mentioned in wiki markup: ``[~accountid:ID]`` (Cloud) and ``[~username]``
    (Data Center), deduplicated, in order; escaped ``\\[~…]`` does not count."""
    if not isinstance(text, str):
        return ()
    return _dedup(Account(TOOL, m.group(1)) for m in _WIKI_MENTION.finditer(text))


def text_refs(text: str | None, *, own: str | None = None) -> list[TextRef]:
    """Items named in ``text`` (wiki markup or :func:`ref_text` of ADF), via
    ``connectors.textrefs.find_refs`` with ``bare_jira_keys=True``: tracker URLs of any tool,
    ``…/browse/KEY-1`` and bare ``KEY-1`` (Jira itself links bare keys of its own site).
    ``own``: the issue's own key, left out. Each ``TextRef.link_type`` is ``"is blocked by"``
    (the words just before say blocked by / depends on / waiting on) or ``"mentions"``.
    """
    return [r for r in find_refs(text, bare_jira_keys=True)
            if not (own and r.ref == ItemRef(TOOL, own))]


class _Accounts:
    """Accounts seen in one issue, merged: the first non-empty display name and e-mail win,
    and names from ``User`` objects are taken before names from changelog strings or
    mention texts (which were the name at that time)."""

    def __init__(self) -> None:
        self.full: dict[str, list] = {}
        self.weak: dict[str, list] = {}

    def user(self, u: Any) -> None:
        uid = user_id(u)
        if uid:
            email = u.get("emailAddress")
            self._add(self.full, uid, u.get("displayName"), email)

    def named(self, uid: Any, name: Any) -> None:
        if isinstance(uid, str) and uid:
            self._add(self.weak, uid, name, None)

    @staticmethod
    def _add(into: dict, uid: str, name: Any, email: Any) -> None:
        row = into.setdefault(uid, [None, None])
        if row[0] is None and isinstance(name, str) and name.strip():
            row[0] = name.strip()
        if row[1] is None and isinstance(email, str) and email.strip():
            row[1] = email.strip().lower()

    def infos(self) -> list[AccountInfo]:
        return merge_accounts(
            [AccountInfo(Account(TOOL, uid), n, e) for uid, (n, e) in self.full.items()]
            + [AccountInfo(Account(TOOL, uid), n, e) for uid, (n, e) in self.weak.items()])


def merge_accounts(infos: Iterable[AccountInfo]) -> list[AccountInfo]:
    """One ``AccountInfo`` per account, in first-seen order; for each field the first
    non-empty value wins (so put the better sources first)."""
    out: dict[Account, AccountInfo] = {}
    for info in infos:
        have = out.get(info.account)
        if have is None:
            out[info.account] = info
        elif (have.display_name is None and info.display_name) or (have.email is None and info.email):
            out[info.account] = AccountInfo(info.account, have.display_name or info.display_name,
                                            have.email or info.email)
    return list(out.values())


# ---------------------------------------------------------------------------- histories


def _req(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise Malformed(f"{where} is {type(obj).__name__}, not an object")
    if obj.get(key) in (None, ""):
        raise Malformed(f"{where} has no '{key}'")
    return obj[key]


def map_histories(
    ref: ItemRef, issue_id: str, histories: Iterable[Any], *, done_status: str | None = None
) -> tuple[list[Event], list[tuple[str, str]]]:
    """Events of changelog histories (``Changelog`` schema), in the given order.

    ``done_status``: the issue's current status name when its category is ``done``; a move
    into it without a ``resolution`` item in the same history counts as ``closed``.

    Returns (events, skipped) where skipped lists ``("<key> history <id>", reason)`` for a
    malformed history or item; the rest is kept. ``duedate`` → ``due_changed`` (``due`` =
    the new ``YYYY-MM-DD`` or ``None``). Field changes we do not map (summary,
    RemoteIssueLink, …) are ignored silently.
    """
    events: list[Event] = []
    skipped: list[tuple[str, str]] = []
    for n, h in enumerate(histories):
        hid = h.get("id") if isinstance(h, dict) else None
        where = f"{ref.key} history {hid if hid is not None else f'#{n}'}"
        try:
            hid = str(_req(h, "id", "history"))
            at = parse_time(_req(h, "created", "history"))
            items = h.get("items")
            if not isinstance(items, list):
                raise Malformed("history has no 'items' list")
        except Malformed as exc:
            skipped.append((where, f"malformed history: {exc}"))
            continue
        actor = _account(h.get("author"))
        base = f"{issue_id}:{hid}"
        fields = {it.get("fieldId") or it.get("field") for it in items if isinstance(it, dict)}

        def ev(i: int, kind: EventKind, suffix: str = "", **kw: Any) -> Event:
            return Event(TOOL, f"{base}:{i}{suffix}", ref, at, kind, actor=actor, **kw)

        for i, it in enumerate(items):
            try:
                if not isinstance(it, dict) or not isinstance(it.get("field"), str):
                    raise Malformed("item has no 'field'")
                fld = it.get("fieldId") or it["field"]
                frm, to = it.get("from"), it.get("to")
                frm_s, to_s = it.get("fromString"), it.get("toString")
                if fld == "status":
                    if not to_s:
                        raise Malformed("status item has no 'toString'")
                    events.append(ev(i, EventKind.STATUS_CHANGED, from_status=frm_s, to_status=to_s))
                    if done_status and to_s == done_status and "resolution" not in fields:
                        events.append(ev(i, EventKind.CLOSED, ":closed"))
                elif fld == "assignee":
                    if to:
                        if frm:
                            events.append(ev(i, EventKind.UNASSIGNED, ":unassigned", subject=Account(TOOL, str(frm))))
                        events.append(ev(i, EventKind.ASSIGNED, subject=Account(TOOL, str(to))))
                    elif frm:
                        events.append(ev(i, EventKind.UNASSIGNED, subject=Account(TOOL, str(frm))))
                elif fld == "labels":
                    before = (frm_s or "").split()
                    after = (to_s or "").split()
                    for lbl in after:
                        if lbl not in before:
                            events.append(ev(i, EventKind.LABELED, f":+{lbl}", label=lbl))
                    for lbl in before:
                        if lbl not in after:
                            events.append(ev(i, EventKind.UNLABELED, f":-{lbl}", label=lbl))
                elif fld == "duedate":
                    due = (to or to_s or "")[:10] or None
                    events.append(ev(i, EventKind.DUE_CHANGED, due=due))
                elif fld == "description":
                    events.append(ev(i, EventKind.DESCRIPTION_CHANGED, text=to_s or ""))  # "" = cleared
                elif it["field"] == FLAGGED_FIELD_NAME:  # Jira Software's flag (an impediment)
                    if to_s or to:
                        events.append(ev(i, EventKind.LABELED, ":flag", label=FLAGGED))
                    elif frm_s or frm:
                        events.append(ev(i, EventKind.UNLABELED, ":flag", label=FLAGGED))
                elif fld == "resolution":
                    if to or to_s:
                        events.append(ev(i, EventKind.CLOSED))
                    elif frm or frm_s:
                        events.append(ev(i, EventKind.REOPENED))
                elif it["field"] == "Link":
                    phrase = to_s or frm_s
                    m = _LINK_PHRASE.match(phrase or "")
                    if not m:
                        raise Malformed(f"Link item phrase {phrase!r} is not 'This issue <verb> <KEY>'")
                    kind = EventKind.LINKED if to_s else EventKind.UNLINKED
                    events.append(ev(i, kind, link_type=m.group(1), target=ItemRef(TOOL, str(to or frm or m.group(2)))))
            except Malformed as exc:
                skipped.append((f"{where} item {i}", f"malformed changelog item: {exc}"))
    return events, skipped


#: The changelog ``field`` of Jira Software's flag (a custom field; its ``fieldId`` varies by site).
FLAGGED_FIELD_NAME = "Flagged"

#: The flag's field id on most Jira Cloud sites (company-managed projects); see ``flagged_field``.
DEFAULT_FLAGGED_FIELD = "customfield_10021"


def flagged_value(value: Any) -> bool | None:
    """Whether a ``fields.<flagged field>`` value says the issue is flagged: a non-empty list of
    options (``[{"value": "Impediment", "id": "10019"}]``), ``true`` (agile API), ``null``/``[]``/
    ``false`` when not; ``None`` when the value is no such shape (the field id names another field)."""
    if value is None or value is False or value == []:
        return False
    if value is True:
        return True
    if isinstance(value, list) and all(isinstance(o, dict) and ("value" in o or "id" in o) for o in value):
        return True
    return None


def _flagged_since(fields: dict, flagged_field: str | None, events: list[Event], updated: datetime) -> datetime | None:
    flags = [e for e in events if e.label == FLAGGED and e.id.endswith(":flag")
             and e.kind in (EventKind.LABELED, EventKind.UNLABELED)]
    now = flagged_value(fields.get(flagged_field)) if flagged_field and flagged_field in fields else None
    if now is None:  # not read (or not the flag's shape): the changelog's last Flagged item says
        now = bool(flags) and flags[-1].kind == EventKind.LABELED
    if not now:
        return None
    set_at = [e.at for e in flags if e.kind == EventKind.LABELED]
    return max(set_at) if set_at else updated  # flagged before the changelog we read: no earlier than its update


def _due(value: Any) -> date | None:
    """``fields.duedate`` (``YYYY-MM-DD``, a date without time) as a ``date``: the end of that day
    for whoever owes the issue, resolved in their schedule (``ItemSnapshot.due``)."""
    if not value:
        return None
    try:
        day = datetime.fromisoformat(str(value)[:10]).date()
    except ValueError:
        raise Malformed(f"duedate {value!r} is not a date") from None
    return day


# ---------------------------------------------------------------------------- comments


def map_comments(ref: ItemRef, comments: Iterable[Any]) -> tuple[list[Event], list[tuple[str, str]]]:
    """``commented`` events (text, mentions) of ``Comment`` objects, plus one ``linked``
    event per item a comment names (:func:`text_refs`: tracker URLs and Jira keys, not the
    issue's own), with ``link_type`` ``"is blocked by"`` or ``"mentions"``.

    Returns (events, skipped) with ``("<key> comment <id>", reason)`` per malformed comment.
    """
    events: list[Event] = []
    skipped: list[tuple[str, str]] = []
    for n, c in enumerate(comments):
        cid = c.get("id") if isinstance(c, dict) else None
        try:
            cid = str(_req(c, "id", "comment"))
            at = parse_time(_req(c, "created", "comment"))
        except Malformed as exc:
            skipped.append((f"{ref.key} comment {cid if cid is not None else f'#{n}'}", f"malformed comment: {exc}"))
            continue
        actor = _account(c.get("author"))
        text, who, _ = body_text(c.get("body"))
        events.append(Event(TOOL, f"comment:{cid}", ref, at, EventKind.COMMENTED, actor=actor, text=text, mentions=who))
        for r in text_refs(ref_text(c.get("body")), own=ref.key):
            events.append(Event(TOOL, f"comment:{cid}:mentions:{r.ref.tool}:{r.ref.key}", ref, at,
                                EventKind.LINKED, actor=actor, link_type=r.link_type, target=r.ref))
    return events, skipped


def remote_links_added(histories: Iterable[Any]) -> dict[str, tuple[datetime, Account | None]]:
    """Remote link id → (time, author) of the ``RemoteIssueLink`` changelog item that added
    it (``to`` = the remote link id). Malformed histories are left out."""
    out: dict[str, tuple[datetime, Account | None]] = {}
    for h in histories:
        if not isinstance(h, dict):
            continue
        for it in h.get("items") or []:
            if isinstance(it, dict) and it.get("field") == "RemoteIssueLink" and it.get("to"):
                try:
                    out[str(it["to"])] = (parse_time(h.get("created")), _account(h.get("author")))
                except ValueError:
                    continue
    return out


def map_remote_links(ref: ItemRef, issue_id: str, links: Iterable[Any], at: datetime,
                     created: dict[str, Any] | None = None) -> tuple[list[Event], list[tuple[str, str]]]:
    """One ``linked`` event per ``RemoteIssueLink`` (``GET /issue/{key}/remotelink``) whose
    ``object.url`` names an item (:func:`text_refs`; the issue itself and other URLs are
    ignored). ``link_type`` is ``"is blocked by"`` when ``object.title`` says so
    (:func:`says_blocked`), else ``"remote link"`` (a mention).

    ``created`` maps remote link id → the time, or ``(time, author)``, of its
    ``RemoteIssueLink`` changelog item (:func:`remote_links_added`); links without one are
    dated ``at`` with no actor. Id: ``remotelink:<issue id>:<remote link id>``.
    """
    events: list[Event] = []
    skipped: list[tuple[str, str]] = []
    for n, rl in enumerate(links):
        try:
            rid = str(_req(rl, "id", "remote link"))
            obj = _req(rl, "object", "remote link")
            url = _req(obj, "url", "remote link object")
        except Malformed as exc:
            skipped.append((f"{ref.key} remote link #{n}", f"malformed remote link: {exc}"))
            continue
        when: Any = (created or {}).get(rid, at)
        when, actor = when if isinstance(when, tuple) else (when, None)
        for r in text_refs(str(url), own=ref.key):
            link_type = BLOCKED_BY_TYPE if says_blocked(str(obj.get("title") or "")) else "remote link"
            events.append(Event(TOOL, f"remotelink:{issue_id}:{rid}", ref, when,
                                EventKind.LINKED, actor=actor, link_type=link_type, target=r.ref))
            break
    return events, skipped


# ---------------------------------------------------------------------------- issues


def site_of(self_url: str | None) -> str:
    """``https://acme.atlassian.net`` from an object's ``self`` link (``…/rest/api/…``)."""
    if not isinstance(self_url, str) or "/rest/" not in self_url:
        return ""
    return self_url.split("/rest/", 1)[0]


def native_links(raw_links: Any, key: str) -> tuple[list[tuple[ItemRef, str]], list[tuple[str, str]]]:
    """``fields.issuelinks`` (``IssueLink`` schema) as ``(other issue, phrase)`` read from
    this issue: an entry with ``inwardIssue`` reads with the type's ``inward`` phrase ("this
    issue *is blocked by* X"), one with ``outwardIssue`` with its ``outward`` phrase ("this
    issue *blocks* X"), as the spec's IssueLink field descriptions say. Returns (links,
    skipped)."""
    out: list[tuple[ItemRef, str]] = []
    skipped: list[tuple[str, str]] = []
    for n, ln in enumerate(raw_links or []):
        if not isinstance(ln, dict):
            skipped.append((f"{key} issuelink #{n}", "malformed issue link: not an object"))
            continue
        t = ln.get("type") if isinstance(ln.get("type"), dict) else {}
        side, phrase_key = ("inwardIssue", "inward") if isinstance(ln.get("inwardIssue"), dict) else ("outwardIssue", "outward")
        other = ln.get(side)
        if not isinstance(other, dict) or not isinstance(other.get("key"), str):
            skipped.append((f"{key} issuelink #{n}", "malformed issue link: no inwardIssue/outwardIssue key"))
            continue
        out.append((ItemRef(TOOL, other["key"]), str(t.get(phrase_key) or t.get("name") or "")))
    return out, skipped


def _description_refs(key: str, issue_id: str, ref: ItemRef, description: Any, histories: list,
                      created: datetime, reporter: Account | None) -> list[Event]:
    """``linked`` events for the items the current description names, each dated by the
    ``description`` changelog item that brought it in (the last one whose ``toString``
    names it and whose ``fromString`` does not), else by the issue's creation."""
    refs = text_refs(ref_text(description), own=key)
    if not refs:
        return []
    since: dict[ItemRef, tuple[datetime, Account | None]] = {}
    for h in histories:
        if not isinstance(h, dict):
            continue
        for it in h.get("items") or []:
            if not isinstance(it, dict) or (it.get("fieldId") or it.get("field")) != "description":
                continue
            try:
                at = parse_time(h.get("created"))
            except ValueError:
                continue
            before = {r.ref for r in text_refs(it.get("fromString"), own=key)}
            for r in text_refs(it.get("toString"), own=key):
                if r.ref not in before:
                    since[r.ref] = (at, _account(h.get("author")))
    out = []
    for r in refs:
        at, actor = since.get(r.ref, (created, reporter))
        out.append(Event(TOOL, f"description:{issue_id}:mentions:{r.ref.tool}:{r.ref.key}", ref, at,
                         EventKind.LINKED, actor=actor, link_type=r.link_type, target=r.ref))
    return out


def map_issue(
    raw: Any,
    *,
    histories: list | None = None,
    comments: list | None = None,
    site: str | None = None,
    remote_links: list | None = None,
    flagged_field: str | None = DEFAULT_FLAGGED_FIELD,
) -> IssueMapping:
    """Map one ``IssueBean`` to its snapshot, events and the accounts it shows.

    Args:
        raw: the issue as served by search (``expand=changelog``) or ``GET /issue/{key}``.
        histories: every changelog history when the embedded changelog was truncated and
            the rest was fetched; default: the embedded ``changelog.histories``.
        comments: every comment when the embedded ``comment`` field was truncated.
        site: browse root for ``url`` (default: taken from the issue's ``self`` link).
        remote_links: the issue's ``RemoteIssueLink`` list when it was read (``None``: not
            read; their targets are then missing from ``links``/``blocked_by``).
        flagged_field: the id of the site's "Flagged" field (see the module docstring); when the
            issue's ``fields`` carry it, it says whether the issue is flagged now.

    Snapshot ``links``: every item linked now: native ``issuelinks``, items named in the
    description, in any comment, and in remote links. ``blocked_by``: native links read
    "is blocked by" (any type whose phrase ``bridge.core.model.link_kind`` calls ``blocked_by``),
    text saying "blocked by"/"depends on"/"waiting on" before a reference in the
    description or a comment, and remote links whose title says so.

    ``accounts``: assignee, reporter, creator, changelog authors and the accounts its
    ``assignee`` items name (``toString``/``fromString`` display names), comment authors,
    and mentioned accounts (ADF ``mention`` text as display name); ``emailAddress``
    lower-cased where the ``User`` object carries it (spec ``User``/``UserDetails``).

    Events come out oldest first (Jira embeds histories newest first).

    Raises:
        ValueError: the issue itself is unusable (no key, id, fields, summary, status,
            or timestamps); a malformed history or comment is skipped instead.
    """
    key = _req(raw, "key", "issue")
    if not isinstance(key, str) or not _KEY.match(key):
        raise Malformed(f"issue key {key!r} is not PROJECT-N")
    issue_id = str(_req(raw, "id", "issue"))
    f = _req(raw, "fields", "issue")
    if not isinstance(f, dict):
        raise Malformed("issue.fields is not an object")
    ref = ItemRef(TOOL, key)
    status = _req(f, "status", "issue.fields")
    status_name = str(_req(status, "name", "issue.fields.status"))
    cat_key = (status.get("statusCategory") or {}).get("key") if isinstance(status.get("statusCategory"), dict) else None
    category = status_category(status_name, cat_key)
    created = parse_time(_req(f, "created", "issue.fields"))
    updated = parse_time(_req(f, "updated", "issue.fields"))
    assignee = _account(f.get("assignee"))
    reporter = _account(f.get("reporter")) or _account(f.get("creator"))
    labels = f.get("labels") or []
    if not isinstance(labels, list):
        raise Malformed("issue.fields.labels is not a list")

    skipped: list[tuple[str, str]] = []
    if histories is None:
        cl = raw.get("changelog") if isinstance(raw.get("changelog"), dict) else {}
        histories = cl.get("histories") or []
    ordered = sorted(
        (h for h in histories),
        key=lambda h: (str(h.get("created", "")) if isinstance(h, dict) else "", _int(h.get("id") if isinstance(h, dict) else None)),
    )
    try:
        ordered.sort(key=lambda h: (parse_time(h["created"]), _int(h["id"])))
    except (Malformed, KeyError, TypeError):
        pass  # malformed ones are reported by map_histories; keep the string order
    done = status_name if cat_key == "done" else None
    events, sk = map_histories(ref, issue_id, ordered, done_status=done)
    skipped += sk
    if comments is None:
        cf = f.get("comment")
        comments = (cf.get("comments") if isinstance(cf, dict) else None) or []
    cev, sk = map_comments(ref, comments)
    events += cev
    skipped += sk
    events += _description_refs(key, issue_id, ref, f.get("description"), ordered, created, reporter)
    if remote_links is not None:
        rev, sk = map_remote_links(ref, issue_id, remote_links, updated, remote_links_added(ordered))
        events += rev
        skipped += sk

    natives, sk = native_links(f.get("issuelinks"), key)
    skipped += sk
    links: list[ItemRef] = [other for other, _ in natives]
    blocked: list[ItemRef] = [other for other, phrase in natives if link_kind(phrase) == BLOCKED_BY]
    for e in events:  # text and remote links stand now; changelog Link events may be undone since
        if e.kind == EventKind.LINKED and e.target and e.id.startswith(_CURRENT_LINK_IDS):
            links.append(e.target)
            if link_kind(e.link_type) == BLOCKED_BY:
                blocked.append(e.target)
    events.sort(key=lambda e: e.at)

    seen = _Accounts()
    for name in ("assignee", "reporter", "creator"):
        seen.user(f.get(name))
    for h in ordered:
        if isinstance(h, dict):
            seen.user(h.get("author"))
    for c in comments:
        if isinstance(c, dict):
            seen.user(c.get("author"))
            seen.user(c.get("updateAuthor"))
    for h in ordered:
        for it in (h.get("items") or []) if isinstance(h, dict) else []:
            if isinstance(it, dict) and (it.get("fieldId") or it.get("field")) == "assignee":
                seen.named(it.get("from"), it.get("fromString"))
                seen.named(it.get("to"), it.get("toString"))
    names: dict[str, str] = {}
    for body in [f.get("description")] + [c.get("body") for c in comments if isinstance(c, dict)]:
        _adf_mention_names(body, names)
    for e in events:
        for a in e.mentions:
            seen.named(a.id, names.get(a.id))

    flagged_since = _flagged_since(f, flagged_field, events, updated)
    if flagged_since is not None and category != StatusCategory.DONE:
        category = StatusCategory.BLOCKED
    root = site if site is not None else site_of(raw.get("self"))
    item = ItemSnapshot(
        ref=ref,
        title=str(_req(f, "summary", "issue.fields")),
        url=f"{root}/browse/{key}",
        kind=ItemKind.ISSUE,
        status=status_name,
        status_category=category,
        assignees=(assignee,) if assignee else (),
        labels=tuple(str(x) for x in labels),
        author=reporter,
        created_at=created,
        updated_at=updated,
        links=tuple(dict.fromkeys(links)),
        due=_due(f.get("duedate")),
        blocked_by=tuple(dict.fromkeys(blocked)),
        description=body_text(f.get("description"))[0].strip() or None,
        flagged_since=flagged_since,
    )
    return IssueMapping(item=item, events=events, skipped=skipped, accounts=seen.infos())


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0
