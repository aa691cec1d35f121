"""Move a store from one database to another (``handoff-bridge store copy``).

``copy_store(src, dst)`` copies every table the migrations own (events, items, cursors,
handoffs, findings, accounts, links, walk states, outbox) from ``src`` to ``dst``, both brought
to the newest schema first, so a team that grows from SQLite to PostgreSQL keeps its cursors
and does not re-crawl, and keeps its outbox so nothing is posted twice (the markers would
prevent it anyway). Into an empty ``dst`` only; one transaction on ``dst``, so a copy that
fails leaves ``dst`` as it was.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlmodel import SQLModel

from bridge.store.store import Store

__all__ = ["StoreNotEmpty", "copy_store"]

BATCH = 1000


class StoreNotEmpty(Exception):
    """The destination already holds rows (``table`` names the first such table)."""

    def __init__(self, table: str, rows: int):
        super().__init__(f"the destination store is not empty: table {table} holds {rows} rows; "
                         f"copy into a new, empty database")
        self.table, self.rows = table, rows


def copy_store(src_url: str, dst_url: str) -> dict[str, int]:
    """Copy every row of the store at ``src_url`` into the empty store at ``dst_url``.

    Both are opened with ``Store.open`` (created and migrated to head; on PostgreSQL under the
    migration lock). Integer keys keep their values; PostgreSQL sequences are moved past them.

    Returns ``{table: rows copied}`` in copy order.

    Raises:
        StoreNotEmpty: ``dst_url`` already holds rows (nothing is written).
        sqlalchemy.exc.SQLAlchemyError: either database could not be read or written.
    """
    import bridge.store.tables  # noqa: F401  (registers the tables)

    src, dst = Store.open(src_url), Store.open(dst_url)
    tables = list(SQLModel.metadata.sorted_tables)
    copied: dict[str, int] = {}
    try:
        with dst.engine.begin() as out:
            for table in tables:
                n = out.execute(select(func.count()).select_from(table)).scalar_one()
                if n:
                    raise StoreNotEmpty(table.name, n)
            with src.engine.connect() as inp:
                for table in tables:
                    copied[table.name] = 0
                    batch: list[dict] = []
                    for row in inp.execute(select(table)).yield_per(BATCH):
                        batch.append(dict(row._mapping))
                        if len(batch) >= BATCH:
                            out.execute(table.insert(), batch)
                            copied[table.name] += len(batch)
                            batch = []
                    if batch:
                        out.execute(table.insert(), batch)
                        copied[table.name] += len(batch)
            if out.dialect.name == "postgresql":
                for table in tables:
                    for col in table.primary_key.columns:
                        if col.autoincrement is True or (col.autoincrement == "auto" and col.type.python_type is int
                                                         and len(table.primary_key.columns) == 1):
                            out.execute(text(f"SELECT setval(pg_get_serial_sequence(:t, :c), "
                                             f"GREATEST((SELECT max({col.name}) FROM {table.name}), 1))"),
                                        {"t": table.name, "c": col.name})
    finally:
        src.engine.dispose()
        dst.engine.dispose()
    return copied
