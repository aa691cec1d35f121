"""sd_notify(3) datagrams reach a real AF_UNIX socket; watchdog maths follow sd_watchdog_enabled(3)."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from bridge.app.systemd import Notifier, notify, watchdog_interval


@pytest.fixture
def path_socket(tmp_path):
    """Yield (receiving socket, NOTIFY_SOCKET value) for a filesystem datagram socket."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


@pytest.fixture
def abstract_socket():
    """Yield (receiving socket, NOTIFY_SOCKET value) for an abstract-namespace socket."""
    name = f"handoff-bridge-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    yield sock, "@" + name
    sock.close()


def receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_notify_sends_one_datagram_to_path_socket(path_socket):
    sock, value = path_socket
    assert notify("READY=1", "STATUS=polling github", environ={"NOTIFY_SOCKET": value}) is True
    assert receive(sock) == ["READY=1", "STATUS=polling github"]


def test_notify_reaches_abstract_socket(abstract_socket):
    sock, value = abstract_socket
    assert notify("WATCHDOG=1", environ={"NOTIFY_SOCKET": value}) is True
    assert receive(sock) == ["WATCHDOG=1"]


def test_newline_inside_a_line_cannot_inject_an_assignment(path_socket):
    sock, value = path_socket
    assert notify("STATUS=bad\nREADY=1", environ={"NOTIFY_SOCKET": value})
    assert receive(sock) == ["STATUS=bad READY=1"]


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative"},
                                     {"NOTIFY_SOCKET": "@"}])
def test_notify_without_usable_socket_returns_false(environ):
    assert notify("READY=1", environ=environ) is False
    assert Notifier(environ).ready("x") is False
    assert Notifier(environ).enabled is False


def test_notify_with_no_lines_returns_false(path_socket):
    _, value = path_socket
    assert notify(environ={"NOTIFY_SOCKET": value}) is False


def test_send_failure_returns_false_without_raising(tmp_path):
    missing = tmp_path / "nobody-listens.sock"
    assert notify("READY=1", environ={"NOTIFY_SOCKET": str(missing)}) is False


def test_notify_reads_os_environ_by_default(path_socket, monkeypatch):
    sock, value = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert notify("STATUS=from os.environ") is True
    assert receive(sock) == ["STATUS=from os.environ"]


def test_notifier_lifecycle(path_socket):
    sock, value = path_socket
    n = Notifier({"NOTIFY_SOCKET": value})
    assert n.enabled
    assert n.ready("3 connectors")
    assert receive(sock) == ["READY=1", "STATUS=3 connectors"]
    assert n.ready()
    assert receive(sock) == ["READY=1"]
    assert n.status("cycle 7: 2 findings")
    assert receive(sock) == ["STATUS=cycle 7: 2 findings"]
    assert n.watchdog()
    assert receive(sock) == ["WATCHDOG=1"]
    assert n.stopping("finishing cycle")
    assert receive(sock) == ["STOPPING=1", "STATUS=finishing cycle"]


def test_reloading_carries_monotonic_usec(path_socket):
    sock, value = path_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert Notifier({"NOTIFY_SOCKET": value}).reloading("re-reading config")
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = receive(sock)
    assert lines[0] == "RELOADING=1"
    key, _, usec = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(usec) <= after
    assert lines[2] == "STATUS=re-reading config"


def test_watchdog_interval_is_half_of_watchdog_usec():
    assert watchdog_interval({"WATCHDOG_USEC": "120000000"}) == 60.0
    assert watchdog_interval({"WATCHDOG_USEC": "1000"}) == 0.0005


def test_watchdog_interval_honours_watchdog_pid():
    mine = str(os.getpid())
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": mine}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}) is None


@pytest.mark.parametrize("usec", [None, "", "0", "-5", "abc", "1.5"])
def test_watchdog_interval_none_when_absent_or_invalid(usec):
    environ = {} if usec is None else {"WATCHDOG_USEC": usec}
    assert watchdog_interval(environ) is None
    assert Notifier(environ).watchdog_interval() is None
