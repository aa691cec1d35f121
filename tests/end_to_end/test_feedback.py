"""Learning from feedback (issue 16): a rule whose nudges people keep answering ``/hb wrong`` or
``/hb not-mine`` switches itself to dry run, says so once, and comes back when the window slides.

Real engine, PyGithub over HTTP against the GitHub emulator, stepping clock (Berlin, 09:00-17:00).
The nudges are real: sent by real cycles and standing in the emulated tracker. The feedback is
recorded directly with ``Store.record_feedback`` (the ``/hb`` commands that record it are the
lead's part of issue 16).
"""

from __future__ import annotations

from datetime import timedelta

from structlog.testing import capture_logs

from bridge.actions import OutboxStatus
from bridge.app.commands.explain import explain
from bridge.app.commands.status import build_status, render_text, to_json
from bridge.core.model import ItemRef
from bridge.store import FeedbackRow
from bridge.store.tables import feedback_key
from tests.support.world import World, berlin

RULE = """
[[rules]]
name = "review-not-picked-up"
detect = "handoff"
on = ["review_requested"]
within = "1h"
need = "review"
next = "merge"
steps = [{ after = "0h", do = "comment", template = "nudge" }]
"""
NAME = "review-not-picked-up"


def _request(w: World, number: int, at: str) -> None:
    """ana opens acme/web#number at ``at`` (Berlin) and asks ben for a review a minute later."""
    w.emu.open_issue("acme/web", "ana", f"Change {number}", pull_request=True, at=berlin(at), number=number)
    w.emu.request_review("acme/web", number, "ana", "ben-o", at=berlin(at) + timedelta(minutes=1))


def _feedback(w: World, numbers, kind: str, at: str) -> int:
    """ben answers the nudge on each of ``numbers`` with ``kind`` (``wrong``, ``not_mine``, ``snooze``)."""
    rows = []
    for n in numbers:
        [h] = [h for h in w.store.handoffs(ItemRef("github", f"acme/web#{n}"))]
        rows.append(FeedbackRow(key=feedback_key("github", f"IC_{kind}_{n}", NAME), rule=NAME, item_tool="github",
                                item_key=f"acme/web#{n}", handoff_key=h.key, kind=kind, actor="github:ben-o",
                                at=berlin(at)))
    return w.store.record_feedback(rows)


def _five_nudged(w: World) -> None:
    """Mon 23 Nov: five review requests from 09:00, each nudged at its deadline (1 h), all sent by 11:30."""
    for i, n in enumerate(range(1, 6)):
        _request(w, n, f"2026-11-23 09:{i * 5:02d}")
    w.run_until("2026-11-23 11:30")
    assert all(len(w.bot_comments(number=n)) == 1 for n in range(1, 6)), "five real nudges"


def _events(logs, name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


def test_a_rule_crossing_its_threshold_goes_quiet_says_so_once_and_comes_back_when_the_window_slides(tmp_path):
    w = World(tmp_path, start="2026-11-23 08:00", rules=RULE, extra='[feedback]\nwindow = "3d"\n')
    try:
        _five_nudged(w)
        w.emu.submit_review("acme/web", 5, "ben-o", "APPROVED", at=berlin("2026-11-23 11:40"))  # acknowledged after its nudge
        assert _feedback(w, [1, 2], "wrong", "2026-11-23 11:45") == 2
        assert _feedback(w, [3], "not_mine", "2026-11-23 11:45") == 1
        assert _feedback(w, [4], "snooze", "2026-11-23 11:45") == 1
        assert _feedback(w, [1, 2], "wrong", "2026-11-23 11:45") == 0, "recording twice is a no-op"

        with capture_logs() as logs:
            _request(w, 6, "2026-11-23 12:00")  # deadline 13:01: its nudge would go out at 13:15
            w.run_until("2026-11-23 14:00")
            w.restart()  # a restart neither forgets nor says it again
            w.run_until("2026-11-23 14:30")
        [quieted] = _events(logs, "rule_quieted")
        assert quieted["rule"] == NAME and quieted["log_level"] == "warning"
        assert (quieted["nudges"], quieted["wrong"], quieted["not_mine"], quieted["snoozes"]) == (5, 2, 1, 1)
        assert quieted["false_positive_share"] == 0.6 and quieted["max_false_positive_share"] == 0.5
        assert w.bot_comments(number=6) == [], "the quiet rule wrote nothing"
        [row] = [r for r in w.store.outbox() if "acme/web#6" in r.finding_key]
        assert row.status == OutboxStatus.DRY_RUN, "its next nudge is a dry run"

        figures = w.engine.feedback.update(w.clock(), record=False)[NAME]
        assert (figures.nudges, figures.acknowledged, figures.wrong, figures.not_mine, figures.snoozes) == (5, 1, 2, 1, 1)
        status = build_status(w.engine)
        text = render_text(status)
        assert f"rule {NAME} is quiet (dry run) since 2026-11-23 " in text, text
        assert "3 of 5 nudges answered wrong or not-mine: 60% is more than 50%" in text
        doc = to_json(status)
        assert doc["summary"]["quiet_rules"] == [NAME]
        assert doc["quiet_rules"][0]["quiet"] is True and doc["quiet_rules"][0]["nudges"] == 5
        assert f"rule {NAME} is quiet" in explain(w.engine, ItemRef("github", "acme/web#6"))

        # Thu 26 Nov 11:30: the window (3 days, wall time) no longer holds the five nudges.
        with capture_logs() as logs:
            w.at("2026-11-26 09:00")
            w.engine.cycle()
            assert _events(logs, "rule_resumed") == [], "still inside the window"
            w.at("2026-11-26 11:45")
            _request(w, 7, "2026-11-26 11:45")  # deadline 12:46
            w.run_until("2026-11-26 13:30")
        [resumed] = _events(logs, "rule_resumed")
        assert resumed["rule"] == NAME and resumed["nudges"] < 5
        assert len(w.bot_comments(number=7)) == 1, "back out of dry run: the next nudge is written"
        assert f"rule {NAME} is quiet" not in render_text(build_status(w.engine))
    finally:
        w.close()


def test_a_rule_under_min_nudges_never_goes_quiet_even_when_every_nudge_was_wrong(tmp_path):
    w = World(tmp_path, start="2026-11-23 08:00", rules=RULE, extra='[feedback]\nmin_nudges = 6\n')
    try:
        _five_nudged(w)
        _feedback(w, range(1, 6), "wrong", "2026-11-23 11:45")
        f = w.engine.feedback.update(w.clock(), record=False)[NAME]
        assert (f.nudges, f.wrong, f.quiet) == (5, 5, False)
        assert f.reason == "5 nudges in the window, fewer than min_nudges = 6"
        with capture_logs() as logs:
            _request(w, 6, "2026-11-23 12:00")
            w.run_until("2026-11-23 13:30")
        assert len(w.bot_comments(number=6)) == 1, "five of five wrong, but fewer than min_nudges = 6 nudges"
        # ... and the sixth nudge that went out makes six: 5 of 6 is more than 50 %.
        [quieted] = _events(logs, "rule_quieted")
        assert (quieted["nudges"], quieted["wrong"]) == (6, 5)
    finally:
        w.close()


def test_a_rules_own_limits_win_over_the_feedback_section(tmp_path):
    """``feedback = { max_false_positive_share = ... }`` on the rule wins over ``[feedback]``; with
    quieting off for the rule (``enabled = false``) it keeps writing."""
    strict = RULE.replace('steps =', 'feedback = { max_false_positive_share = 0.1 }\nsteps =')
    w = World(tmp_path, start="2026-11-23 08:00", rules=strict)
    try:
        _five_nudged(w)
        _feedback(w, [1], "wrong", "2026-11-23 11:45")  # 1 of 5 = 20% > 10%
        _request(w, 6, "2026-11-23 12:00")
        w.run_until("2026-11-23 13:30")
        assert w.bot_comments(number=6) == [], "quiet under the rule's own threshold"
        assert w.engine.feedback.quiet == frozenset({NAME})
    finally:
        w.close()
    off = RULE.replace('steps =', 'feedback = { max_false_positive_share = 0.1, enabled = false }\nsteps =')
    w = World(tmp_path / "off", start="2026-11-23 08:00", rules=off)
    try:
        _five_nudged(w)
        _feedback(w, [1, 2, 3, 4, 5], "wrong", "2026-11-23 11:45")
        _request(w, 6, "2026-11-23 12:00")
        w.run_until("2026-11-23 13:30")
        assert len(w.bot_comments(number=6)) == 1, "quieting off for this rule"
    finally:
        w.close()


def test_the_rules_status_and_once_commands_show_the_figures_and_the_quiet_rule(tmp_path, monkeypatch, capsys):
    """``handoff-bridge rules [--json]``, ``status`` and ``once --dry-run`` read the same store at the
    real now (the window is 100 years long, so the scenario's week stays inside it)."""
    import json

    from bridge.app.cli import main
    from tests.support.world import TOKEN

    w = World(tmp_path, start="2026-11-23 08:00", rules=RULE, extra='[feedback]\nwindow = "36500d"\n')
    try:
        _five_nudged(w)
        w.emu.submit_review("acme/web", 5, "ben-o", "APPROVED", at=berlin("2026-11-23 11:40"))
        _feedback(w, [1, 2], "wrong", "2026-11-23 11:45")
        _feedback(w, [3], "not_mine", "2026-11-23 11:45")
        _feedback(w, [4], "snooze", "2026-11-23 11:45")
        w.run_until("2026-11-23 12:00")  # the daemon switches the rule to dry run
        config = tmp_path / "config.toml"
        config.write_text(w.config_text, encoding="utf-8")
        monkeypatch.setenv("GH_TOKEN", TOKEN)
        capsys.readouterr()  # the cycles' own log lines

        assert main(["rules", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("Feedback over the last 36500d (")
        [row] = [line for line in out.splitlines() if line.startswith(NAME + " ")]
        assert row.split()[1:8] == ["5", "1", "2", "1", "1", "60%", ">50%,"], row
        assert "QUIET since 2026-11-23 " in row
        assert f"{NAME}: 3 of 5 nudges answered wrong or not-mine: 60% is more than 50% (at least 5 nudges) -> " \
               "its actions are recorded only (dry run)" in out

        assert main(["rules", "--json", "--config", str(config)]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["window"]["length"] == "36500d" and doc["feedback_enabled"] is True
        [r] = doc["rules"]
        assert (r["nudges"], r["acknowledged_after_nudge"], r["wrong"], r["not_mine"], r["snoozes"]) == (5, 1, 2, 1, 1)
        assert r["false_positive_share"] == 0.6 and r["quiet"] is True and r["state"] == "quiet"
        assert r["quiet_since"].startswith("2026-11-23T")

        assert main(["status", "--config", str(config)]) == 0
        assert f"rule {NAME} is quiet (dry run) since 2026-11-23 " in capsys.readouterr().out
        assert main(["once", "--dry-run", "--json", "--config", str(config)]) == 0
        [q] = json.loads(capsys.readouterr().out)["quiet_rules"]
        assert q["rule"] == NAME and q["quiet"] is True
    finally:
        w.close()


def test_rules_help_explains_the_figures(capsys):
    import pytest

    from bridge.app.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["rules", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: handoff-bridge rules")
    for words in ("[feedback] window", "max_false_positive_share", "min_nudges", "dry run", "rule_quieted", "--json"):
        assert words in out, words


def test_the_bundled_scenario_a_rule_crosses_its_threshold_and_goes_quiet(tmp_path):
    """``bridge/app/scenarios/rule-goes-quiet.toml``: Ben's ``/hb wrong`` comments are recorded as
    feedback by the commands themselves; the rule goes quiet once, then resumes once."""
    from bridge.app.commands import demo
    from bridge.store import Store

    scenario = demo.load_scenario(demo.find_scenario("rule-goes-quiet"))
    run = demo.Demo(scenario, database=f"sqlite:///{tmp_path}/state.db", html=None)
    with capture_logs() as logs:
        result = run.run()
    assert result.expectations["missed"] == [] and result.expectations["unexpected"] == [], result.expectations
    assert result.ok and len(result.expectations["met"]) == 17  # 7 findings, 7 nudges, 3 answers to /hb wrong
    assert [e["rule"] for e in _events(logs, "rule_quieted")] == [NAME]
    assert [e["rule"] for e in _events(logs, "rule_resumed")] == [NAME]
    store = Store.open(run.database)
    try:
        rows = store.feedback(NAME)
    finally:
        store.engine.dispose()
    assert sorted(r.kind for r in rows) == ["wrong", "wrong", "wrong"] and all(r.actor == "github:ben-o" for r in rows)
