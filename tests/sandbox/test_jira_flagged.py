"""Jira's "Flagged" field (issue 16): an issue flagged as an impediment is blocked.

The emulator serves the flag as Jira Software does (a custom multi-checkbox field "Flagged",
``customfield_10021`` here, with the one option "Impediment"; a ``Flagged`` changelog item),
set and cleared through the official ``jira`` client over real HTTP and checked against Jira's
OpenAPI description; the real connector then reads it into a blocked snapshot and
``labeled``/``unlabeled`` ``flagged`` events.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from bridge.core.model import FLAGGED, Account, EventKind, ItemKind, ItemRef, ItemSnapshot, StatusCategory
from connectors.jira import mapping
from connectors.jira.client import JiraConnector
from connectors.sandbox.jira.emulator import JiraEmulator
from rules import standoff
from tests.sandbox.test_jira_emulator import cloud_client, raw, validate
from tests.support.recorded import SPECS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
EMAIL, TOKEN = "ana@example.com", "atl-api-token"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def site():
    clock = Clock()
    emu = JiraEmulator(clock=clock).start()
    emu.add_user("acc-ana", "Ana Lima", EMAIL, time_zone="Europe/Berlin")
    emu.add_token(TOKEN, "acc-ana", email=EMAIL)
    emu.create_project("WEB", "Web")
    emu.create_issue("WEB", "acc-ana", "Checkout", description="Body", assignee="acc-ana", key="WEB-1")
    return emu, clock


def test_flag_and_unflag_through_the_jira_client_are_served_as_jira_serves_them():
    emu, clock = site()
    try:
        jira = cloud_client(emu)
        fields = raw(emu, "GET", "/rest/api/3/field").json()
        validate(fields, "/field")
        [flag] = [f for f in fields if f["name"] == "Flagged"]
        assert (flag["id"], flag["custom"], flag["schema"]["items"]) == ("customfield_10021", True, "option")

        clock.now += timedelta(minutes=5)
        jira.issue("WEB-1").update(fields={flag["id"]: [{"value": "Impediment"}]})
        issue = jira.issue("WEB-1", expand="changelog")
        assert [o.value for o in issue.fields.customfield_10021] == ["Impediment"]
        body = raw(emu, "GET", "/rest/api/3/issue/WEB-1", params={"expand": "changelog"}).json()
        validate(body, "/issue/{issueIdOrKey}")
        [item] = [it for h in body["changelog"]["histories"] for it in h["items"]]
        assert item == {"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021",
                        "from": None, "fromString": None, "to": "[10019]", "toString": "Impediment"}

        clock.now += timedelta(minutes=5)
        jira.issue("WEB-1").update(fields={flag["id"]: None})
        assert jira.issue("WEB-1").fields.customfield_10021 is None
        histories = jira.issue("WEB-1", expand="changelog").changelog.histories
        cleared = [it for h in histories for it in h.items if it.fromString == "Impediment"]
        assert len(cleared) == 1 and cleared[0].toString is None
        bad = raw(emu, "PUT", "/rest/api/3/issue/WEB-1", json={"fields": {flag["id"]: [{"value": "Urgent"}]}})
        assert bad.status_code == 400 and flag["id"] in bad.json()["errors"]
    finally:
        emu.stop()


def test_the_connector_reads_a_flagged_issue_as_blocked_since_it_was_flagged():
    emu, clock = site()
    try:
        conn = JiraConnector("jira", base_url=emu.url, token=TOKEN, email=EMAIL, jql=["project = WEB"], clock=clock)
        flagged_at = clock.now + timedelta(minutes=5)
        emu.set_flagged("WEB-1", "acc-ana", True, at=flagged_at)
        clock.now += timedelta(minutes=10)
        result = conn.poll("project = WEB", None)
        [item] = result.items
        assert (item.status, item.status_category, item.flagged_since) == ("To Do", StatusCategory.BLOCKED, flagged_at)
        [flag] = [e for e in result.events if e.label == FLAGGED]
        assert (flag.kind, flag.actor, flag.at) == (EventKind.LABELED, Account("jira", "acc-ana"), flagged_at)

        emu.set_flagged("WEB-1", "acc-ana", False, at=clock.now)
        clock.now += timedelta(minutes=10)
        fetched = conn.fetch(ItemRef("jira", "WEB-1"))
        [item] = fetched.items
        assert (item.status_category, item.flagged_since) == (StatusCategory.TODO, None)
        assert [e.kind for e in fetched.events if e.label == FLAGGED] == [EventKind.LABELED, EventKind.UNLABELED]
    finally:
        emu.stop()


# ------------------------------------------------------------------ vendor shapes, without the emulator

ISSUE = {"id": "10001", "key": "WEB-7", "self": "https://acme.atlassian.net/rest/api/3/issue/10001",
         "fields": {"summary": "s", "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
                    "created": "2026-03-02T09:00:00.000+0000", "updated": "2026-03-02T12:00:00.000+0000",
                    "labels": []}}


def _history(hid: str, at: str, item: dict) -> dict:
    return {"id": hid, "created": at, "author": {"accountId": "acc-ana"}, "items": [item]}


def test_the_changelog_shape_seen_in_real_jira_traffic_maps_to_flagged_and_back():
    # The "Flagged" changelog item as Jira Cloud records it (from/to the option id, toString the
    # option "Impediment"; fieldtype custom, a site-specific fieldId), cleared the other way round.
    flagged = {"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021",
               "from": None, "fromString": None, "to": "10019", "toString": "Impediment"}
    cleared = {**flagged, "from": "10019", "fromString": "Impediment", "to": None, "toString": None}
    raw_issue = {**ISSUE, "changelog": {"histories": [_history("2", "2026-03-02T11:00:00.000+0000", cleared),
                                                      _history("1", "2026-03-02T10:00:00.000+0000", flagged)]}}
    m = mapping.map_issue(raw_issue)
    assert [(e.kind, e.label, e.id) for e in m.events] == [(EventKind.LABELED, FLAGGED, "10001:1:0:flag"),
                                                           (EventKind.UNLABELED, FLAGGED, "10001:2:0:flag")]
    assert (m.item.flagged_since, m.item.status_category) == (None, StatusCategory.IN_PROGRESS)
    only_set = {**ISSUE, "changelog": {"histories": [_history("1", "2026-03-02T10:00:00.000+0000", flagged)]}}
    m = mapping.map_issue(only_set)
    assert (m.item.flagged_since, m.item.status_category) == (
        datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc), StatusCategory.BLOCKED)
    assert not m.skipped


def test_the_field_decides_over_the_changelog_and_a_real_label_flagged_is_no_flag():
    field_set = {**ISSUE, "fields": {**ISSUE["fields"], "customfield_10021": [
        {"self": "https://acme.atlassian.net/rest/api/3/customFieldOption/10019", "value": "Impediment", "id": "10019"}]}}
    m = mapping.map_issue(field_set)  # flagged before the changelog read: no earlier than the update
    assert m.item.flagged_since == datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    assert mapping.map_issue(field_set, flagged_field="customfield_99999").item.flagged_since is None
    label = {"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None, "fromString": None,
             "to": None, "toString": "flagged"}
    labelled = {**ISSUE, "changelog": {"histories": [_history("1", "2026-03-02T10:00:00.000+0000", label)]}}
    m = mapping.map_issue(labelled)
    assert [e.label for e in m.events] == ["flagged"] and m.item.flagged_since is None
    done = {**field_set, "fields": {**field_set["fields"], "status": {"name": "Done", "statusCategory": {"key": "done"}}}}
    assert mapping.map_issue(done).item.status_category == StatusCategory.DONE


def test_the_agile_apis_own_example_of_a_flagged_issue_reads_as_flagged():
    # Jira Software's OpenAPI description (software-swagger.v3.json) shows the flag as
    # "flagged": true in its board issue examples; the same value under the configured field
    # id reads as flagged (flagged_value accepts both shapes).
    spec = json.loads((SPECS / "jira" / "software-swagger.v3.json").read_text(encoding="utf-8"))
    example = json.loads(spec["paths"]["/rest/agile/1.0/board/{boardId}/backlog"]["get"]["responses"]["200"]
                         ["content"]["application/json"]["example"])
    value = example["issues"][0]["fields"]["flagged"]
    assert value is True and mapping.flagged_value(value) is True
    assert mapping.flagged_value(None) is False and mapping.flagged_value("some text") is None


def test_a_flagged_item_waits_on_what_it_links_to_from_when_it_was_flagged():
    linked_at, flagged_at = T0, T0 + timedelta(hours=3)
    ref, other = ItemRef("jira", "WEB-1"), ItemRef("jira", "WEB-2")
    ana, ben = Account("jira", "acc-ana"), Account("jira", "acc-ben")

    def snap(r, who, **kw):
        return ItemSnapshot(r, "t", "u", ItemKind.ISSUE, "In Progress", StatusCategory.IN_PROGRESS, assignees=(who,), **kw)

    class Link:
        src, dst, kind, began_at, evidence = ref, other, "mention", linked_at, "ev:1"

    items = {other: snap(other, ben)}
    assert standoff.link_edges(ref, snap(ref, ana), [Link()], items.get, blocked_statuses=set()) == []
    [edge] = standoff.link_edges(ref, snap(ref, ana, flagged_since=flagged_at), [Link()], items.get,
                                 blocked_statuses=set())
    assert (edge.kind, edge.waiter, edge.holder, edge.began) == (standoff.STATUS, ana, ben, flagged_at)
