"""``handoff-bridge report``: the handoff delay tables, JSON, or the HTML page (issue 15).

Reads the store only (``bridge.report``); the status table of the page is ``status``'s
(``bridge.app.commands.status``), built on the same offline engine as ``explain``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

HELP = "handoff delay per lane and week, before/after a date, as tables, JSON or an HTML page"
DESCRIPTION = """\
Measure every stored handoff: its delay sent -> received in the receiver's business hours and in
wall-clock hours (open handoffs count with their delay so far), per lane (team pair, person pair,
rule, status pair; per tool and across tools) and per week: count, median, p90, share received
only after a nudge, nudge -> acknowledgement time, share still open; standoffs opened and broken.
--compare-at DATE (or --before/--after windows) gives the change in median delay per lane with a
bootstrap 95 % confidence interval, or says there are too few handoffs to tell. Reads the store;
no tracker is called.

DATE is 2026-11-23 (midnight), 2026-11-23 09:00, or ISO 8601 with an offset; without an offset it
is read in [defaults] timezone. A window is DATE..DATE (start included, end excluded)."""


def add_parser(sub, config_arg) -> None:
    """Register ``report`` on the CLI's subparsers (``config_arg`` adds ``--config``)."""
    p = sub.add_parser("report", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    config_arg(p)
    p.add_argument("--since", metavar="DATE", help="only handoffs sent at or after DATE (default: all)")
    p.add_argument("--until", metavar="DATE", help="only handoffs sent before DATE (default: all)")
    p.add_argument("--compare-at", metavar="DATE",
                   help="compare handoffs sent before DATE with those sent from DATE on (e.g. when nudging started)")
    p.add_argument("--before", metavar="DATE..DATE", help="explicit 'before' window (with --after)")
    p.add_argument("--after", metavar="DATE..DATE", help="explicit 'after' window (with --before)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--html", metavar="FILE", help="also write the self-contained HTML page to FILE")
    p.add_argument("--seed", type=int, default=15, help="seed of the bootstrap (default: %(default)s)")
    p.add_argument("--top", type=int, default=20, metavar="N",
                   help="show at most the N busiest lanes of each kind in the tables (default: %(default)s; 0: all; "
                        "--json always has every lane)")


def parse_date(text: str, tz: ZoneInfo, what: str) -> datetime:
    """``2026-11-23``, ``2026-11-23 09:00`` or ISO 8601 (an offset wins over ``tz``) → aware UTC.

    Raises:
        ValueError: names ``what`` (the option) and the text.
    """
    try:
        if len(text.strip()) == 10:
            at = datetime.combine(datetime.fromisoformat(text.strip()).date(), time(0))
        else:
            at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: not a date {text!r} (expected e.g. 2026-11-23, '2026-11-23 09:00' "
                         f"or 2026-11-23T09:00+01:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return at.astimezone(ZoneInfo("UTC"))


def parse_window(text: str, tz: ZoneInfo, what: str) -> tuple[datetime, datetime]:
    """``DATE..DATE`` → ``(start, end)`` aware UTC.

    Raises:
        ValueError: no ``..``, or a bad date.
    """
    start, sep, end = text.partition("..")
    if not sep:
        raise ValueError(f"{what}: expected DATE..DATE (got {text!r})")
    return parse_date(start, tz, what), parse_date(end, tz, what)


def status_json(config, store, now: datetime) -> dict | None:
    """``status --json``'s document for the page, or ``None`` when it cannot be built."""
    from bridge.app.commands.status import build_status, offline_engine, to_json

    engine = offline_engine(config, store, lambda: now)
    return to_json(build_status(engine, now))


def write_page(config, store, report, path: Path) -> Path:
    """Write the HTML page of ``report`` (with the status table) to ``path``; returns it."""
    from bridge.report.page import render_page

    path.write_text(render_page(report, status_json(config, store, report.at)), encoding="utf-8")
    return path


def run(args) -> int:
    """The ``report`` command. Exit 0, or 2 on a bad option or configuration.

    Python's cyclic collector stays paused for the whole command (``collector_paused``): a
    report holds one fact per stored handoff until the command ends, and a full collection
    over them after the build found nothing and cost a third of a second on 100,000
    handoffs; the process ends right after, returning every byte at once.
    """
    from bridge.report.report import collector_paused

    with collector_paused():
        return _run(args)


def _run(args) -> int:
    from bridge.app.cli import _print_config_error
    from bridge.config import load_config
    from bridge.core.clock import utcnow
    from bridge.core.errors import ConfigError
    from bridge.report.report import build_report, render_text, to_json
    from bridge.store import Store

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _print_config_error(exc)
    tz = ZoneInfo(config.defaults.timezone)
    try:
        since = parse_date(args.since, tz, "--since") if args.since else None
        until = parse_date(args.until, tz, "--until") if args.until else None
        compare_at = parse_date(args.compare_at, tz, "--compare-at") if args.compare_at else None
        before = parse_window(args.before, tz, "--before") if args.before else None
        after = parse_window(args.after, tz, "--after") if args.after else None
        store = Store.open(config.database_url())
        report = build_report(config, store, utcnow(), since=since, until=until, compare_at=compare_at,
                              before=before, after=after, seed=args.seed)
    except ValueError as exc:
        print(f"handoff-bridge report: {exc}", file=sys.stderr)
        return 2
    if args.html:
        path = write_page(config, store, report, Path(args.html))
        print(f"handoff-bridge report: wrote {path}", file=sys.stderr)
    print(json.dumps(to_json(report), indent=2) if args.json else render_text(report, top=args.top))
    return 0
