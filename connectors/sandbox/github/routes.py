"""The GitHub emulator's HTTP face: the Flask app over a :class:`GitHubState`.

Holds :class:`GitHubError` (an answer with GitHub's error body), :func:`build_app` (token
auth, the fault hook, rate-limit and version headers, the request log, error handlers and
the route table: ``/user``, ``/users/{login}``, ``/rate_limit``, and per repository, under
both ``/repos/{owner}/{name}`` and ``/repositories/{id}``: the repository, issues (list,
create, get, edit, timeline, comments, assignees, labels) and pulls (list, get, requested
reviewers)), :func:`fault_response` (the vendor's answer to an injected ``status`` fault) and
the response helpers: JSON with per-request host, weak ``ETag`` and ``If-None-Match`` → 304,
and ``Link`` pagination (``per_page`` ≤ 100, follow-up pages under ``/repositories/{id}``, as
on github.com).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from connectors.sandbox.emulation import Fault, lost_response_middleware
from connectors.sandbox.github import render
from connectors.sandbox.github.render import API_ROOT
from connectors.sandbox.github.state import GitHubState, Issue, parse_ts

API_VERSION = "2022-11-28"
JSON_TYPE = "application/json; charset=utf-8"
DOCS = "https://docs.github.com/rest"


class GitHubError(Exception):
    """An HTTP error answered with GitHub's error body ``{message[, errors], documentation_url,
    status}`` (``status`` a string, as GitHub sends it) and extra ``headers``."""

    def __init__(self, status: int, message: str, errors: list | None = None,
                 doc: str = DOCS, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.doc = status, message, errors, doc
        self.headers = headers or {}

    def body(self) -> dict:
        """The error body, keys in GitHub's order."""
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.doc
        out["status"] = str(self.status)
        return out


def _invalid(resource: str, field: str, code: str = "invalid", doc: str = DOCS) -> GitHubError:
    """422 Validation Failed naming one bad ``field`` of ``resource``."""
    return GitHubError(422, "Validation Failed",
                       [{"resource": resource, "code": code, "field": field}], doc=doc)


def build_app(state: GitHubState, inject_fault: Callable[[], Response | None],
              log_served: Callable[[Response], Response]) -> Flask:
    """The Flask app serving ``state``, wrapped for ``lost_response`` faults.

    ``inject_fault`` runs first on every request (after reading the token) and may answer it;
    ``log_served`` records every answer, under ``state.lock``.
    """
    app = Flask("github_emulator")
    app.url_map.strict_slashes = False

    @app.before_request
    def _before() -> Response | None:
        g.login = None
        bad_credentials = False
        auth = request.headers.get("Authorization", "")
        if auth:
            scheme, _, token = auth.partition(" ")
            login = state.token_login(token.strip())
            bad_credentials = scheme.lower() not in ("token", "bearer") or login is None
            g.login = None if bad_credentials else login
        faulted = inject_fault()
        if faulted is not None:
            return faulted
        if bad_credentials:
            raise GitHubError(401, "Bad credentials")
        return None

    @app.after_request
    def _after(resp: Response) -> Response:
        with state.lock:
            rate = state.rate
            rate.roll(int(state.clock().timestamp()))
            counted = 200 <= resp.status_code < 300 and request.path != "/rate_limit"
            if counted and not resp.headers.get("X-RateLimit-Remaining"):
                rate.spend()
            resp.headers.setdefault("X-RateLimit-Limit", str(rate.limit))
            resp.headers.setdefault("X-RateLimit-Remaining", str(rate.limit - rate.used))
            resp.headers.setdefault("X-RateLimit-Reset", str(rate.reset))
            resp.headers.setdefault("X-RateLimit-Used", str(rate.used))
            resp.headers["X-RateLimit-Resource"] = "core"
            resp.headers["X-GitHub-Api-Version-Selected"] = API_VERSION
            resp.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
            if resp.status_code == 304:
                resp.headers.pop("Content-Type", None)
            log_served(resp)
        return resp

    @app.errorhandler(GitHubError)
    def _gh_error(e: GitHubError) -> Response:
        resp = json_response(e.body(), e.status, etag=False)
        for k, v in e.headers.items():
            resp.headers[k] = v
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        status = 404 if e.code in (404, 405) else (e.code or 500)
        msg = "Not Found" if status == 404 else (e.name or "Error")
        if status == 400:
            msg = "Problems parsing JSON"
        return json_response(GitHubError(status, msg).body(), status, etag=False)

    app.wsgi_app = lost_response_middleware(app.wsgi_app)  # type: ignore[method-assign]
    _routes(app, state)
    return app


def fault_response(state: GitHubState, fault: Fault) -> Response:
    """GitHub's answer to a ``status`` fault: 429 (or 403 with ``retry_after``) the secondary
    rate limit, 403 the primary one (``X-RateLimit-Remaining: 0``), 500/502/503 GitHub's
    server errors, any other status a generic body; ``Retry-After`` when the fault has one."""
    status = int(fault.status or 500)
    headers: dict[str, str] = {}
    if status == 429 or (status == 403 and fault.retry_after is not None):
        msg = ("You have exceeded a secondary rate limit. Please wait a few minutes "
               "before you try again. If you reach out to GitHub Support for help, "
               "please include the request ID 0000:0000:0000000:0000000:00000000.")
        doc = ("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
               "#about-secondary-rate-limits")
    elif status == 403:
        with state.lock:
            login = g.get("login")
            uid = state.users[login].id if login in state.users else 0
        msg = (f"API rate limit exceeded for user ID {uid}. If you reach out to GitHub "
               "Support for help, please include the request ID "
               "0000:0000:0000000:0000000:00000000.")
        doc = ("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
               "#about-the-primary-rate-limit")
        headers["X-RateLimit-Remaining"] = "0"
        headers["X-RateLimit-Used"] = str(state.rate.limit)
    elif status == 502:
        msg, doc = "Server Error", DOCS
    elif status == 503:
        msg, doc = "Service Unavailable", DOCS
    elif status == 500:
        msg, doc = "Server Error", DOCS
    else:
        msg, doc = "Fault injected by the GitHub emulator", DOCS
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(fault.retry_after)) if float(
            fault.retry_after).is_integer() else str(fault.retry_after)
    resp = json_response(GitHubError(status, msg, doc=doc).body(), status, etag=False)
    for k, v in headers.items():
        resp.headers[k] = v
    return resp


# ---------------------------------------------------------------------- response helpers
def request_root() -> str:
    """``scheme://host:port`` of the current request, the root every served URL gets."""
    return f"{request.scheme}://{request.host}"


def json_response(obj: Any, status: int = 200, *, etag: bool = True,
                  link: str | None = None) -> Response:
    """Render ``obj`` for this request's host; ETag + If-None-Match → 304 on 2xx GETs."""
    payload = json.dumps(render.rehost(obj, request_root()), ensure_ascii=False,
                         separators=(",", ":")).encode("utf-8")
    headers: dict[str, str] = {}
    if link:
        headers["Link"] = link
    if etag and 200 <= status < 300:
        tag = hashlib.sha256(payload).hexdigest()
        headers["ETag"] = f'W/"{tag}"'
        if request.method in ("GET", "HEAD") and _etag_matches(
                request.headers.get("If-None-Match", ""), tag):
            headers["ETag"] = f'"{tag}"'  # GitHub answers a weak tag with the strong one
            headers.pop("Link", None)
            return Response(b"", 304, headers=headers)
    headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
    return Response(payload, status, headers=headers, content_type=JSON_TYPE)


def paginate(items: list, link_path: str, render_item: Callable[[Any], Any] | None = None) -> Response:
    """Answer one page of ``items`` (``per_page`` ≤ 100, default 30) with a GitHub ``Link``.

    ``render_item`` turns each item of the page into JSON; only the page is rendered.

    Raises:
        GitHubError: 422 when ``per_page`` or ``page`` is not an integer.
    """
    try:
        per_page = int(request.args.get("per_page", 30))
        page = int(request.args.get("page", 1))
    except ValueError:
        raise GitHubError(422, "Validation Failed") from None
    per_page = max(1, min(per_page, 100))
    page = max(1, page)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    if render_item is not None:
        chunk = [render_item(i) for i in chunk]
    params = [(k, v) for k, vs in request.args.lists() for v in vs if k != "page"]

    def url(p: int) -> str:
        return f"<{API_ROOT}{link_path}?{urlencode(params + [('page', p)])}>"

    rels = []
    if page > 1:
        rels.append(f'{url(min(page - 1, last))}; rel="prev"')
    if page < last:
        rels.append(f'{url(page + 1)}; rel="next"')
        rels.append(f'{url(last)}; rel="last"')
    if page > 1:
        rels.append(f'{url(1)}; rel="first"')
    link = ", ".join(rels) or None
    if link:
        link = link.replace(API_ROOT, request_root())
    return json_response(chunk, 200, link=link)


def _etag_matches(header: str, tag: str) -> bool:
    for part in header.split(","):
        part = part.strip()
        if part == "*":
            return True
        if part.startswith("W/"):
            part = part[2:]
        if part.strip('"') == tag:
            return True
    return False


def _json_body() -> Any:
    if not request.data:
        return {}
    try:
        return json.loads(request.data)
    except ValueError:
        raise GitHubError(400, "Problems parsing JSON") from None


def _need_login() -> str:
    login = g.get("login")
    if login is None:
        raise GitHubError(401, "Requires authentication")
    return login


# ---------------------------------------------------------------------- the route table
def _routes(app: Flask, state: GitHubState) -> None:  # noqa: C901 - one place for the route table
    def repo_of(kw: dict) -> str:
        rid = kw.get("rid")
        full = state.repo_ids.get(rid) if rid is not None else f"{kw.get('owner')}/{kw.get('name')}"
        if full is None or full not in state.repos:
            raise GitHubError(404, "Not Found")
        return full

    def find_issue(repo: str, number: int) -> Issue:
        issue = state.issues.get((repo, number))
        if issue is None:
            raise GitHubError(404, "Not Found")
        return issue

    def both(rule: str, **opts: Any) -> Callable:
        def deco(fn: Callable) -> Callable:
            app.add_url_rule("/repos/<owner>/<name>" + rule, fn.__name__ + "_n", fn, **opts)
            app.add_url_rule("/repositories/<int:rid>" + rule, fn.__name__ + "_i", fn, **opts)
            return fn
        return deco

    @app.get("/user")
    def get_user() -> Response:
        login = _need_login()
        with state.lock:
            return json_response(render.private_user(state, login))

    @app.get("/users/<login>")
    def get_named_user(login: str) -> Response:
        with state.lock:
            if login not in state.users:
                raise GitHubError(404, "Not Found")
            return json_response(render.public_user(state, login))

    @app.get("/rate_limit")
    def get_rate_limit() -> Response:
        with state.lock:
            return json_response(render.rate_limit_json(state.rate))

    @both("", methods=["GET"])
    def get_repo(**kw: Any) -> Response:
        with state.lock:
            return json_response(render.repo_json(state, repo_of(kw)))

    @both("/issues", methods=["GET"])
    def list_issues(**kw: Any) -> Response:
        with state.lock:
            repo = repo_of(kw)
            rid = state.repos[repo].id
            a = request.args
            state_arg = a.get("state", "open")
            if state_arg not in ("open", "closed", "all"):
                raise _invalid("Issue", "state")
            since = None
            if a.get("since"):
                try:
                    since = parse_ts(a["since"])
                except ValueError:
                    raise _invalid("Issue", "since") from None
            issues = [i for i in state.issues.values() if i.repo == repo]
            if state_arg != "all":
                issues = [i for i in issues if i.state == state_arg]
            if since is not None:
                issues = [i for i in issues if parse_ts(i.updated_at) >= since]
            if a.get("assignee") == "none":
                issues = [i for i in issues if not i.assignees]
            elif a.get("assignee") not in (None, "*"):
                issues = [i for i in issues if a["assignee"] in i.assignees]
            if a.get("creator"):
                issues = [i for i in issues if i.user == a["creator"]]
            if a.get("labels"):
                want = {x.strip() for x in a["labels"].split(",") if x.strip()}
                issues = [i for i in issues if want <= set(i.labels)]
            sort = a.get("sort", "created")
            keys = {"created": lambda i: (parse_ts(i.created_at), i.number),
                    "updated": lambda i: (parse_ts(i.updated_at), i.number),
                    "comments": lambda i: (len(i.comment_ids) + i.raw_comments, i.number)}
            if sort not in keys:
                raise _invalid("Issue", "sort")
            issues.sort(key=keys[sort], reverse=a.get("direction", "desc") != "asc")
            return paginate(issues, f"/repositories/{rid}/issues",
                            lambda i: render.issue_json(state, i))

    @both("/issues", methods=["POST"])
    def create_issue(**kw: Any) -> Response:
        login = _need_login()
        doc = "https://docs.github.com/rest/issues/issues#create-an-issue"
        with state.lock:
            repo = repo_of(kw)
            data = _json_body()
            title = data.get("title") if isinstance(data, dict) else None
            if title is None or title == "":
                raise _invalid("Issue", "title", "missing_field", doc)
            assignees = list(data.get("assignees") or [])
            if data.get("assignee"):
                assignees.insert(0, data["assignee"])
            bad = [a for a in assignees if a not in state.users]
            if bad:
                raise GitHubError(422, "Validation Failed", [
                    {"value": b, "resource": "Issue", "field": "assignees", "code": "invalid"}
                    for b in bad], doc=doc)
            issue = state.open_issue(repo, login, str(title), data.get("body") or None)
            number = issue.number
            if data.get("body") is None:
                state.set_body(repo, number, None)
            for a in assignees:
                state.assign(repo, number, login, a)
            for lb in data.get("labels") or []:
                state.add_label(repo, number, login, lb["name"] if isinstance(lb, dict) else lb)
            resp = json_response(render.issue_json(state, issue), 201)
            resp.headers["Location"] = f"{request_root()}/repos/{repo}/issues/{number}"
            return resp

    @both("/issues/<int:number>", methods=["GET"])
    def get_issue(number: int, **kw: Any) -> Response:
        with state.lock:
            return json_response(render.issue_json(state, find_issue(repo_of(kw), number)))

    @both("/issues/<int:number>", methods=["PATCH"])
    def edit_issue(number: int, **kw: Any) -> Response:
        login = _need_login()
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            data = _json_body()
            if not isinstance(data, dict):
                raise GitHubError(400, "Problems parsing JSON")
            if "state" in data and data["state"] not in ("open", "closed"):
                raise _invalid("Issue", "state")
            if "title" in data:
                if not data["title"]:
                    raise _invalid("Issue", "title", "missing_field")
                state.edit(repo, number, login, title=str(data["title"]))
            if "body" in data:
                state.set_body(repo, number, data["body"])
            wanted = None
            if "assignees" in data:
                wanted = [a for a in (data["assignees"] or []) if a in state.users]
            elif "assignee" in data:
                wanted = [data["assignee"]] if data["assignee"] in state.users else []
            if wanted is not None:
                for a in list(issue.assignees):
                    if a not in wanted:
                        state.unassign(repo, number, login, a)
                for a in wanted:
                    state.assign(repo, number, login, a)
            if "labels" in data:
                names = [lb["name"] if isinstance(lb, dict) else lb
                         for lb in data["labels"] or []]
                for n in list(issue.labels):
                    if n not in names:
                        state.remove_label(repo, number, login, n)
                for n in names:
                    state.add_label(repo, number, login, n)
            if "state" in data:
                state.set_state(repo, number, login, data["state"], reason=data.get("state_reason"))
            state.touch(repo, number)
            return json_response(render.issue_json(state, issue))

    @both("/issues/<int:number>/timeline", methods=["GET"])
    def get_timeline(number: int, **kw: Any) -> Response:
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            rid = state.repos[repo].id
            return paginate(render.timeline_json(state, issue),
                            f"/repositories/{rid}/issues/{number}/timeline")

    @both("/issues/<int:number>/events", methods=["GET"])
    def list_issue_events(number: int, **kw: Any) -> Response:
        """GitHub REST "List issue events": the issue's events (no comments, reviews or
        commits, which only the timeline carries), oldest first, ``Link`` pages."""
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            rid = state.repos[repo].id
            return paginate(render.issue_events_json(state, issue),
                            f"/repositories/{rid}/issues/{number}/events")

    @both("/issues/<int:number>/labels/<path:label>", methods=["DELETE"])
    def remove_label(number: int, label: str, **kw: Any) -> Response:
        """GitHub REST "Remove a label from an issue": 200 with the labels left, 404
        ``Label does not exist`` when the issue does not carry it."""
        login = _need_login()
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            if label not in issue.labels:
                raise GitHubError(404, "Label does not exist",
                                  doc="https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
            state.remove_label(repo, number, login, label)
            return json_response([render.label_json(state, repo, n) for n in issue.labels])

    @both("/issues/<int:number>/comments", methods=["GET"])
    def list_comments(number: int, **kw: Any) -> Response:
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            rid = state.repos[repo].id
            comments = render.comments_json(state, issue)
            if request.args.get("since"):
                try:
                    since = parse_ts(request.args["since"])
                except ValueError:
                    raise GitHubError(422, "Validation Failed") from None
                comments = [c for c in comments if parse_ts(c["updated_at"]) >= since]
            return paginate(comments, f"/repositories/{rid}/issues/{number}/comments")

    @both("/issues/<int:number>/comments", methods=["POST"])
    def create_comment(number: int, **kw: Any) -> Response:
        login = _need_login()
        with state.lock:
            repo = repo_of(kw)
            find_issue(repo, number)
            data = _json_body()
            body = data.get("body") if isinstance(data, dict) else None
            if not body:
                raise _invalid("IssueComment", "body", "missing_field",
                               "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
            comment = state.comment(repo, number, login, str(body))
            resp = json_response(comment, 201)
            resp.headers["Location"] = render.rehost(comment, request_root())["url"]
            return resp

    @both("/issues/<int:number>/assignees", methods=["POST", "DELETE"])
    def change_assignees(number: int, **kw: Any) -> Response:
        login = _need_login()
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            data = _json_body()
            names = data.get("assignees") if isinstance(data, dict) else None
            if not isinstance(names, list):
                raise _invalid("Issue", "assignees", "missing_field")
            for a in names:
                if a not in state.users:
                    continue  # GitHub silently ignores users who cannot be assigned
                if request.method == "POST":
                    state.assign(repo, number, login, a)
                else:
                    state.unassign(repo, number, login, a)
            return json_response(render.issue_json(state, issue),
                                 201 if request.method == "POST" else 200)

    @both("/issues/<int:number>/labels", methods=["POST"])
    def add_labels(number: int, **kw: Any) -> Response:
        login = _need_login()
        with state.lock:
            repo = repo_of(kw)
            issue = find_issue(repo, number)
            data = _json_body()
            names = data.get("labels") if isinstance(data, dict) else data
            if not isinstance(names, list):
                raise _invalid("Label", "labels")
            for lb in names:
                state.add_label(repo, number, login,
                                lb["name"] if isinstance(lb, dict) else str(lb))
            return json_response([render.label_json(state, repo, n) for n in issue.labels])

    @both("/pulls", methods=["GET"])
    def list_pulls(**kw: Any) -> Response:
        """GitHub REST "List pull requests": ``pull-request-simple`` items, ``Link`` pages."""
        with state.lock:
            repo = repo_of(kw)
            rid = state.repos[repo].id
            a = request.args
            state_arg = a.get("state", "open")
            if state_arg not in ("open", "closed", "all"):
                raise _invalid("PullRequest", "state")
            # Recorded items have no pull-request state to render (GET /pulls/{n} is a
            # 404 for them too).
            pulls = [i for i in state.issues.values()
                     if i.repo == repo and i.is_pr and i.raw is None]
            if state_arg != "all":
                pulls = [i for i in pulls if i.state == state_arg]
            if a.get("head"):
                owner_ref = a["head"]
                owner = state.repos[repo].owner
                pulls = [i for i in pulls if f"{owner}:{i.head_ref}" == owner_ref]
            if a.get("base") and a["base"] != "main":
                pulls = []
            sort = a.get("sort", "created")
            keys = {"created": lambda i: (parse_ts(i.created_at), i.number),
                    "updated": lambda i: (parse_ts(i.updated_at), i.number),
                    "popularity": lambda i: (len(i.comment_ids), i.number),
                    "long-running": lambda i: (parse_ts(i.created_at), i.number)}
            if sort not in keys:
                raise _invalid("PullRequest", "sort")
            # "Default: desc when sort is created or sort is not specified, otherwise asc."
            direction = a.get("direction", "desc" if sort == "created" else "asc")
            if direction not in ("asc", "desc"):
                raise _invalid("PullRequest", "direction")
            pulls.sort(key=keys[sort], reverse=direction == "desc")
            return paginate(pulls, f"/repositories/{rid}/pulls",
                            lambda i: render.pull_simple_json(state, i))

    @both("/pulls/<int:number>", methods=["GET"])
    def get_pull(number: int, **kw: Any) -> Response:
        with state.lock:
            issue = find_issue(repo_of(kw), number)
            if not issue.is_pr or issue.raw is not None:
                raise GitHubError(404, "Not Found")
            return json_response(render.pull_json(state, issue))

    @both("/pulls/<int:number>/requested_reviewers", methods=["GET"])
    def get_requested_reviewers(number: int, **kw: Any) -> Response:
        with state.lock:
            issue = find_issue(repo_of(kw), number)
            if not issue.is_pr:
                raise GitHubError(404, "Not Found")
            return json_response(
                {"users": [render.simple_user(state, r) for r in issue.requested_reviewers],
                 "teams": [render.team_json(issue.repo.split("/")[0], t) for t in issue.requested_teams]})
