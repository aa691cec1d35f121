"""Map GitHub timeline entries to events, in exactly one place (the timeline half of ``mapping``).

Holds :func:`map_timeline` and its result :class:`TimelineMapping`, the handler of each
mapped event type (``MAPPED_TYPES``), the reason each deliberately skipped type is
skipped (``SKIP_REASONS``), and :func:`mentions` (the ``@login`` mentions of a comment or
review body, by GitHub's username and Markdown rules). Pure functions over plain dicts as parsed from GitHub REST
"Timeline events" (``GET /repos/{owner}/{repo}/issues/{number}/timeline``) and "Issue event
types" (docs.github.com/en/rest/using-the-rest-api/issue-event-types). Event ids are listed
in ``connectors.github.mapping``'s docstring; the field helpers come from there.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from bridge.core.model import Account, Event, EventKind, ItemRef
from connectors.github.mapping import (
    TOOL,
    Malformed,
    account_of,
    commit_author,
    item_ref,
    make_event,
    required,
    time_at,
)

__all__ = ["TimelineMapping", "map_timeline", "mentions", "SKIP_REASONS", "MAPPED_TYPES"]


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
      actor ``review_requester``, else ``actor``, else ``None`` (a deleted "ghost" user:
      the request stands, its sender unknown). A team's request or its removal (``requested_team``
      instead of ``requested_reviewer``) has ``subject`` ``None`` and ``label`` ``team:<slug>``.
    - ``reviewed`` → actor ``user``, ``review_state`` lower-cased, ``text`` = body,
      ``mentions``, at ``submitted_at``. A ``pending`` review is skipped.
    - ``review_dismissed`` → actor ``actor`` (the dismisser), at ``created_at`` (the
      dismissal), ``review_state`` = ``dismissed_review.state`` (the state dismissed),
      ``text`` = ``dismissal_message``, subject = the ``user`` of the ``reviewed`` entry whose
      ``id`` is ``dismissed_review.review_id`` among ``entries`` (``None`` when absent: the
      payload itself does not name the reviewer; that review now reads ``dismissed``).
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
    reviewers = _reviewers(entries)
    for index, entry in enumerate(entries):
        etype = entry.get("event") if isinstance(entry, dict) else None
        etype = etype if isinstance(etype, str) else ""
        try:
            if not isinstance(entry, dict):
                raise Malformed(f"entry is {type(entry).__name__}, not an object")
            if not etype:
                raise Malformed("entry has no 'event' type")
            handler = _HANDLERS.get(etype)
            if etype == "review_dismissed":
                handler = functools.partial(_review_dismissed, reviewers=reviewers)
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
        except Malformed as exc:
            skipped.append((index, etype, f"malformed: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one odd entry must not sink the timeline
            skipped.append((index, etype, f"malformed: {type(exc).__name__}: {exc}"))
    return TimelineMapping(events=events, skipped=skipped)


_Handled = tuple[list[Event], list[str]]


def _vendor_id(entry: dict, prefix: str, where: str = "entry") -> str:
    raw = required(entry, "id", (int, str), where)
    if isinstance(raw, str) and not raw:
        raise Malformed(f"{where}.id is empty")
    return f"{prefix}:{raw}"


def _actor(entry: dict, *keys: str) -> Account:
    """The first of ``keys`` holding a user object, as an account."""
    for key in keys:
        if entry.get(key) is not None:
            return account_of(entry[key], key)
    raise Malformed(f"entry has no {' or '.join(repr(k) for k in keys)}")



def _assignment(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        subject = account_of(entry.get("assignee"), "assignee")
        actor = _actor(entry, "assigner", "actor")
        at = time_at(entry, "created_at", "entry")
        return [make_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, subject=subject)], []

    return handle


def _review_request(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        if entry.get("requested_reviewer") is None:
            team = entry.get("requested_team")
            if team is not None and isinstance(team, dict):
                # A team is not a person: no receiver (``subject`` None), the team named in ``label``
                # (``team:<slug>``): a configured [teams.*] receives it as a team, else the requester
                # is asked for one person; its removal (same shape) withdraws that.
                actor = _actor(entry, "review_requester", "actor") if (entry.get("review_requester") or entry.get("actor")) else None
                return [make_event(ref, kind, _vendor_id(entry, "ev"), time_at(entry, "created_at", "entry"), actor=actor,
                                   label=f"team:{team.get('slug') or team.get('name') or '?'}")], []
            if team is not None:
                raise _Skip(_TEAM_REQUEST)
            raise Malformed("entry has neither 'requested_reviewer' nor 'requested_team'")
        subject = account_of(entry["requested_reviewer"], "requested_reviewer")
        # A deleted ("ghost") requester comes as null ``review_requester`` and ``actor``: the
        # reviewer still owes the review, so the handoff stands with an unknown sender.
        ghost = entry.get("review_requester") is None and entry.get("actor") is None
        actor = None if ghost else _actor(entry, "review_requester", "actor")
        at = time_at(entry, "created_at", "entry")
        return [make_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, subject=subject)], []

    return handle


_REVIEW_STATES = {"approved", "changes_requested", "commented", "dismissed"}


def _reviewed(ref: ItemRef, entry: dict) -> _Handled:
    raw_state = required(entry, "state", str, "entry")
    state = raw_state.lower()
    if state == "pending":
        raise _Skip("pending review: not submitted, visible only to its author")
    if state not in _REVIEW_STATES:
        raise Malformed(f"review state {raw_state!r} is none of {sorted(_REVIEW_STATES)}")
    actor = _actor(entry, "user", "actor")
    at = time_at(entry, "submitted_at", "entry")
    body = _text(entry, "body")
    return [
        make_event(
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


def _reviewers(entries: Any) -> dict[Any, dict]:
    """``reviewed`` entry id → its ``user`` object, for naming the reviewer of a dismissal."""
    out: dict[Any, dict] = {}
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and entry.get("event") == "reviewed" and isinstance(entry.get("user"), dict):
            rid = entry.get("id")
            if isinstance(rid, (int, str)) and not isinstance(rid, bool):
                out[rid] = entry["user"]
    return out


def _review_dismissed(ref: ItemRef, entry: dict, *, reviewers: dict[Any, dict]) -> _Handled:
    dismissed = required(entry, "dismissed_review", dict, "entry")
    raw_state = required(dismissed, "state", str, "dismissed_review")
    rid = required(dismissed, "review_id", (int, str), "dismissed_review")
    actor = _actor(entry, "actor")
    at = time_at(entry, "created_at", "entry")
    try:
        subject = account_of(reviewers[rid], "reviewed.user") if rid in reviewers else None
    except Malformed:  # a deleted ("ghost") reviewer: the dismissal is still a fact
        subject = None
    return [make_event(ref, EventKind.REVIEW_DISMISSED, _vendor_id(entry, "ev"), at, actor=actor, subject=subject,
                       review_state=raw_state.lower(), text=_text(dismissed, "dismissal_message"))], []


def _text(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise Malformed(f"{key} is {type(value).__name__}, not text")
    return value


def _commented(ref: ItemRef, entry: dict) -> _Handled:
    actor = _actor(entry, "user", "actor")
    at = time_at(entry, "created_at", "entry")
    body = _text(entry, "body")
    return [
        make_event(
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
        comments = required(entry, "comments", list, "entry")
        if not comments:
            raise _Skip("comment group without comments")
        events: list[Event] = []
        problems: list[str] = []
        for i, comment in enumerate(comments):
            where = f"comments[{i}]"
            try:
                raw_id = required(comment, "id", (int, str), where)
                event_id = f"{prefix}:{ref.key}@{raw_id}" if per_item else f"{prefix}:{raw_id}"
                body = _text(comment, "body")
                events.append(
                    make_event(
                        ref,
                        EventKind.COMMENTED,
                        event_id,
                        time_at(comment, "created_at", where),
                        actor=account_of(comment.get("user"), f"{where}.user"),
                        text=body,
                        mentions=mentions(body),
                    )
                )
            except Malformed as exc:
                problems.append(f"malformed: {exc}")
        if not events:
            raise Malformed("; ".join(p.removeprefix("malformed: ") for p in problems))
        return events, problems

    return handle


def _label(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        label = required(required(entry, "label", dict, "entry"), "name", str, "label")
        actor = _actor(entry, "actor")
        at = time_at(entry, "created_at", "entry")
        return [make_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, label=label)], []

    return handle


def _state(kind: EventKind) -> Callable[[ItemRef, dict], _Handled]:
    def handle(ref: ItemRef, entry: dict) -> _Handled:
        actor = _actor(entry, "actor")
        at = time_at(entry, "created_at", "entry")
        return [make_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor)], []

    return handle


def _committed(ref: ItemRef, entry: dict) -> _Handled:
    sha = required(entry, "sha", str, "entry")
    author = entry.get("author")
    committer = entry.get("committer")
    if isinstance(author, dict) and author.get("date") is not None:
        at = time_at(author, "date", "author")
    elif isinstance(committer, dict) and committer.get("date") is not None:
        at = time_at(committer, "date", "committer")
    else:
        raise Malformed("commit has neither 'author.date' nor 'committer.date'")
    message = _text(entry, "message")
    actor = commit_author(entry)[0]
    return [make_event(ref, EventKind.COMMITTED, f"commit:{ref.key}@{sha}", at, actor=actor, text=message)], []


def _derived_id(ref: ItemRef, etype: str, created_at: str, actor: Account | None, subject: str) -> str:
    return f"derived:{ref.key}:{etype}:{created_at}:{actor.id if actor else ''}:{subject}"


def _cross_referenced(ref: ItemRef, entry: dict) -> _Handled:
    source = required(entry, "source", dict, "entry")
    if source.get("type") not in (None, "issue") or source.get("issue") is None:
        raise _Skip(f"cross-reference from a {source.get('type')!r} source: no item to link")
    target = _issue_target(source["issue"], "source.issue")
    created_at = required(entry, "created_at", str, "entry")
    at = time_at(entry, "created_at", "entry")
    actor = account_of(entry["actor"], "actor") if entry.get("actor") is not None else None
    event_id = _derived_id(ref, "cross-referenced", created_at, actor, target.key)
    return [
        make_event(ref, EventKind.LINKED, event_id, at, actor=actor, link_type="mentioned_in", target=target)
    ], []


def _issue_target(issue: Any, where: str) -> ItemRef:
    """The ItemRef of an embedded issue (full issue object or "Issue Reference")."""
    number = required(issue, "number", int, where)
    repo = issue.get("repository")
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    if not isinstance(full_name, str):
        full_name = _repo_from_url(issue.get("repository_url")) or _repo_from_url(issue.get("html_url"))
    if not full_name:
        raise Malformed(f"{where} names no repository")
    try:
        return item_ref(full_name, number)
    except ValueError as exc:
        raise Malformed(f"{where}: {exc}") from None


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
        at = time_at(entry, "created_at", "entry")
        return [
            make_event(ref, kind, _vendor_id(entry, "ev"), at, actor=actor, link_type=link_type, target=target)
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
MAPPED_TYPES: frozenset[str] = frozenset(_HANDLERS) | {"review_dismissed"}

