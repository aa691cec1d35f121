"""``handoff-bridge``: the command line.

Exit status: 0 success; 1 a demo expectation missed or something unexpected happened;
2 bad configuration or usage (an unknown ``HANDOFF_BRIDGE_LOG_*`` value too); 3 ``once``: a
connector was down (unreachable, or it refused its credential) and was skipped, the others
ran; 4 ``explain``: the item is not in the store. A reader that closes the output early
(``status | head``) ends the command quietly with 141 (128 + SIGPIPE, as a shell reports it).

Logging: ``HANDOFF_BRIDGE_LOG_FORMAT`` (auto, json, console) and ``HANDOFF_BRIDGE_LOG_LEVEL``
(debug, info, warning, error), when set, override ``[daemon] log_format`` / ``log_level``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bridge import __version__
from bridge.core.errors import ConfigError

DEFAULT_CONFIG = os.environ.get("HANDOFF_BRIDGE_CONFIG", "config.toml")

DESCRIPTION = """\
handoff-bridge watches the gaps between Jira, Asana and GitHub: a review requested and
never picked up, a ticket handed on that nobody acknowledged. It polls the trackers,
detects handoffs that were sent but not received, and writes back where people already
work: a comment naming who needs what from whom by when, then a reassignment or a
drafted request.

Start with `handoff-bridge demo` (no tracker needed), then write a config
(see config.example.toml) and check it with `handoff-bridge check-config FILE`.
"""

EPILOG = """\
exit status: 0 success; 1 a demo expectation missed or something unexpected; 2 bad
configuration or usage; 3 once: a connector was down (unreachable or refused its
credential), the others ran; 4 explain: the item is not in the store; 141 the output was
closed early (e.g. | head).
environment: HANDOFF_BRIDGE_CONFIG (default --config), HANDOFF_BRIDGE_LOG_FORMAT and
HANDOFF_BRIDGE_LOG_LEVEL (override [daemon] log_format / log_level).
"""

EXIT_CONNECTOR_DOWN = 3
EXIT_UNKNOWN_ITEM = 4
EXIT_BROKEN_PIPE = 141


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=DEFAULT_CONFIG, metavar="FILE",
                   help="TOML configuration (default: $HANDOFF_BRIDGE_CONFIG or ./config.toml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff-bridge", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"handoff-bridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run the daemon (systemd Type=notify; SIGHUP reloads, SIGTERM stops)",
                       description="Poll every configured connector on its schedule, detect, and act, until SIGTERM.")
    _config_arg(p)

    p = sub.add_parser("once", help="run one cycle now and print what it did",
                       description="Poll every connector once, evaluate every rule, deliver due actions, print a summary. "
                                   f"Exit {EXIT_CONNECTOR_DOWN} when a connector was down (unreachable, or it refused "
                                   "its credential): it is named on stderr and the others ran.")
    _config_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--dry-run", action="store_true",
                   help="poll and plan, then print what would be written; write nothing to any tracker and "
                        "record no action (whatever [daemon] dry_run says)")

    p = sub.add_parser("check-config", help="validate a configuration file",
                       description="Exit 0 and print a summary, or exit 2 listing every problem "
                                   "(file, line, dotted key, bad value). FILE or --config FILE names the file.")
    p.add_argument("file", metavar="FILE", nargs="?", default=None,
                   help="the configuration to check (same as --config FILE)")
    _config_arg(p)
    p.add_argument("--no-secrets", action="store_true",
                   help="check everything but secret resolution: references are checked for form, "
                        "not read (for CI, where tokens are absent)")

    sub.add_parser("config-schema", help="print the JSON Schema of the configuration (for editors)",
                   description="Print the JSON Schema (draft 2020-12) of the TOML configuration, for editors "
                               "such as Taplo or VS Code (Even Better TOML) to validate and complete config files.")

    p = sub.add_parser("explain", help="show an item's timeline, its handoffs and why each rule fired or not",
                       description="ITEM is e.g. acme/web#12 (GitHub), WEB-17 (Jira), an Asana task gid, or "
                                   "tool:key such as asana:1204567890123. Reads the store; no tracker call. "
                                   f"Exit {EXIT_UNKNOWN_ITEM} when the item is not in the store.")
    _config_arg(p)
    p.add_argument("item", metavar="ITEM")

    p = sub.add_parser("status", help="list every open item that waits or is waited on: holder, blocker, next decision",
                       description="One row per open item in a pending handoff, a standoff or a wait-for edge: MOVING "
                                   "or BLOCKED, its holder, what blocks it (tool and link), and the next decision point "
                                   "(who, what, by when in their time zone). Reads the store; no tracker call.")
    _config_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON document {summary, items}")
    p.add_argument("--sort", choices=["age", "item", "holder"], default="age",
                   help="age: oldest wait first (default); item: by tool and key; holder: by holder's name")

    p = sub.add_parser("people", help="show which accounts map to which people, and which nobody owns",
                       description="Three sections: people and their accounts (mapped by config or by e-mail), "
                                   "accounts seen in polls or events that no [people.*] entry owns, and entries "
                                   "that never matched an account. Reads the store; no tracker call.")
    _config_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")

    p = sub.add_parser("retry", help="read dead-lettered items again (after their cause is fixed)",
                       description="Items whose own read kept failing (a 404 on one timeline, comments or stories) "
                                   "are in the dead-letter list (`status` shows it). Put ITEM (or every dead-lettered "
                                   "item) back in the retry queue and read the due ones now; what still fails waits "
                                   "with backoff again. Exit 1 when an item named is not dead-lettered or cannot be "
                                   f"read yet, {EXIT_CONNECTOR_DOWN} when its tracker was down.")
    _config_arg(p)
    p.add_argument("items", metavar="ITEM", nargs="*", help="e.g. acme/web#12, WEB-17, asana:1204567890123 (default: all)")
    p.add_argument("--queue-only", action="store_true",
                   help="only put them back in the queue; the running daemon reads them in its next cycle")

    p = sub.add_parser("demo", help="replay a scenario against the local emulators (no tracker needed)",
                       description="Start the emulators the scenario uses (GitHub, Jira, Asana) on loopback, "
                                   "replay it under a stepping clock through the real cycle, and show findings, "
                                   "actions and what now stands in the emulated trackers. Exit 1 if an expectation was missed "
                                   "or something unexpected happened.")
    p.add_argument("--scenario", "-s", default="content-update", metavar="NAME|FILE",
                   help="a bundled scenario name (see --list) or a scenario file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON document (findings, actions, expectations)")
    p.add_argument("--list", action="store_true", help="list the bundled scenarios and exit")
    p.add_argument("--html", metavar="FILE", default=None,
                   help="where to write the report's HTML page (default: handoff-bridge-demo-<scenario>.html "
                        "in the temp folder)")

    from bridge.app.commands import report as report_command

    report_command.add_parser(sub, _config_arg)

    from bridge.app.commands import rules as rules_command

    rules_command.add_parser(sub, _config_arg)

    from bridge.app.commands.storecmd import add_parsers as add_store_parsers

    add_store_parsers(sub, _config_arg)

    p = sub.add_parser("sandbox", help="keep the emulators up with the real clock: watch the real daemon against them",
                       description="Start the emulators a scenario uses (GitHub, Jira, Asana) on loopback with the real "
                                   "clock, seed them with the scenario's people, items and acts (its times moved by whole "
                                   "weeks so that it ended before now: every act is history), write a daemon config "
                                   "pointing at them, and stay up until Ctrl-C, printing every write the daemon makes. "
                                   "Then, in another shell: handoff-bridge run --config FILE (and status, explain, "
                                   "people with the same FILE). Needs the extra 'demo' (Flask).")
    p.add_argument("--scenario", "-s", default="content-update", metavar="NAME|FILE",
                   help="a bundled scenario name (handoff-bridge demo --list) or a scenario file (default: %(default)s)")
    p.add_argument("--config-out", "-o", default="sandbox.toml", metavar="FILE", type=Path,
                   help="where to write the daemon config; its SQLite store goes next to it, "
                        "as <name>-state.db (default: %(default)s)")
    return parser


def _print_config_error(exc: ConfigError) -> int:
    text = str(exc)
    extra = [p for p in exc.problems if p not in text]
    print("\n  ".join([text, *extra]), file=sys.stderr)
    return 2


def cmd_check_config(args) -> int:
    from bridge.config import load_config, summarize

    if args.file is not None and args.config not in (DEFAULT_CONFIG, args.file):
        print(f"handoff-bridge: check-config got two files ({args.file} and --config {args.config}); pass one",
              file=sys.stderr)
        return 2
    path = args.file if args.file is not None else args.config
    try:
        config = load_config(path, resolve_secrets=not args.no_secrets)
    except ConfigError as exc:
        return _print_config_error(exc)
    print(summarize(config))
    if args.no_secrets:
        print("  secrets: references checked for form only, not resolved (--no-secrets)")
    return 0


def cmd_config_schema(_args) -> int:
    from bridge.config import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))
    return 0


def _setup(args, *, stream=None, connect: bool = True):
    from bridge.core.clock import utcnow
    from bridge.config import load_config
    from bridge.app.logging import configure_logging
    from bridge.store import Store
    from bridge.app.wiring import build_engine

    config = load_config(args.config)
    configure_logging(**_log_settings(config), stream=stream or sys.stderr)
    from bridge.store.locks import coordinator_for

    store = Store.open(config.database_url())
    # `once` next to running replicas polls only free scopes and acts only when no other leads
    coordinator = coordinator_for(config.database_url()) if getattr(args, "command", None) == "once" else None
    return config, store, build_engine(config, store, clock=utcnow, coordinator=coordinator) if connect else None


def _log_settings(config) -> dict[str, str]:
    """``configure_logging`` arguments: the config's ``[daemon]`` values, overridden by
    ``HANDOFF_BRIDGE_LOG_FORMAT`` / ``HANDOFF_BRIDGE_LOG_LEVEL`` when set."""
    from bridge.app.logging import logging_settings_from_env

    return logging_settings_from_env(fmt=config.daemon.log_format, level=config.daemon.log_level)


def cmd_run(args) -> int:
    from bridge.config import load_config
    from bridge.app.daemon import Daemon
    from bridge.app.logging import configure_logging

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _print_config_error(exc)
    configure_logging(**_log_settings(config), stream=sys.stdout)
    return Daemon(args.config).run()


def cmd_once(args) -> int:
    from bridge.app.wiring import close_connectors

    try:
        _config, _store, engine = _setup(args)
    except ConfigError as exc:
        return _print_config_error(exc)
    from bridge.engine.why import next_steps

    engine.preview = args.dry_run
    try:
        report = engine.cycle()
        steps = next_steps(engine, report.findings, report.inhibited, report.at)
    finally:
        close_connectors(engine.connectors)
    down = engine.health.unhealthy()
    if args.json:
        print(json.dumps({
            "polled": report.polled, "requests": report.requests, "new_events": report.new_events,
            "quiet_rules": [f.to_json() for f in report.quiet],
            "findings": [{"rule": f.rule, "item": f.item.key, "receiver": f.receiver.id, "at": f.at.isoformat()} for f in report.findings],
            "actions": [d.__dict__ for d in report.deliveries],
            "next_steps": [n.to_json() for n in steps],
            "errors": report.errors,
        }, indent=2))
    else:
        print(report.status_line() + (" (dry run: nothing written, nothing recorded)" if args.dry_run else ""))
        for f in report.quiet:  # rules quieted by feedback: their actions below are dry runs
            print(f"  {f.line()}")
        for d in report.deliveries:
            print(f"  {d.status:<9} {d.do:<8} {d.item}  {d.marker}  {d.url or d.error or ''}")
        if steps:
            print("Next steps:")
            for n in steps:
                print(f"  {n.line()}")
    for name, reason in sorted(down.items()):
        print(f"handoff-bridge: connector {name} is down and was skipped: {reason}", file=sys.stderr)
    return EXIT_CONNECTOR_DOWN if down else 0


def cmd_explain(args) -> int:
    from bridge.app.commands.explain import explain
    from bridge.core.model import ItemRef

    try:
        ref = ItemRef.parse(args.item)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from bridge.core.clock import utcnow
    from bridge.app.commands.status import offline_engine

    try:
        config, store, _ = _setup(args, connect=False)
    except ConfigError as exc:
        return _print_config_error(exc)
    if store.item(ref) is None and not store.events(ref) and not any(
            (r.item_tool, r.item_key) == (ref.tool, ref.key) for r in store.retries()):
        print(f"handoff-bridge: {ref}: not in the store (not polled yet, or not in a watched repository, "
              f"query or project)", file=sys.stderr)
        return EXIT_UNKNOWN_ITEM
    print(explain(offline_engine(config, store, utcnow), ref))  # reads the store only: no tool need answer
    return 0


def cmd_status(args) -> int:
    from bridge.core.clock import utcnow
    from bridge.config import load_config
    from bridge.core.errors import ConnectorError
    from bridge.app.commands.status import build_status, offline_engine, render_text, to_json
    from bridge.store import Store

    try:
        _config, _store, engine = _setup(args)
    except ConfigError as exc:
        return _print_config_error(exc)
    except ConnectorError as exc:  # a tool unreachable while its connector is built: the store is enough
        print(f"handoff-bridge: {exc}; status reads the store without it", file=sys.stderr)
        config = load_config(args.config)
        engine = offline_engine(config, Store.open(config.database_url()), utcnow)
    status = build_status(engine, engine.clock(), sort=args.sort)
    print(json.dumps(to_json(status), indent=2) if args.json else render_text(status))
    return 0


def cmd_people(args) -> int:
    from bridge.config import load_config
    from bridge.app.commands.people import people_report, render_text, to_json
    from bridge.store import Store

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _print_config_error(exc)
    report, own = people_report(config, Store.open(config.database_url()))
    print(json.dumps(to_json(config, report, own), indent=2) if args.json else render_text(config, report, own))
    return 0


def cmd_retry(args) -> int:
    from bridge.core.model import ItemRef
    from bridge.app.wiring import close_connectors
    from bridge.engine.cycle import CycleReport

    try:
        refs = [ItemRef.parse(text) for text in args.items] or None
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        _config, store, engine = _setup(args, connect=not args.queue_only)
    except ConfigError as exc:
        return _print_config_error(exc)
    from bridge.core.clock import utcnow
    from bridge.engine.retries import RetryQueue

    now = utcnow()
    queue = engine.retries if engine is not None else RetryQueue(
        store, tries=_config.daemon.retry_tries, first_wait=_config.daemon.retry_wait.wall(),
        max_wait=_config.daemon.retry_max_wait.wall())
    back = queue.requeue(now, refs)
    named = {(r.tool, r.key) for r in refs or []}
    missing = named - {(r.item_tool, r.item_key) for r in back}
    for tool, key in sorted(missing):
        print(f"handoff-bridge: {tool}:{key} is not in the dead-letter list", file=sys.stderr)
    print(f"{len(back)} item{'s' if len(back) != 1 else ''} back in the retry queue")
    if engine is None:
        return 1 if missing else 0
    try:
        report = CycleReport(at=now)
        engine.retry(report, now, {r.connector for r in back} or set())
    finally:
        close_connectors(engine.connectors)
    left = {(r.item_tool, r.item_key): r for r in store.retries()}
    for r in back:
        still = left.get((r.item_tool, r.item_key))
        print(f"  {r.item_tool} {r.item_key}: " + ("read and stored" if still is None else
              f"still failing ({still.error}); next read {still.next_try_at:%Y-%m-%d %H:%M}Z"
              if still.dead_at is None else f"dead-lettered again ({still.error})"))
    down = engine.health.unhealthy()
    for name, reason in sorted(down.items()):
        print(f"handoff-bridge: connector {name} is down: {reason}", file=sys.stderr)
    if down:
        return EXIT_CONNECTOR_DOWN
    return 1 if missing or any((r.item_tool, r.item_key) in left for r in back) else 0


def cmd_demo(args) -> int:
    from bridge.app.commands import demo
    from bridge.app.logging import configure_logging

    if args.list:
        for name, path in sorted(demo.bundled().items()):
            s = demo.load_scenario(path)
            print(f"{name:<32} {s.description.splitlines()[0] if s.description else ''}")
        return 0
    configure_logging(fmt="json", level="warning", stream=sys.stderr)
    try:
        scenario = demo.load_scenario(demo.find_scenario(args.scenario))
        import tempfile

        html = args.html or str(Path(tempfile.gettempdir()) / f"handoff-bridge-demo-{scenario.name}.html")
        result = demo.Demo(scenario, html=html).run()
    except ConfigError as exc:
        return _print_config_error(exc)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(demo.render_text(result))
    return 0 if result.ok else 1


def cmd_report(args) -> int:
    from bridge.app.commands.report import run

    return run(args)


def cmd_rules(args) -> int:
    from bridge.app.commands.rules import run

    return run(args)


def cmd_migrate(args) -> int:
    from bridge.app.commands import storecmd

    return storecmd.cmd_migrate(args)


def cmd_store(args) -> int:
    from bridge.app.commands import storecmd

    return storecmd.cmd_store(args)


def cmd_sandbox(args) -> int:
    from bridge.app.commands import demo
    from bridge.app.logging import configure_logging

    configure_logging(fmt="json", level="warning", stream=sys.stderr)
    try:
        scenario = demo.load_scenario(demo.find_scenario(args.scenario))
        from bridge.app.commands import sandbox

        return sandbox.run(scenario, args.config_out)
    except ConfigError as exc:
        return _print_config_error(exc)


COMMANDS = {
    "report": cmd_report,
    "run": cmd_run,
    "once": cmd_once,
    "check-config": cmd_check_config,
    "config-schema": cmd_config_schema,
    "explain": cmd_explain,
    "demo": cmd_demo,
    "status": cmd_status,
    "people": cmd_people,
    "retry": cmd_retry,
    "migrate": cmd_migrate,
    "store": cmd_store,
    "sandbox": cmd_sandbox,
    "rules": cmd_rules,
}


def main(argv: list[str] | None = None) -> int:
    from bridge.app.logging import LogSettingError

    args = build_parser().parse_args(argv)
    if hasattr(args, "config") and args.command != "check-config" and not Path(args.config).exists():
        print(f"handoff-bridge: configuration file not found: {args.config} "
              f"(pass --config FILE or set HANDOFF_BRIDGE_CONFIG; see config.example.toml)", file=sys.stderr)
        return 2
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (| head): say nothing, and keep the interpreter's final flush
        # from raising again (Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except LogSettingError as exc:  # an unknown HANDOFF_BRIDGE_LOG_FORMAT / _LEVEL
        print(f"handoff-bridge: {exc} (HANDOFF_BRIDGE_LOG_FORMAT / HANDOFF_BRIDGE_LOG_LEVEL or [daemon])", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
