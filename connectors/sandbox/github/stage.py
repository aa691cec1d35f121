"""The GitHub emulator as a demo stage: scenario acts in, comments standing out.

A stage is the demo's handle on one tool (``bridge.app.commands.demo.Stage``): it starts the tool's
emulator, builds the ``[connectors.github]`` section pointing at it, performs the
scenario's vendor-level acts (``open_pull_request``, ``request_review``, …) and lists what
the daemon wrote. Items are ``owner/name#N``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Callable

from connectors.sandbox.emulation import EmulatorStage
from connectors.sandbox.github.emulator import GitHubEmulator

TOKEN = "hb-demo-github-token"
MARKER = re.compile(r"hb:[0-9a-f]{12}")


class GitHubStage(EmulatorStage):
    """One GitHub emulator for one scenario.

    Args:
        clock: the scenario's stepping clock (aware UTC).
        settings: the scenario's ``[github]`` table: ``repositories`` (``owner/name`` list)
            and optionally ``poll_every`` (a duration such as ``"15m"``, default ``"1m"``:
            how often the daemon polls this tool, passed on as the connector's
            ``poll_every``).
        people: the scenario's ``[people.*]`` tables (``accounts.github`` is the login;
            ``email``, when given, is the git author e-mail of that person's commits).
        bot: the daemon's login.

    Acts (``do``) and their keys, besides ``at``, ``actor``, ``item`` (``owner/name#N``) and
    ``say``:

    - ``open_issue`` / ``open_pull_request``: ``title``, ``body``, ``assignees`` (people);
      ``open_pull_request`` also ``branch`` (head ref, default ``hb/<N>``).
    - ``edit``: ``title`` and/or ``body``, the new text (a new title adds ``renamed``).
    - ``request_review`` / ``remove_review_request``: ``reviewer``.
    - ``request_team_review`` / ``remove_team_review_request``: ``team`` (a team slug of the
      repository's organisation, as in ``@acme/content``: ``"content"``).
    - ``review``: ``state`` (APPROVED | CHANGES_REQUESTED | COMMENTED), ``body``.
    - ``comment``: ``body``. ``assign`` / ``unassign``: ``assignee``.
    - ``label`` / ``unlabel``: ``label``. ``close``, ``reopen``: nothing more.
    - ``commit``: ``message``; author e-mail from the actor's ``[people.<name>] email``.
    - ``block`` / ``unblock``: ``blocker`` (``owner/name#N``): GitHub issue dependencies,
      ``item`` is blocked by ``blocker``.
    """

    tool = "github"
    #: Each act and the keys it takes besides ``at``, ``do``, ``item``, ``tool``, ``actor`` and
    #: ``say`` (``bridge.app.commands.demo.load_scenario`` refuses any other key).
    ACT_KEYS = {
        "open_issue": frozenset({"title", "body", "assignees"}),
        "open_pull_request": frozenset({"title", "body", "assignees", "branch"}),
        "request_review": frozenset({"reviewer"}),
        "remove_review_request": frozenset({"reviewer"}),
        "request_team_review": frozenset({"team"}),
        "remove_team_review_request": frozenset({"team"}),
        "review": frozenset({"state", "body"}),
        "comment": frozenset({"body"}),
        "assign": frozenset({"assignee"}),
        "unassign": frozenset({"assignee"}),
        "label": frozenset({"label"}),
        "unlabel": frozenset({"label"}),
        "close": frozenset(),
        "reopen": frozenset(),
        "commit": frozenset({"message"}),
        "edit": frozenset({"title", "body"}),
        "block": frozenset({"blocker"}),
        "unblock": frozenset({"blocker"}),
    }
    ACTS = frozenset(ACT_KEYS)
    ROLES = ("actor", "reviewer", "assignee")
    ITEM = re.compile(r"^[\w.-]+/[\w.-]+#\d+$")

    def __init__(self, clock: Callable[[], datetime], settings: dict, people: dict, bot: str):
        self.emu = GitHubEmulator(clock=clock)
        self.repositories = list(settings.get("repositories", []))
        self.poll_every = str(settings.get("poll_every", "1m"))
        self.people = people
        self.bot = bot

    def account(self, person: str) -> str:
        return self.people[person].get("accounts", {}).get("github", person)

    def person_of(self, login: str) -> str:
        for name, p in self.people.items():
            if p.get("accounts", {}).get("github", "").lower() == login.lower():
                return name
        return login

    def start(self) -> None:
        self.emu.start()
        self.emu.add_user(self.bot)
        self.emu.add_token(TOKEN, self.bot)
        for repo in self.repositories:
            self.emu.create_repo(repo)
        for name in self.people:
            self.emu.add_user(self.account(name))

    def connector_config(self) -> tuple[dict, dict[str, str]]:
        """``[connectors.github]`` for the emulator, and the environment holding its token."""
        section = {
            "base_url": self.emu.url,
            "token": {"env": "HB_DEMO_GITHUB_TOKEN"},
            "repositories": self.repositories,
            "poll_every": self.poll_every,
            "overlap": "2m",
            "timeout": "5s",
            "seconds_between_requests": 0,
            "seconds_between_writes": 0,
        }
        return section, {"HB_DEMO_GITHUB_TOKEN": TOKEN}

    def apply(self, act: dict) -> str:
        """Perform one timeline act on the emulator; return its narration."""
        repo, _, num = act["item"].rpartition("#")
        n = int(num)
        actor = self.account(act["actor"])
        at = act["at"]
        do = act["do"]
        e = self.emu
        if do in ("open_issue", "open_pull_request"):
            pull = do == "open_pull_request"
            e.open_issue(repo, actor, act.get("title", "untitled"), act.get("body", ""), pull_request=pull, at=at, number=n,
                         head_ref=str(act.get("branch") or f"hb/{n}") if pull else None)
            for a in act.get("assignees", []):
                e.assign(repo, n, actor, self.account(a), at=at)
        elif do == "request_review":
            e.request_review(repo, n, actor, self.account(act["reviewer"]), at=at)
        elif do == "remove_review_request":
            e.remove_review_request(repo, n, actor, self.account(act["reviewer"]), at=at)
        elif do in ("request_team_review", "remove_team_review_request"):
            e.request_team_review(repo, n, actor, str(act["team"]), at=at, removed=do.startswith("remove"))
        elif do == "review":
            e.submit_review(repo, n, actor, act.get("state", "APPROVED").upper(), act.get("body", ""), at=at)
        elif do == "comment":
            e.comment(repo, n, actor, act["body"], at=at)
        elif do == "assign":
            e.assign(repo, n, actor, self.account(act["assignee"]), at=at)
        elif do == "unassign":
            e.unassign(repo, n, actor, self.account(act["assignee"]), at=at)
        elif do == "label":
            e.add_label(repo, n, actor, act["label"], at=at)
        elif do == "unlabel":
            e.remove_label(repo, n, actor, act["label"], at=at)
        elif do == "close":
            e.close(repo, n, actor, at=at)
        elif do == "reopen":
            e.reopen(repo, n, actor, at=at)
        elif do == "commit":
            email = self.people.get(act["actor"], {}).get("email")
            e.commit(repo, n, actor, act.get("message", "work"), at=at, email=email or None)
        elif do == "edit":
            e.edit(repo, n, actor, title=act.get("title"), body=act.get("body"), at=at)
        elif do in ("block", "unblock"):
            b_repo, _, b_num = str(act["blocker"]).rpartition("#")
            change = e.add_blocked_by if do == "block" else e.remove_blocked_by
            change(repo, n, actor, b_repo, int(b_num), at=at)
        return act.get("say") or narrate(act)

    def written(self) -> list[dict]:
        """What the bot wrote that stands now: ``{item, url, marker, body[, draft]}``."""
        out = []
        for repo in self.repositories:
            for number in self.emu.numbers(repo):
                for c in self.emu.comments(repo, number):
                    if c["user"]["login"] == self.bot:
                        m = MARKER.search(c.get("body") or "")
                        out.append({"item": f"{repo}#{number}", "url": c["html_url"], "marker": m.group(0) if m else None,
                                    "body": c["body"]})
                issue = self.emu.issue(repo, number)
                if issue["user"]["login"] == self.bot:
                    m = MARKER.search(issue.get("body") or "")
                    out.append({"item": f"{repo}#{number}", "url": issue["html_url"], "marker": m.group(0) if m else None,
                                "body": issue["body"], "draft": True})
        return out


def narrate(act: dict) -> str:
    who, do, item = act["actor"], act["do"], act["item"]
    return {
        "open_issue": f"{who} opens issue {item} \"{act.get('title', '')}\"",
        "open_pull_request": f"{who} opens pull request {item} \"{act.get('title', '')}\"",
        "request_review": f"{who} requests {act.get('reviewer')}'s review on {item}",
        "remove_review_request": f"{who} withdraws the review request to {act.get('reviewer')} on {item}",
        "request_team_review": f"{who} requests the {act.get('team')} team's review on {item}",
        "remove_team_review_request": f"{who} withdraws the review request to the {act.get('team')} team on {item}",
        "review": f"{who} reviews {item}: {act.get('state', 'APPROVED').lower()}",
        "comment": f"{who} comments on {item}: \"{act.get('body', '')}\"",
        "assign": f"{who} assigns {item} to {act.get('assignee')}",
        "unassign": f"{who} unassigns {act.get('assignee')} from {item}",
        "label": f"{who} labels {item} \"{act.get('label')}\"",
        "unlabel": f"{who} removes label \"{act.get('label')}\" from {item}",
        "close": f"{who} closes {item}",
        "reopen": f"{who} reopens {item}",
        "commit": f"{who} pushes a commit to {item}",
        "edit": f"{who} edits {item}" + (f": \"{act['title']}\"" if act.get("title") else ""),
        "block": f"{who} marks {item} blocked by {act.get('blocker')}",
        "unblock": f"{who} removes {act.get('blocker')} from what blocks {item}",
    }[do]


Stage = GitHubStage
