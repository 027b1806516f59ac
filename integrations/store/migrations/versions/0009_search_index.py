"""search index: postings, documents and counts of the history search; requests by thread

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00

Retrieval and suggestions used to load the newest 500 approved answers of an account and the
newest 20,000 evidence rows on every request and build BM25 from them, silently ignoring
older ones. The index is written when its documents change and read by a query's terms only
(`integrations/store/search_index.py`). This migration creates it and fills it from the rows
already stored (quick on an empty database; on a large one, a few minutes, once).

`ix_requests_thread`: whether an answered thread was reopened (a later request in the same
thread) is asked of the few requests a query finds; without it, each question scans a channel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from integrations.store.search_index import rebuild

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("corpus", sa.String(length=16), nullable=False),
        sa.Column("source_id", _ID, autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("request_id", _ID, nullable=True),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("corpus", "source_id"),
    )
    op.create_index(
        "ix_search_documents_request", "search_documents", ["corpus", "request_id"], unique=False
    )
    op.create_table(
        "search_postings",
        sa.Column("corpus", sa.String(length=16), nullable=False),
        sa.Column("source_id", _ID, autoincrement=False, nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("corpus", "source_id", "term"),
    )
    op.create_index(
        "ix_search_postings_term",
        "search_postings",
        ["corpus", "scope", "term"],
        unique=False,
        postgresql_include=["source_id", "tf", "length"],
    )
    op.create_table(
        "search_stats",
        sa.Column("corpus", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("documents", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("corpus", "scope"),
    )
    op.create_index("ix_requests_thread", "requests", ["channel_id", "thread_ts"], unique=False)
    rebuild(op.get_bind(), stamp=False)  # search_stats has no stamp until 0019


def downgrade() -> None:
    op.drop_index("ix_requests_thread", table_name="requests")
    op.drop_table("search_stats")
    op.drop_index("ix_search_postings_term", table_name="search_postings")
    op.drop_table("search_postings")
    op.drop_index("ix_search_documents_request", table_name="search_documents")
    op.drop_table("search_documents")
