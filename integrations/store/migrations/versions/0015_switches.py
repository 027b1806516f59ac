"""switches: the auto-send kill switch, shared by every process (SPEC §6.7)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 01:30:00

`switches` (one row per switch a person flipped: `auto_send`). A new table only; drafts'
new status `auto_sent` is a new value of a column stored as plain text (no ALTER TYPE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "switches",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=32), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("switches")
