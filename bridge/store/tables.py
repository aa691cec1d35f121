"""The store's tables: one SQLModel class per table, as Alembic's migrations create them.

Holds ``EventRow``, ``ItemRow``, ``CursorRow``, ``HandoffRow``, ``FindingRow``, ``AccountRow``,
``LinkRow``, ``WalkStateRow``, ``OutboxRow`` and ``FeedbackRow``, and the ``WALK_STATE_CURSOR`` cursor key. A
change here needs a migration (``bridge/store/migrations/versions``). Datetime columns are
SQLModel's ``UTCDateTime``: aware in (any zone), aware UTC out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


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
    __table_args__ = (Index("ix_handoffs_ended", "rule", "state", "ended_at", "key"),)  # feedback's ack count (covering)
    key: str = Field(primary_key=True)
    rule: str
    item_tool: str
    item_key: str
    sender: str | None = None
    receiver: str
    sent_at: datetime
    deadline: datetime
    state: str  # a bridge.core.model.HandoffState value
    ended_at: datetime | None = None
    updated_at: datetime
    # Its delay, measured once it ended (migration 0005; ``bridge.core.delay.measure_ended``):
    # hours sent → received (business hours of the receiver, and wall clock), when its first
    # nudge went out, business hours from that nudge to the acknowledgement. ``measured_at``:
    # when these were stored; ``None`` while open, or for a row that ended before 0005 (the
    # report measures and stores those, ``bridge.report.collect``).
    delay_business_h: float | None = None
    delay_wall_h: float | None = None
    first_nudge_at: datetime | None = None
    nudge_to_ack_business_h: float | None = None
    measured_at: datetime | None = None


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


class RetryRow(SQLModel, table=True):
    """An item whose own read failed while its scope was read (the retry queue and, once
    ``dead_at`` is set, the dead-letter list; ``bridge.engine.retries``).

    The scope's cursor moved past the item; the engine re-reads it alone (``fetch``) from
    ``next_try_at`` on. ``tries``: failed reads so far (the poll's included). ``error``: the
    last failure's one-line text (our ``ConnectorError`` message, redacted; never a token).
    Times are aware UTC.
    """

    __tablename__ = "retries"
    connector: str = Field(primary_key=True)
    item_tool: str = Field(primary_key=True)
    item_key: str = Field(primary_key=True)
    scope: str
    error: str
    tries: int = 1
    first_failed_at: datetime
    last_failed_at: datetime
    next_try_at: datetime = Field(index=True)
    dead_at: datetime | None = None


#: ``cursors`` row (connector, scope) holding the fingerprint the ``walk_states`` rows were built under.
WALK_STATE_CURSOR = ("@evaluator", "walk_states")


class OutboxRow(SQLModel, table=True):
    """One planned write. ``key`` is the idempotency key (rule, finding, step)."""

    __tablename__ = "outbox"
    __table_args__ = (  # covering indexes of bridge.engine.feedback's counts: nudges sent, acks after a nudge
        Index("ix_outbox_nudges", "rule", "step", "status", "sent_at", "finding_key"),
        Index("ix_outbox_finding_step", "finding_key", "step", "status", "sent_at"),
    )
    key: str = Field(primary_key=True)
    marker: str = Field(index=True)
    finding_key: str = Field(index=True)
    rule: str
    step: int
    connector: str
    action: str  # JSON of bridge.core.model.Action
    status: str = Field(index=True)  # a bridge.actions.OutboxStatus value
    attempts: int = 0
    created_at: datetime
    sent_at: datetime | None = None
    confirmed_at: datetime | None = None
    url: str | None = None
    last_error: str | None = None


#: ``FeedbackRow.kind`` values: ``/hb wrong``, ``/hb not-mine`` (and ``/hb reassign``), ``/hb snooze``.
FEEDBACK_KINDS = ("wrong", "not_mine", "snooze")


def feedback_key(tool: str, event_id: str, rule: str) -> str:
    """``FeedbackRow.key`` of the command in ``tool``'s event ``event_id`` about a finding of ``rule``:
    ``"<tool>:<event id>:<rule>"`` (a command read twice is recorded once)."""
    return f"{tool}:{event_id}:{rule}"


class FeedbackRow(SQLModel, table=True):
    """One piece of feedback a person gave on a rule's finding with a command (``bridge.engine.feedback``).

    ``key``: ``feedback_key(tool, event id of the command, rule)``, so recording twice is a no-op.
    ``kind``: one of ``FEEDBACK_KINDS``. ``handoff_key``: the handoff (= its finding's key) the
    command was about, if any. ``actor``: who gave it, ``"tool:account id"``. ``at``: the
    command's time (aware UTC), which the sliding window counts by.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_rule_at", "rule", "at"),
        CheckConstraint("kind IN ('wrong', 'not_mine', 'snooze')", name="ck_feedback_kind"),
    )
    key: str = Field(primary_key=True)
    rule: str
    item_tool: str
    item_key: str
    handoff_key: str | None = None
    kind: str
    actor: str | None = None
    at: datetime
