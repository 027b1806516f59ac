"""Stored vectors (`embeddings`, `search_models.Embedding`): each text embedded once per model.

Vectors are float32 bytes, normalised to length 1 when read, so a dot product is a cosine.
A search reads one scope's documents through `search_documents` (the same rows, and so the
same tenant boundary, as BM25), each with its stored vector when that vector was computed
from the document as it is now (same digest); the others are `missing`, for the caller to
embed and `save`. Nothing here calls a model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from integrations.store.models import Evidence
from integrations.store.search_index import (
    ANSWERS,
    EXPERTISE,
    KNOWLEDGE,
    QUESTIONS,
    chunks,
    customer_words,
)
from integrations.store.search_models import Embedding, SearchDocument, SearchStats
from integrations.store.vector_cache import ScopeVectors, VectorCache, new_stamp

__all__ = ["ANSWERS", "EXPERTISE", "KNOWLEDGE", "QUESTIONS", "ScopeVectors"]


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


def digest_id(text_digest: str) -> int:
    """A stable id for a text without one (a knowledge-base passage): 60 bits of its digest."""
    return int(text_digest[:15], 16)


def pack(vector: Sequence[float] | np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """`vector` as float32 of length 1 (zeros stay zeros)."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


def scope_vectors(
    session: Session,
    corpus: str,
    scope: str,
    model: str,
    *,
    exclude_request: int | None = None,
    missing_only: bool = False,
    cache: VectorCache | None = None,
) -> ScopeVectors:
    """The documents of `scope` in `corpus` (`answers` or `expertise`), never those of
    `exclude_request`, with their current vectors from `model`; `missing_only`: only those
    without one (no vector is read). With `cache`, the process's copy of the scope while
    the scope is unchanged (`vector_cache.py`)."""
    if cache is None:
        return _read(session, corpus, scope, model, exclude_request, missing_only)
    whole = cache.scope(
        session, corpus, scope, model, lambda: _read(session, corpus, scope, model, None, False)
    )
    return whole.without(exclude_request, missing_only=missing_only)


def _read(
    session: Session,
    corpus: str,
    scope: str,
    model: str,
    exclude_request: int | None,
    missing_only: bool,
) -> ScopeVectors:
    query = (
        select(
            SearchDocument.source_id,
            SearchDocument.request_id,
            SearchDocument.digest,
            Embedding.digest,
            literal(None) if missing_only else Embedding.vector,
        )
        .outerjoin(
            Embedding,
            and_(
                Embedding.corpus == SearchDocument.corpus,
                Embedding.source_id == SearchDocument.source_id,
                Embedding.model == model,
            ),
        )
        .where(SearchDocument.corpus == corpus, SearchDocument.scope == scope)
        .order_by(SearchDocument.source_id)
    )
    if exclude_request is not None:
        query = query.where(SearchDocument.request_id.is_distinct_from(exclude_request))
    if missing_only:
        query = query.where(
            or_(Embedding.digest.is_(None), Embedding.digest != SearchDocument.digest)
        )
    found = ScopeVectors()
    rows: list[np.ndarray] = []
    for source_id, request_id, current, embedded, blob in session.execute(query):
        if blob is not None and embedded == current:
            found.ids.append(source_id)
            found.request_ids.append(request_id)
            rows.append(np.frombuffer(blob, dtype="<f4"))
        elif embedded != current:
            found.missing.append((source_id, request_id, current))
    found.matrix = _stacked(rows)
    return found


def _stacked(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of one length (a model's), each normalised; others (another size) left out."""
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    size = len(rows[-1])
    matrix = np.vstack([r if len(r) == size else np.zeros(size, np.float32) for r in rows])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def document_texts(
    session: Session, corpus: str, missing: Iterable[tuple[int, int | None, str]]
) -> list[tuple[int, str, str]]:
    """(source id, digest, text) of documents to embed: an answer's question (the customer's
    messages, as indexed), or an answered question of the expertise evidence."""
    missing = list(missing)
    if corpus == ANSWERS:
        texts = customer_words(session, [r for _, r, _ in missing if r is not None])
        return [(s, d, texts[r]) for s, r, d in missing if r in texts and texts[r].strip()]
    if corpus == EXPERTISE:
        digests = {s: d for s, _, d in missing}
        out = []
        for chunk in chunks(digests):
            for source_id, question in session.execute(
                select(Evidence.id, Evidence.question).where(Evidence.id.in_(chunk))
            ):
                if question and question.strip():
                    out.append((source_id, digests[source_id], question))
        return sorted(out)
    raise ValueError(f"no documents in corpus {corpus!r}")


def stored(
    session: Session, corpus: str, model: str, wanted: dict[int, str]
) -> dict[int, np.ndarray]:
    """The vectors of these sources ({source id: digest}) whose digest is still that one."""
    found: dict[int, np.ndarray] = {}
    for chunk in chunks(wanted):
        for source_id, text_digest, blob in session.execute(
            select(Embedding.source_id, Embedding.digest, Embedding.vector).where(
                Embedding.corpus == corpus,
                Embedding.model == model,
                Embedding.source_id.in_(chunk),
            )
        ):
            if wanted.get(source_id) == text_digest:
                found[source_id] = unit(np.frombuffer(blob, dtype="<f4"))
    return found


def save(
    session: Session,
    corpus: str,
    model: str,
    rows: Iterable[tuple[int, str, Sequence[float] | np.ndarray]],
) -> int:
    """Store (source id, digest, vector) rows, replacing older vectors of the same sources."""
    rows = list(rows)
    values = [
        {"corpus": corpus, "source_id": s, "model": model, "digest": d, "vector": pack(v)}
        for s, d, v in rows
    ]
    if not values:
        return 0
    bind = session.get_bind()
    upsert: Any = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    statement = upsert(Embedding)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Embedding.corpus, Embedding.source_id, Embedding.model],
            set_={"digest": statement.excluded.digest, "vector": statement.excluded.vector},
        ),
        values,
    )
    if corpus in (ANSWERS, EXPERTISE):  # a scope's vectors changed: its copies are stale
        stamp_scopes_of(session.connection(), corpus, [s for s, _, _ in rows])
    return len(values)


def stamp_scopes_of(conn: Connection, corpus: str, source_ids: Iterable[int]) -> None:
    """Stamp the scopes these documents are in: their vectors changed."""
    scopes: set[str] = set()
    for chunk in chunks(source_ids):
        scopes.update(
            conn.scalars(
                select(SearchDocument.scope)
                .where(SearchDocument.corpus == corpus, SearchDocument.source_id.in_(chunk))
                .distinct()
            )
        )
    for scope in sorted(scopes):  # in one order, as `_apply`'s counts
        conn.execute(
            update(SearchStats)
            .where(SearchStats.corpus == corpus, SearchStats.scope == scope)
            .values(stamp=new_stamp())
        )
