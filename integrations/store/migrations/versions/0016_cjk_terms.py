"""search index: Chinese and Japanese as two-character terms

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:00:00

`search_terms.tokens` read a run of Chinese or Japanese characters (written without spaces)
as one word, so a question in Chinese matched no past answer or question unless it was the
same sentence. It now reads such a run as its overlapping two-character pieces, for what is
indexed and what is asked alike. The postings of documents with such text were written with
the old terms: this re-indexes every answer and answered question, rewriting only the
documents whose terms changed (`refresh`); the others keep their digest, so their stored
vectors stay current. Nothing to do on an empty database; on a large one it reads every
document's text once. No schema change.
"""

from __future__ import annotations

from alembic import op

from integrations.store.search_index import refresh

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    refresh(op.get_bind(), stamp=False)  # search_stats has no stamp until 0019


def downgrade() -> None:
    """The older code reads the index with its own tokenizer: an index in the new terms
    would find nothing in Chinese for it, as before, and English is unchanged. Nothing to
    undo in the schema."""
