"""``[teams.<name>]``: a team that receives handoffs as one, with a lead who is nudged for it.

A team is not an owner (issue 16, "Teams are not owners"): a review requested from a GitHub
team (``requested_team``) hands the pull request to nobody in particular. With a configured
team, the handoff goes to the team: any member's acknowledgement (or the lead's) receives it,
and when nobody does, the nudge goes to the lead. A team that has no ``[teams.*]`` entry is an
ownerless handoff: its sender is asked to name one person (``rules.handoff``).

Shape::

    [teams.content]
    members = ["ann", "ben"]      # [people.*] names
    lead = "ann"                  # a [people.*] name; need not be listed in members
    github = "acme/content"       # optional: the GitHub team as org/slug, or slug alone
                                  # (default: the team's name is the slug, in any org)

``team_problems`` checks what pydantic cannot: every member and the lead name a ``[people.*]``
entry (``FILE:LINE: teams.content.members[1]: unknown person, did you mean 'ben'? (got 'bem')``),
the lead has a GitHub account when GitHub is watched (the team's nudges go to the lead), and no
two teams claim the same GitHub team.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import Field, field_validator

from bridge.config.problems import Problem
from bridge.core.fields import StrictModel, Text

__all__ = ["Team", "team_problems"]

_SLUG = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*")


class Team(StrictModel):
    """``[teams.<name>]``: the people a team handoff goes to, and its lead.

    ``members``: ``[people.*]`` names whose acknowledgement receives a handoff to the team.
    ``lead``: the ``[people.*]`` name nudged when nobody in the team picks a handoff up (also
    acknowledges, and may give commands about the team's handoffs). ``github``: the GitHub team
    as ``org/slug`` (as in ``@acme/content``) or ``slug``; default: the team's own name as slug.
    """

    members: list[Text] = Field(default_factory=list, description="[people.*] names in the team")
    lead: Text = Field(description="[people.*] name nudged when nobody in the team acknowledges")
    github: Text | None = Field(default=None, description="GitHub team as org/slug (or slug); "
                                "default: the team name as slug")

    @field_validator("github")
    @classmethod
    def _github(cls, value: str | None) -> str | None:
        if value is not None and not _SLUG.fullmatch(value.removeprefix("@")):
            raise ValueError("expected a GitHub team as org/slug, e.g. acme/content")
        return value.removeprefix("@") if value is not None else None

    def github_team(self, name: str) -> tuple[str | None, str]:
        """``(org or None, slug)`` of this team on GitHub; ``name`` is its ``[teams.<name>]`` key.

        Slugs compare case-insensitively (GitHub lower-cases them), so they are returned lower-cased.
        """
        org, _, slug = (self.github or name).rpartition("/")
        return (org.lower() or None), slug.lower()


def _unknown(name: str, people: dict) -> str:
    close = difflib.get_close_matches(name, list(people), n=1)
    return f"unknown person, did you mean {close[0]!r}?" if close else (
        f"unknown person (known: {', '.join(sorted(people)) or 'none'})")


def team_problems(data: dict) -> list[Problem]:
    """Problems of the raw TOML ``data``'s ``[teams.*]`` across sections: members and leads that
    name no ``[people.*]`` entry, a member listed twice, two teams with one GitHub team."""
    teams = data.get("teams")
    if not isinstance(teams, dict):
        return []
    people = data.get("people") if isinstance(data.get("people"), dict) else {}
    connectors = data.get("connectors") if isinstance(data.get("connectors"), dict) else {}
    problems: list[Problem] = []
    claimed: dict[tuple[str | None, str], str] = {}
    for name, team in teams.items():
        if not isinstance(team, dict):
            continue
        members = team.get("members")
        seen: set[str] = set()
        for i, member in enumerate(members if isinstance(members, list) else []):
            if not isinstance(member, str):
                continue
            if member not in people:
                problems.append(Problem(("teams", name, "members", i), _unknown(member, people), member))
            elif member in seen:
                problems.append(Problem(("teams", name, "members", i), "listed twice", member))
            seen.add(member)
        lead = team.get("lead")
        if isinstance(lead, str) and lead not in people:
            problems.append(Problem(("teams", name, "lead"), _unknown(lead, people), lead))
        elif isinstance(lead, str) and "github" in connectors and isinstance(people[lead], dict):
            accounts = people[lead].get("accounts")
            if "github" not in (accounts if isinstance(accounts, dict) else {}):
                problems.append(Problem(("teams", name, "lead"), f"person {lead!r} has no github account: the "
                                        "team's nudges would reach nobody", lead))
        github = team.get("github")
        if github is None or (isinstance(github, str) and _SLUG.fullmatch(github.removeprefix("@"))):
            org, _, slug = (github.removeprefix("@") if github else name).rpartition("/")
            key = (org.lower() or None, slug.lower())
            # one slug in two teams collides unless both name different organisations
            other = next((t for (o, s), t in claimed.items() if s == key[1] and None in (o, key[0]) or (o, s) == key),
                         None)
            if other is not None:
                problems.append(Problem(("teams", name, "github") if github else ("teams", name),
                                        f"the GitHub team {key[1]!r} is already [teams.{other}]", github or name))
            else:
                claimed[key] = name
    return problems
