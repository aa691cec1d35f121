"""GitHub vendor JSON → model, checked over the vendor's own recorded bytes.

Recorded data: ../shared/specs/recorded (PyGithub replay files, LGPL-3.0; octokit fixtures,
MIT; GitHub OpenAPI examples, MIT). Expectations are computed from the raw entry fields
wherever possible; literal values are ones visible in the recorded files.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from bridge.core.model import Account, AccountInfo, EventKind, ItemKind, ItemRef, StatusCategory
from connectors.github.mapping import (
    accounts_seen,
    commit_author,
    map_links,
    pull_head,
    item_ref,
    map_issue,
    parse_time,
)
from connectors.github.timeline import MAPPED_TYPES, SKIP_REASONS, TimelineMapping, map_timeline, mentions
from tests.support.recorded import RECORDED, read_replay

GH = "github"


def gh(login: str) -> Account:
    return Account(GH, login)


# ---------------------------------------------------------------------------- loaders


def _timeline(name: str) -> tuple[ItemRef, list[dict]]:
    """The one ``/timeline`` response of a replay file, with the item it belongs to."""
    (ex,) = [e for e in read_replay(name) if e.method == "GET" and e.path.split("?")[0].endswith("/timeline")]
    parts = ex.path.split("?")[0].split("/")  # /repos/{o}/{r}/issues/{n}/timeline
    return item_ref(f"{parts[2]}/{parts[3]}", int(parts[5])), ex.json()


def _issue_events() -> list[dict]:
    """Every single-event exchange of IssueEvent.setUp.txt (``GET .../issues/events/{id}``)."""
    return [e.json() for e in read_replay("IssueEvent.setUp.txt") if "/issues/events/" in e.path]


def _ref_of(issue: dict) -> ItemRef:
    repo_url = issue["repository_url"]
    return item_ref(repo_url.split("/repos/", 1)[1], issue["number"])


def _repo_of(issue: dict) -> str:
    return issue["repository_url"].split("/repos/", 1)[1]


TIMELINES = ["PullRequest.testGetIssueTimeline.txt", "Issue.testGetTimeline.txt"]


def _event_ref(event: dict) -> ItemRef:
    return _ref_of(event["issue"])


# ---------------------------------------------------------------------------- basics


def test_item_ref_and_its_errors():
    assert item_ref("acme/web", 12) == ItemRef("github", "acme/web#12")
    for bad_repo in ("acme", "acme/web/x", "/web", "acme/", "acme/web#1"):
        with pytest.raises(ValueError, match="owner/repo"):
            item_ref(bad_repo, 1)
    for bad_number in (0, -3, True, "12", None):
        with pytest.raises(ValueError, match="positive integer"):
            item_ref("acme/web", bad_number)


def test_parse_time_gives_aware_utc():
    assert parse_time("2025-03-09T13:08:59Z") == datetime(2025, 3, 9, 13, 8, 59, tzinfo=timezone.utc)
    shifted = parse_time("2014-08-09T08:02:04+12:00")  # the commit-author example of the spec
    assert shifted.tzinfo == timezone.utc and shifted == datetime(2014, 8, 8, 20, 2, 4, tzinfo=timezone.utc)
    for bad in ("2025-03-09T13:08:59", "yesterday", "", 1741525739, None):
        with pytest.raises(ValueError):
            parse_time(bad)


# ---------------------------------------------------------------------------- timelines: coverage


@pytest.mark.parametrize("name", TIMELINES)
def test_every_recorded_timeline_entry_maps_or_is_skipped_with_a_reason(name):
    ref, entries = _timeline(name)
    assert entries, "the recording holds timeline entries"
    result = map_timeline(ref, entries)
    skipped_at = {i for i, _, _ in result.skipped}
    for index, entry in enumerate(entries):
        alone = map_timeline(ref, [entry])
        assert alone.events or alone.skipped, (index, entry.get("event"))
        assert all(reason for _, _, reason in alone.skipped)
        assert all(not reason.startswith("malformed") for _, _, reason in alone.skipped), alone.skipped
        if not alone.events:
            assert index in skipped_at
    assert len(result.events) == sum(len(map_timeline(ref, [e]).events) for e in entries)
    for event in result.events:
        assert event.tool == GH and event.item == ref
        assert event.at.tzinfo is not None and event.at.utcoffset().total_seconds() == 0


def test_every_recorded_issue_event_maps_or_is_skipped_with_a_reason():
    events = _issue_events()
    types = [e["event"] for e in events]
    assert len(types) == 27 and len(set(types)) == 27, "IssueEvent.setUp.txt shows 27 event types"
    for raw in events:
        result = map_timeline(_event_ref(raw), [raw])
        assert len(result.events) + len(result.skipped) == 1, raw["event"]
        if result.skipped:
            (index, etype, reason) = result.skipped[0]
            assert index == 0 and etype == raw["event"] and reason
            assert not reason.startswith(("malformed", "unmapped")), reason
            assert reason == SKIP_REASONS[raw["event"]]
        else:
            (event,) = result.events
            assert event.kind.value == raw["event"]
            assert event.id == f"ev:{raw['id']}"
            assert event.at == parse_time(raw["created_at"])


# ---------------------------------------------------------------------------- timelines: content


def _expect(ref: ItemRef, raw: dict) -> list[dict]:
    """Expected event fields for one raw entry, read from the raw fields."""
    kind = raw["event"]
    if kind == "committed":
        # The git author's e-mail is the actor (a pseudo-account; no login in a commit).
        return [dict(kind=EventKind.COMMITTED, id=f"commit:{ref.key}@{raw['sha']}",
                     actor=Account("email", raw["author"]["email"].lower()),
                     at=parse_time(raw["author"]["date"]), text=raw["message"])]
    if kind == "commented":
        return [dict(kind=EventKind.COMMENTED, id=f"comment:{raw['id']}", actor=gh(raw["user"]["login"]),
                     at=parse_time(raw["created_at"]), text=raw["body"])]
    if kind == "line-commented":
        return [dict(kind=EventKind.COMMENTED, id=f"review_comment:{c['id']}", actor=gh(c["user"]["login"]),
                     at=parse_time(c["created_at"]), text=c["body"]) for c in raw["comments"]]
    if kind in ("assigned", "unassigned"):
        actor = raw.get("assigner") or raw["actor"]
        return [dict(kind=EventKind(kind), id=f"ev:{raw['id']}", actor=gh(actor["login"]),
                     subject=gh(raw["assignee"]["login"]), at=parse_time(raw["created_at"]))]
    if kind in ("labeled", "unlabeled"):
        return [dict(kind=EventKind(kind), id=f"ev:{raw['id']}", actor=gh(raw["actor"]["login"]),
                     label=raw["label"]["name"], at=parse_time(raw["created_at"]))]
    if kind in ("closed", "reopened"):
        return [dict(kind=EventKind(kind), id=f"ev:{raw['id']}", actor=gh(raw["actor"]["login"]),
                     at=parse_time(raw["created_at"]))]
    if kind == "reviewed":
        return [dict(kind=EventKind.REVIEWED, id=f"review:{raw['id']}", actor=gh(raw["user"]["login"]),
                     review_state=raw["state"].lower(), text=raw["body"], at=parse_time(raw["submitted_at"]))]
    if kind == "cross-referenced":
        src = raw["source"]["issue"]
        return [dict(kind=EventKind.LINKED, actor=gh(raw["actor"]["login"]), link_type="mentioned_in",
                     target=item_ref(src["repository"]["full_name"], src["number"]),
                     at=parse_time(raw["created_at"]))]
    return []


@pytest.mark.parametrize("name", TIMELINES)
def test_recorded_timeline_fields_come_from_the_raw_entries(name):
    ref, entries = _timeline(name)
    for raw in entries:
        got = map_timeline(ref, [raw]).events
        want = _expect(ref, raw)
        assert len(got) == len(want), raw["event"]
        for event, fields in zip(got, want):
            for key, value in fields.items():
                assert getattr(event, key) == value, (raw["event"], key)


def test_recorded_pr_timeline_yields_the_expected_kinds_in_order():
    ref, entries = _timeline("PullRequest.testGetIssueTimeline.txt")
    assert ref == ItemRef("github", "PyGithub/PyGithub#31")
    result = map_timeline(ref, entries)
    assert [e.kind for e in result.events] == [
        EventKind.COMMITTED, EventKind.COMMITTED, EventKind.COMMITTED,
        EventKind.CLOSED,
        EventKind.COMMENTED,  # issue comment
        EventKind.COMMENTED,  # line comment (review comment)
        EventKind.ASSIGNED,
        EventKind.LABELED,
        EventKind.LINKED,     # cross-referenced from #670
        EventKind.REVIEWED, EventKind.REVIEWED,
    ]
    assert [(etype, reason) for _, etype, reason in result.skipped] == [
        ("subscribed", SKIP_REASONS["subscribed"]),
        ("referenced", SKIP_REASONS["referenced"]),
        ("merged", "merge: closure is carried by the accompanying closed event"),
    ]
    # Values visible in the file.
    assigned = next(e for e in result.events if e.kind is EventKind.ASSIGNED)
    assert (assigned.actor, assigned.subject) == (gh("ghost"), gh("jacquev6"))
    assert assigned.at == datetime(2012, 11, 3, 8, 19, 40, tzinfo=timezone.utc)
    linked = next(e for e in result.events if e.kind is EventKind.LINKED)
    assert linked.target == ItemRef("github", "PyGithub/PyGithub#670") and linked.actor == gh("byohay")
    reviews = [e for e in result.events if e.kind is EventKind.REVIEWED]
    assert [(r.actor.id, r.review_state, r.text) for r in reviews] == [
        ("sfdye", "commented", "Review created for PyGithub"),
        ("eamanu", "commented", ""),
    ]
    closed = next(e for e in result.events if e.kind is EventKind.CLOSED)
    merged_raw = next(r for r in entries if r["event"] == "merged")
    assert closed.at == parse_time(merged_raw["created_at"]), "merge and close share one instant"
    # Commits carry no login: their actor is the git author's e-mail, visible in the file.
    assert {e.actor for e in result.events if e.kind is EventKind.COMMITTED} == {
        Account("email", "vincent@vincent-jacques.net")}


def test_recorded_issue_timeline_specifics():
    ref, entries = _timeline("Issue.testGetTimeline.txt")
    result = map_timeline(ref, entries)
    counts = Counter(e.kind for e in result.events)
    assert counts[EventKind.ASSIGNED] == 3 and counts[EventKind.CLOSED] == 1
    assert counts[EventKind.COMMENTED] == 3 and counts[EventKind.LABELED] == 1 and counts[EventKind.LINKED] == 1
    assert Counter(t for _, t, _ in result.skipped) == Counter({"locked": 3, "unlocked": 3, "subscribed": 1})
    (linked,) = [e for e in result.events if e.kind is EventKind.LINKED]
    assert linked.target == ItemRef("github", "PyGithub/PyGithub#857")
    assert linked.id.startswith("derived:PyGithub/PyGithub#28:cross-referenced:2018-08-24T15:42:24Z:allevin:")


def test_recorded_issue_events_specific_values():
    by_type = {e["event"]: e for e in _issue_events()}

    def one(etype):
        raw = by_type[etype]
        (event,) = map_timeline(_event_ref(raw), [raw]).events
        return raw, event

    # On /issues/events the actor of this assignment is the assignee; "assigner" did it.
    raw, ev = one("assigned")
    assert raw["actor"]["login"] == "jacquev6" and raw["assigner"]["login"] == "ghost"
    assert (ev.actor, ev.subject) == (gh("ghost"), gh("jacquev6"))
    assert ev.item == ItemRef("github", "PyGithub/PyGithub#30")

    raw, ev = one("unassigned")
    assert (ev.kind, ev.actor, ev.subject) == (EventKind.UNASSIGNED, gh("sfdye"), gh("sfdye"))

    raw, ev = one("review_requested")
    assert (ev.actor, ev.subject) == (gh(raw["review_requester"]["login"]), gh(raw["requested_reviewer"]["login"]))
    raw, ev = one("review_request_removed")
    assert (ev.kind, ev.actor, ev.subject) == (EventKind.REVIEW_REQUEST_REMOVED, gh("sfdye"), gh("jasonwhite"))

    assert one("labeled")[1].label == "v1"
    assert one("unlabeled")[1].label == "improvement"
    assert one("closed")[1].kind is EventKind.CLOSED
    assert one("reopened")[1].actor == gh("sfdye")

    skipped = {t: map_timeline(_event_ref(r), [r]).skipped for t, r in by_type.items()}
    # issue 12 changes this: the dismissal was skipped ("names no reviewer"); now it is an event
    raw, ev = one("review_dismissed")
    assert (ev.kind, ev.actor, ev.subject, ev.review_state) == (EventKind.REVIEW_DISMISSED, gh("sfdye"), None, "changes_requested")
    assert skipped["merged"][0][2] == SKIP_REASONS["merged"]
    assert {t for t, s in skipped.items() if s} == set(by_type) - MAPPED_TYPES


def test_event_ids_are_unique_within_and_across_recorded_timelines():
    ids: list[str] = []
    for name in TIMELINES:
        ref, entries = _timeline(name)
        own = [e.id for e in map_timeline(ref, entries).events]
        assert len(own) == len(set(own)), name
        ids += own
    for raw in _issue_events():
        ids += [e.id for e in map_timeline(_event_ref(raw), [raw]).events]
    # The same issue event reached through two endpoints would share its id; these don't.
    assert len(ids) == len(set(ids))


def test_event_ids_do_not_collide_across_vendor_id_spaces():
    ref = item_ref("acme/web", 12)
    user = {"login": "ana"}
    t = "2025-03-09T13:08:59Z"
    entries = [
        {"event": "commented", "id": 7, "user": user, "created_at": t, "body": "x"},
        {"event": "reviewed", "id": 7, "user": user, "submitted_at": t, "state": "APPROVED", "body": ""},
        {"event": "closed", "id": 7, "actor": user, "created_at": t},
        {"event": "line-commented", "comments": [{"id": 7, "user": user, "created_at": t, "body": "y"}]},
        {"event": "commit-commented", "comments": [{"id": 7, "user": user, "created_at": t, "body": "z"}]},
    ]
    events = map_timeline(ref, entries).events
    assert len(events) == 5 and len({e.id for e in events}) == 5
    assert events[1].review_state == "approved"  # REST /reviews spells states upper-case


def test_one_commit_in_two_pull_requests_gives_two_events():
    _, entries = _timeline("PullRequest.testGetIssueTimeline.txt")
    commit = next(e for e in entries if e["event"] == "committed")
    a = map_timeline(item_ref("acme/web", 1), [commit]).events[0]
    b = map_timeline(item_ref("acme/web", 2), [commit]).events[0]
    assert a.id != b.id and a.id.endswith(commit["sha"]) and b.id.endswith(commit["sha"])


# ---------------------------------------------------------------------------- malformed and skipped


def test_malformed_entries_are_skipped_while_neighbours_still_map():
    ref, entries = _timeline("PullRequest.testGetIssueTimeline.txt")
    clean = map_timeline(ref, entries)
    assigned = next(e for e in entries if e["event"] == "assigned")
    labeled = next(e for e in entries if e["event"] == "labeled")
    reviewed = next(e for e in entries if e["event"] == "reviewed")
    commented = next(e for e in entries if e["event"] == "commented")
    broken = [
        "not an object",
        {"id": 1, "created_at": "2025-01-01T00:00:00Z"},  # no event type
        {**assigned, "assignee": None},
        {**labeled, "label": "v1"},
        {**labeled, "created_at": "last tuesday"},
        {**reviewed, "state": "LGTM"},
        {**reviewed, "submitted_at": None},
        {**commented, "user": 42, "actor": None},
        {**commented, "id": None},
        {"event": "committed", "sha": "abc", "message": "m"},  # no dates
        {"event": "cross-referenced", "created_at": "2025-01-01T00:00:00Z", "source": {"type": "issue", "issue": {"number": 3}}},
        {"event": "line-commented", "comments": "nope"},
    ]
    mixed: list = []
    for i, entry in enumerate(entries):
        mixed.append(entry)
        if i < len(broken):
            mixed.append(broken[i])
    mixed += broken[len(entries):]
    result = map_timeline(ref, mixed)
    assert result.events == clean.events
    bad = [(i, t, r) for i, t, r in result.skipped if r.startswith("malformed: ")]
    assert len(bad) == len(broken)
    assert {mixed[i] if isinstance(mixed[i], str) else id(mixed[i]) for i, _, _ in bad} == {
        b if isinstance(b, str) else id(b) for b in broken
    }
    assert all(len(r) > len("malformed: ") for _, _, r in bad)
    reasons = " | ".join(r for _, _, r in bad)
    for fragment in ("not an object", "no 'event'", "assignee", "label", "last tuesday", "LGTM", "submitted_at"):
        assert fragment in reasons, fragment


def test_partly_malformed_comment_group_keeps_the_good_comments():
    ref = item_ref("acme/web", 12)
    good = {"id": 1, "user": {"login": "ben"}, "created_at": "2025-03-09T13:08:59Z", "body": "ok @ana"}
    entry = {"event": "line-commented", "comments": [good, {"id": 2, "created_at": "2025-03-09T13:09:00Z"}]}
    result = map_timeline(ref, [entry])
    assert [e.id for e in result.events] == ["review_comment:1"]
    assert result.events[0].mentions == (gh("ana"),)
    assert result.skipped == [(0, "line-commented", "malformed: comments[1].user is missing, not a user")]


def test_team_review_request_has_no_receiver_person_request_maps():
    # Issue 17: a team's request is a handoff to nobody in particular (subject None, the team in
    # label), so a rule's require = ["receiver"] can ask for a person; issue 16: its removal maps the
    # same way (it withdraws a handoff to a configured team, or the request for an owner).
    ref = item_ref("acme/web", 12)
    base = {"id": 5, "event": "review_requested", "actor": {"login": "ana"}, "review_requester": {"login": "ana"},
            "created_at": "2025-03-09T13:08:59Z"}
    team = {**base, "requested_team": {"name": "Justice League", "slug": "justice-league"}}
    person = {**base, "id": 6, "requested_reviewer": {"login": "ben"}}
    removed = {**team, "id": 7, "event": "review_request_removed"}
    result = map_timeline(ref, [team, person, removed])
    assert result.skipped == []
    team_ev, event, removed_ev = result.events
    assert (team_ev.subject, team_ev.label, team_ev.actor) == (None, "team:justice-league", gh("ana"))
    assert (removed_ev.kind, removed_ev.subject, removed_ev.label, removed_ev.id) == (
        EventKind.REVIEW_REQUEST_REMOVED, None, "team:justice-league", "ev:7")
    assert (event.kind, event.actor, event.subject, event.id) == (EventKind.REVIEW_REQUESTED, gh("ana"), gh("ben"), "ev:6")


def test_pending_review_and_unknown_types_are_skipped_with_specific_reasons():
    ref = item_ref("acme/web", 12)
    result = map_timeline(ref, [
        {"event": "reviewed", "id": 1, "user": {"login": "ben"}, "state": "PENDING", "body": ""},
        {"event": "copilot_did_something", "id": 2},
        {"event": "connected", "id": 3, "actor": {"login": "ana"}, "created_at": "2025-03-09T13:08:59Z"},
    ])
    assert result.events == []
    reasons = [r for _, _, r in result.skipped]
    assert reasons[0].startswith("pending review")
    assert reasons[1].startswith("unmapped event type 'copilot_did_something'")
    assert reasons[2] == SKIP_REASONS["connected"]


def test_dependency_and_sub_issue_events_become_links():
    """Shapes follow the 2026-03-10 schema "Issue Reference" (nullable-issue-reference)."""
    ref = item_ref("acme/web", 12)

    def issue_ref(number, repo="acme/api"):
        return {"number": number, "title": "t", "state": "open", "repository": {"full_name": repo},
                "issue_type": None}

    base = {"actor": {"login": "ana"}, "created_at": "2025-03-09T13:08:59Z"}
    entries = [
        {**base, "id": 1, "event": "blocked_by_added", "blocked_by": issue_ref(3)},
        {**base, "id": 2, "event": "blocked_by_removed", "blocked_by": issue_ref(3)},
        {**base, "id": 3, "event": "blocking_added", "blocking": issue_ref(4, "acme/web")},
        {**base, "id": 4, "event": "sub_issue_added", "sub_issue": issue_ref(5)},
        {**base, "id": 5, "event": "parent_issue_removed", "parent_issue": issue_ref(6)},
        {**base, "id": 6, "event": "blocked_by_added", "blocked_by": None},
    ]
    result = map_timeline(ref, entries)
    assert [(e.kind, e.link_type, e.target.key) for e in result.events] == [
        (EventKind.LINKED, "blocked_by", "acme/api#3"),
        (EventKind.UNLINKED, "blocked_by", "acme/api#3"),
        (EventKind.LINKED, "blocks", "acme/web#4"),
        (EventKind.LINKED, "sub_issue", "acme/api#5"),
        (EventKind.UNLINKED, "parent", "acme/api#6"),
    ]
    assert result.skipped[0][:2] == (5, "blocked_by_added") and "null" in result.skipped[0][2]


def test_map_timeline_returns_a_timeline_mapping_for_empty_input():
    assert map_timeline(item_ref("acme/web", 1), []) == TimelineMapping(events=[], skipped=[])


# ---------------------------------------------------------------------------- mentions


@pytest.mark.parametrize(
    "text, logins",
    [
        (None, []),
        ("", []),
        ("@ana please look", ["ana"]),
        ("thanks @ben-o, and @ana.", ["ben-o", "ana"]),
        ("(@ana) @ben! @carl? @dave: @erin;", ["ana", "ben", "carl", "dave", "erin"]),
        ("mail ana@example.com or ana.b@example.org", []),
        ("inline `@ana` and ``code @ben ` still`` but @carl", ["carl"]),
        ("```\n@ana in a fence\n```\n@ben after", ["ben"]),
        ("~~~python\n@ana\n~~~~\n", []),
        ("```\nunclosed fence @ana\n", []),
        ("ping @acme/reviewers and @ana", ["ana"]),
        ("@ana @Ana @ANA @ben @ana", ["ana", "ben"]),
        ("@ben- trailing hyphen", ["ben"]),
        ("@-ben @ben--o @ben_o", []),
        ("@" + "a" * 39 + " @" + "b" * 40, ["a" * 39]),
        ("email-ish x@ana but line start\n@ben", ["ben"]),
        ("@ @@ana", []),
    ],
)
def test_mentions(text, logins):
    assert mentions(text) == tuple(gh(login) for login in logins)


def test_comment_and_review_events_carry_mentions():
    ref = item_ref("acme/web", 12)
    t = "2025-03-09T13:08:59Z"
    result = map_timeline(ref, [
        {"event": "commented", "id": 1, "user": {"login": "ana"}, "created_at": t,
         "body": "@ben can you review? cc @acme/team, not `@carl`"},
        {"event": "reviewed", "id": 2, "user": {"login": "ben"}, "submitted_at": t,
         "state": "changes_requested", "body": "@ana see inline"},
    ])
    assert [e.mentions for e in result.events] == [(gh("ben"),), (gh("ana"),)]
    assert result.events[1].review_state == "changes_requested"


# ---------------------------------------------------------------------------- issues


def _recorded_issues() -> list[tuple[str, dict]]:
    """(source, issue object) for every issue GET response named in the brief."""
    out: list[tuple[str, dict]] = []
    for ex in read_replay("Repository.testGetIssuesWithTypeArgument.txt"):
        out += [(ex.path, i) for i in ex.json()]
    for ex in read_replay("Issue.setUp.txt"):
        if "/issues/" in ex.path:
            out.append((ex.path, ex.json()))
    fixture = json.loads((RECORDED / "github/octokit-fixtures/paginate-issues.raw-fixture.json").read_text())
    for ex in fixture:
        if ex["method"] == "get" and "/issues" in ex["path"]:
            out += [(ex["path"], i) for i in ex["response"]]
    return out


def _spec_issues() -> list[tuple[str, dict]]:
    """Issue-shaped examples of the ``issues/*`` operations (unresolved ``$ref`` ones aside)."""
    spec = json.loads((RECORDED / "github/spec-examples.api.github.com.2026-03-10.json").read_text())
    out: list[tuple[str, dict]] = []
    for op in spec["operations"]:
        if not op["operationId"].startswith("issues/"):
            continue
        for status, response in op["responses"].items():
            for name, example in (response.get("examples") or {}).items():
                for obj in example if isinstance(example, list) else [example]:
                    if isinstance(obj, dict) and {"number", "title", "state", "html_url"} <= obj.keys():
                        out.append((f"{op['operationId']} {status} {name}", obj))
    return out


def _check_issue(raw: dict) -> None:
    repo = _repo_of(raw)
    snap = map_issue(repo, raw)
    assert snap.ref == item_ref(repo, raw["number"])
    assert (snap.title, snap.url) == (raw["title"], raw["html_url"])
    is_pr = "pull_request" in raw
    assert snap.kind is (ItemKind.PULL_REQUEST if is_pr else ItemKind.ISSUE)
    merged = is_pr and bool(raw["pull_request"].get("merged_at"))
    assert snap.status == ("merged" if raw["state"] == "closed" and merged else raw["state"])
    people = raw.get("assignees")
    if people is None:
        people = [raw["assignee"]] if raw.get("assignee") else []
    assert snap.assignees == tuple(gh(u["login"]) for u in people)
    assert snap.labels == tuple(label["name"] for label in raw["labels"])
    assert snap.author == gh(raw["user"]["login"])
    assert snap.created_at == parse_time(raw["created_at"]) and snap.updated_at == parse_time(raw["updated_at"])
    if raw["state"] == "closed":
        assert snap.status_category is StatusCategory.DONE
    elif is_pr:
        assert snap.status_category is (StatusCategory.IN_PROGRESS if raw.get("draft") else StatusCategory.IN_REVIEW)
    else:
        assert snap.status_category is (StatusCategory.IN_PROGRESS if snap.assignees else StatusCategory.TODO)


def test_every_recorded_issue_maps():
    issues = _recorded_issues()
    assert len(issues) == 4 + 1 + 13
    for source, raw in issues:
        _check_issue(raw)


def test_every_spec_issue_example_maps():
    issues = _spec_issues()
    assert len(issues) >= 7
    for source, raw in issues:
        _check_issue(raw)
    # All of GitHub's issue examples are pull requests, open, with octocat assigned.
    snaps = [map_issue(_repo_of(raw), raw) for _, raw in issues]
    assert {s.kind for s in snaps} == {ItemKind.PULL_REQUEST}
    assert {s.status_category for s in snaps} == {StatusCategory.IN_REVIEW}


def test_recorded_issue_28_values():
    (raw,) = [i for src, i in _recorded_issues() if src.endswith("/issues/28")]
    snap = map_issue("PyGithub/PyGithub", raw)
    assert snap.ref == ItemRef("github", "PyGithub/PyGithub#28")
    assert snap.status == "closed" and snap.status_category is StatusCategory.DONE
    assert snap.assignees == (gh("jacquev6"),)
    assert snap.labels == ("bug", "question")
    assert snap.kind is ItemKind.ISSUE


def test_singular_assignee_is_the_fallback():
    (source, raw) = _spec_issues()[0]
    assert raw.get("assignee")
    legacy = {k: v for k, v in raw.items() if k != "assignees"}
    assert map_issue(_repo_of(raw), legacy).assignees == (gh(raw["assignee"]["login"]),)
    neither = {k: v for k, v in legacy.items() if k != "assignee"}
    assert map_issue(_repo_of(raw), neither).assignees == ()


def test_status_categories():
    _, base = _recorded_issues()[0]  # open bug, no assignee
    assert base["state"] == "open" and not base["assignees"] and "pull_request" not in base
    repo = _repo_of(base)
    assert map_issue(repo, base).status_category is StatusCategory.TODO
    assigned = {**base, "assignees": [{"login": "ana"}]}
    assert map_issue(repo, assigned).status_category is StatusCategory.IN_PROGRESS
    pr = {**base, "pull_request": {"merged_at": None}}
    assert map_issue(repo, pr).status_category is StatusCategory.IN_REVIEW
    assert map_issue(repo, {**pr, "draft": True}).status_category is StatusCategory.IN_PROGRESS
    merged = {**pr, "state": "closed", "pull_request": {"merged_at": "2025-03-09T13:08:59Z"}}
    assert (map_issue(repo, merged).status, map_issue(repo, merged).status_category) == ("merged", StatusCategory.DONE)
    closed_pr = {**pr, "state": "closed"}
    assert map_issue(repo, closed_pr).status == "closed"


def test_open_blockers_make_an_issue_blocked_and_closed_ones_do_not():
    # Recorded: #24 is blocked by #13, which is closed: blocked_by 0 of total_blocked_by 1.
    (raw,) = [e.json() for e in read_replay("IssueDependencies.setUp.txt") if e.path.endswith("/issues/24")]
    assert raw["issue_dependencies_summary"]["total_blocked_by"] == 1
    assert raw["issue_dependencies_summary"]["blocked_by"] == 0
    assert map_issue("EnricoMi/PyGithub", raw).status_category is StatusCategory.TODO
    blocked = copy.deepcopy(raw)
    blocked["issue_dependencies_summary"]["blocked_by"] = 1
    assert map_issue("EnricoMi/PyGithub", blocked).status_category is StatusCategory.BLOCKED


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"title": None}, "'title'"),
        ({"number": "28"}, "number"),
        ({"number": True}, "number"),
        ({"state": "merged"}, "state"),
        ({"html_url": None}, "html_url"),
        ({"assignees": "jacquev6"}, "assignees"),
        ({"assignees": [{"id": 1}]}, "assignees[0]"),
        ({"labels": [{"color": "fff"}]}, "labels[0]"),
        ({"user": {"id": 1}}, "user"),
        ({"created_at": "soon"}, "created_at"),
        ({"pull_request": "yes"}, "pull_request"),
    ],
)
def test_malformed_issue_raises_value_error_naming_the_field(change, fragment):
    (raw,) = [i for src, i in _recorded_issues() if src.endswith("/issues/28")]
    with pytest.raises(ValueError, match="malformed GitHub issue PyGithub/PyGithub#") as info:
        map_issue("PyGithub/PyGithub", {**raw, **change})
    assert fragment in str(info.value)


def test_non_object_issue_raises_value_error():
    with pytest.raises(ValueError, match="not an object"):
        map_issue("acme/web", ["not", "an", "issue"])


# ---------------------------------------------------------------------------- issue 5: commits, branches, links


@pytest.mark.parametrize(
    ("email", "actor", "info_email"),
    [
        ("Ana.Souza@Example.COM", Account("email", "ana.souza@example.com"), "ana.souza@example.com"),
        ("1234567+ana-s@users.noreply.github.com", gh("ana-s"), None),
        ("ana-s@users.noreply.github.com", gh("ana-s"), None),
        # issue 12: a bot's no-reply address is its [bot] login, not an e-mail pseudo-account
        ("98922864+name[bot]@users.noreply.github.com", gh("name[bot]"), None),
        ("41898282+github-actions[bot]@users.noreply.github.com", gh("github-actions[bot]"), None),
        ("dependabot[bot]@users.noreply.github.com", gh("dependabot[bot]"), None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_commit_author_is_an_email_pseudo_account_or_the_noreply_login(email, actor, info_email):
    entry = {"event": "committed", "sha": "abc", "message": "m",
             "author": {"name": "Ana Souza", "email": email, "date": "2026-03-02T09:00:00Z"}}
    got_actor, info = commit_author(entry)
    assert got_actor == actor
    assert (info.email, info.display_name) == (info_email, "Ana Souza") if actor else info is None
    [event] = map_timeline(item_ref("acme/web", 1), [entry]).events
    assert event.actor == actor


def test_pull_head_reads_number_ref_and_time_or_nothing():
    assert pull_head({"number": 3, "head": {"ref": "feature/WEB-1"}, "updated_at": "2026-03-02T09:00:00Z"}) == (
        3, "feature/WEB-1", datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
    assert pull_head({"number": 3, "head": {"ref": "x"}})[2] is None
    for bad in (None, [], {"number": 3}, {"number": True, "head": {"ref": "x"}}, {"number": 3, "head": {"ref": ""}}):
        assert pull_head(bad) is None


def _snapshot(**kw):
    raw = {"number": 12, "title": "t", "state": "open", "html_url": "https://github.com/acme/web/pull/12",
           "created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-02T10:00:00Z",
           "pull_request": {"url": "u"}, **kw}
    return map_issue("acme/web", raw)


def test_map_links_ignores_the_item_itself_and_dates_description_links_by_first_read():
    item = _snapshot(title="OPS-4: see https://github.com/acme/web/pull/12")
    linked, events = map_links(item, body=None, head_ref=None, events=[], first_read=True)
    assert linked.links == (ItemRef("jira", "OPS-4"),)
    [event] = events
    assert (event.kind, event.at, event.link_type) == (EventKind.LINKED, item.created_at, "mentions")
    _, again = map_links(item, body=None, head_ref=None, events=[], first_read=False)
    assert [e.id for e in again] == [event.id] and again[0].at == item.updated_at


def test_map_links_native_links_stand_in_time_order_and_text_blocked_by_adds():
    ref = item_ref("acme/web", 12)
    t = "2026-03-02T09:0{}:00Z"
    blocker = {"number": 2, "repository": {"full_name": "acme/api"}}
    user = {"login": "ana"}
    entries = [
        {"event": "blocked_by_added", "id": 1, "actor": user, "created_at": t.format(1), "blocked_by": blocker},
        {"event": "blocked_by_removed", "id": 2, "actor": user, "created_at": t.format(2), "blocked_by": blocker},
        {"event": "blocked_by_added", "id": 3, "actor": user, "created_at": t.format(3), "blocked_by": blocker},
        {"event": "blocking_added", "id": 4, "actor": user, "created_at": t.format(4),
         "blocking": {"number": 5, "repository": {"full_name": "acme/web"}}},
        {"event": "commented", "id": 9, "user": user, "created_at": t.format(5),
         "body": "waiting on https://acme.atlassian.net/browse/OPS-4 and OPS-5"},
    ]
    events = map_timeline(ref, entries).events
    linked, text_events = map_links(_snapshot(), body=None, head_ref=None, events=events, first_read=False)
    assert linked.links == (ItemRef("github", "acme/api#2"), ItemRef("github", "acme/web#5"), ItemRef("jira", "OPS-4"))
    assert linked.blocked_by == (ItemRef("github", "acme/api#2"), ItemRef("jira", "OPS-4"))
    assert [(e.id, e.actor) for e in text_events] == [("text:acme/web#12:comment:9:blocked_by:jira:OPS-4", gh("ana"))]


def test_map_links_skips_text_carrying_the_daemons_marker():
    item = _snapshot(title="Request for OPS-4")
    body = "Blocked by OPS-9\n\n<sub>handoff-bridge · rule x · hb:0123456789ab</sub>"
    linked, events = map_links(item, body=body, head_ref="hb/12", events=[], first_read=True)
    assert linked.links == (ItemRef("jira", "OPS-4"),) and linked.blocked_by == ()
    assert [e.id for e in events] == ["text:acme/web#12:title:mention:jira:OPS-4"]


def test_accounts_seen_take_names_and_emails_from_user_objects_only_for_accounts_in_facts():
    ref = item_ref("acme/web", 12)
    entries = [
        {"event": "commented", "id": 9, "created_at": "2026-03-02T09:00:00Z", "body": "hi @zed",
         "user": {"login": "ana", "name": "Ana Souza", "email": "Ana@Example.com", "type": "User"}},
    ]
    events = map_timeline(ref, entries).events
    item = _snapshot(user={"login": "ben"}, assignees=[{"login": "cara"}])
    got = accounts_seen([item], events, [{"user": {"login": "ben"}}, *entries])
    assert got == [
        AccountInfo(gh("ana"), display_name="Ana Souza", email="ana@example.com"),
        AccountInfo(gh("ben")),
        AccountInfo(gh("cara")),
    ], "a mention (@zed) is no account seen"
