"""Incomplete handoffs end to end (issue 17): the bundled "Ready for QA" scenario through the real
demo, and what ``explain`` and ``status`` show while the handoff is still incomplete."""

from __future__ import annotations

from bridge.app.commands import demo
from bridge.app.commands.explain import explain
from bridge.app.commands.status import build_status, offline_engine, render_text
from bridge.core.clock import SteppingClock
from bridge.core.model import ItemRef
from bridge.store import Store

NAME = "jira-ready-for-qa-incomplete"


def _run(tmp_path, edit):
    path = tmp_path / f"{NAME}.toml"
    path.write_text(edit(demo.find_scenario(NAME).read_text(encoding="utf-8")), encoding="utf-8")
    d = demo.Demo(demo.load_scenario(path), database=f"sqlite:///{tmp_path}/state.db")
    return d, d.run()


def test_one_comment_names_both_gaps_and_the_qa_clock_waits_for_the_description(tmp_path):
    d, result = _run(tmp_path, lambda t: t.replace('end = "2026-11-24 12:00"', 'end = "2026-11-23 13:00"'))
    [comment] = result.comments  # only the sender's, nothing to QA yet
    assert comment["body"].startswith("[~accountid:5b10a2844c20165700ede21a]: WEB-31 was handed over (moved to "
                                      "Ready for QA) without a due date and a description. Please add a due date "
                                      "and a description")
    store = Store.open(d.database)
    engine = offline_engine(d.build_config(), store, SteppingClock(result.scenario.end))
    text = explain(engine, ItemRef("jira", "WEB-31"))
    assert "incomplete handoff (status:Ready for QA) to 5b10a2844c20165700ede21g" in text
    assert "lacks a description; its sender 5b10a2844c20165700ede21a is asked" in text  # the due date came at 11:00
    assert "clock not started" in text
    status = render_text(build_status(engine, result.scenario.end))
    assert "incomplete handoff: Dana Weber has not added a description" in status
    assert "next:    Dana Weber to add a description" in status
    store.engine.dispose()


def test_without_require_qa_is_nudged_four_hours_after_the_move(tmp_path):
    def plain(text: str) -> str:
        text = text.replace('require = ["receiver", "due", "description"]\n', "")
        head, _, _ = text.partition("[[expect.findings]]")
        return head + '[[expect.actions]]\nrule = "qa-not-picked-up"\ndo = "comment"\nitem = "WEB-31"\nat = "Mon 14:00"\n' \
            '\n[[expect.findings]]\nrule = "qa-not-picked-up"\ndetect = "handoff"\nitem = "WEB-31"\nreceiver = "qa"\n'

    _, result = _run(tmp_path, plain)
    assert result.ok, result.expectations
