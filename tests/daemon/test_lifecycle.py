"""Start, reload and stop under faults: the real ``handoff-bridge run`` / ``once`` process.

Same harness as ``test_daemon.py`` (a fake systemd notify socket, the emulators on loopback
served by the test process, real signals, real time); here with several connectors, a
tracker that is down or refuses the token, slow responses, and many reloads.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.sandbox.asana.emulator import AsanaEmulator
from connectors.sandbox.asana.routes import API_PREFIX
from connectors.sandbox.jira.emulator import JiraEmulator
from tests.daemon.test_daemon import BOT, REPO, TOKEN, Daemon, NotifyListener, issue_polls, wait_for

JIRA_TOKEN = "jira-lifecycle-token-Qm82Lx"
ASANA_TOKEN = "1/asana-lifecycle-token-Vb61"
ASANA_BOT = "1201000000000999"
PROJECT = "1201000000000100"

pytestmark = [pytest.mark.slow]


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_text(db: Path, *, github: str | None = None, jira: str | None = None, asana: str | None = None,
                github_timeout: str = "10s", poll_every: str = "1s", extra_rules: int = 0,
                log_level: str = "info") -> str:
    parts = [f'[daemon]\ndatabase = "sqlite:///{db}"\nlog_format = "json"\nlog_level = "{log_level}"\n',
'[adoption]\ngrace = "0h"\n',  # the reviews were asked days ago: adopted, nudged at once
             '[defaults]\ntimezone = "UTC"\nworking_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
             'working_hours = "00:00-23:59"\n',
             '[people.ben]\ndisplay_name = "Ben Ortiz"\naccounts = { github = "ben-o" }\n']
    if github:
        parts.append(f'[connectors.github]\nbase_url = "{github}"\ntoken = {{ env = "GITHUB_TOKEN" }}\n'
                     f'repositories = ["acme/web"]\npoll_every = "{poll_every}"\ntimeout = "{github_timeout}"\n'
                     'seconds_between_requests = 0\nseconds_between_writes = 0\n')
    if jira:
        parts.append(f'[connectors.jira]\nbase_url = "{jira}"\ndeployment = "cloud"\nemail = "bot@example.com"\n'
                     f'token = {{ env = "JIRA_TOKEN" }}\njql = ["project = WEB"]\npoll_every = "{poll_every}"\n')
    if asana:
        parts.append(f'[connectors.asana]\nbase_url = "{asana}{API_PREFIX}"\ntoken = {{ env = "ASANA_TOKEN" }}\n'
                     f'projects = ["{PROJECT}"]\npoll_every = "{poll_every}"\n')
    for i in range(1 + extra_rules):
        parts.append(f'[[rules]]\nname = "review-not-picked-up-{i}"\ndetect = "handoff"\non = ["review_requested"]\n'
                     'within = "4h"\nneed = "review"\nnext = "merge"\n'
                     'steps = [{ after = "0h", do = "comment", template = "nudge" }]\n')
    return "\n".join(parts)


def child_env(notify: NotifyListener | None = None, watchdog_usec: int | None = 2_000_000, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WATCHDOG_PID", "WATCHDOG_USEC", "NOTIFY_SOCKET", "HANDOFF_BRIDGE_CONFIG", "GITHUB_TOKEN",
                        "JIRA_TOKEN", "ASANA_TOKEN", "JOURNAL_STREAM", "HANDOFF_BRIDGE_LOG_LEVEL",
                        "HANDOFF_BRIDGE_LOG_FORMAT")}
    env.update(GITHUB_TOKEN=TOKEN, JIRA_TOKEN=JIRA_TOKEN, ASANA_TOKEN=ASANA_TOKEN, PYTHONUNBUFFERED="1")
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify.path
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    env.update(extra)
    return env


@pytest.fixture
def gh(github_emulator):
    """acme/web#12 with an overdue review request to ben-o, and the daemon's token."""
    from datetime import datetime, timedelta, timezone

    e = github_emulator
    e.add_token(TOKEN, BOT)
    e.create_repo("acme/web")
    asked = datetime.now(timezone.utc) - timedelta(days=10)
    e.open_issue("acme/web", "ana", "Rate-limit the login endpoint", pull_request=True,
                 at=asked - timedelta(minutes=5), number=12)
    e.request_review("acme/web", 12, "ana", "ben-o", at=asked)
    return e


@pytest.fixture
def jira_emu():
    e = JiraEmulator().start()
    e.add_user("bot-j", "Bridge Bot", email="bot@example.com")
    e.add_token(JIRA_TOKEN, "bot-j", email="bot@example.com")
    e.create_project("WEB")
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def asana_emu():
    e = AsanaEmulator().start()
    e.add_user(ASANA_BOT, "Bridge Bot")
    e.add_token(ASANA_TOKEN, ASANA_BOT)
    e.create_project(PROJECT, "Web")
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def start(tmp_path):
    """``start(text, **env)``: write the config and start ``run`` under a fake systemd."""
    started = []

    def make(text: str, watchdog_usec: int | None = 2_000_000, **extra) -> Daemon:
        path = tmp_path / "config.toml"
        path.write_text(text)
        notify = NotifyListener()
        d = Daemon(path, notify, child_env(notify, watchdog_usec, **extra))
        started.append(d)
        return d

    yield make
    for d in started:
        d.kill()
        d.notify.close()


def run_once(config: Path, *args: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", *args, "--config", str(config)], capture_output=True,
                          text=True, env=child_env(None, None, **extra), cwd=REPO, timeout=120, stdin=subprocess.DEVNULL)


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def no_traceback(d: Daemon) -> None:
    text = d.out() + d.err()
    assert "Traceback" not in text and "raised an exception" not in text, text[-3000:]


def stop(d: Daemon) -> None:
    d.signal(signal.SIGTERM)
    assert d.proc.wait(timeout=20) == 0, d.err()[-3000:]
    for t in d._readers:
        t.join(timeout=5)


# --------------------------------------------------------------------------- start


def test_a_tracker_down_at_start_is_marked_down_once_and_the_others_run(start, tmp_path, gh):
    d = start(config_text(tmp_path / "s.db", github=gh.url, jira=f"http://127.0.0.1:{free_port()}"))
    d.wait_ready()
    wait_for(lambda: len([r for r in d.events("cycle_done") if r["connector"] == "github"]) >= 3, 20,
             "three github cycles while jira is down")
    down = d.events("connector_down")
    assert [r["connector"] for r in down] == ["jira"], down
    assert down[0]["level"] == "warning" and down[0]["retry_in_s"] > 0 and "jira" in down[0]["reason"]
    assert d.alive()
    stop(d)
    no_traceback(d)


def test_a_token_refused_at_start_is_one_error_line_and_the_others_run(start, tmp_path, gh, jira_emu):
    jira_emu._tokens.clear()  # Jira answers 401 to the daemon's token
    d = start(config_text(tmp_path / "s.db", github=gh.url, jira=jira_emu.url))
    d.wait_ready()
    wait_for(lambda: len([r for r in d.events("cycle_done") if r["connector"] == "github"]) >= 3, 20,
             "three github cycles while jira refuses the token")
    down = d.events("connector_down")
    assert [(r["connector"], r["level"]) for r in down] == [("jira", "error")], down
    assert JIRA_TOKEN not in d.out() + d.err()
    stop(d)
    no_traceback(d)


def test_once_with_a_tracker_down_runs_the_others_and_exits_3(tmp_path, gh):
    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path / "s.db", github=gh.url, jira=f"http://127.0.0.1:{free_port()}"))
    done = run_once(config, "once")
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "connector jira is down" in done.stderr
    assert issue_polls(gh) and len(gh.comments("acme/web", 12)) == 1  # github polled and nudged
    assert "3" in subprocess.run([sys.executable, "-m", "bridge", "--help"], capture_output=True, text=True,
                                 cwd=REPO).stdout.split("exit status:")[1]


def test_explain_of_an_unknown_item_exits_non_zero(tmp_path, gh):
    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path / "s.db", github=gh.url))
    assert run_once(config, "once").returncode == 0
    known = run_once(config, "explain", "acme/web#12")
    assert known.returncode == 0 and "Timeline" in known.stdout
    unknown = run_once(config, "explain", "acme/web#999")
    assert unknown.returncode == 4 and "not in the store" in unknown.stderr


# --------------------------------------------------------------------------- reload


def test_reload_while_a_tracker_is_down_logs_no_traceback(start, tmp_path, gh, jira_emu):
    d = start(config_text(tmp_path / "s.db", github=gh.url, jira=jira_emu.url))
    d.wait_ready()
    wait_for(lambda: {r["connector"] for r in d.events("cycle_done")} >= {"github", "jira"}, 15, "a cycle of each")
    jira_emu.stop()
    d.signal(signal.SIGHUP)
    d.wait_event("config_reloaded", timeout=15)
    n = len(d.events("cycle_done"))
    d.wait_event("cycle_done", count=n + 3, timeout=15)
    assert d.alive()
    stop(d)
    no_traceback(d)


def test_reloads_leak_no_thread(start, tmp_path, gh, asana_emu):
    d = start(config_text(tmp_path / "s.db", github=gh.url, asana=asana_emu.url))
    d.wait_ready()
    wait_for(lambda: {r["connector"] for r in d.events("cycle_done")} >= {"github", "asana"}, 15, "a cycle of each")
    d.signal(signal.SIGHUP)
    d.wait_event("config_reloaded", count=1, timeout=15)
    n = len(d.events("cycle_done"))
    wait_for(lambda: {r["connector"] for r in d.events("cycle_done")[n:]} >= {"github", "asana"}, 15, "cycles after it")
    pings = len(d.notify.with_key("WATCHDOG", "1"))
    wait_for(lambda: len(d.notify.with_key("WATCHDOG", "1")) >= pings + 2, 6, "two more watchdog pings")
    before = threads(d.proc.pid)  # every worker thread has started by now
    for i in range(2, 22):
        d.signal(signal.SIGHUP)
        d.wait_event("config_reloaded", count=i, timeout=15)
    wait_for(lambda: threads(d.proc.pid) <= before, 5, f"threads back to {before} (now {threads(d.proc.pid)})")
    stop(d)
    no_traceback(d)


def test_a_second_sighup_during_a_reload_is_not_dropped(start, tmp_path, gh):
    db = tmp_path / "s.db"
    d = start(config_text(db, github=gh.url, github_timeout="30s"))
    d.wait_ready()
    d.wait_event("cycle_done")
    gh.faults.add("GET", r"^/repos/acme/web/issues$", "slow", delay=4.0)
    wait_for(lambda: len(gh.faults) == 0, 5, "the slow poll to be in flight")
    d.config.write_text(config_text(db, github=gh.url, github_timeout="30s", extra_rules=1))
    d.signal(signal.SIGHUP)  # the reload waits for the cycle in flight ...
    time.sleep(0.5)
    d.config.write_text(config_text(db, github=gh.url, github_timeout="30s", extra_rules=2))
    d.signal(signal.SIGHUP)  # ... and this one comes during it
    d.wait_event("config_reloaded", count=2, timeout=20)
    assert [r["rules"] for r in d.events("config_reloaded")] == [2, 3]
    stop(d)
    no_traceback(d)


# --------------------------------------------------------------------------- stop, isolation, watchdog


def test_a_slow_tool_never_delays_the_others_and_the_overrun_is_logged_once(start, tmp_path, gh, asana_emu):
    d = start(config_text(tmp_path / "s.db", github=gh.url, asana=asana_emu.url, github_timeout="30s"))
    d.wait_ready()
    wait_for(lambda: {r["connector"] for r in d.events("cycle_done")} >= {"github", "asana"}, 15, "a cycle of each")
    gh.faults.add("GET", r"^/repos/acme/web/issues$", "slow", delay=5.0)
    wait_for(lambda: len(gh.faults) == 0, 5, "the slow github poll to be in flight")
    asana_before = len([r for r in d.events("cycle_done") if r["connector"] == "asana"])
    github_before = len([r for r in d.events("cycle_done") if r["connector"] == "github"])
    wait_for(lambda: len([r for r in d.events("cycle_done") if r["connector"] == "github"]) > github_before, 15,
             "the slow github cycle to end")
    names = [(r.get("event"), r.get("connector")) for r in d.records()]
    slow_end = max(i for i, n in enumerate(names) if n == ("cycle_done", "github"))
    asana_during = [n for n in names[:slow_end] if n == ("cycle_done", "asana")][asana_before:]
    assert len(asana_during) >= 2, "asana cycles must go on while github is slow"
    d.wait_event("cycle_on_time")
    stop(d)
    records = d.records()
    assert [r["connector"] for r in records if r.get("event") == "cycle_overran"] == ["github"]
    assert not [r for r in records if "maximum number of running instances" in str(r.get("event"))]
    no_traceback(d)


def test_no_queued_cycle_runs_after_stopping(start, tmp_path, gh, asana_emu):
    d = start(config_text(tmp_path / "s.db", github=gh.url, asana=asana_emu.url, github_timeout="30s"))
    d.wait_ready()
    wait_for(lambda: {r["connector"] for r in d.events("cycle_done")} >= {"github", "asana"}, 15, "a cycle of each")
    gh.faults.add("GET", r"^/repos/acme/web/issues$", "slow", delay=3.0)
    wait_for(lambda: len(gh.faults) == 0, 5, "the slow github poll to be in flight")
    time.sleep(1.5)  # asana's next run falls due meanwhile
    d.signal(signal.SIGTERM)
    assert d.proc.wait(timeout=20) == 0
    for t in d._readers:
        t.join(timeout=5)
    names = [(r.get("event"), r.get("connector")) for r in d.records()]
    stopping = names.index(("stopping", None))
    github_last = max(i for i, n in enumerate(names) if n == ("cycle_done", "github"))
    assert github_last > stopping, "the github cycle in flight finished"
    assert ("cycle_done", "asana") not in names[github_last:], "an asana cycle ran after the slow github one"
    no_traceback(d)


def test_watchdog_pings_stop_while_a_cycle_is_stuck_and_resume_after(start, tmp_path, gh):
    # WatchdogSec = 2 s (pings every second); the poll is stuck 9 s under a 30 s client timeout.
    d = start(config_text(tmp_path / "s.db", github=gh.url, github_timeout="30s"), watchdog_usec=2_000_000)
    d.wait_ready()
    d.wait_event("cycle_done")
    wait_for(lambda: len(d.notify.with_key("WATCHDOG", "1")) >= 2, 6, "pings while idle")
    gh.faults.add("GET", r"^/repos/acme/web/issues$", "slow", delay=9.0)
    wait_for(lambda: len(gh.faults) == 0, 5, "the stuck poll to be in flight")
    stuck_since = time.monotonic()
    time.sleep(3.5)  # past WatchdogSec, plus one ping period
    pings = len(d.notify.with_key("WATCHDOG", "1"))
    time.sleep(3.0)
    assert len(d.notify.with_key("WATCHDOG", "1")) == pings, "pinged while the cycle was stuck"
    stuck = d.wait_event("cycle_stuck")[0]
    assert stuck["level"] == "error" and "github" in stuck["running_s"]
    wait_for(lambda: len(d.notify.with_key("WATCHDOG", "1")) > pings, 12, "pings again once the cycle ended")
    assert time.monotonic() - stuck_since > 6
    d.wait_event("cycle_unstuck")
    stop(d)
    no_traceback(d)


# --------------------------------------------------------------------------- logs


def test_no_traceback_on_stderr_at_exit_with_asana(start, tmp_path, gh, asana_emu):
    d = start(config_text(tmp_path / "s.db", github=gh.url, asana=asana_emu.url))
    d.wait_ready()
    wait_for(lambda: {r["connector"] for r in d.events("cycle_done")} >= {"github", "asana"}, 15, "a cycle of each")
    stop(d)
    assert d.err().strip() == "", d.err()[-3000:]
    config = tmp_path / "config.toml"
    done = run_once(config, "once")
    assert done.returncode == 0
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-3000:]


def test_log_level_and_format_from_the_environment(tmp_path, gh):
    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path / "s.db", github=gh.url, log_level="info"))
    quiet = run_once(config, "once", HANDOFF_BRIDGE_LOG_LEVEL="error")
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr[-2000:]
    gh.comment("acme/web", 12, "ana", "any news?")
    loud = run_once(config, "once", HANDOFF_BRIDGE_LOG_LEVEL="debug", HANDOFF_BRIDGE_LOG_FORMAT="console")
    assert loud.returncode == 0
    assert loud.stderr.strip() and not loud.stderr.lstrip().startswith("{"), loud.stderr[:500]
    bad = run_once(config, "once", HANDOFF_BRIDGE_LOG_LEVEL="loud")
    assert bad.returncode == 2 and "unknown log level" in bad.stderr and "Traceback" not in bad.stderr


def test_status_into_a_closed_pipe_ends_quietly(tmp_path, gh):
    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path / "s.db", github=gh.url))
    assert run_once(config, "once").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "status", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(None, None), cwd=REPO)
    proc.stdout.close()  # the reader is gone before the first line (| head -0)
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141
