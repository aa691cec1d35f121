"""Property-based tests of the three mappings (issue 12), with hypothesis.

Payloads are vendor JSON as recorded or as the vendors' own examples give it (``../shared/specs``:
PyGithub replay files and octokit fixtures for GitHub, the platform-v3 examples for Jira, the
Asana OpenAPI examples), and the swagger-shaped builders of the mapping unit tests. Each example
removes or nulls up to four fields anywhere in the payload. The contract:

- item mappers (``map_issue``, ``map_task``) give a snapshot or raise ``ValueError`` naming the
  item: the connector's stated skip (``PollResult.skipped``); never any other exception;
- list mappers (GitHub ``map_timeline``, Jira ``map_histories``/``map_comments``, Asana
  ``map_stories``/``map_attachments``) never raise: every entry gives events or a stated skip;
- helpers that say "never raises" (``commit_author``, ``pull_head``, ``accounts_of``) never raise.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.core.model import Event, ItemRef, ItemSnapshot
from connectors.asana import mapping as asana
from connectors.github import mapping as github
from connectors.github.timeline import map_timeline
from connectors.jira import mapping as jira
from tests.support.recorded import RECORDED, read_replay
from tests.unit import test_asana_mapping as asana_tests
from tests.unit import test_jira_mapping as jira_tests

SPECS = Path(RECORDED).parent
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------- mutation


def paths(obj, prefix=()):
    """Every (container path, key) in ``obj``: dict keys and list indexes."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out += paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:6]):  # the first few elements are enough: lists are uniform
            out.append(prefix + (i,))
            out += paths(v, prefix + (i,))
    return out


def mutate(obj, changes):
    obj = copy.deepcopy(obj)
    for path, how in changes:
        parent = obj
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            if how == "null":
                parent[last] = None
            elif isinstance(parent, dict):
                parent.pop(last, None)
            else:
                del parent[last]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path already
    return obj


@st.composite
def mutated(draw, payloads):
    """One of ``payloads`` with up to four fields removed or set to null (the root too)."""
    payload = draw(st.sampled_from(payloads))
    all_paths = paths(payload)
    if not all_paths:
        return payload
    changes = draw(st.lists(st.tuples(st.sampled_from(all_paths), st.sampled_from(["remove", "null"])),
                            min_size=1, max_size=4))
    return mutate(payload, changes)


def well_formed_events(events) -> None:
    for e in events:
        assert isinstance(e, Event) and e.at.utcoffset() == timedelta(0)


# ---------------------------------------------------------------------------- payloads


def _github_issues() -> list[dict]:
    out = []
    for ex in read_replay("Repository.testGetIssuesWithTypeArgument.txt")[:1]:
        out += ex.json()[:4]
    out += [ex.json() for ex in read_replay("Issue.setUp.txt") if "/issues/" in ex.path]
    return out


def _github_timelines() -> list[list]:
    out = []
    for name in ("PullRequest.testGetIssueTimeline.txt", "Issue.testGetTimeline.txt"):
        out += [ex.json() for ex in read_replay(name) if ex.method == "GET" and ex.path.split("?")[0].endswith("/timeline")]
    events = [ex.json() for ex in read_replay("IssueEvent.setUp.txt") if "/issues/events/" in ex.path]
    for e in events:
        e.pop("issue", None)  # the embedded issue is a whole issue object: mutate the event itself
    out.append(events)
    return out


def _jira_examples() -> dict[str, object]:
    spec = json.loads((RECORDED / "jira/spec-examples.jira-platform-v3.json").read_text())
    return {op["operationId"]: op["responses"]["200"]["examples"]["application/json"]
            for op in spec["operations"] if "200" in op["responses"]
            and "application/json" in (op["responses"]["200"].get("examples") or {})}


def _jira_issues() -> list[dict]:
    t = jira_tests
    hs = [t.hist("200", "2026-11-23T10:00:00.000+0100", t.item("status", "1", "In Progress", "2", "Ready for QA"),
                 t.item("assignee", t.B, t.B, t.A, t.A)),
          t.hist("201", "2026-11-23T11:00:00.000+0100", t.item("duedate", to="2026-12-01", to_s="2026-12-01 00:00:00.0"),
                 t.item("Link", to="WEB-3", to_s="This issue is blocked by WEB-3"))]
    comments = [{"id": "10000", "author": t.user(t.A), "created": "2026-11-23T12:00:00.000+0100",
                 "body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                     {"type": "text", "text": "blocked by WEB-4 "}, {"type": "mention", "attrs": {"id": t.B, "text": "@B"}}]}]}}]
    built = t.issue(hs, comments, duedate="2026-12-04",
                    issuelinks=[{"id": "1", "type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                                 "inwardIssue": {"key": "WEB-9"}}])
    examples = _jira_examples()
    out = [built]
    for example in (examples["getIssue"], *examples["searchForIssuesUsingJql"]["issues"][:1]):
        example = copy.deepcopy(example)  # the vendor examples leave out status and summary: give them some
        example["fields"].setdefault("status", {"name": "In Progress", "statusCategory": {"key": "indeterminate"}})
        example["fields"].setdefault("summary", "Example")
        example["fields"].setdefault("created", "2026-11-23T09:00:00.000+0100")
        example["fields"]["updated"] = "2026-11-23T10:00:00.000+0100"  # the example has the number 1
        out.append(example)
    return out


def _asana_spec_example(schema: str) -> dict:
    spec = yaml.safe_load((SPECS / "asana/asana_oas.yaml").read_text())
    props = spec["components"]["schemas"][schema]
    out: dict = {}

    def collect(s, depth=0):
        if depth > 6 or not isinstance(s, dict):
            return {}
        if "$ref" in s:
            return collect(spec["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]], depth + 1)
        got = {}
        for part in s.get("allOf", []):
            got.update(collect(part, depth + 1))
        for k, v in (s.get("properties") or {}).items():
            if isinstance(v, dict) and "example" in v:
                got[k] = v["example"]
            elif isinstance(v, dict) and ("$ref" in v or "allOf" in v or "properties" in v):
                got[k] = collect(v, depth + 1)
        return got

    out.update(collect(props))
    return out


def _asana_tasks() -> list[dict]:
    example = _asana_spec_example("TaskResponse")
    return [asana_tests.task(), {**asana_tests.task(), "due_on": "2025-03-07", "dependencies": [{"gid": "1200000000000009"}]},
            example]


def _asana_stories() -> list[list]:
    s = asana_tests.story
    return [[
        s("901", "due_date_changed", new_dates={"due_on": "2025-03-07"}),
        s("902", "assigned", assignee={"gid": "1200000000000003", "resource_type": "user", "name": "Ben"}),
        s("903", "section_changed", new_section={"gid": "1", "name": "Review"}, old_section={"gid": "2", "name": "Doing"}),
        s("904", "comment_added", type_="comment", text="blocked by https://app.asana.com/0/1/2", html_text="<body>x</body>"),
        s("905", "dependency_added", dependency={"gid": "1200000000000007", "resource_type": "task"}),
        s("906", "marked_complete"),
    ], [_asana_spec_example("StoryResponse")]]


GITHUB_ISSUES, GITHUB_TIMELINES = _github_issues(), _github_timelines()
JIRA_ISSUES, JIRA_EXAMPLES = _jira_issues(), _jira_examples()
ASANA_TASKS, ASANA_STORIES = _asana_tasks(), _asana_stories()
REF_GH, REF_JIRA, REF_ASANA = ItemRef("github", "acme/web#1"), ItemRef("jira", "WEB-17"), ItemRef("asana", "1200000000000001")


def test_the_payloads_map_before_mutation():
    """The unmutated payloads are usable: the mutations start from vendor shapes that map."""
    assert all(isinstance(github.map_issue("PyGithub/PyGithub", i), ItemSnapshot) for i in GITHUB_ISSUES)
    assert all(map_timeline(REF_GH, t).events for t in GITHUB_TIMELINES)
    assert all(isinstance(jira.map_issue(i).item, ItemSnapshot) for i in JIRA_ISSUES)
    assert all(isinstance(asana.map_task("1200000000000009", t), ItemSnapshot) for t in ASANA_TASKS)
    assert asana.map_stories(REF_ASANA, ASANA_STORIES[0]).events


# ---------------------------------------------------------------------------- GitHub


@SETTINGS
@given(mutated(GITHUB_ISSUES))
def test_github_issue_maps_or_is_a_stated_skip(raw):
    try:
        github.map_issue("PyGithub/PyGithub", raw)
    except ValueError as exc:
        assert "malformed GitHub issue" in str(exc)


@SETTINGS
@given(mutated(GITHUB_TIMELINES))
def test_github_timeline_gives_events_or_stated_skips(entries):
    result = map_timeline(REF_GH, entries if isinstance(entries, list) else [entries])
    well_formed_events(result.events)
    assert all(isinstance(reason, str) and reason for _, _, reason in result.skipped)


@SETTINGS
@given(mutated([e for t in GITHUB_TIMELINES for e in t if isinstance(e, dict) and e.get("event") == "committed"]
               + [{"number": 3, "head": {"ref": "feature/WEB-1"}, "updated_at": "2026-03-02T09:00:00Z"}]))
def test_github_helpers_never_raise(raw):
    github.commit_author(raw)
    github.pull_head(raw)


# ---------------------------------------------------------------------------- Jira


@SETTINGS
@given(mutated(JIRA_ISSUES))
def test_jira_issue_maps_or_is_a_stated_skip(raw):
    try:
        m = jira.map_issue(raw)
    except ValueError:
        return
    well_formed_events(m.events)


@SETTINGS
@given(mutated([JIRA_ISSUES[0]["changelog"]["histories"], JIRA_EXAMPLES["getChangeLogs"]["values"]]))
def test_jira_histories_give_events_or_stated_skips(histories):
    events, skipped = jira.map_histories(REF_JIRA, "10017", histories if isinstance(histories, list) else [histories])
    well_formed_events(events)
    assert all(isinstance(reason, str) for _, reason in skipped)


@SETTINGS
@given(mutated([JIRA_ISSUES[0]["fields"]["comment"]["comments"], JIRA_EXAMPLES["getComments"]["comments"]]))
def test_jira_comments_give_events_or_stated_skips(comments):
    events, skipped = jira.map_comments(REF_JIRA, comments if isinstance(comments, list) else [comments])
    well_formed_events(events)


# ---------------------------------------------------------------------------- Asana


@SETTINGS
@given(mutated(ASANA_TASKS))
def test_asana_task_maps_or_is_a_stated_skip(raw):
    try:
        asana.map_task("1200000000000009", raw)
    except ValueError as exc:
        assert "malformed Asana task" in str(exc)
    asana.accounts_of(raw if isinstance(raw, dict) else None)
    asana.notes_link_events(raw if isinstance(raw, dict) else {})


@SETTINGS
@given(mutated(ASANA_STORIES))
def test_asana_stories_give_events_or_stated_skips(stories):
    result = asana.map_stories(REF_ASANA, stories if isinstance(stories, list) else [stories], "1200000000000009")
    well_formed_events(result.events)
    asana.accounts_of(None, stories if isinstance(stories, list) else [stories])


@pytest.mark.parametrize("value", [None, "x", 3, [None], [{"gid": None}]])
def test_asana_attachments_never_raise_on_odd_lists(value):
    asana.map_attachments(REF_ASANA, value if isinstance(value, list) else [value])
