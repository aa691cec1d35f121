"""The store: SQLModel tables, their JSON codecs, the ``Store`` and its Alembic migrations.

The only shared state of the daemon (SQLite by default, PostgreSQL for replicas).
"""

from bridge.store.store import (
    WALK_STATE_CURSOR,
    AccountRow,
    EventRow,
    FindingRow,
    HandoffRow,
    ItemRow,
    Link,
    LinkRow,
    OutboxRow,
    Store,
    event_to_json,
    item_to_json,
)

__all__ = ["WALK_STATE_CURSOR", "AccountRow", "EventRow", "FindingRow", "HandoffRow", "ItemRow", "Link",
           "LinkRow", "OutboxRow", "Store", "event_to_json", "item_to_json"]
