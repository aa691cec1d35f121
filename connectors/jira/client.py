"""Jira connector (Cloud and Data Center): polls JQL scopes through the official ``jira``
client's session, writes comments, assignments and drafted issues back.

Reading (cost follows the change; DESIGN.md "Connectors"):

- per scope (one configured JQL) and cycle: ``<jql> AND updated >= "<minute>" ORDER BY
  updated ASC`` with ``expand=changelog``. Cloud: ``GET /rest/api/3/search/jql`` paged by
  ``nextPageToken`` (``isLast`` or no token ends it). Data Center: ``GET /rest/api/2/search``
  paged by ``startAt``/``total``. An idle cycle is exactly one request.
- the minute: the newest ``updated`` seen minus ``overlap``, floored to the minute and
  written in the **bot user's time zone** (``GET /myself`` → ``timeZone``, read once),
  because JQL date literals are read in the searching user's zone with minute granularity.
  Overlap re-reads are harmless: the store dedups events by id.
- extra requests only when an issue's embedded changelog is truncated (``total`` greater
  than the histories served) *and* it may hide unread histories (the issue is new to us, or
  the oldest embedded history is newer than what we stored): Cloud ``POST
  /rest/api/3/changelog/bulkfetch`` for all such issues of a page at once; Data Center
  ``GET /rest/api/2/issue/{key}?expand=changelog``. Likewise a truncated ``comment`` field
  (``GET /rest/api/2/issue/{key}/comment``), and ``GET /issue/{key}/remotelink`` when a new
  ``RemoteIssueLink`` history appears.
- cursor: ``{"updated": ISO-8601 UTC of the newest updated seen, "tz": bot time zone}``.
- accounts (``PollResult.accounts``) come from the user objects already embedded in the
  issues, histories and comments read: no request of their own.
- ``fetch(ref)`` (the live re-check of one issue): ``GET /rest/api/{3|2}/issue/{key}
  ?expand=changelog`` with the search's fields, plus ``/changelog/bulkfetch`` when more
  than the 100 embedded histories exist (Cloud), comment pages when the ``comment`` field
  is truncated, and ``/issue/{key}/remotelink`` when the issue ever had a remote link.

Writing (wiki markup through REST v2; DESIGN.md "Actions"): comment ``POST
/rest/api/2/issue/{key}/comment``; reassign ``PUT /rest/api/2/issue/{key}/assignee``
(``{"accountId"}`` on Cloud, ``{"name"}`` on Data Center) then the comment; draft ``POST
/rest/api/2/issue`` (type Task, same project, assigned to the receiver, ``duedate`` = the
UTC calendar date of ``action.due``) then ``POST /rest/api/2/issueLink`` ("Relates"); label
``PUT /rest/api/2/issue/{key}`` ``update.labels.add``.

The ``jira`` client's ``ResilientSession`` retries 429/503 and connection errors (POST
included) with sleeps; it is built with ``max_retries=0``, so nothing is ever retried
here: a lost write raises ``OutcomeUnknown`` and the engine reconciles by marker. Statuses
become errors through ``connectors.http`` (the tree is drawn in ``bridge/core/errors.py``);
429 is ``RateLimited`` (``Retry-After`` seconds or HTTP date, else ``X-RateLimit-Reset``).
``JIRAError`` texts carry the request headers (the credential) and the response's cookies:
the error is chained from a copy holding only status, URL and Jira's message (``_cause``).
Markup (wiki, mentions per deployment): ``connectors.jira.markup``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

import requests
from jira import JIRA, JIRAError

from bridge.core import errors
from bridge.core.model import Account, Action, ActionKind, ActionResult, ItemRef, PollResult
from connectors import http
from connectors.base import register
from connectors.jira import mapping, markup
from connectors.jira.settings import JiraConnectorConfig

FIELDS = ["summary", "status", "assignee", "reporter", "creator", "labels", "issuelinks",
          "resolution", "created", "updated", "description", "comment", "project", "duedate"]
_PLAIN_JQL = re.compile(r'\b(or|not)\b|[()]', re.I)


def _later(newest: datetime | None, other: datetime | str | None) -> datetime | None:
    """The later of ``newest`` and ``other`` (a datetime or Jira's time text; unreadable: ignored)."""
    if isinstance(other, str):
        try:
            other = mapping.parse_time(other)
        except (ValueError, TypeError):
            return newest
    if not isinstance(other, datetime):
        return newest
    return other if newest is None or other > newest else newest


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jql_minute(at: datetime, tz: str) -> str:
    """``"2026-11-23 09:05"``: ``at`` floored to the minute in zone ``tz`` (JQL date literal)."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def scoped_jql(jql: str, since: str | None) -> str:
    """``(<jql>) AND updated >= "<since>" ORDER BY updated ASC``.

    A plain conjunction (no OR, NOT or parentheses) is not parenthesized: same meaning,
    and it keeps to the JQL subset the local emulator parses.
    """
    base = jql.strip()
    if since is None:
        return f"{base} ORDER BY updated ASC"
    if _PLAIN_JQL.search(re.sub(r'"[^"]*"', '""', base)):
        base = f"({base})"
    return f'{base} AND updated >= "{since}" ORDER BY updated ASC'


@register("jira")
class JiraConnector:
    """Poll and write one Jira site.

    Args:
        name: config section name.
        base_url: site root, e.g. ``https://acme.atlassian.net`` or an emulator URL.
        deployment: ``"cloud"`` (Basic ``email`` + API token) or ``"datacenter"`` (PAT).
        token: API token / PAT (never logged, never in an error text).
        email: Cloud only: the token's account e-mail.
        jql: the queries polled, one scope each.
        overlap: how far before the cursor each poll re-reads (wall clock).
        timeout: seconds per HTTP request.
        page_size: issues per search page.
        clock: aware UTC now (stepping clock in tests and the demo).

    The constructor makes no request: a site that is down or refuses the token at start is
    found by the first call (``whoami``, ``poll``), which raises like any other, so the engine
    can mark that connector down and retry it while the others run.
    """

    tool = "jira"

    def __init__(self, name: str, *, base_url: str, token: str, jql: Iterable[str],
                 deployment: str = "cloud", email: str | None = None,
                 overlap: timedelta = timedelta(minutes=2), timeout: float = 10.0,
                 page_size: int = 100, clock: Callable[[], datetime] | None = None,
                 backfill: timedelta | None = None, flagged_field: str = mapping.DEFAULT_FLAGGED_FIELD):
        self.name = name
        self.flagged_field = flagged_field  # the site's "Flagged" custom field, read with the others
        self._fields = ",".join([*FIELDS, flagged_field])
        self.backfill = backfill  # first poll of a JQL: only issues updated this recently (None: all)
        self.base_url = base_url.rstrip("/")
        self.cloud = deployment == "cloud"
        self.jql = list(jql)
        self.overlap = overlap
        self.page_size = page_size
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._me: Account | None = None
        self._tz: str | None = None
        self.requests = 0
        auth = {"basic_auth": (email or "", token)} if self.cloud else {"token_auth": token}
        # get_server_info=False: no /serverInfo at construction (nothing here uses the version
        # it reports; every call goes through _call on this session).
        self._jira = JIRA(server=self.base_url, timeout=timeout, max_retries=0,
                          get_server_info=False, **auth)
        self._session = self._jira._session

    @classmethod
    def from_config(cls, name: str, cfg: JiraConnectorConfig, token: str,
                    clock: Callable[[], datetime] | None = None) -> "JiraConnector":
        """Build from a validated ``[connectors.<name>]`` section and its resolved token."""
        return cls(name, base_url=cfg.base_url, token=token, jql=cfg.jql, deployment=cfg.deployment,
                   email=cfg.email, overlap=cfg.overlap.wall(), timeout=cfg.timeout.wall().total_seconds(),
                   page_size=cfg.page_size, clock=clock, backfill=cfg.backfill_window(),
                   flagged_field=cfg.flagged_field)

    # ------------------------------------------------------------------ HTTP

    def _error(self, exc: JIRAError, what: str, *, write: bool) -> errors.ConnectorError:
        """``connectors.http.error_for`` of a ``JIRAError`` (no status: 0)."""
        return http.error_for(self.tool, exc.status_code or 0, _headers(exc), what, now=self.clock(),
                              write=write, message=str(exc.text or ""))

    def _call(self, method: str, path: str, *, write: bool = False, params: dict | None = None,
              body: object = None) -> object:
        """One request through the client's session (auth, timeout, no retries).

        Returns the parsed JSON (``None`` for an empty body). Reads raise ``TransientError``
        on timeouts; writes raise ``OutcomeUnknown`` on timeouts, lost connections and 5xx.
        """
        what = f"{method} {path}"
        self.requests += 1
        try:
            resp = self._session.request(method, self.base_url + path, params=params,
                                         data=json.dumps(body) if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        except JIRAError as exc:
            raise self._error(exc, what, write=write) from _cause(exc)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise http.no_answer(self.tool, what, type(exc).__name__, write=write) from exc
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise http.no_answer(self.tool, what, "unreadable response", write=write) from exc

    @property
    def _v(self) -> str:
        return "3" if self.cloud else "2"

    # ------------------------------------------------------------------ reading

    def scopes(self) -> list[str]:
        return list(self.jql)

    def _myself(self) -> None:
        body = self._call("GET", "/rest/api/2/myself")
        uid = mapping.user_id(body)
        if not uid:
            raise errors.PermanentError(self.tool, "GET /myself: no accountId/name in the answer")
        self._me = Account(self.tool, uid)
        self._tz = (body or {}).get("timeZone") or "UTC"
        try:
            ZoneInfo(self._tz)
        except (KeyError, ValueError):
            self._tz = "UTC"

    def whoami(self) -> Account:
        """The bot's own account (``GET /rest/api/2/myself``: ``accountId``, DC ``name``), read once."""
        if self._me is None:
            self._myself()
        return self._me  # type: ignore[return-value]

    def time_zone(self) -> str:
        """The bot user's time zone (IANA), in which JQL date literals are read."""
        if self._tz is None:
            self._myself()
        return self._tz  # type: ignore[return-value]

    def _search_pages(self, jql: str) -> Iterable[list]:
        """Yield each page's issues (Cloud ``/search/jql`` or DC ``/search``)."""
        if self.cloud:
            token = None
            while True:
                params = {"jql": jql, "maxResults": self.page_size, "expand": "changelog",
                          "fields": self._fields}
                if token:
                    params["nextPageToken"] = token
                body = self._call("GET", "/rest/api/3/search/jql", params=params) or {}
                yield body.get("issues") or []
                token = body.get("nextPageToken")
                if body.get("isLast", True) or not token:
                    return
        start = 0
        while True:
            params = {"jql": jql, "startAt": start, "maxResults": self.page_size, "expand": "changelog",
                      "fields": self._fields}
            body = self._call("GET", "/rest/api/2/search", params=params) or {}
            issues = body.get("issues") or []
            yield issues
            start += len(issues)
            if not issues or start >= int(body.get("total") or 0):
                return

    def poll(self, scope: str, cursor: dict | None, known: Callable[[list[str]], dict] | None = None) -> PollResult:
        """Read what changed under JQL ``scope`` since ``cursor``.

        Args:
            scope: one configured JQL (without ORDER BY).
            cursor: ``{"updated": ISO UTC, "tz": ...}`` or ``None``: a first poll, which reads
                the issues updated within the ``backfill`` window (all when ``None``).
            known: item keys → stored ``updated_at``; issues unchanged since are not
                re-read beyond the search page, and their truncated changelogs not fetched.

        Returns:
            PollResult with the events and snapshots of the issues returned, the next
            cursor (``None`` when nothing came back), ``requests`` made, ``skipped`` parts,
            and the ``accounts`` those issues show (``AccountInfo``, one per account).
            A snapshot's remote-link targets are present only when its remote links were
            read, i.e. when a ``RemoteIssueLink`` history newer than the stored issue shows.
            An issue whose comments or remote links answer 404 or another refusal
            (``NotFound``, ``PermanentError``) is listed in ``deferred``; the cursor moves past it.

        Raises:
            AuthError, RateLimited, TransientError, NotFound, PermanentError.
        """
        before = self.requests
        tz = self.time_zone()
        since = None
        newest: datetime | None = None
        if cursor and cursor.get("updated"):
            newest = mapping.parse_time(cursor["updated"])
            since = jql_minute(newest - self.overlap, tz)
        elif self.backfill is not None:  # first poll: the backfill window only
            since = jql_minute(self.clock() - self.backfill, tz)
        jql = scoped_jql(scope, since)
        events, items, skipped, accounts, deferred = [], [], [], [], []
        for page in self._search_pages(jql):
            raws = [r for r in page if isinstance(r, dict)]
            keys = [r.get("key") for r in raws if isinstance(r.get("key"), str)]
            stored = known(keys) if known and keys else {}
            full = self._full_changelogs(raws, stored)
            for raw in raws:
                key = raw.get("key", "?")
                try:
                    comments = self._all_comments(raw)
                    m = mapping.map_issue(raw, histories=full.get(key), comments=comments, site=self.base_url,
                                          flagged_field=self.flagged_field)
                except (ValueError, KeyError, TypeError) as exc:
                    skipped.append((str(key), f"malformed issue: {exc}"))
                    continue
                except (errors.NotFound, errors.PermanentError) as exc:
                    deferred.append((ItemRef(self.tool, str(key)), str(exc)))  # this issue only
                    newest = _later(newest, (raw.get("fields") or {}).get("updated"))
                    continue
                if key in stored and stored[key] == m.item.updated_at:
                    continue  # re-read by the overlap, unchanged since stored
                try:
                    remote = self._remote_links(raw, full.get(key), stored.get(key))
                except (errors.NotFound, errors.PermanentError) as exc:
                    deferred.append((m.item.ref, str(exc)))
                    newest = _later(newest, m.item.updated_at)
                    continue
                if remote is not None:
                    m = mapping.map_issue(raw, histories=full.get(key), comments=comments,
                                          site=self.base_url, remote_links=remote, flagged_field=self.flagged_field)
                events.extend(m.events)
                items.append(m.item)
                skipped.extend(m.skipped)
                accounts.extend(m.accounts)
                if m.item.updated_at and (newest is None or m.item.updated_at > newest):
                    newest = m.item.updated_at
        next_cursor = {"updated": _iso(newest), "tz": tz} if (items or deferred) and newest else None
        return PollResult(events=events, items=items, next_cursor=next_cursor,
                          requests=self.requests - before, skipped=skipped,
                          accounts=mapping.merge_accounts(accounts), deferred=deferred)

    def _full_changelogs(self, raws: list[dict], stored: dict) -> dict[str, list]:
        """Every history of the issues whose embedded changelog is truncated and may hide
        histories we have not read; key → histories (any order)."""
        need: list[dict] = []
        for raw in raws:
            cl = raw.get("changelog") if isinstance(raw.get("changelog"), dict) else {}
            hs = cl.get("histories") or []
            total = int(cl.get("total") or len(hs))
            if total <= len(hs):
                continue
            seen = stored.get(raw.get("key"))
            if seen is not None:
                try:
                    oldest = min(mapping.parse_time(h["created"]) for h in hs)
                except (ValueError, KeyError, TypeError):
                    oldest = None
                if oldest is not None and oldest <= seen:
                    continue  # the embedded window reaches back to what we already stored
            need.append(raw)
        if not need:
            return {}
        out: dict[str, list] = {}
        if self.cloud:
            by_id = {str(r.get("id")): r.get("key") for r in need}
            for i in range(0, len(need), 1000):
                chunk = [r.get("key") for r in need[i:i + 1000]]
                token = None
                while True:
                    body = {"issueIdsOrKeys": chunk, "maxResults": 1000}
                    if token:
                        body["nextPageToken"] = token
                    resp = self._call("POST", "/rest/api/3/changelog/bulkfetch", body=body) or {}
                    for log in resp.get("issueChangeLogs") or []:
                        key = by_id.get(str(log.get("issueId")), log.get("issueId"))
                        out.setdefault(key, []).extend(log.get("changeHistories") or [])
                    token = resp.get("nextPageToken")
                    if not token:
                        break
        else:
            for raw in need:
                body = self._call("GET", f"/rest/api/2/issue/{raw['key']}", params={"expand": "changelog", "fields": "updated"}) or {}
                out[raw["key"]] = (body.get("changelog") or {}).get("histories") or []
        return out

    def _all_comments(self, raw: dict) -> list | None:
        f = raw.get("fields") if isinstance(raw.get("fields"), dict) else {}
        cf = f.get("comment") if isinstance(f.get("comment"), dict) else None
        if not cf:
            return None
        got = cf.get("comments") or []
        if int(cf.get("total") or len(got)) <= len(got):
            return None
        out: list = []
        while True:
            body = self._call("GET", f"/rest/api/{self._v}/issue/{raw['key']}/comment",
                              params={"startAt": len(out), "maxResults": 100}) or {}
            page = body.get("comments") or []
            out.extend(page)
            if not page or len(out) >= int(body.get("total") or 0):
                return out

    def _remote_links(self, raw: dict, histories: list | None, seen: datetime | None) -> list | None:
        """``GET /rest/api/2/issue/{key}/remotelink`` when the changelog (``histories``, else
        the embedded one) shows a remote link added after ``seen`` (``None``: any ever);
        else ``None`` without a request."""
        if histories is None:
            cl = raw.get("changelog") if isinstance(raw.get("changelog"), dict) else {}
            histories = cl.get("histories") or []
        added = mapping.remote_links_added(histories)
        if not any(seen is None or at > seen for at, _ in added.values()):
            return None
        links = self._call("GET", f"/rest/api/2/issue/{raw['key']}/remotelink")
        return links if isinstance(links, list) else []

    def fetch(self, ref: ItemRef) -> PollResult:
        """Re-read one issue now: its snapshot and all its events, for the live re-check
        before acting (``connectors.base.Connector.fetch``).

        Requests: ``GET /rest/api/{3|2}/issue/{key}?expand=changelog&fields=<FIELDS>`` (the
        same fields and body format as the poll's search: ADF on Cloud, wiki on Data
        Center); then only if needed: ``POST /rest/api/3/changelog/bulkfetch`` when the
        embedded changelog is truncated (Cloud embeds 100 histories here; spec
        ``getIssue``/``getBulkChangelogs``), ``GET /issue/{key}/comment`` pages when the
        embedded ``comment`` field is truncated, and ``GET /issue/{key}/remotelink`` when
        the changelog shows a ``RemoteIssueLink`` ever added. 1 request for a typical issue.

        Returns:
            PollResult with one item (or none: 404, the issue is deleted or invisible to
            the bot, or malformed and listed in ``skipped``), every event of the issue with
            the ids ``poll`` gives the same facts, the accounts it shows, ``next_cursor``
            ``None``, ``requests`` made. A moved issue comes back under its new key.

        Raises:
            AuthError, RateLimited, TransientError, PermanentError (``NotFound`` is the
            empty result instead).
        """
        before = self.requests
        if ref.tool != self.tool:
            raise errors.PermanentError(self.tool, f"fetch: {ref.tool}:{ref.key} is not a Jira issue")
        try:
            raw = self._call("GET", f"/rest/api/{self._v}/issue/{ref.key}",
                             params={"expand": "changelog", "fields": self._fields})
        except errors.NotFound:
            return PollResult(requests=self.requests - before)
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
            return PollResult(requests=self.requests - before,
                              skipped=[(ref.key, "malformed issue: no key in the answer")])
        key = raw["key"]
        try:
            histories = self._full_changelogs([raw], {}).get(key)
            remote = self._remote_links(raw, histories, None)
            m = mapping.map_issue(raw, histories=histories, comments=self._all_comments(raw),
                                  site=self.base_url, remote_links=remote, flagged_field=self.flagged_field)
        except errors.NotFound:
            return PollResult(requests=self.requests - before)
        except (ValueError, KeyError, TypeError) as exc:
            return PollResult(requests=self.requests - before, skipped=[(str(key), f"malformed issue: {exc}")])
        return PollResult(events=m.events, items=[m.item], next_cursor=None, requests=self.requests - before,
                          skipped=m.skipped, accounts=m.accounts)

    # ------------------------------------------------------------------ markup

    def mention(self, account: Account) -> str:
        return markup.mention(account, cloud=self.cloud)

    def escape(self, text: str) -> str:
        return markup.escape(text)

    def literal(self, text: str) -> str:
        return markup.literal(text)

    def footer(self, rule: str, marker: str) -> str:
        return markup.footer(rule, marker)

    # ------------------------------------------------------------------ writing

    def _browse(self, key: str, comment_id: str | None = None) -> str:
        url = f"{self.base_url}/browse/{key}"
        return f"{url}?focusedCommentId={comment_id}" if comment_id else url

    def _comment(self, key: str, body: str) -> ActionResult:
        c = self._call("POST", f"/rest/api/2/issue/{key}/comment", write=True, body={"body": body}) or {}
        cid = str(c.get("id")) if c.get("id") is not None else None
        return ActionResult(url=self._browse(key, cid), remote_id=cid)

    def _assignee_body(self, account: Account) -> dict:
        return {"accountId": account.id} if self.cloud else {"name": account.id}

    def apply(self, action: Action) -> ActionResult:
        """Perform ``action`` once (no retry).

        Raises:
            OutcomeUnknown: the write may have been applied (lost response, timeout, 5xx).
            AuthError, RateLimited, NotFound, PermanentError.
        """
        key = action.item.key
        if action.kind == ActionKind.COMMENT:
            return self._comment(key, action.body)
        if action.kind == ActionKind.REASSIGN:
            if not action.assignees:
                raise errors.PermanentError(self.tool, "reassign without an assignee")
            # PUT is idempotent: a lost answer here is harmless to repeat; the comment
            # (with the marker) is what proves the action.
            self._call("PUT", f"/rest/api/2/issue/{key}/assignee", write=True, body=self._assignee_body(action.assignees[0]))
            return self._comment(key, action.body)
        if action.kind == ActionKind.LABEL:
            self._call("PUT", f"/rest/api/2/issue/{key}", write=True, body={"update": {"labels": [{"add": action.label}]}})
            return ActionResult(url=self._browse(key))
        if action.kind == ActionKind.DRAFT:
            project = key.rsplit("-", 1)[0]
            fields: dict = {"project": {"key": project}, "issuetype": {"name": "Task"},
                            "summary": (action.title or "Request")[:255], "description": action.body}
            if action.assignees:
                fields["assignee"] = self._assignee_body(action.assignees[0])
            if action.due:
                fields["duedate"] = action.due.astimezone(timezone.utc).date().isoformat()
            new = self._call("POST", "/rest/api/2/issue", write=True, body={"fields": fields}) or {}
            new_key = new.get("key")
            if not new_key:
                raise errors.OutcomeUnknown(self.tool, "POST /issue: no key in the answer; outcome unknown")
            try:
                self._link(new_key, key)
            except errors.ConnectorError as exc:
                # The draft stands (it carries the marker): the action is partly applied. Never
                # "not sent": the row is reconciled by marker, which finds the draft and links it.
                raise errors.OutcomeUnknown(
                    self.tool, f"draft {new_key} created, its link to {key} not made ({exc}); reconcile by marker"
                ) from exc
            return ActionResult(url=self._browse(new_key), remote_id=new_key)
        raise errors.PermanentError(self.tool, f"unsupported action {action.kind}")

    def _link(self, new_key: str, stalled: str) -> None:
        """``new_key`` relates to ``stalled`` (the second write of a draft). Raises like any
        write; ``find_marker`` links a draft it finds without its link, so a link lost or
        refused is made on a later lookup, never by creating the draft again."""
        self._call("POST", "/rest/api/2/issueLink", write=True,
                   body={"type": {"name": "Relates"}, "inwardIssue": {"key": new_key}, "outwardIssue": {"key": stalled}})

    def find_marker(self, action: Action, since: datetime) -> ActionResult | None:
        """Find what ``action`` already wrote, by its marker, on or after ``since`` (UTC).

        Comments and reassignments: the item's comments, newest first (``GET
        /rest/api/2/issue/{key}/comment?orderBy=-created``), until one is older than
        ``since`` minus 5 minutes. Drafts: the project's issues created since then (JQL
        ``project = P AND created >= "<minute>"``, bot time zone) whose description carries
        the marker; a draft found without its "Relates" link is linked now (the missing part
        only; an error of that link is raised, so the row waits and the next lookup finishes
        it). Labels: present on the item.

        Returns ``None`` only when the whole window was read; raises ``ConnectorError`` when
        it cannot tell (a failed or malformed read).
        """
        key = action.item.key
        window = since - timedelta(minutes=5)
        if action.kind in (ActionKind.COMMENT, ActionKind.REASSIGN):
            start = 0
            while True:
                what = f"GET /rest/api/2/issue/{key}/comment"
                body = self._call("GET", f"/rest/api/2/issue/{key}/comment",
                                  params={"orderBy": "-created", "startAt": start, "maxResults": 100})
                page = body.get("comments") if isinstance(body, dict) else None
                if not isinstance(page, list) or not isinstance(body.get("total"), int):
                    # A page without its list or its total cannot say "not there".
                    raise http.no_answer(self.tool, what, "answer without comments/total, marker lookup cannot tell", write=False)
                for c in page:
                    if action.marker in str(c.get("body") or ""):
                        cid = str(c.get("id"))
                        return ActionResult(url=self._browse(key, cid), remote_id=cid, already_present=True)
                start += len(page)
                try:
                    older = any(mapping.parse_time(c.get("created")) < window for c in page)
                except ValueError:
                    older = False
                if not page or older or start >= body["total"]:
                    return None
        if action.kind == ActionKind.DRAFT:
            project = key.rsplit("-", 1)[0]
            jql = f'project = {project} AND created >= "{jql_minute(window, self.time_zone())}" ORDER BY created DESC'
            for page in self._search_pages(jql):
                for raw in page:
                    f = raw.get("fields") or {}
                    text, _, _ = mapping.body_text(f.get("description"))
                    if action.marker in text:
                        linked = any(((ln.get("outwardIssue") or ln.get("inwardIssue")) or {}).get("key") == key
                                     for ln in f.get("issuelinks") or [])
                        if not linked:
                            self._link(raw["key"], key)
                        return ActionResult(url=self._browse(raw["key"]), remote_id=raw["key"], already_present=True)
            return None
        if action.kind == ActionKind.LABEL:
            body = self._call("GET", f"/rest/api/2/issue/{key}", params={"fields": "labels"}) or {}
            if action.label in ((body.get("fields") or {}).get("labels") or []):
                return ActionResult(url=self._browse(key), already_present=True)
            return None
        return None


def _headers(exc: JIRAError) -> dict:
    """The response headers a ``JIRAError`` carries ({} when it has no response)."""
    resp = getattr(exc, "response", None)
    return dict(resp.headers) if resp is not None and resp.headers is not None else {}


def _cause(exc: JIRAError) -> JIRAError:
    """What of ``exc`` to keep as the cause: status, URL and Jira's message, with its traceback.

    A ``JIRAError`` prints the request it holds (the ``Authorization`` header: the
    credential, base64 only) and the response headers (session cookies), so the original
    is never chained.
    """
    return JIRAError(exc.text, exc.status_code, exc.url).with_traceback(exc.__traceback__)


__all__ = ["JiraConnector", "jql_minute", "scoped_jql", "FIELDS"]
