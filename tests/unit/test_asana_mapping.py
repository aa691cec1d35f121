"""Asana mapping over spec-shaped JSON (StoryResponse, TaskResponse, AttachmentResponse,
EventResponse of shared/specs/asana/asana_oas.yaml). Pure: no HTTP."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bridge.core.model import Account, EventKind, ItemRef, StatusCategory
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


def test_snapshot_due_is_due_at_else_due_on_as_a_date():
    base = {"gid": "1200000000000001", "name": "Day-one import", "completed": False}
    on = mapping.map_task(PROJECT, {**base, "due_on": "2025-03-07"}).due
    assert on == date(2025, 3, 7) and not isinstance(on, datetime)  # issue 12: resolved in the owner's schedule
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


def test_text_refs_ignore_lookalikes():
    # A GitHub tree URL is no item; "X-1x" is no Jira key. (connectors.textrefs does not check
    # hosts where the path is unambiguous, so a gitlab.com/a/b/issues/1 path now reads as a
    # GitHub reference: the link graph keeps only targets that are stored items.)
    assert mapping.text_refs("https://github.com/acme/web/tree/main") == ()
    assert mapping.text_refs("https://evil.example/acme.atlassian.net/browse/X-1x") == ()
    assert mapping.text_refs("Encoding is UTF-8x, see ISO 9001") == ()


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


# ---------------------------------------------------------------------- link graph and accounts (issue 5)
BLOCKER = "1200000000000077"


def test_notes_that_say_blocked_by_make_blocked_by_and_their_own_event_ids():
    t = task(dependencies=[{"gid": "1200000000000007", "resource_type": "task"}],
             notes="Blocked by https://acme.atlassian.net/browse/LEG-4\nsee https://github.com/acme/web/issues/12",
             html_notes="<body>Blocked by <a href=\"https://acme.atlassian.net/browse/LEG-4\">LEG-4</a>\n"
                        "see https://github.com/acme/web/issues/12</body>")
    snap = mapping.map_task(PROJECT, t)
    assert snap.blocked_by == (ItemRef("asana", "1200000000000007"), ItemRef("jira", "LEG-4"))
    assert snap.links == (ItemRef("asana", "1200000000000007"), ItemRef("jira", "LEG-4"), ItemRef("github", "acme/web#12"))
    events = {e.id: e.link_type for e in mapping.notes_link_events(t)}
    assert events == {f"notes:{TASK}:blocked_by:jira:LEG-4": "is blocked by",
                      f"notes:{TASK}:mentions:github:acme/web#12": "mentions"}


def test_bare_jira_keys_in_the_name_are_mentions_and_the_task_itself_is_no_link():
    own = f"https://app.asana.com/0/{PROJECT}/{TASK}"
    snap = mapping.map_task(PROJECT, task(name="LEG-4: NDA for ACME", notes=f"this task: {own}"))
    assert snap.links == (ItemRef("jira", "LEG-4"),) and snap.blocked_by == ()


def test_comment_saying_waiting_on_a_task_link_is_blocked_by_with_the_kind_in_its_id():
    html = (f'<body>Still waiting on <a href="https://app.asana.com/0/{PROJECT}/{BLOCKER}" data-asana-gid="{BLOCKER}" '
            f'data-asana-type="task">Sign-off</a>; related LEG-9</body>')
    s = story("611", "comment_added", type_="comment", text="Still waiting on Sign-off; related LEG-9", html_text=html)
    result = mapping.map_stories(REF, [s])
    assert [(e.id, e.kind, e.link_type, e.target) for e in result.events[1:]] == [
        (f"story:611:blocked_by:asana:{BLOCKER}", EventKind.LINKED, "is blocked by", ItemRef("asana", BLOCKER)),
        ("story:611:mentions:jira:LEG-9", EventKind.LINKED, "mentions", ItemRef("jira", "LEG-9")),
    ]
    assert result.blocked_by == (ItemRef("asana", BLOCKER),)
    snap = mapping.map_task(PROJECT, task(), extra_links=result.links, extra_blocked_by=result.blocked_by)
    assert snap.blocked_by == (ItemRef("asana", BLOCKER),)
    assert snap.links == (ItemRef("asana", BLOCKER), ItemRef("jira", "LEG-9"))


def test_the_daemons_own_text_carrying_its_marker_states_no_link():
    text = "Ada waits on LEG-4, blocked by https://github.com/acme/web/issues/12 · hb:0123456789ab"
    s = story("621", "comment_added", type_="comment", text=text, html_text=f"<body>{text}</body>")
    result = mapping.map_stories(REF, [s])
    assert [e.kind for e in result.events] == [EventKind.COMMENTED] and result.links == ()
    draft = task(notes=f"Please sign LEG-4 (hb:0123456789ab)")
    assert mapping.map_task(PROJECT, draft).links == () and mapping.notes_link_events(draft) == []


def test_an_attachment_is_a_mention_even_when_its_name_says_blocked_by():
    atts = [{"gid": "1502", "resource_type": "attachment", "name": "Blocked by LEG-9", "created_at": "2025-03-03T10:00:00.000Z",
             "view_url": "https://github.com/acme/web/pull/12"}]
    events, links, _ = mapping.map_attachments(REF, atts)
    assert [(e.id, e.link_type) for e in events] == [("attachment:1502:mentions:github:acme/web#12", "mentions")]
    assert links == (ItemRef("github", "acme/web#12"),)


def test_accounts_from_task_stories_and_mentions_with_lower_cased_email():
    t = task(assignee={"gid": BEA, "name": "Bea Kim", "email": "Bea.Kim@Example.COM"},
             created_by={"gid": ADA, "resource_type": "user"})
    stories = [{**story("631", "assigned", assignee={"gid": BEA, "name": "Bea Kim"}), "created_by": user(ADA, "Ada")},
               {**story("632", "comment_added", type_="comment", text="@Leo"),
                "created_by": {"gid": ADA, "name": "Ada", "email": "ADA@example.com"},
                "html_text": '<body><a href="https://app.asana.com/0/profile/1100000000000009" data-asana-type="user" '
                             'data-asana-gid="1100000000000009">@Leo Legal</a> <a data-asana-gid="1200000000000001" '
                             'data-asana-type="task">x</a></body>'},
               "garbage", {"created_by": {"gid": "not-a-gid"}}]
    got = {a.account.id: (a.display_name, a.email) for a in mapping.accounts_of(t, stories)}
    assert got == {BEA: ("Bea Kim", "bea.kim@example.com"), ADA: ("Ada", "ada@example.com"),
                   "1100000000000009": ("Leo Legal", None)}
    assert all(a.account.tool == "asana" for a in mapping.accounts_of(t, stories))
