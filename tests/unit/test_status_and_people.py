"""``handoff-bridge status`` and ``handoff-bridge people`` over a real store and config.

One small world in three tools, written into the store the way polls write it:

- a standoff across GitHub and Jira: Ana asked Ben to review acme/web#12 (GitHub); Ben's
  Jira issue WEB-17 is blocked by that pull request, which Ana holds;
- a review request to Cara on acme/web#20 still within its deadline;
- Quinn's Asana task waits on an Asana task nobody holds (ownerless);
- accounts: Quinn known in Asana only by e-mail, Dana (GitHub) and a Jira account nobody
  mapped, and a ``[people.zed]`` entry none of whose accounts ever appeared.
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from bridge.app import cli
from bridge.core.businesstime import Duration
from bridge.config import parse_config
from bridge.engine import WHOAMI, Engine
from bridge.core.model import (
    Account,
    AccountInfo,
    Event,
    EventKind,
    ItemKind,
    ItemRef,
    ItemSnapshot,
    PollResult,
    StatusCategory,
)
from bridge.core.people import Directory
from bridge.app.commands.people import people_report, render_text as people_text, seen_accounts, to_json as people_json
from bridge.app.commands.status import BLOCKED, MOVING, build_status, format_age, render_text, summary_line, to_json
from bridge.store import Store

UTC = timezone.utc
ENV = {"GH_TOKEN": "ghp_status_test_token_0a1b", "JIRA_TOKEN": "jira-status-token", "ASANA_TOKEN": "asana-status-token"}
# Wednesday 25 Nov 2026, 15:00 UTC (16:00 in Berlin): a working day for everyone.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

CONFIG = """\
[daemon]
database = "sqlite:///{db}"

[defaults]
timezone = "UTC"
working_hours = "09:00-17:00"
holidays = "none"

[people.ana]
display_name = "Ana Lima"
accounts = {{ github = "ana", jira = "ana-j" }}

[people.ben]
display_name = "Ben Ortiz"
timezone = "Europe/Berlin"
accounts = {{ github = "ben-o", jira = "ben-j" }}

[people.cara]
display_name = "Cara Diaz"
timezone = "America/New_York"
accounts = {{ github = "cara" }}

[people.quinn]
display_name = "Quinn Park"
email = "Quinn@Example.com"

[people.zed]
email = "zed@example.com"
accounts = {{ github = "zed-z" }}

[connectors.github]
base_url = "http://127.0.0.1:9"
token = {{ env = "GH_TOKEN" }}
repositories = ["acme/web"]

[connectors.jira]
base_url = "http://127.0.0.1:9"
email = "bot@acme.example"
token = {{ env = "JIRA_TOKEN" }}
jql = ["project = WEB"]

[connectors.asana]
base_url = "http://127.0.0.1:9"
token = {{ env = "ASANA_TOKEN" }}
projects = ["1201000000000100"]

[[rules]]
name = "review-not-picked-up"
detect = "handoff"
tools = ["github"]
on = ["review_requested"]
within = "4h"
need = "review"
next = "merge"
steps = [{{ after = "0h", do = "comment" }}]

[[rules]]
name = "standoffs"
detect = "standoff"
min_age = "1h"
within = "1d"
blocked_statuses = ["Blocked"]
steps = [{{ after = "0h", do = "comment" }}]
"""

PR12, PR20 = ItemRef("github", "acme/web#12"), ItemRef("github", "acme/web#20")
WEB17 = ItemRef("jira", "WEB-17")
LAUNCH, LEGAL = ItemRef("asana", "1201000000000201"), ItemRef("asana", "1201000000000202")
ANA, BEN, CARA, DANA = (Account("github", x) for x in ("ana", "ben-o", "cara", "dana"))
BEN_J = Account("jira", "ben-j")
STRANGER_J = Account("jira", "557058:f00d")  # Jira Cloud account ids hold a colon
QUINN_A = Account("asana", "1201000000000900")


def snapshot(ref, title, kind, status, category, *, assignees=(), author=None, created, blocked_by=(), url=None):
    return ItemSnapshot(ref=ref, title=title, url=url or f"https://example.test/{ref.tool}/{ref.key}", kind=kind,
                        status=status, status_category=category, assignees=tuple(assignees), author=author,
                        created_at=created, updated_at=created, links=tuple(blocked_by), blocked_by=tuple(blocked_by))


def populate(store: Store, now: datetime, *, with_pending_review: bool = True) -> None:
    """Write the world into ``store`` as polls would, times relative to ``now``.

    The standoff and ownerless waits began two days (and more) before ``now``; the review
    request to Cara ten minutes before.
    """
    old = now - timedelta(days=2)
    gh_events = [
        Event("github", "gh-open-12", PR12, old - timedelta(hours=1), EventKind.COMMENTED, actor=ANA, text="ready"),
        Event("github", "gh-rr-12", PR12, old, EventKind.REVIEW_REQUESTED, actor=ANA, subject=BEN),
    ]
    gh_items = [snapshot(PR12, "Rate-limit the login endpoint", ItemKind.PULL_REQUEST, "open",
                         StatusCategory.IN_REVIEW, author=ANA, created=old - timedelta(hours=1),
                         url="https://github.com/acme/web/pull/12")]
    gh_accounts = [AccountInfo(ANA, "Ana"), AccountInfo(BEN, "Ben")]
    if with_pending_review:
        gh_events += [
            Event("github", "gh-c-20", PR20, now - timedelta(minutes=30), EventKind.COMMENTED, actor=DANA, text="lgtm?"),
            Event("github", "gh-rr-20", PR20, now - timedelta(minutes=10), EventKind.REVIEW_REQUESTED, actor=ANA, subject=CARA),
        ]
        gh_items.append(snapshot(PR20, "Fix the footer", ItemKind.PULL_REQUEST, "open", StatusCategory.IN_REVIEW,
                                 author=ANA, created=now - timedelta(hours=1), url="https://github.com/acme/web/pull/20"))
        gh_accounts += [AccountInfo(CARA, "Cara"), AccountInfo(DANA, "Dana Unmapped")]
    store.save_poll("github", "acme/web", PollResult(events=gh_events, items=gh_items, accounts=gh_accounts), now)

    jira_events = [
        Event("jira", "j-assign-17", WEB17, old - timedelta(hours=2), EventKind.ASSIGNED, actor=BEN_J, subject=BEN_J),
        Event("jira", "j-link-17", WEB17, old + timedelta(hours=1), EventKind.LINKED, actor=BEN_J,
              link_type="is blocked by", target=PR12),
        Event("jira", "j-c-17", WEB17, old + timedelta(hours=2), EventKind.COMMENTED, actor=STRANGER_J, text="any news?"),
    ]
    jira_items = [snapshot(WEB17, "Login throttling", ItemKind.ISSUE, "In Progress", StatusCategory.IN_PROGRESS,
                           assignees=[BEN_J], created=old - timedelta(hours=3), blocked_by=[PR12],
                           url="https://acme.atlassian.net/browse/WEB-17")]
    store.save_poll("jira", "project = WEB", PollResult(events=jira_events, items=jira_items,
                                                        accounts=[AccountInfo(BEN_J, "Ben O.", "ben@example.com")]), now)

    asana_events = [
        Event("asana", "a-link-201", LAUNCH, old - timedelta(days=1), EventKind.LINKED, actor=QUINN_A,
              link_type="depends on", target=LEGAL),
    ]
    asana_items = [
        snapshot(LAUNCH, "Write launch copy", ItemKind.TASK, "Doing", StatusCategory.IN_PROGRESS, assignees=[QUINN_A],
                 created=old - timedelta(days=1, hours=1), blocked_by=[LEGAL]),
        snapshot(LEGAL, "Legal review", ItemKind.TASK, "To do", StatusCategory.TODO, created=old - timedelta(days=2)),
    ]
    store.save_poll("asana", "1201000000000100", PollResult(events=asana_events, items=asana_items,
                                                            accounts=[AccountInfo(QUINN_A, "Quinn P.", "quinn@example.com")]), now)


def write_config(tmp_path) -> tuple[str, object]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.db"))
    return str(path), parse_config(path.read_text(), environ=ENV)


@pytest.fixture
def world(tmp_path):
    _path, config = write_config(tmp_path)
    store = Store.open(config.database_url())
    populate(store, NOW)
    engine = Engine(config, store, {}, clock=lambda: NOW)
    return config, store, engine


def rows_by_key(status):
    return {r.item.key: r for r in status.rows}


# -- status ------------------------------------------------------------------------------------


def test_standoff_across_github_and_jira_is_blocked_with_its_sentence_and_decider(world):
    config, _store, engine = world
    status = build_status(engine, NOW)
    rows = rows_by_key(status)
    pr, issue = rows["acme/web#12"], rows["WEB-17"]

    assert pr.state == issue.state == BLOCKED
    assert pr.in_standoff and issue.in_standoff
    sentences = [b.text for b in issue.blockers if b.kind == "standoff"]
    assert len(sentences) == 1
    assert sentences[0].startswith("standoff: ")
    assert "Ana Lima waits on Ben Ortiz for" in sentences[0]
    assert "Ben Ortiz waits on Ana Lima for acme/web#12 to move" in sentences[0]
    assert [b.text for b in pr.blockers if b.kind == "standoff"] == sentences
    # the issue's own blocker is named with its tool and link
    assert any(b.kind == "blocked_by" and b.ref == PR12 and b.url == "https://github.com/acme/web/pull/12"
               and "acme/web#12 (github, https://github.com/acme/web/pull/12)" == b.text for b in issue.blockers)
    # the review is the edge to break; Ben, who holds it, decides, in his own time zone
    finding = next(f for f in engine.evaluate(NOW).standoffs if f.detect == "standoff")
    for row in (pr, issue):
        d = row.decision
        assert d.who == "Ben Ortiz" and d.account == BEN
        assert d.what == "decide whether acme/web#12 can be reviewed as it stands"
        assert d.by == config.schedule_for_person("ben").add(finding.at, Duration.parse("1d"))
        assert d.by > finding.at
        assert d.by_local.endswith(("CET", "CEST"))
    # the pull request's pending (overdue) review request makes Ben its holder; the issue is Ben's too
    assert pr.holder == issue.holder == "Ben Ortiz"
    assert any(b.kind == "overdue" for b in pr.blockers)
    # the wait began with the review request, two days ago
    assert pr.since == NOW - timedelta(days=2)
    assert pr.age == timedelta(days=2)


def test_pending_review_within_its_deadline_is_moving_with_receiver_and_deadline(world):
    config, _store, engine = world
    row = rows_by_key(build_status(engine, NOW))["acme/web#20"]
    assert row.state == MOVING
    assert row.blockers == []
    assert row.holder == "Cara Diaz" and row.holder_account == CARA
    d = row.decision
    assert (d.who, d.what) == ("Cara Diaz", "acknowledge the review request")
    sent = NOW - timedelta(minutes=10)
    assert d.by == config.schedule_for_person("cara").add(sent, Duration.parse("4h"))
    assert d.by > NOW
    local = d.by.astimezone(config.schedule_for_person("cara").tz)
    assert d.by_local == f"{local:%a %d %b %H:%M} {local.tzname()}"
    assert d.by_local.endswith("EST")
    assert row.age == timedelta(minutes=10)


def test_ownerless_blocker_is_blocked_and_asks_the_waiter_to_find_an_owner(world):
    config, _store, engine = world
    status = build_status(engine, NOW)
    rows = rows_by_key(status)
    launch = rows[LAUNCH.key]
    assert launch.state == BLOCKED and launch.ownerless and not launch.in_standoff
    assert launch.holder == "Quinn Park"  # matched by e-mail from the Asana account
    (blocker,) = launch.blockers
    assert blocker.ref == LEGAL and blocker.holder == "nobody"
    assert blocker.text == f"\"Legal review\" (asana, https://example.test/asana/{LEGAL.key}), which nobody holds"
    finding = next(f for f in engine.evaluate(NOW).standoffs if f.detect == "ownerless")
    assert launch.decision.who == "Quinn Park"
    assert launch.decision.what == "find an owner for \"Legal review\""
    assert launch.decision.by == config.schedule_for_person("quinn").add(finding.at, Duration.parse("1d"))
    # the blocker itself: nobody holds it, so it does not move either
    legal = rows[LEGAL.key]
    assert legal.state == BLOCKED and legal.holder == "nobody"
    assert [b.kind for b in legal.blockers] == ["no_owner"]
    assert (legal.decision.who, legal.decision.what, legal.decision.by) == (
        "Quinn Park", "find an owner for \"Legal review\"", launch.decision.by)


def test_summary_sorting_and_json(world):
    _config, _store, engine = world
    status = build_status(engine, NOW)
    assert {r.item.key for r in status.rows} == {"acme/web#12", "acme/web#20", "WEB-17", LAUNCH.key, LEGAL.key}
    assert (status.moving, status.blocked, status.in_standoffs, status.ownerless) == (1, 4, 2, 1)
    oldest = max(r.age for r in status.rows)
    assert summary_line(status) == f"5 items: 1 moving, 4 blocked (2 in standoffs, 1 ownerless); oldest wait {format_age(oldest)}"
    # by age, oldest first: the Asana dependency began a day before the rest
    ages = [r.since for r in status.rows]
    assert ages == sorted(ages) and status.rows[-1].item == PR20
    by_item = build_status(engine, NOW, sort="item")
    assert [(r.item.tool, r.item.key) for r in by_item.rows] == sorted((r.item.tool, r.item.key) for r in status.rows)
    by_holder = build_status(engine, NOW, sort="holder")
    assert [r.holder for r in by_holder.rows] == ["Ben Ortiz", "Ben Ortiz", "Cara Diaz", "nobody", "Quinn Park"]

    doc = json.loads(json.dumps(to_json(status)))
    assert doc["summary"]["items"] == 5 and doc["summary"]["blocked"] == 4
    item = next(i for i in doc["items"] if i["key"] == "acme/web#20")
    assert item["state"] == "MOVING" and item["next"]["who"] == "Cara Diaz"
    assert datetime.fromisoformat(item["next"]["by"]) == next(r for r in status.rows if r.item == PR20).decision.by
    assert datetime.fromisoformat(item["since"]) == NOW - timedelta(minutes=10)
    text = render_text(status)
    assert text.splitlines()[0] == summary_line(status)
    assert "next:    Cara Diaz to acknowledge the review request by " in text


def test_done_items_drop_out(world):
    _config, store, engine = world
    done = snapshot(LEGAL, "Legal review", ItemKind.TASK, "Done", StatusCategory.DONE, created=NOW - timedelta(days=4))
    store.save_poll("asana", "1201000000000100", PollResult(items=[done]), NOW)
    engine._changed.add(LEGAL)  # as Engine._store does after a poll
    keys = {r.item.key for r in build_status(engine, NOW).rows}
    assert LEGAL.key not in keys and LAUNCH.key not in keys  # a done blocker leaves no wait
    assert "WEB-17" in keys


def test_age_format():
    assert format_age(timedelta(days=3, hours=4, minutes=59)) == "3d 4h"
    assert format_age(timedelta(hours=5, minutes=12)) == "5h 12m"
    assert format_age(timedelta(minutes=12, seconds=30)) == "12m"


# -- the commands ------------------------------------------------------------------------------


@pytest.fixture
def on_disk(tmp_path, monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    path, config = write_config(tmp_path)
    store = Store.open(config.database_url())
    for name, me in (("github", "hb-bot"), ("jira", "bot-j"), ("asana", "1201000000000999")):
        store.save_poll(name, WHOAMI, PollResult(next_cursor={"id": me}), datetime.now(UTC))  # no whoami call
    return path, store


def test_status_command_text_and_json(on_disk, capsys):
    path, store = on_disk
    assert cli.main(["status", "--config", path]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        "0 items: nothing waits",
        "first crawl: github 0 of 1 repositories read, jira 0 of 1 queries read, asana 0 of 1 projects read",
    ], "a store never polled says so"

    populate(store, datetime.now(UTC))
    assert cli.main(["status", "--config", path]) == 0
    captured = capsys.readouterr()
    out = captured.out
    # Jira is unreachable here; building its client calls nothing (issue 12), so the store is read quietly
    assert "Traceback" not in captured.err and "serverInfo" not in captured.err
    assert out.startswith("5 items: 1 moving, 4 blocked (2 in standoffs, 1 ownerless); oldest wait ")
    assert "BLOCKED jira WEB-17" in out and "MOVING  github acme/web#20" in out
    assert "blocker: standoff: Ana Lima waits on Ben Ortiz for a review of acme/web#12, and Ben Ortiz waits on Ana Lima" in out
    assert "next:    Ben Ortiz to decide whether acme/web#12 can be reviewed as it stands by " in out
    assert "next:    Quinn Park to find an owner for \"Legal review\" by " in out

    assert cli.main(["status", "--config", path, "--json", "--sort", "item"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [i["key"] for i in doc["items"]] == sorted([LAUNCH.key, LEGAL.key], key=str) + ["acme/web#12", "acme/web#20", "WEB-17"]
    assert {i["key"]: i["state"] for i in doc["items"]}["acme/web#20"] == "MOVING"


def test_people_command(on_disk, capsys):
    path, store = on_disk
    populate(store, datetime.now(UTC))
    assert cli.main(["people", "--config", path]) == 0
    out = capsys.readouterr().out
    sections = out.split("\n\n")
    assert sections[0].splitlines()[0] == "Mapped people (4):"
    assert "  quinn (Quinn Park): asana:1201000000000900 (e-mail)" in sections[0]
    assert "  ben (Ben Ortiz): github:ben-o (config), jira:ben-j (config)" in sections[0]
    assert "  ana (Ana Lima): github:ana (config)\n" in sections[0] + "\n"  # ana-j never appeared
    assert sections[1].startswith("Accounts seen but not mapped (2):")
    assert "  github:dana  Dana Unmapped  -  1 event  last seen " in sections[1]
    assert "  jira:557058:f00d  -  -  1 event  last seen " in sections[1]
    assert sections[2].splitlines() == [
        "Config entries that never matched (1):",
        "  zed: none of its accounts (github:zed-z) was seen, and no account showed the e-mail zed@example.com",
    ]

    assert cli.main(["people", "--config", path, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mapped"]["quinn"]["accounts"] == [{"account": "asana:1201000000000900", "how": "e-mail"}]
    assert {u["account"]: u["events"] for u in doc["unmapped"]} == {"github:dana": 1, "jira:557058:f00d": 1}
    assert doc["never_matched"] == [{"person": "zed", "reason": sections[2].splitlines()[1].split(": ", 1)[1]}]


def test_seen_accounts_merge_poll_accounts_with_event_counts(world):
    config, store, _engine = world
    seen = {str(s.account): s for s in seen_accounts(store)}
    assert seen["github:ana"].events == 3 and seen["github:ana"].display_name == "Ana"
    assert seen["jira:ben-j"].email == "ben@example.com" and seen["jira:ben-j"].events == 2
    assert seen["jira:557058:f00d"].events == 1 and seen["jira:557058:f00d"].display_name is None
    assert seen["jira:557058:f00d"].last_seen == NOW - timedelta(days=2) + timedelta(hours=2)
    report, own = people_report(config, store)
    assert own == []
    # a configured account counts as mapped only when it was seen (case-insensitive for GitHub)
    assert ("github", "ana") in {(a.tool, a.id) for a, how in report.mapped["ana"] if how == "config"}
    assert all(a.id != "ana-j" for a, _ in report.mapped["ana"])
    upper = Directory(config).report([s for s in seen_accounts(store) if s.account != ANA]
                                     + [type(seen["github:ana"])(Account("github", "ANA"))])
    assert [(str(a), how) for a, how in upper.mapped["ana"]] == [("github:ana", "config")]
    assert "quinn" not in dict(report.never_matched) and "zed" in dict(report.never_matched)
    assert people_json(config, report)["unmapped"][0]["account"] == "github:dana"
    assert people_text(config, report).count("\n\n") == 2


def test_a_standoff_alone_blocks_an_item(tmp_path):
    """Without a handoff rule the pull request has no overdue handoff and no blocker of its own:
    only the standoff makes it BLOCKED, and its holder is its author."""
    text = CONFIG.format(db=tmp_path / "s.db")
    start = text.index('name = "review-not-picked-up"') - len("[[rules]]\n")
    end = text.index("[[rules]]", start + 1)
    config = parse_config(text[:start] + text[end:], environ=ENV)
    assert [r.detect for r in config.rules] == ["standoff"]
    store = Store.open(config.database_url())
    populate(store, NOW, with_pending_review=False)
    rows = rows_by_key(build_status(Engine(config, store, {}, clock=lambda: NOW), NOW))
    pr = rows["acme/web#12"]
    assert pr.state == BLOCKED and pr.in_standoff
    assert [b.kind for b in pr.blockers] == ["standoff"]
    assert pr.holder == "Ana Lima"
    assert (pr.decision.who, pr.decision.what) == ("Ben Ortiz", "decide whether acme/web#12 can be reviewed as it stands")
    assert "acme/web#20" not in rows
