"""Teams are not owners (issue 16): ``[teams.*]`` config, the directory's team answers, and the
handoff walk of a review requested from a team (configured: any member receives it, the lead is
nudged; not configured: its sender is asked to name one person)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import parse_config
from bridge.core.errors import ConfigError
from bridge.core.model import Account, Event, EventKind, HandoffState, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from bridge.core.people import Directory
from rules import handoff

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
PR = ItemRef("github", "acme/web#7")
ANA, ANN, BEN, CARL, BOT = (Account("github", x) for x in ("ana", "ann-gh", "ben-gh", "carl", "hb-bot"))

BASE = """
[people.ana]
accounts = {{ github = "ana" }}
[people.ann]
accounts = {{ github = "ann-gh" }}
[people.ben]
accounts = {{ github = "ben-gh", jira = "ben-jira" }}
[people.carl]
accounts = {{ github = "carl" }}
[connectors.github]
token = {{ env = "T" }}
repositories = ["acme/web"]
{teams}
[[rules]]
name = "review"
detect = "handoff"
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
{extra}
steps = [{{ after = "0h", do = "comment" }}]
"""
CONTENT = '[teams.content]\nmembers = ["ann", "ben"]\nlead = "ann"\ngithub = "acme/content"\n'


def config(teams: str = CONTENT, extra: str = ""):
    return parse_config(BASE.format(teams=teams, extra=extra), environ={"T": "x"}, source="hb.toml")


def problems(teams: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        config(teams)
    return exc.value.problems


# ------------------------------------------------------------------ config


def test_teams_load_with_their_members_lead_and_github_team():
    team = config().teams["content"]
    assert (team.members, team.lead, team.github) == (["ann", "ben"], "ann", "acme/content")
    assert team.github_team("content") == ("acme", "content")
    default = config('[teams.Docs]\nmembers = ["ben"]\nlead = "ann"\n').teams["Docs"]
    assert default.github_team("Docs") == (None, "docs"), "default: the team's name is its slug, in any org"


def test_an_unknown_member_or_lead_names_file_line_key_and_value():
    found = problems('[teams.content]\nmembers = ["ann", "bem"]\nlead = "anna"\n')
    assert found == [
        "hb.toml:14: teams.content.members[1]: unknown person, did you mean 'ben'? (got 'bem')",
        "hb.toml:15: teams.content.lead: unknown person, did you mean 'ann'? (got 'anna')",
    ]


def test_a_team_without_lead_a_bad_github_team_or_an_unknown_key_is_refused():
    found = problems('[teams.content]\nmembers = ["ann"]\ngithub = "acme/con tent"\nleader = "ann"\n')
    assert any("teams.content.lead" in p and "missing" in p for p in found), found
    assert any("teams.content.github: expected a GitHub team as org/slug" in p for p in found), found
    assert any("teams.content.leader" in p for p in found), found


def test_a_lead_without_a_github_account_is_refused_when_github_is_watched():
    found = problems('[people.jo]\naccounts = { jira = "jo-jira" }\n[teams.content]\nmembers = ["ann"]\nlead = "jo"\n')
    assert found == ["hb.toml:17: teams.content.lead: person 'jo' has no github account: the team's nudges "
                     "would reach nobody (got 'jo')"]


def test_two_teams_claiming_one_github_team_are_refused():
    found = problems(CONTENT + '[teams.writers]\nmembers = ["carl"]\nlead = "carl"\ngithub = "acme/Content"\n')
    assert found == ["hb.toml:20: teams.writers.github: the GitHub team 'content' is already [teams.content] "
                     "(got 'acme/Content')"]


# ------------------------------------------------------------------ directory


def test_the_directory_finds_a_requests_team_in_its_org_only():
    d = Directory(config())
    assert d.team_for_request("team:content", PR).name == "content"
    assert d.team_for_request("team:CONTENT", PR).name == "content", "slugs compare case-insensitively"
    assert d.team_for_request("team:content", ItemRef("github", "other/web#1")) is None
    assert d.team_for_request("team:design", PR) is None
    assert d.team_for_request("needs-review", PR) is None


def test_team_leads_are_the_leads_of_every_team_a_person_is_in():
    cfg = config(CONTENT + '[teams.qa]\nmembers = ["ben", "carl"]\nlead = "carl"\n')
    d = Directory(cfg)
    assert d.team_leads(d.identity(Account("jira", "ben-jira"))) == {"person:ann", "person:carl"}
    assert d.team_leads("person:ann") == {"person:ann"}, "a lead belongs to their own team"
    assert d.team_leads("person:ana") == set() and d.team_leads("github:stranger") == set()
    assert d.team_leads(None) == set()


# ------------------------------------------------------------------ the walk

_n = iter(range(1, 100_000))


def ev(minutes, kind, actor, **kw):
    return Event("github", f"ev:{next(_n)}", PR, T0 + timedelta(minutes=minutes), kind, actor, **kw)


SNAP = ItemSnapshot(PR, "Copy", "u", ItemKind.PULL_REQUEST, "open", StatusCategory.IN_REVIEW, author=ANA)
CONTENT_TEAM = handoff.TeamTarget("content", ANN, frozenset({"person:ann", "person:ben"}))


def walk(events, team_for=lambda e: CONTENT_TEAM if e.label == "team:content" else None, extra=""):
    cfg = config(extra=extra)
    d = Directory(cfg)
    return handoff.walk_item(cfg.rules[0], PR, events, SNAP, bots={BOT}, who=d.identity,
                             deadline_for=lambda a, at: at + timedelta(hours=4), team_for=team_for)


def test_a_configured_team_receives_the_request_as_one_handoff_to_its_lead():
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:content")
    [(h, evidence)] = walk([asked]).open
    assert (h.receiver, h.sender, h.team, h.trigger, h.deadline) == (ANN, ANA, "content", "review_requested",
                                                                     asked.at + timedelta(hours=4))
    findings = handoff.settle(walk([asked]), asked.at + timedelta(hours=5))[1]
    assert "nobody in the team acknowledged" in findings[0].summary


def test_any_member_acknowledges_for_the_team_and_a_stranger_does_not():
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:content")
    stranger = ev(10, EventKind.COMMENTED, CARL, text="looks fine to me")
    assert len(walk([asked, stranger]).open) == 1, "carl is not in the team"
    member = ev(20, EventKind.REVIEWED, BEN, review_state="approved")
    result = walk([asked, stranger, member])
    assert result.open == ()
    [done] = result.done
    assert (done.state, done.ended_by, done.team) == (HandoffState.RECEIVED, member.id, "content")


def test_removing_the_teams_request_withdraws_it():
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:content")
    removed = ev(30, EventKind.REVIEW_REQUEST_REMOVED, ANA, label="team:content")
    other = ev(30, EventKind.REVIEW_REQUEST_REMOVED, ANA, label="team:design")
    assert len(walk([asked, other]).open) == 1, "another team's removal leaves it standing"
    [done] = walk([asked, removed]).done
    assert (done.state, done.reason) == (HandoffState.WITHDRAWN, "review request to the content team withdrawn")


def test_an_unconfigured_team_asks_its_sender_for_one_person_even_without_require():
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:design")
    [(ask, _)] = walk([asked]).open
    assert (ask.trigger, ask.receiver, ask.sender, ask.action, ask.team) == (
        handoff.INCOMPLETE, ANA, None, "receiver", "design")
    [f] = handoff.settle(walk([asked]), asked.at)[1]
    assert f.detect == handoff.INCOMPLETE and "nobody owns it" in f.summary
    # with require, the other gaps are named too
    [(ask2, _)] = walk([asked], extra='require = ["receiver", "description"]').open
    assert ask2.action == "receiver|description"


def test_naming_one_person_or_withdrawing_ends_the_request_for_an_owner():
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:design")
    named = ev(15, EventKind.REVIEW_REQUESTED, ANA, subject=CARL)
    result = walk([asked, named])
    [(h, _)] = result.open
    assert h.receiver == CARL and h.team == "", "carl now owes the review, as any named reviewer"
    [done] = result.done
    assert done.state == HandoffState.RECEIVED and done.reason.startswith("one person named: carl")
    removed = ev(15, EventKind.REVIEW_REQUEST_REMOVED, ANA, label="team:design")
    [done] = walk([asked, removed]).done
    assert done.state == HandoffState.WITHDRAWN


def test_without_team_for_a_team_request_hands_to_nobody_as_before():
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:content")
    assert walk([asked], team_for=None).open == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["ana", "ann-gh", "ben-gh", "carl"]), min_size=0, max_size=6))
def test_a_team_handoff_is_received_exactly_when_a_member_or_the_lead_acts(actors):
    asked = ev(0, EventKind.REVIEW_REQUESTED, ANA, label="team:content")
    later = [ev(5 + i, EventKind.COMMENTED, Account("github", a), text="hi") for i, a in enumerate(actors)]
    result = walk([asked, *later])
    received = any(a in ("ann-gh", "ben-gh") for a in actors)
    assert (result.open == ()) == received
    assert [h.state for h in result.done] == ([HandoffState.RECEIVED] if received else [])


# ------------------------------------------------------------------ stored walk state


def test_a_team_handoff_and_an_ownerless_request_survive_the_stored_walk_state():
    import json

    from bridge.engine.evaluator import _handoff_from, _handoff_json

    to_team = handoff.Handoff(key="review:github:acme/web#7:team:content:ev:1", rule="review", item=PR, sender=ANA,
                              receiver=ANN, trigger="review_requested", sent_at=T0, sent_event="ev:1",
                              deadline=T0 + timedelta(hours=4), team="content")
    ask = handoff.Handoff(key="review:github:acme/web#7:incomplete:ev:2", rule="review", item=PR, sender=None,
                          receiver=ANA, trigger=handoff.INCOMPLETE, sent_at=T0, sent_event="ev:2", deadline=T0,
                          quote="review_requested", action="receiver", team="design")
    for h in (to_team, ask):
        assert _handoff_from("review", PR, json.loads(json.dumps(_handoff_json(h)))) == h
    plain = handoff.Handoff(key="k", rule="review", item=PR, sender=ANA, receiver=BEN, trigger="review_requested",
                            sent_at=T0, sent_event="ev:3", deadline=T0)
    assert len(_handoff_json(plain)) == 7, "a handoff to a person is stored as before"
