"""The tables of the history search (`integrations/store/search_index.py`).

Two corpora share them: `answers` (each approved, posted answer, searched only within its
tenant, `scope` = the request's `account_key`) and `expertise` (each answered question of
`expertise_evidence`, searched across accounts, `scope` ""). A document's postings are its
terms and how often each occurs; `search_stats` keeps each scope's document count and total
length. With those, BM25 needs only the postings of a query's terms, however long the history.

They are part of `Base.metadata` because `integrations/store/__init__.py` imports this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from integrations.store.models import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class SearchDocument(Base):
    """One searchable text: `source_id` is the draft (answers) or the evidence row (expertise).

    No foreign key: the index is written when its sources change, and a source that is gone
    is never returned (every search reads its results back from the source rows)."""

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_request", "corpus", "request_id"),
        Index("ix_search_documents_scope", "corpus", "scope", "source_id"),  # a tenant's
    )

    corpus: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=False)
    scope: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int | None] = mapped_column(_ID)
    length: Mapped[int]  # its number of terms (1 for a text without any, as rank-bm25 counted)
    digest: Mapped[str] = mapped_column(String(40))  # what it was indexed from


class SearchPosting(Base):
    """A term of a document, with its frequency there and the document's length."""

    __tablename__ = "search_postings"
    __table_args__ = (
        Index(
            "ix_search_postings_term",
            "corpus",
            "scope",
            "term",
            postgresql_include=["source_id", "tf", "length"],
        ),
    )

    corpus: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=False)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    tf: Mapped[int]
    length: Mapped[int]  # the document's, so that scoring reads the postings alone


class SearchStats(Base):
    """How many documents a scope holds and their total length (BM25's N and average), and
    the stamp of its latest change."""

    __tablename__ = "search_stats"

    corpus: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    documents: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    # Written anew (random) with every change to the scope's documents or their vectors:
    # a process's copy of the scope's vectors is current while it is the same (vector_cache)
    stamp: Mapped[int | None] = mapped_column(BigInteger)


class Embedding(Base):
    """A text's vector from `model` (docs/ARCHITECTURE.md, "Embeddings"), float32 bytes.

    `corpus` and `source_id` name what was embedded: `answers` and `expertise` as in
    `search_documents` (its `digest` then is the document's digest when embedded: a vector
    whose digest differs is stale, and its scope is the document's, read from there),
    `requests` a request's own question, `knowledge` a knowledge-base passage (its
    `source_id` the first 60 bits of the passage's digest). No scope here: a search reads its
    documents through `search_documents`' scope, as BM25 does, and a vector alone says nothing
    of whose it is. Deleted with its document (`search_index._apply`) or its request's text."""

    __tablename__ = "embeddings"

    corpus: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=False)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(40))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class ExpertiseChange(Base):
    """An answered question whose terms or weighing may have changed (its evidence row, its
    draft's feedback, a later request in its thread). Each process keeps the expertise corpus
    in memory (`integrations/store/expertise_index.py`) and reads these to stay current;
    written in the transaction that made the change, kept a day (`sweeper`)."""

    __tablename__ = "expertise_changes"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(_ID)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
