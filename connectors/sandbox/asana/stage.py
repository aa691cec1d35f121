"""The Asana emulator as a demo stage: scenario acts in, comments and drafted subtasks out.

A stage is the demo's handle on one tool (``bridge.app.commands.demo.Stage``). Items are task gids
(digits). The scenario's ``[asana]`` table::

    [asana]
    projects = [{ gid = "1300000000000001", name = "Deals", sections = ["To do", "Doing", "Legal review", "Done"] }]
    bot = "1100000000000001"          # optional: the daemon's own user gid
    poll_every = "5m"                 # optional (default "1m"): [connectors.asana] poll_every

People's accounts are ``accounts = { asana = "<user gid>" }``; a person without one gets a
gid derived from their name. A person's ``email`` (``[people.<name>] email = "..."``) is
their Asana user's e-mail (``UserResponse.email``, what ``assignee.email`` reveals);
without one the emulator makes ``<display name>@example.com``.

Acts and their keys (every act but ``expire_sync_tokens`` has ``actor`` and ``item``, a
task gid):

- ``create_task``: ``title``, ``notes`` (plain text), ``assignee`` (person), ``section``
  (name; default the first), ``due_on`` (``YYYY-MM-DD``), ``project`` (gid; default the
  first), all optional and combinable.
- ``edit``: ``title`` and/or ``notes`` (at least one): renames (``name_changed`` story with
  ``old_name``/``new_name``) and/or replaces the description (``notes_changed`` story);
  ``modified_at`` becomes the act's time.
- ``assign`` (``assignee``), ``unassign``, ``move`` (``section``), ``comment`` (``body``,
  plain text), ``complete``, ``uncomplete``, ``add_dependency``/``remove_dependency``
  (``depends_on``, the blocking task's gid), ``set_due`` (``due_on``; absent clears),
  ``attach_url`` (``url``, optional ``name``).
- ``expire_sync_tokens``: invalidates every events sync token (the next poll gets a 412).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Callable

from connectors.sandbox.asana.emulator import AsanaEmulator
from connectors.sandbox.asana.routes import API_PREFIX
from connectors.sandbox.emulation import EmulatorStage

TOKEN = "hb-demo-asana-token"
BOT_GID = "1100000000000001"
MARKER = re.compile(r"hb:[0-9a-f]{12}")


def _gid_for(name: str) -> str:
    return "11" + str(int(hashlib.sha256(name.encode()).hexdigest(), 16))[:14]


class AsanaStage(EmulatorStage):
    """One Asana emulator for one scenario.

    Args:
        clock: the scenario's stepping clock (aware UTC).
        settings: the scenario's ``[asana]`` table (see the module docstring).
        people: the scenario's ``[people.*]`` tables (``accounts.asana`` is the user gid).
        bot: the daemon's name (GitHub login style); its Asana gid is ``settings.bot``.
    """

    tool = "asana"
    #: Each act and the keys it takes besides ``at``, ``do``, ``item``, ``tool``, ``actor`` and
    #: ``say`` (``bridge.app.commands.demo.load_scenario`` refuses any other key).
    ACT_KEYS = {
        "create_task": frozenset({"project", "title", "notes", "assignee", "section", "due_on"}),
        "edit": frozenset({"title", "notes"}),
        "assign": frozenset({"assignee"}),
        "unassign": frozenset(),
        "move": frozenset({"section"}),
        "comment": frozenset({"body"}),
        "complete": frozenset(),
        "uncomplete": frozenset(),
        "add_dependency": frozenset({"depends_on"}),
        "remove_dependency": frozenset({"depends_on"}),
        "set_due": frozenset({"due_on"}),
        "attach_url": frozenset({"url", "name"}),
        "expire_sync_tokens": frozenset(),
    }
    ACTS = frozenset(ACT_KEYS)
    ROLES = ("actor", "assignee")
    ITEM = re.compile(r"^\d+$")

    def __init__(self, clock: Callable[[], datetime], settings: dict, people: dict, bot: str):
        self.emu = AsanaEmulator(clock=clock)
        self.projects = [dict(p) for p in settings.get("projects", [])]
        self.people = people
        self.bot_name = bot
        self.bot = str(settings.get("bot", BOT_GID))
        self.poll_every = str(settings.get("poll_every", "1m"))

    def account(self, person: str) -> str:
        return str(self.people[person].get("accounts", {}).get("asana") or _gid_for(person))

    def person_of(self, gid: str) -> str:
        for name in self.people:
            if self.account(name) == gid:
                return name
        return gid

    def start(self) -> None:
        self.emu.start()
        self.emu.add_user(self.bot, self.bot_name)
        self.emu.add_token(TOKEN, self.bot)
        for name, p in self.people.items():
            self.emu.add_user(self.account(name), p.get("display_name", name), email=p.get("email") or None)
        for p in self.projects:
            kwargs = {"sections": p["sections"]} if p.get("sections") else {}
            self.emu.create_project(str(p["gid"]), p.get("name", str(p["gid"])), **kwargs)

    def connector_config(self) -> tuple[dict, dict[str, str]]:
        """``[connectors.asana]`` for the emulator, and the environment holding its token.

        ``poll_every`` is the ``[asana]`` table's (default ``"1m"``); the demo polls this tool
        at that pace.
        """
        section = {
            "base_url": self.emu.url + API_PREFIX,
            "token": {"env": "HB_DEMO_ASANA_TOKEN"},
            "projects": [str(p["gid"]) for p in self.projects],
            "poll_every": self.poll_every,
            "timeout": "5s",
            "requests_per_minute": 10000,
        }
        return section, {"HB_DEMO_ASANA_TOKEN": TOKEN}

    def apply(self, act: dict) -> str:
        """Perform one timeline act on the emulator; return its narration."""
        do, at, e = act["do"], act["at"], self.emu
        if do == "expire_sync_tokens":
            e.expire_sync_tokens()
            return act.get("say") or "Asana forgets every events sync token (the next poll gets a 412)"
        item = str(act["item"])
        actor = self.account(act["actor"])
        if do == "create_task":
            project = str(act.get("project") or self.projects[0]["gid"])
            e.create_task(project, actor, act.get("title", "untitled"), notes=act.get("notes", ""),
                          assignee=self.account(act["assignee"]) if act.get("assignee") else None,
                          section=act.get("section"), due_on=_day(act.get("due_on")), gid=item, at=at)
        elif do == "edit":
            if act.get("title") is None and act.get("notes") is None:
                raise ValueError("edit needs title and/or notes")
            if act.get("title") is not None:
                e.set_name(item, actor, str(act["title"]), at=at)
            if act.get("notes") is not None:
                e.set_notes(item, actor, str(act["notes"]), at=at)
        elif do == "assign":
            e.assign(item, actor, self.account(act["assignee"]), at=at)
        elif do == "unassign":
            e.assign(item, actor, None, at=at)
        elif do == "move":
            e.move_to_section(item, actor, act["section"], at=at)
        elif do == "comment":
            e.comment(item, actor, text=act["body"], at=at)
        elif do == "complete":
            e.complete(item, actor, at=at)
        elif do == "uncomplete":
            e.uncomplete(item, actor, at=at)
        elif do == "add_dependency":
            e.add_dependency(item, actor, str(act["depends_on"]), at=at)
        elif do == "remove_dependency":
            e.remove_dependency(item, actor, str(act["depends_on"]), at=at)
        elif do == "set_due":
            e.set_due(item, actor, _day(act.get("due_on")), at=at)
        elif do == "attach_url":
            e.add_attachment_url(item, actor, act["url"], act.get("name", act["url"]), at=at)
        return act.get("say") or narrate(act)

    def written(self) -> list[dict]:
        """What the bot wrote that stands now: ``{item, url, marker, body[, draft]}``."""
        out = []
        for p in self.projects:
            for gid in self.emu.task_gids(str(p["gid"])):
                task = self.emu.task(gid)
                for s in self.emu.stories(gid):
                    if s["resource_subtype"] == "comment_added" and (s.get("created_by") or {}).get("gid") == self.bot:
                        m = MARKER.search(s.get("text") or "")
                        out.append({"item": gid, "url": f"{task['permalink_url']}/{s['gid']}/f",
                                    "marker": m.group(0) if m else None, "body": s.get("text") or ""})
                for sub in self.emu.subtasks(gid):
                    st = self.emu.task(sub)
                    if (st.get("created_by") or {}).get("gid") == self.bot:
                        m = MARKER.search(st.get("notes") or "")
                        assignee = (st.get("assignee") or {}).get("gid")
                        out.append({"item": gid, "url": st["permalink_url"], "marker": m.group(0) if m else None,
                                    "body": f"{st['name']} (assigned to {self.person_of(assignee) if assignee else 'nobody'}, "
                                            f"due {st.get('due_at') or st.get('due_on')})\n{st.get('notes') or ''}",
                                    "draft": True})
        return out


def _day(value) -> str | None:
    """A scenario's ``due_on`` (a TOML date or ``YYYY-MM-DD`` text) as Asana's ``due_on`` text."""
    return None if value is None else str(value)


def narrate(act: dict) -> str:
    who, do, item = act.get("actor"), act["do"], act.get("item")
    return {
        "create_task": f"{who} creates task {item} \"{act.get('title', '')}\""
                       + (f" in \"{act['section']}\"" if act.get("section") else "")
                       + (f", assigned to {act['assignee']}" if act.get("assignee") else "")
                       + (f", due {act['due_on']}" if act.get("due_on") else ""),
        "edit": f"{who} edits {item}: "
                + "; ".join(([f"title \"{act['title']}\""] if act.get("title") is not None else [])
                            + ([f"notes \"{act['notes']}\""] if act.get("notes") is not None else [])),
        "assign": f"{who} assigns {item} to {act.get('assignee')}",
        "unassign": f"{who} unassigns {item}",
        "move": f"{who} moves {item} to \"{act.get('section')}\"",
        "comment": f"{who} comments on {item}: \"{act.get('body', '')}\"",
        "complete": f"{who} marks {item} complete",
        "uncomplete": f"{who} marks {item} incomplete",
        "add_dependency": f"{who} marks {item} as depending on {act.get('depends_on')}",
        "remove_dependency": f"{who} removes {item}'s dependency on {act.get('depends_on')}",
        "set_due": f"{who} sets {item} due {act.get('due_on')}",
        "attach_url": f"{who} attaches {act.get('url')} to {item}",
    }[do]


Stage = AsanaStage
