"""The normalized model every connector maps into and every rule reads.

Vendor JSON becomes these types in exactly one place per tool
(``connectors/<tool>/mapping.py``); nothing downstream of a connector sees vendor
shapes. All datetimes are timezone-aware UTC.

Vocabulary follows ../shared/DESIGN.md ("Vocabulary" and "Model").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Tool(StrEnum):
    """One tracker."""

    GITHUB = "github"
    JIRA = "jira"
    ASANA = "asana"


class EventKind(StrEnum):
    """What happened to an item (DESIGN.md "Model")."""

    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    STATUS_CHANGED = "status_changed"
    REVIEW_REQUESTED = "review_requested"
    REVIEW_REQUEST_REMOVED = "review_request_removed"
    REVIEWED = "reviewed"
    REVIEW_DISMISSED = "review_dismissed"
    COMMENTED = "commented"
    LINKED = "linked"
    UNLINKED = "unlinked"
    CLOSED = "closed"
    REOPENED = "reopened"
    LABELED = "labeled"
    UNLABELED = "unlabeled"
    COMMITTED = "committed"
    DUE_CHANGED = "due_changed"
    DESCRIPTION_CHANGED = "description_changed"


class ItemKind(StrEnum):
    ISSUE = "issue"
    PULL_REQUEST = "pull_request"
    TASK = "task"


class StatusCategory(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    BLOCKED = "blocked"
    DONE = "done"


class ActionKind(StrEnum):
    """A write back into a tool (DESIGN.md "Actions")."""

    COMMENT = "comment"
    REASSIGN = "reassign"
    LABEL = "label"
    DRAFT = "draft"


class HandoffState(StrEnum):
    """What became of a handoff (DESIGN.md "Vocabulary": handoff), as ``HandoffRow.state`` stores it.

    ``sent`` → ``received``, or ``sent`` → ``overdue``; ended early by ``withdrawn`` (request
    removed, receiver unassigned, moved out of the trigger status), ``rehanded`` (handed on to
    someone else) or ``closed`` (the item closed). ``sent`` and ``overdue`` are pending.
    """

    SENT = "sent"
    RECEIVED = "received"
    OVERDUE = "overdue"
    WITHDRAWN = "withdrawn"
    REHANDED = "rehanded"
    CLOSED = "closed"


@dataclass(frozen=True, order=True)
class ItemRef:
    """One work item: ``ItemRef("github", "acme/web#12")``, ``ItemRef("jira", "WEB-17")``."""

    tool: str
    key: str

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, text: str) -> "ItemRef":
        """Parse ``"github:acme/web#12"``, ``"jira:WEB-17"``, ``"asana:1204567890123"``, or a bare
        ``"acme/web#12"`` (GitHub), ``"WEB-17"`` (Jira) or all-digit gid (Asana).

        Raises:
            ValueError: the text names no item.
        """
        tool, sep, key = text.partition(":")
        if sep and tool in {t.value for t in Tool}:
            return cls(tool, key)
        if "#" in text and "/" in text:
            return cls(Tool.GITHUB.value, text)
        if re.fullmatch(r"[A-Z][A-Z0-9_]+-\d+", text):
            return cls(Tool.JIRA.value, text)
        if text.isdigit():
            return cls(Tool.ASANA.value, text)
        raise ValueError(f"not an item reference: {text!r} (expected e.g. github:acme/web#12, WEB-17 or an Asana task gid)")


@dataclass(frozen=True, order=True)
class Account:
    """A user id inside one tool: GitHub login, Jira accountId, Asana gid."""

    tool: str
    id: str

    def __str__(self) -> str:
        return f"{self.tool}:{self.id}"


@dataclass(frozen=True)
class Event:
    """One normalized fact read from a tool.

    ``id`` is the tool's own stable id for the fact (dedup key together with ``tool``).
    Kind-specific fields are ``None``/empty when they do not apply:

    - ``subject``: the account assigned / unassigned / asked for review.
    - ``from_status``/``to_status``: for ``status_changed``.
    - ``review_state``: ``approved`` | ``changes_requested`` | ``commented`` | ``dismissed``;
      for ``review_dismissed``, the state the review had before it was dismissed.
    - ``review_dismissed``: ``actor`` dismissed a review of ``subject`` (the reviewer; ``None``
      when the review is not known), at the time of dismissal; ``text`` is its message.
    - ``label``: for ``labeled``/``unlabeled``; for a ``review_requested`` of a team (GitHub), the
      team as ``team:<slug>``, with ``subject`` ``None``: a team is not a person.
    - ``link_type``/``target``: for ``linked``/``unlinked``.
    - ``text``/``mentions``: for ``commented`` and ``reviewed``.
    - ``due``: for ``due_changed``, the new due date (``YYYY-MM-DD``) or moment (ISO 8601
      with offset), ``None`` when cleared.
    - ``description_changed``: ``actor`` edited the item's description (Jira's ``description``
      changelog item, Asana's ``notes_changed`` story); ``text`` is the new description where the
      tool says it (Jira ``toString``; ``""`` when cleared), ``None`` where it does not (Asana).
    """

    tool: str
    id: str
    item: ItemRef
    at: datetime
    kind: EventKind
    actor: Account | None = None
    subject: Account | None = None
    from_status: str | None = None
    to_status: str | None = None
    review_state: str | None = None
    label: str | None = None
    link_type: str | None = None
    target: ItemRef | None = None
    text: str | None = None
    mentions: tuple[Account, ...] = ()
    due: str | None = None


@dataclass(frozen=True)
class ItemSnapshot:
    """The current state of one item as last read from its tool.

    ``links``: every item this one is linked to now (native links, tracker URLs and Jira keys
    in its text, remote links, attachments). ``blocked_by``: the subset it waits on now (native
    blocked-by links and dependencies, and text that says "blocked by"/"depends on"/"waiting
    on"; see ``connectors.textrefs``). When each link began is read from its ``linked`` events.

    ``due``: a moment (an aware UTC ``datetime``: Asana ``due_at``) or a calendar date alone (a
    ``date``, not a ``datetime``: Jira ``duedate``, Asana ``due_on``). A date is the end of that
    day *for the person who owes the item*, so it stays a date here and is resolved in that
    person's schedule where a deadline is computed (``WorkSchedule.end_of_date``; see
    ``rules.handoff.due_deadline``). Test ``isinstance(due, datetime)`` first: a ``datetime``
    is also a ``date``.

    ``flagged_since``: when the item was flagged as an impediment (Jira's "Flagged" field,
    ``connectors.jira.mapping``), aware UTC; ``None`` when it is not flagged now. A flagged item
    is blocked (``status_category`` ``BLOCKED`` unless done) and waits on the items it links to,
    as an item in one of a standoff rule's ``blocked_statuses`` does (``rules.standoff.link_edges``).
    """

    ref: ItemRef
    title: str
    url: str
    kind: ItemKind
    status: str
    status_category: StatusCategory
    assignees: tuple[Account, ...] = ()
    labels: tuple[str, ...] = ()
    author: Account | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    links: tuple[ItemRef, ...] = ()
    due: datetime | date | None = None  # see "due" above
    blocked_by: tuple[ItemRef, ...] = ()
    description: str | None = None  # plain text: GitHub body, Jira description, Asana notes; None if empty
    flagged_since: datetime | None = None  # see "flagged_since" above


@dataclass(frozen=True)
class AccountInfo:
    """An account as a tool shows it: ``display_name`` and ``email`` when the tool exposes them.

    Connectors report the accounts they see in a poll (assignees, actors, reviewers) so the
    people directory (``bridge.core.people``) can match them to ``[people.*]`` by e-mail and list
    the ones nobody mapped. ``email`` is lower-cased; ``None`` when hidden (GitHub mostly,
    Jira Cloud by privacy setting).
    """

    account: Account
    display_name: str | None = None
    email: str | None = None


#: ``Event.label`` of the ``labeled``/``unlabeled`` events of Jira's "Flagged" field (set to
#: "Impediment" / cleared; ``connectors.jira.mapping``): the moment an item became blocked, or not.
FLAGGED = "flagged"

#: Normalized kinds of a ``linked``/``unlinked`` event's ``link_type`` (see :func:`link_kind`).
BLOCKED_BY, BLOCKS, MENTION, OTHER_LINK = "blocked_by", "blocks", "mention", "other"

_LINK_KINDS = {
    "blocked_by": BLOCKED_BY,  # GitHub issue dependencies (blocked_by_added)
    "is blocked by": BLOCKED_BY,  # Jira "Blocks" link type, inward; Asana dependency
    "depends on": BLOCKED_BY,
    "blocks": BLOCKS,  # GitHub blocking_added; Jira "Blocks" outward
    "mentions": MENTION,  # a tracker URL or Jira key in text, a remote link, an attachment
    "mentioned_in": MENTION,  # GitHub cross-referenced
    "remote link": MENTION,
    "relates to": MENTION,
}


def link_kind(link_type: str | None) -> str:
    """Map a tool's ``link_type`` to ``blocked_by`` | ``blocks`` | ``mention`` | ``other``.

    ``blocked_by``: the item waits on the target. ``blocks``: the target waits on the item.
    ``mention``: the two items are about the same work (acknowledgement crosses it) but
    nobody waits. Comparison ignores case and surrounding space.
    """
    return _LINK_KINDS.get((link_type or "").strip().casefold(), OTHER_LINK)


@dataclass(frozen=True)
class PollResult:
    """What one poll of one scope (a repository, a JQL, a project) returned.

    ``next_cursor`` is stored in the same transaction as ``events`` and ``items``;
    ``None`` means "unchanged". ``requests`` counts HTTP requests made (for bench/).
    ``skipped`` lists ``(vendor id, reason)`` for items the mapping could not use.
    ``accounts`` lists the accounts seen, with display name and e-mail where the tool shows them.
    ``stopped_by`` is the ``bridge.core.errors.ConnectorError`` that ended the poll early: the
    result then holds what was read before it, and ``next_cursor`` stays below every change
    not read yet (the engine stores the result, then reports the error like a failed poll).
    ``deferred`` lists ``(item, one-line reason)`` for items whose own read failed with an error
    that concerns that item only (``NotFound``, ``PermanentError`` on its timeline, comments or
    stories): the cursor moves past them and the engine puts them in the retry queue, to be
    read alone with ``fetch`` later (``bridge.engine.retries``).
    """

    events: list[Event] = field(default_factory=list)
    items: list[ItemSnapshot] = field(default_factory=list)
    next_cursor: dict | None = None
    requests: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    accounts: list[AccountInfo] = field(default_factory=list)
    stopped_by: Exception | None = None
    deferred: list[tuple[ItemRef, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Action:
    """One write to perform.

    ``marker`` is the idempotency tag (``hb:<key>``) carried in every text written.
    ``body`` is the finished text (already escaped, with native mentions).
    ``assignees`` is the new assignee set for ``reassign`` and ``draft``.
    ``title`` is the new item's title for ``draft``; ``due`` (aware UTC) its due moment,
    the deadline of the handoff it asks about.
    """

    kind: ActionKind
    item: ItemRef
    marker: str
    body: str = ""
    assignees: tuple[Account, ...] = ()
    label: str | None = None
    title: str | None = None
    due: datetime | None = None


@dataclass(frozen=True)
class ActionResult:
    """Outcome of ``Connector.apply``/``find_marker``: the URL of what now stands in the tool."""

    url: str | None
    remote_id: str | None = None
    already_present: bool = False
