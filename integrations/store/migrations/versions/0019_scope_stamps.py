"""search_stats.stamp: a scope's latest change, so that a process may keep its vectors

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 22:00:00

Every request read its scope's stored vectors from the database, twice (bench/RESULTS.md,
"History search"). A process now keeps a copy (`integrations/store/vector_cache.py`) and reads
one row to know whether it is still current: `search_stats.stamp`, written anew with every
change to the scope's documents or vectors. Existing scopes get a stamp here; without one a
scope is read from the database every time, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from integrations.store.vector_cache import new_stamp

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("search_stats", sa.Column("stamp", sa.BigInteger(), nullable=True))
    stats = sa.table("search_stats", sa.column("corpus"), sa.column("scope"), sa.column("stamp"))
    bind = op.get_bind()
    for corpus, scope in bind.execute(sa.select(stats.c.corpus, stats.c.scope)).all():
        bind.execute(
            stats.update()
            .where(stats.c.corpus == corpus, stats.c.scope == scope)
            .values(stamp=new_stamp())
        )


def downgrade() -> None:
    op.drop_column("search_stats", "stamp")
