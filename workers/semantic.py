"""Semantic search (SPEC §5.4 retrieval, §5.5 suggestions): vectors beside BM25's words.

With an embedding model (`Deps.embedder`: OPENAI_API_KEY and EMBEDDING_MODEL), `prepare`
embeds, outside any transaction, what a request's searches will compare: the request's own
question (once per request: stored under `requests`, so a redraft or the suggestion stage
reads it back) and those documents of the one scope searched that have no current vector yet
(at most `MAX_NEW` a request, newest first; the rest on later requests), and the
knowledge-base passages likewise. Everything is stored (`integrations/store/embeddings.py`)
and computed once per text. The searches then read the scope's vectors and compare them here
with numpy (`similarities`), and `fuse` mixes cosine and BM25.

The scope is the caller's: retrieval passes the request's tenant, as for BM25; suggestions
pass the expertise corpus's one scope. Any failure of the embedding call (OpenAI down, a
timeout) makes `prepare` return None: the searches are then BM25 alone, as without a model,
and a draft never waits on or fails for a vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from integrations.llm import Embedder, ModelUnavailable
from integrations.store.db import transaction
from integrations.store.embeddings import (
    KNOWLEDGE,
    QUESTIONS,
    digest,
    digest_id,
    document_texts,
    save,
    scope_vectors,
    stored,
    unit,
)
from integrations.store.models import Request
from integrations.store.search_models import SearchStats
from integrations.store.vector_cache import VectorCache

log = structlog.get_logger(__name__)

MAX_NEW = 256  # documents embedded for one request at most
# Documents of one scope compared in-process at most: beyond it, words alone (and a warning).
# Every request reads the scope's vectors from the database and stacks them: 10,000 of
# text-embedding-3's took 0.37 s and 59 MiB (docs/ARCHITECTURE.md, "Embeddings"); the
# organisation-wide expertise corpus of a two-year history holds 50,000. Until the vectors are
# kept in the worker's memory, a large scope must not cost every request that.
MAX_SCOPE = 20_000
SEMANTIC_TOP = 20  # documents taken by meaning alone, at most, before weighing
BM25_SHARE = 0.25  # the part of a fused score that BM25 gives (normalised to the best)


@dataclass(frozen=True)
class Query:
    """A request's question as a vector of `model` (length 1); below `min_cosine` (the
    model's own scale) a document is not similar by meaning."""

    model: str
    vector: np.ndarray
    min_cosine: float
    cache: VectorCache | None = None  # the process's copies of scopes' vectors


def prepare(
    sessions: sessionmaker[Session],
    embedder: Embedder | None,
    request_id: int,
    corpus: str,
    scope: str,
    *,
    exclude_request: int | None = None,
    passages: Sequence[str] = (),
    cache: VectorCache | None = None,
) -> Query | None:
    """The request's question as a vector, with every document it will be compared with in
    `corpus`/`scope` (and the knowledge-base `passages`) embedded and stored; None without
    an embedding model or when embedding failed (then the searches use words alone).
    `cache`: the process's copies of scopes' vectors, read through here and by the searches
    this query is given to (without one, each reads the database)."""
    if embedder is None:
        return None
    model = embedder.embedding_model
    with transaction(sessions) as session:
        size = session.scalar(  # kept by the index's writes: no count over the scope
            select(SearchStats.documents).where(
                SearchStats.corpus == corpus, SearchStats.scope == scope
            )
        )
        if (size or 0) > MAX_SCOPE:
            _too_large(corpus, scope, size or 0)
            return None
        question = session.get_one(Request, request_id).text or ""
        asked = digest(question)
        known = stored(session, QUESTIONS, model, {request_id: asked}).get(request_id)
        scoped = scope_vectors(
            session,
            corpus,
            scope,
            model,
            exclude_request=exclude_request,
            missing_only=True,
            cache=cache,
        )
        missing = scoped.missing[::-1][:MAX_NEW]  # newest first
        documents = document_texts(session, corpus, missing) if missing else []
        wanted = {digest_id(d): d for d in (digest(p) for p in passages)}
        have = stored(session, KNOWLEDGE, model, wanted) if wanted else {}
        texts = {digest(p): p for p in passages if digest_id(digest(p)) not in have}
    if not question.strip():
        return None
    new_passages = [(digest_id(d), d, text) for d, text in texts.items()]
    asks = known is None  # the question is embedded only once
    batch = ([question] if asks else []) + [t for *_, t in documents + new_passages]
    if batch:
        try:
            vectors = embedder.embed(batch)
        except ModelUnavailable as exc:
            log.warning("semantic.unavailable", request_id=request_id, reason=str(exc))
            return None
        if asks:
            known = unit(vectors.pop(0))
            asked_row = [(request_id, asked, known)]
        n = len(documents)
        with transaction(sessions) as session:
            if asks:
                save(session, QUESTIONS, model, asked_row)
            ours = zip(documents, vectors[:n], strict=True)
            save(session, corpus, model, [(s, d, v) for (s, d, _), v in ours])
            rest = zip(new_passages, vectors[n:], strict=True)
            save(session, KNOWLEDGE, model, [(s, d, v) for (s, d, _), v in rest])
        log.info("semantic.embedded", request_id=request_id, texts=len(batch), corpus=corpus)
    return Query(model, unit(known), embedder.min_cosine, cache) if known is not None else None


_warned: set[tuple[str, str]] = set()


def _too_large(corpus: str, scope: str, size: int) -> None:
    """Say once per process and scope that it is searched by words alone."""
    if (corpus, scope) not in _warned:
        _warned.add((corpus, scope))
        log.warning(
            "semantic.scope_too_large", corpus=corpus, scope=scope, documents=size, most=MAX_SCOPE
        )


def request_vectors(
    sessions: sessionmaker[Session], embedder: Embedder | None, request_ids: Sequence[int]
) -> dict[int, np.ndarray]:
    """The questions of these requests as unit vectors, each embedded once and stored (as
    `prepare` stores a request's own); {} without an embedding model or when embedding
    failed (then incidents compare words alone)."""
    if embedder is None or not request_ids:
        return {}
    model = embedder.embedding_model
    with transaction(sessions) as session:
        requests = session.scalars(
            select(Request)
            .where(Request.id.in_(request_ids))
            .options(selectinload(Request.messages))
        )
        texts = {request.id: request.text for request in requests}
        wanted = {rid: digest(text or "") for rid, text in texts.items() if (text or "").strip()}
        found = stored(session, QUESTIONS, model, wanted)
    missing = [rid for rid in wanted if rid not in found]
    if missing:
        try:
            vectors = embedder.embed([texts[rid] for rid in missing])
        except ModelUnavailable as exc:
            log.warning("semantic.unavailable", requests=len(missing), reason=str(exc))
            return {}
        rows = [(rid, wanted[rid], unit(v)) for rid, v in zip(missing, vectors, strict=True)]
        with transaction(sessions) as session:
            save(session, QUESTIONS, model, rows)
        found.update({rid: vector for rid, _, vector in rows})
    return {rid: unit(vector) for rid, vector in found.items()}


def similarities(
    session: Session, query: Query, corpus: str, scope: str, *, exclude_request: int | None = None
) -> dict[int, float]:
    """Cosine of the question with each document of `scope` that has a current vector."""
    found = scope_vectors(
        session, corpus, scope, query.model, exclude_request=exclude_request, cache=query.cache
    )
    if not found.ids or found.matrix.shape[1] != query.vector.shape[0]:
        return {}
    cosines = found.matrix @ query.vector
    return dict(zip(found.ids, (float(c) for c in cosines), strict=True))


def passage_similarities(session: Session, query: Query, passages: Sequence[str]) -> list[float]:
    """Cosine of the question with each knowledge-base passage (0 where none is stored)."""
    wanted = {digest_id(d): d for d in (digest(p) for p in passages)}
    vectors = stored(session, KNOWLEDGE, query.model, wanted)
    out = []
    for text in passages:
        vector = vectors.get(digest_id(digest(text)))
        same = vector is not None and vector.shape == query.vector.shape
        out.append(float(vector @ query.vector) if same and vector is not None else 0.0)
    return out


def fuse(bm25: dict[int, float], cosines: dict[int, float], min_cosine: float) -> dict[int, float]:
    """One score per document found by words (BM25, at least two shared terms) or by meaning
    (cosine at least `min_cosine`, the `SEMANTIC_TOP` best): its cosine, plus `BM25_SHARE`
    of its BM25 score relative to the best one's. Cosine leads (a paraphrase shares few
    words); BM25 breaks near-ties towards the answer that also shares the words."""
    by_meaning = sorted(((c, i) for i, c in cosines.items() if c >= min_cosine), reverse=True)[
        :SEMANTIC_TOP
    ]
    best = max(bm25.values(), default=0.0)
    chosen = set(bm25) | {i for _, i in by_meaning}
    return {
        i: (1 - BM25_SHARE) * max(cosines.get(i, 0.0), 0.0)
        + (BM25_SHARE * bm25[i] / best if i in bm25 and best > 0 else 0.0)
        for i in chosen
    }
