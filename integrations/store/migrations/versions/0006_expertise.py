"""expertise evidence and backfill cursors

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 08:29:40.083920
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_cursors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("oldest", sa.String(length=32), nullable=False),
        sa.Column("latest", sa.String(length=32), nullable=False),
        sa.Column("next_cursor", sa.Text(), nullable=True),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id"),
    )
    op.create_table(
        "expertise_evidence",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_key", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("draft_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("share", sa.Double(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("pulled_in_by", sa.String(length=32), nullable=True),
        sa.Column("up", sa.Integer(), nullable=False),
        sa.Column("down", sa.Integer(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key", "user_id", name="uq_expertise_evidence_source_user"),
    )
    with op.batch_alter_table("expertise_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_expertise_evidence_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("expertise_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expertise_evidence_user_id"))

    op.drop_table("expertise_evidence")
    op.drop_table("backfill_cursors")
