"""Map GitHub vendor JSON to the normalized model, in exactly one place.

Pure functions over plain dicts as parsed from GitHub REST responses (API version
2022-11-28; 2026-03-10 shapes are accepted too). No I/O, no PyGithub objects.

Sources followed:

- GitHub REST "Issues" (``GET /repos/{owner}/{repo}/issues``, ``.../issues/{number}``)
  for :func:`map_issue`;
- GitHub REST "Timeline events" (``GET .../issues/{number}/timeline``) and
  "Issue event types" (docs.github.com/en/rest/using-the-rest-api/issue-event-types),
  which also covers ``GET .../issues/events/{id}``, for :func:`map_timeline`;
- GitHub REST "Pulls" (``GET /repos/{owner}/{repo}/pulls``, ``.../pulls/{number}``) for
  :func:`pull_head` (the branch name), GitHub Docs "Setting your commit email address" for
  the no-reply addresses of :func:`commit_author`;
- ``connectors.textrefs`` for item references in titles, bodies, branch names and comments
  (:func:`map_links`);
- GitHub's username rules (alphanumerics and single hyphens, not at either end, at most
  39 characters) and its Markdown mention rules for :func:`mentions`.

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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

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
    "TimelineMapping",
    "item_ref",
    "parse_time",
    "map_issue",
    "map_timeline",
    "mentions",
    "commit_author",
    "pull_head",
    "map_links",
    "accounts_seen",
    "SKIP_REASONS",
    "MAPPED_TYPES",
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


# ---------------------------------------------------------------------------- mentions

# A fenced code block: an opening fence of 3+ backticks or tildes (indented at most 3
# spaces), up to a closing fence of the same character at least as long, or to the end.
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# An inline code span: a backtick run closed by the next run of exactly the same length.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
# A candidate: "@" not glued to a preceding word, e-mail local part, path or another "@".
_MENTION = re.compile(r"(?<![\w`./@+\-])@([A-Za-z0-9][A-Za-z0-9\-]*)")
_MAX_LOGIN = 39


def _strip_code(text: str) -> str:
    """Blank out fenced code blocks and inline code spans (keep other text in place)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m:
                fence = m.group(1)
                out.append("\n")
            else:
                out.append(line)
        else:
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence) and (
                len(line) - len(line.lstrip(" ")) <= 3
            ):
                fence = None
            out.append("\n")
    return _CODE_SPAN.sub(" ", "".join(out))


def mentions(text: str | None) -> tuple[Account, ...]:
    """Extract the people ``@login``-mentioned in Markdown ``text``, deduplicated, in order.

    Follows GitHub's username rules: alphanumerics and single hyphens, no hyphen at
    either end (a trailing hyphen is read as punctuation), at most 39 characters. Not
    mentions: text inside code spans or fenced code blocks, e-mail addresses
    (``ben@example.com``), team mentions (``@org/team``: a team is not a person to hand
    to), candidates glued to an underscore or longer than 39 characters. Trailing
    punctuation (``@ben,`` ``@ben.`` ``@ben)``) ends the login. Duplicates are compared
    case-insensitively (GitHub logins are); the first spelling is kept.

    Returns:
        ``Account("github", login)`` for each person, in order of first mention;
        ``()`` for ``None`` or empty text. Never raises.
    """
    if not text or not isinstance(text, str):
        return ()
    cleaned = _strip_code(text)
    seen: set[str] = set()
    found: list[Account] = []
    for m in _MENTION.finditer(cleaned):
        run = m.group(1)
        after = cleaned[m.end() : m.end() + 1]
        if after == "/":
            continue  # @org/team: a team mention, no single person
        if after == "_" or after.isalnum():
            continue  # glued to characters a login cannot hold
        login = run.rstrip("-")
        if not login or "--" in login or len(login) > _MAX_LOGIN:
            continue
        key = login.lower()
        if key in seen:
            continue
        seen.add(key)
        found.append(Account(TOOL, login))
    return tuple(found)


# ---------------------------------------------------------------------------- issues


def _req(obj: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise _Malformed(f"{where} is {type(obj).__name__}, not an object")
    if key not in obj or obj[key] is None:
        raise _Malformed(f"{where} has no '{key}'")
    value = obj[key]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise _Malformed(f"{where}.{key} is {type(value).__name__}: {value!r}")
    return value


def _login(obj: Any, where: str) -> str:
    """The ``login`` of a user object, or raise ``_Malformed``."""
    if not isinstance(obj, dict):
        raise _Malformed(f"{where} is {type(obj).__name__ if obj is not None else 'missing'}, not a user")
    login = obj.get("login")
    if not isinstance(login, str) or not login:
        raise _Malformed(f"{where} has no login")
    return login


def _account(obj: Any, where: str) -> Account:
    return Account(TOOL, _login(obj, where))


def _time(obj: dict, key: str, where: str) -> datetime:
    raw = _req(obj, key, str, where)
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise _Malformed(f"{where}.{key}: {exc}") from None


class _Malformed(Exception):
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
    except _Malformed as exc:
        number = issue.get("number") if isinstance(issue, dict) else None
        raise ValueError(f"malformed GitHub issue {repo_full_name}#{number}: {exc}") from None


def _map_issue(repo_full_name: str, issue: dict) -> ItemSnapshot:
    if not isinstance(issue, dict):
        raise _Malformed(f"issue is {type(issue).__name__}, not an object")
    number = _req(issue, "number", int, "issue")
    try:
        ref = item_ref(repo_full_name, number)
    except ValueError as exc:
        raise _Malformed(str(exc)) from None
    title = _req(issue, "title", str, "issue")
    url = _req(issue, "html_url", str, "issue")
    state = _req(issue, "state", str, "issue")
    if state not in ("open", "closed"):
        raise _Malformed(f"issue.state is {state!r}, expected 'open' or 'closed'")

    pull = issue.get("pull_request")
    is_pr = "pull_request" in issue and pull is not None
    if is_pr and not isinstance(pull, dict):
        raise _Malformed(f"issue.pull_request is {type(pull).__name__}, not an object")

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
    author = _account(user, "issue.user") if user is not None else None
    created = _time(issue, "created_at", "issue") if issue.get("created_at") is not None else None
    updated = _time(issue, "updated_at", "issue") if issue.get("updated_at") is not None else None

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
    )


def _assignees(issue: dict) -> tuple[Account, ...]:
    raw = issue.get("assignees")
    if raw is None:
        single = issue.get("assignee")
        raw = [single] if single is not None else []
    if not isinstance(raw, list):
        raise _Malformed(f"issue.assignees is {type(raw).__name__}, not a list")
    out: list[Account] = []
    for i, user in enumerate(raw):
        acc = _account(user, f"issue.assignees[{i}]")
        if acc not in out:
            out.append(acc)
    return tuple(out)


def _labels(issue: dict) -> tuple[str, ...]:
    raw = issue.get("labels") or []
    if not isinstance(raw, list):
        raise _Malformed(f"issue.labels is {type(raw).__name__}, not a list")
    out: list[str] = []
    for i, label in enumerate(raw):
        name = label if isinstance(label, str) else (label.get("name") if isinstance(label, dict) else None)
        if not isinstance(name, str) or not name:
            raise _Malformed(f"issue.labels[{i}] has no name")
        if name not in out:
            out.append(name)
    return tuple(out)


def _open_blockers(issue: dict) -> int:
    summary = issue.get("issue_dependencies_summary")
    if not isinstance(summary, dict):
        return 0
    count = summary.get("blocked_by")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


# ---------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineMapping:
    """What :func:`map_timeline` made of a list of timeline entries.

    ``events`` in entry order (an entry holding several comments yields several events);
    ``skipped`` lists ``(index in entries, event type, reason)``; the event type is ``""``
    when the entry names none. Every entry index produces an event or a skip (or both,
    when only some comments of a ``line-commented`` entry are malformed).
    """

    events: list[Event] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)


_PROJECT = "classic project board change: board columns are not read (classic Projects are retired)"
_BRANCH = "branch housekeeping: no change of hands"
_DRAFT = "draft toggle: the item snapshot carries the draft state"

#: Event types skipped on purpose, with the reason reported in ``TimelineMapping.skipped``.
SKIP_REASONS: dict[str, str] = {
    "subscribed": "subscription: a notification setting, not work changing hands",
    "unsubscribed": "subscription: a notification setting, not work changing hands",
    "mentioned": "mention notice: the mention is carried by the comment or review that contains it",
    "referenced": "commit reference: a commit elsewhere named this item; nobody is handed anything",
    "merged": "merge: closure is carried by the accompanying closed event",
    "renamed": "title change: no change of hands (the title is read from the item snapshot)",
    "locked": "conversation lock: no change of hands",
    "unlocked": "conversation unlock: no change of hands",
    "milestoned": "milestone change: milestones are not modelled",
    "demilestoned": "milestone change: milestones are not modelled",
    "head_ref_deleted": _BRANCH,
    "head_ref_restored": _BRANCH,
    "head_ref_force_pushed": _BRANCH,
    "base_ref_changed": _BRANCH,
    "base_ref_deleted": _BRANCH,
    "base_ref_force_pushed": _BRANCH,
    "automatic_base_change_succeeded": _BRANCH,
    "automatic_base_change_failed": _BRANCH,
    "marked_as_duplicate": "duplicate marking: the payload does not name the original; a closure comes as its own closed event",
    "unmarked_as_duplicate": "duplicate marking: the payload does not name the original",
    "added_to_project": _PROJECT,
    "moved_columns_in_project": _PROJECT,
    "removed_from_project": _PROJECT,
    "converted_note_to_issue": _PROJECT,
    "review_dismissed": (
        "review dismissal: the payload names the dismisser and a review_id but not the reviewer; "
        "the dismissed review itself reads state 'dismissed' in the timeline"
    ),
    "connected": "development link: the REST payload does not name the connected item",
    "disconnected": "development link: the REST payload does not name the disconnected item",
    "pinned": "pinning: presentation only",
    "unpinned": "pinning: presentation only",
    "transferred": "transfer: the item moved to another repository; its new key is not in the payload",
    "comment_deleted": "deleted comment: no content left to count",
    "convert_to_draft": _DRAFT,
    "converted_to_draft": _DRAFT,
    "ready_for_review": _DRAFT,
    "deployed": "deployment: not a handoff",
    "deployment_environment_changed": "deployment: not a handoff",
    "auto_merge_enabled": "auto-merge setting: not a handoff",
    "auto_merge_disabled": "auto-merge setting: not a handoff",
    "auto_squash_enabled": "auto-merge setting: not a handoff",
    "auto_rebase_enabled": "auto-merge setting: not a handoff",
    "added_to_merge_queue": "merge queue: not a handoff",
    "removed_from_merge_queue": "merge queue: not a handoff",
    "issue_type_added": "issue type change: issue types are not modelled",
    "issue_type_changed": "issue type change: issue types are not modelled",
    "issue_type_removed": "issue type change: issue types are not modelled",
    "user_blocked": "moderation: not a handoff",
}

_TEAM_REQUEST = "team review request: no person to hand to"


class _Skip(Exception):
    """An entry that is well-formed but deliberately not mapped."""


def map_timeline(ref: ItemRef, entries: list[dict]) -> TimelineMapping:
    """Map the timeline entries of one item to events, skipping what is no fact for us.

    Args:
        ref: the item the entries belong to (see :func:`item_ref`).
        entries: elements of ``GET /repos/{o}/{r}/issues/{n}/timeline`` (GitHub REST
            "Timeline events"), or issue event objects from ``.../issues/events`` or
            ``.../issues/events/{id}`` ("Issue event types"), in any order.

    Mapping (``event`` field → ``EventKind``; accounts are ``Account("github", login)``,
    times UTC):

    - ``assigned``/``unassigned`` → subject ``assignee``; actor ``assigner`` when present
      (on ``/issues/events`` the ``actor`` of an assignment can be the assignee), else
      ``actor``.
    - ``review_requested``/``review_request_removed`` → subject ``requested_reviewer``;
      actor ``review_requester``, else ``actor``. A team request is skipped.
    - ``reviewed`` → actor ``user``, ``review_state`` lower-cased, ``text`` = body,
      ``mentions``, at ``submitted_at``. A ``pending`` review is skipped.
    - ``commented`` → actor ``user`` (else ``actor``), text, mentions, at ``created_at``.
    - ``line-commented``/``commit-commented`` → one ``commented`` event per comment.
    - ``labeled``/``unlabeled`` → ``label`` = ``label.name``.
    - ``closed``/``reopened`` → same kind. ``merged`` is skipped: GitHub records a
      ``closed`` event with every merge.
    - ``committed`` → actor from the git author's e-mail (:func:`commit_author`:
      ``Account("email", address)``, or the login of a GitHub no-reply address, ``None``
      without an address), text = commit message, at ``author.date`` (else
      ``committer.date``).
    - ``cross-referenced`` from an issue → ``linked``, ``link_type`` ``mentioned_in``,
      target = the referencing item, actor ``actor`` (may be ``None``).
    - ``blocked_by_added``/``_removed`` → ``linked``/``unlinked`` ``blocked_by``;
      ``blocking_added``/``_removed`` → ``blocks``; ``sub_issue_added``/``_removed`` →
      ``sub_issue``; ``parent_issue_added``/``_removed`` → ``parent``; the target is
      the referenced issue.
    - every type in :data:`SKIP_REASONS` is skipped with that reason; any other type
      with "unmapped event type ...".

    Ids follow the table in the module docstring. A malformed entry (not an object,
    missing or mistyped required field, bad timestamp) is skipped with reason
    ``"malformed: <what>"``; the rest still map.

    Returns:
        :class:`TimelineMapping`. Never raises for entry content.
    """
    events: list[Event] = []
    skipped: list[tuple[int, str, str]] = []
    for index, entry in enumerate(entries):
        etype = entry.get("event") if isinstance(entry, dict) else None
        etype = etype if isinstance(etype, str) else ""
        try:
            if not isinstance(entry, dict):
                raise _Malformed(f"entry is {type(entry).__name__}, not an object")
            if not etype:
                raise _Malformed("entry has no 'event' type")
            handler = _HANDLERS.get(etype)
            if handler is None:
                reason = SKIP_REASONS.get(etype) or (
                    f"unmapped event type {etype!r}: no handoff meaning known to this mapping"
                )
                raise _Skip(reason)
            mapped, partial = handler(ref, entry)
            events.extend(mapped)
            skipped.extend((index, etype, reason) for reason in partial)
        except _Skip as exc:
            skipped.append((index, etype, str(exc)))
        except _Malformed as exc:
            skipped.append((index, etype, f"malformed: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one odd entry must not sink the timeline
            skipped.append((index, etype, f"malformed: {type(exc).__name__}: {exc}"))
    return TimelineMapping(events=events, skipped=skipped)


_Handled = tuple[list[Event], list[str]]


def _vendor_id(entry: dict, prefix: str, where: str = "entry") -> str:
    raw = _req(entry, "id", (int, str), where)
    if isinstance(raw, str) and not raw:
        raise _Malformed(f"{where}.id is empty")
    return f"{prefix}:{raw}"


def _actor(entry: dict, *keys: str) -> Account:
    """The first of ``keys`` holding a user object, as an account."""
    for key in keys:
        if entry.get(key) is not None:
            return _account(entry[key], key)
    raise _Malformed(f"entry has no {' or '.join(repr(k) for k in keys)}")


def _event(ref: ItemRef, kind: EventKind, event_id: str, at: datetime, **fields: Any) -> Event:
    return Event(tool=TOOL, id=event_id, item=ref, at=at, kind=kind, **fields)


def _assignment(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        subject = _account(entry.get("assignee"), "assignee")
        actor = _actor(entry, "assigner", "actor")
        at = _time(entry, "created_at", "entry")
        return [_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, subject=subject)], []

    return handle


def _review_request(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        if entry.get("requested_reviewer") is None:
            if entry.get("requested_team") is not None:
                raise _Skip(_TEAM_REQUEST)
            raise _Malformed("entry has neither 'requested_reviewer' nor 'requested_team'")
        subject = _account(entry["requested_reviewer"], "requested_reviewer")
        actor = _actor(entry, "review_requester", "actor")
        at = _time(entry, "created_at", "entry")
        return [_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, subject=subject)], []

    return handle


_REVIEW_STATES = {"approved", "changes_requested", "commented", "dismissed"}


def _reviewed(ref: ItemRef, entry: dict) -> _Handled:
    raw_state = _req(entry, "state", str, "entry")
    state = raw_state.lower()
    if state == "pending":
        raise _Skip("pending review: not submitted, visible only to its author")
    if state not in _REVIEW_STATES:
        raise _Malformed(f"review state {raw_state!r} is none of {sorted(_REVIEW_STATES)}")
    actor = _actor(entry, "user", "actor")
    at = _time(entry, "submitted_at", "entry")
    body = _text(entry, "body")
    return [
        _event(
            ref,
            EventKind.REVIEWED,
            _vendor_id(entry, "review"),
            at,
            actor=actor,
            review_state=state,
            text=body,
            mentions=mentions(body),
        )
    ], []


def _text(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _Malformed(f"{key} is {type(value).__name__}, not text")
    return value


def _commented(ref: ItemRef, entry: dict) -> _Handled:
    actor = _actor(entry, "user", "actor")
    at = _time(entry, "created_at", "entry")
    body = _text(entry, "body")
    return [
        _event(
            ref,
            EventKind.COMMENTED,
            _vendor_id(entry, "comment"),
            at,
            actor=actor,
            text=body,
            mentions=mentions(body),
        )
    ], []


def _grouped_comments(prefix: str, per_item: bool) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        comments = _req(entry, "comments", list, "entry")
        if not comments:
            raise _Skip("comment group without comments")
        events: list[Event] = []
        problems: list[str] = []
        for i, comment in enumerate(comments):
            where = f"comments[{i}]"
            try:
                raw_id = _req(comment, "id", (int, str), where)
                event_id = f"{prefix}:{ref.key}@{raw_id}" if per_item else f"{prefix}:{raw_id}"
                body = _text(comment, "body")
                events.append(
                    _event(
                        ref,
                        EventKind.COMMENTED,
                        event_id,
                        _time(comment, "created_at", where),
                        actor=_account(comment.get("user"), f"{where}.user"),
                        text=body,
                        mentions=mentions(body),
                    )
                )
            except _Malformed as exc:
                problems.append(f"malformed: {exc}")
        if not events:
            raise _Malformed("; ".join(p.removeprefix("malformed: ") for p in problems))
        return events, problems

    return handle


def _label(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        label = _req(_req(entry, "label", dict, "entry"), "name", str, "label")
        actor = _actor(entry, "actor")
        at = _time(entry, "created_at", "entry")
        return [_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, label=label)], []

    return handle


def _state(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        actor = _actor(entry, "actor")
        at = _time(entry, "created_at", "entry")
        return [_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor)], []

    return handle


def _committed(ref: ItemRef, entry: dict) -> _Handled:
    sha = _req(entry, "sha", str, "entry")
    author = entry.get("author")
    committer = entry.get("committer")
    if isinstance(author, dict) and author.get("date") is not None:
        at = _time(author, "date", "author")
    elif isinstance(committer, dict) and committer.get("date") is not None:
        at = _time(committer, "date", "committer")
    else:
        raise _Malformed("commit has neither 'author.date' nor 'committer.date'")
    message = _text(entry, "message")
    actor = commit_author(entry)[0]
    return [_event(ref, EventKind.COMMITTED, f"commit:{ref.key}@{sha}", at, actor=actor, text=message)], []


# GitHub's no-reply commit addresses: ``ID+login@users.noreply.github.com`` (since July 2017)
# and ``login@users.noreply.github.com`` (before); GitHub Docs "Setting your commit email
# address". The login is the account's, so the commit is attributed to it, not to an e-mail.
_NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))@users\.noreply\.github\.com$", re.IGNORECASE)


def commit_author(entry: dict) -> tuple[Account | None, AccountInfo | None]:
    """Who authored a timeline ``committed`` entry, from its git ``author`` (name, e-mail).

    Git authors carry a name and an e-mail, no login (GitHub REST "Timeline events",
    ``timeline-committed-event.author``). Returns ``(actor, info)``:

    - a GitHub no-reply address (``[ID+]login@users.noreply.github.com``) →
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
        account = Account(TOOL, m.group(1))
        return account, AccountInfo(account, display_name=name, email=None)
    account = Account(EMAIL, email.lower())
    return account, AccountInfo(account, display_name=name, email=email.lower())


def _derived_id(ref: ItemRef, etype: str, created_at: str, actor: Account | None, subject: str) -> str:
    return f"derived:{ref.key}:{etype}:{created_at}:{actor.id if actor else ''}:{subject}"


def _cross_referenced(ref: ItemRef, entry: dict) -> _Handled:
    source = _req(entry, "source", dict, "entry")
    if source.get("type") not in (None, "issue") or source.get("issue") is None:
        raise _Skip(f"cross-reference from a {source.get('type')!r} source: no item to link")
    target = _issue_target(source["issue"], "source.issue")
    created_at = _req(entry, "created_at", str, "entry")
    at = _time(entry, "created_at", "entry")
    actor = _account(entry["actor"], "actor") if entry.get("actor") is not None else None
    event_id = _derived_id(ref, "cross-referenced", created_at, actor, target.key)
    return [
        _event(ref, EventKind.LINKED, event_id, at, actor=actor, link_type="mentioned_in", target=target)
    ], []


def _issue_target(issue: Any, where: str) -> ItemRef:
    """The ItemRef of an embedded issue (full issue object or "Issue Reference")."""
    number = _req(issue, "number", int, where)
    repo = issue.get("repository")
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    if not isinstance(full_name, str):
        full_name = _repo_from_url(issue.get("repository_url")) or _repo_from_url(issue.get("html_url"))
    if not full_name:
        raise _Malformed(f"{where} names no repository")
    try:
        return item_ref(full_name, number)
    except ValueError as exc:
        raise _Malformed(f"{where}: {exc}") from None


_REPO_URL = re.compile(r"^https?://[^/]+/(?:api/v3/)?(?:repos/)?([^/]+/[^/#?]+)")


def _repo_from_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    m = _REPO_URL.match(url)
    return m.group(1) if m else None


def _dependency(kind: EventKind, key: str, link_type: str) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        if entry.get(key) is None:
            raise _Skip(f"{key} reference is null: the linked issue is deleted or not visible")
        target = _issue_target(entry[key], key)
        actor = _actor(entry, "actor")
        at = _time(entry, "created_at", "entry")
        return [
            _event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, link_type=link_type, target=target)
        ], []

    return handle


_HANDLERS: dict[str, Callable[[ItemRef, dict], _Handled]] = {
    "assigned": _assignment(EventKind.ASSIGNED),
    "unassigned": _assignment(EventKind.UNASSIGNED),
    "review_requested": _review_request(EventKind.REVIEW_REQUESTED),
    "review_request_removed": _review_request(EventKind.REVIEW_REQUEST_REMOVED),
    "reviewed": _reviewed,
    "commented": _commented,
    "line-commented": _grouped_comments("review_comment", per_item=False),
    "commit-commented": _grouped_comments("commit_comment", per_item=True),
    "labeled": _label(EventKind.LABELED),
    "unlabeled": _label(EventKind.UNLABELED),
    "closed": _state(EventKind.CLOSED),
    "reopened": _state(EventKind.REOPENED),
    "committed": _committed,
    "cross-referenced": _cross_referenced,
    "blocked_by_added": _dependency(EventKind.LINKED, "blocked_by", "blocked_by"),
    "blocked_by_removed": _dependency(EventKind.UNLINKED, "blocked_by", "blocked_by"),
    "blocking_added": _dependency(EventKind.LINKED, "blocking", "blocks"),
    "blocking_removed": _dependency(EventKind.UNLINKED, "blocking", "blocks"),
    "sub_issue_added": _dependency(EventKind.LINKED, "sub_issue", "sub_issue"),
    "sub_issue_removed": _dependency(EventKind.UNLINKED, "sub_issue", "sub_issue"),
    "parent_issue_added": _dependency(EventKind.LINKED, "parent_issue", "parent"),
    "parent_issue_removed": _dependency(EventKind.UNLINKED, "parent_issue", "parent"),
}

#: Event types that map to an event (the rest are skipped).
MAPPED_TYPES: frozenset[str] = frozenset(_HANDLERS)


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
        events: every event :func:`map_timeline` made of the item's whole timeline.
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
                _event(item.ref, EventKind.LINKED, event_id, at, actor=actor, link_type=found.link_type, target=found.ref)
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
