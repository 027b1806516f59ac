"""embeddings: stored vectors for semantic retrieval and suggestions (SPEC §5.4, §5.5)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 10:00:00

`embeddings` (one vector per embedded text and model, float32 bytes). A new table only, and
empty: vectors are computed when the model is configured, the first time a search needs them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("corpus", sa.String(length=16), nullable=False),
        sa.Column("source_id", _ID, autoincrement=False, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=40), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("corpus", "source_id", "model"),
    )


def downgrade() -> None:
    op.drop_table("embeddings")
