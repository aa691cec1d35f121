"""Alembic environment: runs migrations against the URL handed in by ``bridge.store.store.upgrade``.

On PostgreSQL the whole upgrade runs under the transaction-level advisory lock
``bridge.store.locks.MIGRATION_LOCK``, taken before Alembic reads ``alembic_version``: replicas
started at once on an empty database migrate one after the other (the second finds the schema
at head and does nothing) instead of racing on ``CREATE TABLE``.
"""

from alembic import context
from sqlalchemy import create_engine, pool, text

from bridge.store.locks import MIGRATION_LOCK

import bridge.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from sqlmodel import SQLModel

target_metadata = SQLModel.metadata
url = context.config.get_main_option("sqlalchemy.url")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                                   {"space": MIGRATION_LOCK[0], "key": MIGRATION_LOCK[1]})
            context.run_migrations()
    engine.dispose()
