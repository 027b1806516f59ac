"""Grounding for a draft: the most similar approved answers of *this* account, then the
knowledge base (`KNOWLEDGE_DIR`, Markdown), ranked with BM25+.

Past answers are searched through the index (`integrations/store/search_index.py`), all of
them however old, reading only the postings of the question's words; each is then weighed by
its feedback and age, read back from the drafts themselves.

With an embedding model (`workers/semantic.py`), a request's question also comes as a vector
(`Query`), and candidates are found by meaning as well as by words, scored by `fuse`: cosine
first, BM25 second. The vectors compared are those of the same scope's documents, read
through the same index rows, so a vector widens what is found within the tenant, never
across it. Without one (no model, or embedding failed), the ranking is BM25's alone.

Tenant isolation is by construction: the index is searched in the request's `Scope` only, the
answers found are read back with the same account filter, and a `Grounding` carries the scope
it was built for, which the drafter checks against the request before any of it goes into a
prompt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from rank_bm25 import BM25Plus
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.models import Draft, DraftStatus, Request
from integrations.store.search_index import ANSWERS, among, chunks, customer_words
from integrations.store.search_rank import bm25_plus, matches
from integrations.store.search_terms import tokens
from workers.semantic import Query, fuse, passage_similarities, similarities
from workers.stage_data import Feedback, RequestContext, details_of

HALF_LIFE_DAYS = 180  # an answer's weight halves every six months
MIN_SHARED_TERMS = 2  # a candidate must share at least this many terms with the question


@dataclass(frozen=True)
class Scope:
    """The one tenant whose past conversations a request may be grounded on."""

    account_key: str

    @classmethod
    def for_request(cls, channel_id: str, context: RequestContext | None) -> Scope:
        """The linked account when known, else the customer's channel."""
        account = context.account if context is not None and context.status == "ok" else None
        if account is not None and account.id:
            return cls(f"account:{account.id}")
        return cls(f"channel:{channel_id}")


@dataclass(frozen=True)
class Example:
    question: str
    answer: str
    request_id: int
    approved_at: datetime
    score: float
    weight: float = 1.0
    liked: bool = False  # at least one 👍, and no 👎 (which would have excluded it)

    @property
    def age(self) -> str:
        days = (datetime.now(UTC) - self.approved_at).days
        return "today" if days < 1 else f"{days} days ago"


@dataclass(frozen=True)
class Passage:
    source: str  # file and heading
    text: str
    score: float


@dataclass
class Grounding:
    scope: Scope
    examples: list[Example] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)


def retrieve(
    session: Session,
    scope: Scope,
    query: str,
    *,
    exclude_request: int,
    knowledge_dir: str | None,
    examples: int = 3,
    passages: int = 2,
    meaning: Query | None = None,
) -> Grounding:
    """The best approved answers of this scope, then the best knowledge-base passages;
    `meaning`: the question's vector (`semantic.prepare`), when there is one."""
    grounding = Grounding(scope)
    grounding.examples = _similar_answers(session, scope, query, exclude_request, examples, meaning)
    if knowledge_dir:
        kb = knowledge_base(knowledge_dir)
        near = None
        if meaning is not None:
            cosines = passage_similarities(session, meaning, [t for _, t in kb.passages])
            near = (cosines, meaning.min_cosine)
        grounding.passages = kb.search(query, passages, near=near)
    return grounding


def _similar_answers(
    session: Session, scope: Scope, query: str, exclude: int, limit: int, meaning: Query | None
) -> list[Example]:
    """Every approved answer of the scope sharing enough words with the question (or, with
    a vector, close enough in meaning), scored by BM25+ over the scope's answers (or `fuse`),
    times its feedback and age; the best `limit`."""
    words = tokens(query)
    found = matches(session, ANSWERS, scope.account_key, words, exclude_request=exclude)
    scores = dict(bm25_plus(words, found, MIN_SHARED_TERMS))
    if meaning is not None:
        near = similarities(session, meaning, ANSWERS, scope.account_key, exclude_request=exclude)
        scores = fuse(scores, near, meaning.min_cosine)
    ranked: list[tuple[float, int, int, Example]] = []
    for chunk in chunks(scores, size=5000):
        for draft_id, request_id, answer, decided_at, details in session.execute(
            select(Draft.id, Request.id, Draft.posted_text, Draft.decided_at, Draft.details)
            .join(Request, Request.id == Draft.request_id)
            .where(
                among(session, Draft.id, chunk),
                Request.account_key == scope.account_key,  # the tenant boundary, again
                Request.id != exclude,
                Draft.status == DraftStatus.APPROVED,
                Draft.posted_ts.is_not(None),
            )
        ):
            feedback = details_of(details).feedback
            weight = _feedback_weight(feedback) * _recency(decided_at)
            if weight > 0 and answer:
                score = scores[draft_id] * weight
                approved = decided_at or datetime.now(UTC)
                example = Example(
                    "", answer, request_id, approved, score, weight, bool(feedback.up)
                )
                ranked.append((-score, -request_id, draft_id, example))
    ranked.sort(key=lambda row: row[:3])  # on a tie, the newer request first, as before
    best = [example for *_, example in ranked[:limit]]
    questions = customer_words(session, [e.request_id for e in best])
    return [replace(e, question=questions.get(e.request_id, "")) for e in best]


def _feedback_weight(feedback: Feedback) -> float:
    """👍 raise an answer, any 👎 removes it (the counts are kept by the feedback feature)."""
    if feedback.down > 0:
        return 0.0
    return 1.0 + 0.5 * min(feedback.up, 4)


def _recency(at: datetime | None) -> float:
    if at is None:
        return 1.0
    days = max(0.0, (datetime.now(UTC) - at).total_seconds() / 86400)
    return math.pow(0.5, days / HALF_LIFE_DAYS)


def _rank(
    query: str,
    documents: list[str],
    weights: list[float],
    limit: int,
    near: tuple[list[float], float] | None = None,
) -> list[tuple[int, float]]:
    """Indexes of the best documents sharing enough terms with the query (or, given each
    document's cosine with it and the model's least cosine (`near`), close enough in
    meaning: `fuse`), best first."""
    query_terms = tokens(query)
    corpus = [tokens(d) for d in documents]
    if not query_terms or not any(corpus):
        return []
    scores = BM25Plus([c or ["∅"] for c in corpus]).get_scores(query_terms)
    wanted = set(query_terms)
    needed = min(MIN_SHARED_TERMS, len(wanted))
    found = {
        i: float(scores[i]) for i, doc in enumerate(corpus) if len(wanted & set(doc)) >= needed
    }
    if near is not None:
        cosines, min_cosine = near
        found = fuse(found, dict(enumerate(cosines)), min_cosine)
    ranked = [(i, score * weights[i]) for i, score in found.items()]
    ranked.sort(key=lambda pair: pair[1], reverse=True)
    return ranked[:limit]


class KnowledgeBase:
    """Markdown files split into passages at their headings, searchable with BM25."""

    def __init__(self, folder: Path) -> None:
        self.passages: list[tuple[str, str]] = []
        for path in sorted(folder.rglob("*.md")):
            self.passages.extend(_split(path, folder))

    def search(
        self, query: str, limit: int, near: tuple[list[float], float] | None = None
    ) -> list[Passage]:
        texts = [text for _, text in self.passages]
        ranked = _rank(query, texts, [1.0] * len(texts), limit, near)
        return [Passage(self.passages[i][0], self.passages[i][1], s) for i, s in ranked]


def knowledge_base(folder: str) -> KnowledgeBase:
    """The knowledge base of `folder`, re-read when a file in it changes."""
    path = Path(folder)
    stamp = tuple((str(p), p.stat().st_mtime) for p in sorted(path.rglob("*.md")))
    return _load(str(path), stamp)


@lru_cache(maxsize=4)
def _load(folder: str, stamp: tuple[tuple[str, float], ...]) -> KnowledgeBase:
    return KnowledgeBase(Path(folder))


def _split(path: Path, root: Path, limit: int = 1500) -> list[tuple[str, str]]:
    sections: list[tuple[str, str]] = []
    heading, lines = path.stem, list[str]()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            if "".join(lines).strip():
                sections.append((heading, "\n".join(lines).strip()))
            heading, lines = line.lstrip("# ").strip() or heading, []
        else:
            lines.append(line)
    if "".join(lines).strip():
        sections.append((heading, "\n".join(lines).strip()))
    name = str(path.relative_to(root))
    return [(f"{name} › {h}", f"{h}\n{text}"[:limit]) for h, text in sections]
