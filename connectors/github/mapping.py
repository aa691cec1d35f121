"""Map GitHub vendor JSON to the normalized model, in exactly one place.

Pure functions over plain dicts as parsed from GitHub REST responses (API version
2022-11-28; 2026-03-10 shapes are accepted too). No I/O, no PyGithub objects.

Sources followed:

- GitHub REST "Issues" (``GET /repos/{owner}/{repo}/issues``, ``.../issues/{number}``)
  for :func:`map_issue`;
- GitHub REST "Timeline events" (``GET .../issues/{number}/timeline``) and
  "Issue event types" (docs.github.com/en/rest/using-the-rest-api/issue-event-types),
  which also covers ``GET .../issues/events/{id}``, for ``connectors.github.timeline``
  (``map_timeline``, split out to keep each file readable);
- GitHub REST "Pulls" (``GET /repos/{owner}/{repo}/pulls``, ``.../pulls/{number}``) for
  :func:`pull_head` (the branch name), GitHub Docs "Setting your commit email address" for
  the no-reply addresses of :func:`commit_author`;
- ``connectors.textrefs`` for item references in titles, bodies, branch names and comments
  (:func:`map_links`);
- GitHub's username rules (alphanumerics and single hyphens, not at either end, at most
  39 characters) and its Markdown mention rules for ``connectors.github.timeline.mentions``.

Event ids (``Event.id``; the store dedups on ``(tool, id)`` across all items):

===========================  ==============================================  ==========
source                       id                                              id space
===========================  ==============================================  ==========
issue event (timeline)       ``ev:<id>``                                     global
issue comment                ``comment:<id>``                                global
pull request review          ``review:<id>``                                 global
review (line) comment        ``review_comment:<id>``                         global
commit                       ``commit:<owner>/<repo>#<n>@<sha>``             per item
commit comment               ``commit_comment:<owner>/<repo>#<n>@<id>``      per item
entry without any vendor id  ``derived:<owner>/<repo>#<n>:<event>:<created_at>:<actor>:<subject>``  per item
reference in the item's text ``text:<owner>/<repo>#<n>:<source>:<kind>:<tool>:<key>``  per item
===========================  ==============================================  ==========

Text references (:func:`map_links`) are facts we derive, not GitHub's: their id names the
source (``title``, ``body``, ``branch`` or the comment's event id), the normalized link kind
(``blocked_by`` | ``mention``) and the target, so every re-read of unchanged text repeats it.

Commits and commit comments carry the item key because one commit can sit in several
pull requests (stacked branches); without it the second item's fact would be dropped
as a duplicate. Cross-references have no vendor id at all, hence the derived id.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from bridge.core.model import (
    BLOCKED_BY,
    Account,
    AccountInfo,
    Event,
    EventKind,
    ItemKind,
    ItemRef,
    ItemSnapshot,
    StatusCategory,
    Tool,
    link_kind,
)
from connectors.textrefs import find_refs
from connectors.base import parse_iso_utc

TOOL = Tool.GITHUB.value
#: ``Account.tool`` of a commit author known only by e-mail (see :func:`commit_author`).
EMAIL = "email"

__all__ = [
    "item_ref",
    "parse_time",
    "map_issue",
    "commit_author",
    "pull_head",
    "map_links",
    "accounts_seen",
]


# ---------------------------------------------------------------------------- basics


def item_ref(repo_full_name: str, number: int) -> ItemRef:
    """Build the reference of issue or pull request ``number`` in ``owner/repo``.

    Returns ``ItemRef("github", "acme/web#12")``.

    Raises:
        ValueError: the repository name is not ``owner/repo`` or the number is not a
            positive integer.
    """
    if not isinstance(repo_full_name, str) or repo_full_name.count("/") != 1 or "#" in repo_full_name:
        raise ValueError(f"not a repository full name: {repo_full_name!r} (expected owner/repo)")
    owner, _, name = repo_full_name.partition("/")
    if not owner or not name:
        raise ValueError(f"not a repository full name: {repo_full_name!r} (expected owner/repo)")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"not an issue number: {number!r} (expected a positive integer)")
    return ItemRef(TOOL, f"{repo_full_name}#{number}")


def parse_time(s: Any) -> datetime:
    """Parse a GitHub ISO 8601 timestamp into aware UTC (``connectors.base.parse_iso_utc``).

    Raises:
        ValueError: not a string, not ISO 8601, or without a time zone.
    """
    return parse_iso_utc(s)


# ---------------------------------------------------------------------------- issues


def required(obj: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]``, present, not null and of type ``kind``, or raise ``Malformed`` naming ``where``."""
    if not isinstance(obj, dict):
        raise Malformed(f"{where} is {type(obj).__name__}, not an object")
    if key not in obj or obj[key] is None:
        raise Malformed(f"{where} has no '{key}'")
    value = obj[key]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise Malformed(f"{where}.{key} is {type(value).__name__}: {value!r}")
    return value


def login_of(obj: Any, where: str) -> str:
    """The ``login`` of a user object, or raise ``Malformed``."""
    if not isinstance(obj, dict):
        raise Malformed(f"{where} is {type(obj).__name__ if obj is not None else 'missing'}, not a user")
    login = obj.get("login")
    if not isinstance(login, str) or not login:
        raise Malformed(f"{where} has no login")
    return login


def account_of(obj: Any, where: str) -> Account:
    """The GitHub account of a user object (``Account("github", login)``), or raise ``Malformed``."""
    return Account(TOOL, login_of(obj, where))


def time_at(obj: dict, key: str, where: str) -> datetime:
    """``obj[key]`` as an aware UTC datetime (ISO 8601 with zone), or raise ``Malformed``."""
    raw = required(obj, key, str, where)
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise Malformed(f"{where}.{key}: {exc}") from None


class Malformed(Exception):
    """A vendor object lacks a required field or has one of the wrong type."""


def map_issue(repo_full_name: str, issue: dict) -> ItemSnapshot:
    """Map one issue or pull request object to an :class:`ItemSnapshot`.

    Args:
        repo_full_name: ``owner/repo`` the object was listed from.
        issue: one element of ``GET /repos/{owner}/{repo}/issues`` or the body of
            ``GET .../issues/{number}`` (GitHub REST "Issues"; a pull request is an issue
            with a ``pull_request`` key).

    Mapping:
        - ``kind``: ``pull_request`` when ``pull_request`` is present, else ``issue``.
        - ``status``: ``open`` | ``closed`` | ``merged`` (closed PR with
          ``pull_request.merged_at``).
        - ``status_category``: ``done`` when closed; when open: ``blocked`` if
          ``issue_dependencies_summary.blocked_by`` counts open blockers, else for a pull
          request ``in_progress`` while a draft and ``in_review`` otherwise, for an issue
          ``in_progress`` with assignees and ``todo`` without.
        - ``assignees`` from ``assignees`` (falling back to the singular ``assignee``,
          which API 2026-03-10 dropped), ``labels`` = label names, ``author`` =
          ``user.login`` (``None`` when GitHub sends no user), ``url`` = ``html_url``,
          ``created_at``/``updated_at`` in UTC.

    Raises:
        ValueError: the object is malformed (missing or mistyped ``number``, ``title``,
            ``state``, ``html_url``, a user without login, an unparsable timestamp, ...);
            the message names the item and the field. The connector skips that item.
    """
    try:
        return _map_issue(repo_full_name, issue)
    except Malformed as exc:
        number = issue.get("number") if isinstance(issue, dict) else None
        raise ValueError(f"malformed GitHub issue {repo_full_name}#{number}: {exc}") from None


def _map_issue(repo_full_name: str, issue: dict) -> ItemSnapshot:
    if not isinstance(issue, dict):
        raise Malformed(f"issue is {type(issue).__name__}, not an object")
    number = required(issue, "number", int, "issue")
    try:
        ref = item_ref(repo_full_name, number)
    except ValueError as exc:
        raise Malformed(str(exc)) from None
    title = required(issue, "title", str, "issue")
    url = required(issue, "html_url", str, "issue")
    state = required(issue, "state", str, "issue")
    if state not in ("open", "closed"):
        raise Malformed(f"issue.state is {state!r}, expected 'open' or 'closed'")

    pull = issue.get("pull_request")
    is_pr = "pull_request" in issue and pull is not None
    if is_pr and not isinstance(pull, dict):
        raise Malformed(f"issue.pull_request is {type(pull).__name__}, not an object")

    assignees = _assignees(issue)
    labels = _labels(issue)

    status = state
    if state == "closed":
        if is_pr and pull.get("merged_at"):
            status = "merged"
        category = StatusCategory.DONE
    elif _open_blockers(issue) > 0:
        category = StatusCategory.BLOCKED
    elif is_pr:
        category = StatusCategory.IN_PROGRESS if issue.get("draft") is True else StatusCategory.IN_REVIEW
    else:
        category = StatusCategory.IN_PROGRESS if assignees else StatusCategory.TODO

    user = issue.get("user")
    author = account_of(user, "issue.user") if user is not None else None
    created = time_at(issue, "created_at", "issue") if issue.get("created_at") is not None else None
    updated = time_at(issue, "updated_at", "issue") if issue.get("updated_at") is not None else None

    return ItemSnapshot(
        ref=ref,
        title=title,
        url=url,
        kind=ItemKind.PULL_REQUEST if is_pr else ItemKind.ISSUE,
        status=status,
        status_category=category,
        assignees=assignees,
        labels=labels,
        author=author,
        created_at=created,
        updated_at=updated,
        description=issue["body"].strip() or None if isinstance(issue.get("body"), str) else None,
    )


def _assignees(issue: dict) -> tuple[Account, ...]:
    raw = issue.get("assignees")
    if raw is None:
        single = issue.get("assignee")
        raw = [single] if single is not None else []
    if not isinstance(raw, list):
        raise Malformed(f"issue.assignees is {type(raw).__name__}, not a list")
    out: list[Account] = []
    for i, user in enumerate(raw):
        acc = account_of(user, f"issue.assignees[{i}]")
        if acc not in out:
            out.append(acc)
    return tuple(out)


def _labels(issue: dict) -> tuple[str, ...]:
    raw = issue.get("labels") or []
    if not isinstance(raw, list):
        raise Malformed(f"issue.labels is {type(raw).__name__}, not a list")
    out: list[str] = []
    for i, label in enumerate(raw):
        name = label if isinstance(label, str) else (label.get("name") if isinstance(label, dict) else None)
        if not isinstance(name, str) or not name:
            raise Malformed(f"issue.labels[{i}] has no name")
        if name not in out:
            out.append(name)
    return tuple(out)


def _open_blockers(issue: dict) -> int:
    summary = issue.get("issue_dependencies_summary")
    if not isinstance(summary, dict):
        return 0
    count = summary.get("blocked_by")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


# ---------------------------------------------------------------------------- events and commit authors


def make_event(ref: ItemRef, kind: EventKind, event_id: str, at: datetime, **fields: Any) -> Event:
    """A GitHub ``Event`` on ``ref`` (``fields``: the other ``Event`` fields)."""
    return Event(tool=TOOL, id=event_id, item=ref, at=at, kind=kind, **fields)


# GitHub's no-reply commit addresses: ``ID+login@users.noreply.github.com`` (since July 2017)
# and ``login@users.noreply.github.com`` (before); GitHub Docs "Setting your commit email
# address". The login is the account's, so the commit is attributed to it, not to an e-mail.
#: ``[ID+]login@users.noreply.github.com``; an app's bot login ends in ``[bot]`` (GitHub's own
#: ``41898282+github-actions[bot]@users.noreply.github.com``), which a user login cannot.
_NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9][A-Za-z0-9-]{0,38})(\[bot\])?@users\.noreply\.github\.com$", re.IGNORECASE)


def commit_author(entry: dict) -> tuple[Account | None, AccountInfo | None]:
    """Who authored a timeline ``committed`` entry, from its git ``author`` (name, e-mail).

    Git authors carry a name and an e-mail, no login (GitHub REST "Timeline events",
    ``timeline-committed-event.author``). Returns ``(actor, info)``:

    - a GitHub no-reply address (``[ID+]login@users.noreply.github.com``, a bot's too:
      ``98922864+name[bot]@…`` → ``name[bot]``, the login its API objects carry) →
      ``Account("github", login)``, info with the author name and ``email=None`` (the
      address reaches nobody);
    - any other address → ``Account("email", <lower-cased address>)``, a pseudo-account
      the people directory maps to a person by e-mail; info with the name and the address;
    - no usable address → ``(None, None)``.

    Never raises.
    """
    author = entry.get("author") if isinstance(entry, dict) else None
    if not isinstance(author, dict):
        return None, None
    email = author.get("email")
    name = author.get("name") if isinstance(author.get("name"), str) and author.get("name") else None
    if not isinstance(email, str) or "@" not in email.strip():
        return None, None
    email = email.strip()
    m = _NOREPLY.match(email)
    if m:
        account = Account(TOOL, m.group(1) + ("[bot]" if m.group(2) else ""))
        return account, AccountInfo(account, display_name=name, email=None)
    account = Account(EMAIL, email.lower())
    return account, AccountInfo(account, display_name=name, email=email.lower())


# ---------------------------------------------------------------------------- pull requests


def pull_head(pull: Any) -> tuple[int, str, datetime | None] | None:
    """``(number, head ref, updated_at)`` of one pull request object, or ``None`` if unusable.

    ``pull``: one element of ``GET /repos/{o}/{r}/pulls`` (GitHub REST "Pulls",
    ``pull-request-simple``) or the body of ``GET .../pulls/{number}`` (``pull-request``);
    ``head.ref`` is the branch name the pull request merges from (the issues list and the
    timeline do not carry it). ``updated_at`` is ``None`` when absent or unparsable.
    Never raises.
    """
    if not isinstance(pull, dict):
        return None
    number, head = pull.get("number"), pull.get("head")
    ref = head.get("ref") if isinstance(head, dict) else None
    if isinstance(number, bool) or not isinstance(number, int) or not isinstance(ref, str) or not ref:
        return None
    try:
        updated = parse_time(pull.get("updated_at"))
    except ValueError:
        updated = None
    return number, ref, updated


# ---------------------------------------------------------------------------- links

#: The marker every text the daemon writes carries (DESIGN.md "Actions"); such text is ours
#: and never a source of links (a standoff comment naming both items must not link them).
_OUR_MARKER = re.compile(r"\bhb:[0-9a-f]{12}\b")
_TEXT_ID = "text"


def map_links(
    item: ItemSnapshot,
    *,
    body: str | None,
    head_ref: str | None,
    events: list[Event],
    first_read: bool,
) -> tuple[ItemSnapshot, list[Event]]:
    """Fill ``links`` and ``blocked_by`` of ``item``; return it with the ``linked`` events of its text.

    Args:
        item: the snapshot from :func:`map_issue`.
        body: the issue's ``body`` (Markdown, may be ``None``).
        head_ref: the pull request's branch name (:func:`pull_head`), ``None`` for issues or
            when unknown.
        events: every event ``connectors.github.timeline.map_timeline`` made of the item's whole timeline.
        first_read: the item was never stored before (decides ``at`` of description links).

    Text sources, read with ``connectors.textrefs.find_refs``: the title, the body and the branch
    name with bare Jira keys (``WEB-17: fix``, ``feature/WEB-17-claim``), and the text of
    every comment and review (``commented``/``reviewed`` events) for tracker URLs only. Text
    carrying the daemon's marker (``hb:<12 hex>``) is skipped. The item itself is never a
    target.

    Each (source, kind, target) gives one ``linked`` event, ``link_type`` ``"is blocked by"``
    or ``"mentions"`` (as ``find_refs`` says), id
    ``text:<owner>/<repo>#<n>:<source>:<blocked_by|mention>:<tool>:<target key>`` where
    source is ``title``, ``body``, ``branch`` or the comment's own event id
    (``comment:<id>``, ``review:<id>``, ...). Re-reading the same text gives the same ids, so
    the store keeps one. ``at``: a comment's time; for title and body the item's
    ``created_at`` when ``first_read`` (the text may date from its creation), else its
    ``updated_at`` (the text changed at the latest then); for the branch ``created_at``.
    ``actor``: the comment's author, ``None`` for title, body and branch (GitHub does not
    say who edited them).

    ``links``: targets of native links still standing (``linked`` minus later ``unlinked``
    of the same type and target, in time order: dependencies, sub/parent issues,
    cross-references), then every text target, each once, in order of first appearance.
    ``blocked_by``: native ``blocked_by`` links still standing and text targets any source
    names as blocking. A reference removed from the text is gone from both in the next
    snapshot (no ``unlinked`` event is emitted for it).

    Never raises.
    """
    desc_at = (item.created_at if first_read else item.updated_at) or item.updated_at or item.created_at
    sources: list[tuple[str, str | None, datetime | None, Account | None, bool]] = [
        ("title", item.title, desc_at, None, True),
        ("body", body if isinstance(body, str) else None, desc_at, None, True),
        ("branch", head_ref, item.created_at or desc_at, None, True),
    ]
    for e in events:
        if e.kind in (EventKind.COMMENTED, EventKind.REVIEWED) and e.text:
            sources.append((e.id, e.text, e.at, e.actor, False))

    text_events: list[Event] = []
    text_targets: list[ItemRef] = []
    text_blockers: list[ItemRef] = []
    for source, text, at, actor, bare in sources:
        if not text or _OUR_MARKER.search(text):
            continue
        for found in find_refs(text, bare_jira_keys=bare):
            if found.ref == item.ref:
                continue
            kind = link_kind(found.link_type)
            if found.ref not in text_targets:
                text_targets.append(found.ref)
            if kind == BLOCKED_BY and found.ref not in text_blockers:
                text_blockers.append(found.ref)
            if at is None:
                continue
            event_id = f"{_TEXT_ID}:{item.ref.key}:{source}:{kind}:{found.ref.tool}:{found.ref.key}"
            text_events.append(
                make_event(item.ref, EventKind.LINKED, event_id, at, actor=actor, link_type=found.link_type, target=found.ref)
            )

    standing: dict[tuple[str, ItemRef], None] = {}
    native = [e for e in events if e.kind in (EventKind.LINKED, EventKind.UNLINKED) and e.target is not None]
    for e in sorted(native, key=lambda e: e.at):  # stable: same-time entries keep timeline order
        key = (e.link_type or "", e.target)
        if e.kind == EventKind.LINKED:
            standing[key] = None
        else:
            standing.pop(key, None)
    links: list[ItemRef] = []
    blocked_by: list[ItemRef] = []
    for link_type, target in standing:
        if target == item.ref:
            continue
        if target not in links:
            links.append(target)
        if link_kind(link_type) == BLOCKED_BY and target not in blocked_by:
            blocked_by.append(target)
    links += [t for t in text_targets if t not in links]
    blocked_by += [t for t in text_blockers if t not in blocked_by]
    return replace(item, links=tuple(links), blocked_by=tuple(blocked_by)), text_events


# ---------------------------------------------------------------------------- accounts


def _user_details(obj: Any, out: dict[str, tuple[str | None, str | None]]) -> None:
    """Collect ``login -> (name, email)`` from every user object nested in ``obj``."""
    if isinstance(obj, dict):
        login = obj.get("login")
        if isinstance(login, str) and login and obj.get("type") != "Organization":
            name = obj.get("name") if isinstance(obj.get("name"), str) and obj.get("name") else None
            email = obj.get("email") if isinstance(obj.get("email"), str) and "@" in obj.get("email") else None
            old_name, old_email = out.get(login, (None, None))
            out[login] = (old_name or name, old_email or (email.strip().lower() if email else None))
        for value in obj.values():
            if isinstance(value, (dict, list)):
                _user_details(value, out)
    elif isinstance(obj, list):
        for value in obj:
            _user_details(value, out)


def accounts_seen(items: list[ItemSnapshot], events: list[Event], raw: list[Any]) -> list[AccountInfo]:
    """The accounts a poll saw, with the name and e-mail GitHub showed for them.

    Args:
        items: mapped snapshots (their ``author`` and ``assignees`` count).
        events: mapped events (their ``actor`` and ``subject`` count: assigners, assignees,
            reviewers, review requesters, commenters, commit authors). Mentions do not: a
            ``@word`` in text is no proof of an account.
        raw: the vendor objects they were mapped from (issues, timeline entries); user
            objects there give ``name``/``email`` when GitHub includes them (``simple-user``
            has both as optional fields; list payloads usually omit them), and ``committed``
            entries give the git author's name and e-mail (:func:`commit_author`).

    Returns:
        One ``AccountInfo`` per account, sorted by account; ``email`` lower-cased, ``None``
        when not shown. Never raises.
    """
    details: dict[str, tuple[str | None, str | None]] = {}
    _user_details(raw, details)
    commit_infos: dict[Account, AccountInfo] = {}
    for entry in raw:
        if isinstance(entry, dict) and entry.get("event") == "committed":
            account, info = commit_author(entry)
            if account is not None and info is not None and account not in commit_infos:
                commit_infos[account] = info
    seen: set[Account] = set()
    for it in items:
        seen.update(a for a in (it.author, *it.assignees) if a is not None)
    for e in events:
        seen.update(a for a in (e.actor, e.subject) if a is not None)
    out = []
    for account in sorted(seen):
        if account.tool == EMAIL:
            out.append(commit_infos.get(account) or AccountInfo(account, email=account.id))
            continue
        name, email = details.get(account.id, (None, None))
        if name is None and account in commit_infos:
            name = commit_infos[account].display_name
        out.append(AccountInfo(account, display_name=name, email=email))
    return out
