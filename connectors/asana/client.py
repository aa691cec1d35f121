"""Asana connector: polls projects through the events feed, writes comments, assignments, subtasks.

Reading (cost follows the change, not the backlog; DESIGN.md "Connectors"):

- idle: one ``GET /events?resource=<project>&sync=<token>`` per project (Asana "Events":
  ``get_events`` called with ``full_payload=True``; the client's own iterator re-sends the
  stale token on ``has_more``). ``has_more`` is followed with each page's new token.
- per cycle with changes: the tasks named by the events (``resource``, or ``parent`` for
  stories and attachments) are read in one ``GET /tasks?project=&modified_since=<earliest
  event>&limit=100`` with ``opt_fields`` (one page per 100 changed tasks; a task missing from
  it, e.g. a subtask, costs one ``GET /tasks/{gid}``), then **one** ``GET
  /tasks/{gid}/stories?limit=100`` with ``opt_fields`` per changed task (the compact form
  hides assignee, sections and dependency), plus ``GET /attachments?parent=`` only for a task
  whose stories include an attachment.
- 412 (first poll, or a token older than Asana keeps): the body's fresh ``sync`` is kept
  and the project is re-crawled with ``GET /tasks?project=&modified_since=<last seen
  modified_at - overlap>&limit=100`` (everything on the first poll), so no change is lost.
- accounts (``PollResult.accounts``) cost nothing extra: the task and story reads ask for
  ``assignee.email``/``created_by.email`` with Asana's dot-notation ``opt_fields``
  ("Input/output options"; ``UserCompact`` has no ``email``, ``UserResponse`` has).
- ``fetch(ref)``, the engine's live re-check of one task: ``GET /tasks/{gid}`` + its stories
  (+ attachments when a story says one was added) = 2 requests for a task with fewer than
  100 stories, 3 with an attachment; never part of a poll cycle.

Cursor (stored by the engine in the same transaction as the events)::

    {"sync": str | None,              # events token for the next call
     "modified_since": iso | None,    # newest modified_at fully read (UTC)
     "crawl": {"since", "offset", "high"} | None,   # a re-crawl in progress
     "pending": [gid, ...]}           # tasks known changed, stories not read yet

Pace: a token bucket of ``requests_per_minute`` (Asana's free plan: 150) driven by the
injected clock. When it is empty a poll stops early and returns what it has; the cursor
(``crawl.offset``, ``pending``) lets the next cycle continue. Writes that find it empty
raise ``RateLimited``. Nothing here sleeps.

HTTP: the official ``asana`` 5.4.0 client over urllib3 with an explicit ``(connect, read)``
timeout on every call (an ``int`` or a tuple is required: a float is silently ignored) and
urllib3 retries off (the default ``Retry(total=5)`` retries 429/5xx and read timeouts, POST
included). ``Configuration.debug`` stays off (it prints the bearer token); the handlers the
client attaches to the ``asana`` and ``urllib3`` loggers are removed so records flow into
structlog. Failures go through ``connectors.http`` (the tree is drawn in
``bridge/core/errors.py``), raised from the ``ApiException``/urllib3 error: 429 →
``RateLimited`` (``Retry-After``), 401 → ``AuthError``, 404 → ``NotFound``, 5xx / connection
errors → ``TransientError`` on reads and ``OutcomeUnknown`` on writes (a connection never
made stays ``TransientError``); 412 is the events feed's own signal (a stale sync token).
Markup (rich text): ``connectors.asana.markup``.

Writing: comment = ``POST /tasks/{gid}/stories`` with ``html_text`` ``<body>…</body>``;
reassign = ``PUT /tasks/{gid}`` ``assignee`` then the comment; draft = ``POST
/tasks/{gid}/subtasks`` assigned to the receiver, ``due_at`` = the deadline, ``html_notes``
= the body with the marker. Never retried: a lost response is ``OutcomeUnknown`` and
``find_marker`` looks for the marker before anything is sent again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import asana
import urllib3
from asana.rest import ApiException

from bridge.core import errors
from bridge.core.logs import detach_foreign_handlers
from bridge.core.model import (
    Account,
    AccountInfo,
    Action,
    ActionKind,
    ActionResult,
    Event,
    ItemRef,
    ItemSnapshot,
    PollResult,
)
from connectors import http
from connectors.asana import mapping, markup
from connectors.asana.settings import AsanaConnectorConfig
from connectors.base import RateBudget, register

APP_ROOT = "https://app.asana.com"
PAGE = 100


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class TokenBucket:
    """``rate`` requests per minute, at most ``rate`` at once, refilled by ``clock`` (aware UTC).

    ``take(n)`` spends ``n`` tokens and returns True, or returns False and spends nothing.
    ``wait_for(n)``: seconds of clock time until ``n`` tokens are there.
    """

    def __init__(self, rate: int, clock: Callable[[], datetime]):
        self.rate = max(1, int(rate))
        self.clock = clock
        self.tokens = float(self.rate)
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        elapsed = (now - self.at).total_seconds()
        if elapsed > 0:
            self.tokens = min(float(self.rate), self.tokens + elapsed * self.rate / 60.0)
            self.at = now

    def take(self, n: int = 1) -> bool:
        self._refill()
        if self.tokens + 1e-9 >= n:
            self.tokens -= n
            return True
        return False

    def wait_for(self, n: int = 1) -> float:
        self._refill()
        return max(0.0, (n - self.tokens) * 60.0 / self.rate)

    def left(self) -> tuple[int, datetime]:
        """``(whole tokens left now, when the bucket is full again)``; reads only (safe from
        another thread while a poll takes tokens)."""
        now, tokens, at = self.clock(), self.tokens, self.at
        elapsed = max(0.0, (now - at).total_seconds())
        tokens = min(float(self.rate), tokens + elapsed * self.rate / 60.0)
        return int(tokens + 1e-9), max(now, at) + timedelta(seconds=(self.rate - tokens) * 60.0 / self.rate)


class _OutOfBudget(Exception):
    """The limiter is empty: stop this poll, keep the cursor where the data ends."""


class _SyncExpired(Exception):
    def __init__(self, sync: str | None):
        self.sync = sync


@register("asana")
class AsanaConnector:
    """Poll and write one Asana API root.

    Args:
        name: config section name (``[connectors.<name>]``).
        base_url: API root, ``https://app.asana.com/api/1.0`` or an emulator's ``…/api/1.0``.
        token: personal access token (never logged, never in an error text).
        projects: project gids, one scope each.
        timeout: seconds per HTTP request (connect and read each).
        requests_per_minute: the limiter's budget (every request, reads and writes).
        overlap: how far before the last seen ``modified_at`` a re-crawl starts (wall clock).
        clock: returns aware UTC "now" (a stepping clock in tests and the demo).
    """

    tool = "asana"

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        token: str,
        projects: Iterable[str],
        timeout: float = 10.0,
        requests_per_minute: int = 150,
        overlap: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] | None = None,
        backfill: timedelta | None = None,
    ):
        self.name = name
        self.projects = list(projects)
        self.backfill = backfill  # first crawl of a project: only tasks modified this recently (None: all)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.overlap = overlap
        self.timeout = (float(timeout), float(timeout))
        self.limiter = TokenBucket(requests_per_minute, self.clock)
        cfg = asana.Configuration()
        cfg.host = base_url.rstrip("/")
        cfg.access_token = token
        cfg.debug = False
        cfg.retry_strategy = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0,
                                           raise_on_status=False, raise_on_redirect=False)
        detach_foreign_handlers()  # Configuration() attached StreamHandlers to asana/urllib3
        self._api = asana.ApiClient(cfg)
        self._events = asana.EventsApi(self._api)
        self._tasks = asana.TasksApi(self._api)
        self._stories = asana.StoriesApi(self._api)
        self._users = asana.UsersApi(self._api)
        self._attachments = asana.AttachmentsApi(self._api)
        self._me: Account | None = None
        #: HTTP requests made by this connector (for bench/ and PollResult.requests).
        self.requests = 0

    @classmethod
    def from_config(cls, name: str, cfg: AsanaConnectorConfig, token: str,
                    clock: Callable[[], datetime] | None = None) -> "AsanaConnector":
        """Build from a validated ``[connectors.<name>]`` (``AsanaConnectorConfig``) and its token."""
        return cls(
            name,
            base_url=cfg.base_url,
            token=token,
            projects=cfg.projects,
            timeout=cfg.timeout.wall().total_seconds(),
            requests_per_minute=cfg.requests_per_minute,
            clock=clock,
            backfill=cfg.backfill_window(),
        )

    # ------------------------------------------------------------------ calls and errors

    @staticmethod
    def _message(exc: ApiException) -> str:
        try:
            body = json.loads(exc.body or b"{}")
            return str(body["errors"][0]["message"])
        except Exception:  # noqa: BLE001 - the body is the vendor's; only a hint
            return str(exc.reason or "")

    def _call(self, what: str, fn: Callable[[], Any], *, write: bool = False, poll: bool = False) -> Any:
        """One HTTP request through the limiter, vendor errors translated.

        ``poll=True``: an empty limiter raises ``_OutOfBudget`` (the poll stops early);
        otherwise ``RateLimited`` with the wait until a token is back. Returns the full
        payload (a dict); a body that is not a JSON object is ``TransientError`` on a read,
        ``OutcomeUnknown`` on a write (``connectors.http.no_answer``).
        """
        if not self.limiter.take():
            if poll:
                raise _OutOfBudget()
            raise errors.RateLimited(self.tool, f"{what}: requests_per_minute budget spent", self.limiter.wait_for())
        self.requests += 1
        try:
            body = fn()
        except ApiException as exc:
            status = int(exc.status or 0)
            if status == 412:
                sync = None
                try:
                    sync = json.loads(exc.body or b"{}").get("sync")
                except Exception:  # noqa: BLE001
                    pass
                # A signal poll() always catches (re-crawl), never an error: no cause to keep.
                raise _SyncExpired(sync) from None
            raise http.error_for(self.tool, status, exc.headers, what, now=self.clock(), write=write,
                                 message=self._message(exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            never_sent = isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))
            raise http.no_answer(self.tool, what, type(reason).__name__, write=write, sent=not never_sent) from exc
        if not isinstance(body, dict):
            # A truncated or non-JSON body: the client hands back the raw bytes or str.
            raise http.no_answer(self.tool, what, f"unreadable response ({type(body).__name__})", write=write)
        return body

    def _pages(self, what: str, fn: Callable[[dict], dict], opts: dict, *, poll: bool = True) -> list:
        """Every page of an offset-paginated list (``limit`` sent, ``next_page.offset`` followed)."""
        out: list = []
        opts = {**opts, "limit": PAGE}
        while True:
            body = self._call(what, lambda o=dict(opts): fn(o), poll=poll)
            out.extend(body.get("data") or [])
            nxt = body.get("next_page")
            if not nxt or not nxt.get("offset"):
                return out
            opts["offset"] = nxt["offset"]

    # ------------------------------------------------------------------ reading

    def scopes(self) -> list[str]:
        return list(self.projects)

    def rate_budget(self) -> RateBudget:
        """This connector's own budget: the ``requests_per_minute`` limiter's whole tokens left
        now, of ``requests_per_minute``, full again at ``reset_at`` (Asana's own per-minute
        limit is not sent in headers before a 429; the limiter keeps every request under it)."""
        left, full_at = self.limiter.left()
        return RateBudget(left, self.limiter.rate, full_at)

    def whoami(self) -> Account:
        """The token's own user (``GET /users/me``), fetched once."""
        if self._me is None:
            body = self._call("GET /users/me", lambda: self._users.get_user("me", {}, full_payload=True, _request_timeout=self.timeout))
            self._me = Account(self.tool, str(body["data"]["gid"]))
        return self._me

    def _get_events(self, project: str, sync: str | None) -> dict:
        opts = {"sync": sync} if sync else {}
        return self._call(
            f"GET /events?resource={project}",
            lambda: self._events.get_events(project, opts, full_payload=True, _request_timeout=self.timeout),
            poll=True,
        )

    def _task_list(self, project: str, since: str | None, offset: str | None) -> dict:
        opts: dict = {"project": project, "limit": PAGE, "opt_fields": mapping.TASK_OPT_FIELDS}
        if since:
            opts["modified_since"] = since
        if offset:
            opts["offset"] = offset
        return self._call(
            f"GET /tasks?project={project}",
            lambda: self._tasks.get_tasks(opts, full_payload=True, _request_timeout=self.timeout),
            poll=True,
        )

    def _read_task(self, project: str | None, gid: str, task: dict, *, poll: bool = True
                   ) -> tuple[list[Event], ItemSnapshot | None, list[tuple[str, str]], list[AccountInfo]]:
        """Stories (and attachments when any) of one task → (events, snapshot, skipped, accounts).

        ``poll=True``: an empty limiter raises ``_OutOfBudget``; otherwise ``RateLimited``.
        """
        ref = ItemRef(self.tool, gid)
        stories = self._pages(
            f"GET /tasks/{gid}/stories",
            lambda o: self._stories.get_stories_for_task(gid, o, full_payload=True, _request_timeout=self.timeout),
            {"opt_fields": mapping.STORY_OPT_FIELDS},
            poll=poll,
        )
        result = mapping.map_stories(ref, stories, project)
        events = list(result.events)
        skipped = [(f"{gid} stories[{i}]", reason) for i, _sub, reason in result.skipped if reason.startswith("malformed")]
        links = list(result.links)
        if any(isinstance(s, dict) and s.get("resource_subtype") == "attachment_added" for s in stories):
            atts = self._pages(
                f"GET /attachments?parent={gid}",
                lambda o: self._attachments.get_attachments_for_object(gid, o, full_payload=True, _request_timeout=self.timeout),
                {"opt_fields": mapping.ATTACHMENT_OPT_FIELDS},
                poll=poll,
            )
            a_events, a_links, a_skipped = mapping.map_attachments(ref, atts)
            events += a_events
            links += [x for x in a_links if x not in links]
            skipped += [(f"{gid} {w}", r) for w, r in a_skipped]
        events += mapping.notes_link_events(task)
        accounts = mapping.accounts_of(task, stories)
        try:
            snap = mapping.map_task(project, task, extra_links=links, extra_blocked_by=result.blocked_by)
        except ValueError as exc:
            return [], None, [(gid, str(exc))], accounts
        return events, snap, skipped, accounts

    def _project_of(self, task: dict) -> str | None:
        """The first watched project among the task's memberships (its section there is its status)."""
        for m in task.get("memberships") or []:
            proj = m.get("project") if isinstance(m, dict) else None
            gid = str(proj.get("gid")) if isinstance(proj, dict) and proj.get("gid") is not None else None
            if gid in self.projects:
                return gid
        return None

    def fetch(self, ref: ItemRef) -> PollResult:
        """Re-read one task now (the engine's live re-check before it acts).

        Requests (each through the limiter): ``GET /tasks/{gid}`` with
        :data:`~connectors.asana.mapping.TASK_OPT_FIELDS`, one ``GET /tasks/{gid}/stories``
        page per 100 stories with :data:`~connectors.asana.mapping.STORY_OPT_FIELDS`, and
        ``GET /attachments?parent=`` only when a story says an attachment was added: 2
        requests for a task with fewer than 100 stories and no attachment. The mapping is
        the one ``poll`` uses, with the task's first watched project as the status column
        (its only membership otherwise), so event ids equal ``poll``'s for the same facts.

        Returns:
            PollResult with the task's snapshot, all its events and accounts; ``next_cursor``
            ``None``. A task that is gone (404 on the task or its stories) gives empty
            ``items`` and ``events``. A malformed task is listed in ``skipped``.

        Raises:
            RateLimited: the limiter has no budget for two requests (nothing sent), or 429.
            AuthError, TransientError, PermanentError: like ``poll``. ``ValueError``: ``ref``
            is not an Asana task gid.
        """
        gid = ref.key
        if ref.tool != self.tool or not gid.isdigit():
            raise ValueError(f"not an Asana task: {ref.tool}:{ref.key}")
        started = self.requests
        if self.limiter.wait_for(2) > 0:
            raise errors.RateLimited(self.tool, f"fetch {gid}: requests_per_minute budget spent", self.limiter.wait_for(2))
        try:
            body = self._call(
                f"GET /tasks/{gid}",
                lambda: self._tasks.get_task(gid, {"opt_fields": mapping.TASK_OPT_FIELDS}, full_payload=True,
                                             _request_timeout=self.timeout),
            )
            task = body.get("data") or {}
            events, snap, skipped, accounts = self._read_task(self._project_of(task), gid, task, poll=False)
        except errors.NotFound:
            return PollResult(next_cursor=None, requests=self.requests - started)
        return PollResult(events=events, items=[snap] if snap is not None else [], next_cursor=None,
                          requests=self.requests - started, skipped=skipped, accounts=accounts)

    def poll(self, scope: str, cursor: dict | None, known: Callable[[list[str]], dict] | None = None) -> PollResult:
        """Read what changed in project ``scope`` since ``cursor``.

        Args:
            scope: project gid.
            cursor: see the module docstring; ``None`` on the first poll (full crawl).
            known: task gids → stored ``updated_at``; a task whose ``modified_at`` equals it
                is not re-read.

        Returns:
            PollResult: events and snapshots of every task fully read, the next cursor
            (always given: each events call hands out a new sync token), the request count,
            malformed tasks/stories in ``skipped``, and the users those tasks and stories
            name in ``accounts`` (``mapping.accounts_of``). When the limiter runs dry the
            result holds what was read so far and the cursor continues from there.

            When a read fails after the events feed moved (or after tasks were read),
            ``stopped_by`` is that error and the result keeps what was read: the new sync
            token, the tasks named but not read yet in ``pending``, the crawl where it was.

        Raises:
            AuthError, RateLimited, TransientError, NotFound, PermanentError: nothing was
            read; the cursor stays.
        """
        c = dict(cursor or {})
        sync: str | None = c.get("sync")
        modified_since: str | None = c.get("modified_since")
        crawl: dict | None = dict(c["crawl"]) if c.get("crawl") else None
        pending: list[str] = list(c.get("pending") or [])
        started = self.requests
        events: list[Event] = []
        items: list[ItemSnapshot] = []
        skipped: list[tuple[str, str]] = []
        accounts: list[AccountInfo] = []
        deferred: list[tuple[ItemRef, str]] = []  # tasks whose stories could not be read (retry queue)
        fetched: dict[str, dict] = {}  # task gid → TaskResponse read in this poll
        current: set[str] = set()  # listed tasks whose stored updated_at equals modified_at
        high = modified_since
        moved = False  # anything in the cursor changed

        def newer(a: str | None, b: str | None) -> str | None:
            if a is None:
                return b
            if b is None:
                return a
            return a if mapping.parse_time(a) >= mapping.parse_time(b) else b

        def want(tasks: list[dict]) -> list[str]:
            """Gids of listed tasks whose modified_at differs from the stored one."""
            gids = [t["gid"] for t in tasks if isinstance(t, dict) and isinstance(t.get("gid"), str)]
            stored = known(gids) if known else {}
            out = []
            for t in tasks:
                gid = t.get("gid") if isinstance(t, dict) else None
                if not isinstance(gid, str):
                    skipped.append(("?", "malformed task in list: no gid"))
                    continue
                fetched[gid] = t
                try:
                    mod = mapping.parse_time(t.get("modified_at")) if t.get("modified_at") else None
                except ValueError:
                    mod = None
                if mod is None or stored.get(gid) != mod:
                    out.append(gid)
                else:
                    current.add(gid)
            return out

        def drain() -> None:
            """Read stories of pending tasks, oldest first; raise _OutOfBudget when dry."""
            nonlocal high
            while pending:
                gid = pending[0]
                task = fetched.get(gid)
                if task is None:
                    try:
                        body = self._call(
                            f"GET /tasks/{gid}",
                            lambda: self._tasks.get_task(gid, {"opt_fields": mapping.TASK_OPT_FIELDS}, full_payload=True,
                                                         _request_timeout=self.timeout),
                            poll=True,
                        )
                        task = fetched[gid] = body.get("data") or {}
                    except errors.NotFound:
                        pending.pop(0)
                        continue
                try:
                    ev, snap, sk, acc = self._read_task(scope, gid, task)
                except (errors.NotFound, errors.PermanentError) as exc:
                    deferred.append((ItemRef(self.tool, gid), str(exc)))  # this task only: go on
                    pending.pop(0)
                    continue
                events.extend(ev)
                skipped.extend(sk)
                accounts.extend(acc)
                if snap is not None:
                    items.append(snap)
                    if snap.updated_at is not None and not crawl:
                        high = newer(high, _iso(snap.updated_at))
                pending.pop(0)

        try:
            if crawl is None:
                try:
                    first_at: str | None = None
                    new_gids: list[str] = []
                    while True:
                        page = self._get_events(scope, sync)
                        sync = page.get("sync") or sync
                        moved = True
                        data = page.get("data") or []
                        for ev in data:
                            at = ev.get("created_at") if isinstance(ev, dict) else None
                            if isinstance(at, str):
                                first_at = at if first_at is None or mapping.parse_time(at) < mapping.parse_time(first_at) else first_at
                        new_gids += [g for g in mapping.changed_task_gids(data) if g not in new_gids]
                        if not page.get("has_more"):
                            break
                finally:
                    pending += [g for g in new_gids if g not in pending]
                if new_gids and first_at:
                    # One list page per 100 changed tasks instead of one task read each.
                    since = _iso(mapping.parse_time(first_at) - timedelta(seconds=1))
                    body = self._task_list(scope, since, None)
                    listed = want(body.get("data") or [])
                    pending += [g for g in listed if g not in pending]
                    offset = (body.get("next_page") or {}).get("offset")
                    while offset:
                        body = self._task_list(scope, since, offset)
                        listed = want(body.get("data") or [])
                        pending += [g for g in listed if g not in pending]
                        offset = (body.get("next_page") or {}).get("offset")
                    # Listed tasks whose stored modified_at is current need no stories.
                    pending[:] = [g for g in pending if g not in current]
        except _SyncExpired as exc:
            sync, moved = exc.sync, True
            since = None
            if modified_since:
                since = _iso(mapping.parse_time(modified_since) - self.overlap)
            elif cursor is None and self.backfill is not None:  # first crawl: the backfill window only
                since = _iso(self.clock() - self.backfill)
            crawl = {"since": since, "offset": None, "high": None}
        except _OutOfBudget:
            return self._result(scope, events, items, skipped, started, moved, sync, high, crawl, pending, accounts,
                                deferred=deferred)
        except errors.ConnectorError as exc:
            if not moved:
                raise
            # The events feed gave a new token: keep it and the tasks it named (``pending``).
            return self._result(scope, events, items, skipped, started, moved, sync, high, crawl, pending, accounts,
                                stopped_by=exc, deferred=deferred)

        try:
            while crawl is not None:
                body = self._task_list(scope, crawl.get("since"), crawl.get("offset"))
                moved = True
                listed = want(body.get("data") or [])
                for t in body.get("data") or []:
                    if isinstance(t, dict) and t.get("modified_at"):
                        try:
                            crawl["high"] = newer(crawl.get("high"), t["modified_at"])
                        except ValueError:
                            pass
                pending += [g for g in listed if g not in pending]
                offset = (body.get("next_page") or {}).get("offset")
                crawl["offset"] = offset
                if not offset:
                    high = newer(high, crawl.get("high"))
                    crawl = None
                drain()
            drain()
        except _OutOfBudget:
            pass
        except errors.ConnectorError as exc:
            if not (moved or events or items):
                raise
            # Keep what was read: a task is taken off ``pending`` only once its stories are read,
            # and ``crawl.offset`` moves only past listed pages, so the cursor passes nothing unread.
            return self._result(scope, events, items, skipped, started, True, sync, high, crawl, pending, accounts,
                                stopped_by=exc, deferred=deferred)
        return self._result(scope, events, items, skipped, started, True, sync, high, crawl, pending, accounts,
                            deferred=deferred)

    def _result(self, scope, events, items, skipped, started, moved, sync, high, crawl, pending, accounts,
                stopped_by: errors.ConnectorError | None = None, deferred=()) -> PollResult:
        cursor = {"sync": sync, "modified_since": high, "crawl": crawl, "pending": list(pending)}
        return PollResult(events=events, items=items,
                          next_cursor=cursor if moved or events or items or deferred else None,
                          requests=self.requests - started, skipped=skipped, accounts=mapping.merge_accounts(accounts),
                          stopped_by=stopped_by, deferred=list(deferred))

    # ------------------------------------------------------------------ writing

    def mention(self, account: Account) -> str:
        return markup.mention(account)

    def literal(self, text: str) -> str:
        return markup.literal(text)

    def escape(self, text: str) -> str:
        return markup.escape(text)

    def footer(self, rule: str, marker: str) -> str:
        return markup.footer(rule, marker)

    def _story_url(self, task_gid: str, story_gid: str | None) -> str:
        return f"{APP_ROOT}/0/0/{task_gid}/{story_gid}/f" if story_gid else f"{APP_ROOT}/0/0/{task_gid}/f"

    def _comment(self, task_gid: str, body: str) -> ActionResult:
        data = self._call(
            f"POST /tasks/{task_gid}/stories",
            lambda: self._stories.create_story_for_task({"data": {"html_text": markup.html_body(body)}}, task_gid, {},
                                                        full_payload=True, _request_timeout=self.timeout),
            write=True,
        )
        gid = str((data.get("data") or {}).get("gid") or "") or None
        return ActionResult(url=self._story_url(task_gid, gid), remote_id=gid)

    def apply(self, action: Action) -> ActionResult:
        """Perform ``action`` once (no retry).

        Raises:
            OutcomeUnknown: the write may have been applied (lost response, 5xx).
            RateLimited: the limiter has no budget for it (nothing sent), or Asana said 429.
            AuthError, NotFound, PermanentError.
        """
        gid = action.item.key
        if action.kind == ActionKind.COMMENT:
            return self._comment(gid, action.body)
        if action.kind == ActionKind.REASSIGN:
            if self.limiter.wait_for(2) > 0:
                raise errors.RateLimited(self.tool, "reassign: requests_per_minute budget spent", self.limiter.wait_for(2))
            assignee = action.assignees[0].id if action.assignees else None
            self._call(
                f"PUT /tasks/{gid}",
                lambda: self._tasks.update_task({"data": {"assignee": assignee}}, gid, {"opt_fields": "assignee"},
                                                full_payload=True, _request_timeout=self.timeout),
                write=True,
            )
            return self._comment(gid, action.body)
        if action.kind == ActionKind.DRAFT:
            data: dict = {"name": action.title or "Request", "html_notes": markup.html_body(action.body)}
            if action.assignees:
                data["assignee"] = action.assignees[0].id
            if action.due is not None:
                data["due_at"] = _iso(action.due)
            body = self._call(
                f"POST /tasks/{gid}/subtasks",
                lambda: self._tasks.create_subtask_for_task({"data": data}, gid, {"opt_fields": "permalink_url"},
                                                            full_payload=True, _request_timeout=self.timeout),
                write=True,
            )
            new = body.get("data") or {}
            return ActionResult(url=new.get("permalink_url"), remote_id=str(new.get("gid")) if new.get("gid") else None)
        raise errors.PermanentError(self.tool, f"unsupported action {action.kind} (Asana has no labels; use a section)")

    def find_marker(self, action: Action, since: datetime) -> ActionResult | None:
        """Find what ``action`` already wrote, by its marker, on or after ``since`` (UTC).

        Comments and reassignments: the task's comments (``GET /tasks/{gid}/stories``) created
        since ``since`` minus 5 minutes. Drafts: the task's subtasks (``GET
        /tasks/{gid}/subtasks``) whose notes carry the marker.

        Returns ``None`` only when every page was read; a page that is not Asana's ``{"data":
        [...]}`` raises ``TransientError`` (the lookup cannot tell; the row waits).
        """
        gid = action.item.key

        def checked(what: str, fn: Callable[[dict], Any]) -> Callable[[dict], dict]:
            def read(o: dict) -> dict:
                body = fn(o)
                if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                    raise http.no_answer(self.tool, what, "answer without a data list, marker lookup cannot tell", write=False)
                return body
            return read

        if action.kind in (ActionKind.COMMENT, ActionKind.REASSIGN):
            stories = self._pages(
                f"GET /tasks/{gid}/stories",
                checked(f"GET /tasks/{gid}/stories",
                        lambda o: self._stories.get_stories_for_task(gid, o, full_payload=True, _request_timeout=self.timeout)),
                {"opt_fields": "created_at,resource_subtype,text,html_text"},
                poll=False,
            )
            window = since - timedelta(minutes=5)
            for s in stories:
                if s.get("resource_subtype") != "comment_added":
                    continue
                try:
                    if mapping.parse_time(s.get("created_at")) < window:
                        continue
                except ValueError:
                    pass
                if action.marker in (s.get("text") or "") or action.marker in (s.get("html_text") or ""):
                    return ActionResult(url=self._story_url(gid, s.get("gid")), remote_id=s.get("gid"), already_present=True)
            return None
        if action.kind == ActionKind.DRAFT:
            subtasks = self._pages(
                f"GET /tasks/{gid}/subtasks",
                checked(f"GET /tasks/{gid}/subtasks",
                        lambda o: self._tasks.get_subtasks_for_task(gid, o, full_payload=True, _request_timeout=self.timeout)),
                {"opt_fields": "name,notes,html_notes,permalink_url"},
                poll=False,
            )
            for t in subtasks:
                if action.marker in (t.get("notes") or "") or action.marker in (t.get("html_notes") or ""):
                    return ActionResult(url=t.get("permalink_url"), remote_id=t.get("gid"), already_present=True)
            return None
        return None

