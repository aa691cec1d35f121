"""The store keeps every field of events and snapshots across a reopen, dedups events, and counts
the write budget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bridge.actions import OutboxStatus, writes_in_last_hour
from bridge.core.model import Account, Event, EventKind, ItemKind, ItemRef, ItemSnapshot, PollResult, StatusCategory
from bridge.store import FindingRow, OutboxRow, Store

T = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
TASK = ItemRef("asana", "1201000000000010")
OTHER = ItemRef("jira", "WEB-17")


def test_events_and_snapshots_round_trip_with_links_and_due(database_url):
    url = database_url
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


def test_write_budget_counts_rows_sent_in_the_last_hour_in_one_query(database_url):
    store = Store.open(database_url)
    now = T.astimezone(ZoneInfo("Europe/Berlin"))  # any zone in, compared as UTC
    rows = [  # (connector, status, sent minutes before now)
        ("github", OutboxStatus.DONE, 10), ("github", OutboxStatus.UNKNOWN, 59), ("github", OutboxStatus.SENDING, 1),
        ("github", OutboxStatus.DONE, 60),  # exactly an hour ago: out of (now - 1h, now]
        ("github", OutboxStatus.FAILED, 5), ("github", OutboxStatus.PENDING, None), ("jira", OutboxStatus.DONE, 5),
    ]
    for i, (connector, status, minutes) in enumerate(rows):
        sent = None if minutes is None else now - timedelta(minutes=minutes)
        store.record_finding_and_plan(_finding(f"f{i}"), [OutboxRow(
            key=f"f{i}:0", marker=f"hb:{i:012x}", finding_key=f"f{i}", rule="r", step=0, connector=connector,
            action="{}", status=status, created_at=T, sent_at=sent)])
    assert writes_in_last_hour(store, "github", now) == 3
    assert writes_in_last_hour(store, "jira", now) == 1
    assert writes_in_last_hour(store, "asana", now) == 0
    store.engine.dispose()


def _finding(key: str) -> FindingRow:
    return FindingRow(key=key, rule="r", detect="handoff", item_tool="github", item_key="acme/web#1", at=T,
                      evidence="[]", summary="s", first_seen=T)


def test_a_row_cancelled_while_its_finding_did_not_stand_is_due_again_when_it_stands_again(tmp_path):
    """Chaos run (bench/chaos.py): a finding missing from one cycle's evaluation had its pending
    nudge cancelled for good, and the overdue handoff was never nudged. Planning the same finding
    again revives the never-sent row and reopens the finding; other statuses are left alone."""
    store = Store.open(f"sqlite:///{tmp_path}/state.db")

    def row(key: str, status: OutboxStatus) -> OutboxRow:
        return OutboxRow(key=key, marker="hb:" + key.replace(":", "").ljust(12, "0")[:12], finding_key="f1", rule="r",
                         step=int(key[-1]), connector="github", action="{}", status=status, created_at=T)

    revive = (OutboxStatus.CANCELLED, OutboxStatus.PENDING)
    assert len(store.record_finding_and_plan(_finding("f1"), [row("f1:0", OutboxStatus.PENDING),
                                                              row("f1:1", OutboxStatus.PENDING)], revive=revive)) == 2
    store.update_outbox("f1:0", status=OutboxStatus.CANCELLED)
    store.update_outbox("f1:1", status=OutboxStatus.DONE)
    assert store.resolve_findings(set(), T) == ["f1"]

    again = store.record_finding_and_plan(_finding("f1"), [row("f1:0", OutboxStatus.PENDING),
                                                           row("f1:1", OutboxStatus.PENDING)], revive=revive)
    assert [r.key for r in again] == ["f1:0"]
    statuses = {r.key: r.status for r in store.outbox()}
    assert statuses == {"f1:0": OutboxStatus.PENDING, "f1:1": OutboxStatus.DONE}
    assert [f.resolved_at for f in store.findings()] == [None]
    store.engine.dispose()
