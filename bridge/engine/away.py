"""The evaluator's book of absences: configured ones and those set by ``/hb away`` commands.

``AwayBook`` turns ``[people.*] away`` periods into ``bridge.core.availability.Absence``s (dates
in each person's zone), reads the away commands (``rules.away``) from stored comments once per
start (``load``: one ``LIKE`` query, ``Store.comments_like``) and from every batch of events the
evaluator walks afterwards (``take``), and gives ``rules.handoff.walk_item`` its
``availability`` hook (``router``: ``None`` while nobody is away, which changes nothing).

``take`` returns the identities whose absences changed, so the evaluator re-walks the items
whose open handoffs they hold or were delegated from (a walk is otherwise kept until its item
changes). Configured absences are part of the evaluator's fingerprint (``people``).
"""

from __future__ import annotations

from typing import Callable, Iterable

from bridge.config import Config
from bridge.core.availability import Absence, Availability, absence_from_dates
from bridge.core.businesstime import WorkSchedule
from bridge.core.model import Account, Event, EventKind, ItemRef
from bridge.core.people import Directory
from bridge.store import Store
from rules import away as away_rule

__all__ = ["AwayBook"]


class AwayBook:
    """Every absence the evaluator knows, and the commands that set them.

    Args:
        config: the validated config (``[people.*] away``).
        directory: accounts → people (identities, schedules, accounts in a tool).
        bots: the daemon's own accounts (their comments are never commands).
    """

    def __init__(self, config: Config, directory: Directory, bots: Callable[[], set[Account]]):
        self.config = config
        self.directory = directory
        self.bots = bots
        self._commands: dict[str, Event] = {}  # event id → the comment holding an away command
        self._parsed: list[away_rule.AwayCommand] = []
        self.availability = Availability()
        self._router: away_rule.Router | None = None
        self._rebuild()

    # ------------------------------------------------------------------ reading

    def load(self, store: Store, *, skip: set[ItemRef] = frozenset()) -> None:
        """Forget the commands, then read every stored one but those on ``skip`` items (items
        not walked yet: ``take`` finds theirs when they are, and says whose absence changed)."""
        self._commands = {ev.id: ev for ev in store.comments_like(away_rule.AWAY_PATTERNS)
                          if ev.item not in skip and away_rule.away_lines(ev.text)}
        self._rebuild()

    def take(self, events: Iterable[Event]) -> set[str]:
        """Take in the away commands among ``events``; return the identities whose absences changed."""
        new = {ev.id: ev for ev in events
               if ev.kind == EventKind.COMMENTED and ev.id not in self._commands and away_rule.away_lines(ev.text)}
        if not new:
            return set()
        before = self._by_identity()
        self._commands.update(new)
        self._rebuild()
        after = self._by_identity()
        return {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}

    # ------------------------------------------------------------------ answers

    def commands(self) -> list[away_rule.AwayCommand]:
        """Every away command read, oldest first, as understood (``problem`` says what was not taken)."""
        return list(self._parsed)

    def absences(self, identity: str | None = None) -> list[Absence]:
        """Every absence (or ``identity``'s), oldest first."""
        if identity is not None:
            return list(self.availability.periods(identity))
        return sorted((a for i in self.availability.identities() for a in self.availability.periods(i)),
                      key=lambda a: (a.start, a.identity))

    def router(self) -> away_rule.Router | None:
        """The ``availability`` hook of ``walk_item``; ``None`` while nobody is ever away."""
        return self._router

    # ------------------------------------------------------------------ building

    def _by_identity(self) -> dict[str, tuple]:
        return {i: tuple((a.start, a.end, a.delegate) for a in self.availability.periods(i))
                for i in self.availability.identities()}

    def schedule_of(self, identity: str) -> WorkSchedule:
        """The working schedule of an identity (a person's, else ``[defaults]``)."""
        if identity.startswith("person:"):
            return self.config.schedule_for_person(identity[len("person:"):])
        return self.config.schedule_for_person(None)

    def _configured(self) -> list[Absence]:
        out = []
        for name, person in self.config.people.items():
            tz = self.config.schedule_for_person(name).timezone
            for period in person.away:
                out.append(absence_from_dates(f"person:{name}", period.first, period.last, tz,
                                              delegate=f"person:{period.delegate}" if period.delegate else None))
        return out

    def _rebuild(self) -> None:
        self._parsed = away_rule.commands(self._commands.values(), bots=self.bots() if self._commands else set(), who=self.directory.identity,
                                          schedule_for=self.directory.schedule_for, delegate_of=self.delegate_of)
        self.availability = Availability(away_rule.command_absences(self._configured(), self._parsed))
        self._router = away_rule.Router(self.availability, who=self.directory.identity,
                                        account_in=self.directory.account_for_identity, schedule_of=self.schedule_of,
                                        name=self.directory.name) if self.availability else None

    def delegate_of(self, written: str, ev: Event) -> str | None:
        """The identity named ``written`` in ``ev``'s command: a ``[people.*]`` name or display
        name, a Jira mention (``[~accountid:ID]``), the one person the comment mentions natively
        (an Asana mention reads as ``@Name``), else an account of the comment's tool."""
        text = written.strip()
        people = self.config.people
        if text in people:
            return f"person:{text}"
        folded = text.casefold()
        for name, person in people.items():
            if name.casefold() == folded or (person.display_name and person.display_name.casefold() == folded):
                return f"person:{name}"
        jira = away_rule.jira_mention(text)
        if jira is not None:
            return self.directory.identity(Account("jira", jira))
        if len(ev.mentions) == 1 and (ev.item.tool != "github" or ev.mentions[0].id.casefold() == folded):
            return self.directory.identity(ev.mentions[0])
        if text and not any(c.isspace() for c in text):
            return self.directory.identity(Account(ev.item.tool, text))
        return None
