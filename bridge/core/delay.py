"""A handoff's delay, measured once it has ended: the one formula the engine stores and the report reads.

Vocabulary (DESIGN.md): a **handoff delay** is sent → received (acknowledged), in the
receiver's business hours (their ``WorkSchedule``: time zone, working days and hours,
holidays) and in wall-clock hours. **Nudge → ack** is the business hours from the first nudge
(the earliest outbox row of the handoff's finding that went out) to the acknowledgement, for a
handoff received after a nudge. A handoff that ended unreceived (withdrawn, rehanded, closed)
has no delay.

``bridge.engine.cycle`` stores :func:`measure_ended` in the ``handoffs`` row when it writes an
ended handoff (migration ``0005``); ``bridge.report`` computes the same function for a row
stored before that and for open handoffs (censored at now), so a stored figure and a computed
one are the same float.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from bridge.core.businesstime import WorkSchedule

__all__ = ["NUDGE_WENT_OUT", "EndedDelay", "business_hours", "measure_ended", "wall_hours"]

#: Outbox statuses (``bridge.actions.OutboxStatus`` values) of a row that went out, or may have
#: (its marker decides): a nudge counts from its ``sent_at``. ``dry_run`` rows never went out.
NUDGE_WENT_OUT = ("done", "sending", "unknown")
RECEIVED = "received"


def business_hours(schedule: WorkSchedule, start: datetime, end: datetime) -> float:
    """Working hours of ``schedule`` from ``start`` to ``end`` (aware; 0 when ``end <= start``).

    Raises:
        ValueError: a naive datetime (``WorkSchedule.between``).
    """
    return schedule.between(start, end).total_seconds() / 3600


def wall_hours(start: datetime, end: datetime) -> float:
    """Wall-clock hours from ``start`` to ``end`` (aware; negative when ``end`` is earlier)."""
    return (end - start).total_seconds() / 3600


class EndedDelay(NamedTuple):
    """The figures of one ended handoff, as the ``handoffs`` row keeps them (a named tuple:
    immutable, and a report makes one per stored handoff, five times faster than a frozen
    dataclass).

    ``business_hours``/``wall_hours``: sent → received (``None``: ended unreceived).
    ``first_nudge_at``: aware UTC, when its first nudge went out (``None``: never).
    ``nudge_to_ack_hours``: business hours first nudge → acknowledgement (``None`` unless
    received after a nudge).
    """

    business_hours: float | None
    wall_hours: float | None
    first_nudge_at: datetime | None
    nudge_to_ack_hours: float | None


def measure_ended(schedule: WorkSchedule, state: str, sent_at: datetime, ended_at: datetime | None,
                  first_nudge_at: datetime | None) -> EndedDelay:
    """The figures of a handoff that ended in ``state`` at ``ended_at``.

    Args:
        schedule: the receiver's working time.
        state: a ``HandoffState`` value; only ``received`` has a delay.
        sent_at, ended_at: aware; ``ended_at`` ``None`` gives no delay.
        first_nudge_at: aware, when its first nudge went out; a nudge after the
            acknowledgement does not count as "received after a nudge".
    """
    if state != RECEIVED or ended_at is None:
        return EndedDelay(None, None, first_nudge_at, None)
    to_ack = (business_hours(schedule, first_nudge_at, ended_at)
              if first_nudge_at is not None and first_nudge_at <= ended_at else None)
    return EndedDelay(business_hours(schedule, sent_at, ended_at), wall_hours(sent_at, ended_at),
                      first_nudge_at, to_ack)
