"""expertise changes: the feed that keeps each process's in-memory expertise corpus current

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:00:00

Colleague suggestions no longer read the postings and weighing of every matching answered
question from the database for each request: each process holds the expertise corpus in
memory (`integrations/store/expertise_index.py`) and reads `expertise_changes` to stay
current. New: that table, indexed by time, and an index on `expertise_evidence.draft_id`
(feedback on a draft names the evidence rows it weighs). Nothing to backfill: a process loads
the corpus from the search index at its start.

Two more indexes, for what a request read in proportion to the history (bench/history.py):
the pull-ins still waiting for an answer (a person's load on the suggestion stage: a partial
index, instead of reading every evidence row), and an account's requests by their last
message (account health's recent messages and signals: the recent ones, instead of every
request of the account), which replaces the index on `account_key` alone; and the search
index's documents by scope (an account's vectors, instead of every account's documents); and
the requests still open or withdrawn by id (a person's load reads the newest 2,000 open ones:
once a few new requests were open, PostgreSQL walked the primary key back through the whole
history to find them; the sweeper's pass read the whole `(stage, state)` index).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expertise_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "evidence_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_expertise_changes_at", "expertise_changes", ["at"])
    op.create_index(
        "ix_expertise_evidence_draft_id", "expertise_evidence", ["draft_id"], unique=False
    )
    op.create_index(
        "ix_expertise_evidence_waiting",
        "expertise_evidence",
        ["request_id"],
        postgresql_where=sa.text("NOT answered"),
        sqlite_where=sa.text("NOT answered"),
    )
    op.create_index(
        "ix_search_documents_scope", "search_documents", ["corpus", "scope", "source_id"]
    )
    with op.batch_alter_table("requests") as batch:
        batch.create_index("ix_requests_account_recent", ["account_key", "last_message_at"])
        batch.create_index(
            "ix_requests_live",
            ["id"],
            postgresql_where=sa.text("state IN ('open', 'withdrawn')"),
            sqlite_where=sa.text("state IN ('open', 'withdrawn')"),
        )
        batch.drop_index("ix_requests_account_key")


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_index("ix_requests_live")
        batch.create_index("ix_requests_account_key", ["account_key"])
        batch.drop_index("ix_requests_account_recent")
    op.drop_index("ix_search_documents_scope", table_name="search_documents")
    op.drop_index("ix_expertise_evidence_waiting", table_name="expertise_evidence")
    op.drop_index("ix_expertise_evidence_draft_id", table_name="expertise_evidence")
    op.drop_index("ix_expertise_changes_at", table_name="expertise_changes")
    op.drop_table("expertise_changes")
