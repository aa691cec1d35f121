"""walk_states: the evaluator's per-item derived state (restart without re-reading every event)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('walk_states',
    sa.Column('tool', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('dirty', sa.Boolean(), nullable=False),
    sa.Column('data', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('tool', 'key')
    )


def downgrade() -> None:
    op.drop_table('walk_states')
