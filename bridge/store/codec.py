"""The store's codecs: model objects to and from the JSON and rows the tables hold.

Holds ``event_to_json`` / ``decode_events`` / ``row_to_event`` (``Event`` ⇄ ``EventRow``),
``item_to_json`` / ``row_to_item`` (``ItemSnapshot`` ⇄ ``ItemRow``), ``Link`` (a ``LinkRow``
as the rules read it) and ``aware_utc`` (a time read back from a row, as aware UTC).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone

from bridge.core.model import Account, Event, EventKind, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from bridge.store.tables import EventRow, ItemRow


def aware_utc(dt: datetime | None) -> datetime | None:
    """``dt`` as aware UTC (a naive time is taken as UTC); ``None`` stays ``None``."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def event_to_json(ev: Event) -> str:
    """The ``EventRow.data`` JSON of ``ev``: its fields but those the row has as columns."""
    d = asdict(ev)
    for k in ("tool", "id", "item", "at", "kind", "actor"):
        d.pop(k)
    d["subject"] = [ev.subject.tool, ev.subject.id] if ev.subject else None
    d["target"] = [ev.target.tool, ev.target.key] if ev.target else None
    d["mentions"] = [[m.tool, m.id] for m in ev.mentions]
    return json.dumps(d, sort_keys=True)


_KINDS = {k.value: k for k in EventKind}


def _stored_time(value) -> datetime:
    """An ``at`` read without SQLAlchemy's conversion: SQLite gives its text, others a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return aware_utc(value)


def decode_events(ref: ItemRef, rows) -> tuple[ItemRef, list[Event]]:
    """Decode one item's event rows ``(item_tool, item_key, tool, event_id, at, kind, actor, data)``
    (the inverse of ``event_to_json``), sharing the item and each account between its events:
    a first start decodes every stored event, and this is most of its time."""
    accounts: dict[str, Account] = {}

    def account(text):
        if not text:
            return None
        found = accounts.get(text)
        if found is None:
            tool, _, ident = text.partition(":")
            found = accounts[text] = Account(tool, ident)
        return found

    out = []
    for _t, _k, tool, event_id, at, kind, actor, data in rows:
        d = json.loads(data)
        subject, target, mentions = d.get("subject"), d.get("target"), d.get("mentions")
        out.append(Event(
            tool=tool,
            id=event_id,
            item=ref,
            at=_stored_time(at),
            kind=_KINDS[kind],
            actor=account(actor),
            subject=account(f"{subject[0]}:{subject[1]}") if subject else None,
            from_status=d.get("from_status"),
            to_status=d.get("to_status"),
            review_state=d.get("review_state"),
            label=d.get("label"),
            link_type=d.get("link_type"),
            target=ItemRef(*target) if target else None,
            text=d.get("text"),
            mentions=tuple(Account(*m) for m in mentions) if mentions else (),
            due=d.get("due"),
        ))
    return ref, out


def row_to_event(row: EventRow) -> Event:
    """The ``Event`` stored as ``row``."""
    ref = ItemRef(row.item_tool, row.item_key)
    return decode_events(ref, [(row.item_tool, row.item_key, row.tool, row.event_id, row.at, row.kind, row.actor,
                                 row.data)])[1][0]


def item_to_json(it: ItemSnapshot) -> str:
    """The ``ItemRow.data`` JSON of ``it`` (every field but its ref, which the row keys on)."""
    return json.dumps(
        {
            "title": it.title,
            "url": it.url,
            "kind": it.kind.value,
            "status": it.status,
            "status_category": it.status_category.value,
            "assignees": [[a.tool, a.id] for a in it.assignees],
            "labels": list(it.labels),
            "author": [it.author.tool, it.author.id] if it.author else None,
            "created_at": it.created_at.isoformat() if it.created_at else None,
            "updated_at": it.updated_at.isoformat() if it.updated_at else None,
            "links": [[r.tool, r.key] for r in it.links],
            "due": it.due.isoformat() if it.due else None,
            "blocked_by": [[r.tool, r.key] for r in it.blocked_by],
            **({"description": it.description} if it.description else {}),
            **({"flagged_since": it.flagged_since.isoformat()} if it.flagged_since else {}),
        },
        sort_keys=True,
    )


def _stored_due(tool: str, text: str | None) -> datetime | date | None:
    """``ItemSnapshot.due`` from its stored text: ``YYYY-MM-DD`` is a date alone, anything else a
    moment. Snapshots stored before dates were kept as dates hold a Jira due date (always a date
    alone) as ``YYYY-MM-DDT23:59:59+00:00``: read back as the date it was."""
    if not text:
        return None
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if tool == "jira" and text.endswith("T23:59:59+00:00"):
        return moment.date()
    return moment


def row_to_item(row: ItemRow) -> ItemSnapshot:
    """The ``ItemSnapshot`` stored as ``row`` (the inverse of ``item_to_json``)."""
    d = json.loads(row.data)
    return ItemSnapshot(
        ref=ItemRef(row.tool, row.key),
        title=d["title"],
        url=d["url"],
        kind=ItemKind(d["kind"]),
        status=d["status"],
        status_category=StatusCategory(d["status_category"]),
        assignees=tuple(Account(*a) for a in d["assignees"]),
        labels=tuple(d["labels"]),
        author=Account(*d["author"]) if d["author"] else None,
        created_at=datetime.fromisoformat(d["created_at"]) if d["created_at"] else None,
        updated_at=datetime.fromisoformat(d["updated_at"]) if d["updated_at"] else None,
        links=tuple(ItemRef(*r) for r in d["links"]),
        due=_stored_due(row.tool, d.get("due")),
        blocked_by=tuple(ItemRef(*r) for r in d.get("blocked_by", [])),
        description=d.get("description"),
        flagged_since=datetime.fromisoformat(d["flagged_since"]) if d.get("flagged_since") else None,
    )


@dataclass(frozen=True)
class Link:
    """A link graph edge as the rules read it (see ``LinkRow``)."""

    src: ItemRef
    dst: ItemRef
    kind: str
    began_at: datetime
    evidence: str | None = None
