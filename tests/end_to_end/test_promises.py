"""Promises end to end (issue 17): the bundled promise scenarios through the real demo (emulators,
official clients, stepping clock), and what ``status`` and ``explain`` then show from the store."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import tomllib

from bridge.app.commands import demo
from bridge.app.commands.explain import explain
from bridge.app.commands.status import build_status, offline_engine, render_text
from bridge.core.clock import SteppingClock
from bridge.core.model import ItemRef
from bridge.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
TASK = ItemRef("asana", "1209000000000711")


def _run(name: str, tmp_path, edit=None):
    path = demo.find_scenario(name)
    if edit is not None:
        text = edit(path.read_text(encoding="utf-8"))
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
    scenario = demo.load_scenario(path)
    database = f"sqlite:///{tmp_path}/state.db"
    d = demo.Demo(scenario, database=database)
    return d, d.run()


def test_the_promiser_is_nudged_before_the_start_date_with_the_comment_quoted(tmp_path):
    d, result = _run("day-one-import-promised-in-comment", tmp_path)
    assert result.ok, result.expectations
    [comment] = result.comments
    body = comment["body"]
    # as the emulated Asana shows it (the stage renders the mention by name)
    assert body.startswith("@sam: on Mon 23 Nov you wrote you'd have the import ready by Tue 24 Nov 17:00 CET; "
                           "it is not there yet. You wrote: \u201cyes, we'll have the import ready before their start on Wed\u201d")
    [action] = result.actions
    sent = datetime.fromisoformat(action["at"]).astimezone(BERLIN)
    assert sent < datetime(2026, 11, 25, 0, 0, tzinfo=BERLIN), "nudged before the start date"

    config = d.build_config()
    store = Store.open(d.database)
    engine = offline_engine(config, store, SteppingClock(result.scenario.end))
    text = explain(engine, TASK)
    assert "promise by 1100000000000021 to 1100000000000022" in text
    assert "\u201cyes, we'll have the import ready before their start on Wed\u201d" in text
    assert "state OVERDUE: not kept" in text
    status = render_text(build_status(engine, result.scenario.end))
    assert "promise not kept: sam wrote \u201cyes, we'll have the import ready before their start on Wed\u201d" in status
    store.engine.dispose()


def test_onboardings_activity_does_not_keep_sales_promise_but_sams_own_comment_does(tmp_path):
    def sam_answers(text: str) -> str:
        return text.replace('[[expect.findings]]', '''[[timeline]]
at = "Tue 11:00"
actor = "sam"
do = "comment"
item = "1209000000000711"
body = "Import file is uploaded, 40k rows."

[[expect.findings]]''', 1)

    _, kept = _run("day-one-import-promised-in-comment", tmp_path, edit=sam_answers)
    assert kept.findings == [] and kept.comments == []
    assert len(kept.expectations["missed"]) == 2  # the bundled expectations: finding and nudge


def test_without_the_status_move_the_jira_promise_is_due_and_nudged(tmp_path):
    def no_move(text: str) -> str:
        return text.replace('do = "transition"\nitem = "WEB-21"\nstatus = "In Review"', 'do = "label"\nitem = "WEB-21"\nlabel = "triaged"')

    _, result = _run("promise-kept-conditional-question-silent", tmp_path, edit=no_move)
    [finding] = result.findings
    assert (finding["item"], finding["receiver"], finding["detect"]) == ("WEB-21", "dev", "promise")
    [comment] = result.comments
    assert "on Mon 23 Nov you wrote you'd send the test plan by Tue 24 Nov 12:00 CET; it is not there yet" in comment["body"]
    assert comment["body"].startswith("[~accountid:5b10a2844c20165700ede21a]:")


def test_the_conditional_and_the_question_stay_silent_even_when_long_overdue(tmp_path):
    def late(text: str) -> str:
        data = tomllib.loads(text)
        assert data["end"] == "2026-11-24 15:00"
        return text.replace('end = "2026-11-24 15:00"', 'end = "2026-11-30 12:00"').replace('step = "15m"', 'step = "1h"')

    _, result = _run("promise-kept-conditional-question-silent", tmp_path, edit=late)
    assert result.findings == [] and result.comments == []
