"""The daemon's memory: events, items, cursors, handoffs, findings and the outbox.

SQLModel over SQLAlchemy; SQLite in WAL mode by default (``$STATE_DIRECTORY/state.db``),
any SQLAlchemy URL otherwise. The schema is owned by Alembic (``bridge/migrations``);
``Store.open`` upgrades to head before use. The store is the only shared state
(DESIGN.md "Store").

Times go in aware (any zone) and come back aware UTC (SQLModel's ``UTCDateTime``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import event as sa_event
from sqlalchemy import UniqueConstraint, Index
from sqlmodel import Field, Session, SQLModel, create_engine, select

from bridge.core.model import (
    BLOCKED_BY,
    MENTION,
    Account,
    AccountInfo,
    Event,
    EventKind,
    ItemKind,
    ItemRef,
    ItemSnapshot,
    PollResult,
    StatusCategory,
)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tool", "event_id", name="uq_events_tool_event_id"),
        Index("ix_events_item", "item_tool", "item_key", "at"),
    )
    pk: int | None = Field(default=None, primary_key=True)
    tool: str
    event_id: str
    item_tool: str
    item_key: str
    at: datetime
    kind: str
    actor: str | None = None
    data: str  # JSON of the remaining Event fields
    stored_at: datetime


class ItemRow(SQLModel, table=True):
    __tablename__ = "items"
    tool: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    updated_at: datetime | None = None
    data: str  # JSON of ItemSnapshot
    seen_at: datetime


class CursorRow(SQLModel, table=True):
    __tablename__ = "cursors"
    connector: str = Field(primary_key=True)
    scope: str = Field(primary_key=True)
    value: str  # JSON
    updated_at: datetime


class HandoffRow(SQLModel, table=True):
    __tablename__ = "handoffs"
    key: str = Field(primary_key=True)
    rule: str
    item_tool: str
    item_key: str
    sender: str | None = None
    receiver: str
    sent_at: datetime
    deadline: datetime
    state: str
    ended_at: datetime | None = None
    updated_at: datetime


class FindingRow(SQLModel, table=True):
    __tablename__ = "findings"
    key: str = Field(primary_key=True)
    rule: str
    detect: str
    item_tool: str
    item_key: str
    receiver: str | None = None
    at: datetime
    evidence: str  # JSON list of event ids
    summary: str
    first_seen: datetime
    resolved_at: datetime | None = None


class AccountRow(SQLModel, table=True):
    """An account seen in a tool, with what the tool showed of it (for ``bridge.core.people``)."""

    __tablename__ = "accounts"
    tool: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    display_name: str | None = None
    email: str | None = None
    first_seen: datetime
    last_seen: datetime


class LinkRow(SQLModel, table=True):
    """One edge of the link graph: ``src`` is linked to ``dst`` now.

    ``kind``: ``blocked_by`` (src waits on dst) or ``mention`` (same work, no waiting).
    ``began_at``: the first ``linked`` event on src naming dst, else when src was first seen
    with the link. ``evidence``: that event's id, if any. Rows are rewritten from each new
    snapshot of ``src`` (``ItemSnapshot.links`` / ``blocked_by``).
    """

    __tablename__ = "links"
    __table_args__ = (Index("ix_links_dst", "dst_tool", "dst_key"),)
    src_tool: str = Field(primary_key=True)
    src_key: str = Field(primary_key=True)
    dst_tool: str = Field(primary_key=True)
    dst_key: str = Field(primary_key=True)
    kind: str
    began_at: datetime
    evidence: str | None = None


class WalkStateRow(SQLModel, table=True):
    """What the evaluator derived from one item's events, kept so a restart need not re-read them.

    ``data``: JSON written and read by ``bridge.engine.evaluator`` (open handoffs with evidence, wait-for
    edges); ``None`` when the item has nothing open. ``dirty``: set by ``Store.save_poll`` when the
    item or one of its events was stored, cleared when the evaluator has walked it again. The
    whole table is valid only under the fingerprint kept in the ``cursors`` row
    (``WALK_STATE_CURSOR``); the evaluator rebuilds it from the events when that differs.
    """

    __tablename__ = "walk_states"
    tool: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    dirty: bool = False
    data: str | None = None


#: ``cursors`` row (connector, scope) holding the fingerprint the ``walk_states`` rows were built under.
WALK_STATE_CURSOR = ("@evaluator", "walk_states")


@dataclass(frozen=True)
class Link:
    """A link graph edge as the rules read it (see ``LinkRow``)."""

    src: ItemRef
    dst: ItemRef
    kind: str
    began_at: datetime
    evidence: str | None = None


class OutboxRow(SQLModel, table=True):
    """One planned write. ``key`` is the idempotency key (rule, finding, step)."""

    __tablename__ = "outbox"
    key: str = Field(primary_key=True)
    marker: str = Field(index=True)
    finding_key: str = Field(index=True)
    rule: str
    step: int
    connector: str
    action: str  # JSON of bridge.core.model.Action
    status: str = Field(index=True)  # pending | sending | unknown | done | dry_run | cancelled | failed
    attempts: int = 0
    created_at: datetime
    sent_at: datetime | None = None
    confirmed_at: datetime | None = None
    url: str | None = None
    last_error: str | None = None


# --------------------------------------------------------------------------- codecs


def event_to_json(ev: Event) -> str:
    d = asdict(ev)
    for k in ("tool", "id", "item", "at", "kind", "actor"):
        d.pop(k)
    d["subject"] = [ev.subject.tool, ev.subject.id] if ev.subject else None
    d["target"] = [ev.target.tool, ev.target.key] if ev.target else None
    d["mentions"] = [[m.tool, m.id] for m in ev.mentions]
    return json.dumps(d, sort_keys=True)


def _account(s: str | None) -> Account | None:
    if not s:
        return None
    tool, _, ident = s.partition(":")
    return Account(tool, ident)


_KINDS = {k.value: k for k in EventKind}


def _stored_time(value) -> datetime:
    """An ``at`` read without SQLAlchemy's conversion: SQLite gives its text, others a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return _aware(value)


def _decode_events(ref: ItemRef, rows) -> tuple[ItemRef, list[Event]]:
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
    ref = ItemRef(row.item_tool, row.item_key)
    return _decode_events(ref, [(row.item_tool, row.item_key, row.tool, row.event_id, row.at, row.kind, row.actor,
                                 row.data)])[1][0]


def item_to_json(it: ItemSnapshot) -> str:
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
        },
        sort_keys=True,
    )


def row_to_item(row: ItemRow) -> ItemSnapshot:
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
        due=datetime.fromisoformat(d["due"]) if d.get("due") else None,
        blocked_by=tuple(ItemRef(*r) for r in d.get("blocked_by", [])),
    )


# --------------------------------------------------------------------------- store


def _chunks_by_tool(refs, size: int = 400) -> Iterator[tuple[str, list[str]]]:
    """``(tool, keys)`` chunks of at most ``size`` keys, for indexed ``IN`` queries."""
    by_tool: dict[str, list[str]] = {}
    for r in sorted(refs):
        by_tool.setdefault(r.tool, []).append(r.key)
    for tool, keys in by_tool.items():
        for i in range(0, len(keys), size):
            yield tool, keys[i:i + size]

MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


class Store:
    """Transactions over the daemon's tables.

    Create with ``Store.open(url)``; every public method is one transaction unless it
    takes a ``session``.
    """

    def __init__(self, engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> "Store":
        """Open (creating and migrating) the database at ``url``.

        Raises:
            sqlalchemy.exc.OperationalError: the database cannot be opened.
        """
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):

            @sa_event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=5000")
                cur.close()

        upgrade(url)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    def _insert(self, table):
        """``INSERT`` with ``on_conflict_do_nothing`` for this database's dialect."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # ---- polling

    def get_cursor(self, connector: str, scope: str) -> dict | None:
        with self.session() as s:
            row = s.get(CursorRow, (connector, scope))
            return json.loads(row.value) if row else None

    def save_poll(self, connector: str, scope: str, result: PollResult, now: datetime) -> int:
        """Store a poll's events and items, then move its cursor, in one transaction.

        Events already stored (same tool and event id) are ignored. Returns how many
        events were new.
        """
        new = 0
        with self.session() as s:
            for ev in result.events:
                stmt = (
                    self._insert(EventRow)
                    .values(
                        tool=ev.tool,
                        event_id=ev.id,
                        item_tool=ev.item.tool,
                        item_key=ev.item.key,
                        at=ev.at,
                        kind=ev.kind.value,
                        actor=str(ev.actor) if ev.actor else None,
                        data=event_to_json(ev),
                        stored_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["tool", "event_id"])
                )
                new += s.exec(stmt).rowcount or 0
            for it in result.items:
                row = s.get(ItemRow, (it.ref.tool, it.ref.key))
                data = item_to_json(it)
                if row is None:
                    s.add(ItemRow(tool=it.ref.tool, key=it.ref.key, updated_at=it.updated_at, data=data, seen_at=now))
                else:
                    row.updated_at, row.data, row.seen_at = it.updated_at, data, now
                    s.add(row)
            s.flush()
            for it in result.items:
                self._refresh_links(s, it, now)
            self._mark_dirty(s, {it.ref for it in result.items} | {ev.item for ev in result.events})
            self._save_accounts(s, result.accounts, now)
            if result.next_cursor is not None:
                row = s.get(CursorRow, (connector, scope))
                value = json.dumps(result.next_cursor, sort_keys=True)
                if row is None:
                    s.add(CursorRow(connector=connector, scope=scope, value=value, updated_at=now))
                else:
                    row.value, row.updated_at = value, now
                    s.add(row)
        return new

    @staticmethod
    def _refresh_links(s: Session, it: ItemSnapshot, now: datetime) -> None:
        """Rewrite ``it``'s outgoing link rows from its snapshot, keeping each link's start."""
        old = {(r.dst_tool, r.dst_key): r for r in s.exec(select(LinkRow).where(LinkRow.src_tool == it.ref.tool, LinkRow.src_key == it.ref.key))}
        wanted = {(r.tool, r.key): (BLOCKED_BY if r in it.blocked_by else MENTION) for r in (*it.links, *it.blocked_by)}
        if not wanted and not old:
            return
        first: dict[tuple[str, str], tuple[datetime, str]] = {}
        q = select(EventRow.at, EventRow.event_id, EventRow.data).where(
            EventRow.item_tool == it.ref.tool, EventRow.item_key == it.ref.key, EventRow.kind == EventKind.LINKED.value
        ).order_by(EventRow.at, EventRow.pk)
        for at, event_id, data in s.exec(q):
            target = json.loads(data).get("target")
            if target and tuple(target) not in first:
                first[tuple(target)] = (_aware(at), event_id)
        for dst, row in old.items():
            if dst not in wanted:
                s.delete(row)
        fallback = it.created_at or now
        for dst, kind in wanted.items():
            began, evidence = first.get(dst, (fallback, None))
            row = old.get(dst)
            if row is None:
                s.add(LinkRow(src_tool=it.ref.tool, src_key=it.ref.key, dst_tool=dst[0], dst_key=dst[1],
                              kind=kind, began_at=began, evidence=evidence))
            elif row.kind != kind or (evidence and row.evidence != evidence):
                row.kind, row.began_at, row.evidence = kind, began, evidence
                s.add(row)

    def _mark_dirty(self, s: Session, refs: set[ItemRef]) -> None:
        """Flag ``refs``' walk states as out of date (in the poll's own transaction)."""
        if not refs:
            return
        stmt = self._insert(WalkStateRow.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["tool", "key"], set_={"dirty": True})
        s.execute(stmt, [{"tool": r.tool, "key": r.key, "dirty": True, "data": None} for r in sorted(refs)])

    @staticmethod
    def _save_accounts(s: Session, accounts: list[AccountInfo], now: datetime) -> None:
        seen: dict[tuple[str, str], AccountInfo] = {}
        for info in accounts:
            key = (info.account.tool, info.account.id)
            prev = seen.get(key)
            seen[key] = AccountInfo(info.account, info.display_name or (prev.display_name if prev else None),
                                    info.email or (prev.email if prev else None))
        for (tool, ident), info in seen.items():
            row = s.get(AccountRow, (tool, ident))
            email = info.email.lower() if info.email else None
            if row is None:
                s.add(AccountRow(tool=tool, id=ident, display_name=info.display_name, email=email, first_seen=now, last_seen=now))
            else:
                row.display_name = info.display_name or row.display_name
                row.email = email or row.email
                row.last_seen = now
                s.add(row)

    def accounts(self) -> list:
        """Every account seen in a poll, ordered by tool and id: rows with ``AccountRow``'s fields
        (``tool``, ``id``, ``display_name``, ``email``, ``first_seen``, ``last_seen``), read-only."""
        table = AccountRow.__table__
        with self.engine.connect() as conn:  # plain rows: an ORM object each costs more than the read
            return list(conn.execute(select(table).order_by(table.c.tool, table.c.id)))

    def event_accounts(self) -> dict[str, int]:
        """``"tool:id"`` of every event actor → number of events it acted in."""
        from sqlalchemy import func

        with self.session() as s:
            q = select(EventRow.actor, func.count()).where(EventRow.actor.is_not(None)).group_by(EventRow.actor)
            return {actor: n for actor, n in s.exec(q)}

    def links(self, items: set[ItemRef] | None = None) -> list[Link]:
        """Link graph edges (all, or those touching ``items`` as source or destination)."""
        c = LinkRow.__table__.c
        base = select(c.src_tool, c.src_key, c.dst_tool, c.dst_key, c.kind, c.began_at, c.evidence)
        with self.engine.connect() as conn:
            if items is None:
                rows = list(conn.execute(base))
            else:
                rows = []
                for tool, keys in _chunks_by_tool(items):
                    rows += conn.execute(base.where(c.src_tool == tool, c.src_key.in_(keys)))
                    rows += conn.execute(base.where(c.dst_tool == tool, c.dst_key.in_(keys)))
            unique = {(r[0], r[1], r[2], r[3]): r for r in rows}
        return [Link(ItemRef(st, sk), ItemRef(dt, dk), kind, _aware(began), evidence)
                for st, sk, dt, dk, kind, began, evidence in unique.values()]

    def item_updated_at(self, tool: str, keys: list[str]) -> dict[str, datetime | None]:
        """Stored ``updated_at`` for each of ``keys`` that is known."""
        out: dict[str, datetime | None] = {}
        with self.session() as s:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                for row in s.exec(select(ItemRow).where(ItemRow.tool == tool, ItemRow.key.in_(chunk))):
                    out[row.key] = _aware(row.updated_at)
        return out

    # ---- reading for rules

    def events(self, item: ItemRef | None = None) -> list[Event]:
        """All stored events (or one item's), ordered by time then storage order."""
        with self.session() as s:
            q = select(EventRow)
            if item is not None:
                q = q.where(EventRow.item_tool == item.tool, EventRow.item_key == item.key)
            return [row_to_event(r) for r in s.exec(q.order_by(EventRow.at, EventRow.pk))]

    def events_by_item(self, items: set[ItemRef] | None = None) -> Iterator[tuple[ItemRef, list[Event]]]:
        """Each item's events, oldest first, one item at a time (all items, or ``items``).

        Streams in index order (``ix_events_item``), so memory holds one item's events. Rows are
        decoded by :func:`_decode_events` (the evaluator reads every event at a first start).
        """
        from sqlalchemy import String, type_coerce

        cols = EventRow.__table__.c
        base = select(cols.item_tool, cols.item_key, cols.tool, cols.event_id, type_coerce(cols.at, String),
                      cols.kind, cols.actor, cols.data)
        if items is None:
            queries = [base.order_by(cols.item_tool, cols.item_key, cols.at, cols.pk)]
        else:
            queries = [base.where(cols.item_tool == tool, cols.item_key.in_(keys))
                       .order_by(cols.item_tool, cols.item_key, cols.at, cols.pk)
                       for tool, keys in _chunks_by_tool(items)]
        with self.engine.connect() as conn:
            for q in queries:
                current, bucket = None, []
                for row in conn.execute(q).yield_per(5000):
                    ref = (row[0], row[1])
                    if ref != current:
                        if bucket:
                            yield _decode_events(ItemRef(*current), bucket)
                        current, bucket = ref, []
                    bucket.append(row)
                if bucket:
                    yield _decode_events(ItemRef(*current), bucket)

    def items(self) -> dict[ItemRef, ItemSnapshot]:
        with self.session() as s:
            return {ItemRef(r.tool, r.key): row_to_item(r) for r in s.exec(select(ItemRow))}

    def items_for(self, refs: set[ItemRef]) -> dict[ItemRef, ItemSnapshot]:
        """Snapshots of ``refs`` that are stored."""
        out: dict[ItemRef, ItemSnapshot] = {}
        with self.session() as s:
            for tool, keys in _chunks_by_tool(refs):
                for row in s.exec(select(ItemRow).where(ItemRow.tool == tool, ItemRow.key.in_(keys))):
                    out[ItemRef(row.tool, row.key)] = row_to_item(row)
        return out

    def item(self, ref: ItemRef) -> ItemSnapshot | None:
        with self.session() as s:
            row = s.get(ItemRow, (ref.tool, ref.key))
            return row_to_item(row) if row else None

    # ---- the evaluator's derived state

    def walk_states(self) -> tuple[str | None, dict[ItemRef, str], set[ItemRef]]:
        """``(fingerprint, {item: state JSON}, dirty items)`` as the evaluator last left them.

        ``fingerprint`` is ``None`` when no state was ever written.
        """
        known = self.get_cursor(*WALK_STATE_CURSOR)
        table = WalkStateRow.__table__
        states: dict[ItemRef, str] = {}
        dirty: set[ItemRef] = set()
        with self.engine.connect() as conn:
            q = select(table.c.tool, table.c.key, table.c.dirty, table.c.data).where(
                (table.c.dirty == True) | (table.c.data.is_not(None)))  # noqa: E712
            for tool, key, is_dirty, data in conn.execute(q):
                ref = ItemRef(tool, key)
                if is_dirty:
                    dirty.add(ref)
                elif data is not None:
                    states[ref] = data
        return (known or {}).get("fingerprint"), states, dirty

    def save_walk_states(self, states: dict[ItemRef, str | None], now: datetime, *,
                         fingerprint: str | None = None, replace_all: bool = False) -> None:
        """Write the evaluator's state of ``states``' items (``None``: nothing open) and clear their
        dirty flags, in one transaction.

        ``replace_all``: ``states`` covers every item (a rebuild); other rows are dropped.
        ``fingerprint``: what the states were built under, kept for the next start.
        """
        table = WalkStateRow.__table__
        with self.session() as s:
            if replace_all:
                s.execute(table.delete())
            keep = [{"tool": r.tool, "key": r.key, "dirty": False, "data": d} for r, d in states.items() if d is not None]
            drop = [{"t": r.tool, "k": r.key} for r, d in states.items() if d is None]
            if drop and not replace_all:
                from sqlalchemy import bindparam

                s.execute(table.delete().where(table.c.tool == bindparam("t"), table.c.key == bindparam("k")), drop)
            if keep:
                stmt = self._insert(table)
                stmt = stmt.on_conflict_do_update(index_elements=["tool", "key"],
                                                  set_={"dirty": False, "data": stmt.excluded.data})
                s.execute(stmt, keep)
            if fingerprint is not None:
                row = s.get(CursorRow, WALK_STATE_CURSOR)
                value = json.dumps({"fingerprint": fingerprint})
                if row is None:
                    s.add(CursorRow(connector=WALK_STATE_CURSOR[0], scope=WALK_STATE_CURSOR[1], value=value, updated_at=now))
                else:
                    row.value, row.updated_at = value, now
                    s.add(row)

    # ---- handoffs, findings, outbox

    def upsert_handoffs(self, rows: list[HandoffRow]) -> None:
        """Insert or replace ``rows`` by key, in one statement (a restart writes thousands)."""
        if not rows:
            return
        table = HandoffRow.__table__
        values = [{c.name: getattr(r, c.name) for c in table.columns} for r in rows]
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=["key"],
                                          set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != "key"})
        with self.session() as s:
            s.execute(stmt, values)

    def handoffs(self, item: ItemRef | None = None) -> list[HandoffRow]:
        with self.session() as s:
            q = select(HandoffRow)
            if item is not None:
                q = q.where(HandoffRow.item_tool == item.tool, HandoffRow.item_key == item.key)
            return list(s.exec(q.order_by(HandoffRow.sent_at)))

    def record_finding_and_plan(self, finding: FindingRow, outbox: list[OutboxRow]) -> list[OutboxRow]:
        """Record ``finding`` (once) and add the ``outbox`` rows not yet planned, in one transaction.

        Returns the rows that were new.
        """
        added: list[OutboxRow] = []
        with self.session() as s:
            if s.get(FindingRow, finding.key) is None:
                s.add(finding)
            for row in outbox:
                if s.get(OutboxRow, row.key) is None:
                    s.add(row)
                    added.append(row)
        return added

    def findings(self) -> list[FindingRow]:
        with self.session() as s:
            return list(s.exec(select(FindingRow).order_by(FindingRow.at)))

    def resolve_findings(self, active_keys: set[str], now: datetime) -> list[str]:
        """Mark findings not in ``active_keys`` resolved; return their keys."""
        done: list[str] = []
        with self.session() as s:
            for row in s.exec(select(FindingRow).where(FindingRow.resolved_at.is_(None))):
                if row.key not in active_keys:
                    row.resolved_at = now
                    s.add(row)
                    done.append(row.key)
        return done

    def outbox(self, statuses: tuple[str, ...] | None = None) -> list[OutboxRow]:
        with self.session() as s:
            q = select(OutboxRow)
            if statuses:
                q = q.where(OutboxRow.status.in_(statuses))
            return list(s.exec(q.order_by(OutboxRow.created_at, OutboxRow.key)))

    def update_outbox(self, key: str, **changes) -> OutboxRow:
        with self.session() as s:
            row = s.get(OutboxRow, key)
            for k, v in changes.items():
                setattr(row, k, v)
            s.add(row)
            return row

