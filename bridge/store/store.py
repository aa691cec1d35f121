"""The daemon's memory: events, items, cursors, handoffs, findings and the outbox.

Holds ``Store`` (open and migrate, ``save_poll``, the queries the engine, the actions and the
commands run) and ``upgrade`` (Alembic to head). SQLModel over SQLAlchemy; SQLite in WAL mode
by default (``$STATE_DIRECTORY/state.db``), any SQLAlchemy URL otherwise. The schema is owned
by Alembic (``bridge/store/migrations``); ``Store.open`` upgrades to head before use. The store
is the only shared state (DESIGN.md "Store"). Tables in ``bridge.store.tables``, their JSON
codecs in ``bridge.store.codec``.

Times go in aware (any zone) and come back aware UTC (SQLModel's ``UTCDateTime``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from sqlalchemy import event as sa_event
from sqlmodel import Session, create_engine, select

from bridge.core.model import BLOCKED_BY, MENTION, AccountInfo, EventKind, Event, ItemRef, ItemSnapshot, PollResult
from bridge.store.codec import Link, aware_utc, decode_events, event_to_json, item_to_json, row_to_event, row_to_item
from bridge.store.tables import (
    WALK_STATE_CURSOR,
    AccountRow,
    CursorRow,
    FEEDBACK_KINDS,
    EventRow,
    FeedbackRow,
    FindingRow,
    HandoffRow,
    ItemRow,
    LinkRow,
    OutboxRow,
    RetryRow,
    WalkStateRow,
)


def _chunks_by_tool(refs, size: int = 400) -> Iterator[tuple[str, list[str]]]:
    """``(tool, keys)`` chunks of at most ``size`` keys, for indexed ``IN`` queries."""
    by_tool: dict[str, list[str]] = {}
    for r in sorted(refs):
        by_tool.setdefault(r.tool, []).append(r.key)
    for tool, keys in by_tool.items():
        for i in range(0, len(keys), size):
            yield tool, keys[i:i + size]


MIGRATIONS = Path(__file__).with_name("migrations")
#: ``cursors.scope`` prefix of a scope's last successful poll (``Store.mark_polled``).
POLLED = "@polled:"


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
        with self.session() as s:
            new = 0
            if result.events:
                # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING
                stmt = (self._insert(EventRow.__table__).on_conflict_do_nothing(index_elements=["tool", "event_id"])
                        .returning(EventRow.__table__.c.pk))
                for i in range(0, len(result.events), 500):
                    values = [dict(tool=ev.tool, event_id=ev.id, item_tool=ev.item.tool, item_key=ev.item.key, at=ev.at,
                                   kind=ev.kind.value, actor=str(ev.actor) if ev.actor else None,
                                   data=event_to_json(ev), stored_at=now)
                              for ev in result.events[i:i + 500]]
                    new += len(s.execute(stmt, values).all())
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
                first[tuple(target)] = (aware_utc(at), event_id)
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
        return [Link(ItemRef(st, sk), ItemRef(dt, dk), kind, aware_utc(began), evidence)
                for st, sk, dt, dk, kind, began, evidence in unique.values()]

    def item_updated_at(self, tool: str, keys: list[str]) -> dict[str, datetime | None]:
        """Stored ``updated_at`` for each of ``keys`` that is known."""
        out: dict[str, datetime | None] = {}
        with self.session() as s:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                for row in s.exec(select(ItemRow).where(ItemRow.tool == tool, ItemRow.key.in_(chunk))):
                    out[row.key] = aware_utc(row.updated_at)
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
        decoded by :func:`decode_events` (the evaluator reads every event at a first start).
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
                            yield decode_events(ItemRef(*current), bucket)
                        current, bucket = ref, []
                    bucket.append(row)
                if bucket:
                    yield decode_events(ItemRef(*current), bucket)

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

    def record_finding_and_plan(self, finding: FindingRow, outbox: list[OutboxRow], *,
                                revive: tuple[str, str] | None = None) -> list[OutboxRow]:
        """Record ``finding`` (once; a resolved one is open again) and add the ``outbox`` rows not
        yet planned, in one transaction.

        ``revive = (from_status, to_status)``: a planned row found in ``from_status`` (a row
        cancelled while its finding did not stand; never sent) is put back to ``to_status``,
        since the finding stands again. Returns the rows that were new or revived.
        """
        added: list[OutboxRow] = []
        findings, rows = FindingRow.__table__, OutboxRow.__table__
        with self.session() as s:
            known = s.get(FindingRow, finding.key)
            if known is None:
                # ON CONFLICT DO NOTHING: another replica (an old leader finishing its cycle) may
                # have recorded the same finding since this transaction looked.
                s.exec(self._insert(findings).values(**finding.model_dump()).on_conflict_do_nothing(index_elements=["key"]))
            elif known.resolved_at is not None:
                known.resolved_at = None
                s.add(known)
            for row in outbox:
                old = s.get(OutboxRow, row.key)
                if old is None:
                    got = s.exec(self._insert(rows).values(**row.model_dump()).on_conflict_do_nothing(
                        index_elements=["key"]).returning(rows.c.key)).first()
                    if got is not None:
                        added.append(row)
                elif revive is not None and old.status == revive[0]:
                    old.status = revive[1]
                    s.add(old)
                    added.append(old)
        return added

    def plan_rows(self, outbox: list[OutboxRow]) -> list[OutboxRow]:
        """Add the ``outbox`` rows not yet planned (by key; ``ON CONFLICT DO NOTHING``, safe with
        replicas), in one transaction, with no finding (a reply to a ``/hb`` command). Returns
        the rows that were new."""
        added: list[OutboxRow] = []
        rows = OutboxRow.__table__
        with self.session() as s:
            for row in outbox:
                got = s.exec(self._insert(rows).values(**row.model_dump()).on_conflict_do_nothing(
                    index_elements=["key"]).returning(rows.c.key)).first()
                if got is not None:
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

    def count_sent(self, connector: str, statuses: tuple[str, ...], after: datetime) -> int:
        """How many ``connector`` outbox rows in ``statuses`` have ``sent_at`` later than ``after``
        (one ``SELECT count(*)``; the write budget's count)."""
        from sqlalchemy import func

        q = select(func.count()).select_from(OutboxRow).where(
            OutboxRow.connector == connector, OutboxRow.status.in_(statuses), OutboxRow.sent_at > after)
        with self.session() as s:
            return s.exec(q).one()

    def update_outbox(self, key: str, **changes) -> OutboxRow:
        with self.session() as s:
            row = s.get(OutboxRow, key)
            for k, v in changes.items():
                setattr(row, k, v)
            s.add(row)
            return row

    # ------------------------------------------------------------------ retry queue, dead-letter list

    def retries(self, connector: str | None = None, *, dead: bool | None = None) -> list[RetryRow]:
        """Rows of the retry queue (``dead=False``), of the dead-letter list (``dead=True``) or
        both (``None``), of ``connector`` or all, oldest first failure first."""
        q = select(RetryRow)
        if connector is not None:
            q = q.where(RetryRow.connector == connector)
        if dead is not None:
            q = q.where(RetryRow.dead_at.is_not(None) if dead else RetryRow.dead_at.is_(None))
        with self.session() as s:
            rows = list(s.exec(q.order_by(RetryRow.first_failed_at, RetryRow.item_key)))
        for row in rows:
            for col in ("first_failed_at", "last_failed_at", "next_try_at", "dead_at"):
                setattr(row, col, aware_utc(getattr(row, col)))
        return rows

    def retry(self, connector: str, ref: ItemRef) -> RetryRow | None:
        """The retry row of ``ref`` read by ``connector``, or ``None``."""
        with self.session() as s:
            row = s.get(RetryRow, (connector, ref.tool, ref.key))
        if row is not None:
            for col in ("first_failed_at", "last_failed_at", "next_try_at", "dead_at"):
                setattr(row, col, aware_utc(getattr(row, col)))
        return row

    def save_retry(self, row: RetryRow) -> None:
        """Insert or replace one retry row."""
        with self.session() as s:
            s.merge(row)

    def clear_retries(self, connector: str, refs: list[ItemRef]) -> int:
        """Delete the retry rows of ``refs`` (read fine again); returns how many there were."""
        from sqlalchemy import delete

        gone = 0
        with self.session() as s:
            for tool, keys in _chunks_by_tool(refs):
                result = s.exec(delete(RetryRow).where(RetryRow.connector == connector, RetryRow.item_tool == tool,
                                                       RetryRow.item_key.in_(keys)))
                gone += result.rowcount or 0
        return gone

    def requeue_dead(self, now: datetime, refs: list[ItemRef] | None = None) -> list[RetryRow]:
        """Put dead-letter rows (those of ``refs``, or all) back in the retry queue, due at
        ``now`` with their tries reset; returns them."""
        back: list[RetryRow] = []
        with self.session() as s:
            for row in s.exec(select(RetryRow).where(RetryRow.dead_at.is_not(None))):
                if refs is not None and ItemRef(row.item_tool, row.item_key) not in refs:
                    continue
                row.dead_at, row.tries, row.next_try_at = None, 0, now
                s.add(row)
                back.append(row)
        return back

    def claim_outbox(self, key: str, expect: tuple[str, int], **changes) -> OutboxRow | None:
        """Claim row ``key`` for one replica and apply ``changes``, in one transaction: the row is
        locked with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer) and
        changed only if it is still in ``expect = (status, attempts)`` as the caller read it.

        Returns the changed row, or ``None`` when another replica holds the row's lock or changed
        it since (then the caller leaves it alone: one row is acted on by one replica).
        """
        with self.session() as s:
            q = select(OutboxRow).where(OutboxRow.key == key).with_for_update(skip_locked=True)
            row = s.exec(q).first()
            if row is None or (row.status, row.attempts) != expect:
                return None
            for k, v in changes.items():
                setattr(row, k, v)
            s.add(row)
            return row

    def dirty_items(self) -> set[ItemRef]:
        """Items whose walk state a poll flagged out of date (by this process or another replica
        on the same database) and no evaluation has re-walked yet."""
        table = WalkStateRow.__table__
        with self.engine.connect() as conn:
            return {ItemRef(t, k) for t, k in conn.execute(
                select(table.c.tool, table.c.key).where(table.c.dirty == True))}  # noqa: E712

    def mark_polled(self, connector: str, scope: str, at: datetime) -> None:
        """Record that ``connector``'s ``scope`` was polled successfully at ``at`` (a ``cursors``
        row ``@polled:<scope>``), so every replica on the database knows how fresh it is."""
        value = json.dumps({"at": aware_utc(at).isoformat()})
        stmt = self._insert(CursorRow.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["connector", "scope"],
                                          set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at})
        with self.session() as s:
            s.execute(stmt, [{"connector": connector, "scope": POLLED + scope, "value": value, "updated_at": at}])

    def polled_marks(self, connector: str) -> dict[str, datetime]:
        """``scope`` → when it was last polled successfully (by any replica), for ``connector``."""
        c = CursorRow.__table__.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.scope, c.value).where(c.connector == connector, c.scope.startswith(POLLED)))
            return {scope[len(POLLED):]: datetime.fromisoformat(json.loads(value)["at"]) for scope, value in rows}

    # ------------------------------------------------------------------ feedback (bridge.engine.feedback)

    def record_feedback(self, rows: list[FeedbackRow]) -> int:
        """Record people's feedback on findings (``/hb wrong``, ``not-mine``, ``snooze``), once each.

        An idempotent insert by ``FeedbackRow.key`` (``tables.feedback_key``): a row already
        recorded is left as it is, on SQLite and PostgreSQL alike (``ON CONFLICT DO NOTHING``), so
        a command read again after a restart or by another replica counts once. One transaction.
        Returns how many rows were new.

        Raises:
            ValueError: a row's ``kind`` is not one of ``FEEDBACK_KINDS`` or its ``at`` is naive
                (naming the row's key and the value); nothing is recorded then.
        """
        values = []
        for row in rows:
            if row.kind not in FEEDBACK_KINDS:
                raise ValueError(f"feedback {row.key!r}: unknown kind {row.kind!r}, expected one of "
                                 f"{', '.join(FEEDBACK_KINDS)}")
            if row.at.tzinfo is None:
                raise ValueError(f"feedback {row.key!r}: at must be an aware datetime (got {row.at.isoformat()})")
            values.append({**row.model_dump(), "at": aware_utc(row.at)})
        if not values:
            return 0
        table = FeedbackRow.__table__
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        with self.session() as s:
            return sum(len(s.execute(stmt, values[i:i + 500]).all()) for i in range(0, len(values), 500))

    def feedback(self, rule: str | None = None) -> list[FeedbackRow]:
        """Every feedback row (or ``rule``'s), oldest first; ``at`` aware UTC."""
        q = select(FeedbackRow)
        if rule is not None:
            q = q.where(FeedbackRow.rule == rule)
        with self.session() as s:
            rows = list(s.exec(q.order_by(FeedbackRow.at, FeedbackRow.key)))
        for row in rows:
            row.at = aware_utc(row.at)
        return rows

    def feedback_counts(self, rules: list[str], since: datetime, until: datetime) -> dict[str, dict[str, int]]:
        """``rule`` → ``kind`` → feedback rows with ``since < at <= until`` (one grouped count)."""
        from sqlalchemy import func

        c = FeedbackRow.__table__.c
        q = (select(c.rule, c.kind, func.count()).where(c.rule.in_(rules), c.at > aware_utc(since), c.at <= aware_utc(until))
             .group_by(c.rule, c.kind))
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for rule, kind, n in conn.execute(q):
                out.setdefault(rule, {})[kind] = n
        return out

    def first_steps_sent(self, rules: list[str], statuses: tuple[str, ...], since: datetime,
                         until: datetime, *, not_prefix: str | None = None) -> dict[str, int]:
        """``rule`` → findings whose first step (``step = 0``) has an outbox row in ``statuses``
        sent with ``since < sent_at <= until`` (one grouped ``count(DISTINCT finding_key)``: a
        standoff's comment on each of its items is one nudge); rows whose ``finding_key`` starts
        with ``not_prefix`` (the replies to commands, ``cmd:``) are not counted."""
        from sqlalchemy import func

        c = OutboxRow.__table__.c
        q = (select(c.rule, func.count(c.finding_key.distinct()))
             .where(c.rule.in_(rules), c.step == 0, c.status.in_(statuses),
                    c.sent_at > aware_utc(since), c.sent_at <= aware_utc(until),
                    *([~c.finding_key.startswith(not_prefix, autoescape=True)] if not_prefix else []))
             .group_by(c.rule))
        with self.engine.connect() as conn:
            return {rule: n for rule, n in conn.execute(q)}

    def received_after_first_step(self, rules: list[str], statuses: tuple[str, ...], received: str,
                                  since: datetime, until: datetime) -> dict[str, int]:
        """``rule`` → handoffs in state ``received`` that ended (``since < ended_at <= until``)
        after their finding's first step was sent (an outbox row of ``step = 0`` in ``statuses``
        whose ``sent_at`` is earlier): acknowledged after a nudge. One grouped count (``EXISTS``)."""
        from sqlalchemy import exists, func

        h, o = HandoffRow.__table__.c, OutboxRow.__table__.c
        nudged = exists().where(o.finding_key == h.key, o.step == 0, o.status.in_(statuses), o.sent_at.is_not(None),
                                o.sent_at < h.ended_at)
        q = (select(h.rule, func.count())
             .where(h.rule.in_(rules), h.state == received, h.ended_at > aware_utc(since), h.ended_at <= aware_utc(until),
                    nudged)
             .group_by(h.rule))
        with self.engine.connect() as conn:
            return {rule: n for rule, n in conn.execute(q)}

    def set_cursor(self, connector: str, scope: str, value: dict, now: datetime) -> None:
        """Insert or replace the ``cursors`` row ``(connector, scope)`` with JSON ``value``
        (state of the daemon's own kept under a ``@``-scope, e.g. ``@feedback``)."""
        stmt = self._insert(CursorRow.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["connector", "scope"],
                                          set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at})
        with self.session() as s:
            s.execute(stmt, [{"connector": connector, "scope": scope, "value": json.dumps(value, sort_keys=True),
                              "updated_at": now}])
    # ---- commands in comments (availability: ``rules.away``)

    def comments_like(self, patterns: tuple[str, ...]) -> list[Event]:
        """Stored ``commented`` events whose data matches any of the ``LIKE`` ``patterns``
        (case-insensitive: ``ILIKE`` on PostgreSQL), oldest first. One scan of the events table (the
        evaluator runs it once per start); the caller reads the text itself (a pattern only narrows)."""
        from sqlalchemy import or_

        with self.session() as s:
            q = select(EventRow).where(EventRow.kind == EventKind.COMMENTED.value,
                                       or_(*(EventRow.data.ilike(p) for p in patterns)))
            return [row_to_event(r) for r in s.exec(q.order_by(EventRow.at, EventRow.pk))]

    def first_nudges(self, finding_keys: list[str]) -> dict[str, datetime]:
        """Finding key → when its first outbox row that went out was sent (aware UTC), for
        ``finding_keys`` (indexed ``IN`` chunks of 400); a finding with none is left out.

        "Went out": ``bridge.core.delay.NUDGE_WENT_OUT`` (``done``, or ``sending``/``unknown``:
        possibly out); a handoff's finding key is the handoff's key (``rules.handoff``).
        """
        from bridge.core.delay import NUDGE_WENT_OUT

        c = OutboxRow.__table__.c
        keys = sorted(set(finding_keys))
        out: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 400):
                # Filtered on the finding_key index only: with the status filter in SQL too, SQLite
                # picks the status index and scans every sent row once per chunk.
                q = select(c.finding_key, c.status, c.sent_at).where(c.finding_key.in_(keys[i:i + 400]))
                for key, status, at in conn.execute(q):
                    if at is not None and status in NUDGE_WENT_OUT:
                        at = aware_utc(at)
                        if key not in out or at < out[key]:
                            out[key] = at
        return out
