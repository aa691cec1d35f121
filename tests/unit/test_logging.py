"""structlog configuration: JSON lines off a TTY, console on one, and no secret in any line."""

from __future__ import annotations

import io
import json
import re
import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from bridge.app.logging import configure_logging, logging_settings_from_env
from bridge.core.logs import REDACTED, get_logger, redact, redact_event, register_secret

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_logging():
    """Give each test a clean slate and put the global logging state back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


@pytest.fixture
def secret() -> str:
    value = f"ghp_{uuid.uuid4().hex}"
    register_secret(value)
    return value


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_carry_timestamp_level_logger_and_context():
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    structlog.contextvars.bind_contextvars(cycle=7)
    get_logger("bridge.engine").info("cycle finished", findings=2)
    get_logger("bridge.engine").debug("not at info level")
    [line] = json_lines(out)
    assert line["event"] == "cycle finished"
    assert line["findings"] == 2
    assert line["cycle"] == 7
    assert line["level"] == "info"
    assert line["logger"] == "bridge.engine"
    assert line["timestamp"].endswith("Z") and "T" in line["timestamp"]


def test_auto_is_json_off_a_tty_and_console_on_one():
    piped = io.StringIO()
    configure_logging(fmt="auto", stream=piped)
    get_logger("t").info("to journald", n=1)
    assert json_lines(piped)[0]["event"] == "to journald"

    tty = FakeTTY()
    configure_logging(fmt="auto", stream=tty)
    get_logger("t").info("to a human", n=1)
    text = re.sub(r"\x1b\[[0-9;]*m", "", tty.getvalue())  # colours on a TTY
    assert "to a human" in text and "n=1" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_reconfiguring_does_not_duplicate_lines():
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=first)
    configure_logging(fmt="json", stream=second)
    get_logger("t").info("once")
    assert first.getvalue() == ""
    assert len(json_lines(second)) == 1


def test_secret_never_appears_in_any_line(secret):
    out = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=out)
    log = get_logger("bridge.connectors")
    log.info("request", url=f"https://api.github.com/x?access_token={secret}")
    log.info("resolved", token="an-unregistered-value", github_token=secret)
    log.info("headers", headers={"Authorization": f"token {secret}", "Accept": "json"},
             attempts=[f"Bearer {secret}"])
    log.info("positional %s", secret)
    logging.getLogger("github").warning("Request failed with token %s", secret)
    try:
        raise PermissionError(f"401 for token {secret}")
    except PermissionError:
        log.exception("auth failed")
        logging.getLogger("urllib3").error("stdlib view", exc_info=True)

    text = out.getvalue()
    assert secret not in text
    assert "an-unregistered-value" not in text
    lines = json_lines(out)
    assert [line["event"] for line in lines] == [
        "request", "resolved", "headers", f"positional {REDACTED}",
        f"Request failed with token {REDACTED}", "auth failed", "stdlib view",
    ]
    assert lines[0]["url"].endswith(f"access_token={REDACTED}")
    assert lines[1]["token"] == REDACTED and lines[1]["github_token"] == REDACTED
    assert lines[2]["headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert lines[2]["attempts"] == [f"Bearer {REDACTED}"]
    assert lines[4]["logger"] == "github" and lines[4]["level"] == "warning"
    for line in lines[5:]:
        assert f"PermissionError: 401 for token {REDACTED}" in line["exception"]


def test_secret_is_redacted_on_the_console_too(secret):
    out = FakeTTY()
    configure_logging(fmt="console", stream=out)
    try:
        raise RuntimeError(secret)
    except RuntimeError:
        get_logger("t").exception("failed", detail=secret, password="hunter2")
    text = out.getvalue()
    assert secret not in text and "hunter2" not in text
    assert REDACTED in text


def test_secret_inside_an_arbitrary_object_repr_is_redacted(secret):
    class Request:
        def __repr__(self) -> str:
            return f"<Request Authorization: {secret}>"

    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    get_logger("t").info("sent", request=Request())
    assert secret not in out.getvalue()
    assert json_lines(out)[0]["request"] == f"<Request Authorization: {REDACTED}>"


def test_register_secret_also_covers_the_stripped_form():
    raw = f"tok-{uuid.uuid4().hex}\n"  # as read from a credential file
    register_secret(raw)
    assert redact(f"value={raw.strip()}!") == f"value={REDACTED}!"
    register_secret("   ")  # ignored, would otherwise redact every space
    assert redact("a b") == "a b"
    with pytest.raises(TypeError):
        register_secret(None)  # type: ignore[arg-type]


def test_redaction_processor_with_capture_logs(secret):
    configure_logging(fmt="json", stream=io.StringIO())
    with capture_logs(processors=[redact_event]) as logs:
        get_logger("t").info("loaded", credential="github-token", note=f"x{secret}x",
                             nested={"client_secret": "s", "list": [secret]})
    assert logs == [{
        "event": "loaded", "log_level": "info", "credential": REDACTED,
        "note": f"x{REDACTED}x", "nested": {"client_secret": REDACTED, "list": [REDACTED]},
    }]


def test_chatty_libraries_need_warning():
    out = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=out)
    logging.getLogger("werkzeug").info('127.0.0.1 - - "GET /repos HTTP/1.1" 200 -')
    logging.getLogger("werkzeug").warning("address already in use")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    logging.getLogger("sqlalchemy.engine.Engine").info("SELECT events.data FROM events")
    get_logger("bridge.engine").debug("cycle_done")
    assert [(line["logger"], line["event"]) for line in json_lines(out)] == [
        ("werkzeug", "address already in use"),
        ("apscheduler.scheduler", "Run time of job was missed"),
        ("bridge.engine", "cycle_done"),
    ]


def test_python_warnings_join_the_stream():
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    [line] = json_lines(out)
    assert line["logger"] == "py.warnings" and "old API" in line["event"]


def test_pygithub_stream_handler_is_removed_after_import_and_configure():
    # A fresh interpreter: PyGithub adds its StreamHandler only on first import.
    script = textwrap.dedent("""
        import io, json, logging
        import github
        assert any(isinstance(h, logging.StreamHandler)
                   for h in logging.getLogger("github").handlers), "PyGithub changed"
        from bridge.app.logging import configure_logging
        out = io.StringIO()
        configure_logging(fmt="json", stream=out)
        assert logging.getLogger("github").handlers == [], logging.getLogger("github").handlers
        logging.getLogger("github").warning("rate limited")
        print(json.dumps([json.loads(l) for l in out.getvalue().splitlines()]))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # nothing leaked through the removed handler
    [line] = json.loads(done.stdout)
    assert line["logger"] == "github" and line["event"] == "rate limited"


def test_github_logger_has_no_handler_in_this_process_either():
    import github  # noqa: F401

    configure_logging(fmt="json", stream=io.StringIO())
    assert logging.getLogger("github").handlers == []
    assert logging.getLogger("github").propagate is True


@pytest.mark.parametrize("kwargs", [{"fmt": "xml"}, {"level": "loud"}])
def test_bad_format_or_level_is_an_error(kwargs):
    with pytest.raises(ValueError):
        configure_logging(stream=io.StringIO(), **kwargs)


def test_logging_settings_from_env():
    assert logging_settings_from_env({}) == {"fmt": "auto", "level": "info"}
    assert logging_settings_from_env(
        {"HANDOFF_BRIDGE_LOG_FORMAT": "JSON", "HANDOFF_BRIDGE_LOG_LEVEL": "Debug"}
    ) == {"fmt": "json", "level": "debug"}
