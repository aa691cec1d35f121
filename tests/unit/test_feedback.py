"""Learning from feedback (issue 16): the store side (table ``feedback``, ``record_feedback``, the
grouped counts) on SQLite and on a real PostgreSQL server, the threshold arithmetic (hypothesis),
and the ``[feedback]`` config with its per-rule override."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest
from sqlalchemy import text
from hypothesis import given, settings, strategies as st

from bridge.config import parse_config
from bridge.core.errors import ConfigError
from bridge.engine.feedback import Quieting, figures
from bridge.store import FeedbackRow, HandoffRow, OutboxRow, Store
from bridge.store.tables import feedback_key
from rules.feedback import FeedbackSettings, Limits, judge

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)

CONFIG = """\
[people.ben]
accounts = { github = "ben-o" }

[connectors.github]
token = { env = "GITHUB_TOKEN" }
repositories = ["acme/web"]

[[rules]]
name = "review"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{ after = "0h", do = "comment" }, { after = "4h", do = "comment" }]

[[rules]]
name = "other"
detect = "handoff"
on = ["assigned"]
within = "4h"
need = "look"
next = "done"
steps = [{ after = "0h", do = "comment" }]
"""
ENV = {"GITHUB_TOKEN": "ghp_unit_test_token"}


def _outbox(key: str, finding: str, rule: str = "review", step: int = 0, status: str = "done",
            sent: datetime | None = T0) -> OutboxRow:
    return OutboxRow(key=key, marker="hb:" + key[-12:].rjust(12, "0"), finding_key=finding, rule=rule, step=step,
                     connector="github", action="{}", status=status, created_at=T0 - timedelta(days=30),
                     sent_at=sent)


def _fb(n: int, kind: str, at: datetime, rule: str = "review") -> FeedbackRow:
    return FeedbackRow(key=feedback_key("github", f"IC_{n}", rule), rule=rule, item_tool="github",
                       item_key=f"acme/web#{n}", handoff_key=f"{rule}:github:acme/web#{n}:ben-o:e{n}", kind=kind,
                       actor="github:ben-o", at=at)


def _seed(store: Store) -> None:
    """Outbox rows and handoffs of rule ``review`` (and one of ``other``) around the window
    ``(T0 - 7d, T0]``; ``f1``..``f3`` nudged inside it, ``f0`` before it."""
    with store.session() as s:
        s.add_all([
            _outbox("f0:0", "f0", sent=T0 - WEEK),  # exactly at the window's start: outside
            _outbox("f1:0", "f1", sent=T0 - WEEK + timedelta(seconds=1)),
            _outbox("f1:1", "f1", step=1, sent=T0 - timedelta(days=1)),  # a later step is not a nudge
            _outbox("f2:0:github:a", "f2", sent=T0 - timedelta(days=2)),  # a standoff's comment on each item
            _outbox("f2:0:github:b", "f2", sent=T0 - timedelta(days=2)),
            _outbox("f3:0", "f3", sent=T0),  # at now: inside
            _outbox("f4:0", "f4", status="dry_run", sent=None),  # recorded only: never a nudge
            _outbox("f5:0", "f5", status="pending", sent=None),
            _outbox("f6:0", "f6", status="cancelled", sent=None),
            _outbox("f7:0", "f7", status="done", sent=T0 + timedelta(seconds=1)),  # after now
            _outbox("g1:0", "g1", rule="other", sent=T0 - timedelta(days=1)),
        ])

    def handoff(key: str, state: str, ended: datetime | None, rule: str = "review") -> HandoffRow:
        return HandoffRow(key=key, rule=rule, item_tool="github", item_key=key, sender="github:ana",
                          receiver="github:ben-o", sent_at=T0 - timedelta(days=20), deadline=T0 - timedelta(days=19),
                          state=state, ended_at=ended, updated_at=T0)

    store.upsert_handoffs([
        handoff("f1", "received", T0 - timedelta(hours=1)),  # acknowledged after its nudge
        handoff("f2", "received", T0 - timedelta(days=3)),  # ended before its nudge: not after a nudge
        handoff("f3", "closed", T0),  # closed, not received
        handoff("f0", "received", T0 - WEEK - timedelta(hours=1)),  # before the window
        handoff("f5", "received", T0 - timedelta(hours=2)),  # never nudged
    ])


def test_record_feedback_is_idempotent_and_the_counts_are_one_grouped_query_each(database_url):
    store = Store.open(database_url)
    _seed(store)
    rows = [_fb(1, "wrong", T0 - timedelta(hours=3)), _fb(2, "not_mine", T0 - timedelta(days=6)),
            _fb(3, "snooze", T0 - timedelta(minutes=1)), _fb(4, "wrong", T0 - WEEK),  # at the start: outside
            _fb(5, "wrong", T0 - timedelta(hours=1), rule="other")]
    assert store.record_feedback(rows) == 5
    assert store.record_feedback(rows[:2] + [_fb(6, "wrong", T0)]) == 1, "a row recorded twice is left as it is"
    assert len(store.feedback()) == 6 and store.feedback("other")[0].at == T0 - timedelta(hours=1)

    since = T0 - WEEK
    assert store.first_steps_sent(["review", "other"], ("done",), since, T0) == {"review": 3, "other": 1}
    assert store.received_after_first_step(["review", "other"], ("done",), "received", since, T0) == {"review": 1}
    assert store.feedback_counts(["review", "other"], since, T0) == {
        "review": {"wrong": 2, "not_mine": 1, "snooze": 1}, "other": {"wrong": 1}}

    config = parse_config(CONFIG, environ=ENV)
    got = figures(store, config.rules, T0, WEEK)
    r = got["review"]
    assert (r.nudges, r.acknowledged, r.wrong, r.not_mine, r.snoozes) == (3, 1, 2, 1, 1)
    assert r.share == 1.0 and not r.quiet, "3 of 3 wrong or not-mine, but fewer than min_nudges = 5"
    assert list(got) == ["review", "other"]


def test_record_feedback_refuses_an_unknown_kind_or_a_naive_time_and_records_nothing(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/state.db")
    with pytest.raises(ValueError, match=r"feedback 'github:IC_2:review': unknown kind 'bogus', expected one of "
                                         r"wrong, not_mine, snooze"):
        store.record_feedback([_fb(1, "wrong", T0), _fb(2, "bogus", T0)])
    with pytest.raises(ValueError, match="must be an aware datetime"):
        store.record_feedback([_fb(3, "wrong", T0.replace(tzinfo=None))])
    assert store.feedback() == []


def test_quieting_is_kept_in_the_store_and_changes_only_when_recorded(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    store = Store.open(url)
    config = parse_config(CONFIG.replace('steps = [{ after = "0h", do = "comment" }, { after = "4h"',
                                         'feedback = { min_nudges = 2 }\nsteps = [{ after = "0h", do = "comment" }, '
                                         '{ after = "4h"') + '\n[feedback]\nwindow = "7d"\n', environ=ENV)
    _seed(store)
    store.record_feedback([_fb(1, "wrong", T0 - timedelta(hours=3)), _fb(2, "wrong", T0 - timedelta(hours=3))])
    q = Quieting(config, store)
    peek = q.update(T0, record=False)["review"]
    assert peek.quiet and peek.quiet_since is None and q.quiet == frozenset(), "a peek changes nothing"
    assert Quieting(config, store).update(T0)["review"].quiet_since == T0
    again = Quieting(config, Store.open(url))  # a restart
    later = again.update(T0 + timedelta(hours=1), record=False)["review"]
    assert later.quiet_since == T0, "the restart knows since when"
    # Eight days on, the window holds no nudge: it comes back.
    back = again.update(T0 + timedelta(days=8))["review"]
    assert not back.quiet and again.quiet == frozenset()
    assert Quieting(config, store).update(T0 + timedelta(days=8), record=False)["review"].quiet_since is None


# --------------------------------------------------------------------------- the arithmetic


@settings(max_examples=300, deadline=None)
@given(nudges=st.integers(0, 200), wrong=st.integers(0, 200), not_mine=st.integers(0, 200),
       percent=st.integers(0, 100), min_nudges=st.integers(1, 50), enabled=st.booleans())
def test_judge_is_quiet_exactly_when_the_share_is_more_than_the_threshold_with_enough_nudges(
        nudges, wrong, not_mine, percent, min_nudges, enabled):
    max_share = percent / 100  # as a user writes it: 0.3, 0.45, 1.0
    quiet, reason = judge(nudges, wrong, not_mine, Limits(enabled, max_share, min_nudges))
    expected = enabled and nudges >= min_nudges and 100 * (wrong + not_mine) > percent * nudges
    assert quiet == expected
    assert reason and "\n" not in reason
    if enabled and nudges >= min_nudges:
        assert reason.startswith(f"{wrong + not_mine} of {nudges} nudges")
    assert Fraction(wrong + not_mine, max(nudges, 1)) > Fraction(percent, 100) or not quiet


def test_judge_compares_the_threshold_as_written_not_its_binary_neighbour():
    assert judge(10, 3, 0, Limits(True, 0.3, 5)) == (False, "3 of 10 nudges answered wrong or not-mine: 30% is not "
                                                             "more than 30%")
    assert judge(10, 2, 2, Limits(True, 0.3, 5))[0]
    assert judge(4, 4, 0, Limits(True, 0.0, 5)) == (False, "4 nudges in the window, fewer than min_nudges = 5")
    assert not judge(9, 9, 0, Limits(False, 0.0, 1))[0]


# --------------------------------------------------------------------------- config


def test_feedback_config_defaults_overrides_and_problems():
    config = parse_config(CONFIG, environ=ENV)
    assert config.feedback == FeedbackSettings()
    assert str(config.feedback.window) == "28d" and config.feedback.window.wall() == timedelta(days=28)
    assert config.feedback_limits(config.rules[0]) == Limits(True, 0.5, 5)
    text = CONFIG.replace('steps = [{ after = "0h", do = "comment" }]',
                          'feedback = { max_false_positive_share = 0.3, enabled = false }\n'
                          'steps = [{ after = "0h", do = "comment" }]')
    text += '\n[feedback]\nwindow = "14d"\nmin_nudges = 8\nmax_false_positive_share = 1\n'
    config = parse_config(text, environ=ENV)
    assert config.feedback_limits(config.rules[0]) == Limits(True, 1.0, 8)
    assert config.feedback_limits(config.rules[1]) == Limits(False, 0.3, 8)
    bad = CONFIG.replace('steps = [{ after = "0h", do = "comment" }]',
                         'feedback = { max_false_positive_share = 1.5, window = "2d" }\n'
                         'steps = [{ after = "0h", do = "comment" }]')
    bad += '\n[feedback]\nwindow = "0h"\nmin_nudges = 0\nenabled = "yes"\n'
    with pytest.raises(ConfigError) as exc:
        parse_config(bad, source="config.toml", environ=ENV)
    problems = exc.value.problems
    assert "config.toml:24: rules[1].feedback.max_false_positive_share: must be at most 1.0 (got 1.5)" in problems
    assert any(p.startswith("config.toml:24: rules[1].feedback.window: unknown key") for p in problems), problems
    assert "config.toml:28: feedback.window: must be longer than 0s (got '0h')" in problems
    assert "config.toml:29: feedback.min_nudges: must be at least 1 (got 0)" in problems
    assert any(p.startswith("config.toml:30: feedback.enabled:") and "'yes'" in p for p in problems), problems


def test_the_migrations_build_exactly_the_tables_and_indexes_the_models_describe(database_url):
    """The migrations (0001-0007) build exactly what ``bridge.store.tables`` describes, column types
    included: on PostgreSQL every time is ``timestamptz`` (0007 fixes 0004's and 0005's)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    store = Store.open(database_url)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback")).scalar_one() == 0


def test_the_answers_to_commands_are_not_nudges(tmp_path):
    """A reply to a ``/hb`` command is an outbox row of step 0 under the rule it concerns
    (``finding_key`` ``cmd:...``, ``Planner.plan_replies``): it never counts as a nudge."""
    store = Store.open(f"sqlite:///{tmp_path}/state.db")
    _seed(store)
    with store.session() as s:
        s.add(_outbox("cmd:github:acme/web#9:IC_9", "cmd:github:acme/web#9:IC_9", sent=T0 - timedelta(hours=1)))
    config = parse_config(CONFIG, environ=ENV)
    assert store.first_steps_sent(["review"], ("done",), T0 - WEEK, T0) == {"review": 4}, "the row is there"
    assert figures(store, config.rules, T0, WEEK)["review"].nudges == 3
