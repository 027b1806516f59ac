"""incidents: one problem reported by several accounts (SPEC §6.6)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:30:00

`incidents` (one card, one clock, the updates and the parent Case of an outage),
`incident_reports` (the requests that reported it; a request is in at most one incident,
ever) and `incident_updates` (each status update a person approved for every affected
thread). New tables only: nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", _ID, nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "resolved", name="incidentstate", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("signatures", sa.JSON(), nullable=False),
        sa.Column("first_report_at", _AT, nullable=False),
        sa.Column("last_report_at", _AT, nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("deadline_at", _AT, nullable=False),
        sa.Column("breached_at", _AT, nullable=True),
        sa.Column("first_update_at", _AT, nullable=True),
        sa.Column("resolved_at", _AT, nullable=True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("card_channel", sa.String(length=32), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.Column("card_permalink", sa.Text(), nullable=True),
        sa.Column("parent_case_id", sa.String(length=32), nullable=True),
        sa.Column("cases_done", sa.Boolean(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_state", "incidents", ["state"], unique=False)
    op.create_table(
        "incident_reports",
        sa.Column("id", _ID, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("similarity", sa.Double(), nullable=False),
        sa.Column("joined_at", _AT, nullable=False),
        sa.Column("split_at", _AT, nullable=True),
        sa.Column("split_by", sa.String(length=32), nullable=True),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index(
        "ix_incident_reports_incident_id", "incident_reports", ["incident_id"], unique=False
    )
    op.create_table(
        "incident_updates",
        sa.Column("id", _ID, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_incident_updates_incident_id", "incident_updates", ["incident_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_incident_updates_incident_id", table_name="incident_updates")
    op.drop_table("incident_updates")
    op.drop_index("ix_incident_reports_incident_id", table_name="incident_reports")
    op.drop_table("incident_reports")
    op.drop_index("ix_incidents_state", table_name="incidents")
    op.drop_table("incidents")
