"""feedback: what people said of a rule's findings (/hb wrong, not-mine, snooze), for quieting noisy rules

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feedback',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_tool', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('handoff_key', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('wrong', 'not_mine', 'snooze')", name='ck_feedback_kind'),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index('ix_feedback_rule_at', 'feedback', ['rule', 'at'], unique=False)
    # Covering indexes of the per-rule counts (bridge.engine.feedback, bench/feedback.py): first
    # steps sent by rule and time; a finding's first step; received handoffs by rule and end.
    op.create_index('ix_outbox_nudges', 'outbox', ['rule', 'step', 'status', 'sent_at', 'finding_key'], unique=False)
    op.create_index('ix_outbox_finding_step', 'outbox', ['finding_key', 'step', 'status', 'sent_at'], unique=False)
    op.create_index('ix_handoffs_ended', 'handoffs', ['rule', 'state', 'ended_at', 'key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_handoffs_ended', table_name='handoffs')
    op.drop_index('ix_outbox_finding_step', table_name='outbox')
    op.drop_index('ix_outbox_nudges', table_name='outbox')
    op.drop_index('ix_feedback_rule_at', table_name='feedback')
    op.drop_table('feedback')
