"""escalation sla

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 08:19:35.113648
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("minutes", sa.Double(), nullable=False),
        sa.Column("business_hours", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(length=32), nullable=True),
        sa.Column("tightened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("escalation_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("escalated_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("escalations", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("escalations_done", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("case_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("escalation_ts", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("escalation_ts")
        batch_op.drop_column("case_id")
        batch_op.drop_column("escalations_done")
        batch_op.drop_column("escalations")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalated_by")
        batch_op.drop_column("escalation_reason")
        batch_op.drop_column("priority")

    op.drop_table("sla_clocks")
