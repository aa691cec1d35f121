"""Actions: finding → steps → outbox rows (idempotency key) → live re-check → connector.apply().

``plan`` (the Planner), ``render`` (templates → text in the tool's markup), ``outbox`` (row
states, delivery, reconcile by marker, the write budget).
"""

from bridge.actions.outbox import (ACTIVE, Delivery, OutboxStatus, action_from_json, deliver, grace_for_timeout,
                                   may_try, writes_in_last_hour)
from bridge.actions.plan import Planner
from bridge.actions.render import format_deadline

__all__ = ["ACTIVE", "Delivery", "OutboxStatus", "Planner", "action_from_json", "deliver", "format_deadline",
           "grace_for_timeout", "may_try", "writes_in_last_hour"]
