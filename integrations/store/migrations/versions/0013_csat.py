"""csat: the question after an answer, and the customers' votes (SPEC §6.7)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00

`csat_surveys` (one per answered request: when the question is due, when it was asked and its
outbox row, or when and why it was cancelled) and `csat_votes` (one per request and person,
their latest click). New tables only: requests answered before this are never asked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "csat_surveys",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("due_at", _AT, nullable=False),
        sa.Column("asked_at", _AT, nullable=True),
        sa.Column("outbox_id", _ID, nullable=True),
        sa.Column("cancelled_at", _AT, nullable=True),
        sa.Column("cancelled_why", sa.String(length=32), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_csat_surveys_due_at", "csat_surveys", ["due_at"], unique=False)
    op.create_index("ix_csat_surveys_outbox_id", "csat_surveys", ["outbox_id"], unique=False)
    op.create_table(
        "csat_votes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column(
            "value",
            sa.Enum("good", "bad", name="csatvalue", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("voted_at", _AT, nullable=False),
        sa.Column("changed_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "user_id", name="uq_csat_votes_person"),
    )


def downgrade() -> None:
    op.drop_table("csat_votes")
    op.drop_index("ix_csat_surveys_outbox_id", table_name="csat_surveys")
    op.drop_index("ix_csat_surveys_due_at", table_name="csat_surveys")
    op.drop_table("csat_surveys")
