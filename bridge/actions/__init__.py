"""Actions: finding → steps → outbox rows (idempotency key) → live re-check → connector.apply()."""

from bridge.actions.plan import Delivery, Planner, action_from_json, deliver, format_deadline, writes_in_last_hour

__all__ = ["Delivery", "Planner", "action_from_json", "deliver", "format_deadline", "writes_in_last_hour"]
