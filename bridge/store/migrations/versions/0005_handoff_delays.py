"""handoff delays: each ended handoff keeps its measured delay, so a report computes only the open ones

Adds to ``handoffs`` (all nullable; hours are floats):

- ``delay_business_h``: sent -> received in the receiver's business hours;
- ``delay_wall_h``: the same in wall-clock hours;
- ``first_nudge_at``: when the first nudge of its finding went out;
- ``nudge_to_ack_business_h``: business hours from that nudge to the acknowledgement;
- ``measured_at``: when those were stored (``NULL``: not measured yet).

The engine fills them when it writes an ended handoff (``bridge.core.delay.measure_ended``).
Rows that ended before this revision stay ``measured_at IS NULL``: the business hours need the
receiver's schedule, which lives in the config, not the database, so the backfill is done by
the report (``bridge.report.collect``), which measures such rows with the same function and
writes the figures back, once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

COLUMNS = (
    ('delay_business_h', sa.Float()),
    ('delay_wall_h', sa.Float()),
    ('first_nudge_at', sa.DateTime()),
    ('nudge_to_ack_business_h', sa.Float()),
    ('measured_at', sa.DateTime()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column('handoffs', sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoffs') as batch:
        for name, _type in reversed(COLUMNS):
            batch.drop_column(name)
