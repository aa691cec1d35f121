"""The Asana emulator, driven by the official ``asana`` client (5.4.0) over real HTTP.

Bodies are validated against Asana's own OpenAPI description
(shared/specs/asana/asana_oas.yaml, loaded from YAML into the same ``referencing``
registry tests/openapi.py builds for JSON) and their keys checked against the documented
properties, so an undocumented field is caught too. Asana publishes no recorded traffic
(shared/specs/recorded/README.md, "Asana: nothing stored"). Clock: a stepping clock,
never sleep.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import datetime, timedelta, timezone

import asana
import pytest
import requests
import urllib3
import yaml
from asana.rest import ApiException
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from bridge.core.clock import SteppingClock
from connectors.sandbox.asana.emulator import AsanaEmulator
from connectors.sandbox.asana.routes import API_PREFIX
from tests.support import openapi
from tests.support.recorded import SPECS

ASANA_SPEC = SPECS / "asana" / "asana_oas.yaml"
_ROOT = "urn:openapi:asana"
TOKEN = "2/1200/bot-token"
BOT, ADA, BEA = "1100000000000001", "1100000000000002", "1100000000000003"
PROJECT = "1300000000000001"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------------- spec loading
def _nullable_allof(node):
    """Let ``allOf: [X, {nullable: true}]`` admit null (in place).

    Asana writes nullable references that way (``assignee``, ``parent``, ``completed_by``)
    and serves ``null``; under the strict OAS 3.0 reading the ``X`` branch would still
    reject null, which is not what the vendor means.
    """
    if isinstance(node, dict):
        for v in node.values():
            _nullable_allof(v)
        parts = node.get("allOf")
        if isinstance(parts, list) and any(isinstance(p, dict) and p.get("nullable") is True
                                           for p in parts):
            inner = dict(node)
            node.clear()
            node["anyOf"] = [{"enum": [None]}, inner]
    elif isinstance(node, list):
        for v in node:
            _nullable_allof(v)


@functools.lru_cache(maxsize=None)
def spec() -> tuple[dict, Registry]:
    """Asana's OpenAPI document (YAML → JSON-compatible: string keys) and its registry."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(ASANA_SPEC, encoding="utf-8") as fh:
        doc = json.loads(json.dumps(yaml.load(fh, Loader=loader), default=str))
    openapi._nullable_enums(doc)
    _nullable_allof(doc)
    # EventResponse.parent: "The parent will be `null` for other event types" (its own
    # description), yet the schema is not nullable; Asana serves null.
    parent = doc["components"]["schemas"]["EventResponse"]["properties"]["parent"]
    doc["components"]["schemas"]["EventResponse"]["properties"]["parent"] = {
        "anyOf": [{"enum": [None]}, parent]}
    return doc, Registry().with_resource(_ROOT, Resource.from_contents(
        doc, default_specification=DRAFT4))


def validate(body, pointer: str) -> None:
    _, registry = spec()
    validator = OAS30Validator({"$ref": _ROOT + pointer}, registry=registry,
                               format_checker=oas30_format_checker)
    problems = [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(body)]
    assert not problems, f"{len(problems)} schema error(s) against {pointer}:\n  " + \
        "\n  ".join(problems[:20])


def validate_response(body, path: str, method: str, status: int) -> None:
    doc, _ = spec()
    resp = doc["paths"][path][method]["responses"].get(str(status))
    assert resp is not None, f"{method.upper()} {path} documents no {status}"
    if "$ref" in resp:  # shared responses: #/components/responses/BadRequest, ...
        validate(body, resp["$ref"] + "/content/application~1json/schema")
    else:
        validate(body, openapi.response_pointer(path, method, status))


def documented(name: str) -> set[str]:
    """Property names of ``#/components/schemas/<name>`` (through ``allOf``/``$ref``)."""
    doc, _ = spec()

    def walk(schema) -> set[str]:
        if "$ref" in schema:
            return walk(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
        out = set(schema.get("properties", {}))
        for part in schema.get("allOf", []) + schema.get("anyOf", []):
            out |= walk(part)
        return out

    return walk(doc["components"]["schemas"][name])


def assert_documented_keys(obj: dict, name: str, extra: set[str] = frozenset()) -> None:
    unknown = set(obj) - documented(name) - set(extra)
    assert not unknown, f"undocumented {name} keys: {sorted(unknown)}"


# ---------------------------------------------------------------------- fixtures

@pytest.fixture
def clock():
    return SteppingClock(T0)


@pytest.fixture
def emu(clock):
    e = AsanaEmulator(clock=clock).start()
    e.add_user(BOT, "Handoff Bot", "bot@example.com")
    e.add_user(ADA, "Ada Lovelace", "ada@example.com")
    e.add_user(BEA, "Bea Kim")
    e.add_token(TOKEN, BOT)
    e.create_project(PROJECT, "Contracts")
    try:
        yield e
    finally:
        e.stop()


def client(emu: AsanaEmulator, token: str = TOKEN, retries=0) -> asana.ApiClient:
    cfg = asana.Configuration()
    cfg.access_token = token
    cfg.host = emu.url + API_PREFIX
    if retries is not None:  # the default strategy retries 429/5xx GETs 5 times, sleeping
        cfg.retry_strategy = urllib3.Retry(retries)
    return asana.ApiClient(cfg)


def raw(emu: AsanaEmulator, method: str, path: str, token: str = TOKEN, **kw):
    """(status, headers, JSON body) of one request sent by hand (the client hides bodies)."""
    r = requests.request(method, emu.url + API_PREFIX + path, timeout=5,
                         headers={"Authorization": f"Bearer {token}"}, **kw)
    return r.status_code, r.headers, r.json()


def fresh_sync(api: asana.EventsApi, resource: str) -> str:
    with pytest.raises(ApiException) as exc:
        api.get_events(resource, {}, full_payload=True)
    assert exc.value.status == 412
    return json.loads(exc.value.body)["sync"]


# ---------------------------------------------------------------------- users and auth
def test_users_me_and_by_gid_follow_user_response(emu):
    c = client(emu)
    me = asana.UsersApi(c).get_user("me", {})
    assert me["gid"] == BOT and me["name"] == "Handoff Bot" and me["email"] == "bot@example.com"
    status, _, body = raw(emu, "GET", f"/users/{ADA}")
    assert status == 200 and body["data"]["name"] == "Ada Lovelace"
    validate_response(body, "/users/{user_gid}", "get", 200)
    assert_documented_keys(body["data"], "UserResponse")
    status, _, body = raw(emu, "GET", "/users/999")
    assert status == 404
    validate(body, openapi.component_pointer("ErrorResponse"))


def test_bad_or_missing_token_is_401(emu):
    with pytest.raises(ApiException) as exc:
        asana.UsersApi(client(emu, "nope")).get_user("me", {})
    assert exc.value.status == 401
    body = json.loads(exc.value.body)
    assert body == {"errors": [{"message": "Not Authorized"}]}
    validate_response(body, "/users/{user_gid}", "get", 401)
    r = requests.get(emu.url + API_PREFIX + "/users/me", timeout=5)
    assert r.status_code == 401


# ---------------------------------------------------------------------- events
def test_first_events_call_is_412_with_a_fresh_token_then_changes_arrive(emu, clock):
    ev = asana.EventsApi(client(emu))
    with pytest.raises(ApiException) as exc:
        ev.get_events(PROJECT, {}, full_payload=True)
    assert exc.value.status == 412
    body = json.loads(exc.value.body)
    validate_response(body, "/events", "get", 412)
    assert body["errors"][0]["message"].startswith("Sync token invalid or too old.")
    sync = body["sync"]

    t = emu.create_task(PROJECT, ADA, "Review NDA", at=clock.advance(timedelta(minutes=1)))
    emu.assign(t, ADA, BEA, at=clock.advance(timedelta(minutes=1)))
    story = emu.comment(t, BEA, "Looks fine", at=clock.advance(timedelta(minutes=1)))
    page = ev.get_events(PROJECT, {"sync": sync}, full_payload=True)
    validate_response(page, "/events", "get", 200)
    assert page["has_more"] is False and page["sync"] != sync
    for e in page["data"]:
        assert_documented_keys(e, "EventResponse")
    kinds = [(e["type"], e["action"], e["resource"].get("resource_subtype")) for e in page["data"]]
    assert ("task", "added", "default_task") in kinds
    changed = [e for e in page["data"] if e["action"] == "changed"]
    assert changed[0]["change"] == {"field": "assignee", "action": "changed",
                                    "new_value": {"gid": BEA, "resource_type": "user",
                                                  "name": "Bea Kim"}}
    assert changed[0]["user"]["gid"] == ADA and changed[0]["parent"] is None
    comment = [e for e in page["data"] if e["resource"]["gid"] == story["gid"]]
    assert comment == [{
        "user": {"gid": BEA, "resource_type": "user", "name": "Bea Kim"},
        "created_at": "2025-03-03T09:03:00.000Z", "type": "story", "action": "added",
        "resource": {"gid": story["gid"], "resource_type": "story",
                     "resource_subtype": "comment_added"},
        "parent": {"gid": t, "resource_type": "task", "name": "Review NDA",
                   "resource_subtype": "default_task"}}]
    # Nothing new: an empty page and yet another token.
    again = ev.get_events(PROJECT, {"sync": page["sync"]}, full_payload=True)
    assert again["data"] == [] and again["has_more"] is False


def test_more_than_100_events_page_with_has_more_and_arrive_once(emu, clock):
    ev = asana.EventsApi(client(emu))
    sync = fresh_sync(ev, PROJECT)
    t = emu.create_task(PROJECT, ADA, "Busy task")
    for i in range(210):
        emu.comment(t, ADA, f"c{i}", at=clock.advance(timedelta(seconds=1)))
    total = len(emu.events(PROJECT))
    assert total > 200
    seen, pages = [], 0
    while True:
        page = ev.get_events(PROJECT, {"sync": sync}, full_payload=True)
        pages += 1
        assert len(page["data"]) <= 100
        seen += [(e["resource"]["gid"], e["action"], e["parent"] and e["parent"]["gid"])
                 for e in page["data"]]
        sync = page["sync"]
        if not page["has_more"]:
            break
        assert len(page["data"]) == 100
    assert pages == -(-total // 100) and len(seen) == total == len(set(seen))
    assert ev.get_events(PROJECT, {"sync": sync}, full_payload=True)["data"] == []


def test_sync_tokens_expire_after_ttl_and_on_demand(emu, clock):
    ev = asana.EventsApi(client(emu))
    sync = fresh_sync(ev, PROJECT)
    clock.advance(timedelta(hours=23, minutes=59))
    page = ev.get_events(PROJECT, {"sync": sync}, full_payload=True)
    clock.advance(timedelta(hours=24, seconds=1))
    with pytest.raises(ApiException) as exc:
        ev.get_events(PROJECT, {"sync": page["sync"]}, full_payload=True)
    assert exc.value.status == 412
    fresh = json.loads(exc.value.body)["sync"]
    assert ev.get_events(PROJECT, {"sync": fresh}, full_payload=True)["data"] == []
    emu.expire_sync_tokens()
    with pytest.raises(ApiException) as exc:
        ev.get_events(PROJECT, {"sync": fresh}, full_payload=True)
    assert exc.value.status == 412
    with pytest.raises(ApiException) as exc:
        ev.get_events(PROJECT, {"sync": "0123456789abcdef0123456789abcdef"}, full_payload=True)
    assert exc.value.status == 412


def test_task_subscription_sees_only_that_task(emu):
    ev = asana.EventsApi(client(emu))
    a = emu.create_task(PROJECT, ADA, "A")
    b = emu.create_task(PROJECT, ADA, "B")
    sync = fresh_sync(ev, a)
    emu.complete(b, ADA)
    emu.complete(a, ADA)
    page = ev.get_events(a, {"sync": sync}, full_payload=True)
    assert [(e["type"], e["action"]) for e in page["data"]] == [("task", "changed"),
                                                                ("story", "added")]
    assert page["data"][0]["change"] == {"field": "completed", "action": "changed"}
    assert page["data"][1]["parent"]["gid"] == a


# ---------------------------------------------------------------------- tasks
def test_get_tasks_filters_paginates_and_honours_opt_fields(emu, clock):
    old = emu.create_task(PROJECT, ADA, "Old", at=T0)
    gids = [emu.create_task(PROJECT, ADA, f"T{i}", assignee=BEA, section="Legal review",
                            at=clock.advance(timedelta(minutes=1))) for i in range(5)]
    since = (T0 + timedelta(seconds=30)).isoformat()
    tasks = asana.TasksApi(client(emu))
    got = list(tasks.get_tasks({"project": PROJECT, "modified_since": since,
                                "opt_fields": "name,assignee.email,memberships.section.name,modified_at"}))
    assert [t["gid"] for t in got] == gids
    assert got[0]["assignee"] == {"gid": BEA, "email": "bea.kim@example.com"}
    assert got[0]["memberships"] == [{"section": {"gid": emu.section_gid(PROJECT, "Legal review"),
                                                  "name": "Legal review"}}]
    assert emu.requests[-1][1].endswith("&limit=100"), "the page iterator sends limit=100"

    # Without limit: every task, compact, and no next_page key at all.
    status, _, body = raw(emu, "GET", "/tasks", params={"project": PROJECT})
    assert status == 200 and "next_page" not in body and len(body["data"]) == 6
    validate_response(body, "/tasks", "get", 200)
    assert set(body["data"][0]) == {"gid", "name", "resource_type", "resource_subtype"}
    # With limit: next_page {offset, path, uri} until the last page, which has null.
    status, _, body = raw(emu, "GET", "/tasks", params={"project": PROJECT, "limit": 4})
    validate_response(body, "/tasks", "get", 200)
    nxt = body["next_page"]
    assert nxt["path"].startswith("/tasks?project=") and nxt["uri"] == emu.url + API_PREFIX + nxt["path"]
    status, _, body2 = raw(emu, "GET", "/tasks",
                           params={"project": PROJECT, "limit": 4, "offset": nxt["offset"]})
    assert len(body2["data"]) == 2 and body2["next_page"] is None
    assert [t["gid"] for t in body["data"] + body2["data"]] == [old] + gids
    # section= and completed_since=
    emu.complete(gids[0], ADA)
    in_section = raw(emu, "GET", "/tasks", params={
        "section": emu.section_gid(PROJECT, "Legal review"), "completed_since": "now"})[2]
    assert [t["gid"] for t in in_section["data"]] == gids[1:]
    for bad in ({"project": PROJECT, "limit": 0}, {"project": PROJECT, "offset": "garbage"}, {}):
        status, _, body = raw(emu, "GET", "/tasks", params=bad)
        assert status == 400, bad
        validate_response(body, "/tasks", "get", 400)


def test_opt_fields_sent_as_a_python_list_is_rejected(emu):
    t = emu.create_task(PROJECT, ADA, "X")
    # The client does not join lists for this endpoint: urlencode renders "['name']".
    with pytest.raises(ApiException) as exc:
        asana.TasksApi(client(emu)).get_task(t, {"opt_fields": ["name"]})
    assert exc.value.status == 400


def test_full_task_follows_task_response(emu, clock):
    blocker = emu.create_task(PROJECT, ADA, "Sign-off")
    t = emu.create_task(PROJECT, ADA, "Draft", notes="see <draft>", assignee=BEA,
                        section="Doing", due_on="2025-03-10")
    emu.add_dependency(t, ADA, blocker, at=clock.advance(timedelta(minutes=5)))
    emu.create_subtask(t, ADA, "Sub")
    status, _, body = raw(emu, "GET", f"/tasks/{t}")
    validate_response(body, "/tasks/{task_gid}", "get", 200)
    task = body["data"]
    assert_documented_keys(task, "TaskResponse")
    assert task["assignee"]["gid"] == BEA and task["due_on"] == "2025-03-10"
    assert task["dependencies"] == [{"gid": blocker, "resource_type": "task"}]
    assert task["num_subtasks"] == 1 and task["parent"] is None
    assert task["html_notes"] == "<body>see &lt;draft&gt;</body>"
    assert task["memberships"][0]["section"]["name"] == "Doing"
    assert task["modified_at"] == "2025-03-03T09:05:00.000Z"
    assert raw(emu, "GET", f"/tasks/{blocker}")[2]["data"]["dependents"] == [
        {"gid": t, "resource_type": "task"}]
    assert asana.TasksApi(client(emu)).get_task(t, {"opt_fields": "name"}) == {"gid": t, "name": "Draft"}
    assert raw(emu, "GET", "/tasks/42")[0] == 404


def test_update_task_writes_stories_events_and_modified_at(emu, clock):
    t = emu.create_task(PROJECT, ADA, "Draft")
    ev = asana.EventsApi(client(emu))
    sync = fresh_sync(ev, PROJECT)
    clock.advance(timedelta(hours=1))
    out = asana.TasksApi(client(emu)).update_task(
        {"data": {"assignee": ADA, "due_on": "2025-04-01", "completed": True, "name": "Final"}},
        t, {})
    assert out["assignee"]["gid"] == ADA and out["completed"] and out["name"] == "Final"
    assert out["modified_at"] == "2025-03-03T10:00:00.000Z"
    assert out["completed_at"] == out["modified_at"] and out["completed_by"]["gid"] == BOT
    subtypes = [s["resource_subtype"] for s in emu.stories(t)]
    assert subtypes[-4:] == ["name_changed", "assigned", "due_date_changed", "marked_complete"]
    assert all(s["created_by"]["gid"] == BOT for s in emu.stories(t)[-4:])
    due = emu.stories(t)[-2]
    assert due["old_dates"]["due_on"] is None and due["new_dates"]["due_on"] == "2025-04-01"
    page = ev.get_events(PROJECT, {"sync": sync}, full_payload=True)
    fields = [e["change"]["field"] for e in page["data"] if e["action"] == "changed"]
    assert fields == ["name", "assignee", "due_on", "completed"]
    assert sum(e["type"] == "story" for e in page["data"]) == 4
    status, _, body = raw(emu, "PUT", f"/tasks/{t}", json={"data": {"assignee": "404"}})
    assert status == 400
    validate_response(body, "/tasks/{task_gid}", "put", 400)


def test_subtasks_created_and_listed(emu):
    t = emu.create_task(PROJECT, ADA, "Parent")
    tasks = asana.TasksApi(client(emu))
    sub = tasks.create_subtask_for_task({"data": {"name": "Check clause 4", "assignee": BEA,
                                                  "due_on": "2025-03-05", "notes": "n"}}, t, {})
    assert sub["parent"]["gid"] == t and sub["memberships"] == [] and sub["assignee"]["gid"] == BEA
    status, _, body = raw(emu, "POST", f"/tasks/{t}/subtasks", json={"data": {"name": "Two"}})
    assert status == 201
    validate_response(body, "/tasks/{task_gid}/subtasks", "post", 201)
    assert [s["gid"] for s in tasks.get_subtasks_for_task(t, {})] == emu.subtasks(t)
    assert emu.task(t)["num_subtasks"] == 2
    assert sub["gid"] not in emu.task_gids(PROJECT)


def test_dependencies_through_the_client_write_stories_on_both_tasks(emu):
    blocked = emu.create_task(PROJECT, ADA, "Send")
    blocker = emu.create_task(PROJECT, ADA, "Legal OK")
    tasks = asana.TasksApi(client(emu))
    tasks.add_dependencies_for_task({"data": {"dependencies": [blocker]}}, blocked)
    assert [d["gid"] for d in tasks.get_dependencies_for_task(blocked, {})] == [blocker]
    status, _, body = raw(emu, "GET", f"/tasks/{blocked}/dependencies", params={"limit": 10})
    validate_response(body, "/tasks/{task_gid}/dependencies", "get", 200)
    mine, theirs = emu.stories(blocked)[-1], emu.stories(blocker)[-1]
    assert mine["resource_subtype"] == "dependency_added" and mine["dependency"]["gid"] == blocker
    assert theirs["resource_subtype"] == "dependent_added" and theirs["dependency"]["gid"] == blocked
    validate(mine, openapi.component_pointer("StoryResponse"))
    tasks.remove_dependencies_for_task({"data": {"dependencies": [blocker]}}, blocked)
    assert emu.task(blocked)["dependencies"] == [] and emu.task(blocker)["dependents"] == []
    assert emu.stories(blocked)[-1]["resource_subtype"] == "dependency_removed"


def test_sections_and_add_task_moves_with_section_changed_story(emu):
    t = emu.create_task(PROJECT, ADA, "Move me")
    c = client(emu)
    sections = list(asana.SectionsApi(c).get_sections_for_project(PROJECT, {}))
    assert [s["name"] for s in sections] == ["To do", "Doing", "Legal review", "Done"]
    status, _, body = raw(emu, "GET", f"/projects/{PROJECT}/sections")
    validate_response(body, "/projects/{project_gid}/sections", "get", 200)
    for s in body["data"]:
        assert_documented_keys(s, "SectionCompact")
    done = emu.section_gid(PROJECT, "Done")
    asana.SectionsApi(c).add_task_for_section(done, {"body": {"data": {"task": t}}})
    story = emu.stories(t)[-1]
    assert story["resource_subtype"] == "section_changed"
    assert story["old_section"]["name"] == "To do" and story["new_section"]["gid"] == done
    assert emu.task(t)["memberships"][0]["section"]["gid"] == done
    status, _, body = raw(emu, "GET", f"/projects/{PROJECT}")
    validate_response(body, "/projects/{project_gid}", "get", 200)
    assert_documented_keys(body["data"], "ProjectResponse")


# ---------------------------------------------------------------------- stories
def test_compact_stories_hide_what_opt_fields_reveal(emu, clock):
    t = emu.create_task(PROJECT, ADA, "Review")
    emu.assign(t, ADA, BEA, at=clock.advance(timedelta(minutes=1)))
    emu.move_to_section(t, BEA, "Legal review", at=clock.advance(timedelta(minutes=1)))
    emu.add_dependency(t, BEA, emu.create_task(PROJECT, ADA, "Other"), at=clock.advance(timedelta(minutes=1)))
    stories = asana.StoriesApi(client(emu))
    compact = list(stories.get_stories_for_task(t, {}))
    for s in compact:
        assert set(s) == {"gid", "created_at", "created_by", "resource_type",
                          "resource_subtype", "text", "type"}
        validate(s, openapi.component_pointer("StoryCompact"))
    status, _, body = raw(emu, "GET", f"/tasks/{t}/stories")
    validate_response(body, "/tasks/{task_gid}/stories", "get", 200)
    fields = ("resource_subtype,created_by.name,created_at,text,assignee,old_section.name,"
              "new_section.name,dependency.name,type")
    full = {s["resource_subtype"]: s for s in stories.get_stories_for_task(
        t, {"opt_fields": fields})}
    assert full["assigned"]["assignee"]["gid"] == BEA
    assert full["section_changed"]["old_section"] == {
        "gid": emu.section_gid(PROJECT, "To do"), "name": "To do"}
    assert full["section_changed"]["new_section"]["name"] == "Legal review"
    assert full["dependency_added"]["dependency"]["name"] == "Other"
    assert full["assigned"]["created_by"] == {"gid": ADA, "name": "Ada Lovelace"}
    for s in emu.stories(t):
        validate(s, openapi.component_pointer("StoryResponse"))
        assert_documented_keys(s, "StoryResponse")
    # offset pagination of stories
    status, _, page = raw(emu, "GET", f"/tasks/{t}/stories", params={"limit": 2})
    assert len(page["data"]) == 2 and page["next_page"]["offset"]


def test_create_story_from_html_renders_mentions_and_rejects_bad_xml(emu, clock):
    t = emu.create_task(PROJECT, ADA, "Review")
    stories = asana.StoriesApi(client(emu))
    s = stories.create_story_for_task(
        {"data": {"html_text": f'<body>Please check, <a data-asana-gid="{ADA}"/>!</body>'}}, t, {})
    assert s["text"] == "Please check, @Ada Lovelace!" and s["type"] == "comment"
    assert f'data-asana-gid="{ADA}"' in s["html_text"] and s["created_by"]["gid"] == BOT
    status, _, body = raw(emu, "POST", f"/tasks/{t}/stories", json={"data": {"text": "plain"}})
    assert status == 201 and body["data"]["html_text"] == "<body>plain</body>"
    validate_response(body, "/tasks/{task_gid}/stories", "post", 201)
    for bad in ("<body>unclosed <b></body>", "no markup at all", "<p>not body</p>"):
        status, _, body = raw(emu, "POST", f"/tasks/{t}/stories", json={"data": {"html_text": bad}})
        assert status == 400, bad
        validate_response(body, "/tasks/{task_gid}/stories", "post", 400)
    assert emu.task(t)["modified_at"] == "2025-03-03T09:00:00.000Z"
    assert [x["resource_subtype"] for x in emu.stories(t)].count("comment_added") == 2


def test_attachments_list_and_external_create(emu):
    t = emu.create_task(PROJECT, ADA, "Contract")
    emu.add_attachment_url(t, ADA, "https://docs.example.com/nda.pdf", "nda.pdf")
    c = client(emu)
    created = asana.AttachmentsApi(c).create_attachment_for_object({
        "resource_subtype": "external", "parent": t, "url": "https://example.com/x",
        "name": "x link"})
    assert created["view_url"] == "https://example.com/x"
    status, _, body = raw(emu, "GET", "/attachments", params={"parent": t})
    validate_response(body, "/attachments", "get", 200)
    assert [a["name"] for a in body["data"]] == ["nda.pdf", "x link"]
    got = list(asana.AttachmentsApi(c).get_attachments_for_object(
        t, {"opt_fields": "name,view_url,permanent_url"}))
    assert got[0]["view_url"] == "https://docs.example.com/nda.pdf" and got[0]["permanent_url"]
    full = emu.add_attachment_url(t, BEA, "https://e.com/y", "y")
    validate({"data": full}, openapi.response_pointer("/attachments", "post", 200))
    assert emu.stories(t)[-1]["resource_subtype"] == "attachment_added"


# ---------------------------------------------------------------------- faults
def test_429_carries_retry_after_and_asana_body(emu):
    emu.faults.add("GET", r"/tasks$", "status", status=429, retry_after=30)
    with pytest.raises(ApiException) as exc:
        list(asana.TasksApi(client(emu)).get_tasks({"project": PROJECT}))
    assert exc.value.status == 429
    assert exc.value.headers["Retry-After"] == "30"
    body = json.loads(exc.value.body)
    assert body == {"errors": [{"message": "You've made too many requests and hit a rate "
                                           "limit. Please retry after the given amount of time."}]}
    validate(body, openapi.component_pointer("ErrorResponse"))


def test_default_client_retries_a_get_on_429_by_itself(emu):
    emu.create_task(PROJECT, ADA, "A")
    emu.faults.add("GET", r"/tasks$", "status", status=429, retry_after=0)
    emu.reset_requests()
    got = list(asana.TasksApi(client(emu, retries=None)).get_tasks({"project": PROJECT}))
    assert len(got) == 1
    assert [s for _, _, s in emu.requests] == [429, 200]


def test_5xx_and_slow_faults(emu):
    emu.faults.add("GET", "/users/me", "status", status=503)
    status, _, body = raw(emu, "GET", "/users/me")
    assert status == 503 and body["errors"][0]["phrase"]
    validate(body, openapi.component_pointer("ErrorResponse"))
    emu.faults.add("GET", "/users/me", "slow", delay=0.05)
    started = time.monotonic()
    assert raw(emu, "GET", "/users/me")[0] == 200
    assert time.monotonic() - started >= 0.05


def test_lost_response_applies_the_write(emu):
    t = emu.create_task(PROJECT, ADA, "Review")
    emu.faults.add("POST", r"/stories$", "lost_response")
    with pytest.raises(urllib3.exceptions.HTTPError):
        asana.StoriesApi(client(emu)).create_story_for_task({"data": {"text": "once"}}, t, {})
    assert [s["text"] for s in emu.stories(t) if s["type"] == "comment"] == ["once"]
    assert emu.requests[-1][:2] == ("POST", f"{API_PREFIX}/tasks/{t}/stories")


# ---------------------------------------------------------------------- benchmark loader
def test_bulk_create_5000_tasks_is_fast_and_crawlable(emu):
    started = time.monotonic()
    gids = emu.bulk_create(PROJECT, 5000, ADA, stories_per_task=2)
    assert time.monotonic() - started < 2.0
    assert len(gids) == 5000 == len(emu.task_gids(PROJECT)) and len(emu.stories(gids[-1])) == 2
    assert emu.events(PROJECT) == []
    status, _, body = raw(emu, "GET", "/tasks", params={"project": PROJECT})
    assert status == 400 and "pagination" in body["errors"][0]["message"]
    assert sum(1 for _ in asana.TasksApi(client(emu)).get_tasks({"project": PROJECT})) == 5000


def test_generated_gids_never_collide_with_chosen_ones():
    e = AsanaEmulator()
    e.add_user("1200000000000003", "Uma")
    sections = e.create_project("1200000000000001", "P")
    assert "1200000000000003" not in sections
    with pytest.raises(ValueError, match="taken"):
        e.create_task("1200000000000001", "1200000000000003", "x", gid=sections[0])
    task = e.create_task("1200000000000001", "1200000000000003", "y")
    assert task not in sections and e.task(task)["name"] == "y"


def test_nested_opt_fields_reveal_user_email_on_tasks_and_stories(emu, clock):
    """Dot-notation ``opt_fields`` (``assignee.email``) select fields of the referenced
    ``UserResponse``, which its compact form (``UserCompact``) does not carry."""
    t = emu.create_task(PROJECT, ADA, "Contract", assignee=BEA)
    emu.comment(t, BEA, "on it", at=clock.advance(timedelta(minutes=1)))
    tasks, stories = asana.TasksApi(client(emu)), asana.StoriesApi(client(emu))
    got = tasks.get_task(t, {"opt_fields": "assignee.name,assignee.email,created_by.email,followers.email"})
    assert got["assignee"] == {"gid": BEA, "name": "Bea Kim", "email": "bea.kim@example.com"}
    assert got["created_by"] == {"gid": ADA, "email": "ada@example.com"}
    assert got["followers"] == [{"gid": ADA, "email": "ada@example.com"}, {"gid": BEA, "email": "bea.kim@example.com"}]
    plain = tasks.get_task(t, {"opt_fields": "assignee"})
    assert "email" not in plain["assignee"], "without the dotted field the reference stays compact"
    full = {s["resource_subtype"]: s for s in stories.get_stories_for_task(
        t, {"opt_fields": "resource_subtype,created_by.name,created_by.email,assignee.email"})}
    assert full["comment_added"]["created_by"] == {"gid": BEA, "name": "Bea Kim", "email": "bea.kim@example.com"}
    assert full["assigned"]["assignee"] == {"gid": BEA, "email": "bea.kim@example.com"}
    status, _, body = raw(emu, "GET", f"/tasks/{t}/stories",
                          params={"opt_fields": "created_by.email,assignee.email", "limit": 10})
    validate_response(body, "/tasks/{task_gid}/stories", "get", 200)
    status, _, body = raw(emu, "GET", f"/tasks/{t}", params={"opt_fields": "assignee.email,followers.email"})
    validate_response(body, "/tasks/{task_gid}", "get", 200)
    status, _, body = raw(emu, "GET", f"/tasks/{t}", params={"opt_fields": "assignee..email"})
    assert status == 400
