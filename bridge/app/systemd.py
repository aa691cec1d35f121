"""Talk to systemd's service manager: readiness, status, watchdog, reload and stop notices.

The notify protocol is one datagram on an ``AF_UNIX``/``SOCK_DGRAM`` socket named by
``$NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract namespace), holding
newline-separated ``KEY=VALUE`` assignments. See sd_notify(3) and the "Notify" section of
systemd.service(5) for ``Type=notify``, ``NotifyAccess=`` and ``WatchdogSec=``. No dependency:
libsystemd is not needed to send one datagram.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

__all__ = ["Notifier", "notify", "watchdog_interval"]


def _address(value: str) -> str | bytes | None:
    """Turn ``$NOTIFY_SOCKET`` into a socket address, or None when unusable.

    ``/path`` → filesystem socket; ``@name`` → abstract socket ``b"\\0name"`` (sd_notify(3)).
    Other forms (``vsock:…``, relative paths) are not supported here and yield None.
    """
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify(3) datagram of ``KEY=VALUE`` lines to ``$NOTIFY_SOCKET``.

    ``lines`` are assignments such as ``"READY=1"``, ``"WATCHDOG=1"``, ``"STATUS=polling"``,
    ``"STOPPING=1"``, ``"RELOADING=1"``; they are joined by ``"\\n"``. A newline inside one
    line would start a new assignment, so it is replaced by a space. ``environ`` defaults to
    ``os.environ``.

    Returns True when the datagram was sent; False when ``NOTIFY_SOCKET`` is unset, empty or
    unsupported, when no lines are given, or when sending failed (``OSError``). Never raises
    for a send failure and logs nothing: the caller decides whether that matters.
    """
    env = os.environ if environ is None else environ
    address = _address(env.get("NOTIFY_SOCKET", ""))
    if address is None or not lines:
        return False
    payload = "\n".join(line.replace("\n", " ") for line in lines).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(payload, address)
    except OSError:
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Return the seconds between ``WATCHDOG=1`` pings, or None when no watchdog applies.

    The interval is half of ``$WATCHDOG_USEC`` (µs) as sd_watchdog_enabled(3) recommends:
    ``WATCHDOG_USEC / 2 / 1e6``. None when ``WATCHDOG_USEC`` is unset, not a positive
    integer, or when ``$WATCHDOG_PID`` is set to a pid other than ``os.getpid()`` (the
    watchdog is then meant for another process). ``environ`` defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    raw_pid = env.get("WATCHDOG_PID")
    if raw_pid:
        try:
            if int(raw_pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1e6


def _monotonic_usec() -> int:
    """Return CLOCK_MONOTONIC in µs, the clock systemd compares ``MONOTONIC_USEC=`` with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """Send the daemon's lifecycle notices to systemd; a no-op outside ``Type=notify``.

    Each method returns what `notify` returns: True when sent, False when there is no
    notify socket or the send failed. ``environ`` defaults to ``os.environ`` and is read at
    each call. Protocol: sd_notify(3).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    @property
    def enabled(self) -> bool:
        """Tell whether a usable ``$NOTIFY_SOCKET`` is set (i.e. running under Type=notify)."""
        env = os.environ if self._environ is None else self._environ
        return _address(env.get("NOTIFY_SOCKET", "")) is not None

    def watchdog_interval(self) -> float | None:
        """Return seconds between watchdog pings (half of ``WatchdogSec=``), or None."""
        return watchdog_interval(self._environ)

    def ready(self, status: str | None = None) -> bool:
        """Send ``READY=1`` (startup finished), with ``STATUS=<status>`` when given."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(f"STATUS={status}")
        return notify(*lines, environ=self._environ)

    def status(self, text: str) -> bool:
        """Send ``STATUS=<text>``, the one-line state shown by ``systemctl status``."""
        return notify(f"STATUS={text}", environ=self._environ)

    def watchdog(self) -> bool:
        """Send ``WATCHDOG=1``: the main loop is alive (send every `watchdog_interval` s)."""
        return notify("WATCHDOG=1", environ=self._environ)

    def stopping(self, status: str | None = None) -> bool:
        """Send ``STOPPING=1`` (shutdown began), with ``STATUS=<status>`` when given."""
        lines = ["STOPPING=1"]
        if status is not None:
            lines.append(f"STATUS={status}")
        return notify(*lines, environ=self._environ)

    def reloading(self, status: str | None = None) -> bool:
        """Send ``RELOADING=1`` and ``MONOTONIC_USEC=<CLOCK_MONOTONIC µs>``.

        systemd ≥ 253 (``Type=notify-reload``) expects the timestamp; 252 ignores it.
        Send `ready` again once the reload is done.
        """
        lines = ["RELOADING=1", f"MONOTONIC_USEC={_monotonic_usec()}"]
        if status is not None:
            lines.append(f"STATUS={status}")
        return notify(*lines, environ=self._environ)
