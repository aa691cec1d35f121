"""The store keeps every field of events and snapshots across a reopen, and dedups events."""

from __future__ import annotations

from datetime import datetime, timezone

from bridge.core.model import Account, Event, EventKind, ItemKind, ItemRef, ItemSnapshot, PollResult, StatusCategory
from bridge.store import Store

T = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
TASK = ItemRef("asana", "1201000000000010")
OTHER = ItemRef("jira", "WEB-17")


def test_events_and_snapshots_round_trip_with_links_and_due(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    due = Event("asana", "story:1", TASK, T, EventKind.DUE_CHANGED, Account("asana", "1"), due="2026-12-01")
    link = Event("asana", "story:2", TASK, T, EventKind.LINKED, Account("asana", "1"), link_type="mentions", target=OTHER)
    snap = ItemSnapshot(TASK, "Day-one import", "https://app.asana.com/0/1/1201000000000010", ItemKind.TASK,
                        "Legal review", StatusCategory.IN_REVIEW, assignees=(Account("asana", "2"),),
                        updated_at=T, links=(OTHER,), due=datetime(2026, 12, 1, 23, 59, tzinfo=timezone.utc))
    store = Store.open(url)
    assert store.save_poll("asana", "p", PollResult(events=[due, link], items=[snap], next_cursor={"sync": "a"}), T) == 2
    assert store.save_poll("asana", "p", PollResult(events=[due], next_cursor={"sync": "b"}), T) == 0
    store.engine.dispose()

    again = Store.open(url)
    assert again.events(TASK) == [due, link]
    assert again.item(TASK) == snap
    assert again.get_cursor("asana", "p") == {"sync": "b"}
