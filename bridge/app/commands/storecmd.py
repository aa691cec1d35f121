"""``handoff-bridge migrate`` and ``handoff-bridge store copy``: the store's operator commands.

- ``migrate --config FILE``: bring the configured database to the newest schema and exit, for
  operators who migrate before rolling replicas out (every daemon also migrates at start; on
  PostgreSQL under an advisory lock, so replicas may also just start at once).
- ``store copy --from URL --to URL``: move a store (e.g. SQLite to PostgreSQL) with its
  cursors, events, walk states and outbox, into an empty database (``bridge.store.copy``).
"""

from __future__ import annotations

import sys

__all__ = ["add_parsers", "cmd_migrate", "cmd_store"]


def add_parsers(sub, config_arg) -> None:
    """Add ``migrate`` and ``store`` to the ``sub`` parsers (``config_arg`` adds ``--config``)."""
    p = sub.add_parser("migrate", help="bring the configured database to the newest schema and exit",
                       description="Create the tables or apply the pending migrations of [daemon] database, then "
                                   "exit 0. Every daemon does this at start too (on PostgreSQL under an advisory "
                                   "lock, so several replicas may start at once); run it first to roll out a "
                                   "schema change before the replicas. Exit 2: bad configuration or database URL.")
    config_arg(p)
    p = sub.add_parser("store", help="operate on stores: copy one database into another",
                       description="Store operations. `store copy --from URL --to URL` copies every table "
                                   "(cursors, events, items, walk states, findings, outbox) into an empty database.")
    ops = p.add_subparsers(dest="store_command", metavar="OPERATION", required=True)
    c = ops.add_parser("copy", help="copy a store into an empty database (e.g. SQLite to PostgreSQL)",
                       description="Copy every row of the store at --from into the store at --to, which must be "
                                   "empty (it is created and migrated first). Cursors move with it, so the new "
                                   "database does not re-crawl. Stop the daemon first. Exit 0 and print the rows "
                                   "copied per table; exit 2 when a URL is invalid, its driver missing or the "
                                   "destination not empty (nothing is written then).")
    c.add_argument("--from", dest="src", required=True, metavar="URL",
                   help="SQLAlchemy URL of the store to copy, e.g. sqlite:////var/lib/handoff-bridge/state.db")
    c.add_argument("--to", dest="dst", required=True, metavar="URL",
                   help="SQLAlchemy URL of an empty database, e.g. postgresql+psycopg://hb@db.example/bridge")


def cmd_migrate(args) -> int:
    from bridge.config import load_config
    from bridge.config.load import _mask_url
    from bridge.core.errors import ConfigError
    from bridge.store.store import upgrade

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        text = str(exc)
        print("\n  ".join([text, *[p for p in exc.problems if p not in text]]), file=sys.stderr)
        return 2
    url = config.database_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from pathlib import Path

        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    print(f"database {_mask_url(url)} is at the newest schema")
    return 0


def cmd_store(args) -> int:
    from bridge.config.load import _mask_url, database_url_problem
    from bridge.store.copy import StoreNotEmpty, copy_store

    for flag, url in (("--from", args.src), ("--to", args.dst)):
        try:
            database_url_problem(url)
        except ValueError as exc:
            print(f"handoff-bridge: store copy {flag}: {exc}", file=sys.stderr)
            return 2
    try:
        copied = copy_store(args.src, args.dst)
    except StoreNotEmpty as exc:
        print(f"handoff-bridge: store copy --to {_mask_url(args.dst)}: {exc}", file=sys.stderr)
        return 2
    print(f"copied {_mask_url(args.src)} to {_mask_url(args.dst)}:")
    for table, n in copied.items():
        print(f"  {table:<12} {n} rows")
    return 0
