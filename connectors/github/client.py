"""GitHub connector: polls repositories for changed issues and pull requests, writes back.

Reading (cost follows the change, not the backlog; DESIGN.md "Connectors"):

- idle: one ``GET /repos/{o}/{r}/issues?since=&state=all&sort=updated&direction=asc`` per
  repository with ``If-None-Match``; GitHub answers ``304`` (free against the primary rate
  limit) while nothing changed. PyGithub's ``PaginatedList`` has no ETag support, so the list
  goes through ``Requester.requestJson``, which returns the 304 without raising.
- per changed item (its ``updated_at`` differs from the stored one): its timeline,
  ``GET /repos/{o}/{r}/issues/{n}/timeline`` (GitHub REST "Timeline events"), every page.
- branch names of pull requests (for Jira keys in them; neither the issues list nor the
  timeline carries ``head.ref``): learnt once per pull request per process. A cycle in
  which a repository has changed pull requests whose branch is not known yet costs one
  ``GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc`` page (GitHub REST
  "List pull requests"; more pages only while more than ``per_page`` such pull requests
  changed), plus ``GET .../pulls/{n}`` for any the pages missed. Idle cycles and changes
  to known pull requests or issues cost nothing extra.
- ``fetch(ref)`` (the engine's live re-check of one item): ``GET .../issues/{n}`` + its
  timeline pages (+ ``GET .../pulls/{n}`` once for a pull request whose branch is unknown).
- links: ``ItemSnapshot.links``/``blocked_by`` and ``linked`` events come from native
  dependencies in the timeline and from item references in titles, bodies, branch names
  and comments (``mapping.map_links``); they cost no request of their own.
- cursor: ``{"since": newest updated_at seen, "query_since": the since sent, "etag": ...}``
  (ISO-8601 UTC). Each poll re-reads from ``query_since`` (at most ``since - overlap``). The
  window moves only when its answer no longer fits one page, so after a change the next idle
  poll repeats the same URL and gets its 304. Events are deduplicated by id in the store,
  and the cursor is stored only together with the events (the engine does that).
- faults (issue 12): the cursor never passes a change not read. An issue updated while the
  list pages are read shifts the offsets (it shows twice); the cursor then stops at the end
  of the page where it was first seen. A later list page or a timeline that fails ends the
  poll early with what was read (``PollResult.stopped_by``), changed items oldest first, and
  the cursor at the ``updated_at`` of the first item not read (``since`` is inclusive).
  A body that is not JSON, or not the JSON array a list gives, is a ``TransientError``.

Writing uses PyGithub objects (lazy, so no extra GET): comment (``POST .../comments``),
reassign (``PATCH /issues/{n}`` assignees, then a comment), label (``POST .../labels``),
draft (``POST /repos/{o}/{r}/issues`` assigned to the receiver). Writes are never retried:
a lost response raises ``OutcomeUnknown`` and the engine reconciles by marker.

Retries happen only for GET/HEAD on 5xx and connection errors (urllib3, inside PyGithub).
Every other failure goes through ``connectors.http`` (errors drawn in
``bridge/core/errors.py``), raised from the PyGithub/requests exception: 429 and 403 with
an exhausted quota or a secondary limit (GitHub's own rows of ``connectors.http.ROWS``)
become ``RateLimited`` with the wait GitHub asked for (``Retry-After`` or
``x-ratelimit-reset``), and the engine skips this connector until then. Markup:
``connectors.github.markup``; timeline entries: ``connectors.github.timeline``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import requests
from github import Auth, Github, GithubException
from urllib3.util.retry import Retry

from bridge.core import errors
from bridge.core.model import Account, Action, ActionKind, ActionResult, ItemKind, ItemRef, ItemSnapshot, PollResult
from connectors import http
from connectors.base import RateBudget, register
from connectors.github import mapping, markup, timeline
from connectors.github.settings import GitHubConnectorConfig

_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def parse_key(key: str) -> tuple[str, int]:
    """Split ``"acme/web#12"`` into ``("acme/web", 12)``.

    Raises:
        ValueError: not a GitHub item key.
    """
    repo, sep, num = key.rpartition("#")
    if not sep or "/" not in repo or not num.isdigit():
        raise ValueError(f"not a GitHub item key: {key!r} (expected owner/name#number)")
    return repo, int(num)


def _message(body: object) -> str:
    """The ``message`` of a GitHub error body (``basic-error``: ``{"message", "documentation_url"}``), or ""."""
    try:
        data = json.loads(body) if isinstance(body, (str, bytes)) and body else None
    except ValueError:
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def _a_list(body: object, url: str) -> list:
    """``body`` when it is a JSON array (``None``: empty); else ``TransientError``: a list
    endpoint answered something else (a proxy's page, a truncated answer)."""
    if body is None:
        return []
    if not isinstance(body, list):
        raise errors.TransientError("github", f"GET {url.split('?')[0]}: a list was expected, got {type(body).__name__}; will retry next cycle")
    return body


def _updated(raw: object) -> str | None:
    """The ``updated_at`` string of a listed issue, or ``None``."""
    value = raw.get("updated_at") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


#: A poll with more changed items than this is a crawl (a first start, a catch-up): it is paced by ``crawl_share``.
CRAWL_ITEMS = 10


@register("github")
class GitHubConnector:
    """Poll and write one GitHub (or GitHub Enterprise) API root.

    Args:
        name: config section name (``[connectors.<name>]``).
        base_url: API root, e.g. ``https://api.github.com`` or an emulator's URL.
        token: the bearer token (never logged, never part of an error text).
        repositories: ``owner/name`` strings, one scope each.
        overlap: how far before the cursor each poll re-reads (wall clock).
        timeout: seconds per HTTP request.
        per_page: page size for lists, 1..100.
        clock: returns aware UTC "now" (a stepping clock in tests and the demo).
        seconds_between_requests, seconds_between_writes: PyGithub's pacing, in seconds
            (wall clock); 0 turns it off (emulators only).
    """

    tool = "github"

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        token: str,
        repositories: Iterable[str],
        overlap: timedelta = timedelta(minutes=2),
        timeout: float = 10.0,
        per_page: int = 100,
        clock: Callable[[], datetime] | None = None,
        seconds_between_requests: float = 0.25,
        seconds_between_writes: float = 1.0,
        backfill: timedelta | None = None,
        crawl_share: float = 1.0,
    ):
        self.name = name
        self.repositories = list(repositories)
        self.crawl_share = crawl_share  # share of the hourly rate budget a crawl may use (see _crawl_paused)
        self._rate: tuple[int, int, int] | None = None  # last (remaining, limit, reset epoch) GitHub told
        self.backfill = backfill  # first poll of a repository: only issues updated this recently (None: all)
        self.overlap = overlap
        self.per_page = per_page
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        retry = Retry(
            total=2,
            connect=2,
            read=2,
            status=2,
            backoff_factor=0.2,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        self._gh = Github(
            base_url=base_url.rstrip("/"),
            auth=Auth.Token(token),
            timeout=max(1, round(timeout)),  # PyGithub asserts an int (seconds)
            retry=retry,
            per_page=per_page,
            lazy=True,
            seconds_between_requests=seconds_between_requests or None,
            seconds_between_writes=seconds_between_writes or None,
        )
        self._me: Account | None = None
        self._branches: dict[str, str | None] = {}  # "owner/repo#n" -> head ref (see _learn_branches)

    @classmethod
    def from_config(cls, name: str, cfg: GitHubConnectorConfig, token: str,
                    clock: Callable[[], datetime] | None = None) -> "GitHubConnector":
        """Build from a validated ``[connectors.<name>]`` section and its resolved token."""
        return cls(
            name,
            base_url=cfg.base_url,
            token=token,
            repositories=cfg.repositories,
            overlap=cfg.overlap.wall(),
            timeout=cfg.timeout.wall().total_seconds(),
            per_page=cfg.per_page,
            clock=clock,
            seconds_between_requests=cfg.seconds_between_requests,
            seconds_between_writes=cfg.seconds_between_writes,
            backfill=cfg.backfill_window(),
            crawl_share=cfg.crawl_share,
        )

    # ------------------------------------------------------------------ HTTP

    def _get(self, url: str, params: dict | None = None, headers: dict | None = None) -> tuple[int, dict, object]:
        """One GET through PyGithub's requester; returns (status, lower-cased headers, parsed JSON or None).

        Raises:
            the ``connectors.http.error_for`` error of a non-2xx/304 answer;
            ``TransientError`` on a timeout, a lost connection or a body that is not JSON
            (cause kept).
        """
        what = f"GET {url.split('?')[0]}"
        try:
            status, hdrs, body = self._gh.requester.requestJson("GET", url, parameters=params, headers=headers)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise http.no_answer(self.tool, what, type(exc).__name__, write=False) from exc
        hdrs = http.lower_keys(hdrs)
        try:
            self._rate = (int(hdrs["x-ratelimit-remaining"]), int(hdrs["x-ratelimit-limit"]),
                          int(hdrs["x-ratelimit-reset"]))
        except (KeyError, ValueError):
            pass
        if status == 304:
            return status, hdrs, None
        if status >= 300:
            raise http.error_for(self.tool, status, hdrs, what, now=self.clock(), message=_message(body))
        try:
            return status, hdrs, json.loads(body) if body else None
        except ValueError as exc:  # a truncated or non-JSON body (JSONDecodeError is a ValueError)
            raise http.no_answer(self.tool, what, "unreadable response", write=False) from exc

    def _get_pages(self, url: str, params: dict | None) -> tuple[list, int]:
        """Follow ``Link: rel="next"`` from the first page; returns (all elements, requests made)."""
        out: list = []
        n = 0
        next_url: str | None = url
        while next_url:
            _, hdrs, body = self._get(next_url, params if n == 0 else None)
            n += 1
            out.extend(_a_list(body, next_url))
            m = _LINK_NEXT.search(hdrs.get("link", ""))
            next_url = m.group(1) if m else None
        return out, n

    # ------------------------------------------------------------------ reading

    def scopes(self) -> list[str]:
        return list(self.repositories)

    def whoami(self) -> Account:
        """The token's own login (``GET /user``), fetched once."""
        if self._me is None:
            _, _, body = self._get("/user")
            self._me = Account(self.tool, body["login"])
        return self._me

    def poll(self, scope: str, cursor: dict | None, known: Callable[[list[str]], dict] | None = None) -> PollResult:
        """Read what changed in repository ``scope`` since ``cursor``.

        Args:
            scope: ``owner/name``.
            cursor: ``{"since", "query_since", "etag"}`` or ``None``: a first poll, which reads
                the issues updated within the ``backfill`` window (all of them when ``None``).
            known: given item keys, returns their stored ``updated_at``; items whose
                ``updated_at`` is unchanged are not re-read (their timeline is already stored).

        Returns:
            PollResult with every timeline event of every changed item, the changed items'
            snapshots, and the next cursor (``None`` when GitHub answered 304). When a later
            list page or a timeline read failed after something was read, ``stopped_by`` is
            that error, the result holds the items read before it and the cursor stops there.
            An item whose timeline answers 404 or another refusal (``NotFound``,
            ``PermanentError``) is listed in ``deferred`` and the poll goes on past it.

        Raises:
            AuthError, RateLimited, TransientError, NotFound, PermanentError: nothing was
            read (the first list page, the branch names or the first timeline failed).
        """
        params = {"state": "all", "sort": "updated", "direction": "asc", "per_page": self.per_page}
        since = query_since = None
        if cursor and cursor.get("since"):
            since = datetime.fromisoformat(cursor["since"].replace("Z", "+00:00"))
            query_since = cursor.get("query_since") or _iso(since - self.overlap)
            params["since"] = query_since
        elif cursor and cursor.get("query_since"):  # the backfill window held nothing yet: same URL (304)
            query_since = params["since"] = cursor["query_since"]
        elif self.backfill is not None:  # first poll: the backfill window only, never the whole backlog
            query_since = params["since"] = _iso(self.clock() - self.backfill)
        headers = {"If-None-Match": cursor["etag"]} if cursor and cursor.get("etag") else None
        url = f"/repos/{scope}/issues"
        status, hdrs, first = self._get(url, params, headers)
        requests_made = 1
        if status == 304:
            return PollResult(next_cursor=None, requests=requests_made)
        one_page = _LINK_NEXT.search(hdrs.get("link", "")) is None
        issues, n, frontier, stopped_by = self._list_rest(hdrs, _a_list(first, url))
        requests_made += n

        items, skipped, raw_of = [], [], {}
        for raw in issues:
            try:
                item = mapping.map_issue(scope, raw)
            except (ValueError, KeyError, TypeError) as exc:
                skipped.append((str(raw.get("number") if isinstance(raw, dict) else "?"), f"malformed issue: {exc}"))
                continue
            items.append(item)
            raw_of[item.ref.key] = raw
        stored = known([it.ref.key for it in items]) if known else {}
        changed = [it for it in items if stored.get(it.ref.key) != it.updated_at]
        events, snapshots, seen_raw, deferred = [], [], [], []
        requests_made += self._learn_branches(scope, [it for it in changed if it.kind == ItemKind.PULL_REQUEST])
        crawl = len(changed) > CRAWL_ITEMS
        for it in changed:  # oldest change first: a stop leaves everything older stored
            _, number = parse_key(it.ref.key)
            try:
                if crawl:
                    self._crawl_paused()
                entries, n = self._get_pages(f"/repos/{scope}/issues/{number}/timeline", {"per_page": self.per_page})
            except (errors.NotFound, errors.PermanentError) as exc:
                deferred.append((it.ref, str(exc)))  # this item's own failure: the others go on
                continue
            except errors.ConnectorError as exc:
                if not snapshots and not deferred:
                    raise
                stopped_by = exc
                frontier = it.updated_at if frontier is None or it.updated_at is None else min(frontier, it.updated_at)
                break
            requests_made += n
            snapshot, item_events, item_skipped = self._map_item(
                it, raw_of[it.ref.key], entries, first_read=stored.get(it.ref.key) is None
            )
            snapshots.append(snapshot)
            events.extend(item_events)
            skipped.extend(item_skipped)
            seen_raw += [raw_of[it.ref.key], *entries]
        if stopped_by is not None or frontier is not None:
            # Everything listed before ``frontier`` is stored; the next poll lists from there
            # (``since`` is inclusive), and ``known`` spares the items already read.
            mark = _iso(frontier) if frontier else query_since
            next_cursor = {"since": mark, "query_since": mark, "etag": None} if mark else None
        else:
            newest = max((it.updated_at for it in items if it.updated_at), default=since)
            if not (one_page and query_since):
                # Move the window only when it no longer fits one page: while it does, the next
                # request is the same URL, so GitHub can answer 304 as soon as nothing changed.
                query_since = _iso(newest - self.overlap) if newest else None
            next_cursor = {"since": _iso(newest) if newest else None, "query_since": query_since, "etag": hdrs.get("etag")}
        return PollResult(
            events=events,
            items=snapshots,
            next_cursor=next_cursor,
            requests=requests_made,
            skipped=skipped,
            accounts=mapping.accounts_seen(snapshots, events, seen_raw),
            stopped_by=stopped_by,
            deferred=deferred,
        )

    def rate_budget(self) -> RateBudget | None:
        """GitHub's primary rate budget as its last answer's ``X-RateLimit-Remaining``,
        ``-Limit`` and ``-Reset`` (epoch seconds) headers said (GitHub REST docs, "Rate limits
        for the REST API"); ``None`` before the first answer."""
        if self._rate is None:
            return None
        remaining, limit, reset = self._rate
        return RateBudget(remaining, limit, datetime.fromtimestamp(reset, timezone.utc))

    def _crawl_paused(self) -> None:
        """Raise ``TransientError`` when a crawl has used its share of the hourly rate budget:
        less than ``1 - crawl_share`` of GitHub's ``X-RateLimit-Limit`` is left (as its last
        answer's ``X-RateLimit-Remaining`` said; GitHub REST docs, "Rate limits for the REST
        API"). The poll then ends with what it read, its cursor stops there, and the crawl goes
        on once the window resets, leaving the rest of the budget to the team's other integrations."""
        if self._rate is None or self.crawl_share >= 1:
            return
        remaining, limit, reset = self._rate
        floor = limit * (1 - self.crawl_share)
        if remaining < floor:
            at = datetime.fromtimestamp(reset, timezone.utc)
            raise errors.TransientError(self.tool, f"crawl paused: {remaining} of {limit} requests left this hour, "
                                                   f"{floor:.0f} kept for other integrations (crawl_share "
                                                   f"{self.crawl_share}); resumes after {_iso(at)}")

    def _list_rest(self, hdrs: dict, first: list) -> tuple[list, int, datetime | None, errors.ConnectorError | None]:
        """Follow ``Link: rel="next"`` after the first page ``first`` of an issues list, and say
        how far the pages can be trusted.

        The pages are offsets into a list sorted by ``updated_at``. An issue updated while they
        are read moves from a page already read to the end, and every issue after it shifts one
        place back: the first issue of the next page slides onto the page already read and is
        never seen (issue 12, "a lost event"). Such a move shows as an issue seen twice; the
        pages are then trusted only up to the end of the page where it was first seen, and the
        cursor goes no further (the next poll lists from there, ``known`` sparing what is stored).

        Returns:
            (every issue listed, newest version of each, in ``(updated_at, number)`` order;
            requests made; the frontier, ``None`` when the whole list can be trusted, else the
            ``updated_at`` below which it can; the error that stopped the reading, or
            ``None``). A failure of a later page is returned, not raised.
        """
        by_number: dict = {}
        page_of: dict = {}  # issue number -> index of the page it was first seen on
        last_of_page: list[str | None] = []
        page, n, frontier, stopped_by = first, 0, None, None
        while True:
            for raw in page:
                number = raw.get("number") if isinstance(raw, dict) else None
                if number in by_number:
                    seen_on = last_of_page[page_of[number]]
                    if seen_on is not None:
                        moved = datetime.fromisoformat(seen_on.replace("Z", "+00:00"))
                        frontier = moved if frontier is None else min(frontier, moved)
                else:
                    page_of[number] = len(last_of_page)
                by_number[number if number is not None else id(raw)] = raw
            last_of_page.append(_updated(page[-1]) if page else None)
            m = _LINK_NEXT.search(hdrs.get("link", ""))
            if not m:
                break
            try:
                _, hdrs, body = self._get(m.group(1))
                page = _a_list(body, m.group(1))
            except errors.ConnectorError as exc:
                stopped_by = exc
                last = last_of_page[-1]
                if last is not None:
                    cut = datetime.fromisoformat(last.replace("Z", "+00:00"))
                    frontier = cut if frontier is None else min(frontier, cut)
                break
            n += 1
        return self._sorted(by_number), n, frontier, stopped_by

    @staticmethod
    def _sorted(by_number: dict) -> list:
        def order(raw: object) -> tuple:
            return (_updated(raw) or "", raw.get("number") if isinstance(raw, dict) and isinstance(raw.get("number"), int) else 0)
        return sorted(by_number.values(), key=order)

    def _map_item(self, item: ItemSnapshot, raw: dict, entries: list, *, first_read: bool):
        """Timeline events, text links and the linked snapshot of one item (shared by poll and fetch)."""
        result = timeline.map_timeline(item.ref, entries)
        snapshot, link_events = mapping.map_links(
            item,
            body=raw.get("body") if isinstance(raw, dict) else None,
            head_ref=self._branches.get(item.ref.key) if item.kind == ItemKind.PULL_REQUEST else None,
            events=result.events,
            first_read=first_read,
        )
        # Event types we deliberately ignore are not errors; broken entries are.
        skipped = [
            (f"{item.ref.key} timeline[{index}]", reason)
            for index, _type, reason in result.skipped
            if reason.startswith("malformed")
        ]
        return snapshot, result.events + link_events, skipped

    def _learn_branches(self, scope: str, pulls: list[ItemSnapshot], *, listed: bool = True) -> int:
        """Learn the head ref (branch name) of every pull request in ``pulls`` not yet known.

        A branch name never changes for a pull request (short of renaming the branch), so it
        is read once per process and kept. Cost: nothing when every branch is known; else
        ``GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc`` pages (GitHub
        REST "List pull requests") until every wanted pull request was seen or the pages
        reach older updates than the oldest wanted one (one page while at most ``per_page``
        pull requests changed), then ``GET /repos/{o}/{r}/pulls/{n}`` for any still missing.
        With ``listed=False`` (one item, for ``fetch``) only the latter. A pull request
        GitHub does not show (404) is remembered without a branch.

        Returns:
            Requests made.
        """
        wanted = {parse_key(p.ref.key)[1]: p.updated_at for p in pulls if p.ref.key not in self._branches}
        if not wanted:
            return 0
        dated = [u for u in wanted.values() if u is not None]
        oldest = min(dated) - self.overlap if dated else None
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": self.per_page}
        next_url: str | None = f"/repos/{scope}/pulls" if listed else None
        n = 0
        while next_url and wanted:
            _, hdrs, body = self._get(next_url, params if n == 0 else None)
            n += 1
            last_updated = None
            for pull in body or []:
                head = mapping.pull_head(pull)
                if head is None:
                    continue
                number, ref, last_updated = head
                self._branches[f"{scope}#{number}"] = ref
                wanted.pop(number, None)
            if oldest is None or last_updated is None or last_updated < oldest:
                break
            m = _LINK_NEXT.search(hdrs.get("link", ""))
            next_url = m.group(1) if m else None
        for number in sorted(wanted):
            n += 1
            try:
                _, _, body = self._get(f"/repos/{scope}/pulls/{number}")
            except errors.NotFound:
                body = None
            head = mapping.pull_head(body)
            self._branches[f"{scope}#{number}"] = head[1] if head else None
        return n

    def fetch(self, ref: ItemRef) -> PollResult:
        """Re-read one issue or pull request now: its snapshot and every event of its timeline.

        The live re-check before the engine acts on a standoff. Events and their ids are
        exactly those :meth:`poll` gives for the same facts (same mapping, same text links),
        so storing the result adds only what is new; ``accounts`` as in ``poll``.

        Cost: ``GET /repos/{o}/{r}/issues/{n}`` + the timeline pages (one while it holds at
        most ``per_page`` entries) + for a pull request whose branch this process has not
        learnt yet ``GET /repos/{o}/{r}/pulls/{n}``: 2 requests usually, 3 at most for a
        short timeline.

        Returns:
            ``PollResult`` with one item (``items == []`` when GitHub answers 404 or 410:
            deleted or not visible to the token; also when the issue was transferred to
            another repository; a malformed issue is listed in ``skipped``; an issue whose
            timeline answers 404 is listed in ``deferred``, with no item), ``next_cursor`` ``None``.

        Raises:
            ValueError: ``ref`` is not a GitHub item key.
            AuthError, RateLimited, TransientError, PermanentError.
        """
        repo, number = parse_key(ref.key)
        requests_made = 1
        try:
            _, _, raw = self._get(f"/repos/{repo}/issues/{number}")
        except errors.NotFound:  # 404, or 410 for a deleted issue
            return PollResult(requests=requests_made)
        try:
            item = mapping.map_issue(repo, raw)
        except (ValueError, KeyError, TypeError) as exc:
            return PollResult(requests=requests_made, skipped=[(ref.key, f"malformed issue: {exc}")])
        if item.ref != ItemRef(self.tool, ref.key):
            # GitHub followed a transfer to another repository: this item is gone from here.
            return PollResult(requests=requests_made)
        if item.kind == ItemKind.PULL_REQUEST:
            requests_made += self._learn_branches(repo, [item], listed=False)
        try:
            entries, n = self._get_pages(f"/repos/{repo}/issues/{number}/timeline", {"per_page": self.per_page})
        except errors.NotFound as exc:  # the issue is there, its timeline is not readable
            return PollResult(requests=requests_made + 1, deferred=[(ref, str(exc))])
        requests_made += n
        snapshot, events, skipped = self._map_item(item, raw, entries, first_read=False)
        return PollResult(
            events=events,
            items=[snapshot],
            next_cursor=None,
            requests=requests_made,
            skipped=skipped,
            accounts=mapping.accounts_seen([snapshot], events, [raw, *entries]),
        )

    # ------------------------------------------------------------------ writing

    def mention(self, account: Account) -> str:
        return markup.mention(account)

    def footer(self, rule: str, marker: str) -> str:
        return markup.footer(rule, marker)

    def literal(self, text: str) -> str:
        return markup.literal(text)

    def escape(self, text: str) -> str:
        return markup.escape(text)

    def _issue(self, key: str):
        """A lazy PyGithub Issue: no request until a write is made through it."""
        repo, number = parse_key(key)
        return self._gh.get_repo(repo).get_issue(number)

    def _write(self, what: str, fn: Callable[[], object]) -> object:
        """Run one PyGithub write; its failures become ``connectors.http`` errors (``write=True``),
        the PyGithub exception kept as the cause."""
        try:
            return fn()
        except GithubException as exc:
            message = str(exc.data.get("message") or "") if isinstance(exc.data, dict) else ""
            raise http.error_for(
                self.tool, exc.status, exc.headers, what, now=self.clock(), write=True, message=message
            ) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise http.no_answer(self.tool, what, type(exc).__name__, write=True) from exc

    def apply(self, action: Action) -> ActionResult:
        """Perform ``action`` once (no retry).

        Raises:
            OutcomeUnknown: the request may have been applied (lost response, 5xx).
            AuthError, RateLimited, NotFound, PermanentError.
        """
        repo, number = parse_key(action.item.key)
        issue = self._issue(action.item.key)
        if action.kind == ActionKind.COMMENT:
            c = self._write("comment", lambda: issue.create_comment(action.body))
            return ActionResult(url=c.html_url, remote_id=str(c.id))
        if action.kind == ActionKind.REASSIGN:
            logins = [a.id for a in action.assignees]
            self._write("reassign", lambda: issue.edit(assignees=logins))
            c = self._write("comment", lambda: issue.create_comment(action.body))
            return ActionResult(url=c.html_url, remote_id=str(c.id))
        if action.kind == ActionKind.LABEL:
            self._write("label", lambda: issue.add_to_labels(action.label))
            return ActionResult(url=None)
        if action.kind == ActionKind.DRAFT:
            repository = self._gh.get_repo(repo)
            new = self._write(
                "draft",
                lambda: repository.create_issue(
                    title=action.title or "Request", body=action.body, assignees=[a.id for a in action.assignees]
                ),
            )
            return ActionResult(url=new.html_url, remote_id=f"{repo}#{new.number}")
        raise errors.PermanentError(self.tool, f"unsupported action {action.kind}")

    def _marker_read(self, url: str, params: dict | None, shape: type) -> tuple[Any, dict]:
        """One GET of a marker lookup whose answer must be JSON of ``shape`` (``list``/``dict``);
        returns ``(body, lower-cased headers)``. Anything else raises ``TransientError``."""
        what = f"GET {url.split('?')[0]}"
        try:
            _, hdrs, body = self._get(url, params)
        except ValueError as exc:  # unreadable JSON
            raise http.no_answer(self.tool, what, "unreadable response, marker lookup cannot tell", write=False) from exc
        if not isinstance(body, shape):
            raise http.no_answer(self.tool, what, f"answer is not a JSON {shape.__name__}, marker lookup cannot tell",
                                 write=False)
        return body, hdrs

    def _marker_pages(self, url: str, params: dict | None) -> list:
        """Every page of a marker lookup's list (``Link: rel="next"``), each checked by ``_marker_read``."""
        out: list = []
        next_url: str | None = url
        first = True
        while next_url:
            body, hdrs = self._marker_read(next_url, params if first else None, list)
            first = False
            out.extend(body)
            m = _LINK_NEXT.search(hdrs.get("link", ""))
            next_url = m.group(1) if m else None
        return out

    def find_marker(self, action: Action, since: datetime) -> ActionResult | None:
        """Find what ``action`` already wrote, by its marker, on or after ``since``.

        Comments and reassignments: the item's comments since ``since`` (``GET
        .../comments?since=``). Drafts: the repository's issues updated since ``since``
        whose body carries the marker. Labels: present on the item.

        Returns ``None`` only when every page was read and was GitHub's JSON array (the issue:
        an object); anything else raises ``TransientError`` (the lookup cannot tell; the row waits).
        """
        repo, number = parse_key(action.item.key)
        window = _iso(since - timedelta(minutes=5))
        if action.kind in (ActionKind.COMMENT, ActionKind.REASSIGN):
            comments = self._marker_pages(
                f"/repos/{repo}/issues/{number}/comments", {"since": window, "per_page": self.per_page}
            )
            for c in comments:
                if action.marker in (c.get("body") or ""):
                    # For a reassignment the comment is written after the assignment, so
                    # the marker proves both.
                    return ActionResult(url=c.get("html_url"), remote_id=str(c.get("id")), already_present=True)
            return None
        if action.kind == ActionKind.DRAFT:
            issues = self._marker_pages(
                f"/repos/{repo}/issues", {"since": window, "state": "all", "sort": "created", "direction": "desc", "per_page": self.per_page}
            )
            for i in issues:
                if action.marker in (i.get("body") or ""):
                    return ActionResult(url=i.get("html_url"), remote_id=f"{repo}#{i.get('number')}", already_present=True)
            return None
        if action.kind == ActionKind.LABEL:
            body, _ = self._marker_read(f"/repos/{repo}/issues/{number}", None, dict)
            if action.label in [lbl.get("name") for lbl in body.get("labels") or [] if isinstance(lbl, dict)]:
                return ActionResult(url=None, already_present=True)
            return None
        return None
