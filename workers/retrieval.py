"""Grounding for a draft: the most similar approved answers of *this* account, then the
knowledge base (`KNOWLEDGE_DIR`, Markdown), ranked with BM25 (rank-bm25's BM25+).

Tenant isolation is by construction: the only query for past answers filters on the request's
`Scope`, and a `Grounding` carries the scope it was built for, which the drafter checks
against the request before any of it goes into a prompt.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from rank_bm25 import BM25Plus
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.models import Draft, DraftStatus, Request, RequestMessage
from workers.stage_data import Feedback, RequestContext, details_of

HALF_LIFE_DAYS = 180  # an answer's weight halves every six months
MIN_SHARED_TERMS = 2  # a candidate must share at least this many terms with the question
_STOP_WORDS = """a an and are as at be but by can could do does for from have how i if in is it
its me my no not of on or our please so that the their them then there these this to us was we
were what when where which who why will with would you your hi hello thanks thank team"""
_STOP = frozenset(_STOP_WORDS.split())


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


def tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"\w+", text.lower()) if len(t) > 1 and t not in _STOP]


def retrieve(
    session: Session,
    scope: Scope,
    query: str,
    *,
    exclude_request: int,
    knowledge_dir: str | None,
    examples: int = 3,
    passages: int = 2,
) -> Grounding:
    """The best approved answers of this scope, then the best knowledge-base passages."""
    grounding = Grounding(scope)
    grounding.examples = _similar_answers(session, scope, query, exclude_request, examples)
    if knowledge_dir:
        grounding.passages = knowledge_base(knowledge_dir).search(query, passages)
    return grounding


def _similar_answers(
    session: Session, scope: Scope, query: str, exclude: int, limit: int
) -> list[Example]:
    rows = session.execute(
        select(Request.id, Draft.posted_text, Draft.decided_at, Draft.details)
        .join(Draft, Draft.request_id == Request.id)
        .where(
            Request.account_key == scope.account_key,  # the tenant boundary
            Request.id != exclude,
            Draft.status == DraftStatus.APPROVED,
            Draft.posted_ts.is_not(None),
        )
        .order_by(Request.id.desc())
        .limit(500)
    ).all()
    if not rows:
        return []
    questions: dict[int, list[str]] = {}
    for request_id, text in session.execute(
        select(RequestMessage.request_id, RequestMessage.text)
        .where(RequestMessage.request_id.in_([r[0] for r in rows]))
        .order_by(RequestMessage.ts)
    ):
        questions.setdefault(request_id, []).append(text)
    candidates: list[Example] = []
    for request_id, answer, decided_at, details in rows:
        feedback = details_of(details).feedback
        weight = _feedback_weight(feedback) * _recency(decided_at)
        if weight > 0 and answer:
            liked = bool(feedback.up)
            question = "\n".join(questions.get(request_id, []))
            approved = decided_at or datetime.now(UTC)
            candidates.append(Example(question, answer, request_id, approved, 0.0, weight, liked))
    ranked = _rank(query, [c.question for c in candidates], [c.weight for c in candidates], limit)
    return [replace(candidates[i], score=score) for i, score in ranked]


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
    query: str, documents: list[str], weights: list[float], limit: int
) -> list[tuple[int, float]]:
    """Indexes of the best documents sharing enough terms with the query, best first."""
    query_terms = tokens(query)
    corpus = [tokens(d) for d in documents]
    if not query_terms or not any(corpus):
        return []
    scores = BM25Plus([c or ["∅"] for c in corpus]).get_scores(query_terms)
    wanted = set(query_terms)
    needed = min(MIN_SHARED_TERMS, len(wanted))
    ranked = [
        (i, float(scores[i]) * weights[i])
        for i, doc in enumerate(corpus)
        if len(wanted & set(doc)) >= needed
    ]
    ranked.sort(key=lambda pair: pair[1], reverse=True)
    return ranked[:limit]


class KnowledgeBase:
    """Markdown files split into passages at their headings, searchable with BM25."""

    def __init__(self, folder: Path) -> None:
        self.passages: list[tuple[str, str]] = []
        for path in sorted(folder.rglob("*.md")):
            self.passages.extend(_split(path, folder))

    def search(self, query: str, limit: int) -> list[Passage]:
        texts = [text for _, text in self.passages]
        ranked = _rank(query, texts, [1.0] * len(texts), limit)
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
