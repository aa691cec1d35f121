"""Issue 16's "Teams are not owners" end to end: the bundled team and flag scenarios through the
real demo (emulators over HTTP, the real cycle), what the comments say, and what ``status`` shows."""

from __future__ import annotations

from bridge.app.commands import demo
from bridge.app.commands.status import build_status, offline_engine, render_text
from bridge.core.clock import SteppingClock
from bridge.store import Store


def _run(tmp_path, name, edit=lambda t: t):
    path = tmp_path / f"{name}.toml"
    path.write_text(edit(demo.find_scenario(name).read_text(encoding="utf-8")), encoding="utf-8")
    d = demo.Demo(demo.load_scenario(path), database=f"sqlite:///{tmp_path}/state.db")
    return d, d.run()


def test_the_lead_is_nudged_for_the_team_and_a_members_review_receives_it(tmp_path):
    _, result = _run(tmp_path, "team-review-received-by-one-member")
    assert result.ok, result.expectations
    [comment] = result.comments
    assert comment["item"] == "acme/web#13"
    assert comment["body"].startswith("@ann-b: ana requested review of acme/web#13 from the content team on "
                                      "Mon 23 Nov, and nobody in the team has picked it up.")


def test_without_the_team_config_the_same_requests_ask_ana_for_owners(tmp_path):
    def unconfigured(text: str) -> str:
        head, _, _ = text.partition("[[expect.findings]]")
        start, end = head.index("\n[teams.content]\n"), head.index("\n[[rules]]\n")
        return head[:start] + head[end:]  # no [teams.*]: the content team is nobody's

    _, result = _run(tmp_path, "team-review-received-by-one-member", unconfigured)
    bodies = sorted((c["item"], c["body"]) for c in result.comments)
    assert [item for item, _ in bodies] == ["acme/web#12", "acme/web#13"], "one request for an owner per PR"
    for _, body in bodies:
        assert body.startswith("@ana: you requested review of ")
        assert "\u201cthe content team owns it\u201d is not ownership" in body


def test_the_unconfigured_team_asks_once_and_the_named_reviewer_takes_over(tmp_path):
    _, result = _run(tmp_path, "team-review-unconfigured-asks-for-owner")
    assert result.ok, result.expectations
    [comment] = result.comments
    assert comment["body"].startswith("@ana: you requested review of acme/web#21 from the design team, and nobody "
                                      "in particular owns it")


def test_flagged_issues_are_blocked_in_status_before_their_standoff(tmp_path):
    d, result = _run(tmp_path, "jira-flagged-standoff",
                     lambda t: t.partition("[[expect.findings]]")[0].replace('end = "2026-11-23 14:00"',
                                                                            'end = "2026-11-23 11:00"'))
    assert result.comments == [], "the waits are younger than min_age: no standoff yet"
    store = Store.open(d.database)
    engine = offline_engine(d.build_config(), store, SteppingClock(result.scenario.end))
    status = build_status(engine, result.scenario.end)
    states = {str(r.item): r.state for r in status.rows}
    assert states == {"WEB-50": "BLOCKED", "WEB-51": "BLOCKED"}
    text = render_text(status)
    assert "Checkout schema v2" in text and "Price API for schema v2" in text
    store.engine.dispose()
