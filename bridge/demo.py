"""Replay a scenario against the local emulator through the real ``Engine.cycle``.

A scenario (TOML, documented in docs/scenarios.md) names people, repositories, rules, a
timeline of vendor-level acts and the findings and actions it expects. The demo starts the
GitHub emulator on loopback, builds the daemon's config from the scenario (validated by the
same ``parse_config``), and steps a ``SteppingClock`` from ``start`` to ``end``: acts are
applied to the emulator at their times, and a cycle runs at every ``step``. The comments that
stand in the emulated tracker afterwards were posted by PyGithub over HTTP.

Scenarios are the acceptance tests and the demo at once.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import tomli_w

from bridge.businesstime import Duration
from bridge.clock import SteppingClock
from bridge.config import parse_config
from bridge.errors import ConfigError
from bridge.store import Store
from bridge.wiring import build_engine
from connectors.github.emulator import GitHubEmulator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ACTS = {
    "open_issue", "open_pull_request", "request_review", "remove_review_request", "review",
    "comment", "assign", "unassign", "label", "unlabel", "close", "reopen", "commit",
}
SCENARIO_KEYS = {"name", "description", "timezone", "start", "end", "step", "repositories", "bot",
                 "defaults", "people", "templates", "rules", "daemon", "timeline", "expect", "faults"}
DEMO_TOKEN = "hb-demo-token"
_WHEN = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)(?:\+(\d+)w)?|(\d{4}-\d{2}-\d{2}))\s+(\d{1,2}):(\d{2})$", re.I)


def bundled() -> dict[str, Path]:
    """Bundled scenario name → path (shipped inside the package)."""
    base = resources.files("bridge") / "scenarios"
    return {Path(p.name).stem: Path(str(p)) for p in base.iterdir() if p.name.endswith(".toml")}


def find_scenario(name_or_path: str) -> Path:
    """A bundled name or a file path.

    Raises:
        ConfigError: neither a bundled scenario nor a readable file.
    """
    if name_or_path in bundled():
        return bundled()[name_or_path]
    p = Path(name_or_path)
    if p.is_file():
        return p
    raise ConfigError(f"no scenario {name_or_path!r}: not a bundled name ({', '.join(sorted(bundled()))}) nor a file")


@dataclass
class Scenario:
    """A parsed scenario. Times are aware; ``acts`` are sorted by time."""

    name: str
    description: str
    tz: ZoneInfo
    start: datetime
    end: datetime
    step: timedelta
    repositories: list[str]
    bot: str
    config: dict
    acts: list[dict]
    expect_findings: list[dict]
    expect_actions: list[dict]
    faults: list[dict] = field(default_factory=list)
    source: str = ""


def parse_when(text: str, tz: ZoneInfo, week_of: datetime) -> datetime:
    """``"Mon 09:00"`` (the scenario's first week), ``"Mon+1w 09:00"``, or ``"2026-11-23 09:00"``; local to ``tz``.

    Raises:
        ValueError: not one of those forms.
    """
    m = _WHEN.match(text.strip())
    if not m:
        raise ValueError(f"bad time {text!r}: expected 'Mon 09:00', 'Mon+1w 09:00' or '2026-11-23 09:00'")
    day, weeks, date, hh, mm = m.groups()
    if date:
        base = datetime.fromisoformat(date)
    else:
        monday = (week_of - timedelta(days=week_of.weekday())).replace(tzinfo=None)
        base = monday + timedelta(days=DAYS.index(day.lower()) + 7 * int(weeks or 0))
    return base.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0, tzinfo=tz)


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file.

    Raises:
        ConfigError: unknown keys, bad times, unknown acts or people; names file and key.
    """
    src = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{src}: {exc}") from None
    problems = [f"{src}: {k}: unknown key" for k in data if k not in SCENARIO_KEYS]
    try:
        tz = ZoneInfo(data.get("timezone", "UTC"))
        start_day = datetime.fromisoformat(str(data["start"]).split(" ")[0])
        start = parse_when(str(data["start"]), tz, start_day)
        end = parse_when(str(data["end"]), tz, start_day)
        step = Duration.parse(data.get("step", "15m")).wall()
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{src}: start/end/step/timezone: {exc}") from None
    people = data.get("people", {})
    acts = []
    for i, act in enumerate(data.get("timeline", [])):
        where = f"{src}: timeline[{i}]"
        try:
            at = parse_when(act["at"], tz, start)
        except (KeyError, ValueError) as exc:
            problems.append(f"{where}.at: {exc}")
            continue
        if act.get("do") not in ACTS:
            problems.append(f"{where}.do: unknown act {act.get('do')!r} (expected one of {', '.join(sorted(ACTS))})")
        for role in ("actor", "reviewer", "assignee"):
            if role in act and act[role] not in people:
                problems.append(f"{where}.{role}: unknown person {act[role]!r}")
        acts.append({**act, "at": at, "index": i})
    expect = data.get("expect", {})
    if problems:
        raise ConfigError(f"invalid scenario {src}", problems)
    config = {
        "defaults": data.get("defaults", {}),
        "people": people,
        "templates": data.get("templates", {}),
        "rules": data.get("rules", []),
        "daemon": data.get("daemon", {}),
    }
    return Scenario(
        name=data.get("name", path.stem),
        description=data.get("description", ""),
        tz=tz,
        start=start,
        end=end,
        step=step,
        repositories=list(data.get("repositories", [])),
        bot=data.get("bot", "handoff-bridge-bot"),
        config=config,
        acts=sorted(acts, key=lambda a: (a["at"], a["index"])),
        expect_findings=expect.get("findings", []),
        expect_actions=expect.get("actions", []),
        faults=data.get("faults", []),
        source=src,
    )


@dataclass
class DemoResult:
    """Everything the demo saw, in the shape ``--json`` prints."""

    scenario: Scenario
    narration: list[tuple[datetime, str]]
    findings: list[dict]
    actions: list[dict]
    comments: list[dict]
    expectations: dict
    cycles: int
    requests: int

    @property
    def ok(self) -> bool:
        return not self.expectations["missed"] and not self.expectations["unexpected"]

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario.name,
            "findings": self.findings,
            "actions": self.actions,
            "comments": self.comments,
            "expectations": self.expectations,
            "cycles": self.cycles,
            "requests": self.requests,
        }


class Demo:
    """Run one scenario. Use ``Demo(scenario).run()``; ``database`` defaults to a temp file."""

    def __init__(self, scenario: Scenario, database: str | None = None):
        self.s = scenario
        self.clock = SteppingClock(scenario.start)
        self.emu = GitHubEmulator(clock=self.clock)
        self._tmp = None
        if database is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hb-demo-")
            database = f"sqlite:///{self._tmp.name}/state.db"
        self.database = database
        self.people = scenario.config["people"]

    def login(self, person: str) -> str:
        return self.people[person].get("accounts", {}).get("github", person)

    def person_of(self, login: str) -> str:
        for name, p in self.people.items():
            if p.get("accounts", {}).get("github", "").lower() == login.lower():
                return name
        return login

    def build_config(self):
        """The daemon's config for this scenario, through the real validator."""
        cfg = dict(self.s.config)
        cfg["daemon"] = {**cfg.get("daemon", {}), "database": self.database, "log_format": "json"}
        cfg["connectors"] = {
            "github": {
                "base_url": self.emu.url,
                "token": {"env": "HB_DEMO_GITHUB_TOKEN"},
                "repositories": self.s.repositories,
                "poll_every": "1m",
                "overlap": "2m",
                "timeout": "5s",
                "seconds_between_requests": 0,
                "seconds_between_writes": 0,
            }
        }
        return parse_config(tomli_w.dumps(cfg), source=f"{self.s.source} (as config)", environ={"HB_DEMO_GITHUB_TOKEN": DEMO_TOKEN})

    def apply(self, act: dict) -> str:
        """Perform one timeline act on the emulator; return its narration."""
        repo, _, num = act["item"].rpartition("#")
        n = int(num)
        actor = self.login(act["actor"])
        at = act["at"]
        do = act["do"]
        e = self.emu
        if do in ("open_issue", "open_pull_request"):
            e.open_issue(repo, actor, act.get("title", "untitled"), act.get("body", ""), pull_request=do == "open_pull_request", at=at, number=n)
            for a in act.get("assignees", []):
                e.assign(repo, n, actor, self.login(a), at=at)
        elif do == "request_review":
            e.request_review(repo, n, actor, self.login(act["reviewer"]), at=at)
        elif do == "remove_review_request":
            e.remove_review_request(repo, n, actor, self.login(act["reviewer"]), at=at)
        elif do == "review":
            e.submit_review(repo, n, actor, act.get("state", "APPROVED").upper(), act.get("body", ""), at=at)
        elif do == "comment":
            e.comment(repo, n, actor, act["body"], at=at)
        elif do == "assign":
            e.assign(repo, n, actor, self.login(act["assignee"]), at=at)
        elif do == "unassign":
            e.unassign(repo, n, actor, self.login(act["assignee"]), at=at)
        elif do == "label":
            e.add_label(repo, n, actor, act["label"], at=at)
        elif do == "unlabel":
            e.remove_label(repo, n, actor, act["label"], at=at)
        elif do == "close":
            e.close(repo, n, actor, at=at)
        elif do == "reopen":
            e.reopen(repo, n, actor, at=at)
        elif do == "commit":
            e.commit(repo, n, actor, act.get("message", "work"), at=at)
        return act.get("say") or _narrate(act)

    def run(self) -> DemoResult:
        """Replay the whole scenario; the emulator is stopped afterwards."""
        self.emu.start()
        try:
            self.emu.add_user(self.s.bot)
            self.emu.add_token(DEMO_TOKEN, self.s.bot)
            for repo in self.s.repositories:
                self.emu.create_repo(repo)
            for name in self.people:
                self.emu.add_user(self.login(name))
            for fault in self.s.faults:
                self.emu.faults.add(fault["method"], fault["path"], fault["kind"],
                                    **{k: v for k, v in fault.items() if k in ("status", "retry_after", "delay", "times")})
            config = self.build_config()
            store = Store.open(self.database)
            engine = build_engine(config, store, clock=self.clock)
            narration, findings, actions = [], {}, []
            acts = list(self.s.acts)
            cycles = 0
            t = self.s.start
            while t <= self.s.end:
                while acts and acts[0]["at"] <= t:
                    act = acts.pop(0)
                    self.clock.set(act["at"])
                    narration.append((act["at"], self.apply(act)))
                self.clock.set(t)
                report = engine.cycle()
                cycles += 1
                for f in report.findings:
                    findings.setdefault(f.key, {
                        "rule": f.rule, "detect": f.detect, "item": f.item.key, "tool": f.item.tool,
                        "receiver": self.person_of(f.receiver.id), "at": f.at.isoformat(),
                        "seen_at": t.isoformat(), "summary": f.summary, "evidence": list(f.evidence),
                    })
                for d in report.deliveries:
                    if d.status in ("done", "dry_run"):
                        actions.append({"rule": d.rule, "do": d.do, "tool": d.tool, "item": d.item, "marker": d.marker,
                                        "url": d.url, "status": d.status, "at": t.isoformat()})
                t = t + self.s.step
            comments = self._standing_comments()
            result = DemoResult(
                scenario=self.s,
                narration=narration,
                findings=list(findings.values()),
                actions=actions,
                comments=comments,
                expectations=self._check(list(findings.values()), actions),
                cycles=cycles,
                requests=len(self.emu.requests),
            )
            store.engine.dispose()
            return result
        finally:
            self.emu.stop()
            if self._tmp is not None:
                self._tmp.cleanup()

    def _standing_comments(self) -> list[dict]:
        out = []
        for repo in self.s.repositories:
            for number in self.emu.numbers(repo):
                for c in self.emu.comments(repo, number):
                    if c["user"]["login"] == self.s.bot:
                        m = re.search(r"hb:[0-9a-f]{12}", c.get("body") or "")
                        out.append({"item": f"{repo}#{number}", "url": c["html_url"], "marker": m.group(0) if m else None,
                                    "body": c["body"]})
                issue = self.emu.issue(repo, number)
                if issue["user"]["login"] == self.s.bot:
                    m = re.search(r"hb:[0-9a-f]{12}", issue.get("body") or "")
                    out.append({"item": f"{repo}#{number}", "url": issue["html_url"], "marker": m.group(0) if m else None,
                                "body": issue["body"], "draft": True})
        return out

    def _local(self, iso: str) -> datetime:
        return datetime.fromisoformat(iso).astimezone(self.s.tz)

    def _check(self, findings: list[dict], actions: list[dict]) -> dict:
        met, missed = [], []
        used_f, used_a = set(), set()
        for exp in self.s.expect_findings:
            hit = next((i for i, f in enumerate(findings) if i not in used_f and all(
                f.get(k) == v for k, v in exp.items() if k in ("rule", "item", "receiver", "detect"))), None)
            (missed if hit is None else met).append({"finding": exp})
            if hit is not None:
                used_f.add(hit)
        for exp in self.s.expect_actions:
            want_at = parse_when(exp["at"], self.s.tz, self.s.start) if "at" in exp else None
            hit = next((i for i, a in enumerate(actions) if i not in used_a and all(
                a.get(k) == v for k, v in exp.items() if k in ("rule", "item", "do", "tool"))
                and (want_at is None or abs(self._local(a["at"]) - want_at) < self.s.step)), None)
            (missed if hit is None else met).append({"action": exp})
            if hit is not None:
                used_a.add(hit)
        unexpected = [{"finding": {k: f[k] for k in ("rule", "item", "receiver", "at")}} for i, f in enumerate(findings) if i not in used_f]
        unexpected += [{"action": {k: a[k] for k in ("rule", "do", "item", "at")}} for i, a in enumerate(actions) if i not in used_a]
        markers = [c["marker"] for c in self._standing_comments() if c["marker"]]
        for m in sorted({m for m in markers if markers.count(m) > 1}):
            unexpected.append({"duplicate": m, "count": markers.count(m)})
        return {"met": met, "missed": missed, "unexpected": unexpected}


def _narrate(act: dict) -> str:
    who, do, item = act["actor"], act["do"], act["item"]
    return {
        "open_issue": f"{who} opens issue {item} \"{act.get('title', '')}\"",
        "open_pull_request": f"{who} opens pull request {item} \"{act.get('title', '')}\"",
        "request_review": f"{who} requests {act.get('reviewer')}'s review on {item}",
        "remove_review_request": f"{who} withdraws the review request to {act.get('reviewer')} on {item}",
        "review": f"{who} reviews {item}: {act.get('state', 'APPROVED').lower()}",
        "comment": f"{who} comments on {item}: \"{act.get('body', '')}\"",
        "assign": f"{who} assigns {item} to {act.get('assignee')}",
        "unassign": f"{who} unassigns {act.get('assignee')} from {item}",
        "label": f"{who} labels {item} \"{act.get('label')}\"",
        "unlabel": f"{who} removes label \"{act.get('label')}\" from {item}",
        "close": f"{who} closes {item}",
        "reopen": f"{who} reopens {item}",
        "commit": f"{who} pushes a commit to {item}",
    }[do]


def render_text(r: DemoResult) -> str:
    """The human report: timeline, findings, actions, comments standing, expectations."""
    tz = r.scenario.tz

    def local(x) -> str:
        d = datetime.fromisoformat(x) if isinstance(x, str) else x
        return d.astimezone(tz).strftime("%a %d %b %H:%M %Z")

    lines = [f"Scenario: {r.scenario.name}", f"  {r.scenario.description}".rstrip(), "", "Timeline:"]
    lines += [f"  {local(at)}  {text}" for at, text in r.narration]
    lines += ["", f"Findings ({len(r.findings)}):"]
    lines += [f"  {local(f['at'])}  {f['rule']}  {f['item']}  receiver {f['receiver']}\n      {f['summary']}" for f in r.findings] or ["  none"]
    lines += ["", f"Actions ({len(r.actions)}):"]
    lines += [f"  {local(a['at'])}  {a['do']:<8} {a['item']}  {a['marker']}  {a['status']}  {a['url'] or ''}" for a in r.actions] or ["  none"]
    lines += ["", f"Written by the daemon, now standing in the emulated tracker ({len(r.comments)}):"]
    for c in r.comments:
        lines.append(f"  {c['item']}  {c['url']}")
        lines += [f"      | {ln}" for ln in c["body"].splitlines() if ln.strip()]
    if not r.comments:
        lines.append("  none")
    e = r.expectations
    lines += ["", f"Expectations: {len(e['met'])} met, {len(e['missed'])} missed, {len(e['unexpected'])} unexpected"]
    lines += [f"  MISSED     {m}" for m in e["missed"]]
    lines += [f"  UNEXPECTED {u}" for u in e["unexpected"]]
    lines.append(f"({r.cycles} cycles, {r.requests} HTTP requests to the emulator)")
    return "\n".join(lines)
