"""The store: SQLModel tables, their JSON codecs, the ``Store`` and its Alembic migrations.

The only shared state of the daemon (SQLite by default, PostgreSQL for replicas).
"""

from bridge.store.codec import Link, event_to_json, item_to_json
from bridge.store.store import Store
from bridge.store.tables import (
    WALK_STATE_CURSOR,
    AccountRow,
    EventRow,
    FeedbackRow,
    FindingRow,
    HandoffRow,
    ItemRow,
    LinkRow,
    OutboxRow,
    RetryRow,
)

__all__ = ["WALK_STATE_CURSOR", "AccountRow", "EventRow", "FeedbackRow", "FindingRow", "HandoffRow", "ItemRow", "Link",
           "LinkRow", "OutboxRow", "RetryRow", "Store", "event_to_json", "item_to_json"]
