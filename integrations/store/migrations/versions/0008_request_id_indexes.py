"""indexes on every request_id foreign key

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 10:25:00

PostgreSQL does not index foreign keys by itself: every card drawn (the request's messages and
drafts), every outbox lookup and the hourly retention pass read these tables by request_id,
and without an index each read scans the whole table, slower as the history grows.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = (
    "slack_events",
    "request_messages",
    "drafts",
    "outbox",
    "audit_log",
    "expertise_evidence",
)


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_request_id", table, ["request_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_request_id", table_name=table)
