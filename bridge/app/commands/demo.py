"""Replay a scenario against the local emulators through the real ``Engine.cycle``.

A scenario (TOML, documented in docs/scenarios.md) names people, the containers of each tool
(``[github]``, ``[jira]``, ``[asana]``), rules, a timeline of vendor-level acts and the
findings and actions it expects. The demo starts one emulator per tool on loopback (each
through its ``Stage``, ``connectors/sandbox/<tool>/stage.py``; the sandbox is the optional
extra ``demo``), builds the daemon's config from the
scenario (validated by the same ``parse_config``), and steps a ``SteppingClock`` from
``start`` to ``end``: acts are applied to the emulators at their times, and a cycle runs at
every ``step``. What stands in the emulated trackers afterwards was written by the official
clients over HTTP.

Scenarios are the acceptance tests and the demo at once.
"""

from __future__ import annotations

import importlib
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import tomli_w

from bridge.core.businesstime import Duration
from bridge.core.clock import SteppingClock
from bridge.config import parse_config
from bridge.core.errors import ConfigError
from bridge.core.model import Account
from bridge.actions import OutboxStatus
from bridge.store import Store
from bridge.app.commands.report import status_json
from bridge.app.wiring import build_engine, close_connectors
from bridge.report.page import render_page
from bridge.report.report import build_report, summary_lines
from bridge.report.report import to_json as report_to_json

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TOOLS = ("github", "jira", "asana")
SCENARIO_KEYS = {"name", "description", "timezone", "start", "end", "step", "daemon_start", "repositories", "bot",
                 "defaults", "people", "templates", "rules", "daemon", "adoption", "timeline", "expect", "faults",
                 "nudging_from", "feedback", "teams", *TOOLS}
#: Keys of a scenario's ``[github]`` / ``[jira]`` / ``[asana]`` table passed on to ``[connectors.<tool>]``.
CONNECTOR_KEYS = frozenset({"backfill", "write_budget_per_hour"})
#: Keys every timeline act may carry; each stage's ``ACT_KEYS`` maps an act to the keys it adds.
COMMON_ACT_KEYS = frozenset({"at", "do", "item", "tool", "actor", "say"})
_WHEN = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)(?:\+(\d+)w)?|(\d{4}-\d{2}-\d{2}))\s+(\d{1,2}):(\d{2})$", re.I)


class Stage(Protocol):
    """One tool's emulator as the demo drives it (``connectors/sandbox/<tool>/stage.py``, class ``Stage``).

    Class attributes: ``tool``; ``ACTS`` (act names it performs); ``ACT_KEYS`` (act name → the
    keys it takes besides ``COMMON_ACT_KEYS``: any other key is refused); ``ROLES`` (act keys that
    name people); ``ITEM`` (regex of its item keys, routing an act without ``tool``).
    Built as ``Stage(clock, settings, people, bot)`` where ``settings`` is the scenario's
    ``[<tool>]`` table.
    """

    tool: str
    requests: int

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def add_fault(self, fault: dict) -> None: ...
    def connector_config(self) -> tuple[dict, dict[str, str]]: ...
    def apply(self, act: dict) -> str: ...
    def written(self) -> list[dict]: ...
    def person_of(self, account_id: str) -> str: ...


DEMO_EXTRA_HINT = ("the demo runs the emulators, which need the optional extra 'demo' (Flask): "
                   "pip install 'handoff-bridge[demo]' (from a checkout: pip install -e '.[demo]')")


def stage_class(tool: str) -> type:
    """The demo stage of ``tool`` (``connectors.sandbox.<tool>.stage``, imported on first use).

    Raises:
        ConfigError: Flask (the extra ``demo``) is not installed; the message names the extra.
    """
    try:
        return importlib.import_module(f"connectors.sandbox.{tool}.stage").Stage
    except ModuleNotFoundError as exc:
        if exc.name not in ("flask", "werkzeug"):
            raise
        raise ConfigError(DEMO_EXTRA_HINT) from exc


def bundled() -> dict[str, Path]:
    """Bundled scenario name → path (shipped inside the package)."""
    base = resources.files("bridge.app") / "scenarios"
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
    tools: dict[str, dict]
    bot: str
    config: dict
    acts: list[dict]
    expect_findings: list[dict]
    expect_actions: list[dict]
    faults: list[dict] = field(default_factory=list)
    source: str = ""
    #: Before this moment the daemon runs with ``[daemon] dry_run = true`` (it measures, records
    #: and writes nothing); from it on with the scenario's own ``[daemon]`` (nudging starts).
    nudging_from: datetime | None = None
    daemon_start: datetime | None = None  # the daemon's first cycle; acts before it are history


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
        daemon_start = parse_when(str(data["daemon_start"]), tz, start) if "daemon_start" in data else None
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{src}: start/end/step/daemon_start/timezone: {exc}") from None
    if daemon_start is not None and not start <= daemon_start <= end:
        raise ConfigError(f"{src}: daemon_start: {data['daemon_start']!r} is not between start and end")
    nudging_from = None
    if "nudging_from" in data:
        try:
            nudging_from = parse_when(str(data["nudging_from"]), tz, start)
        except ValueError as exc:
            problems.append(f"{src}: nudging_from: {exc}")
    people = data.get("people", {})
    tools = {t: dict(data[t]) for t in TOOLS if isinstance(data.get(t), dict)}
    if "repositories" in data:  # shorthand for [github] repositories = [...]
        tools.setdefault("github", {})["repositories"] = list(data["repositories"])
    if not tools:
        problems.append(f"{src}: no tool: give [github], [jira] or [asana] (or repositories = [...])")
    stages = {t: stage_class(t) for t in tools}
    acts = []
    for i, act in enumerate(data.get("timeline", [])):
        where = f"{src}: timeline[{i}]"
        try:
            at = parse_when(act["at"], tz, start)
        except (KeyError, ValueError) as exc:
            problems.append(f"{where}.at: {exc}")
            continue
        tool = act.get("tool") or next((t for t, st in stages.items() if st.ITEM.match(str(act.get("item", "")))), None)
        if tool not in stages:
            problems.append(f"{where}.item: {act.get('item')!r} belongs to none of the scenario's tools ({', '.join(stages) or 'none'})")
            continue
        stage = stages[tool]
        if act.get("do") not in stage.ACTS:
            problems.append(f"{where}.do: unknown {tool} act {act.get('do')!r} (expected one of {', '.join(sorted(stage.ACTS))})")
        else:
            allowed = COMMON_ACT_KEYS | stage.ACT_KEYS[act["do"]]
            problems += [f"{where}.{k}: unknown key for {tool} act {act['do']!r} (expected one of {', '.join(sorted(allowed))})"
                         for k in act if k not in allowed]
        for role in stage.ROLES:
            if role in act and act[role] is not None and act[role] not in people:
                problems.append(f"{where}.{role}: unknown person {act[role]!r}")
        acts.append({**act, "at": at, "index": i, "tool": tool})
    expect = data.get("expect", {})
    if problems:
        raise ConfigError(f"invalid scenario {src}", problems)
    config = {
        "defaults": data.get("defaults", {}),
        "people": people,
        "templates": data.get("templates", {}),
        "rules": data.get("rules", []),
        "daemon": data.get("daemon", {}),
        **({"adoption": data["adoption"]} if "adoption" in data else {}),
        **({"feedback": data["feedback"]} if "feedback" in data else {}),
        **({"teams": data["teams"]} if "teams" in data else {}),
    }
    return Scenario(
        name=data.get("name", path.stem),
        description=data.get("description", ""),
        tz=tz,
        start=start,
        end=end,
        step=step,
        tools=tools,
        bot=data.get("bot", "handoff-bridge-bot"),
        config=config,
        acts=sorted(acts, key=lambda a: (a["at"], a["index"])),
        expect_findings=expect.get("findings", []),
        expect_actions=expect.get("actions", []),
        faults=data.get("faults", []),
        source=src,
        nudging_from=nudging_from,
        daemon_start=daemon_start,
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
    report_lines: list[str] = field(default_factory=list)
    report_json: dict | None = None
    html_path: str | None = None

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
            "report": self.report_json,
            "html": self.html_path,
        }


class Demo:
    """Run one scenario. Use ``Demo(scenario).run()``; ``database`` defaults to a temp file;
    ``html``: where to write the report's HTML page at the end (default: not written)."""

    def __init__(self, scenario: Scenario, database: str | None = None, html: str | Path | None = None):
        self.s = scenario
        self.html = Path(html) if html else None  # where the report's page goes (None: not written)
        self.clock = SteppingClock(scenario.start)
        self.stages: dict[str, Stage] = {
            tool: stage_class(tool)(self.clock, settings, scenario.config["people"], scenario.bot)
            for tool, settings in scenario.tools.items()
        }
        self._tmp = None
        if database is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hb-demo-")
            database = f"sqlite:///{self._tmp.name}/state.db"
        self.database = database
        self.people = scenario.config["people"]

    def person_of(self, account: Account) -> str:
        stage = self.stages.get(account.tool)
        return stage.person_of(account.id) if stage else account.id

    def build_config(self, dry_run: bool = False):
        """The daemon's config for this scenario, through the real validator (``dry_run``: forced on)."""
        cfg = dict(self.s.config)
        cfg["daemon"] = {**cfg.get("daemon", {}), "database": self.database, "log_format": "json"}
        if dry_run:
            cfg["daemon"]["dry_run"] = True
        cfg["connectors"], environ = {}, {}
        for tool, stage in self.stages.items():
            section, env = stage.connector_config()
            # Connector keys a scenario may set in its [<tool>] table, as a team would in its config.
            section.update({k: v for k, v in self.s.tools[tool].items() if k in CONNECTOR_KEYS})
            cfg["connectors"][tool] = section
            environ.update(env)
        return parse_config(tomli_w.dumps(cfg), source=f"{self.s.source} (as config)", environ=environ)

    def run(self) -> DemoResult:
        """Replay the whole scenario; the emulators are stopped afterwards."""
        started = []
        try:
            for stage in self.stages.values():
                stage.start()
                started.append(stage)
            for fault in self.s.faults:
                self.stages[fault.get("tool", "github")].add_fault(fault)
            measuring = self.s.nudging_from is not None and self.s.start < self.s.nudging_from
            config = self.build_config(dry_run=measuring)
            store = Store.open(self.database)
            engine = build_engine(config, store, clock=self.clock)
            narration, findings, actions = [], {}, []
            acts = list(self.s.acts)
            cycles = 0
            t = self.s.start
            # A tool's [<tool>] poll_every (default: every step) spaces its polls, as the daemon's
            # one job per connector does: tools are then seen at different moments.
            every = {tool: Duration.parse(str(st.get("poll_every"))).wall() if st.get("poll_every") else self.s.step
                     for tool, st in self.s.tools.items()}
            last_poll: dict[str, datetime] = {}
            while t <= self.s.end:
                while acts and acts[0]["at"] <= t:
                    act = acts.pop(0)
                    self.clock.set(act["at"])
                    narration.append((act["at"], self.stages[act["tool"]].apply(act)))
                self.clock.set(t)
                if self.s.daemon_start is not None and t < self.s.daemon_start:
                    t = t + self.s.step  # history: the daemon is not running yet
                    continue
                if measuring and t >= self.s.nudging_from:  # nudging starts: the scenario's own [daemon]
                    measuring = False
                    close_connectors(engine.connectors)
                    config = self.build_config()
                    engine = build_engine(config, store, clock=self.clock)
                due = {tool for tool in self.stages if tool not in last_poll or t - last_poll[tool] >= every[tool]}
                last_poll.update({tool: t for tool in due})
                report = engine.cycle(only=due)
                cycles += 1
                for f in report.findings:
                    findings.setdefault(f.key, {
                        "rule": f.rule, "detect": f.detect, "item": f.item.key, "tool": f.item.tool,
                        "receiver": self.person_of(f.receiver), "at": f.at.isoformat(),
                        "seen_at": t.isoformat(), "summary": f.summary, "evidence": list(f.evidence),
                    })
                for d in report.deliveries:
                    if d.status in (OutboxStatus.DONE, OutboxStatus.DRY_RUN):
                        actions.append({"rule": d.rule, "do": d.do, "tool": d.tool, "item": d.item, "marker": d.marker,
                                        "url": d.url, "status": d.status, "at": t.isoformat()})
                t = t + self.s.step
            comments = self._standing_comments()
            report = build_report(config, store, self.clock(), compare_at=self.s.nudging_from)
            if self.html is not None:
                self.html.write_text(render_page(report, status_json(config, store, self.clock()),
                                                 title=f"handoff-bridge demo: {self.s.name}"), encoding="utf-8")
            close_connectors(engine.connectors)
            result = DemoResult(
                scenario=self.s,
                narration=narration,
                findings=list(findings.values()),
                actions=actions,
                comments=comments,
                expectations=self._check(list(findings.values()), actions),
                cycles=cycles,
                requests=sum(stage.requests for stage in self.stages.values()),
                report_lines=summary_lines(report),
                report_json=report_to_json(report),
                html_path=str(self.html) if self.html is not None else None,
            )
            store.engine.dispose()
            return result
        finally:
            for stage in started:
                stage.stop()
            if self._tmp is not None:
                self._tmp.cleanup()

    def _standing_comments(self) -> list[dict]:
        return [{**c, "tool": tool} for tool, stage in self.stages.items() for c in stage.written()]

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
        bodies = {c["marker"]: c["body"] for c in self._standing_comments() if c.get("marker")}
        for exp in self.s.expect_actions:
            want_at = parse_when(exp["at"], self.s.tz, self.s.start) if "at" in exp else None
            # ``says``: text the comment written must contain (e.g. a /hb reply's answer)
            hit = next((i for i, a in enumerate(actions) if i not in used_a and all(
                a.get(k) == v for k, v in exp.items() if k in ("rule", "item", "do", "tool", "status"))
                and (want_at is None or abs(self._local(a["at"]) - want_at) < self.s.step)
                and ("says" not in exp or exp["says"] in bodies.get(a["marker"], ""))), None)
            (missed if hit is None else met).append({"action": exp})
            if hit is not None:
                used_a.add(hit)
        unexpected = [{"finding": {k: f[k] for k in ("rule", "item", "receiver", "at")}} for i, f in enumerate(findings) if i not in used_f]
        unexpected += [{"action": {k: a[k] for k in ("rule", "do", "item", "at")}} for i, a in enumerate(actions) if i not in used_a]
        markers = [c["marker"] for c in self._standing_comments() if c["marker"]]
        for m in sorted({m for m in markers if markers.count(m) > 1}):
            unexpected.append({"duplicate": m, "count": markers.count(m)})
        return {"met": met, "missed": missed, "unexpected": unexpected}


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
        lines.append(f"  {c['tool']} {c['item']}  {c['url']}")
        lines += [f"      | {ln}" for ln in c["body"].splitlines() if ln.strip()]
    if not r.comments:
        lines.append("  none")
    e = r.expectations
    lines += ["", f"Expectations: {len(e['met'])} met, {len(e['missed'])} missed, {len(e['unexpected'])} unexpected"]
    lines += [f"  MISSED     {m}" for m in e["missed"]]
    lines += [f"  UNEXPECTED {u}" for u in e["unexpected"]]
    lines.append(f"({r.cycles} cycles, {r.requests} HTTP requests to the emulators)")
    lines += ["", "Report (handoff-bridge report):"]
    lines += [f"  {ln}" for ln in r.report_lines]
    if r.html_path:
        lines.append(f"  HTML page: {r.html_path}")
    return "\n".join(lines)
