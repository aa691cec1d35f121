"""The daemon end to end: PyGithub over real HTTP against the emulator, real store, stepping clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from bridge.app.commands import demo
from bridge.app.commands.explain import explain
from bridge.core.model import Account, AccountInfo, ItemRef, PollResult
from bridge.store import OutboxRow
from connectors.github import timeline as github_timeline
from tests.support.recorded import read_replay
from tests.support.world import BOT, DiesAfterSending, PEOPLE, TOKEN, berlin, world  # world: the fixture


def outbox(w) -> list[OutboxRow]:
    return w.store.outbox()


# ---------------------------------------------------------------- bundled scenarios


@pytest.mark.parametrize("name", sorted(demo.bundled()))
def test_bundled_scenario_meets_its_expectations(name):
    scenario = demo.load_scenario(demo.find_scenario(name))
    result = demo.Demo(scenario).run()
    assert result.expectations["missed"] == []
    assert result.expectations["unexpected"] == []
    assert len(result.expectations["met"]) == len(scenario.expect_findings) + len(scenario.expect_actions)
    # Every action that went out stands in the tracker exactly once (dry-run ones were only recorded).
    written = [c["marker"] for c in result.comments]
    assert sorted(written) == sorted({a["marker"] for a in result.actions
                                      if a["do"] in ("comment", "reassign", "draft") and a["status"] != "dry_run"})


def test_review_never_picked_up_posts_one_nudge_then_reassigns(world):
    w = world()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:00")
    assert w.bot_comments() == [], "nothing before the deadline (Mon 13:05)"
    w.run_until("2026-11-23 13:15")
    [nudge] = w.bot_comments()
    assert nudge["body"].startswith("@ben-o: I need your review of acme/web#12 by Mon 23 Nov 13:05 CET to move it to merge.")
    w.run_until("2026-11-24 13:00")
    assert len(w.bot_comments()) == 1, "no second nudge while waiting for the next step"
    w.run_until("2026-11-24 13:15")
    comments = w.bot_comments()
    assert len(comments) == 2 and comments[1]["body"].startswith("@cara:")
    assert [a["login"] for a in w.emu.issue("acme/web", 12)["assignees"]] == ["cara"]
    assert len(set(w.markers())) == 2
    # The daemon's own reassignment did not start a new handoff to cara.
    w.run_until("2026-11-26 17:00", step=timedelta(hours=1))
    assert len(w.bot_comments()) == 2


def test_reassign_goes_to_the_account_learned_by_email(world):
    # lead is known by e-mail only; a poll once showed cara's account with that e-mail. (The
    # config check asks a reassign target for an account in each tool of its rule, so the
    # entry loses its GitHub account after loading: what the Planner sees of an e-mail-only person.)
    w = world(people=PEOPLE.replace('[people.lead]\n', '[people.lead]\nemail = "cara@acme.example"\n'))
    w.config.people["lead"] = w.config.people["lead"].model_copy(update={"accounts": {}})
    assert w.config.person_account("lead", "github") is None
    w.restart()
    seen = AccountInfo(Account("github", "cara"), "Cara", "Cara@acme.example")
    w.store.save_poll("github", "@seen", PollResult(accounts=[seen]), w.clock())
    w.open_pr_with_review_request()
    with capture_logs() as logs:
        w.run_until("2026-11-24 13:15")
    assert not [e for e in logs if e["event"] == "step_skipped"], "the reassign step found lead's account"
    comments = w.bot_comments()
    assert len(comments) == 2 and comments[1]["body"].startswith("@cara:")
    assert [a["login"] for a in w.emu.issue("acme/web", 12)["assignees"]] == ["cara"]


def test_receivers_reply_after_the_nudge_stops_the_escalation(world):
    w = world()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:15")
    assert len(w.bot_comments()) == 1
    w.emu.comment("acme/web", 12, "ben-o", "On it after lunch.", at=berlin("2026-11-23 13:30"))
    w.run_until("2026-11-25 17:00", step=timedelta(hours=1))
    assert len(w.bot_comments()) == 1
    assert w.emu.issue("acme/web", 12)["assignees"] == []
    assert all(f.resolved_at is not None for f in w.store.findings())


def test_idle_cycle_is_one_conditional_request_per_repository(world):
    w = world(repos=("acme/web", "acme/api"))
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 09:30")
    w.emu.reset_requests()
    w.run_until("2026-11-23 09:45")
    assert [(m, p.split("?")[0], s) for m, p, s in w.emu.requests] == [
        ("GET", "/repos/acme/web/issues", 304),
        ("GET", "/repos/acme/api/issues", 304),
    ]


def test_idle_poll_after_a_change_is_a_304_again(world):
    w = world()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 09:15")
    w.emu.comment("acme/web", 12, "ana", "one more thing", at=berlin("2026-11-23 09:20"))
    w.emu.reset_requests()
    w.run_until("2026-11-23 09:45")
    assert [(p.split("?")[0], s) for _, p, s in w.emu.requests] == [
        ("/repos/acme/web/issues", 200),
        ("/repos/acme/web/issues/12/timeline", 200),
        ("/repos/acme/web/issues", 304),
    ]


def test_changed_item_costs_its_timeline_only(world):
    w = world()
    for n in range(1, 30):
        w.emu.open_issue("acme/web", "ana", f"issue {n}", at=berlin("2026-11-23 07:00"), number=n)
    w.run_until("2026-11-23 08:00")
    w.emu.comment("acme/web", 7, "ana", "ping", at=berlin("2026-11-23 08:10"))
    w.emu.reset_requests()
    w.run_until("2026-11-23 08:15")
    assert [(m, p.split("?")[0], s) for m, p, s in w.emu.requests] == [
        ("GET", "/repos/acme/web/issues", 200),
        ("GET", "/repos/acme/web/issues/7/timeline", 200),
    ]


# ---------------------------------------------------------------- exactly once


def test_lost_comment_response_never_becomes_a_second_comment(world):
    w = world()
    w.open_pr_with_review_request()
    w.emu.faults.add("POST", r"/issues/12/comments$", "lost_response", times=1)
    reports = w.run_until("2026-11-23 13:15")
    statuses = [d.status for r in reports for d in r.deliveries]
    assert statuses == ["unknown"], "the lost response leaves the outcome unknown"
    assert len(w.bot_comments()) == 1, "the write itself was applied"
    reports = w.run_until("2026-11-23 14:00")
    assert [d.status for r in reports for d in r.deliveries] == ["done"], "reconciled by marker"
    [row] = outbox(w)
    assert (row.status, row.attempts) == ("done", 1)
    assert row.url == w.bot_comments()[0]["html_url"]
    assert len(w.bot_comments()) == 1


def test_comment_refused_with_502_is_sent_again_only_after_checking_the_marker(world):
    w = world()
    w.open_pr_with_review_request()
    w.emu.faults.add("POST", r"/issues/12/comments$", "status", status=502, times=1)
    w.run_until("2026-11-23 13:15")
    assert w.bot_comments() == []
    w.emu.reset_requests()
    w.run_until("2026-11-23 13:30")
    paths = [(m, p.split("?")[0]) for m, p, _ in w.emu.requests]
    assert paths.index(("GET", "/repos/acme/web/issues/12/comments")) < paths.index(("POST", "/repos/acme/web/issues/12/comments"))
    assert len(w.bot_comments()) == 1
    [row] = outbox(w)
    assert (row.status, row.attempts) == ("done", 2)



def test_process_stopped_between_send_and_confirm_resumes_without_double_post(world):
    w = world()
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:00")
    w.engine.connectors["github"] = DiesAfterSending(w.engine.connectors["github"])
    with pytest.raises(SystemExit):
        w.engine.cycle() if w.clock.set(berlin("2026-11-23 13:15")) else None
    [row] = outbox(w)
    assert row.status == "sending"
    assert len(w.bot_comments()) == 1
    w.restart()
    w.run_until("2026-11-23 14:00")
    [row] = outbox(w)
    assert (row.status, row.attempts) == ("done", 1)
    assert len(w.bot_comments()) == 1


# ---------------------------------------------------------------- acknowledgement and echo


def test_bots_own_comment_and_a_third_party_never_acknowledge(world):
    w = world()
    w.open_pr_with_review_request()
    w.emu.comment("acme/web", 12, "ana", "@ben-o ping", at=berlin("2026-11-23 10:00"))
    w.emu.comment("acme/web", 12, BOT, "I am the bot, @ben-o", at=berlin("2026-11-23 10:30"))
    w.run_until("2026-11-23 13:15")
    assert len(w.bot_comments()) == 2  # the planted one and the nudge
    [h] = [h for h in w.store.handoffs() if h.receiver == "github:ben-o"]
    assert h.state == "overdue"


def test_withdrawn_request_and_closed_item_stay_silent(world):
    w = world()
    w.open_pr_with_review_request(12)
    w.open_pr_with_review_request(13)
    w.emu.remove_review_request("acme/web", 12, "ana", "ben-o", at=berlin("2026-11-23 10:00"))
    w.emu.close("acme/web", 13, "ana", at=berlin("2026-11-23 11:00"))
    w.run_until("2026-11-24 17:00", step=timedelta(hours=1))
    assert w.bot_comments(number=12) == [] and w.bot_comments(number=13) == []
    assert sorted(h.state for h in w.store.handoffs()) == ["closed", "withdrawn"]


def test_nudge_waits_for_the_receivers_morning(world):
    people = """
[defaults]
timezone = "Europe/Berlin"

[people.ana]
accounts = { github = "ana" }

[people.ben]
timezone = "America/Los_Angeles"
working_hours = "09:00-17:00"
accounts = { github = "ben-o" }

[people.lead]
accounts = { github = "cara" }
"""
    w = world(people=people)
    # Mon 22:00 Berlin = 13:00 in Los Angeles: 4 business hours end at 17:00 LA, Tue 02:00 Berlin,
    # when Ben has left; the nudge goes out when his Tuesday begins (09:00 LA = 18:00 Berlin).
    w.emu.open_issue("acme/web", "ana", "Late request", pull_request=True, at=berlin("2026-11-23 21:55"), number=12)
    w.emu.request_review("acme/web", 12, "ana", "ben-o", at=berlin("2026-11-23 22:00"))
    w.at("2026-11-23 22:00")
    w.run_until("2026-11-24 17:45")
    assert w.bot_comments() == []
    w.run_until("2026-11-24 18:00")
    [c] = w.bot_comments()
    assert "by Mon 23 Nov 17:00 PST" in c["body"]
    assert c["created_at"] == "2026-11-24T17:00:00Z"


def test_untrusted_title_cannot_mention_link_or_format(world):
    extra = '[templates]\nnudge = "{receiver}: please review {title} ({item}) by {deadline}."\n'
    w = world(extra=extra)
    w.open_pr_with_review_request(title="@evil **now** [x](https://e.vil) #1 `code`")
    w.run_until("2026-11-23 13:15")
    [c] = w.bot_comments()
    body = c["body"]
    assert [a.id for a in github_timeline.mentions(body)] == ["ben-o"]
    assert "https://" not in body and "**" not in body and "](" not in body and " #1" not in body
    assert "`code`" not in body


def test_dry_run_records_and_prints_but_writes_nothing(world):
    w = world(daemon="dry_run = true")
    w.open_pr_with_review_request()
    with capture_logs() as logs:
        reports = w.run_until("2026-11-24 14:00")
    assert w.bot_comments() == []
    assert w.emu.issue("acme/web", 12)["assignees"] == []
    assert sorted(r.status for r in outbox(w)) == ["dry_run", "dry_run"]
    assert [d.do for r in reports for d in r.deliveries] == ["comment", "reassign"]
    assert any(e["event"] == "action_dry_run" and "@ben-o: I need your review" in e["body"] for e in logs)
    assert not [m for m, _, _ in w.emu.requests if m != "GET"]


def test_rule_level_dry_run_holds_back_only_that_rule(world):
    from tests.support.world import REVIEW_RULE

    quiet = REVIEW_RULE.replace('name = "review-not-picked-up"', 'name = "quiet-review"\ndry_run = true')
    w = world(rules=REVIEW_RULE + quiet)
    w.open_pr_with_review_request()
    w.run_until("2026-11-23 13:15")
    assert len(w.bot_comments()) == 1
    assert sorted((r.rule, r.status) for r in outbox(w)) == [("quiet-review", "dry_run"), ("review-not-picked-up", "done")]


def test_write_budget_spreads_writes_over_the_hour(world):
    w = world(connector="write_budget_per_hour = 1")
    w.open_pr_with_review_request(12)
    w.open_pr_with_review_request(13)
    w.run_until("2026-11-23 13:15")
    assert len(w.bot_comments(number=12)) + len(w.bot_comments(number=13)) == 1
    w.run_until("2026-11-23 14:00")
    assert len(w.bot_comments(number=12)) + len(w.bot_comments(number=13)) == 1
    w.run_until("2026-11-23 14:15")
    assert len(w.bot_comments(number=12)) == len(w.bot_comments(number=13)) == 1


def test_own_account_is_remembered_across_restarts(world):
    w = world()
    w.run_until("2026-11-23 08:00")
    w.emu.reset_requests()
    w.restart()
    assert w.engine.bots() == {Account("github", BOT)}
    assert [p for _, p, _ in w.emu.requests] == [], "no second GET /user"


# ---------------------------------------------------------------- failures of one connector


class CountingConnector:
    """A second tool that only counts its polls (the protocol's read side)."""

    name, tool = "other", "jira"

    def __init__(self):
        self.polls = 0

    def scopes(self):
        return ["WEB"]

    def poll(self, scope, cursor, known=None):
        self.polls += 1
        return PollResult(next_cursor={"n": self.polls})

    def whoami(self):
        return Account("jira", "bot")


def test_revoked_token_stops_that_connector_with_one_log_line_and_others_go_on(world):
    w = world()
    other = CountingConnector()
    w.engine.connectors["other"] = other
    w.engine.health.add("other")
    w.run_until("2026-11-23 08:30")
    w.emu.revoke_token(TOKEN)
    w.emu.reset_requests()
    with capture_logs() as logs:
        w.run_until("2026-11-23 10:00")
    stopped = [e for e in logs if e["event"] == "connector_stopped"]
    assert len(stopped) == 1 and stopped[0]["connector"] == "github"
    assert TOKEN not in json.dumps(logs, default=str)
    assert len(w.emu.requests) == 1, "one 401, then the connector stays stopped"
    assert other.polls == 3 + 6  # 08:00-08:30, then 08:45-10:00 every 15 minutes


def test_rate_limit_pauses_the_connector_for_the_time_asked(world):
    w = world()
    w.run_until("2026-11-23 08:00")
    w.emu.faults.add("GET", r"/repos/acme/web/issues$", "status", status=429, retry_after=1800)
    w.emu.reset_requests()
    w.run_until("2026-11-23 08:30")  # 08:15 hits 429; 08:30 is inside the 30 minutes asked
    assert [s for _, _, s in w.emu.requests] == [429]
    w.run_until("2026-11-23 08:45")  # 08:45 is 30 minutes after the 429
    assert [s for _, _, s in w.emu.requests] == [429, 304]


# ---------------------------------------------------------------- the vendor's own bytes


def test_cycle_runs_over_a_recorded_pull_request_timeline(world):
    w = world()
    issue = read_replay("Issue.setUp.txt")[1].json()
    timeline = read_replay("PullRequest.testGetIssueTimeline.txt")[0].json()
    issue = {**issue, "number": 31, "updated_at": "2026-11-23T06:00:00Z"}
    w.emu.load_recorded("acme/web", 31, issue, timeline)
    w.run_until("2026-11-23 08:00")
    ref = ItemRef("github", "acme/web#31")
    expected = github_timeline.map_timeline(ref, timeline).events
    assert [e.id for e in w.store.events(ref)] == [e.id for e in sorted(expected, key=lambda e: e.at)]
    text = explain(w.engine, ref)
    assert "Timeline (%d events)" % len(expected) in text


def test_malformed_timeline_entry_is_logged_and_the_rest_is_stored(world):
    w = world()
    issue = read_replay("Issue.setUp.txt")[1].json()
    timeline = read_replay("PullRequest.testGetIssueTimeline.txt")[0].json()
    broken = {"event": "assigned", "id": 1, "created_at": "2025-03-01T10:00:00Z"}  # no assignee, no actor
    w.emu.load_recorded("acme/web", 31, {**issue, "number": 31, "updated_at": "2026-11-23T06:00:00Z"}, [broken, *timeline])
    with capture_logs() as logs:
        w.run_until("2026-11-23 08:00")
    [skipped] = [e for e in logs if e["event"] == "item_skipped"]
    assert skipped["log_level"] == "error" and skipped["vendor_id"] == "acme/web#31 timeline[0]"
    assert skipped["reason"].startswith("malformed")
    ref = ItemRef("github", "acme/web#31")
    assert len(w.store.events(ref)) == len(github_timeline.map_timeline(ref, timeline).events)
