"""retries: the retry queue and dead-letter list of items whose own read failed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retries',
    sa.Column('connector', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_tool', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(), nullable=False),
    sa.Column('dead_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('connector', 'item_tool', 'item_key')
    )
    op.create_index(op.f('ix_retries_next_try_at'), 'retries', ['next_try_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_retries_next_try_at'), table_name='retries')
    op.drop_table('retries')
