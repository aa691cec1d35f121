"""Availability end to end (issue 16): the bundled away scenarios through the real demo (emulators,
PyGithub, stepping clock), the ``/hb away`` command path, and what ``status`` and ``explain`` show."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bridge.app.commands import demo
from bridge.app.commands.explain import explain
from bridge.app.commands.status import build_status, offline_engine, render_text
from bridge.core.clock import SteppingClock
from bridge.core.model import ItemRef
from bridge.store import Store

BERLIN = ZoneInfo("Europe/Berlin")


def _run(name: str, tmp_path, edit=None):
    path = demo.find_scenario(name)
    if edit is not None:
        path = tmp_path / f"{name}.toml"
        path.write_text(edit(demo.find_scenario(name).read_text(encoding="utf-8")), encoding="utf-8")
    d = demo.Demo(demo.load_scenario(path), database=f"sqlite:///{tmp_path}/state.db")
    return d, d.run()


def _offline(d, at: datetime):
    store = Store.open(d.database)
    return store, offline_engine(d.build_config(), store, SteppingClock(at))


def test_the_delegate_is_nudged_saying_so_and_the_away_receiver_never_is(tmp_path):
    d, result = _run("away-with-delegate", tmp_path)
    assert result.ok, result.expectations
    [comment] = result.comments
    assert comment["body"].startswith("@cleo: Ben Ortiz is away until Wed 25 Nov and named you as delegate. "
                                      "I need your review of acme/web#51 by Tue 24 Nov 13:00 CET")
    assert "@ben-o" not in comment["body"], "a mention would notify the away person"

    store, engine = _offline(d, datetime(2026, 11, 24, 14, 0, tzinfo=BERLIN))
    text = explain(engine, ItemRef("github", "acme/web#51"))
    assert "handoff ana → ben-o" in text and "state REHANDED: delegated to Cleo Lind: Ben Ortiz is away until Wed 25 Nov" in text
    assert "handoff ana → cleo" in text and "state OVERDUE: no acknowledgement by cleo before the deadline " \
                                           "(delegated to Cleo Lind: Ben Ortiz is away until Wed 25 Nov)" in text
    status = render_text(build_status(engine, datetime(2026, 11, 24, 14, 0, tzinfo=BERLIN)))
    assert "cleo" in status.lower() and "delegated" in status
    store.engine.dispose()


def test_a_deadline_waiting_for_the_return_shows_in_status_while_away(tmp_path):
    d, result = _run("away-deadline-waits", tmp_path)
    assert result.ok, result.expectations
    assert [datetime.fromisoformat(a["at"]).astimezone(BERLIN).strftime("%a %H:%M") for a in result.actions] == ["Wed 11:00"]
    store, engine = _offline(d, datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN))
    text = explain(engine, ItemRef("github", "acme/web#52"))
    assert "deadline 2026-11-25 10:00Z (Wed 11:00 Europe/Berlin" in text
    assert "state SENT: waiting; deadline not reached (Ben Ortiz is away until Tue 24 Nov, with no delegate: " \
           "the deadline waits for the return)" in text
    status = render_text(build_status(engine, datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN)))
    assert "waits for the return" in status
    store.engine.dispose()


COMMAND = '''
[[timeline]]
at = "Mon 15:30"
actor = "ben"
do = "open_issue"
item = "acme/web#60"
title = "Team calendar"

[[timeline]]
at = "Mon 16:00"
actor = "ben"
do = "comment"
item = "acme/web#60"
body = "Out until Wednesday.\\n/hb away until 25 Nov delegate @cleo"

[[expect.actions]]
rule = "commands"
do = "comment"
item = "acme/web#60"
at = "Mon 16:00"
says = "away until Wed 25 Nov; handoffs to you go to"

[[expect.findings]]'''


def test_the_away_command_on_another_item_delegates_the_open_review(tmp_path):
    def by_command(text: str) -> str:
        text = text.replace('away = [{ from = "2026-11-24", to = "2026-11-25", delegate = "cleo" }]\n', "")
        text = text.replace('at = "Tue 13:00"', 'at = "Tue 12:00"')  # Cleo's 4 h from Mon 16:00
        return text.replace("[[expect.findings]]", COMMAND, 1)

    d, result = _run("away-with-delegate", tmp_path, by_command)
    assert "away =" not in (tmp_path / "away-with-delegate.toml").read_text()
    assert result.ok, result.expectations
    [comment, reply] = sorted(result.comments, key=lambda c: c["item"])
    assert comment["body"].startswith("@cleo: Ben Ortiz is away until Wed 25 Nov and named you as delegate.")
    assert reply["body"].startswith("@ben-o: away until Wed 25 Nov; handoffs to you go to Cleo"), "answered once"

    store, engine = _offline(d, datetime(2026, 11, 24, 14, 0, tzinfo=BERLIN))
    [command] = engine.evaluator.away_commands()
    assert (command.person, command.verb, command.delegate, command.problem) == ("person:ben", "away", "person:cleo", None)
    assert command.item == ItemRef("github", "acme/web#60") and str(command.until) == "2026-11-25"
    [absence] = engine.evaluator.absences("person:ben")
    assert absence.start == command.at and absence.end == datetime(2026, 11, 26, 0, 0, tzinfo=BERLIN)
    store.engine.dispose()
