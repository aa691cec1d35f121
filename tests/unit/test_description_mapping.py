"""Issue 17: each tool's description reaches the snapshot (what a rule's ``require`` checks), and
description edits are events (when a handoff became complete), in every mapping."""

from __future__ import annotations

from bridge.core.model import EventKind
from bridge.store.codec import item_to_json, row_to_item
from bridge.store.tables import ItemRow
from connectors.asana import mapping as asana
from connectors.github import mapping as github
from tests.unit.test_asana_mapping import REF as TASK_REF
from tests.unit.test_asana_mapping import PROJECT, story, task
from tests.unit.test_github_mapping import _recorded_issues
from tests.unit.test_jira_mapping import hist, issue, item


def test_jira_description_as_plain_text_and_its_edits_with_the_new_text():
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Steps: add two"}]}]}
    hs = [hist("7", "2026-11-23T14:00:00.000+0100", item("description", to_s="Steps: add two")),
          hist("8", "2026-11-23T15:00:00.000+0100", item("description", frm_s="Steps: add two"))]
    from connectors.jira import mapping as jira
    m = jira.map_issue(issue(hs, description=adf))
    assert m.item.description == "Steps: add two"
    assert [(e.kind, e.text) for e in m.events if e.kind == EventKind.DESCRIPTION_CHANGED] == [
        (EventKind.DESCRIPTION_CHANGED, "Steps: add two"), (EventKind.DESCRIPTION_CHANGED, "")]
    assert jira.map_issue(issue()).item.description is None


def test_asana_notes_are_the_description_and_notes_changed_is_an_edit():
    snap = asana.map_task(PROJECT, task(notes="Acceptance criteria:\n- all 40k rows"))
    assert snap.description == "Acceptance criteria:\n- all 40k rows"
    assert asana.map_task(PROJECT, task(notes="  ")).description is None
    result = asana.map_stories(TASK_REF, [story("910", "notes_changed")])
    assert [(e.id, e.kind, e.text) for e in result.events] == [("story:910", EventKind.DESCRIPTION_CHANGED, None)]


def test_github_body_is_the_description_and_survives_the_store():
    (_, raw) = next((s, i) for s, i in _recorded_issues() if i.get("body"))
    snap = github.map_issue("PyGithub/PyGithub", raw)
    assert snap.description == raw["body"].strip()
    row = ItemRow(tool=snap.ref.tool, key=snap.ref.key, data=item_to_json(snap))
    assert row_to_item(row).description == snap.description
    assert github.map_issue("PyGithub/PyGithub", {**raw, "body": None}).description is None
