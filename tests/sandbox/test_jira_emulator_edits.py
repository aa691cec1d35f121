"""Jira emulator writes added for issue 5 (summary/description edits, link removal) and the
``emailAddress`` of user objects, driven by the official ``jira`` client over real HTTP and
validated against Jira Cloud's OpenAPI description (shared/specs/jira/swagger-v3.v3.json)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from jira.exceptions import JIRAError

from bridge.core.clock import SteppingClock
from connectors.sandbox.jira.emulator import JiraEmulator
from connectors.sandbox.jira.render import parse_jira_ts
from connectors.sandbox.jira.state import JiraError
from tests.sandbox.test_jira_emulator import EMAIL, TOKEN, cloud_client, raw, validate, validate_component

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return SteppingClock(T0)


@pytest.fixture
def emu(clock):
    e = JiraEmulator(clock=clock).start()
    e.add_user("acc-ana", "Ana Lima", EMAIL, time_zone="Europe/Berlin")
    e.add_user("acc-ben", "Ben Ode")  # no e-mail on record: hidden
    e.add_token(TOKEN, "acc-ana")
    e.create_project("WEB", "Web")
    e.create_issue("WEB", "acc-ana", "Issue 1", description="Body 1", assignee="acc-ben")
    e.create_issue("WEB", "acc-ana", "Issue 2")
    try:
        yield e
    finally:
        e.stop()


def items(emu, key):
    return [i for h in emu.issue(key)["changelog"]["histories"][::-1] for i in h["items"]]


def test_edit_records_summary_and_description_in_one_history(emu, clock):
    clock.advance(timedelta(minutes=5))
    emu.edit("WEB-1", "acc-ben", summary="Issue one", description="blocked by WEB-2")
    [h] = emu.issue("WEB-1")["changelog"]["histories"]
    assert h["author"]["accountId"] == "acc-ben"
    assert h["items"] == [
        {"field": "summary", "fieldtype": "jira", "fieldId": "summary", "from": None,
         "fromString": "Issue 1", "to": None, "toString": "Issue one"},
        {"field": "description", "fieldtype": "jira", "fieldId": "description", "from": None,
         "fromString": "Body 1", "to": None, "toString": "blocked by WEB-2"}]
    f = emu.issue("WEB-1")["fields"]
    assert (f["summary"], f["description"]) == ("Issue one", "blocked by WEB-2")
    assert parse_jira_ts(f["updated"]) == clock()
    clock.advance(timedelta(minutes=1))
    emu.edit("WEB-1", "acc-ben", summary="Issue one")  # unchanged: no history, updated moves
    assert len(emu.issue("WEB-1")["changelog"]["histories"]) == 1
    emu.edit("WEB-1", "acc-ben", description="")
    assert emu.issue("WEB-1")["fields"]["description"] is None
    assert items(emu, "WEB-1")[-1]["toString"] is None
    for v in ("2", "3"):
        validate(raw(emu, "GET", f"/rest/api/{v}/issue/WEB-1/changelog").json() if v == "3" else
                 raw(emu, "GET", f"/rest/api/{v}/issue/WEB-1", params={"expand": "changelog"}).json(),
                 "/issue/{issueIdOrKey}/changelog" if v == "3" else "/issue/{issueIdOrKey}")


def test_put_issue_edits_summary_and_description_through_the_client(emu, clock):
    j = cloud_client(emu)
    clock.advance(timedelta(minutes=1))
    j.issue("WEB-2").update(summary="Renamed", description="depends on WEB-1")
    f = emu.issue("WEB-2")["fields"]
    assert (f["summary"], f["description"]) == ("Renamed", "depends on WEB-1")
    assert [(i["field"], i["toString"]) for i in items(emu, "WEB-2")] == [
        ("summary", "Renamed"), ("description", "depends on WEB-1")]
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "v3 body"}]}]}
    assert raw(emu, "PUT", "/rest/api/3/issue/WEB-2", json={"fields": {"description": adf}}).status_code == 204
    assert emu.issue("WEB-2")["fields"]["description"] == "v3 body"
    bad = raw(emu, "PUT", "/rest/api/3/issue/WEB-2", json={"fields": {"description": "plain"}})
    assert bad.status_code == 400 and "description" in bad.json()["errors"]


def test_unlink_and_delete_issue_link_record_the_removal_on_both_issues(emu, clock):
    emu.link("WEB-1", "acc-ana", "is blocked by", "WEB-2")
    clock.advance(timedelta(minutes=1))
    emu.unlink("WEB-1", "acc-ben", "is blocked by", "WEB-2")
    assert emu.links("WEB-1") == [] and emu.links("WEB-2") == []
    assert items(emu, "WEB-1")[-1] == {"field": "Link", "fieldtype": "jira", "from": "WEB-2",
                                       "fromString": "This issue is blocked by WEB-2",
                                       "to": None, "toString": None}
    assert items(emu, "WEB-2")[-1]["fromString"] == "This issue blocks WEB-1"
    with pytest.raises(JiraError) as exc:
        emu.unlink("WEB-1", "acc-ben", "is blocked by", "WEB-2")
    assert exc.value.status == 404
    # the same through HTTP: the client reads the link id from the issue, then DELETEs it
    j = cloud_client(emu)
    j.create_issue_link("Blocks", "WEB-2", "WEB-1")
    [ln] = j.issue("WEB-1").fields.issuelinks
    assert ln.inwardIssue.key == "WEB-2"  # WEB-1 is blocked by WEB-2
    validate(raw(emu, "GET", "/rest/api/3/issue/WEB-1").json(), "/issue/{issueIdOrKey}")
    j.delete_issue_link(ln.id)
    assert emu.links("WEB-1") == []
    assert items(emu, "WEB-1")[-1]["fromString"] == "This issue is blocked by WEB-2"
    with pytest.raises(JIRAError) as err:
        j.delete_issue_link(ln.id)
    assert err.value.status_code == 404


def test_user_objects_carry_email_address_only_when_the_record_has_one(emu):
    body = raw(emu, "GET", "/rest/api/3/issue/WEB-1").json()
    reporter, assignee = body["fields"]["reporter"], body["fields"]["assignee"]
    assert reporter["emailAddress"] == EMAIL and "emailAddress" not in assignee
    validate_component(reporter, "User")
    validate_component(assignee, "User")
    emu.comment("WEB-1", "acc-ben", "hi")
    emu.transition("WEB-1", "acc-ana", "In Progress")
    body = raw(emu, "GET", "/rest/api/3/search/jql", params={"jql": "project = WEB", "fields": "*all",
                                                             "expand": "changelog"}).json()
    validate(body, "/search/jql")
    web1 = next(i for i in body["issues"] if i["key"] == "WEB-1")
    assert web1["changelog"]["histories"][0]["author"]["emailAddress"] == EMAIL
    assert "emailAddress" not in web1["fields"]["comment"]["comments"][0]["author"]
