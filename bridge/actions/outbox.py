"""The outbox: planned writes delivered at most once, reconciled by marker, within a write budget.

Holds ``OutboxStatus`` (the row states), ``action_to_json`` / ``action_from_json`` (the row's
``action``), ``Delivery`` (what happened to a row in a cycle), ``deliver`` and
``writes_in_last_hour`` (the write budget's count).

Outbox first (DESIGN.md "Actions"): delivery marks a row ``sending`` (committed) before the
write and ``done`` after it. No row is ever sent blindly:

- **Every send is preceded by a marker lookup** (``Connector.find_marker``), the first one
  included, so a lost, replaced or migrated store never re-posts what the tracker already holds
  (every text the daemon writes carries its marker ``hb:<12 hex>``). The lookup window starts at
  the finding's ``at`` (nothing of a finding can be older), else at the row's send or creation time.
- **An uncertain row waits.** A row ``sending`` or ``unknown`` (crash after send, lost response,
  timeout, 5xx, or a multi-write action cut short after its first write) is looked up only once
  ``grace(connector)`` has passed since it was sent: a write the tool applies after the client
  gave up lands inside that time. The lookup repeats right before any resend (same cycle).
- **A lookup that cannot tell never counts as "not there".** ``find_marker`` returns the result
  (found), ``None`` (the whole window was read: not there) or raises ``ConnectorError`` (can't
  tell); then the row keeps its state and waits for the next cycle.
- **One replica per row.** A row goes to ``sending`` (or ``cancelled``) only through
  ``Store.claim_outbox``: locked with ``FOR UPDATE SKIP LOCKED`` and changed only from the state
  this call read, so of several replicas on one PostgreSQL database one sends it.
- A row's state change is reported (and so logged) once, when it happens; a row that stays
  ``unknown`` or ``pending`` cycle after cycle is not reported again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Callable, Mapping

from bridge.core import errors
from bridge.core.model import Account, Action, ActionKind, ItemRef
from bridge.store import OutboxRow, Store


class OutboxStatus(StrEnum):
    """An outbox row's state, as ``OutboxRow.status`` stores it.

    ``pending`` → ``sending`` → ``done`` | ``unknown`` (reconcile next cycle) | ``failed``
    (permanent refusal); ``dry_run`` (recorded, never sent); ``cancelled`` (the finding was
    resolved before the row went out).
    """

    PENDING = "pending"
    SENDING = "sending"
    UNKNOWN = "unknown"
    DONE = "done"
    DRY_RUN = "dry_run"
    CANCELLED = "cancelled"
    FAILED = "failed"


#: Rows delivery still has to act on.
ACTIVE = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.UNKNOWN)
#: Rows that may have gone out (counted against the write budget); the first two are reconciled by marker.
UNCERTAIN = (OutboxStatus.SENDING, OutboxStatus.UNKNOWN)
SENT = (OutboxStatus.DONE, OutboxStatus.UNKNOWN, OutboxStatus.SENDING)


def action_to_json(a: Action) -> str:
    """``OutboxRow.action``: ``a`` as JSON (kind, item, marker, body, assignees, label, title, due)."""
    d = asdict(a)
    d["kind"] = a.kind.value
    d["item"] = [a.item.tool, a.item.key]
    d["assignees"] = [[x.tool, x.id] for x in a.assignees]
    d["due"] = a.due.isoformat() if a.due else None
    return json.dumps(d, sort_keys=True)


def action_from_json(text: str) -> Action:
    """The ``Action`` of an ``OutboxRow.action`` (the inverse of ``action_to_json``)."""
    d = json.loads(text)
    return Action(
        kind=ActionKind(d["kind"]),
        item=ItemRef(*d["item"]),
        marker=d["marker"],
        body=d["body"],
        assignees=tuple(Account(*x) for x in d["assignees"]),
        label=d["label"],
        title=d["title"],
        due=datetime.fromisoformat(d["due"]) if d.get("due") else None,
    )


@dataclass(frozen=True)
class Delivery:
    """What happened to one outbox row in this cycle (for logs, the demo and ``--json``)."""

    key: str
    rule: str
    do: str
    tool: str
    item: str
    marker: str
    status: OutboxStatus
    url: str | None = None
    error: str | None = None


#: Grace before an uncertain row's marker lookup when the caller names none (seconds, wall clock).
MIN_GRACE = timedelta(seconds=60)


def grace_for_timeout(timeout: timedelta) -> timedelta:
    """The wait before an uncertain row's lookup: ``max(3 x timeout, 60 s)`` (``timeout``: the
    connector's per-request timeout). A write the client gave up on after ``timeout`` can still be
    applied by the tool; three request times cover a slow request queued behind another."""
    return max(3 * timeout, MIN_GRACE)


#: Finding keys of replies to ``/hb`` commands (``rules.commands.reply_key``): a reply is owed once
#: planned, so its row is never cancelled for want of a standing finding.
REPLY_PREFIX = "cmd:"


def _stands(row: OutboxRow, active_findings: set[str]) -> bool:
    return row.finding_key in active_findings or row.finding_key.startswith(REPLY_PREFIX)


def may_try(row: OutboxRow, now: datetime, *, active_findings: set[str], held: set[str],
            available: Callable[[str], bool], grace: Callable[[str], timedelta]) -> bool:
    """Would ``deliver`` look ``row`` up (and maybe send it) now? Not for a pending row of a
    finding gone (it is cancelled) or held back, a connector that may not be called, or an
    uncertain row inside its grace. The engine re-reads the items of these rows live first."""
    if row.status == OutboxStatus.PENDING and (not _stands(row, active_findings) or row.finding_key in held):
        return False
    if not available(row.connector):
        return False
    return not (row.status in UNCERTAIN and now < (row.sent_at or row.created_at) + grace(row.connector))


def deliver(
    store: Store,
    connectors: dict,
    now: datetime,
    *,
    active_findings: set[str],
    held: set[str] = frozenset(),
    available: Callable[[str], bool],
    budget_left: Callable[[str], int],
    on_error: Callable[[str, errors.ConnectorError], None],
    since: Mapping[str, datetime] | None = None,
    grace: Callable[[str], timedelta] = lambda name: MIN_GRACE,
    ready: Callable[[OutboxRow], bool] = lambda row: True,
) -> list[Delivery]:
    """Send every outbox row that is due, each after a marker lookup (module docstring).

    Args:
        active_findings: keys of findings still standing; pending rows of others are cancelled
            (only rows of connectors ``available`` now: a cycle never touches another connector's rows).
        held: keys of findings held back (inhibited inside a standoff): their pending rows wait.
        available: connector name → may it be called now (not stopped, not rate limited).
        budget_left: connector name → writes still allowed this hour.
        on_error: told about connector errors (auth stops a connector; rate limits pause it).
        since: finding key → the finding's ``at`` (UTC), where its marker lookups start.
        grace: connector name → how long an uncertain row waits after its send before it is
            looked up (``grace_for_timeout``).
        ready: whether a row that ``may_try`` rests on fresh data (its tool polled since it was
            planned, its item re-read live just now); a row that is not waits.

    Returns one ``Delivery`` per row whose state changed in this call.
    """
    since = since or {}
    out: list[Delivery] = []
    for row in store.outbox(ACTIVE):
        action = action_from_json(row.action)

        def report(status: OutboxStatus, url: str | None = None, error: str | None = None) -> None:
            out.append(Delivery(row.key, row.rule, action.kind.value, action.item.tool, action.item.key, row.marker, status, url, error))

        def settle(status: OutboxStatus, error: str | None = None) -> None:
            """Keep ``error`` on the row; report only a change of state."""
            store.update_outbox(row.key, status=status, last_error=error)
            if status != row.status:
                report(status, error=error)

        if not available(row.connector):
            continue  # another connector's row (its own cycle decides), or one not callable now
        if not _stands(row, active_findings) and row.status == OutboxStatus.PENDING:
            if store.claim_outbox(row.key, (row.status, row.attempts), status=OutboxStatus.CANCELLED) is not None:
                report(OutboxStatus.CANCELLED)
            continue
        if not may_try(row, now, active_findings=active_findings, held=held, available=available, grace=grace):
            continue  # held, not callable, or a late write may still land inside the grace
        if not ready(row):
            continue  # not on fresh data yet
        conn = connectors[row.connector]
        try:
            found = conn.find_marker(action, since.get(row.finding_key) or row.sent_at or row.created_at)
        except errors.ConnectorError as exc:
            # Can't tell whether it is there: never a send; the row keeps its state.
            settle(OutboxStatus(row.status), error=str(exc))
            on_error(row.connector, exc)
            continue
        if found is not None:
            store.update_outbox(row.key, status=OutboxStatus.DONE, confirmed_at=now, url=found.url, last_error=None)
            report(OutboxStatus.DONE, found.url)
            continue
        if not _stands(row, active_findings):
            if store.claim_outbox(row.key, (row.status, row.attempts), status=OutboxStatus.CANCELLED) is not None:
                report(OutboxStatus.CANCELLED)
            continue
        if budget_left(row.connector) <= 0:
            continue
        # The claim: one replica moves the row to sending (FOR UPDATE SKIP LOCKED, and only
        # from the state read above); any other finds it taken and leaves it alone.
        if store.claim_outbox(row.key, (row.status, row.attempts), status=OutboxStatus.SENDING,
                              attempts=row.attempts + 1, sent_at=now) is None:
            continue
        try:
            result = conn.apply(action)
            store.update_outbox(row.key, status=OutboxStatus.DONE, confirmed_at=now, url=result.url, last_error=None)
            report(OutboxStatus.DONE, result.url)
        except errors.OutcomeUnknown as exc:
            settle(OutboxStatus.UNKNOWN, error=str(exc))
        except errors.PermanentError as exc:
            settle(OutboxStatus.FAILED, error=str(exc))
        except errors.ConnectorError as exc:
            # Refused before anything was applied (auth, rate limit): back to pending unless an
            # earlier attempt's outcome is still open.
            settle(OutboxStatus.UNKNOWN if row.status in UNCERTAIN else OutboxStatus.PENDING, error=str(exc))
            on_error(row.connector, exc)
    return out


def writes_in_last_hour(store: Store, connector: str, now: datetime) -> int:
    """Rows of ``connector`` sent in the hour before ``now``, (now - 1h, now] (for the write budget):
    those ``done``, ``unknown`` or ``sending``, counted in one query."""
    return store.count_sent(connector, SENT, now - timedelta(hours=1))
