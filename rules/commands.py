"""``/hb`` commands: what people tell the daemon from inside their tracker.

Pure: parsing and the words of a reply. No I/O. The effects on handoffs are applied where
handoffs are walked (``rules.handoff.walk_item``); the replies are planned by the engine.

A command is a line of its own in a comment (any of the three tools; no mention syntax
needed), ``/hb <verb> [args]``, case-insensitive::

    Thanks, will look tomorrow.
    /hb snooze 1d

Lines quoted from another comment (``>`` in Markdown, ``bq.`` in Jira wiki markup) are not
commands, nor is anything the daemon's own accounts write (echo suppression), nor a comment
that carries a daemon marker (``hb:`` + 12 hex digits). A comment that carries a command is not
an acknowledgement, whoever writes it; only ``/hb received`` (``/hb ack``) acknowledges.

Verbs (``VERBS``; ``docs/commands.md`` has an example per tool): ``received``/``ack``,
``snooze <duration>``, ``not-mine``, ``reassign @someone``, ``wrong``, ``why``, ``mute``,
``unmute``, ``away until <date> [delegate @someone]``, ``back``, ``kept``, ``help``. Anything else
is ``unknown``, answered with the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from bridge.core.businesstime import Duration
from bridge.core.model import Account, Event, EventKind, ItemRef

#: The verbs, with their one-line help (the reply to ``/hb help`` lists them in this order).
VERBS: dict[str, str] = {
    "received": "I have it (acknowledges the handoff; also `/hb ack`)",
    "snooze": "no nudge or escalation before then, e.g. `/hb snooze 2d` (your business time)",
    "not-mine": "not mine: hand it back to the sender to choose who takes it",
    "reassign": "hand it to someone else, e.g. `/hb reassign @cleo`",
    "wrong": "this nudge was a false alarm: end it (counts against the rule)",
    "why": "what the daemon knows about this item and what it will do next",
    "mute": "stop watching this item (`/hb unmute` resumes)",
    "unmute": "watch this item again",
    "away": "`/hb away until 2027-01-04 delegate @cleo`: your handoffs go to the delegate, or wait",
    "back": "end your absence early",
    "kept": "the promise in this item is kept",
    "help": "this list",
}

ALIASES = {"ack": "received", "acknowledge": "received", "acknowledged": "received", "notmine": "not-mine",
           "not_mine": "not-mine", "assign": "reassign"}

_LINE = re.compile(r"^[ \t]*/hb(?:[ \t]+(?P<verb>\S+))?(?P<args>[^\r\n]*)$", re.MULTILINE | re.IGNORECASE)
_QUOTED = re.compile(r"^[ \t]*(?:>|bq\.)")
_MARKER = re.compile(r"\bhb:[0-9a-f]{12}\b")


@dataclass(frozen=True)
class Command:
    """One ``/hb`` line of one comment.

    ``event`` is the comment event's id (``Event.id``), ``at`` its time (aware UTC), ``actor``
    who wrote it, ``verb`` the normalized verb (``ack`` → ``received``; ``"unknown"`` for a verb
    not in ``VERBS``, then ``args`` holds the whole line after ``/hb``), ``args`` the rest of
    the line (stripped), ``line`` the line as written, ``mentions`` the comment's mentions.
    """

    event: str
    item: ItemRef
    at: datetime
    actor: Account
    verb: str
    args: str
    line: str
    mentions: tuple[Account, ...] = ()

    @property
    def key(self) -> str:
        """The idempotency key of the reply to this command's comment (one reply per comment)."""
        return reply_key(self.item, self.event)


def reply_key(item: ItemRef, event_id: str) -> str:
    """``cmd:<tool>:<item key>:<comment event id>``: the outbox key of a comment's reply."""
    return f"cmd:{item.tool}:{item.key}:{event_id}"


def parse(text: str | None) -> list[tuple[str, str, str]]:
    """The ``/hb`` lines of ``text`` as ``(verb, args, line)``, in order; ``[]`` for none.

    ``verb`` is normalized (lower case, ``ALIASES`` applied; ``"help"`` for a bare ``/hb``;
    ``"unknown"`` for anything not in ``VERBS``). Quoted lines and texts carrying a daemon
    marker are ignored.
    """
    if not text or "/hb" not in text.casefold() or _MARKER.search(text):
        return []
    out = []
    for m in _LINE.finditer(text):
        line = m.group(0).strip()
        if _QUOTED.match(m.group(0)):
            continue
        raw = (m.group("verb") or "help").casefold().rstrip(":.,!")
        verb = ALIASES.get(raw, raw)
        args = (m.group("args") or "").strip()
        if verb not in VERBS:
            verb, args = "unknown", line[3:].strip()
        out.append((verb, args, line))
    return out


def commands_of(ev: Event, bots: set[Account] | frozenset = frozenset()) -> list[Command]:
    """The commands in one event: a ``commented`` event by a person (not one of ``bots``)."""
    if ev.kind != EventKind.COMMENTED or ev.actor is None or ev.actor in bots:
        return []
    return [Command(ev.id, ev.item, ev.at, ev.actor, verb, args, line, ev.mentions)
            for verb, args, line in parse(ev.text)]


def snooze_length(args: str, maximum: Duration) -> Duration:
    """The business time a ``snooze`` asks for: its first word (``"2d"``, ``"4h"``, ``"1d4h"``).

    Raises:
        ValueError: no length, not a duration, zero, or longer than ``maximum`` (message for the reply).
    """
    word = args.split()[0] if args.split() else ""
    if not word:
        raise ValueError(f"say for how long, e.g. `/hb snooze 2d` (at most {maximum})")
    try:
        length = Duration.parse(word.casefold())
    except ValueError:
        raise ValueError(f"{word!r} is not a length of time; write e.g. `/hb snooze 4h` or `/hb snooze 2d`") from None
    if length == Duration():
        raise ValueError("a snooze of no time does nothing; write e.g. `/hb snooze 4h`")
    if length.wall() > maximum.wall():
        raise ValueError(f"at most {maximum} (the configured [commands] max_snooze)")
    return length


def target_word(args: str) -> str | None:
    """The person a ``reassign`` names: its first word without ``@`` (and Jira's ``[~accountid:…]``)."""
    words = args.split()
    if not words:
        return None
    word = words[0].strip(",.;")
    m = re.fullmatch(r"\[~(?:accountid:)?([^\]]+)\]", word)
    if m:
        return m.group(1)
    return word.lstrip("@") or None


@dataclass(frozen=True)
class Outcome:
    """What one command did under one rule (or, for item-wide verbs, the evaluator).

    ``status``: ``"applied"`` (it changed something), ``"refused"`` (not allowed to this
    person, or bad arguments), ``"noop"`` (allowed, but nothing here to act on). ``text`` is
    the plain sentence for the reply ("snoozed until Thu 3 Dec 10:00 CET"). ``handoff`` is the
    key of the handoff it acted on, if any; ``feedback`` one of ``wrong``, ``not_mine``,
    ``snooze`` when it counts as feedback on ``rule``; ``notify`` the people the reply mentions
    natively besides its author (whom a ``not-mine`` or ``reassign`` hands the item to).
    """

    command: Command
    rule: str
    status: str
    text: str
    handoff: str | None = None
    feedback: str | None = None
    notify: tuple[Account, ...] = ()  # people the reply mentions natively (the one handed to)


def help_text() -> str:
    """The reply to ``/hb help`` and to an unknown command: every verb with its line."""
    names = ", ".join(f"`/hb {v}`" for v in VERBS)
    return f"Commands (one per line, in a comment of your own): {names}. " + " ".join(
        f"`{v}`: {line}." for v, line in VERBS.items() if v != "help")


def merge(outcomes: list[Outcome]) -> Outcome | None:
    """One command's outcome over every rule that walked its item: the first applied one, else
    the first refusal, else the first no-op (rules in config order); ``None`` for none."""
    for status in ("applied", "refused", "noop"):
        for o in outcomes:
            if o.status == status:
                return o
    return None


def _wall_until(actor: Account, at: datetime, length: Duration) -> datetime:
    return at + length.wall()


def _wall_pause(receiver: Account, deadline: datetime, start: datetime, until: datetime) -> datetime:
    return until + (deadline - start) if deadline > start else deadline + (until - start)


def _first_mention(command: Command) -> Account | None:
    word = target_word(command.args)
    for m in command.mentions:
        if word is not None and m.id.casefold() == word.casefold():
            return m
    if word is not None and command.item.tool == "github":
        return Account("github", word)
    return command.mentions[0] if len(command.mentions) == 1 else None


@dataclass(frozen=True)
class CommandContext:
    """What ``rules.handoff.walk_item`` needs to apply commands (the engine builds it from config).

    - ``leads``: identities of the rule's ``leads``; ``team_leads(identity)``: identities of the
      leads of the teams that identity belongs to. Leads may give any command on the rule's items.
    - ``snooze_until(asker, at, length)``: the end of a snooze (aware UTC), ``length`` in the
      asker's business time. ``pause(receiver, deadline, start, until)``: a handoff's deadline after
      its clock stood still from ``start`` to ``until`` (the receiver's business time left at
      ``start`` resumes at ``until``; one already past keeps its escalations the snooze's length later).
    - ``resolve(command)``: the account a ``reassign`` names in the item's tool (a ``[people.*]``
      name or a tool-native account), ``None`` when unknown.
    - ``describe(account)``: a person's plain name; ``when(account, moment)``: a moment in that
      person's zone ("Thu 3 Dec 10:00 CET").
    - ``max_snooze``: the longest snooze (``[commands] max_snooze``, wall length compared).
    """

    leads: frozenset[str] = frozenset()
    team_leads: Callable[[str | None], set[str]] = lambda identity: set()
    snooze_until: Callable[[Account, datetime, Duration], datetime] = _wall_until
    pause: Callable[[Account, datetime, datetime, datetime], datetime] = _wall_pause
    resolve: Callable[[Command], Account | None] = _first_mention
    describe: Callable[[Account | None], str] = lambda account: account.id if account else "nobody"
    when: Callable[[Account, datetime], str] = lambda account, at: f"{at:%a %d %b %H:%M} UTC"
    max_snooze: Duration = Duration(days=5)
