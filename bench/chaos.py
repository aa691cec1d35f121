"""Chaos run: the real ``handoff-bridge run`` process against the three emulators, under faults and kill -9.

The harness process serves the GitHub, Jira and Asana emulators (``connectors/sandbox/<tool>/``,
through their demo stages) on loopback, writes a config TOML and a SQLite store URL into a temp
dir, and starts ``python -m bridge run --config <toml>`` as a child process in real time
(``poll_every = "1s"``, client ``timeout = "2s"``, every day 00:00-23:59 UTC, one rule
``within = "1m"`` with a comment at the deadline and a draft 20 s later).

The world: ``--items`` items split over the three tools (GitHub pull requests, Jira issues,
Asana tasks), opened before the daemon starts. During the first ~45 % of the fault phase each
item gets its handoff (GitHub ``review_requested``, Jira/Asana ``assigned``) from ``ana`` to one
of three receivers; one item in five is acknowledged (a comment by the receiver) 40-55 s later,
i.e. 5-20 s before its 60 s deadline; the others are never acknowledged.

The fault phase (``--fault-seconds``) injects ``--faults`` faults at uniformly random moments,
each on one tool, on its reads (75 %) or writes (25 %): 429 with ``Retry-After: 1``, a 5xx,
a response slower than the client timeout (3 s), or a lost response (the request applies, the
connection drops). ``--kills`` times it ``kill -9``s the daemon and restarts it at once; every
other kill waits (up to 30 s) for the next write to reach an emulator's request log and kills
within ~5 ms of it, often before the daemon has read the answer. Then ``--quiet-seconds`` without faults, then SIGTERM.

Figures (printed as a table, or one JSON document with ``--json``):

- ``duplicates``: markers (``hb:<12 hex>``) standing in more than one written object
  (comments, GitHub/Jira draft issues, Asana subtasks by the bot); ``extra_copies`` counts the
  surplus objects;
- ``nudged_after_ack``: bot writes about an acknowledged item (located through the store's
  outbox marker -> finding -> item, else where they stand) created after the acknowledgement;
- ``overdue_never_nudged``: unacknowledged items whose handoff is past due with no bot
  comment on them at the end;
- ``missing_facts``: harness acts (handoff, acknowledgement) with no matching event
  (tool, item, kind, actor) in the store's ``events`` table;
- ``tracebacks``: ``Traceback (most recent call last)`` occurrences in the daemon's stdout and
  stderr (all incarnations);
- ``delay_s``: event-to-store delay of the harness acts (``stored_at - at``), median and max;
- ``wall_s``; plus faults injected / hit, kills, writes, restarts and warning counts.

Exit status: 0 when every invariant holds (no duplicate, no write after an acknowledgement, no
overdue handoff un-nudged, no missing fact, no traceback), 1 otherwise, 2 on a harness error
(the daemon could not be started at all).

Usage (from the repository root)::

    .venv/bin/python bench/chaos.py [--items 150] [--faults 200] [--kills 5] [--seed 1]
                                    [--fault-seconds 120] [--quiet-seconds 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from connectors.sandbox.asana.stage import AsanaStage  # noqa: E402
from connectors.sandbox.github.stage import GitHubStage  # noqa: E402
from connectors.sandbox.jira.stage import JiraStage  # noqa: E402

MARKER = re.compile(r"hb:[0-9a-f]{12}")
BOT = "handoff-bridge-bot"
RECEIVERS = ("ben", "cy", "dee")
ASANA_PROJECT = "1300000000000001"
WITHIN_S = 60
TIMEOUT_S = 2
SLOW_S = 3.0
TRACEBACK = "Traceback (most recent call last)"


def now() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from a datetime or a vendor/SQLite timestamp (naive = UTC)."""
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


PEOPLE = {
    "ana": {"display_name": "Ana Lima", "accounts": {"github": "ana-l", "jira": "5b10a2844c20165700ede21a",
                                                     "asana": "1201000000000001"}},
    "ben": {"display_name": "Ben Ortiz", "accounts": {"github": "ben-o", "jira": "5b10a2844c20165700ede21b",
                                                      "asana": "1201000000000002"}},
    "cy": {"display_name": "Cy Park", "accounts": {"github": "cy-p", "jira": "5b10a2844c20165700ede21c",
                                                   "asana": "1201000000000003"}},
    "dee": {"display_name": "Dee Roy", "accounts": {"github": "dee-r", "jira": "5b10a2844c20165700ede21d",
                                                    "asana": "1201000000000004"}},
}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def config_toml(db: Path, sections: dict[str, dict]) -> str:
    """The daemon's config: all-day schedule, the people, the three connectors, one rule."""
    lines = ["[daemon]", f"database = {toml_value('sqlite:///' + str(db))}", 'log_format = "json"', "",
             "[defaults]", 'timezone = "UTC"',
             'working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
             'working_hours = "00:00-23:59"', ""]
    for name, p in PEOPLE.items():
        lines += [f"[people.{name}]", f"display_name = {toml_value(p['display_name'])}",
                  f"accounts = {toml_value(p['accounts'])}", ""]
    for tool, section in sections.items():
        lines.append(f"[connectors.{tool}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in section.items()]
        lines.append("")
    lines += ["[[rules]]", 'name = "not-picked-up"', 'detect = "handoff"', 'on = ["review_requested", "assigned"]',
              f'within = "{WITHIN_S}s"', 'need = "look"', 'next = "done"',
              'steps = [{ after = "0h", do = "comment", template = "nudge" }, { after = "20s", do = "draft" }]', ""]
    return "\n".join(lines)


class HarnessError(RuntimeError):
    """The run could not be carried out (the daemon does not stay up at all)."""


@dataclass
class Item:
    tool: str
    key: str            # the store's item key: owner/name#N, WEB-N, task gid
    receiver: str       # person
    handoff_at: float   # seconds into the run
    ack_at: float | None
    handoff_time: datetime | None = None
    ack_time: datetime | None = None


@dataclass
class Daemon:
    """Every incarnation of ``handoff-bridge run``; logs appended to one file per stream."""

    config: Path
    env: dict
    workdir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    kills: list = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        out = open(self.workdir / "daemon.stdout", "a")
        err = open(self.workdir / "daemon.stderr", "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "run", "--config", str(self.config)],
                                     stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=self.env, cwd=REPO)
        out.close()
        err.close()

    def kill9(self, why: str) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.kills.append(why)

    def restart_if_exited(self) -> None:
        """Start the daemon again if it exited on its own; after 5 such exits raise ``HarnessError``."""
        if self.proc is not None and self.proc.poll() is not None:
            self.kills.append(f"exited by itself ({self.proc.returncode})")
            if sum(1 for k in self.kills if k.startswith("exited")) > 5:
                raise HarnessError(f"the daemon keeps exiting by itself:\n{self.text()[-3000:]}")
            self.start()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def text(self) -> str:
        return "".join((self.workdir / f"daemon.{s}").read_text(errors="replace")
                       for s in ("stdout", "stderr") if (self.workdir / f"daemon.{s}").exists())


class World:
    """The three emulators (through their demo stages) and the items the harness drives."""

    def __init__(self, n_items: int, rng: random.Random, handoff_window: float) -> None:
        people = {k: dict(v) for k, v in PEOPLE.items()}
        self.github = GitHubStage(now, {"repositories": ["acme/web"], "poll_every": "1s"}, people, BOT)
        self.jira = JiraStage(now, {"projects": ["WEB"], "poll_every": "1s", "bot": "5b10a2844c20165700ede2bb"},
                              people, BOT)
        self.asana = AsanaStage(now, {"projects": [{"gid": ASANA_PROJECT, "name": "Deals"}], "poll_every": "1s"},
                                people, BOT)
        self.stages = {"github": self.github, "jira": self.jira, "asana": self.asana}
        for s in self.stages.values():
            s.start()
        self.items: list[Item] = []
        self._seen: dict[str, int] = {}
        self.writes_served = 0
        tools = ("github", "jira", "asana")
        for i in range(n_items):
            tool = tools[i % 3]
            receiver = RECEIVERS[i % len(RECEIVERS)]
            at = rng.uniform(1.0, handoff_window)
            ack = at + rng.uniform(WITHIN_S - 20, WITHIN_S - 5) if i % 5 == 4 else None
            n = i // 3 + 1
            if tool == "github":
                self.github.emu.open_issue("acme/web", "ana-l", f"Change {n}", pull_request=True, number=n)
                key = f"acme/web#{n}"
            elif tool == "jira":
                key = self.jira.emu.create_issue("WEB", self.jira.account("ana"), f"Ticket {n}", key=f"WEB-{n}")
            else:
                key = self.asana.emu.create_task(ASANA_PROJECT, self.asana.account("ana"), f"Task {n}",
                                                 gid=str(1400000000000000 + n))
            self.items.append(Item(tool, key, receiver, at, ack))

    def sections(self) -> tuple[dict, dict]:
        sections, env = {}, {}
        for tool, stage in self.stages.items():
            section, e = stage.connector_config()
            section["poll_every"] = "1s"
            section["timeout"] = f"{TIMEOUT_S}s"
            section["write_budget_per_hour"] = 100000
            sections[tool] = section
            env.update(e)
        return sections, env

    def handoff(self, item: Item) -> None:
        item.handoff_time = now()
        recv = self.stages[item.tool].account(item.receiver)
        ana = self.stages[item.tool].account("ana")
        if item.tool == "github":
            repo, _, n = item.key.rpartition("#")
            self.github.emu.request_review(repo, int(n), ana, recv)
        elif item.tool == "jira":
            self.jira.emu.assign(item.key, ana, recv)
        else:
            self.asana.emu.assign(item.key, ana, recv)

    def acknowledge(self, item: Item) -> None:
        item.ack_time = now()
        recv = self.stages[item.tool].account(item.receiver)
        text = "On it, looking now."
        if item.tool == "github":
            repo, _, n = item.key.rpartition("#")
            self.github.emu.comment(repo, int(n), recv, text)
        elif item.tool == "jira":
            self.jira.emu.comment(item.key, recv, text)
        else:
            self.asana.emu.comment(item.key, recv, text=text)

    def new_writes(self) -> list[tuple[str, str, int]]:
        """Non-GET requests served since the last call, all tools (the write-then-kill trigger)."""
        out = []
        for tool, s in self.stages.items():
            served = s.emu.requests[self._seen.get(tool, 0):]
            self._seen[tool] = self._seen.get(tool, 0) + len(served)
            out += [(tool, p, st) for m, p, st in served if m != "GET" and "/search" not in p]
        self.writes_served += len(out)
        return out

    def bot_writes(self) -> list[dict]:
        """What the bot wrote that stands now: ``{tool, where, marker, at}`` (where = item key it stands on)."""
        out = []
        gh, jr, asn = self.github.emu, self.jira.emu, self.asana.emu
        for number in gh.numbers("acme/web"):
            key = f"acme/web#{number}"
            for c in gh.comments("acme/web", number):
                if c["user"]["login"] == BOT:
                    out.append({"tool": "github", "where": key, "marker": _marker(c.get("body")), "at": parse_time(c["created_at"])})
            issue = gh.issue("acme/web", number)
            if issue["user"]["login"] == BOT:
                out.append({"tool": "github", "where": key, "marker": _marker(issue.get("body")),
                            "at": parse_time(issue["created_at"]), "draft": True})
        for key in jr.issue_keys("WEB"):
            for c in jr.comments(key):
                if c["author"] == self.jira.bot:
                    out.append({"tool": "jira", "where": key, "marker": _marker(c["body"]), "at": parse_time(c["created"])})
            f = jr.issue(key)["fields"]
            if ((f.get("reporter") or {}).get("accountId")) == self.jira.bot:
                out.append({"tool": "jira", "where": key, "marker": _marker(f.get("description")),
                            "at": parse_time(f["created"]), "draft": True})
        for gid in asn.task_gids(ASANA_PROJECT):
            for s in asn.stories(gid):
                if s["resource_subtype"] == "comment_added" and (s.get("created_by") or {}).get("gid") == self.asana.bot:
                    out.append({"tool": "asana", "where": gid, "marker": _marker(s.get("text")), "at": parse_time(s["created_at"])})
            for sub in asn.subtasks(gid):
                st = asn.task(sub)
                if (st.get("created_by") or {}).get("gid") == self.asana.bot:
                    out.append({"tool": "asana", "where": gid, "marker": _marker(st.get("notes")),
                                "at": parse_time(st["created_at"]), "draft": True})
        return out

    def stop(self) -> None:
        for s in self.stages.values():
            s.stop()


def _marker(text: str | None) -> str | None:
    m = MARKER.search(text or "")
    return m.group(0) if m else None


# Fault targets per tool: (method, path regex) for reads and for writes.
READS = {  # the polls carry most; the marker lookups (comment reads) a share
    "github": [("GET", r"^/repos/acme/web/issues$")] * 3 + [("GET", r"/issues/\d+/timeline$")] * 2
              + [("GET", r"/issues/\d+/comments$")],
    "jira": [("*", r"/search/jql")] * 5 + [("GET", r"/issue/[A-Z]+-\d+/comment$")],
    "asana": [("GET", r"/events$")] * 2 + [("GET", r"/tasks/\d+/stories$")] * 2 + [("GET", r"/tasks$")],
}
WRITES = {
    "github": [("POST", r"/issues/\d+/comments$"), ("POST", r"^/repos/acme/web/issues$")],
    "jira": [("POST", r"/issue/[A-Z]+-\d+/comment$"), ("POST", r"/rest/api/\d/issue$"), ("POST", r"/issueLink$")],
    "asana": [("POST", r"/tasks/\d+/stories$"), ("POST", r"/tasks/\d+/subtasks$")],
}
KINDS = ("429", "5xx", "slow", "lost")


def inject(world: World, rng: random.Random) -> dict:
    tool = rng.choice(("github", "jira", "asana"))
    write = rng.random() < 0.25
    method, path = rng.choice((WRITES if write else READS)[tool])
    kind = rng.choice(KINDS)
    faults = world.stages[tool].emu.faults
    if kind == "429":
        faults.add(method, path, "status", status=429, retry_after=1)
    elif kind == "5xx":
        faults.add(method, path, "status", status=rng.choice((500, 502, 503)))
    elif kind == "slow":
        faults.add(method, path, "slow", delay=SLOW_S)
    else:
        faults.add(method, path, "lost_response")
    return {"tool": tool, "write": write, "kind": kind}


def run(items: int = 150, faults: int = 200, kills: int = 5, seed: int = 1, fault_seconds: float = 120.0,
        quiet_seconds: float = 60.0, keep: bool = False) -> dict:
    """Run one chaos session; return the report (see the module docstring for its keys)."""
    rng = random.Random(seed)
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hb-chaos-"))
    handoff_window = max(5.0, min(fault_seconds * 0.45, fault_seconds - 60))  # acks land inside the fault phase
    world = World(items, rng, handoff_window)
    try:
        sections, env_extra = world.sections()
        config = workdir / "config.toml"
        db = workdir / "state.db"
        config.write_text(config_toml(db, sections))
        env = {k: v for k, v in os.environ.items()
               if k not in ("WATCHDOG_PID", "WATCHDOG_USEC", "NOTIFY_SOCKET", "HANDOFF_BRIDGE_CONFIG")}
        env.update(env_extra, PYTHONUNBUFFERED="1")
        daemon = Daemon(config, env, workdir)
        daemon.start()
        start = time.monotonic()
        start_time = now()

        # the schedule: (second into the run, what)
        plan: list[tuple[float, str, Any]] = []
        for it in world.items:
            plan.append((it.handoff_at, "handoff", it))
            if it.ack_at is not None:
                plan.append((it.ack_at, "ack", it))
        plan += [(rng.uniform(0.5, fault_seconds), "fault", None) for _ in range(faults)]
        plan += [(rng.uniform(3.0, fault_seconds), "kill", i % 2 == 0) for i in range(kills)]
        plan.sort(key=lambda p: p[0])
        injected: list[dict] = []
        pending_kill_after_write: list[float] = []  # deadlines of armed write-kills
        world.new_writes()

        i = 0
        while i < len(plan) or pending_kill_after_write:
            elapsed = time.monotonic() - start
            writes = world.new_writes()
            if pending_kill_after_write and (writes or elapsed > pending_kill_after_write[0]):
                why = f"after write {writes[-1][0]} {writes[-1][1]}" if writes else "after-write timed out"
                daemon.kill9(why)
                daemon.start()
                pending_kill_after_write.pop(0)
            daemon.restart_if_exited()
            while i < len(plan) and plan[i][0] <= elapsed:
                _, what, arg = plan[i]
                i += 1
                if what == "handoff":
                    world.handoff(arg)
                elif what == "ack":
                    world.acknowledge(arg)
                elif what == "fault":
                    injected.append(inject(world, rng))
                elif what == "kill":
                    if arg:
                        pending_kill_after_write.append(elapsed + 30.0)
                    else:
                        daemon.kill9("at a random moment")
                        daemon.start()
            time.sleep(0.005)

        # Quiet period: no faults left, the daemon runs undisturbed.
        while time.monotonic() - start < fault_seconds:
            time.sleep(0.05)
        left = sum(len(s.emu.faults) for s in world.stages.values())
        left_by_target: dict[str, int] = {}
        for tool, s in world.stages.items():
            for f in s.emu.faults.pending():
                k = f"{tool} {f.method} {f.pattern.pattern}"
                left_by_target[k] = left_by_target.get(k, 0) + 1
        for s in world.stages.values():
            s.emu.faults.clear()
        quiet_from = time.monotonic()
        while time.monotonic() - quiet_from < quiet_seconds:
            daemon.restart_if_exited()
            time.sleep(0.1)
        rc = daemon.stop()
        report = measure(world, db, daemon, start_time)
        report.update(
            items=items, seed=seed, fault_seconds=fault_seconds, quiet_seconds=quiet_seconds,
            faults_injected=len(injected), faults_hit=len(injected) - left,
            faults_by_kind={k: sum(1 for f in injected if f["kind"] == k) for k in KINDS},
            faults_left=left_by_target, faults_on_writes=sum(1 for f in injected if f["write"]),
            kills=len([k for k in daemon.kills if not k.startswith("exited")]),
            kills_after_write=len([k for k in daemon.kills if k.startswith("after write")]),
            exited_by_itself=len([k for k in daemon.kills if k.startswith("exited")]),
            daemon_starts=daemon.starts, final_exit=rc, wall_s=round(time.monotonic() - t0, 1),
            workdir=str(workdir) if keep else None,
        )
        report["broken"] = broken(report)
        return report
    finally:
        world.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(world: World, db: Path, daemon: Daemon, start_time: datetime) -> dict:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        events = con.execute("SELECT item_tool, item_key, kind, actor, at, stored_at FROM events").fetchall()
        marker_item = dict(con.execute(
            "SELECT o.marker, f.item_tool || ' ' || f.item_key FROM outbox o JOIN findings f ON f.key = o.finding_key"
        ).fetchall())
        outbox = dict(con.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    finally:
        con.close()

    written = world.bot_writes()
    per_marker: dict[str, int] = {}
    for w in written:
        if w["marker"]:
            per_marker[w["marker"]] = per_marker.get(w["marker"], 0) + 1
    dups = {m: n for m, n in per_marker.items() if n > 1}

    by_key = {(it.tool, it.key): it for it in world.items}
    after_ack = []
    for w in written:
        where = marker_item.get(w["marker"] or "", f"{w['tool']} {w['where']}")
        it = by_key.get(tuple(where.split(" ", 1)))
        if it and it.ack_time and w["at"] > it.ack_time:
            after_ack.append({"item": f"{it.tool} {it.key}", "marker": w["marker"], "draft": bool(w.get("draft")),
                              "after_ack_s": round((w["at"] - it.ack_time).total_seconds(), 1)})
    commented = {(w["tool"], w["where"]) for w in written if not w.get("draft")}
    never = [f"{it.tool} {it.key}" for it in world.items
             if it.ack_time is None and it.handoff_time and (it.tool, it.key) not in commented]

    stored: dict[tuple, list] = {}
    for tool, key, kind, actor, at, stored_at in events:
        stored.setdefault((tool, key, kind, actor), []).append((parse_time(at), parse_time(stored_at)))
    missing, delays = [], []
    for it in world.items:
        stage = world.stages[it.tool]
        facts = [("review_requested" if it.tool == "github" else "assigned", stage.account("ana"), it.handoff_time)]
        if it.ack_time:
            facts.append(("commented", stage.account(it.receiver), it.ack_time))
        for kind, actor, when in facts:
            if when is None:
                continue
            rows = stored.get((it.tool, it.key, kind, f"{it.tool}:{actor}"), [])
            if not rows:
                missing.append(f"{it.tool} {it.key} {kind} by {actor}")
            else:
                delays.append(min((s - when).total_seconds() for _a, s in rows))
    text = daemon.text()
    return {
        "written": len(written), "markers": len(per_marker), "duplicates": len(dups),
        "extra_copies": sum(n - 1 for n in dups.values()), "duplicate_markers": sorted(dups),
        "nudged_after_ack": len(after_ack), "after_ack": after_ack,
        "acknowledged": sum(1 for it in world.items if it.ack_time),
        "overdue_never_nudged": len(never), "never_nudged": never,
        "missing_facts": len(missing), "missing": missing, "facts": len(delays) + len(missing),
        "tracebacks": text.count(TRACEBACK),
        "delay_s": {"median": round(statistics.median(delays), 1) if delays else None,
                    "max": round(max(delays), 1) if delays else None},
        "outbox": outbox,
        "requests": {t: len(s.emu.requests) for t, s in world.stages.items()},
        "writes_served": world.writes_served + len(world.new_writes()),
        "log_max_instances_warnings": text.count("maximum number of running instances"),
        "log_action_unknown": text.count('"action_unknown"'),
    }


def broken(report: dict) -> list[str]:
    """The invariants that do not hold, as sentences (empty = all hold)."""
    out = []
    if report["duplicates"]:
        out.append(f"{report['duplicates']} markers written more than once ({report['extra_copies']} extra copies)")
    if report["nudged_after_ack"]:
        out.append(f"{report['nudged_after_ack']} writes on acknowledged items after the acknowledgement")
    if report["overdue_never_nudged"]:
        out.append(f"{report['overdue_never_nudged']} overdue handoffs never nudged")
    if report["missing_facts"]:
        out.append(f"{report['missing_facts']} facts in the emulators missing from the store")
    if report["tracebacks"]:
        out.append(f"{report['tracebacks']} tracebacks in the daemon's log")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--faults", type=int, default=200)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault-seconds", type=float, default=120.0, help="length of the fault phase (s)")
    ap.add_argument("--quiet-seconds", type=float, default=60.0, help="quiet period after the faults (s)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, store, daemon logs)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    a = ap.parse_args(argv)
    try:
        report = run(a.items, a.faults, a.kills, a.seed, a.fault_seconds, a.quiet_seconds, a.keep)
    except HarnessError as e:
        print(f"chaos: harness error: {e}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(f"chaos: {report['items']} items, {report['faults_injected']} faults injected "
              f"({report['faults_hit']} hit, {report['faults_on_writes']} on writes, {report['faults_by_kind']}), "
              f"{report['kills']} kill -9 ({report['kills_after_write']} right after a write), seed {report['seed']}")
        rows = [("markers written", report["markers"]), ("objects written", report["written"]),
                ("duplicates (markers > 1)", f"{report['duplicates']} ({report['extra_copies']} extra)"),
                ("nudged after ack", f"{report['nudged_after_ack']} writes ({report['acknowledged']} items acknowledged)"),
                ("overdue never nudged", report["overdue_never_nudged"]),
                ("facts missing from store", f"{report['missing_facts']} of {report['facts']}"),
                ("tracebacks in log", report["tracebacks"]),
                ("event-to-store delay s", f"median {report['delay_s']['median']}, max {report['delay_s']['max']}"),
                ("outbox", report["outbox"]),
                ("'max running instances' warnings", report["log_max_instances_warnings"]),
                ("action_unknown log lines", report["log_action_unknown"]),
                ("wall s", report["wall_s"])]
        for k, v in rows:
            print(f"  {k:34} {v}")
        for b in report["broken"]:
            print(f"BROKEN: {b}")
        if report["workdir"]:
            print(f"kept: {report['workdir']}")
    return 1 if report["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
