"""The Asana emulator's HTTP face: the Flask app under ``/api/1.0`` over an :class:`AsanaState`.

Holds :func:`build_app` (bearer-token auth, the fault hook and request log of the
:class:`~connectors.sandbox.emulation.LoopbackServer`, error bodies, and the route table),
:func:`fault_response` (the vendor-shaped answer to an injected ``status`` fault) and the
request helpers: JSON/form bodies (``{"data": ...}``), ``opt_fields``, Asana's offset
pagination, ``modified_since``/``completed_since`` and due-date parsing. Bodies are
rendered by :mod:`connectors.sandbox.asana.render`; changes go through the state's
record-level methods with ``source="api"``.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from connectors.sandbox.asana import render
from connectors.sandbox.asana.render import AsanaError
from connectors.sandbox.asana.state import AsanaState, Task
from connectors.sandbox.emulation import Fault, LoopbackServer, lost_response_middleware

API_PREFIX = "/api/1.0"
JSON_TYPE = "application/json; charset=UTF-8"
UNPAGINATED_MAX = 1000      # unpaginated lists larger than this answer 400 (see page)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _parse_ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _field_tree(fields: Iterable[str]) -> dict:
    tree: dict = {}
    for f in fields:
        node = tree
        for part in f.split("."):
            node = node.setdefault(part, {})
    return tree


def json_response(obj: Any, status: int = 200) -> Response:
    """``obj`` as compact UTF-8 JSON with Asana's content type."""
    payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(payload, status, content_type=JSON_TYPE)


def fault_response(fault: Fault) -> Response:
    """Answer a ``status`` fault (body: :func:`render.fault_body`) with its ``Retry-After``."""
    status = int(fault.status or 500)
    resp = json_response(render.fault_body(status), status)
    if fault.retry_after is not None:
        ra = float(fault.retry_after)
        resp.headers["Retry-After"] = str(int(ra)) if ra.is_integer() else str(ra)
    return resp


def opt_fields() -> dict | None:
    """The ``opt_fields`` tree of this request (comma-separated), or ``None``; 400 if malformed."""
    raw = request.args.get("opt_fields")
    if raw is None or raw == "":
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    for f in fields:
        if not _FIELD.match(f):
            raise AsanaError(400, f"opt_fields: Invalid field: {f!r}")
    return _field_tree(fields)


def data() -> dict:
    """The ``data`` object of a JSON (or form) request body; 400 if missing."""
    if request.mimetype == "application/json" or request.data:
        try:
            body = json.loads(request.data or b"{}")
        except ValueError:
            raise AsanaError(400, "Could not parse request data, invalid JSON") from None
        got = body.get("data") if isinstance(body, dict) else None
        if not isinstance(got, dict):
            raise AsanaError(400, "data: Missing input")
        return got
    return request.form.to_dict()


def due_fields(body: dict) -> tuple[bool, str | None, datetime | None]:
    """(present, due_on, due_at) from a request body; 400 on bad values."""
    if "due_on" in body and "due_at" in body and body["due_on"] and body["due_at"]:
        raise AsanaError(400, "You may only provide one of due_on or due_at.")
    due_on = due_at = None
    present = "due_on" in body or "due_at" in body
    try:
        if body.get("due_on"):
            due_on = date.fromisoformat(str(body["due_on"])).isoformat()
        if body.get("due_at"):
            due_at = _parse_ts(str(body["due_at"]))
    except ValueError:
        raise AsanaError(400, "due_on: Invalid date value") from None
    return present, due_on, due_at


class _Api:
    """The request-side helpers that need the state (``self.world``)."""

    def __init__(self, world: AsanaState) -> None:
        self.world = world

    def expand(self, ref: dict) -> dict | None:
        return render.expand(self.world, ref)

    def one(self, full: dict, status: int = 200) -> Response:
        """``{"data": full}``, narrowed to ``opt_fields`` when given."""
        tree = opt_fields()
        return json_response({"data": render.select(full, tree, self.expand) if tree else full},
                             status)

    def page(self, items: list, compact: Callable[[Any], dict],
             full: Callable[[Any], dict]) -> Response:
        """Answer a list with Asana's offset pagination.

        ``limit`` (1..100) turns pagination on: ``next_page`` is ``{offset, path, uri}``
        while more remain and ``null`` on the last page; without ``limit`` there is no
        ``next_page`` key and the whole list is answered (400 "The result is too large"
        above ``UNPAGINATED_MAX``). ``offset`` is an opaque token from a previous page.
        Items render compact, or with ``opt_fields`` as the selected fields of ``full``.
        """
        tree = opt_fields()
        raw_limit = request.args.get("limit")
        limit = None
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                limit = -1
            if not 1 <= limit <= 100:
                raise AsanaError(400, "limit: Must be between 1 and 100")
        start = 0
        raw_offset = request.args.get("offset")
        if raw_offset:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(raw_offset + "=" * (-len(raw_offset) % 4)))["o"])
            except Exception:
                raise AsanaError(400, "offset: Your pagination token is invalid.") from None
        if limit is None:
            chunk = items[start:]
            if len(chunk) > UNPAGINATED_MAX:
                raise AsanaError(400, "The result is too large. You should use pagination "
                                      "(may require specifying a workspace)!")
        else:
            chunk = items[start:start + limit]
        shape = (lambda x: render.select(full(x), tree, self.expand)) if tree else compact
        body: dict[str, Any] = {"data": [shape(x) for x in chunk]}
        if limit is not None:
            end = start + len(chunk)
            if end < len(items):
                token = base64.urlsafe_b64encode(
                    json.dumps({"o": end, "typ": "offset"}).encode()).decode().rstrip("=")
                params = [(k, v) for k, vs in request.args.lists() for v in vs if k != "offset"]
                rel = request.path[len(API_PREFIX):] + "?" + urlencode(params + [("offset", token)])
                body["next_page"] = {"offset": token, "path": rel,
                                     "uri": f"{request.scheme}://{request.host}" + API_PREFIX + rel}
            else:
                body["next_page"] = None
        return json_response(body)

    def task_or_404(self, gid: str) -> Task:
        t = self.world.tasks.get(gid)
        if t is None:
            raise AsanaError(404, f"task: Unknown object: {gid}")
        return t

    def user_ref(self, value: Any, field_name: str = "assignee") -> str | None:
        """Resolve an assignee given as gid, ``"me"``, e-mail or ``None``; 400 if unknown."""
        if value is None:
            return None
        v = str(value)
        if v == "me":
            return g.user
        if v in self.world.users:
            return v
        for gid, u in self.world.users.items():
            if u["email"].lower() == v.lower():
                return gid
        raise AsanaError(400, f"{field_name}: Not a recognized ID: {v}")

    def since(self, name: str) -> datetime | None:
        """Query parameter ``name`` as a UTC datetime (``now``: the clock); 400 if malformed."""
        raw = request.args.get(name)
        if raw is None:
            return None
        if raw == "now":
            return self.world.clock()
        try:
            return _parse_ts(raw)
        except ValueError:
            raise AsanaError(400, f"{name}: Not a valid ISO 8601 date-time: {raw}") from None


def build_app(world: AsanaState, server: LoopbackServer) -> Flask:
    """The Flask app serving ``world`` under :data:`API_PREFIX`.

    Every request first meets ``server.inject_fault`` and then bearer-token auth (401 without
    a known token); every answer is logged by ``server.log_served``. Errors answer Asana's
    ``ErrorResponse``; unknown routes and methods answer 404 "No matching route for request".
    """
    app = Flask("asana_emulator")
    app.url_map.strict_slashes = False

    @app.before_request
    def _before() -> Response | None:
        g.user = None
        faulted = server.inject_fault()
        if faulted is not None:
            return faulted
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with world.lock:
            user = world.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise AsanaError(401, "Not Authorized", help=False)
        g.user = user
        return None

    @app.after_request
    def _after(resp: Response) -> Response:
        return server.log_served(resp)

    @app.errorhandler(AsanaError)
    def _asana_error(e: AsanaError) -> Response:
        resp = json_response(e.body(), e.status)
        for k, v in e.headers.items():
            resp.headers[k] = v
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        if e.code in (404, 405):
            return json_response(AsanaError(404, "No matching route for request").body(), 404)
        return json_response(AsanaError(e.code or 500, e.name or "Error").body(), e.code or 500)

    app.wsgi_app = lost_response_middleware(app.wsgi_app)  # type: ignore[method-assign]
    _routes(app, world, _Api(world))
    return app


def _routes(app: Flask, world: AsanaState, api: _Api) -> None:  # noqa: C901 - one place for the route table
    P = API_PREFIX

    def task_full(t: Task) -> dict:
        return render.task_full(world, t)

    def story_full(s: dict) -> dict:
        return render.story_full(world, s)

    def story_compact(s: dict) -> dict:
        return render.story_compact(world, s)

    def attachment_full(a: dict) -> dict:
        return render.attachment_full(world, a)

    def section_compact(gid: str) -> dict | None:
        return render.section_compact(world, gid)

    def section_full(gid: str) -> dict:
        return render.section_full(world, gid)

    @app.get(P + "/users/<user_gid>")
    def get_user(user_gid: str) -> Response:
        with world.lock:
            try:
                gid = api.user_ref(user_gid, "user")
            except AsanaError:
                gid = None
            if gid is None or gid not in world.users:
                raise AsanaError(404, f"user: Unknown object: {user_gid}")
            return api.one(render.user_full(world, gid))

    @app.get(P + "/events")
    def get_events() -> Response:
        resource = request.args.get("resource")
        if not resource:
            raise AsanaError(400, "resource: Missing input")
        with world.lock:
            if resource not in world.projects and resource not in world.tasks:
                raise AsanaError(404, f"resource: Unknown object: {resource}")
            events, token, has_more = world.read_feed(resource, request.args.get("sync"))
            tree = opt_fields()
            shown = [render.select(ev, tree, api.expand) if tree else ev for ev in events]
            return json_response({"data": shown, "sync": token, "has_more": has_more})

    @app.get(P + "/tasks")
    def get_tasks() -> Response:
        project, section = request.args.get("project"), request.args.get("section")
        if bool(project) == bool(section):
            raise AsanaError(400, "Must specify exactly one of project, tag, section, "
                                  "user task list, or assignee + workspace")
        with world.lock:
            if project:
                if project not in world.projects:
                    raise AsanaError(404, f"project: Unknown object: {project}")
                gids = world.projects[project]["tasks"]
            else:
                if section not in world.sections:
                    raise AsanaError(404, f"section: Unknown object: {section}")
                gids = [t for t in world.projects[world.sections[section]["project"]]["tasks"]
                        if world.tasks[t].section == section]
            modified_since = api.since("modified_since")
            completed_since = api.since("completed_since")
            if request.args.get("completed_since") == "now":  # incomplete tasks only
                completed_since = datetime.max.replace(tzinfo=timezone.utc)
            tasks = [world.tasks[x] for x in gids]
            if modified_since is not None:
                tasks = [t for t in tasks if t.modified_at >= modified_since]
            if completed_since is not None:
                tasks = [t for t in tasks if not t.completed
                         or (t.completed_at and t.completed_at >= completed_since)]
            return api.page(tasks, render.task_compact, task_full)

    @app.get(P + "/tasks/<task_gid>")
    def get_task(task_gid: str) -> Response:
        with world.lock:
            return api.one(task_full(api.task_or_404(task_gid)))

    @app.put(P + "/tasks/<task_gid>")
    def update_task(task_gid: str) -> Response:
        body = data()
        with world.lock:
            t = api.task_or_404(task_gid)
            actor, when = g.user, world.clock()
            present, due_on, due_at = due_fields(body)
            assignee = api.user_ref(body["assignee"]) if "assignee" in body else t.assignee
            if "name" in body:
                world.apply_name(t, actor, str(body["name"]), when, source="api")
            if "notes" in body or "html_notes" in body:
                if "html_notes" in body:
                    notes, html = render.rich_text(world, str(body["html_notes"]))
                else:
                    notes, html = str(body["notes"]), None
                world.apply_notes(t, actor, notes, html, when, source="api")
            if "assignee" in body:
                world.apply_assignee(t, actor, assignee, when, source="api")
            if present:
                world.apply_due(t, actor, due_on, due_at, when, source="api")
            if "completed" in body:
                world.apply_completed(t, actor, bool(body["completed"]), when, source="api")
            return api.one(task_full(t))

    @app.get(P + "/tasks/<task_gid>/subtasks")
    def get_subtasks(task_gid: str) -> Response:
        with world.lock:
            t = api.task_or_404(task_gid)
            return api.page([world.tasks[s] for s in t.subtasks], render.task_compact, task_full)

    @app.post(P + "/tasks/<task_gid>/subtasks")
    def create_subtask(task_gid: str) -> Response:
        body = data()
        with world.lock:
            p = api.task_or_404(task_gid)
            _, due_on, due_at = due_fields(body)
            assignee = api.user_ref(body.get("assignee"))
            notes, html = str(body.get("notes") or ""), None
            if body.get("html_notes"):
                notes, html = render.rich_text(world, str(body["html_notes"]))
            t = world.new_task(g.user, str(body.get("name") or ""), notes, world.clock(),
                               parent=p.gid, assignee=assignee, due_on=due_on,
                               due_at=due_at, html_notes=html, source="api")
            return api.one(task_full(t), 201)

    @app.get(P + "/tasks/<task_gid>/dependencies")
    def get_dependencies(task_gid: str) -> Response:
        with world.lock:
            t = api.task_or_404(task_gid)
            return api.page([world.tasks[d] for d in t.dependencies], render.task_compact,
                            task_full)

    @app.get(P + "/tasks/<task_gid>/dependents")
    def get_dependents(task_gid: str) -> Response:
        with world.lock:
            t = api.task_or_404(task_gid)
            return api.page([world.tasks[d] for d in t.dependents], render.task_compact,
                            task_full)

    def _dep_change(task_gid: str, add: bool) -> Response:
        body = data()
        deps = body.get("dependencies")
        if not isinstance(deps, list) or not deps:
            raise AsanaError(400, "dependencies: Missing input")
        with world.lock:
            t = api.task_or_404(task_gid)
            blockers = [api.task_or_404(str(d)) for d in deps]
            when = world.clock()
            for b in blockers:
                if add:
                    world.apply_add_dependency(t, g.user, b, when, source="api")
                else:
                    world.apply_remove_dependency(t, g.user, b, when, source="api")
            return json_response({"data": {}})

    @app.post(P + "/tasks/<task_gid>/addDependencies")
    def add_dependencies(task_gid: str) -> Response:
        return _dep_change(task_gid, True)

    @app.post(P + "/tasks/<task_gid>/removeDependencies")
    def remove_dependencies(task_gid: str) -> Response:
        return _dep_change(task_gid, False)

    @app.get(P + "/tasks/<task_gid>/stories")
    def get_stories(task_gid: str) -> Response:
        with world.lock:
            t = api.task_or_404(task_gid)
            return api.page([world.stories[s] for s in t.stories], story_compact, story_full)

    @app.post(P + "/tasks/<task_gid>/stories")
    def create_story(task_gid: str) -> Response:
        body = data()
        with world.lock:
            t = api.task_or_404(task_gid)
            story = world.apply_comment(t, g.user, body.get("text"), body.get("html_text"),
                                        world.clock(), source="api")
            return api.one(story_full(story), 201)

    @app.get(P + "/stories/<story_gid>")
    def get_story(story_gid: str) -> Response:
        with world.lock:
            if story_gid not in world.stories:
                raise AsanaError(404, f"story: Unknown object: {story_gid}")
            return api.one(story_full(world.stories[story_gid]))

    @app.get(P + "/projects/<project_gid>")
    def get_project(project_gid: str) -> Response:
        with world.lock:
            if project_gid not in world.projects:
                raise AsanaError(404, f"project: Unknown object: {project_gid}")
            return api.one(render.project_full(world, project_gid))

    @app.get(P + "/projects/<project_gid>/sections")
    def get_sections(project_gid: str) -> Response:
        with world.lock:
            if project_gid not in world.projects:
                raise AsanaError(404, f"project: Unknown object: {project_gid}")
            return api.page(list(world.projects[project_gid]["sections"]), section_compact,
                            section_full)

    @app.get(P + "/sections/<section_gid>")
    def get_section(section_gid: str) -> Response:
        with world.lock:
            if section_gid not in world.sections:
                raise AsanaError(404, f"section: Unknown object: {section_gid}")
            return api.one(section_full(section_gid))

    @app.post(P + "/sections/<section_gid>/addTask")
    def add_task_for_section(section_gid: str) -> Response:
        body = data()
        with world.lock:
            if section_gid not in world.sections:
                raise AsanaError(404, f"section: Unknown object: {section_gid}")
            if not body.get("task"):
                raise AsanaError(400, "task: Missing input")
            t = api.task_or_404(str(body["task"]))
            if t.project != world.sections[section_gid]["project"]:
                raise AsanaError(400, "task: The task is not in the section's project")
            world.apply_section(t, g.user, section_gid, world.clock(), source="api")
            return json_response({"data": {}})

    @app.get(P + "/attachments")
    def get_attachments() -> Response:
        parent = request.args.get("parent")
        if not parent:
            raise AsanaError(400, "parent: Missing input")
        with world.lock:
            t = api.task_or_404(parent)
            atts = [world.attachments[a] for a in t.attachments]
            return api.page(atts, render.attachment_compact, attachment_full)

    @app.get(P + "/attachments/<attachment_gid>")
    def get_attachment(attachment_gid: str) -> Response:
        with world.lock:
            if attachment_gid not in world.attachments:
                raise AsanaError(404, f"attachment: Unknown object: {attachment_gid}")
            return api.one(attachment_full(world.attachments[attachment_gid]))

    @app.post(P + "/attachments")
    def create_attachment() -> Response:
        form = request.form
        if form.get("resource_subtype") != "external" or "file" in request.files:
            raise AsanaError(400, "resource_subtype: only external (URL) attachments "
                                  "are emulated")
        for k in ("parent", "url", "name"):
            if not form.get(k):
                raise AsanaError(400, f"{k}: Missing input")
        with world.lock:
            t = api.task_or_404(form["parent"])
            att = world.apply_attachment(t, g.user, form["url"], form["name"], world.clock())
            return api.one(attachment_full(att))
