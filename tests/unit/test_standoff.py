"""The standoff detector (pure) and its two guards in the running daemon: min_age and the live re-check."""

from datetime import datetime, timedelta, timezone

import structlog

from bridge.app.commands import demo
from bridge.core.model import Account, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from bridge.store import Link
from rules import standoff

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
ANA_GH, BEN_GH, BEN_JIRA = Account("github", "ana"), Account("github", "ben"), Account("jira", "b-1")
PR, WEB7 = ItemRef("github", "acme/web#1"), ItemRef("jira", "WEB-7")


class Rule:
    name = "waiting"


def who(acct):
    """ben has two accounts: one person."""
    return None if acct is None else ("person:ben" if acct in (BEN_GH, BEN_JIRA) else str(acct))


def edges(review_at=T0, block_at=T0, blocker_holder=BEN_JIRA):
    return [
        standoff.WaitEdge(standoff.REVIEW, BEN_GH, ANA_GH, PR, PR, review_at, ("ev:1",)),
        standoff.WaitEdge(standoff.BLOCKED_BY, ANA_GH, blocker_holder, ItemRef("github", "acme/web#2"), WEB7, block_at, ("ev:2",)),
    ]


def run(es, now, min_age=timedelta(hours=2)):
    return standoff.detect(Rule(), es, who=who, aged_at=lambda e: e.began + min_age, now=now)


def test_a_cycle_across_tools_through_one_person_is_one_standoff():
    [f] = run(edges(), T0 + timedelta(hours=3))
    assert f.detect == "standoff"
    assert {e.kind for e in f.edges} == {"review", "blocked_by"}
    assert set(f.items) == {PR, ItemRef("github", "acme/web#2"), WEB7}
    # the review is a decision: its holder (ana) is asked to decide
    assert f.breaks.kind == "review" and f.receiver == ANA_GH
    assert f.at == T0 + timedelta(hours=2)
    # the same cycle gives the same key in every cycle of the daemon
    assert run(edges(), T0 + timedelta(hours=5))[0].key == f.key


def test_no_standoff_while_one_edge_is_younger_than_min_age():
    assert run(edges(block_at=T0 + timedelta(hours=2)), T0 + timedelta(hours=3)) == []
    assert len(run(edges(block_at=T0 + timedelta(hours=2)), T0 + timedelta(hours=4))) == 1


def test_without_the_second_account_mapped_there_is_no_cycle():
    found = standoff.detect(Rule(), edges(), who=lambda a: None if a is None else str(a),
                            aged_at=lambda e: e.began, now=T0 + timedelta(hours=3))
    assert found == []


def test_a_blocker_nobody_holds_is_reported_as_ownerless():
    [f] = run(edges(blocker_holder=None), T0 + timedelta(hours=3))
    assert f.detect == "ownerless" and f.receiver == ANA_GH and f.items == (ItemRef("github", "acme/web#2"),)


def test_the_kept_graph_follows_its_sources_edge_by_edge():
    graph = standoff.WaitForGraph(Rule(), who=who, aged_at=lambda e: e.began + timedelta(hours=2))
    review, block = edges()
    graph.set_source("pr", [review])
    graph.set_source("jira", [block])
    graph.set_source("also-jira", [block])  # one edge said by two sources
    graph.advance(T0 + timedelta(hours=1))
    assert graph.findings() == []  # not yet min_age
    graph.advance(T0 + timedelta(hours=3))
    [f] = graph.findings()
    assert f.key == run(edges(), T0 + timedelta(hours=3))[0].key
    graph.set_source("jira", [])
    assert [x.key for x in graph.findings()] == [f.key]  # the other source still says it
    graph.set_source("also-jira", [])
    assert graph.findings() == [] and set(graph.edges) == {review.key}
    graph.set_source("jira", [block])  # back, and old enough at once
    assert [x.key for x in graph.findings()] == [f.key]
    graph.advance(T0 + timedelta(hours=1))  # time stepped back: decided again
    assert graph.findings() == []


def snap(ref, status="Blocked", assignees=(), kind=ItemKind.ISSUE, done=False):
    return ItemSnapshot(ref, "t", "u", kind, status, StatusCategory.DONE if done else StatusCategory.IN_PROGRESS,
                        assignees=tuple(assignees))


def test_link_edges_follow_blocked_statuses_and_skip_done_blockers():
    mine = snap(WEB7, assignees=[BEN_JIRA])
    links = [Link(WEB7, PR, "mention", T0), Link(WEB7, ItemRef("jira", "WEB-8"), "blocked_by", T0)]
    items = {PR: snap(PR, "open", kind=ItemKind.PULL_REQUEST), ItemRef("jira", "WEB-8"): snap(ItemRef("jira", "WEB-8"), done=True)}
    got = standoff.link_edges(WEB7, mine, links, items.get, blocked_statuses={"blocked"})
    assert [(e.kind, e.on) for e in got] == [("status", PR)]
    assert standoff.link_edges(WEB7, mine, links, items.get, blocked_statuses=set()) == []


def _run_logged(name):
    with structlog.testing.capture_logs() as logs:
        result = demo.Demo(demo.load_scenario(demo.find_scenario(name))).run()
    return result, logs


def test_a_cycle_seen_only_between_two_polls_is_dropped_by_the_live_recheck():
    result, logs = _run_logged("standoff-only-between-polls")
    assert result.findings == [] and result.comments == []
    dropped = [entry for entry in logs if entry["event"] == "standoff_not_confirmed"]
    assert dropped, "the stale view must have shown the cycle, and the re-check must have dropped it"
    assert set(dropped[0]["items"]) >= {"WEB-9", "acme/web#31"}


def test_the_nudge_inside_a_standoff_is_held_back():
    result, _ = _run_logged("two-tool-standoff")
    assert result.ok, result.expectations
    assert not [a for a in result.actions if a["rule"] == "review-not-picked-up"]
    [standing] = [f for f in result.findings if f["detect"] == "standoff"]
    assert "a review of acme/web#22" in standing["summary"]
