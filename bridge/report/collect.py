"""Read the store into the report's facts: handoffs with their first nudge, and standoffs.

Reads the ``handoffs``, ``outbox``, ``findings`` and (for handoffs sent by a status move)
``events`` tables through plain SQLAlchemy core selects (an ORM object per row would cost more
than the read: the engine bench's store holds 100,000 items). No tracker is called. The one
write is the backfill of :func:`handoff_facts`: figures of handoffs that ended before the
engine stored them (migration ``0005``), written back once.

- An ended handoff's **figures** (business and wall-clock hours sent → received, first nudge,
  nudge → ack) are the ones the engine stored when it ended (``bridge.core.delay``); only open
  handoffs are measured at each report (censored at now).

- A handoff's **first nudge** is the earliest ``sent_at`` of an outbox row of its finding (the
  finding's key is the handoff's key, ``rules.handoff``) whose status says it went out
  (``done``, or ``sending``/``unknown``: possibly out). ``dry_run`` rows never went out.
- A handoff's **status pair** is the ``(from_status, to_status)`` of its sending event when that
  event is a status change. The sending event's id is the tail of the handoff key
  (``<rule>:<tool>:<item>:<receiver id>:<event id>``, ``rules.handoff``), looked up by the
  unique ``(tool, event_id)`` index; only rules with a status trigger are looked up.
- People, names, teams and schedules come from the people directory (``[people.*]``, then
  accounts matched by e-mail from the ``accounts`` table).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from operator import attrgetter

from sqlalchemy import String, and_, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.exc import SQLAlchemyError

from bridge.core.delay import NUDGE_WENT_OUT, EndedDelay, measure_ended
from bridge.core.logs import get_logger
from bridge.core.model import Account
from bridge.core.people import Directory, SeenAccount
from bridge.report.measure import PENDING_STATES, HandoffFact, StandoffFact
from bridge.store import FindingRow, HandoffRow, OutboxRow, Store
from bridge.store.codec import aware_utc
from bridge.store.tables import EventRow

log = get_logger("bridge.report")

#: Outbox statuses of a row that went out (or may have: its marker decides).
WENT_OUT = NUDGE_WENT_OUT


def _raw(column):
    """``column`` read without SQLAlchemy's per-row datetime processing (SQLite gives its text)."""
    return type_coerce(column, String)


def _time(value) -> datetime | None:
    """A time read with :func:`_raw`: SQLite's ISO text (UTC), or a driver's datetime; aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:  # SQLAlchemy writes SQLite datetimes as naive UTC text: '2026-11-20 10:00:00.000000'
            return datetime.fromisoformat(value + "+00:00")  # 8 times faster than .replace(tzinfo=...)
        except ValueError:
            return aware_utc(datetime.fromisoformat(value))
    return aware_utc(value)


def _account(text: str | None) -> Account | None:
    if not text:
        return None
    tool, _, ident = text.partition(":")
    return Account(tool, ident)


_sent_at = attrgetter("sent_at")


def directory_for(config, store: Store) -> Directory:
    """The people directory of ``config`` with every account ``store`` has seen (for e-mail matches)."""
    seen = [SeenAccount(Account(r.tool, r.id), r.display_name, r.email, r.last_seen) for r in store.accounts()]
    return Directory(config, seen)


def first_nudges(store: Store) -> dict[str, datetime]:
    """Finding key → when its first outbox row went out (aware UTC)."""
    t = OutboxRow.__table__.c
    q = select(t.finding_key, _raw(func.min(t.sent_at))).where(t.status.in_(WENT_OUT), t.sent_at.is_not(None)).group_by(t.finding_key)
    with store.engine.connect() as conn:
        return {key: _time(at) for key, at in conn.execute(q)}


def _status_rules(config) -> set[str]:
    return {r.name for r in config.rules if any(getattr(t, "status", None) for t in r.on)}


def _status_pairs(store: Store, rows) -> dict[str, tuple[str, str]]:
    """Handoff key → ``(from_status, to_status)`` of its sending event, when that was a status move."""
    wanted: dict[tuple[str, str], str] = {}
    for r in rows:
        receiver_id = r.receiver.partition(":")[2]
        prefix = f"{r.rule}:{r.item_tool}:{r.item_key}:{receiver_id}:"
        if r.key.startswith(prefix):
            wanted[(r.item_tool, r.key[len(prefix):])] = r.key
    out: dict[str, tuple[str, str]] = {}
    if not wanted:
        return out
    e = EventRow.__table__.c
    pairs = list(wanted)
    with store.engine.connect() as conn:
        for i in range(0, len(pairs), 400):
            chunk = pairs[i:i + 400]
            cond = or_(*(and_(e.tool == tool, e.event_id == ident) for tool, ident in chunk))
            for tool, ident, kind, data in conn.execute(select(e.tool, e.event_id, e.kind, e.data).where(cond)):
                if kind != "status_changed":
                    continue
                d = json.loads(data)
                out[wanted[(tool, ident)]] = (d.get("from_status") or "(none)", d.get("to_status") or "(none)")
    return out


def handoff_facts(config, store: Store, directory: Directory | None = None, *,
                  since: datetime | None = None, until: datetime | None = None,
                  now: datetime | None = None, backfill: bool = True) -> list[HandoffFact]:
    """Every stored handoff sent in ``[since, until)`` (either bound optional, aware) as a
    :class:`HandoffFact`, oldest first (handoffs sent at the same moment in table order).

    An ended handoff carries the figures the engine stored when it ended (``measured``,
    migration ``0005``). One that ended before that revision has none: it is measured here
    with the same function (``bridge.core.delay.measure_ended``) and, with ``backfill``, its
    figures are written back (``measured_at`` = ``now``, default the wall clock), once; a
    store that cannot be written (read-only file, a lock held too long) is only read, and the
    figures are computed again next time. Open handoffs get their first nudge read here.
    """
    directory = directory or directory_for(config, store)
    h = HandoffRow.__table__.c
    q = select(h.key, h.rule, h.item_tool, h.item_key, h.sender, h.receiver, _raw(h.sent_at), h.state, _raw(h.ended_at),
               _raw(h.measured_at), h.delay_business_h, h.delay_wall_h, _raw(h.first_nudge_at), h.nudge_to_ack_business_h)
    if since is not None:
        q = q.where(h.sent_at >= since)
    if until is not None:
        q = q.where(h.sent_at < until)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    # First nudges: stored with an ended row's figures; read for the rest (open, not yet measured).
    unmeasured = [r[0] for r in rows if r[9] is None]
    if len(unmeasured) > len(rows) // 4:
        nudges = first_nudges(store)  # one grouped scan beats many IN lists
    else:
        nudges = store.first_nudges(unmeasured) if unmeasured else {}
    status_rules = _status_rules(config)
    pairs = _status_pairs(store, [r for r in rows if r.rule in status_rules]) if status_rules else {}
    names: dict[str | None, tuple] = {}  # account text → (name, team, schedule), once per account
    people = config.people

    def who(text: str | None) -> tuple:
        acct = _account(text)
        person = directory.person(acct)
        entry = people.get(person) if person else None
        found = names[text] = (directory.name(directory.identity(acct)) if acct else "someone",
                               entry.team if entry is not None else None,
                               directory.schedule_for(acct) if acct else None)
        return found

    facts = []
    measured_now: list[tuple[str, EndedDelay]] = []
    make = tuple.__new__  # a named tuple from its fields in order, without its Python __new__
    pending = PENDING_STATES
    iso = datetime.fromisoformat
    for (key, rule, tool, item, sender_text, receiver_text, sent_text, state, ended_text,
         measured_at, business, wall, nudge_text, to_ack) in rows:
        sender, sender_team, _ = names.get(sender_text) or who(sender_text)
        receiver, receiver_team, schedule = names.get(receiver_text) or who(receiver_text)
        try:  # SQLite's text (naive UTC, as SQLAlchemy writes it), parsed inline: 300,000 times
            sent_at = iso(sent_text + "+00:00")
            ended_at = None if ended_text is None else iso(ended_text + "+00:00")
        except (TypeError, ValueError):  # a driver's datetime (PostgreSQL), or text with an offset
            sent_at, ended_at = _time(sent_text), _time(ended_text)
        if measured_at is not None:
            nudged_at = _time(nudge_text)
            measured = make(EndedDelay, (business, wall, nudged_at, to_ack))
        else:
            nudged_at = nudges.get(key)
            measured = None
            if state not in pending:
                measured = measure_ended(schedule, state, sent_at, ended_at, nudged_at)
                measured_now.append((key, measured))
        facts.append(make(HandoffFact, (key, rule, tool, item, sender, receiver, sender_team, receiver_team,
                                        pairs.get(key), sent_at, state, ended_at, nudged_at, schedule, measured)))
    if measured_now and backfill:
        store_measured(store, measured_now, now or datetime.now(timezone.utc))
    facts.sort(key=_sent_at)  # oldest first; sorting aware datetimes here beats SQLite's ORDER BY (no index)
    return facts


#: Rows written back per transaction by :func:`store_measured` (short write locks on SQLite).
BACKFILL_BATCH = 2000


def store_measured(store: Store, measured: list[tuple[str, EndedDelay]], at: datetime) -> int:
    """Write ``(handoff key, figures)`` into the ``handoffs`` rows (``measured_at`` = ``at``),
    in transactions of :data:`BACKFILL_BATCH`; a row already measured meanwhile (by the engine)
    is left as it is. Returns how many rows were written; a database error (read-only, locked)
    ends the backfill with a warning in the log, never the report.
    """
    h = HandoffRow.__table__.c
    stmt = (update(HandoffRow.__table__)
            .where(h.key == bindparam("k"), h.measured_at.is_(None))
            .values(delay_business_h=bindparam("b"), delay_wall_h=bindparam("w"), first_nudge_at=bindparam("n"),
                    nudge_to_ack_business_h=bindparam("a"), measured_at=bindparam("m")))
    written = 0
    try:
        for i in range(0, len(measured), BACKFILL_BATCH):
            chunk = [{"k": key, "b": d.business_hours, "w": d.wall_hours, "n": d.first_nudge_at,
                      "a": d.nudge_to_ack_hours, "m": at} for key, d in measured[i:i + BACKFILL_BATCH]]
            with store.engine.begin() as conn:
                conn.execute(stmt, chunk)
            written += len(chunk)
    except SQLAlchemyError as exc:
        log.warning("handoff_delays_not_stored", written=written, left=len(measured) - written,
                    error_type=type(exc).__name__)
    else:
        log.info("handoff_delays_stored", handoffs=written)
    return written


def standoff_facts(store: Store, *, since: datetime | None = None, until: datetime | None = None) -> list[StandoffFact]:
    """Every stored standoff finding opened in ``[since, until)`` (bounds optional), oldest first."""
    f = FindingRow.__table__.c
    q = select(f.key, f.rule, f.item_key, f.at, f.resolved_at).where(f.detect == "standoff")
    if since is not None:
        q = q.where(f.at >= since)
    if until is not None:
        q = q.where(f.at < until)
    with store.engine.connect() as conn:
        return [StandoffFact(key, rule, item, aware_utc(at), aware_utc(resolved))
                for key, rule, item, at, resolved in conn.execute(q.order_by(f.at, f.key))]
