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
URL in a comment                     ``comment:<comment id>:mentions:<tool>:<key>``
URL in the description               ``description:<issue id>:mentions:<tool>:<key>``
remote link                          ``remotelink:<issue id>:<remote link id>``
===================================  ==================================================

Status categories: ``statusCategory.key`` ``new`` → TODO, ``indeterminate`` →
IN_PROGRESS (IN_REVIEW when the status name says "review"), ``done`` → DONE; a status
named like "blocked", "waiting" or "on hold" → BLOCKED whatever its category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from bridge.model import Account, Event, EventKind, ItemKind, ItemRef, ItemSnapshot, StatusCategory, Tool

TOOL = Tool.JIRA.value

__all__ = [
    "IssueMapping",
    "parse_time",
    "user_id",
    "status_category",
    "body_text",
    "mentions",
    "cross_tool_refs",
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
_GITHUB = re.compile(r"https?://github\.com/([\w.-]+)/([\w.-]+)/(?:issues|pull)/(\d+)")
_ASANA_0 = re.compile(r"https?://app\.asana\.com/0/(\d+)/(\d+)")
_ASANA_1 = re.compile(r"https?://app\.asana\.com/1/\d+/(?:[a-z_]+/\d+/)*task/(\d+)")


class Malformed(ValueError):
    """A vendor object lacks what the mapping needs."""


@dataclass
class IssueMapping:
    """The snapshot and events of one issue, plus ``(vendor id, reason)`` for parts skipped."""

    item: ItemSnapshot
    events: list[Event] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


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


def _adf_walk(node: Any, out: list[str], found: list[Account], urls: list[str]) -> None:
    if isinstance(node, list):
        for n in node:
            _adf_walk(n, out, found, urls)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "text":
        out.append(str(node.get("text", "")))
        for mark in node.get("marks") or []:
            if isinstance(mark, dict) and mark.get("type") == "link":
                href = (mark.get("attrs") or {}).get("href")
                if isinstance(href, str):
                    urls.append(href)
    elif kind == "hardBreak":
        out.append("\n")
    elif kind == "mention":
        if isinstance(attrs.get("id"), str) and attrs["id"]:
            found.append(Account(TOOL, attrs["id"]))
        out.append(str(attrs.get("text") or f"@{attrs.get('id', '')}"))
    elif kind in ("inlineCard", "blockCard", "embedCard"):
        if isinstance(attrs.get("url"), str):
            urls.append(attrs["url"])
            out.append(attrs["url"])
    else:
        _adf_walk(node.get("content", []), out, found, urls)
        if kind in ("paragraph", "heading", "listItem", "codeBlock", "blockquote"):
            out.append("\n")


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
    _adf_walk(body, out, found, urls)
    return "".join(out).strip(), _dedup(found), urls


def mentions(text: str | None) -> tuple[Account, ...]:
    """People mentioned in wiki markup: ``[~accountid:ID]`` (Cloud) and ``[~username]``
    (Data Center), deduplicated, in order; escaped ``\\[~…]`` does not count."""
    if not isinstance(text, str):
        return ()
    return _dedup(Account(TOOL, m.group(1)) for m in _WIKI_MENTION.finditer(text))


def cross_tool_refs(text: str | None, extra_urls: Iterable[str] = ()) -> list[ItemRef]:
    """Items of other tools named by URL in ``text`` (and in ``extra_urls``), in order.

    GitHub ``https://github.com/<o>/<r>/issues|pull/<n>`` → ``ItemRef("github", "o/r#n")``;
    Asana ``https://app.asana.com/0/<project>/<task>`` and ``…/1/<ws>/…/task/<gid>`` →
    ``ItemRef("asana", "<task gid>")``.
    """
    found: list[ItemRef] = []
    for chunk in [text or "", *extra_urls]:
        if not isinstance(chunk, str):
            continue
        hits: list[tuple[int, ItemRef]] = []
        hits += [(m.start(), ItemRef(Tool.GITHUB.value, f"{m.group(1)}/{m.group(2)}#{m.group(3)}")) for m in _GITHUB.finditer(chunk)]
        hits += [(m.start(), ItemRef(Tool.ASANA.value, m.group(2))) for m in _ASANA_0.finditer(chunk) if m.group(2) != "0"]
        hits += [(m.start(), ItemRef(Tool.ASANA.value, m.group(1))) for m in _ASANA_1.finditer(chunk)]
        found += [ref for _, ref in sorted(hits)]
    return list(dict.fromkeys(found))


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


def _due(value: Any) -> datetime | None:
    """``fields.duedate`` (``YYYY-MM-DD``, a date without time) as the end of that day, 23:59:59 UTC."""
    if not value:
        return None
    try:
        day = datetime.fromisoformat(str(value)[:10]).date()
    except ValueError:
        raise Malformed(f"duedate {value!r} is not a date") from None
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------- comments


def map_comments(ref: ItemRef, comments: Iterable[Any]) -> tuple[list[Event], list[tuple[str, str]]]:
    """``commented`` events (text, mentions) of ``Comment`` objects, plus a ``linked``
    event (``link_type="mentions"``) per GitHub/Asana item URL in a comment.

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
        text, who, urls = body_text(c.get("body"))
        events.append(Event(TOOL, f"comment:{cid}", ref, at, EventKind.COMMENTED, actor=actor, text=text, mentions=who))
        for target in cross_tool_refs(text, urls):
            events.append(Event(TOOL, f"comment:{cid}:mentions:{target.tool}:{target.key}", ref, at,
                                EventKind.LINKED, actor=actor, link_type="mentions", target=target))
    return events, skipped


def map_remote_links(ref: ItemRef, issue_id: str, links: Iterable[Any], at: datetime,
                     created: dict[str, datetime] | None = None) -> tuple[list[Event], list[tuple[str, str]]]:
    """``linked`` events (``link_type="remote link"``) for ``RemoteIssueLink`` objects whose
    ``object.url`` names a GitHub or Asana item; other URLs are ignored.

    ``created`` maps remote link id → the time of its ``RemoteIssueLink`` changelog item;
    links without one are dated ``at``.
    """
    events: list[Event] = []
    skipped: list[tuple[str, str]] = []
    for n, rl in enumerate(links):
        try:
            rid = str(_req(rl, "id", "remote link"))
            url = _req(_req(rl, "object", "remote link"), "url", "remote link object")
        except Malformed as exc:
            skipped.append((f"{ref.key} remote link #{n}", f"malformed remote link: {exc}"))
            continue
        for target in cross_tool_refs(str(url)):
            events.append(Event(TOOL, f"remotelink:{issue_id}:{rid}", ref, (created or {}).get(rid, at),
                                EventKind.LINKED, link_type="remote link", target=target))
            break
    return events, skipped


# ---------------------------------------------------------------------------- issues


def site_of(self_url: str | None) -> str:
    """``https://acme.atlassian.net`` from an object's ``self`` link (``…/rest/api/…``)."""
    if not isinstance(self_url, str) or "/rest/" not in self_url:
        return ""
    return self_url.split("/rest/", 1)[0]


def map_issue(
    raw: Any,
    *,
    histories: list | None = None,
    comments: list | None = None,
    site: str | None = None,
) -> IssueMapping:
    """Map one ``IssueBean`` to its snapshot and events.

    Args:
        raw: the issue as served by search (``expand=changelog``) or ``GET /issue/{key}``.
        histories: every changelog history when the embedded changelog was truncated and
            the rest was fetched; default: the embedded ``changelog.histories``.
        comments: every comment when the embedded ``comment`` field was truncated.
        site: browse root for ``url`` (default: taken from the issue's ``self`` link).

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

    desc, _, desc_urls = body_text(f.get("description"))
    for target in cross_tool_refs(desc, desc_urls):
        events.append(Event(TOOL, f"description:{issue_id}:mentions:{target.tool}:{target.key}", ref, created,
                            EventKind.LINKED, actor=reporter, link_type="mentions", target=target))

    links: list[ItemRef] = []
    for n, ln in enumerate(f.get("issuelinks") or []):
        other = (ln.get("outwardIssue") or ln.get("inwardIssue")) if isinstance(ln, dict) else None
        if isinstance(other, dict) and isinstance(other.get("key"), str):
            links.append(ItemRef(TOOL, other["key"]))
        else:
            skipped.append((f"{key} issuelink #{n}", "malformed issue link: no inwardIssue/outwardIssue key"))
    links += [e.target for e in events if e.kind == EventKind.LINKED and e.target and e.target.tool != TOOL]
    events.sort(key=lambda e: e.at)
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
    )
    return IssueMapping(item=item, events=events, skipped=skipped)


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0
