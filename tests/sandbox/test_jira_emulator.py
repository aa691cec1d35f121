"""The Jira emulator, driven by the official ``jira`` client over real HTTP.

Raw bodies (fetched with ``requests`` where the client hides them) are validated against
the response schemas of Jira Cloud's OpenAPI description (shared/specs/jira/swagger-v3.v3.json).
v2 bodies differ from v3 only in description/comment bodies (strings, not ADF), so v2 is
validated against the v3 operation too.
"""

from __future__ import annotations

import copy
import re
import warnings
from datetime import datetime, timedelta, timezone

import pytest
import requests
from jira import JIRA
from jira.exceptions import JIRAError

from bridge.core.clock import SteppingClock
from connectors.sandbox.jira.emulator import JiraEmulator
from connectors.sandbox.jira.jql import parse_jql
from connectors.sandbox.jira.render import adf_to_text, parse_jira_ts
from tests.support import openapi
from tests.support.recorded import SPECS

SPEC = SPECS / "jira" / "swagger-v3.v3.json"
EMAIL, TOKEN = "ana@example.com", "atl-api-token"
PAT = "dc-personal-access-token"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)  # 10:00 in Berlin (CET, +01:00)



def validate(body, path: str, method: str = "get", status: int = 200) -> None:
    """Validate against ``/rest/api/3<path>``.

    Two known gaps between the spec text and what Jira serves are bridged first (see
    :func:`_spec_view`).
    """
    openapi.validate_response(_spec_view(copy.deepcopy(body)),
                              "/rest/api/3" + path, method, status, SPEC)


def validate_component(body, name: str) -> None:
    openapi.validate(_spec_view(copy.deepcopy(body)), openapi.component_pointer(name), SPEC)


_JIRA_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})([+-]\d\d)(\d\d)$")


def _spec_view(node):
    """Bridge two documented spec/vendor gaps, in place.

    * Jira writes timestamps as ``2024-03-01T10:00:00.000+0100`` (no colon in the offset),
      which the ``date-time`` format (RFC 3339) rejects; the colon is added.
    * ChangeDetails types ``from``/``to``/``fromString``/``toString`` as plain strings,
      while Jira serves ``null`` for an absent side (the spec's own changelog example has
      ``"from": null``); those nulls are dropped after checking all four keys are present.
    """
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if isinstance(v, str) and _JIRA_TS.match(v):
                node[k] = _JIRA_TS.sub(r"\1\2:\3", v)
        if "fieldtype" in node and "field" in node:
            for k in ("from", "fromString", "to", "toString"):
                assert k in node, f"change item lacks {k}: {node}"
                if node[k] is None:
                    del node[k]
        for v in node.values():
            _spec_view(v)
    elif isinstance(node, list):
        for v in node:
            _spec_view(v)
    return node


def cloud_client(emu: JiraEmulator, email: str = EMAIL, token: str = TOKEN, **kw) -> JIRA:
    kw.setdefault("max_retries", 0)  # the client sleeps between retries; tests never sleep
    return JIRA(server=emu.url, basic_auth=(email, token), timeout=5, **kw)


def raw(emu: JiraEmulator, method: str, path: str, auth=(EMAIL, TOKEN), **kw) -> requests.Response:
    return requests.request(method, emu.url + path, auth=auth, timeout=5, **kw)


@pytest.fixture
def clock():
    return SteppingClock(T0)


@pytest.fixture
def emu(clock):
    """Cloud site: project WEB (WEB-1..WEB-3), Ana (Berlin, holds TOKEN), Ben (UTC)."""
    e = JiraEmulator(clock=clock).start()
    e.add_user("acc-ana", "Ana Lima", EMAIL, time_zone="Europe/Berlin")
    e.add_user("acc-ben", "Ben Ode", "ben@example.com")
    e.add_token(TOKEN, "acc-ana")
    e.create_project("WEB", "Web")
    for n in range(3):
        e.create_issue("WEB", "acc-ana", f"Issue {n + 1}", description=f"Body {n + 1}")
        clock.advance(timedelta(minutes=1))
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def dc(clock):
    e = JiraEmulator(clock=clock, deployment="datacenter").start()
    e.add_user("ana", "Ana Lima", EMAIL)
    e.add_user("ben", "Ben Ode", "ben@example.com")
    e.add_token(PAT, "ana")
    e.create_project("OPS")
    for n in range(5):
        e.create_issue("OPS", "ana", f"Ops {n + 1}")
        clock.advance(timedelta(minutes=1))
    try:
        yield e
    finally:
        e.stop()


# ---------------------------------------------------------------------- identity
def test_server_info_makes_the_client_choose_cloud_or_datacenter(emu, dc):
    j = cloud_client(emu)
    assert j.server_info()["deploymentType"] == "Cloud" and j._is_cloud
    d = JIRA(server=dc.url, token_auth=PAT, timeout=5, max_retries=0)
    assert d.server_info()["deploymentType"] == "Server" and not d._is_cloud
    for e in (emu, dc):
        body = raw(e, "GET", "/rest/api/2/serverInfo", auth=None).json()
        validate(body, "/serverInfo")
        assert body["baseUrl"] == e.url


def test_myself_users_fields_and_link_types_match_the_spec(emu):
    j = cloud_client(emu)
    me = j.myself()
    assert (me["accountId"], me["displayName"], me["emailAddress"], me["timeZone"],
            me["active"]) == ("acc-ana", "Ana Lima", EMAIL, "Europe/Berlin", True)
    assert me["self"].startswith(emu.url + "/rest/api/2/user?accountId=")
    assert [u.accountId for u in j.search_users(query="ben")] == ["acc-ben"]
    for v in ("2", "3"):
        validate(raw(emu, "GET", f"/rest/api/{v}/myself").json(), "/myself")
        validate(raw(emu, "GET", f"/rest/api/{v}/user/search", params={"query": "Ana"}).json(),
                 "/user/search")
        validate(raw(emu, "GET", f"/rest/api/{v}/user/assignable/search",
                     params={"issueKey": "WEB-1"}).json(), "/user/assignable/search")
        validate(raw(emu, "GET", f"/rest/api/{v}/field").json(), "/field")
        validate(raw(emu, "GET", f"/rest/api/{v}/issueLinkType").json(), "/issueLinkType")
    blocks = next(t for t in j.issue_link_types() if t.name == "Blocks")
    assert (blocks.inward, blocks.outward) == ("is blocked by", "blocks")


def test_datacenter_user_has_name_and_key(dc):
    d = JIRA(server=dc.url, token_auth=PAT, timeout=5, max_retries=0)
    me = d.myself()
    assert me["name"] == "ana" and me["key"] == "ana"
    validate(me, "/myself")


# ---------------------------------------------------------------------- auth
def test_bad_or_missing_credentials_answer_401_with_jira_error_body(emu, dc):
    with pytest.raises(JIRAError) as err:
        cloud_client(emu, token="wrong")
    assert err.value.status_code == 401
    r = raw(emu, "GET", "/rest/api/3/myself", auth=None)
    assert r.status_code == 401
    assert r.json() == {"errorMessages": ["Client must be authenticated to access this "
                                          "resource."], "errors": {}}
    assert raw(emu, "GET", "/rest/api/3/myself", auth=("ben@example.com", TOKEN)).status_code == 401
    # Data Center wants a bearer PAT; Cloud-style Basic is refused there.
    assert raw(dc, "GET", "/rest/api/2/myself", auth=(EMAIL, PAT)).status_code == 401
    ok = requests.get(dc.url + "/rest/api/2/myself", headers={"Authorization": f"Bearer {PAT}"},
                      timeout=5)
    assert ok.status_code == 200


# ---------------------------------------------------------------------- search
def test_search_jql_pages_with_next_page_token_until_the_last_page(emu, clock):
    for n in range(4):
        emu.create_issue("WEB", "acc-ben", f"More {n}")
    j = cloud_client(emu)
    seen, token, pages = [], None, 0
    while True:
        page = j.enhanced_search_issues("project = WEB ORDER BY key ASC", nextPageToken=token,
                                        maxResults=3)
        seen += [i.key for i in page]
        pages += 1
        token = page.nextPageToken
        if not token:
            break
    assert seen == [f"WEB-{n}" for n in range(1, 8)] and pages == 3
    for method in ("get", "post"):
        kw = ({"params": {"jql": "project = WEB", "maxResults": 3, "fields": "*all"}}
              if method == "get" else
              {"json": {"jql": "project = WEB", "maxResults": 3, "fields": ["*all"]}})
        first = raw(emu, method.upper(), "/rest/api/3/search/jql", **kw).json()
        validate(first, "/search/jql", method)
        assert first["isLast"] is False and first["nextPageToken"]
        assert first["issues"][0]["key"] == "WEB-7"  # default order: key DESC
        assert first["issues"][0]["fields"]["description"] is None  # created without one
    last = raw(emu, "GET", "/rest/api/3/search/jql",
               params={"jql": "project = WEB", "maxResults": 5, "nextPageToken": first[
                   "nextPageToken"]}).json()
    validate(last, "/search/jql")
    assert last["isLast"] is True and "nextPageToken" not in last
    one = raw(emu, "GET", "/rest/api/3/search/jql",
              params={"jql": "key = WEB-1", "fields": ["summary", "description"]}).json()
    assert set(one["issues"][0]["fields"]) == {"summary", "description"}
    assert one["issues"][0]["fields"]["description"] == {  # v3: ADF
        "type": "doc", "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Body 1"}]}]}
    assert last["issues"] == [{"id": str(emu.issue("WEB-4")["id"])},
                              {"id": str(emu.issue("WEB-3")["id"])},
                              {"id": str(emu.issue("WEB-2")["id"])},
                              {"id": str(emu.issue("WEB-1")["id"])}]  # default fields: id


def test_updated_jql_is_read_in_the_users_time_zone_at_minute_granularity(emu, clock):
    clock.set(T0 + timedelta(hours=2, seconds=30))  # 11:00:30 UTC = 12:00:30 Berlin
    emu.add_label("WEB-2", "acc-ben", "urgent")
    emu.add_user("acc-utc", "Utc User", "utc@example.com")
    emu.add_token("utc-token", "acc-utc")
    j = cloud_client(emu)

    def keys(client, jql):
        return sorted(i.key for i in client.enhanced_search_issues(jql, maxResults=50))

    assert keys(j, 'project = WEB AND updated >= "2024-03-01 12:00"') == ["WEB-2"]
    assert keys(j, 'project = WEB AND updated > "2024-03-01 12:00"') == ["WEB-2"]
    assert keys(j, 'project = WEB AND updated >= "2024-03-01 12:01"') == []
    assert keys(j, 'project in (WEB) AND updated >= "2024-03-01 10:01"') == ["WEB-2", "WEB-3"]
    utc = cloud_client(emu, email="utc@example.com", token="utc-token")
    assert keys(utc, 'project = WEB AND updated >= "2024-03-01 12:00"') == []
    assert keys(utc, 'project = WEB AND updated >= "2024-03-01 11:00"') == ["WEB-2"]
    # The same instant is rendered in each user's zone.
    assert j.issue("WEB-2").fields.updated == "2024-03-01T12:00:30.000+0100"
    assert utc.issue("WEB-2").fields.updated == "2024-03-01T11:00:30.000+0000"
    ordered = j.enhanced_search_issues("project = WEB ORDER BY updated DESC", maxResults=50)
    assert [i.key for i in ordered][0] == "WEB-2"
    assert [i.key for i in j.enhanced_search_issues("key = WEB-3")] == ["WEB-3"]


def test_unsupported_or_bad_jql_answers_400_naming_the_part(emu):
    j = cloud_client(emu)
    with pytest.raises(JIRAError) as err:
        j.enhanced_search_issues('project = WEB AND status = "In Progress"')
    assert err.value.status_code == 400
    body = err.value.response.json()
    assert body["errors"] == {} and "status = \"In Progress\"" in body["errorMessages"][0]
    for jql, needle in [("ORDER BY updated", "Unbounded"), ("project = NOPE", "'NOPE'"),
                        ('project = WEB AND updated >= "yesterday"', "yesterday"),
                        ("project = WEB OR key = WEB-1", "OR")]:
        r = raw(emu, "GET", "/rest/api/3/search/jql", params={"jql": jql})
        assert r.status_code == 400, jql
        assert needle in r.json()["errorMessages"][0]
    q = parse_jql('project in (A, "B") AND updated > "2024-01-02 03:04" ORDER BY key DESC',
                  "Asia/Tokyo")
    assert q.clauses[0] == ("project", "in", ["A", "B"])
    assert q.clauses[1][2] == datetime(2024, 1, 1, 18, 4, tzinfo=timezone.utc)
    assert q.order == [("key", True)]


# ---------------------------------------------------------------------- changelog
def test_embedded_changelog_keeps_the_most_recent_and_the_endpoints_have_all(emu, clock):
    statuses = ["In Progress", "In Review", "To Do"]
    for n in range(45):
        clock.advance(timedelta(minutes=1))
        emu.transition("WEB-1", "acc-ben", statuses[n % 3])
    j = cloud_client(emu)
    [issue] = j.enhanced_search_issues("key = WEB-1", expand="changelog")
    cl = issue.raw["changelog"]
    assert (cl["startAt"], cl["maxResults"], cl["total"], len(cl["histories"])) == (0, 40, 45, 40)
    created = [parse_jira_ts(h["created"]) for h in cl["histories"]]
    assert created == sorted(created, reverse=True)  # newest first
    assert created[0] == clock() and created[-1] == T0 + timedelta(minutes=3 + 6)
    body = raw(emu, "GET", "/rest/api/3/search/jql",
               params={"jql": "key = WEB-1", "expand": "changelog", "fields": "summary"}).json()
    validate(body, "/search/jql")
    # Full history, oldest first, paged with startAt/maxResults/isLast.
    first = raw(emu, "GET", "/rest/api/3/issue/WEB-1/changelog", params={"maxResults": 30}).json()
    validate(first, "/issue/{issueIdOrKey}/changelog")
    assert (first["total"], first["isLast"], len(first["values"])) == (45, False, 30)
    rest = raw(emu, "GET", "/rest/api/2/issue/WEB-1/changelog",
               params={"startAt": 30, "maxResults": 30}).json()
    assert rest["isLast"] is True and len(rest["values"]) == 15
    values = first["values"] + rest["values"]
    assert [v["items"][0]["toString"] for v in values[:3]] == statuses
    assert values[0]["items"][0] == {"field": "status", "fieldtype": "jira", "fieldId": "status",
                                     "from": "10000", "fromString": "To Do", "to": "10001",
                                     "toString": "In Progress"}
    bulk = raw(emu, "POST", "/rest/api/3/changelog/bulkfetch",
               json={"issueIdsOrKeys": ["WEB-1", "WEB-2"], "maxResults": 40}).json()
    validate(bulk, "/changelog/bulkfetch", "post")
    assert len(bulk["issueChangeLogs"][0]["changeHistories"]) == 40 and bulk["nextPageToken"]
    more = raw(emu, "POST", "/rest/api/3/changelog/bulkfetch",
               json={"issueIdsOrKeys": ["WEB-1"], "nextPageToken": bulk["nextPageToken"],
                     "fieldIds": ["status"]}).json()
    assert len(more["issueChangeLogs"][0]["changeHistories"]) == 5 and "nextPageToken" not in more
    # GET issue?expand=changelog keeps the latest 100.
    full = raw(emu, "GET", "/rest/api/3/issue/WEB-1", params={"expand": "changelog"}).json()
    validate(full, "/issue/{issueIdOrKey}")
    assert full["changelog"]["total"] == 45 and len(full["changelog"]["histories"]) == 45


def test_writes_record_histories_like_jira(emu, clock):
    clock.advance(timedelta(minutes=5))
    emu.transition("WEB-1", "acc-ana", "In Review", assignee="acc-ben")
    clock.advance(timedelta(minutes=1))
    emu.link("WEB-1", "acc-ana", "is blocked by", "WEB-2")
    clock.advance(timedelta(minutes=1))
    emu.add_label("WEB-1", "acc-ana", "needs-ops")
    emu.comment("WEB-1", "acc-ben", "On it")
    clock.advance(timedelta(minutes=1))
    emu.resolve("WEB-1", "acc-ben")
    emu.add_remote_link("WEB-1", "acc-ben", "https://ci.example.com/1", "CI run")
    hs = emu.issue("WEB-1")["changelog"]["histories"][::-1]  # oldest first
    assert [len(h["items"]) for h in hs] == [2, 1, 1, 2, 1]
    assert [(i["field"], i["from"], i["to"]) for i in hs[0]["items"]] == [
        ("status", "10000", "10002"), ("assignee", None, "acc-ben")]
    assert hs[0]["items"][1]["toString"] == "Ben Ode"
    assert hs[1]["items"][0] == {"field": "Link", "fieldtype": "jira", "from": None,
                                 "fromString": None, "to": "WEB-2",
                                 "toString": "This issue is blocked by WEB-2"}
    assert hs[2]["items"][0]["toString"] == "needs-ops"
    assert [(i["field"], i["toString"]) for i in hs[3]["items"]] == [("status", "Done"),
                                                                     ("resolution", "Done")]
    assert hs[4]["items"][0]["field"] == "RemoteIssueLink"
    other = emu.issue("WEB-2")["changelog"]["histories"]
    assert other[0]["items"][0]["toString"] == "This issue blocks WEB-1"
    assert emu.links("WEB-1") == [("is blocked by", "WEB-2")]
    emu.reopen("WEB-1", "acc-ana")
    last = emu.issue("WEB-1")["changelog"]["histories"][0]["items"]
    assert [(i["field"], i["toString"]) for i in last] == [("status", "To Do"),
                                                           ("resolution", None)]
    j = cloud_client(emu)
    i = j.issue("WEB-1")
    assert i.fields.status.statusCategory.key == "new" and i.fields.resolution is None
    assert i.fields.assignee.accountId == "acc-ben" and i.fields.labels == ["needs-ops"]
    [ln] = i.fields.issuelinks
    assert (ln.type.name, ln.type.inward, ln.outwardIssue.key if hasattr(ln, "outwardIssue")
            else ln.inwardIssue.key) == ("Blocks", "is blocked by", "WEB-2")
    assert hasattr(ln, "inwardIssue")  # WEB-1 is the inward ("is blocked by") side
    assert parse_jira_ts(i.fields.updated) == clock()
    for v in ("2", "3"):
        body = raw(emu, "GET", f"/rest/api/{v}/issue/WEB-1", params={"expand": "changelog"}).json()
        validate(body, "/issue/{issueIdOrKey}")
        assert body["self"] == f"{emu.url}/rest/api/{v}/issue/{body['id']}"
    assert emu.issue("WEB-1")["fields"]["status"]["statusCategory"]["key"] == "new"


# ---------------------------------------------------------------------- comments
def test_comments_v2_string_v3_adf_paging_and_order(emu, clock):
    j = cloud_client(emu)
    c = j.add_comment("WEB-1", "Ping [~accountid:acc-ben]\nsecond line")
    assert c.body == "Ping [~accountid:acc-ben]\nsecond line" and c.author.accountId == "acc-ana"
    clock.advance(timedelta(minutes=1))
    emu.comment("WEB-1", "acc-ben", "Pong")
    assert [x.body for x in j.comments("WEB-1")] == [c.body, "Pong"]
    v3 = raw(emu, "GET", "/rest/api/3/issue/WEB-1/comment",
             params={"orderBy": "-created", "maxResults": 1}).json()
    validate(v3, "/issue/{issueIdOrKey}/comment")
    assert (v3["startAt"], v3["maxResults"], v3["total"]) == (0, 1, 2)
    assert adf_to_text(v3["comments"][0]["body"]) == "Pong"
    first = raw(emu, "GET", "/rest/api/3/issue/WEB-1/comment", params={"startAt": 1,
                                                                      "orderBy": "-created"})
    body = first.json()["comments"][0]["body"]
    assert body["content"][0]["content"][1] == {"type": "mention", "attrs": {"id": "acc-ben"}}
    posted = raw(emu, "POST", "/rest/api/3/issue/WEB-2/comment",
                 json={"body": {"type": "doc", "version": 1, "content": [
                     {"type": "paragraph", "content": [{"type": "text", "text": "ADF in"}]}]}})
    assert posted.status_code == 201
    validate(posted.json(), "/issue/{issueIdOrKey}/comment", "post", 201)
    assert emu.comments("WEB-2")[0]["body"] == "ADF in"
    assert raw(emu, "GET", "/rest/api/3/issue/WEB-1/comment",
               params={"orderBy": "updated"}).status_code == 400
    assert raw(emu, "POST", "/rest/api/3/issue/WEB-1/comment",
               json={"body": "plain"}).status_code == 400  # v3 wants ADF
    # Comments are not changelog entries, but they do bump `updated`.
    assert all(h["items"][0]["field"] != "comment"
               for h in emu.issue("WEB-1")["changelog"]["histories"])
    assert parse_jira_ts(emu.issue("WEB-1")["fields"]["updated"]) == clock()


# ---------------------------------------------------------------------- writes via client
def test_assign_create_link_and_remote_links_through_the_client(emu, clock):
    j = cloud_client(emu)
    j.assign_issue("WEB-1", "acc-ben")
    assert emu.issue("WEB-1")["fields"]["assignee"]["accountId"] == "acc-ben"
    [h] = emu.issue("WEB-1")["changelog"]["histories"]
    assert (h["author"]["accountId"], h["items"][0]["to"]) == ("acc-ana", "acc-ben")
    assert raw(emu, "PUT", "/rest/api/3/issue/WEB-1/assignee",
               json={"accountId": None}).status_code == 204
    assert emu.issue("WEB-1")["fields"]["assignee"] is None
    new = j.create_issue(fields={"project": {"key": "WEB"}, "summary": "Draft request",
                                 "issuetype": {"name": "Task"},
                                 "assignee": {"accountId": "acc-ben"},
                                 "duedate": "2024-03-08", "labels": ["hb"],
                                 "description": "Need X by Friday"})
    assert new.key == "WEB-4" and new.fields.duedate == "2024-03-08"
    assert new.fields.assignee.accountId == "acc-ben"
    created = raw(emu, "POST", "/rest/api/3/issue", json={"fields": {
        "project": {"key": "WEB"}, "summary": "v3", "issuetype": {"name": "Task"},
        "description": {"type": "doc", "version": 1, "content": []}}})
    assert created.status_code == 201
    validate(created.json(), "/issue", "post", 201)
    bad = raw(emu, "POST", "/rest/api/3/issue", json={"fields": {"project": {"key": "NOPE"}}})
    assert bad.status_code == 400 and set(bad.json()["errors"]) >= {"project", "summary"}
    r = j.create_issue_link("is blocked by", "WEB-4", "WEB-2")
    assert r.status_code == 201
    assert emu.links("WEB-4") == [("is blocked by", "WEB-2")]
    assert emu.links("WEB-2") == [("blocks", "WEB-4")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # applicationlinks is admin-only (403)
        rl = j.add_remote_link("WEB-4", {"url": "https://pr.example.com/7", "title": "PR 7"},
                               globalId="pr-7")
    assert rl.id and [x.object.url for x in j.remote_links("WEB-4")] == ["https://pr.example.com/7"]
    again = raw(emu, "POST", "/rest/api/3/issue/WEB-4/remotelink",
                json={"globalId": "pr-7", "object": {"url": "https://pr.example.com/7",
                                                     "title": "PR 7 (merged)"}})
    assert again.status_code == 200  # same globalId updates
    validate(again.json(), "/issue/{issueIdOrKey}/remotelink", "post", 200)
    listed = raw(emu, "GET", "/rest/api/3/issue/WEB-4/remotelink").json()
    assert len(listed) == 1 and listed[0]["object"]["title"] == "PR 7 (merged)"
    for item in listed:  # the spec documents one RemoteIssueLink; Jira returns an array
        validate_component(item, "RemoteIssueLink")
    assert raw(emu, "PUT", "/rest/api/3/issue/WEB-4",
               json={"update": {"labels": [{"add": "x"}]}, "fields": {"duedate": None}}
               ).status_code == 204
    after = emu.issue("WEB-4")["fields"]
    assert after["labels"] == ["hb", "x"] and after["duedate"] is None
    assert raw(emu, "GET", "/rest/api/3/issue/WEB-99").status_code == 404


# ---------------------------------------------------------------------- faults
def test_faults_429_503_and_lost_response(emu, clock):
    j = cloud_client(emu)
    emu.faults.add("GET", r"/search/jql$", "status", status=429, retry_after=7)
    with pytest.raises(JIRAError) as err:
        j.enhanced_search_issues("project = WEB")
    h = err.value.response.headers
    assert err.value.status_code == 429 and h["Retry-After"] == "7"
    assert h["X-RateLimit-Remaining"] == "0" and h["X-RateLimit-Limit"]
    assert h["X-RateLimit-Reset"] == "2024-03-01T09:03Z"
    assert err.value.response.json()["errorMessages"]
    emu.faults.add("*", r"/issue/WEB-1$", "status", status=503, times=2)
    assert raw(emu, "GET", "/rest/api/3/issue/WEB-1").status_code == 503
    assert raw(emu, "GET", "/rest/api/2/issue/WEB-1").status_code == 503
    assert raw(emu, "GET", "/rest/api/2/issue/WEB-1").status_code == 200
    emu.faults.add("POST", r"/issue/WEB-1/comment$", "lost_response")
    with pytest.raises(requests.exceptions.ConnectionError):
        j.add_comment("WEB-1", "hb:nudge-1 please look")
    assert [c["body"] for c in emu.comments("WEB-1")] == ["hb:nudge-1 please look"]
    emu.faults.add("GET", r"/myself", "slow", delay=0.01)
    assert j.myself()["accountId"] == "acc-ana"
    assert len(emu.faults) == 0
    assert ("GET", "/rest/api/2/issue/WEB-1", 503) in emu.requests


# ---------------------------------------------------------------------- data center
def test_datacenter_search_paging_assign_by_name_and_cloud_only_paths(dc, emu, clock):
    d = JIRA(server=dc.url, token_auth=PAT, timeout=5, max_retries=0)
    clock.advance(timedelta(minutes=1))
    dc.transition("OPS-2", "ben", "In Progress")
    page = d.search_issues("project = OPS ORDER BY key ASC", startAt=2, maxResults=2,
                           expand="changelog")
    assert [i.key for i in page] == ["OPS-3", "OPS-4"] and page.total == 5
    every = d.search_issues("project = OPS", maxResults=False)
    assert len(every) == 5
    body = raw(dc, "GET", "/rest/api/2/search", auth=None,
               headers={"Authorization": f"Bearer {PAT}"},
               params={"jql": "key = OPS-2", "expand": "changelog"}).json()
    validate(body, "/search")
    assert body["issues"][0]["changelog"]["total"] == 1
    d.assign_issue("OPS-1", "ben")  # DC client sends {"name": "ben"}
    [h] = dc.issue("OPS-1")["changelog"]["histories"]
    assert h["items"][0]["to"] == "ben"
    bearer = {"Authorization": f"Bearer {PAT}"}
    for path in ("/rest/api/2/search/jql?jql=project%3DOPS", "/rest/api/3/myself",
                 "/rest/api/2/issue/OPS-1/changelog"):
        assert requests.get(dc.url + path, headers=bearer, timeout=5).status_code == 404
    assert raw(emu, "GET", "/rest/api/2/search", params={"jql": "project = WEB"}).status_code == 410


def test_bulk_create_loads_many_issues_without_http(clock):
    e = JiraEmulator(clock=clock)
    keys = e.bulk_create("BIG", 10_000, "acc-bot", histories_per_issue=3)
    assert len(keys) == 10_000 and keys[-1] == "BIG-10000"
    assert len(e.issue("BIG-5")["changelog"]["histories"]) == 3
    assert e.issue("BIG-5")["fields"]["status"]["name"] == "To Do"
    assert e.issue_keys("BIG")[:2] == ["BIG-1", "BIG-2"]
