"""how much an approver changed a draft

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:40:00

`drafts.edit_distance`: the share of the draft's words the approver changed, recorded at
approval (`triage gaps` looks for heavily edited drafts, SPEC §6.7). Drafts approved before
it have none: the gaps cannot tell how much they were edited, only that they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edit_distance", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("edit_distance")
