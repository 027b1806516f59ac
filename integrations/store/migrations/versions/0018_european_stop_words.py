"""expertise index: Spanish, Portuguese, French, German and Italian function words

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:00:00

`search_terms.stemmed` (what expertise compares) dropped English stop words only, so a
Spanish question matched past questions by "que", "los" and "para", and a colleague's
suggestion read "answered 17 similar questions about que and las". It now drops the function
words of the languages customers write most after English, for what is indexed and what is
asked alike (retrieval's terms are unchanged). This re-indexes every answer and answered
question, rewriting only the documents whose terms changed (`refresh`, as 0016 did: here
only answered questions with such words); the others keep their digest and their stored
vectors. No schema change.
"""

from __future__ import annotations

from alembic import op

from integrations.store.search_index import refresh

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    refresh(op.get_bind(), stamp=False)  # search_stats has no stamp until 0019


def downgrade() -> None:
    """Older code asks with its own tokenizer: the function words it still asks for are
    no longer indexed, so they match nothing, which is what this change wanted. Nothing to
    undo in the schema."""
