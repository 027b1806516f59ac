"""draft details and the tenant of a request

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:01:16.086995
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_requests_account_key"), ["account_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requests_account_key"))
        batch_op.drop_column("account_key")

    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("details")
