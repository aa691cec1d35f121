"""Availability in the rules: the away command's words, and handoffs routed around absences.

Pure (no I/O). Holds:

- ``parse_away(args, today=, tz=)``: the arguments of ``/hb away until 2027-01-04 delegate @cleo``
  → ``(until, delegate)``;
- ``away_lines(text)``: the ``/hb away …`` / ``/hb back`` lines of a comment (a line of its own);
- ``commands(events, ...)``: stored comments by people (never the daemon) → ``AwayCommand``s in
  time order, and ``command_absences`` → the ``Absence``s they set (``bridge.core.availability``);
- ``Router``: what ``rules.handoff.walk_item(availability=...)`` calls for each new handoff to
  cut it into legs (delegated, or waiting for the return), with the words ``status`` and
  ``explain`` show (``Handoff.away_note``).

Command semantics: ``/hb away until DATE [delegate WHO]`` by a person, in a comment on any item
in any tool, makes that person away from the comment's time to the end of ``DATE`` in their
time zone (replacing a command absence in force then); ``/hb back`` ends whatever absence of
theirs is in force then (a configured one too). ``WHO`` is a tool-native account (``@login``,
Jira ``[~accountid:ID]``, an Asana mention) or a ``[people.*]`` name; a delegate that is
unknown or the person themselves is ignored (the deadline waits) and said in ``problem``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from bridge.core.availability import Absence, Availability
from bridge.core.businesstime import WorkSchedule
from bridge.core.model import Account, Event, EventKind, ItemRef
from rules.handoff import Handoff

__all__ = ["AWAY_PATTERNS", "AwayCommand", "Router", "away_lines", "command_absences", "commands", "describe", "jira_mention",
           "parse_away"]

#: ``LIKE`` patterns that narrow stored comments to those that may hold an away command (as
#: loose as the line's own pattern: ``/hb`` and the verb may be set apart by any blanks).
AWAY_PATTERNS = ("%/hb%away%", "%/hb%back%")

_LINE = re.compile(r"^[ \t]*/hb[ \t]+(away|back)\b(.*)$", re.IGNORECASE | re.MULTILINE)
_DELEGATE = re.compile(r"\s+(?:delegate|delegates|to)\s+(?:@)?(.+)$", re.IGNORECASE)
_JIRA_MENTION = re.compile(r"^\[~(?:accountid:)?([^\]\s]+)\]$")


def jira_mention(text: str) -> str | None:
    """The account id of a Jira wiki mention written alone (``[~accountid:ID]``, ``[~name]``), else ``None``."""
    m = _JIRA_MENTION.match(text.strip())
    return m.group(1) if m else None


def away_lines(text: str | None) -> list[tuple[str, str]]:
    """``(verb, args)`` of each line of its own ``/hb away ARGS`` or ``/hb back`` in ``text``
    (verb lower-case, args stripped), in order."""
    if not text:
        return []
    return [(m.group(1).lower(), m.group(2).strip()) for m in _LINE.finditer(text)]


def parse_away(args: str, *, today: date, tz: str | ZoneInfo) -> tuple[date, str | None]:
    """Read ``until 2027-01-04 delegate @cleo`` (what follows ``/hb away``).

    The date is read with ``dateparser`` (English; "2027-01-04", "4 Jan", "next monday",
    "friday"), day before month, preferring the future, relative to ``today`` in ``tz``; it is
    the last day away (the person is back the day after). ``until`` is optional;
    ``delegate @who`` (or ``to @who``) names the delegate as written, without its ``@``:
    ``"cleo"``, ``"[~accountid:5b10...]"``, ``"Cleo Lind"``.

    Raises:
        ValueError: no date, a date that cannot be read, or one before ``today``; the message
            says what was expected.
    """
    import dateparser  # ~0.3 s to load its language data: only when a command is read

    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    text = " ".join((args or "").split())
    delegate = None
    m = _DELEGATE.search(text)
    if m:
        delegate = m.group(1).strip().lstrip("@").strip() or None
        text = text[:m.start()].strip()
    text = re.sub(r"^(?:until|till|til|to)\b\s*", "", text, flags=re.IGNORECASE).strip()
    if not text:
        raise ValueError("expected the last day away: /hb away until 2027-01-04 [delegate @someone]")
    base = datetime.combine(today, time(12, 0))
    parsed = dateparser.parse(text, languages=["en"], settings={
        "TIMEZONE": zone.key, "PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "DATE_ORDER": "DMY"})
    if parsed is None:
        raise ValueError(f"cannot read {text!r} as a date, expected e.g. 2027-01-04, 4 Jan or next monday")
    until = parsed.date()
    if until < today:
        raise ValueError(f"{until:%a %d %b %Y} is in the past (today is {today:%a %d %b %Y})")
    return until, delegate


@dataclass(frozen=True)
class AwayCommand:
    """One ``/hb away`` or ``/hb back`` line by a person, as the daemon understood it.

    ``person``: the author's identity; ``at``: the comment's time (aware UTC); ``until``: the
    last day away (``None`` for ``back`` and refused commands); ``delegate``: the delegate's
    identity if resolved; ``problem``: why (part of) it was not taken (``None``: taken whole);
    ``absence``: the absence it set (``None`` for ``back`` and refused ones). ``event``: the
    comment's event id; ``item``: where it was written (a reply goes there).
    """

    event: str
    item: ItemRef
    at: datetime
    person: str
    verb: str
    line: str
    until: date | None = None
    delegate: str | None = None
    problem: str | None = None
    absence: Absence | None = None


def commands(events: Iterable[Event], *, bots: set[Account], who: Callable[[Account | None], str | None],
             schedule_for: Callable[[Account | None], WorkSchedule],
             delegate_of: Callable[[str, Event], str | None]) -> list[AwayCommand]:
    """The away commands in ``events`` (any items, any order), oldest first.

    Only ``commented`` events by a non-bot actor count. ``delegate_of(written, event)`` resolves
    the delegate as written to an identity (``None``: unknown). Dates are read in the author's
    zone, relative to the comment's local day.
    """
    out: list[AwayCommand] = []
    for ev in sorted(events, key=lambda e: (e.at, e.id)):
        if ev.kind != EventKind.COMMENTED or ev.actor is None or ev.actor in bots:
            continue
        person = who(ev.actor)
        if person is None:
            continue
        schedule = schedule_for(ev.actor)
        for verb, args in away_lines(ev.text):
            line = f"/hb {verb} {args}".strip()
            if verb == "back":
                out.append(AwayCommand(ev.id, ev.item, ev.at, person, "back", line))
                continue
            try:
                until, written = parse_away(args, today=ev.at.astimezone(schedule.tz).date(), tz=schedule.tz)
            except ValueError as exc:
                out.append(AwayCommand(ev.id, ev.item, ev.at, person, "away", line, problem=str(exc)))
                continue
            delegate, problem = None, None
            if written:
                delegate = delegate_of(written, ev)
                if delegate is None:
                    problem = f"unknown delegate {written!r} (not an account of this tool nor a [people.*] name)"
                elif delegate == person:
                    delegate, problem = None, "you cannot be your own delegate"
            end = datetime.combine(until + timedelta(days=1), time(0), schedule.tz)
            absence = Absence(person, ev.at, end, delegate, ev.id, schedule.timezone) if end > ev.at else None
            out.append(AwayCommand(ev.id, ev.item, ev.at, person, "away", line, until, delegate, problem, absence))
    return out


def command_absences(configured: Iterable[Absence], taken: Iterable[AwayCommand]) -> list[Absence]:
    """Configured absences and those of ``taken`` commands (oldest first), each ``back`` ending
    the absence of its author in force then, and each ``away`` replacing a command absence of its
    author in force then."""
    absences = list(configured)
    for c in taken:
        if c.verb == "back" or c.absence is not None:
            for i, a in enumerate(absences):
                if a.identity == c.person and a.covers(c.at) and (c.verb == "back" or a.source != "config"):
                    absences[i] = replace(a, end=c.at) if a.start < c.at else None  # type: ignore[assignment]
            absences = [a for a in absences if a is not None]
        if c.absence is not None:
            absences.append(c.absence)
    return absences


def _day(at: datetime, tz: str) -> str:
    local = (at - timedelta(microseconds=1)).astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b}"


class Router:
    """Route handoffs around absences: the ``availability`` hook of ``rules.handoff.walk_item``.

    Args:
        availability: every absence.
        who: account → identity.
        account_in: ``(identity, tool) -> Account`` in that tool, or ``None``.
        schedule_of: identity → working schedule.
        name: identity → a person's name for the words.
    """

    def __init__(self, availability: Availability, *, who: Callable[[Account | None], str | None],
                 account_in: Callable[[str, str], Account | None], schedule_of: Callable[[str], WorkSchedule],
                 name: Callable[[str], str]):
        self.availability = availability
        self.who = who
        self.account_in = account_in
        self.schedule_of = schedule_of
        self.name = name

    def __call__(self, h: Handoff, starts: datetime, deadline_for: Callable[[Account, datetime], datetime]
                 ) -> tuple[Handoff, ...]:
        holder = self.who(h.receiver)
        if holder is None or not self.availability.periods(holder):
            return (h,)
        tool = h.item.tool
        accounts = {holder: h.receiver}

        def account(identity: str) -> Account | None:
            if identity not in accounts:
                accounts[identity] = self.account_in(identity, tool)
            return accounts[identity]

        legs = self.availability.route(
            holder, starts, h.deadline, schedule_for=self.schedule_of,
            deadline_for=lambda identity, at: deadline_for(account(identity), at),
            can_hold=lambda identity: account(identity) is not None)
        if len(legs) == 1 and legs[0].absence is None:
            return (h,)
        out = []
        for leg in legs:
            receiver = account(leg.holder) or h.receiver
            note, key, away_until, delegated_from = "", h.key, None, None
            if leg.absence is not None:
                away = leg.absence
                away_until = away.end
                until = _day(away.end, away.tz)
                if leg.delegated_from is not None:
                    delegated_from = account(leg.delegated_from)
                    key = f"{h.key}:delegate:{receiver.id}"
                if away.identity != leg.holder:
                    note = f"delegated to {self.name(leg.holder)}: {self.name(away.identity)} is away until {until}"
                else:
                    note = (f"{self.name(leg.holder)} is away until {until}, with no delegate: "
                            "the deadline waits for the return")
            out.append(replace(h, key=key, receiver=receiver, deadline=leg.deadline, active_from=leg.active_from,
                               active_until=leg.active_until, delegated_from=delegated_from,
                               away_until=away_until, away_note=note))
        return tuple(out)


def describe(command: AwayCommand, name: Callable[[str], str]) -> str:
    """What a reply to ``command`` says changed, plain text; ``name``: identity → how to name
    the delegate (a native mention in the reply's markup, or a name).

    ``"away until Mon 4 Jan; handoffs to you go to @cleo"``, ``"away until Mon 4 Jan; deadlines of
    handoffs to you wait for your return"``, ``"back: handoffs to you are yours again"``, or the
    refusal (``"not taken: cannot read 'someday' as a date, …"``); a delegate not taken is said too.
    """
    if command.verb == "back":
        return "back: handoffs to you are yours again"
    if command.absence is None:
        return f"not taken: {command.problem or 'the last day away is already over'}"
    until = _day(command.absence.end, command.absence.tz)
    if command.delegate is not None:
        return f"away until {until}; handoffs to you go to {name(command.delegate)}"
    said = f" ({command.problem})" if command.problem else ""
    return f"away until {until}; deadlines of handoffs to you wait for your return{said}"
