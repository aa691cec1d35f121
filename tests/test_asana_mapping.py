"""Asana mapping over spec-shaped JSON (StoryResponse, TaskResponse, AttachmentResponse,
EventResponse of shared/specs/asana/asana_oas.yaml). Pure: no HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bridge.model import Account, EventKind, ItemRef, StatusCategory
from connectors.asana import mapping

PROJECT = "1300000000000001"
TASK = "1200000000000042"
ADA, BEA = "1100000000000002", "1100000000000003"
REF = ItemRef("asana", TASK)


def user(gid, name="Someone"):
    return {"gid": gid, "resource_type": "user", "name": name}


def story(gid, subtype, *, by=ADA, at="2025-03-03T09:00:00.000Z", type_="system", **extra):
    s = {"gid": gid, "resource_type": "story", "created_at": at, "created_by": user(by),
         "resource_subtype": subtype, "type": type_, "text": extra.pop("text", subtype)}
    s.update(extra)
    return s


def section(gid, name):
    return {"gid": gid, "resource_type": "section", "name": name}


def task(**over):
    t = {
        "gid": TASK, "resource_type": "task", "name": "Contract for ACME", "resource_subtype": "default_task",
        "completed": False, "assignee": user(BEA), "created_at": "2025-03-01T08:00:00.000Z",
        "created_by": {"gid": ADA, "resource_type": "user"}, "modified_at": "2025-03-03T09:30:00.000Z",
        "permalink_url": f"https://app.asana.com/0/{PROJECT}/{TASK}", "notes": "",
        "memberships": [{"project": {"gid": PROJECT, "resource_type": "project", "name": "Deals"},
                         "section": section("1400000000000003", "Legal review")}],
        "dependencies": [], "parent": None,
    }
    t.update(over)
    return t


def test_task_maps_section_as_status_and_assignee():
    snap = mapping.map_task(PROJECT, task())
    assert snap.ref == REF and snap.title == "Contract for ACME"
    assert snap.status == "Legal review" and snap.status_category == StatusCategory.IN_REVIEW
    assert snap.assignees == (Account("asana", BEA),)
    assert snap.author == Account("asana", ADA)
    assert snap.url.endswith(TASK)
    assert snap.updated_at == datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "name, completed, want",
    [
        ("Legal review", True, StatusCategory.DONE),
        ("Blocked", False, StatusCategory.BLOCKED),
        ("Waiting on customer", False, StatusCategory.BLOCKED),
        ("Code Review", False, StatusCategory.IN_REVIEW),
        ("To do", False, StatusCategory.TODO),
        ("Doing", False, StatusCategory.IN_PROGRESS),
        ("Done", False, StatusCategory.DONE),
    ],
)
def test_status_category_from_section_name(name, completed, want):
    assert mapping.status_category(name, completed) == want


def test_first_section_is_todo_when_the_order_is_known():
    assert mapping.status_category("Ideas pile", False, ["Ideas pile", "Doing"]) == StatusCategory.TODO
    assert mapping.status_category("Intake", False) == StatusCategory.IN_PROGRESS
    assert mapping.status_category("Intake", False, ["Intake", "Doing"]) == StatusCategory.TODO


def test_section_is_read_from_the_watched_projects_membership():
    other = {"project": {"gid": "1399", "resource_type": "project"}, "section": section("1", "Doing")}
    t = task(memberships=[other, *task()["memberships"]])
    assert mapping.map_task(PROJECT, t).status == "Legal review"
    assert mapping.map_task(PROJECT, task(memberships=[])).status == ""


def test_task_links_dependencies_and_cross_tool_urls_in_notes():
    t = task(dependencies=[{"gid": "1200000000000007", "resource_type": "task"}],
             notes="Spec: https://acme.atlassian.net/browse/LEG-4 and https://github.com/acme/web/issues/12")
    snap = mapping.map_task(PROJECT, t, extra_links=[ItemRef("github", "acme/api#3")])
    assert snap.links == (ItemRef("asana", "1200000000000007"), ItemRef("jira", "LEG-4"),
                          ItemRef("github", "acme/web#12"), ItemRef("github", "acme/api#3"))
    [a, b] = mapping.notes_link_events(t)
    assert (a.kind, a.link_type, a.target) == (EventKind.LINKED, "mentions", ItemRef("jira", "LEG-4"))
    assert a.id == f"notes:{TASK}:mentions:jira:LEG-4" and b.target == ItemRef("github", "acme/web#12")


@pytest.mark.parametrize("bad", [{"name": None}, {"gid": "abc"}, {"modified_at": "yesterday"},
                                 {"assignee": {"name": "no gid"}}, {"completed": "yes"}])
def test_malformed_task_raises_value_error_naming_the_field(bad):
    with pytest.raises(ValueError, match="malformed Asana task"):
        mapping.map_task(PROJECT, task(**bad))


def test_stories_map_to_events_with_story_ids():
    stories = [
        story("501", "assigned", assignee=user(BEA), text="assigned to Bea"),
        story("502", "section_changed", old_section=section("1", "Doing"), new_section=section("2", "Legal review"),
              project={"gid": PROJECT, "resource_type": "project"}),
        story("503", "marked_complete"),
        story("504", "marked_incomplete"),
        story("505", "unassigned", assignee=user(BEA)),
        story("506", "dependency_added", dependency={"gid": "1200000000000007", "resource_type": "task"}),
        story("507", "dependency_removed", dependency={"gid": "1200000000000007", "resource_type": "task"}),
    ]
    result = mapping.map_stories(REF, stories, PROJECT)
    assert result.skipped == []
    kinds = [(e.id, e.kind) for e in result.events]
    assert kinds == [("story:501", EventKind.ASSIGNED), ("story:502", EventKind.STATUS_CHANGED),
                     ("story:503", EventKind.CLOSED), ("story:504", EventKind.REOPENED),
                     ("story:505", EventKind.UNASSIGNED), ("story:506", EventKind.LINKED),
                     ("story:507", EventKind.UNLINKED)]
    assigned, moved = result.events[0], result.events[1]
    assert assigned.subject == Account("asana", BEA) and assigned.actor == Account("asana", ADA)
    assert (moved.from_status, moved.to_status) == ("Doing", "Legal review")
    linked = result.events[5]
    assert (linked.link_type, linked.target) == ("is blocked by", ItemRef("asana", "1200000000000007"))
    assert all(e.at == datetime(2025, 3, 3, 9, tzinfo=timezone.utc) for e in result.events)


def test_comment_mentions_come_from_html_text_and_urls_become_links():
    html = (f'<body>Please look <a data-asana-gid="{BEA}" data-asana-type="user" href="x">@Bea</a>, '
            f'not <a data-asana-gid="1200000000000009" data-asana-type="task">a task</a>; '
            f'<a data-asana-gid="{BEA}"/> again. https://acme.atlassian.net/browse/LEG-4?x=1&amp;y=2</body>')
    s = story("601", "comment_added", type_="comment", text="Please look @Bea https://acme.atlassian.net/browse/LEG-4",
              html_text=html)
    result = mapping.map_stories(REF, [s])
    comment, link = result.events
    assert comment.kind == EventKind.COMMENTED and comment.id == "story:601"
    assert comment.mentions == (Account("asana", BEA),)
    assert comment.text.startswith("Please look")
    assert (link.kind, link.id, link.target) == (EventKind.LINKED, "story:601:mentions:jira:LEG-4", ItemRef("jira", "LEG-4"))
    assert result.links == (ItemRef("jira", "LEG-4"),)


def test_compact_stories_are_reported_malformed_not_silently_wrong():
    compact = {"gid": "701", "resource_type": "story", "created_at": "2025-03-03T09:00:00.000Z",
               "created_by": user(ADA), "resource_subtype": "section_changed", "type": "system",
               "text": 'moved this Task from "Doing" to "Legal review"'}
    result = mapping.map_stories(REF, [compact, {**compact, "gid": "702", "resource_subtype": "assigned"}])
    assert result.events == []
    assert [r.startswith("malformed") for _, _, r in result.skipped] == [True, True]


def test_a_malformed_story_is_skipped_and_the_rest_kept():
    stories = [story("801", "marked_complete"), "not a story", story("802", "marked_complete", at="never"),
               story("803", "comment_added", created_by={"gid": None}), story("804", "marked_incomplete")]
    result = mapping.map_stories(REF, stories)
    assert [e.id for e in result.events] == ["story:801", "story:804"]
    assert [i for i, _, r in result.skipped if r.startswith("malformed")] == [1, 2, 3]


def test_due_date_changes_map_and_dependent_stories_are_deliberately_skipped():
    stories = [story("901", "due_date_changed", new_dates={"due_on": "2025-03-07"}),
               story("904", "due_date_changed", new_dates={"due_at": "2025-03-07T15:00:00.000Z", "due_on": "2025-03-07"}),
               story("905", "due_date_changed", new_dates=None),
               story("902", "dependent_added", dependency={"gid": "1200000000000007", "resource_type": "task"}),
               story("903", "liked")]
    result = mapping.map_stories(REF, stories)
    assert [(e.id, e.kind, e.due) for e in result.events] == [
        ("story:901", EventKind.DUE_CHANGED, "2025-03-07"),
        ("story:904", EventKind.DUE_CHANGED, "2025-03-07T15:00:00.000Z"),
        ("story:905", EventKind.DUE_CHANGED, None),
    ]
    reasons = [r for _, _, r in result.skipped]
    assert len(reasons) == 2 and not any(r.startswith("malformed") for r in reasons)


def test_snapshot_due_is_due_at_else_the_end_of_due_on_in_utc():
    base = {"gid": "1200000000000001", "name": "Day-one import", "completed": False}
    assert mapping.map_task(PROJECT, {**base, "due_on": "2025-03-07"}).due == datetime(2025, 3, 7, 23, 59, 59, tzinfo=timezone.utc)
    assert mapping.map_task(PROJECT, {**base, "due_at": "2025-03-07T15:00:00.000Z", "due_on": "2025-03-07"}).due == \
        datetime(2025, 3, 7, 15, 0, tzinfo=timezone.utc)
    assert mapping.map_task(PROJECT, base).due is None
    with pytest.raises(ValueError, match="due_on"):
        mapping.map_task(PROJECT, {**base, "due_on": "soon"})


def test_section_move_in_another_project_is_skipped():
    s = story("950", "section_changed", new_section=section("2", "Doing"), project={"gid": "1399", "resource_type": "project"})
    assert mapping.map_stories(REF, [s], PROJECT).events == []


def test_attachment_urls_become_cross_tool_links():
    atts = [{"gid": "1500", "resource_type": "attachment", "name": "PR", "created_at": "2025-03-03T10:00:00.000Z",
             "resource_subtype": "external", "view_url": "https://github.com/acme/web/pull/12"},
            {"gid": "1501", "resource_type": "attachment", "name": "photo.png", "created_at": "2025-03-03T10:00:00.000Z",
             "view_url": "https://example.com/photo.png"},
            {"gid": None, "view_url": "https://github.com/acme/web/pull/13"}]
    events, links, skipped = mapping.map_attachments(REF, atts)
    assert [(e.id, e.target) for e in events] == [("attachment:1500:mentions:github:acme/web#12", ItemRef("github", "acme/web#12"))]
    assert links == (ItemRef("github", "acme/web#12"),)
    assert len(skipped) == 1 and skipped[0][1].startswith("malformed")


def test_cross_tool_refs_ignore_lookalikes():
    assert mapping.cross_tool_refs("https://github.com/acme/web/tree/main and https://gitlab.com/a/b/issues/1") == ()
    assert mapping.cross_tool_refs("https://evil.example/acme.atlassian.net/browse/X-1x") == ()


def test_changed_task_gids_from_events_feed():
    events = [
        {"user": user(ADA), "created_at": "2025-03-03T09:00:00.000Z", "type": "task", "action": "changed",
         "resource": {"gid": "11", "resource_type": "task", "name": "a"}, "parent": None},
        {"user": user(ADA), "created_at": "2025-03-03T09:00:00.000Z", "type": "story", "action": "added",
         "resource": {"gid": "99", "resource_type": "story"}, "parent": {"gid": "12", "resource_type": "task"}},
        {"user": user(ADA), "created_at": "2025-03-03T09:00:00.000Z", "type": "task", "action": "added",
         "resource": {"gid": "11", "resource_type": "task"}, "parent": {"gid": "7", "resource_type": "section"}},
        {"type": "section", "resource": {"gid": "7", "resource_type": "section"}, "parent": None},
        "garbage",
    ]
    assert mapping.changed_task_gids(events) == ["11", "12"]
