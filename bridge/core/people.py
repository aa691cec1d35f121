"""One person, many accounts: the people directory.

A person is one human with accounts in several tools (DESIGN.md "Vocabulary"). An account
belongs to a person when ``[people.<name>].accounts`` names it, or, failing that, when the
tool shows the account's e-mail and it equals the person's ``email`` (case-insensitive).
Asana shows e-mails, Jira often does, GitHub mostly does not; a git commit carries its
author's e-mail, which GitHub connectors report as the pseudo-account ``email:<address>``.

Rules compare people, not accounts, through :meth:`Directory.identity`, so a comment by the
receiver on the linked Jira issue acknowledges the review request on the pull request.

Teams (``[teams.<name>]``, ``bridge.config.teams``) are read here too: :meth:`Directory.team_for_request`
finds the configured team of a GitHub team review request, :meth:`Directory.team_identities` who
acknowledges for it, and :meth:`Directory.team_leads` the leads of the teams a person belongs to
(for command permissions: a team's lead may give commands about handoffs to its members).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping, Protocol

from bridge.core.businesstime import WorkSchedule
from bridge.core.model import Account, AccountInfo, ItemRef, Tool

EMAIL_TOOL = "email"  # pseudo-tool of accounts known only by e-mail (git commit authors)


@dataclass(frozen=True)
class SeenAccount:
    """An account the store has seen: what the tool showed, and how often it acted."""

    account: Account
    display_name: str | None = None
    email: str | None = None
    last_seen: datetime | None = None
    events: int = 0


@dataclass
class PeopleReport:
    """What ``handoff-bridge people`` prints.

    ``mapped``: person → ``[(account, how)]`` where ``how`` is ``"config"`` or ``"e-mail"``.
    ``unmapped``: accounts seen that no person owns. ``never_matched``: ``(person, reason)``
    for config entries none of whose accounts (nor e-mail) ever appeared.
    """

    mapped: dict[str, list[tuple[Account, str]]] = field(default_factory=dict)
    unmapped: list[SeenAccount] = field(default_factory=list)
    never_matched: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TeamInfo:
    """One ``[teams.<name>]`` entry as the directory reads it.

    ``name``: the ``[teams.*]`` key; ``lead``: a ``[people.*]`` name; ``members``: ``[people.*]``
    names (the lead need not be one); ``org``/``slug``: the GitHub team (``org`` ``None``: any
    organisation), both lower-cased.
    """

    name: str
    lead: str
    members: tuple[str, ...]
    org: str | None
    slug: str


class PersonEntry(Protocol):
    """A ``[people.<name>]`` entry as the directory reads it (``bridge.config.Person``)."""

    email: str | None
    display_name: str | None
    accounts: Mapping[str, str]  # tool → account id


class PeopleConfig(Protocol):
    """What the directory reads of the validated config (``bridge.config.Config``)."""

    @property
    def people(self) -> Mapping[str, PersonEntry]: ...

    def person_for(self, account: Account) -> tuple[str, PersonEntry] | None: ...

    def person_account(self, person_name: str, tool: str) -> Account | None: ...

    def schedule_for_person(self, name: str | None) -> WorkSchedule: ...


class Directory:
    """Accounts → people, from config first, then by e-mail: the one answer to "who is this?".

    Args:
        config: the validated ``bridge.config.Config`` (``people``, ``person_for``,
            ``person_account``, ``schedule_for_person``).
        seen: accounts seen in the tools (``AccountInfo`` or ``SeenAccount``), for e-mail matching.
    """

    def __init__(self, config: PeopleConfig, seen: Iterable[AccountInfo | SeenAccount] = ()):
        self.config = config
        self._by_email: dict[str, str] = {
            p.email.lower(): name for name, p in config.people.items() if p.email
        }
        self._teams: dict[str, TeamInfo] = {}
        for name, team in (getattr(config, "teams", None) or {}).items():
            org, slug = team.github_team(name)
            self._teams[name] = TeamInfo(name, team.lead, tuple(team.members), org, slug)
        self.reset(seen)

    def reset(self, seen: Iterable[AccountInfo | SeenAccount] = ()) -> None:
        """Forget every e-mail match, then learn ``seen`` (the accounts the store holds)."""
        self._matched: dict[Account, str] = {}
        self._email_accounts: dict[str, dict[str, Account]] = {}  # person → tool → account found by e-mail
        self._persons: dict[Account, str | None] = {}  # memo of person(); cleared when learn() matches
        self._identities: dict[Account, str] = {}  # memo of identity()
        self.learn(seen)

    def learn(self, seen: Iterable[AccountInfo | SeenAccount]) -> bool:
        """Take in more accounts seen (a new poll's ``PollResult.accounts``).

        Returns whether an account not known before was matched to a person by e-mail.
        """
        matched = False
        for info in seen:
            acct = info.account
            if self.config.person_for(acct) is not None or acct in self._matched:
                continue
            email = (info.email or (acct.id if acct.tool == EMAIL_TOOL else "") or "").lower()
            name = self._by_email.get(email)
            if name is not None:
                self._matched[acct] = name
                self._email_accounts.setdefault(name, {}).setdefault(acct.tool, acct)
                matched = True
        if matched:
            self._persons.clear()
            self._identities.clear()
        return matched

    def matches(self) -> list[tuple[str, str]]:
        """Accounts matched to a person by e-mail: sorted ``("tool:id", person)`` pairs."""
        return sorted((str(a), name) for a, name in self._matched.items())

    def person(self, account: Account | None) -> str | None:
        """The ``[people.*]`` name owning ``account``, or ``None``."""
        if account is None:
            return None
        try:
            return self._persons[account]
        except KeyError:
            pass
        found = self.config.person_for(account)
        if found is not None:
            name = found[0]
        elif account.tool == EMAIL_TOOL:
            name = self._by_email.get(account.id.lower())
        else:
            name = self._matched.get(account)
        self._persons[account] = name
        return name

    def identity(self, account: Account | None) -> str | None:
        """A key equal for every account of one human: ``person:<name>``, else ``<tool>:<id>``."""
        if account is None:
            return None
        try:
            return self._identities[account]
        except KeyError:
            pass
        name = self.person(account)
        ident = self._identities[account] = f"person:{name}" if name else str(account)
        return ident

    def schedule_for(self, account: Account | None) -> WorkSchedule:
        """The working schedule of ``account``'s person, else ``[defaults]``."""
        return self.config.schedule_for_person(self.person(account))

    def account(self, person: str, tool: str) -> Account | None:
        """``person``'s account in ``tool``: from config, else one matched by e-mail, else ``None``."""
        acct = self.config.person_account(person, tool)
        if acct is not None:
            return acct
        return self._email_accounts.get(person, {}).get(tool)

    def account_for_identity(self, identity: str, tool: str) -> Account | None:
        """The account in ``tool`` of an ``identity`` (see :meth:`identity`), if it has one."""
        if identity.startswith("person:"):
            return self.account(identity[len("person:"):], tool)
        acct_tool, _, ident = identity.partition(":")
        return Account(acct_tool, ident) if acct_tool == tool else None

    def name(self, identity: str | None) -> str:
        """A human-readable name: the person's ``display_name`` or config name, else the account id."""
        if not identity:
            return "nobody"
        if identity.startswith("person:"):
            key = identity[len("person:"):]
            person = self.config.people.get(key)
            return (person.display_name if person and person.display_name else key)
        return identity.partition(":")[2] or identity

    def report(self, seen: Iterable[SeenAccount]) -> PeopleReport:
        """Who is mapped (and how), which seen accounts nobody owns, which entries never matched."""
        seen = list(seen)
        self.learn(seen)
        out = PeopleReport(mapped={name: [] for name in self.config.people})
        # A configured account counts as matched once an account it owns (GitHub logins
        # compare case-insensitively, see Config.person_for) was seen in its tool.
        seen_config = {(s.account.tool, owner[0]) for s in seen if (owner := self.config.person_for(s.account))}
        for name, person in self.config.people.items():
            for tool, ident in sorted(person.accounts.items()):
                if (tool, name) in seen_config:
                    out.mapped[name].append((Account(tool, ident), "config"))
            for tool, acct in sorted(self._email_accounts.get(name, {}).items()):
                out.mapped[name].append((acct, "e-mail"))
        for s in sorted(seen, key=lambda s: (s.account.tool, s.account.id)):
            if self.person(s.account) is None:
                out.unmapped.append(s)
        for name, person in self.config.people.items():
            if out.mapped[name]:
                continue
            configured = ", ".join(f"{t}:{i}" for t, i in sorted(person.accounts.items())) or "no accounts"
            why = f"none of its accounts ({configured}) was seen"
            if person.email:
                why += f", and no account showed the e-mail {person.email}"
            out.never_matched.append((name, why))
        out.mapped = {k: v for k, v in out.mapped.items() if v}
        return out

    # ------------------------------------------------------------------ teams

    @property
    def teams(self) -> Mapping[str, TeamInfo]:
        """Every configured team by its ``[teams.*]`` name."""
        return self._teams

    def team_for_request(self, label: str | None, item: ItemRef) -> TeamInfo | None:
        """The configured team a team review request on ``item`` went to, or ``None``.

        Args:
            label: the request event's ``label``, ``team:<slug>`` (``connectors.github.timeline``).
            item: the pull request; a team is always of the repository owner's organisation, so a
                ``[teams.*] github = "org/slug"`` matches only items of repositories of ``org``.

        Slugs compare case-insensitively. Only GitHub has team requests today (``None`` elsewhere).
        """
        if not label or not label.startswith("team:") or item.tool != Tool.GITHUB.value:
            return None
        slug = label[len("team:"):].strip().lower()
        owner = item.key.split("/", 1)[0].lower()
        for team in self._teams.values():
            if team.slug == slug and team.org in (None, owner):
                return team
        return None

    def team_identities(self, team: TeamInfo) -> frozenset[str]:
        """Identities (see :meth:`identity`) that acknowledge for ``team``: its members and its lead."""
        return frozenset(f"person:{p}" for p in (*team.members, team.lead))

    def team_leads(self, identity: str | None) -> set[str]:
        """The identities (``person:<name>``) of the leads of every team ``identity`` belongs to.

        ``identity`` is :meth:`identity`'s answer for an account (``person:<name>``, else
        ``<tool>:<id>``: an account no person owns belongs to no team). A team's lead belongs to
        their own team, so a lead's answer contains themselves. Empty when the identity is in no
        team. For command permissions: "a person named as lead ... of the team" (issue 16).
        """
        if not identity:
            return set()
        return {f"person:{t.lead}" for t in self._teams.values() if identity in self.team_identities(t)}
