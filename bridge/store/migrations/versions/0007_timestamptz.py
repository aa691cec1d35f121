"""timestamptz: the retries times (0004) and the handoffs' delay times (0005) as every other time column

On PostgreSQL, 0004 and 0005 made these columns ``timestamp without time zone`` while the models
(``UTCDateTime``) and 0001-0003/0006 use ``timestamp with time zone``: on a server whose time zone is
not UTC an aware time written there reads back shifted. The stored values were written in the
session's time zone, so they are converted with it. SQLite stores both alike: nothing to do.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00
"""
from alembic import op
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = {
    'retries': ('first_failed_at', 'last_failed_at', 'next_try_at', 'dead_at'),
    'handoffs': ('first_nudge_at', 'measured_at'),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sqlmodel.sql.sqltypes.UTCDateTime(),
                            postgresql_using=f"{column} AT TIME ZONE current_setting('TimeZone')")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    import sqlalchemy as sa
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.DateTime(),
                            postgresql_using=f"{column} AT TIME ZONE current_setting('TimeZone')")
