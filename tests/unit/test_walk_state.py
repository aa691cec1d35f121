"""The evaluator's kept and stored state gives what a walk over every event gives.

Over the engine bench's synthetic organisation (``tests/support/org.py``, as in ``bench/engine_eval.py``, small: 1,000 items,
10,000 events, 2 planted standoffs), written through ``Store.save_poll``:

- a restart loads the stored walk state and walks no item, and finds the same;
- items stored while the daemon was down are walked again at the restart;
- a changed rule makes the restart walk everything again;
- incremental cycles (new events, changed snapshots) agree with a walk over every event;
- a deadline passing or an edge reaching ``min_age`` needs no change to be seen.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import timedelta

import pytest

from bridge.config import parse_config
from bridge.engine.evaluator import Evaluator
from bridge.core.model import Account, Event, EventKind, ItemRef, PollResult, StatusCategory
from bridge.store import WALK_STATE_CURSOR, Store
from tests.support import org as org_bench


NOW = org_bench.NOW


@pytest.fixture(scope="module")
def organisation(tmp_path_factory):
    """(database path, config text, plan): built once, copied per test."""
    plan = org_bench.make_plan(1000, 10_000, 400)
    path = tmp_path_factory.mktemp("org") / "org.db"
    store = Store.open(f"sqlite:///{path}")
    org_bench.write_save_poll(store, plan)
    store.engine.dispose()
    return path, org_bench.config_text(plan.people), plan


@pytest.fixture
def org(organisation, tmp_path):
    path, text, plan = organisation
    copy = tmp_path / "state.db"
    shutil.copyfile(path, copy)
    return Store.open(f"sqlite:///{copy}"), text, plan


def evaluator(store, text, persist=True):
    return Evaluator(parse_config(text, environ=org_bench.ENV), store, bots=lambda: set(), persist=persist)


def picture(out):
    """What an evaluation found, as comparable sets (pending handoffs with state and deadline)."""
    return {
        "pending": sorted((h.key, h.state, h.deadline) for h in out.handoffs if h.state in ("sent", "overdue")),
        "findings": sorted(f.key for f in out.findings),
        "inhibited": sorted(f.key for f in out.inhibited),
        "standoffs": sorted(f.key for f in out.standoffs),
        "edges": sorted(e.key for e in out.edges),
    }


def from_scratch(store, text, now):
    """A walk over every stored event, writing nothing: the reference."""
    ev = evaluator(store, text, persist=False)
    ev.rebuild()
    return picture(ev.evaluate(now))


def test_a_restart_loads_the_stored_state_and_walks_nothing(org):
    store, text, plan = org
    first = evaluator(store, text)
    assert first.refresh(None) > 900  # no stored state yet: every item with events is walked
    found = picture(first.evaluate(NOW))
    assert len([k for k in found["standoffs"] if ":standoff:" in k]) == len(plan.cycles) == 2
    assert len(found["pending"]) > 30 and len(found["findings"]) > 30 and len(found["edges"]) > 300

    again = evaluator(store, text)
    assert again.refresh(None) == 0
    assert picture(again.evaluate(NOW)) == found


def _open_handoffs(ev):
    return [(ref, walk.open[0][0]) for walks in ev.walks.values() for ref, walk in sorted(walks.items())]


def test_items_stored_while_the_daemon_was_down_are_walked_at_the_restart(org):
    store, text, _ = org
    first = evaluator(store, text)
    before = picture(first.evaluate(NOW))
    ref, handoff = _open_handoffs(first)[0]
    # The receiver answers; the poll is stored, then the daemon stops before evaluating it.
    ack = Event(tool=ref.tool, id="ack-while-down", item=ref, at=NOW - timedelta(minutes=1),
                kind=EventKind.COMMENTED, actor=handoff.receiver, text="on it")
    store.save_poll(ref.tool, "s", PollResult(events=[ack]), NOW)

    again = evaluator(store, text)
    assert 1 <= again.refresh(None) <= 1 + len(again.mentions.get(ref, ()))
    after = picture(again.evaluate(NOW))
    assert handoff.key in {k for k, _, _ in before["pending"]}
    assert handoff.key not in {k for k, _, _ in after["pending"]}
    assert after == from_scratch(store, text, NOW)


def test_a_changed_rule_walks_everything_again(org):
    store, text, _ = org
    evaluator(store, text).evaluate(NOW)
    slower = text.replace('within = "4h"', 'within = "2d"')
    assert slower != text
    again = evaluator(store, slower)
    assert again.refresh(None) > 900
    assert picture(again.evaluate(NOW)) == from_scratch(store, slower, NOW)
    assert evaluator(store, slower).refresh(None) == 0  # and stored it for the next start
    reworded = slower.replace('need = "a look"', 'need = "a second pair of eyes"')
    assert reworded != slower
    assert evaluator(store, reworded).refresh(None) == 0  # wording changes no walk


def _poll(store, rng, refs, ev, now, k):
    """Change 25 random items: receivers answer, new review requests and assignments, items move
    to Blocked, get closed or change hands. Returns the refs stored."""
    events, snaps = [], []
    open_by_item = dict(_open_handoffs(ev))
    for j, ref in enumerate(rng.sample(refs, 25)):
        at = now - timedelta(seconds=60 + j)
        snap = ev.items[ref]
        person = Account(ref.tool, org_bench.acct(rng.randrange(20), ref.tool).id)
        eid = f"inc-{k}-{j}"
        roll = rng.random()
        if ref in open_by_item and roll < 0.4:
            events.append(Event(tool=ref.tool, id=eid, item=ref, at=at, kind=EventKind.COMMENTED,
                                actor=open_by_item[ref].receiver, text="looking"))
        elif roll < 0.6:
            events.append(Event(tool=ref.tool, id=eid, item=ref, at=at, kind=EventKind.ASSIGNED,
                                actor=snap.author or person, subject=person))
            snap = replace(snap, assignees=(person,))
        elif roll < 0.75:
            snap = replace(snap, status="Blocked", status_category=StatusCategory.IN_PROGRESS)
        elif roll < 0.9:
            events.append(Event(tool=ref.tool, id=eid, item=ref, at=at, kind=EventKind.CLOSED, actor=person))
            snap = replace(snap, status_category=StatusCategory.DONE, status="Done")
        else:
            snap = replace(snap, assignees=())
        snaps.append(replace(snap, updated_at=at))
    for tool in {s.ref.tool for s in snaps}:
        store.save_poll(tool, "inc", PollResult(events=[e for e in events if e.item.tool == tool],
                                                items=[s for s in snaps if s.ref.tool == tool]), now)
    return {s.ref for s in snaps}


def test_incremental_cycles_agree_with_a_walk_over_every_event(org):
    store, text, _ = org
    ev = evaluator(store, text)
    ev.evaluate(NOW)
    ev.items.limit = 60  # snapshots dropped between cycles, as in a long-running daemon
    rng = random.Random(7)
    with store.engine.connect() as conn:
        refs = sorted(ItemRef(t, k) for t, k in conn.exec_driver_sql("SELECT tool, key FROM items"))
    seen_changes = set()
    for k in range(4):
        now = NOW + timedelta(hours=3 * (k + 1))
        changed = _poll(store, rng, refs, ev, now, k)
        before = picture(ev.evaluate(now))
        ev.refresh(changed)
        got = picture(ev.evaluate(now))
        assert got == from_scratch(store, text, now), f"cycle {k}"
        seen_changes |= {name for name in got if got[name] != before[name]}
        restarted = evaluator(store, text, persist=False)
        assert restarted.refresh(None) == 0
        assert picture(restarted.evaluate(now)) == got, f"stored state after cycle {k}"
    # the changes reached every part of the evaluation
    assert seen_changes >= {"pending", "findings", "edges", "standoffs"}


def test_a_deadline_passing_needs_no_change_and_time_can_step_back(org):
    store, text, _ = org
    ev = evaluator(store, text)
    ev.evaluate(NOW)
    waiting = [h for _, h in _open_handoffs(ev) if h.deadline > NOW]
    assert waiting
    h = min(waiting, key=lambda h: h.deadline)
    before, after = h.deadline - timedelta(minutes=1), h.deadline + timedelta(minutes=1)
    assert h.key not in picture(ev.evaluate(before))["findings"]
    late = picture(ev.evaluate(after))
    assert h.key in late["findings"] + late["inhibited"]
    assert late == from_scratch(store, text, after)
    assert picture(ev.evaluate(before)) == from_scratch(store, text, before)


def test_standoffs_wait_for_min_age_without_any_change(org):
    store, text, plan = org
    ev = evaluator(store, text)
    standoffs = [f for f in ev.evaluate(NOW).standoffs if f.detect == "standoff"]
    assert len(standoffs) == len(plan.cycles)
    f = max(standoffs, key=lambda f: f.at)  # the moment its last edge reached min_age
    just_before = picture(ev.evaluate(f.at - timedelta(minutes=1)))
    assert f.key not in just_before["standoffs"]
    assert just_before == from_scratch(store, text, f.at - timedelta(minutes=1))
    assert f.key in picture(ev.evaluate(f.at))["standoffs"]


def test_the_stored_fingerprint_says_what_the_state_was_built_under(org):
    store, text, _ = org
    assert store.get_cursor(*WALK_STATE_CURSOR) is None
    ev = evaluator(store, text)
    ev.evaluate(NOW)
    stored, states, dirty = store.walk_states()
    assert stored == ev.fingerprint() and not dirty
    assert set(states) == ev._derived_refs()
    readonly = evaluator(store, text.replace('within = "4h"', 'within = "1d"'), persist=False)
    readonly.evaluate(NOW)
    assert store.walk_states()[0] == stored  # a read-only evaluator writes nothing


def test_a_link_removed_from_the_other_item_walks_this_one_again(tmp_path):
    """ben answers on the Jira issue linked to ana's pull request: that acknowledges the review
    request (same work). When the issue drops the link, the pull request's walk no longer sees
    ben's comment: the request is waiting again, as a walk over every event says."""
    from bridge.core.model import ItemKind, ItemSnapshot

    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    text = org_bench.config_text(3)
    ana_gh, ben_gh, ben_jira = org_bench.acct(0, "github"), org_bench.acct(1, "github"), org_bench.acct(1, "jira")
    pr, issue = ItemRef("github", "acme/web#1"), ItemRef("jira", "WEB-1")
    t = NOW - timedelta(hours=2)
    pr_snap = ItemSnapshot(pr, "PR", "u", ItemKind.PULL_REQUEST, "open", StatusCategory.IN_PROGRESS, author=ana_gh,
                           created_at=t)
    issue_snap = ItemSnapshot(issue, "Issue", "u", ItemKind.ISSUE, "In Progress", StatusCategory.IN_PROGRESS,
                              assignees=(ben_jira,), created_at=t, links=(pr,))
    ask = Event(tool="github", id="rr-1", item=pr, at=t, kind=EventKind.REVIEW_REQUESTED, actor=ana_gh, subject=ben_gh)
    answer = Event(tool="jira", id="c-1", item=issue, at=t + timedelta(minutes=5), kind=EventKind.COMMENTED,
                   actor=ben_jira, text="looking at the PR")
    store.save_poll("github", "s", PollResult(events=[ask], items=[pr_snap]), NOW)
    store.save_poll("jira", "s", PollResult(events=[answer], items=[issue_snap]), NOW)

    ev = evaluator(store, text)
    assert picture(ev.evaluate(NOW))["pending"] == []  # acknowledged on the linked issue

    store.save_poll("jira", "s", PollResult(items=[replace(issue_snap, links=())]), NOW)
    ev.refresh({issue})
    got = picture(ev.evaluate(NOW))
    assert [k for k, _, _ in got["pending"]] == [f"handoff-not-picked-up:github:acme/web#1:{ben_gh.id}:rr-1"]
    assert got == from_scratch(store, text, NOW)
