"""The Jira emulator as a demo stage: scenario acts in, comments and drafts standing out.

Settings (the scenario's ``[jira]`` table): ``projects = ["WEB"]``, ``deployment = "cloud"``
(or ``"datacenter"``), optional ``bot`` (the daemon's accountId; default the scenario's
``bot``), optional ``bot_time_zone`` (IANA, default ``UTC``: the zone JQL dates are read in),
optional ``poll_every`` (a duration such as ``"15m"``, default ``"1m"``: how often the demo
polls this tool; passed to the connector section as ``poll_every``).
People's accounts are ``accounts.jira`` (an accountId such as ``5b10a2844c20165700ede21g``);
a person's ``email`` (``[people.<name>] email``) becomes the user's ``emailAddress``.
Items are ``WEB-17``; an act's ``item`` that does not exist yet is created by ``create_issue``.

Acts (``do``) and their keys besides ``at``, ``actor``, ``item`` (and ``say``):

- ``create_issue``: ``title``, ``body`` (description, wiki text), ``assignee``, ``status``,
  ``labels``;
- ``edit``: ``title`` and/or ``body`` (new summary / description; ``body = ""`` clears it),
  one changelog history with ``summary``/``description`` items, as Jira's edit does;
- ``transition``: ``status``, optional ``assignee``; ``assign``: ``assignee``; ``unassign``;
- ``comment``: ``body``; ``label``/``unlabel``: ``label``;
- ``link``: ``other``, ``link`` (default ``"is blocked by"``; also ``"blocks"``,
  ``"relates to"``, ``"Blocks"``...); ``unlink``: ``other``, ``link`` (same default), removes
  that link (a ``Link`` history with ``from`` on both issues);
- ``resolve``: ``resolution``; ``reopen``: ``status``;
- ``remote_link``: ``url``, ``title``;
- ``flag`` / ``unflag``: nothing more: Jira Software's "Add flag" / "Remove flag" (the
  ``Flagged`` field set to "Impediment" or cleared; a flagged issue is blocked).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Callable

from connectors.sandbox.emulation import EmulatorStage
from connectors.sandbox.jira.emulator import JiraEmulator
from connectors.sandbox.jira.state import UNCHANGED

TOKEN = "hb-demo-jira-token"
MARKER = re.compile(r"hb:[0-9a-f]{12}")


class JiraStage(EmulatorStage):
    """One Jira emulator for one scenario (``bridge.app.commands.demo.Stage``)."""

    tool = "jira"
    #: Each act and the keys it takes besides ``at``, ``do``, ``item``, ``tool``, ``actor`` and
    #: ``say`` (``bridge.app.commands.demo.load_scenario`` refuses any other key).
    ACT_KEYS = {
        "create_issue": frozenset({"title", "body", "assignee", "status", "labels", "due_on"}),
        "transition": frozenset({"status", "assignee"}),
        "assign": frozenset({"assignee"}),
        "unassign": frozenset(),
        "comment": frozenset({"body"}),
        "link": frozenset({"link", "other"}),
        "label": frozenset({"label"}),
        "unlabel": frozenset({"label"}),
        "resolve": frozenset({"resolution"}),
        "reopen": frozenset({"status"}),
        "remote_link": frozenset({"url", "title"}),
        "edit": frozenset({"title", "body"}),
        "unlink": frozenset({"link", "other"}),
        "set_due": frozenset({"due_on"}),
        "flag": frozenset(),
        "unflag": frozenset(),
    }
    ACTS = frozenset(ACT_KEYS)
    ROLES = ("actor", "assignee")
    ITEM = re.compile(r"^[A-Z][A-Z0-9_]+-\d+$")

    def __init__(self, clock: Callable[[], datetime], settings: dict, people: dict, bot: str):
        self.deployment = settings.get("deployment", "cloud")
        self.emu = JiraEmulator(clock=clock, deployment=self.deployment)
        self.projects = list(settings.get("projects", []))
        self.people = people
        self.bot = settings.get("bot", bot)
        self.bot_tz = settings.get("bot_time_zone", "UTC")
        self.email = f"{self.bot}@bots.example"
        self.poll_every = settings.get("poll_every", "1m")

    def account(self, person: str | None) -> str | None:
        if person is None:
            return None
        return self.people[person].get("accounts", {}).get("jira", person)

    def person_of(self, account_id: str) -> str:
        for name, p in self.people.items():
            if p.get("accounts", {}).get("jira") == account_id:
                return name
        return account_id

    def start(self) -> None:
        self.emu.start()
        self.emu.add_user(self.bot, "handoff-bridge", email=self.email, time_zone=self.bot_tz)
        self.emu.add_token(TOKEN, self.bot, email=self.email)
        for key in self.projects:
            self.emu.create_project(key)
        for name, p in self.people.items():
            self.emu.add_user(self.account(name), p.get("display_name", name), email=p.get("email"),
                              time_zone=p.get("timezone", "UTC"))

    def connector_config(self) -> tuple[dict, dict[str, str]]:
        """``[connectors.jira]`` for the emulator, and the environment holding its token."""
        section = {
            "base_url": self.emu.url,
            "deployment": self.deployment,
            "token": {"env": "HB_DEMO_JIRA_TOKEN"},
            "jql": [f"project = {p}" for p in self.projects],
            "poll_every": self.poll_every,
            "overlap": "2m",
            "timeout": "5s",
        }
        if self.deployment == "cloud":
            section["email"] = self.email
        return section, {"HB_DEMO_JIRA_TOKEN": TOKEN}

    def apply(self, act: dict) -> str:
        """Perform one timeline act on the emulator; return its narration."""
        key, at, do, e = act["item"], act["at"], act["do"], self.emu
        actor = self.account(act["actor"])
        if do == "create_issue":
            e.create_issue(key.rsplit("-", 1)[0], actor, act.get("title", "untitled"), act.get("body", ""),
                           assignee=self.account(act.get("assignee")), status=act.get("status", "To Do"),
                           labels=act.get("labels", ()), key=key, at=at, duedate=_date(act.get("due_on")))
        elif do == "transition":
            assignee = self.account(act["assignee"]) if "assignee" in act else UNCHANGED
            e.transition(key, actor, act["status"], assignee=assignee, at=at)
        elif do == "assign":
            e.assign(key, actor, self.account(act["assignee"]), at=at)
        elif do == "unassign":
            e.assign(key, actor, None, at=at)
        elif do == "comment":
            e.comment(key, actor, act["body"], at=at)
        elif do == "link":
            e.link(key, actor, act.get("link", "is blocked by"), act["other"], at=at)
        elif do == "label":
            e.add_label(key, actor, act["label"], at=at)
        elif do == "unlabel":
            e.remove_label(key, actor, act["label"], at=at)
        elif do == "resolve":
            e.resolve(key, actor, act.get("resolution", "Done"), at=at)
        elif do == "reopen":
            e.reopen(key, actor, act.get("status", "To Do"), at=at)
        elif do in ("flag", "unflag"):
            e.set_flagged(key, actor, do == "flag", at=at)
        elif do == "remote_link":
            e.add_remote_link(key, actor, act["url"], act.get("title", act["url"]), at=at)
        elif do == "edit":
            if "title" not in act and "body" not in act:
                raise ValueError(f"jira act 'edit' on {key} needs 'title' and/or 'body'")
            e.edit(key, actor, summary=act.get("title"), description=act.get("body"), at=at)
        elif do == "unlink":
            e.unlink(key, actor, act.get("link", "is blocked by"), act["other"], at=at)
        elif do == "set_due":
            e.set_duedate(key, actor, _date(act.get("due_on")), at=at)
        return act.get("say") or narrate(act)

    def written(self) -> list[dict]:
        """What the bot wrote that stands now: ``{item, url, marker, body[, draft]}``."""
        out = []
        for project in self.projects:
            for key in self.emu.issue_keys(project):
                for c in self.emu.comments(key):
                    if c["author"] == self.bot:
                        m = MARKER.search(c["body"] or "")
                        out.append({"item": key, "url": f"{self.emu.url}/browse/{key}?focusedCommentId={c['id']}",
                                    "marker": m.group(0) if m else None, "body": c["body"]})
                issue = self.emu.issue(key)
                f = issue["fields"]
                if mapping_id(f.get("reporter")) == self.bot:
                    m = MARKER.search(f.get("description") or "")
                    out.append({"item": key, "url": f"{self.emu.url}/browse/{key}", "marker": m.group(0) if m else None,
                                "body": f"{f['summary']}\n{f.get('description') or ''}", "draft": True,
                                "assignee": mapping_id(f.get("assignee")), "duedate": f.get("duedate"),
                                "links": self.emu.links(key)})
        return out


def _date(value) -> str | None:
    """A scenario's ``due_on`` (TOML date or ``YYYY-MM-DD`` text) as Jira's ``yyyy-MM-dd``; ``None`` clears.

    Raises:
        ValueError: not a calendar date.
    """
    if value is None:
        return None
    return date.fromisoformat(str(value)).isoformat()


def mapping_id(user: dict | None) -> str | None:
    return (user or {}).get("accountId") or (user or {}).get("name")


def narrate(act: dict) -> str:
    who, do, item = act["actor"], act["do"], act["item"]
    return {
        "create_issue": f"{who} creates {item} \"{act.get('title', '')}\""
                        + (f", due {act['due_on']}" if act.get("due_on") else ""),
        "transition": f"{who} moves {item} to \"{act.get('status')}\""
                      + (f" and assigns it to {act['assignee']}" if act.get("assignee") else ""),
        "assign": f"{who} assigns {item} to {act.get('assignee')}",
        "unassign": f"{who} unassigns {item}",
        "comment": f"{who} comments on {item}: \"{act.get('body', '')}\"",
        "link": f"{who} links {item} {act.get('link', 'is blocked by')} {act.get('other')}",
        "label": f"{who} labels {item} \"{act.get('label')}\"",
        "unlabel": f"{who} removes label \"{act.get('label')}\" from {item}",
        "resolve": f"{who} resolves {item}",
        "reopen": f"{who} reopens {item}",
        "remote_link": f"{who} adds a web link to {item}: {act.get('url')}",
        "edit": f"{who} edits {item}" + "".join(
            f" ({k} now \"{act[k]}\")" for k in ("title", "body") if k in act),
        "set_due": f"{who} sets {item} due {act.get('due_on') or 'never (cleared)'}",
        "unlink": f"{who} removes the link {item} {act.get('link', 'is blocked by')} {act.get('other')}",
        "flag": f"{who} flags {item} as an impediment",
        "unflag": f"{who} removes the flag from {item}",
    }[do]


Stage = JiraStage
