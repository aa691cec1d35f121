"""The Jira emulator's HTTP face: the Flask app over a :class:`JiraEmulator`'s state.

Holds :func:`build_app` (the request hooks: authentication, injected faults, the request
log, v3 on Data Center as 404; Jira's ``ErrorCollection`` error bodies; and the route table
of the REST subset, with its request parsing, ``startAt``/``nextPageToken`` pagination and
``fields``/``expand`` selection) and :func:`fault_response` (the vendor-shaped answer to an
injected ``status`` fault, with ``Retry-After`` and Jira's ``X-RateLimit-*`` headers on a
429). Records change through :class:`JiraState`; JSON comes from :class:`JiraRenderer`.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from connectors.sandbox.emulation import Fault, lost_response_middleware
from connectors.sandbox.jira.jql import parse_jql, search
from connectors.sandbox.jira.render import CUSTOM_FIELDS, FIELD_IDS, SYSTEM_FIELDS, adf_to_text, field_list
from connectors.sandbox.jira.state import FLAG_OPTION, FLAG_OPTION_ID, FLAGGED_FIELD, LINK_TYPES, JiraError

if TYPE_CHECKING:
    from connectors.sandbox.jira.emulator import JiraEmulator

JSON_TYPE = "application/json;charset=UTF-8"
ISSUE_EMBEDDED_CHANGELOG_LIMIT = 100
RATE_LIMIT = 350  # shown in X-RateLimit-Limit on injected 429s
_AUTH_MSG = "Client must be authenticated to access this resource."


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _untoken(tok: str) -> int:
    try:
        pad = "=" * (-len(tok) % 4)
        return int(json.loads(base64.urlsafe_b64decode(tok + pad))["o"])
    except (ValueError, KeyError, TypeError):
        raise JiraError(400, f"Invalid nextPageToken: '{tok}'") from None


def json_response(body: Any, status: int = 200) -> Response:
    """``body`` as JSON with Jira's ``Content-Type``."""
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


def fault_response(fault: Fault, clock: Callable[[], datetime]) -> Response:
    """Jira's answer to an injected ``status`` fault: an ``ErrorCollection`` body; on a 429
    ``X-RateLimit-Limit/-Remaining/-Reset`` (reset = ``clock()`` + ``retry_after`` seconds,
    default 60; the clock is read only then) and ``RateLimit-Reason``; ``Retry-After``
    whenever the fault sets it."""
    status = int(fault.status or 500)
    headers: dict[str, str] = {}
    if status == 429:
        msgs = ["Rate limit exceeded."]
        reset = clock() + timedelta(seconds=float(fault.retry_after or 60))
        headers.update({"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset.astimezone(timezone.utc)
                        .strftime("%Y-%m-%dT%H:%MZ"),
                        "RateLimit-Reason": "jira-burst-based"})
    elif status == 503:
        msgs = ["Service Unavailable"]
    elif status >= 500:
        msgs = ["Internal server error"]
    else:
        msgs = ["Fault injected by the Jira emulator"]
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(float(fault.retry_after)))
    resp = json_response(JiraError(status, msgs).body(), status)
    for k, v in headers.items():
        resp.headers[k] = v
    return resp


# ---------------------------------------------------------------------- request parsing
def root_url() -> str:
    """``scheme://host:port`` of the current request: the root of every ``self`` link."""
    return f"{request.scheme}://{request.host}"


def json_body() -> Any:
    """The request's JSON body (``{}`` when empty); 400 when it is not JSON."""
    if not request.data:
        return {}
    try:
        return json.loads(request.data)
    except ValueError:
        raise JiraError(400, "Unexpected character in the request body: not valid JSON.") \
            from None


def need_account() -> str:
    """The authenticated accountId; 401 for an anonymous request."""
    aid = g.get("account")
    if aid is None:
        raise JiraError(401, _AUTH_MSG)
    return aid


def search_params() -> dict:
    """Merge query args and a JSON body into one dict (lists kept for ``fields``)."""
    if request.method == "POST":
        data = json_body()
        if not isinstance(data, dict):
            raise JiraError(400, "Request body must be a JSON object.")
        out = {k: v for k, v in data.items() if v is not None}
        if isinstance(out.get("fields"), str):
            out["fields"] = [out["fields"]]
        if isinstance(out.get("expand"), list):
            out["expand"] = ",".join(out["expand"])
        return out
    a = request.args
    out = {k: a.get(k) for k in a if k != "fields"}
    if "fields" in a:
        out["fields"] = a.getlist("fields")
    return out


def int_param(params: Any, name: str, default: int) -> int:
    """``params[name]`` as an int (``default`` when absent or empty); 400 when not a number."""
    v = params.get(name)
    if v in (None, ""):
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise JiraError(400, f"The value '{v}' is invalid for the parameter '{name}'.") from None


#: ``*navigable``: the navigable system fields, then the navigable custom ones.
NAVIGABLE = [f[0] for f in SYSTEM_FIELDS if f[4]] + [f[0] for f in CUSTOM_FIELDS if f[3]]


def select_fields(raw: list[str] | None, default: list[str] | None) -> list[str] | None:
    """Resolve a ``fields`` request list (``*all``, ``*navigable``, ``-name``, ids, comma
    lists) into field ids; None = all, ``["id"]`` = id only; ``default`` when none asked."""
    names: list[str] = []
    for part in raw or []:
        names.extend(x.strip() for x in str(part).split(",") if x.strip())
    if not names:
        return default
    include: list[str] = []
    exclude = {n[1:] for n in names if n.startswith("-")}
    for n in names:
        if n.startswith("-"):
            continue
        if n == "*all":
            include.extend(FIELD_IDS)
        elif n == "*navigable":
            include.extend(NAVIGABLE)
        elif n == "id" and len(names) == 1:
            return ["id"]
        elif n in FIELD_IDS:
            include.append(n)
    if not include and exclude:
        include = list(NAVIGABLE)
    return [f for f in dict.fromkeys(include) if f not in exclude]


# ---------------------------------------------------------------------- the app
def build_app(emu: JiraEmulator) -> Flask:  # noqa: C901 - one place for the route table
    """The Flask app serving ``emu`` (its state, renderer, tokens, faults and request log),
    wrapped in the lost-response middleware."""
    st, rend = emu.state, emu.render
    app = Flask("jira_emulator")
    app.url_map.strict_slashes = False

    def authenticate() -> tuple[str | None, bool]:
        """Return (accountId or None, credentials were bad)."""
        auth = request.headers.get("Authorization", "")
        if not auth:
            return None, False
        scheme, _, cred = auth.partition(" ")
        cred = cred.strip()
        with st._lock:
            if emu.cloud and scheme.lower() == "basic":
                try:
                    email, _, token = base64.b64decode(cred).decode().partition(":")
                except ValueError:
                    return None, True
                aid = emu._tokens.get(token)
                if aid is None:
                    return None, True
                want = st._users[aid].get("email")
                if want is not None and want.lower() != email.lower():
                    return None, True
                return aid, False
            if not emu.cloud and scheme.lower() == "bearer":
                aid = emu._tokens.get(cred)
                return aid, aid is None
        return None, True

    def viewer_tz() -> str:
        """The authenticated user's time zone, else the site's."""
        aid = g.get("account")
        return st._users[aid]["timeZone"] if aid in st._users else emu.site_time_zone

    @app.before_request
    def _before() -> Response | None:
        g.account, bad = authenticate()
        faulted = emu.inject_fault()
        if faulted is not None:
            return faulted
        if bad:
            raise JiraError(401, _AUTH_MSG)
        ver = (request.view_args or {}).get("ver")
        if ver == "3" and not emu.cloud:
            raise JiraError(404, "null for uri: " + request.url)
        return None

    @app.after_request
    def _after(resp: Response) -> Response:
        return emu.log_served(resp)

    @app.errorhandler(JiraError)
    def _jira_error(e: JiraError) -> Response:
        resp = json_response(e.body(), e.status)
        for k, v in e.headers.items():
            resp.headers[k] = v
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        status = e.code or 500
        msg = "null for uri: " + request.url if status == 404 else (e.name or "Error")
        return json_response(JiraError(status, msg).body(), status)

    API = "/rest/api/<any('2','3','latest'):ver>"

    def v(ver: str) -> str:
        return "2" if ver == "latest" else ver

    def cloud_only() -> None:
        if not emu.cloud:
            raise JiraError(404, "null for uri: " + request.url)

    @app.get(API + "/serverInfo")
    def server_info(ver: str) -> Response:
        return json_response(rend.server_info(root_url(), st.clock(), viewer_tz(),
                                              emu.site_time_zone))

    @app.get(API + "/myself")
    def myself(ver: str) -> Response:
        aid = need_account()
        with st._lock:
            return json_response(rend.user(aid, v(ver), root_url(), full=True))

    @app.get(API + "/field")
    def fields(ver: str) -> Response:
        need_account()
        return json_response(field_list())

    def user_matches(u: dict, q: str) -> bool:
        q = q.lower()
        return (q in u["displayName"].lower() or q in (u.get("email") or "").lower()
                or q == u["accountId"].lower())

    def list_users(assignable: bool, ver: str) -> Response:
        need_account()
        a = request.args
        q = a.get("query") or a.get("username") or ""
        aid = a.get("accountId")
        if not q and not aid:
            if assignable and (a.get("project") or a.get("issueKey")):
                pass
            else:
                raise JiraError(400, "The query parameter 'query' or 'accountId' is "
                                     "required." if emu.cloud else
                                "The username query parameter was not provided")
        with st._lock:
            if a.get("issueKey"):
                st._need_issue(a["issueKey"])
            users = [u for u in st._users.values()
                     if (aid is None or u["accountId"] == aid)
                     and (not q or user_matches(u, q))]
            start = int_param(a, "startAt", 0)
            mx = int_param(a, "maxResults", 50)
            root = root_url()
            return json_response([rend.user(u["accountId"], v(ver), root)
                                  for u in users[start:start + mx]])

    @app.get(API + "/user/search")
    def user_search(ver: str) -> Response:
        return list_users(False, ver)

    @app.get(API + "/user/assignable/search")
    def user_assignable(ver: str) -> Response:
        return list_users(True, ver)

    @app.get(API + "/user")
    def get_user(ver: str) -> Response:
        need_account()
        aid = request.args.get("accountId") or request.args.get("username")
        with st._lock:
            if aid not in st._users:
                raise JiraError(404, "Specified user does not exist or you do not have "
                                     "required permissions")
            return json_response(rend.user(aid, v(ver), root_url(), full=True))

    @app.get(API + "/issueLinkType")
    def link_types(ver: str) -> Response:
        need_account()
        return json_response({"issueLinkTypes": [
            rend.link_type(r, v(ver), root_url()) for r in LINK_TYPES]})

    @app.route(API + "/search/jql", methods=["GET", "POST"])
    def search_jql(ver: str) -> Response:
        cloud_only()
        need_account()
        p = search_params()
        with st._lock:
            if not parse_jql(p.get("jql") or "", viewer_tz()).clauses:
                raise JiraError(400, "Unbounded JQL queries are not allowed here. Please "
                                     "add a search restriction to your query.")
            issues = search(st, p.get("jql") or "", viewer_tz())
            mx = max(1, min(int_param(p, "maxResults", 50), 5000))
            off = _untoken(p["nextPageToken"]) if p.get("nextPageToken") else 0
            raw_fields = p.get("fields")
            sel = select_fields(raw_fields, ["id"])
            if sel is None or len(sel) > 1:
                mx = min(mx, 100)  # Cloud pages fewer issues when many fields are asked
            expand = [x.strip() for x in str(p.get("expand") or "").split(",")]
            page = issues[off:off + mx]
            root, tz = root_url(), viewer_tz()
            limit = emu.embedded_changelog_limit if "changelog" in expand else -1
            body: dict[str, Any] = {"issues": [
                rend.issue(i, v(ver), root, tz, sel, limit) for i in page]}
            if off + mx < len(issues):
                body["nextPageToken"] = _token(off + mx)
                body["isLast"] = False
            else:
                body["isLast"] = True
            return json_response(body)

    @app.route(API + "/search", methods=["GET", "POST"])
    def search_dc(ver: str) -> Response:
        need_account()
        if emu.cloud:
            raise JiraError(410, "The requested API has been removed. Please migrate to "
                                 "the /rest/api/3/search/jql API. A full migration "
                                 "guideline is available at https://developer.atlassian."
                                 "com/changelog/#CHANGE-2046")
        p = search_params()
        with st._lock:
            issues = search(st, p.get("jql") or "", viewer_tz())
            start = max(0, int_param(p, "startAt", 0))
            mx = max(0, min(int_param(p, "maxResults", 50), 1000))
            sel = select_fields(p.get("fields"), list(NAVIGABLE))
            expand = [x.strip() for x in str(p.get("expand") or "").split(",")]
            root, tz = root_url(), viewer_tz()
            limit = emu.embedded_changelog_limit if "changelog" in expand else -1
            return json_response({
                "expand": "schema,names", "startAt": start, "maxResults": mx,
                "total": len(issues),
                "issues": [rend.issue(i, v(ver), root, tz, sel, limit)
                           for i in issues[start:start + mx]]})

    @app.get(API + "/issue/<key>")
    def get_issue(ver: str, key: str) -> Response:
        need_account()
        with st._lock:
            issue = st._need_issue(key)
            sel = select_fields(request.args.getlist("fields"), None)
            expand = [x.strip() for x in request.args.get("expand", "").split(",")]
            limit = (ISSUE_EMBEDDED_CHANGELOG_LIMIT if emu.cloud else None) \
                if "changelog" in expand else -1
            return json_response(rend.issue(issue, v(ver), root_url(), viewer_tz(), sel, limit))

    @app.post(API + "/issue")
    def create_issue(ver: str) -> Response:
        aid = need_account()
        data = json_body()
        f = data.get("fields") if isinstance(data, dict) else None
        if not isinstance(f, dict):
            raise JiraError(400, "Field 'fields' is required.")
        errors: dict[str, str] = {}
        with st._lock:
            proj = f.get("project") or {}
            pkey = proj.get("key") or next((k for k, p in st._projects.items()
                                            if p["id"] == str(proj.get("id"))), None)
            if pkey not in st._projects:
                errors["project"] = "Specify a valid project ID or key"
            if not f.get("summary"):
                errors["summary"] = "You must specify a summary of the issue."
            itype = f.get("issuetype") or {}
            if not (itype.get("name") or itype.get("id")):
                errors["issuetype"] = "Specify an issue type"
            assignee = None
            if f.get("assignee"):
                assignee = f["assignee"].get("accountId" if emu.cloud else "name")
                if assignee not in st._users:
                    errors["assignee"] = f"User '{assignee}' does not exist."
            if f.get("duedate"):
                try:
                    date.fromisoformat(f["duedate"])
                except (TypeError, ValueError):
                    errors["duedate"] = "Error parsing date string: " + str(f["duedate"])
            if errors:
                raise JiraError(400, [], errors)
            desc = f.get("description")
            desc = adf_to_text(desc) if isinstance(desc, dict) else desc
            key = st.create_issue(pkey, aid, str(f["summary"]), desc or "",
                                  assignee=assignee, labels=f.get("labels") or (),
                                  duedate=f.get("duedate"),
                                  issuetype=itype.get("name") or "Task")
            issue = st._issues[key]
            return json_response({"id": str(issue.id), "key": key,
                                  "self": f"{root_url()}/rest/api/{v(ver)}/issue/"
                                          f"{issue.id}"}, 201)

    @app.put(API + "/issue/<key>")
    def edit_issue(ver: str, key: str) -> Response:
        aid = need_account()
        data = json_body()
        if not isinstance(data, dict):
            raise JiraError(400, "Request body must be a JSON object.")
        with st._lock:
            issue = st._need_issue(key)
            f, upd = data.get("fields") or {}, data.get("update") or {}
            unsupported = (set(f) | set(upd)) - {"labels", "duedate", "summary", "description", FLAGGED_FIELD}
            if unsupported:
                raise JiraError(400, [], {n: f"Field '{n}' cannot be set. It is not on the "
                                             "appropriate screen, or unknown."
                                          for n in sorted(unsupported)})
            when = st._when(None)
            if "summary" in f or "description" in f:
                desc = f.get("description")
                if "description" in f and v(ver) == "3" and desc is not None and not isinstance(desc, dict):
                    raise JiraError(400, [], {"description": "Operation value must be an "
                                                             "Atlassian Document (see the "
                                                             "Atlassian Document Format)"})
                st._edit(issue, aid, str(f["summary"]) if "summary" in f else None,
                         (adf_to_text(desc) if desc is not None else "") if "description" in f else None,
                         when)
            labels = list(issue.labels)
            if "labels" in f:
                labels = list(f["labels"] or [])
            for op in upd.get("labels", []):
                if "add" in op:
                    labels.append(op["add"])
                if "remove" in op:
                    labels = [x for x in labels if x != op["remove"]]
                if "set" in op:
                    labels = list(op["set"] or [])
            if "labels" in f or "labels" in upd:
                st._set_labels(issue, aid, labels, when)
            if FLAGGED_FIELD in f:  # [{"value": "Impediment"}] or [{"id": "10019"}] flags; null or [] clears
                options = f[FLAGGED_FIELD] or []
                if not isinstance(options, list) or any(
                        not isinstance(o, dict) or (o.get("value"), o.get("id")) not in
                        ((FLAG_OPTION, None), (None, FLAG_OPTION_ID), (FLAG_OPTION, FLAG_OPTION_ID)) for o in options):
                    raise JiraError(400, [], {FLAGGED_FIELD: f"Option value '{options}' is not valid"})
                st._set_flagged(issue, aid, bool(options), when)
            if "duedate" in f:
                try:
                    st._set_duedate(issue, aid, f["duedate"], when)
                except (TypeError, ValueError):
                    raise JiraError(400, [], {"duedate": "Error parsing date string: "
                                                         + str(f["duedate"])}) from None
            return Response(status=204)

    @app.put(API + "/issue/<key>/assignee")
    def assign(ver: str, key: str) -> Response:
        aid = need_account()
        data = json_body()
        if not isinstance(data, dict):
            raise JiraError(400, "Request body must be a JSON object.")
        who = data.get("accountId" if emu.cloud else "name")
        if who == "-1":
            who = None  # "automatic": projects here have no default assignee
        with st._lock:
            issue = st._need_issue(key)
            if who is not None and who not in st._users:
                raise JiraError(404 if emu.cloud else 400,
                                [] if not emu.cloud else [f"User '{who}' does not exist."],
                                {} if emu.cloud else {"assignee": f"User '{who}' does not "
                                                                  "exist."})
            st.assign(issue.key, aid, who)
            return Response(status=204)

    @app.get(API + "/issue/<key>/changelog")
    def changelog(ver: str, key: str) -> Response:
        cloud_only()
        need_account()
        with st._lock:
            issue = st._need_issue(key)
            start = max(0, int_param(request.args, "startAt", 0))
            mx = max(1, min(int_param(request.args, "maxResults", 100), 100))
            root, tz = root_url(), viewer_tz()
            hs = issue.histories
            base = f"{root}/rest/api/{v(ver)}/issue/{key}/changelog"
            body: dict[str, Any] = {
                "self": f"{base}?maxResults={mx}&startAt={start}",
                "maxResults": mx, "startAt": start, "total": len(hs),
                "isLast": start + mx >= len(hs),
                "values": [rend.history(h, v(ver), root, tz) for h in hs[start:start + mx]]}
            if not body["isLast"]:
                body["nextPage"] = f"{base}?maxResults={mx}&startAt={start + mx}"
            return json_response(body)

    @app.post(API + "/changelog/bulkfetch")
    def bulkfetch(ver: str) -> Response:
        cloud_only()
        need_account()
        data = json_body()
        ids = data.get("issueIdsOrKeys") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 1000:
            raise JiraError(400, "issueIdsOrKeys must list between 1 and 1000 issue IDs or "
                                 "keys.")
        fids = data.get("fieldIds") or []
        if len(fids) > 10:
            raise JiraError(400, "fieldIds accepts at most 10 field IDs.")
        mx = max(1, min(int(data.get("maxResults") or 1000), 10000))
        off = _untoken(data["nextPageToken"]) if data.get("nextPageToken") else 0
        with st._lock:
            rows = []
            for ref in ids:
                try:
                    issue = st._need_issue(str(ref))
                except JiraError:
                    continue  # unknown or invisible issues are silently left out
                for h in issue.histories:
                    items = [it for it in h["items"]
                             if not fids or it.get("fieldId", it["field"]) in fids]
                    if items:
                        rows.append((h["created"], issue.id, h, items))
            rows.sort(key=lambda r: (r[0], r[1], int(r[2]["id"])))
            page = rows[off:off + mx]
            root, tz = root_url(), viewer_tz()
            grouped: dict[int, list] = {}
            for _, iid, h, items in page:
                hj = rend.history(h, v(ver), root, tz)
                hj["items"] = copy.deepcopy(items)
                grouped.setdefault(iid, []).append(hj)
            body: dict[str, Any] = {"issueChangeLogs": [
                {"issueId": str(iid), "changeHistories": hs} for iid, hs in grouped.items()]}
            if off + mx < len(rows):
                body["nextPageToken"] = _token(off + mx)
            return json_response(body)

    @app.get(API + "/issue/<key>/comment")
    def list_comments(ver: str, key: str) -> Response:
        need_account()
        a = request.args
        order = a.get("orderBy", "created")
        if order not in ("created", "+created", "-created"):
            raise JiraError(400, f"Invalid orderBy value '{order}'; use 'created', "
                                 "'+created' or '-created'.")
        with st._lock:
            issue = st._need_issue(key)
            cs = [st._comments[i] for i in issue.comment_ids]
            cs.sort(key=lambda c: (c["created"], c["id"]), reverse=order == "-created")
            start = max(0, int_param(a, "startAt", 0))
            mx = max(0, min(int_param(a, "maxResults", 100), 5000))
            root, tz = root_url(), viewer_tz()
            return json_response({
                "startAt": start, "maxResults": mx, "total": len(cs),
                "comments": [rend.comment(c, v(ver), root, tz)
                             for c in cs[start:start + mx]]})

    @app.post(API + "/issue/<key>/comment")
    def add_comment(ver: str, key: str) -> Response:
        aid = need_account()
        data = json_body()
        body = data.get("body") if isinstance(data, dict) else None
        if v(ver) == "3" and not isinstance(body, dict):
            raise JiraError(400, [], {"comment": "Comment body is not valid!"})
        if v(ver) == "2" and not isinstance(body, str):
            raise JiraError(400, [], {"comment": "Comment body can not be empty!"})
        text = adf_to_text(body)
        if not text.strip():
            raise JiraError(400, [], {"comment": "Comment body can not be empty!"})
        with st._lock:
            issue = st._need_issue(key)
            c = st.comment(issue.key, aid, text)
            return json_response(rend.comment(c, v(ver), root_url(), viewer_tz()), 201)

    @app.post(API + "/issueLink")
    def create_link(ver: str) -> Response:
        aid = need_account()
        data = json_body()
        if not isinstance(data, dict):
            raise JiraError(400, "Request body must be a JSON object.")
        t = data.get("type") or {}
        row = next((r for r in LINK_TYPES
                    if r[1] == t.get("name") or r[0] == str(t.get("id"))), None)
        if row is None:
            raise JiraError(404, f"No issue link type with name '{t.get('name')}' found.")

        def ref(side: str) -> str:
            r = data.get(side) or {}
            return str(r.get("key") or r.get("id") or "")

        with st._lock:
            inward = st._need_issue(ref("inwardIssue")).key
            outward = st._need_issue(ref("outwardIssue")).key
            st._create_link(row, inward, outward, aid, st._when(None))
            if isinstance(data.get("comment"), dict) and data["comment"].get("body"):
                st.comment(inward, aid, adf_to_text(data["comment"]["body"]))
        return Response(status=201)

    @app.delete(API + "/issueLink/<link_id>")
    def delete_link(ver: str, link_id: str) -> Response:
        aid = need_account()
        with st._lock:
            lid = int(link_id) if link_id.isdigit() else -1
            if lid not in st._links:
                raise JiraError(404, f"No issue link with id '{link_id}' exists.")
            st._delete_link(lid, aid, st._when(None))
        return Response(status=204)

    @app.get(API + "/issue/<key>/remotelink")
    def get_remote_links(ver: str, key: str) -> Response:
        need_account()
        with st._lock:
            issue = st._need_issue(key)
            root = root_url()
            gid = request.args.get("globalId")
            if gid is not None:
                rl = next((r for r in issue.remote_links if r.get("globalId") == gid), None)
                if rl is None:
                    raise JiraError(404, "No remote link with the given globalId.")
                return json_response(rend.remote_link(issue, rl, v(ver), root))
            return json_response([rend.remote_link(issue, rl, v(ver), root)
                                  for rl in issue.remote_links])

    @app.post(API + "/issue/<key>/remotelink")
    def post_remote_link(ver: str, key: str) -> Response:
        aid = need_account()
        data = json_body()
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
            raise JiraError(400, [], {"object": "'object' with 'url' and 'title' is "
                                                "required."})
        with st._lock:
            issue = st._need_issue(key)
            rl, created = st._add_remote(issue, aid, obj, data.get("globalId"),
                                         data.get("application"), data.get("relationship"),
                                         st._when(None))
            return json_response(
                {"id": rl["id"], "self": f"{root_url()}/rest/api/{v(ver)}/issue/"
                                         f"{issue.key}/remotelink/{rl['id']}"},
                201 if created else 200)

    @app.get("/rest/applinks/latest/listApplicationlinks")
    def applinks() -> Response:
        # Non-admin accounts may not list application links; the jira client falls
        # back to an empty list (with a warning) on any error here.
        need_account()
        raise JiraError(403, "You do not have permission to list application links.")

    app.wsgi_app = lost_response_middleware(app.wsgi_app)  # type: ignore[method-assign]
    return app
