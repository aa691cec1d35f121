"""Read the store into the report's facts: handoffs with their first nudge, and standoffs.

Reads the ``handoffs``, ``outbox``, ``findings`` and (for handoffs sent by a status move)
``events`` tables through plain SQLAlchemy core selects (an ORM object per row would cost more
than the read: the engine bench's store holds 100,000 items). No tracker is called.

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

from sqlalchemy import String, and_, func, or_, select, type_coerce

from bridge.core.model import Account
from bridge.core.people import Directory, SeenAccount
from bridge.report.measure import HandoffFact, StandoffFact
from bridge.store import FindingRow, HandoffRow, OutboxRow, Store
from bridge.store.codec import aware_utc
from bridge.store.tables import EventRow

#: Outbox statuses of a row that went out (or may have: its marker decides).
WENT_OUT = ("done", "sending", "unknown")


def _raw(column):
    """``column`` read without SQLAlchemy's per-row datetime processing (SQLite gives its text)."""
    return type_coerce(column, String)


def _time(value) -> datetime | None:
    """A time read with :func:`_raw`: SQLite's ISO text (UTC), or a driver's datetime; aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return aware_utc(value)


def _account(text: str | None) -> Account | None:
    if not text:
        return None
    tool, _, ident = text.partition(":")
    return Account(tool, ident)


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
                  since: datetime | None = None, until: datetime | None = None) -> list[HandoffFact]:
    """Every stored handoff sent in ``[since, until)`` (either bound optional, aware) as a
    :class:`HandoffFact`, oldest first."""
    directory = directory or directory_for(config, store)
    h = HandoffRow.__table__.c
    q = select(h.key, h.rule, h.item_tool, h.item_key, h.sender, h.receiver, _raw(h.sent_at), h.state, _raw(h.ended_at))
    if since is not None:
        q = q.where(h.sent_at >= since)
    if until is not None:
        q = q.where(h.sent_at < until)
    with store.engine.connect() as conn:
        rows = list(conn.execute(q.order_by(h.sent_at, h.key)))
    nudges = first_nudges(store)
    status_rules = _status_rules(config)
    pairs = _status_pairs(store, [r for r in rows if r.rule in status_rules])
    names: dict[str | None, tuple] = {}  # account text → (name, team, schedule), once per account
    people = config.people

    def who(text: str | None) -> tuple:
        found = names.get(text)
        if found is None:
            acct = _account(text)
            person = directory.person(acct)
            entry = people.get(person) if person else None
            found = names[text] = (directory.name(directory.identity(acct)) if acct else "someone",
                                   entry.team if entry is not None else None,
                                   directory.schedule_for(acct) if acct else None)
        return found

    facts = []
    for key, rule, tool, item, sender_text, receiver_text, sent_at, state, ended_at in rows:
        sender, sender_team, _ = who(sender_text)
        receiver, receiver_team, schedule = who(receiver_text)
        facts.append(HandoffFact(
            key=key, rule=rule, tool=tool, item=item,
            sender=sender, receiver=receiver, sender_team=sender_team, receiver_team=receiver_team,
            status_pair=pairs.get(key), sent_at=_time(sent_at), state=state,
            ended_at=_time(ended_at), nudged_at=nudges.get(key), schedule=schedule,
        ))
    return facts


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
