"""Learning who answers what (SPEC §6.4): the evidence, and expertise ranked from it.

Evidence is one `Evidence` row per (answered question, person of the organisation): a
colleague's reply in a customer thread, the approver of a posted draft, a pull-in that the
colleague then answered, or a past thread read by `triage backfill`. Each person's index is
the questions they answered, all of them: the history search's `expertise` corpus
(`integrations/store/search_index.py`, written as evidence is stored). A request's words are
ranked against them with BM25+ read from that index's postings, without BM25+'s constant
(every answer's share of it would make five weak matches outweigh three close ones), each
answer weighted by how it was received (👍/👎, reopened) and by its age, and a person's
expertise is the sum of their best few answers.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from integrations.store.models import Draft, Evidence, Request
from integrations.store.search_index import EXPERTISE, among, chunks
from integrations.store.search_rank import Matches, bm25_plus, matches
from integrations.store.search_terms import is_cjk, stemmed, term_key, tokens
from workers.retrieval import MIN_SHARED_TERMS
from workers.semantic import Query, fuse, similarities

log = structlog.get_logger(__name__)

BEST_ANSWERS = 5  # a person's expertise is the sum of their best few similar answers
SIMILAR_SHARE = 0.4  # an answer counts as "similar" above this share of the best one's score


@dataclass(frozen=True)
class Answer:
    """One answered question the search found, as the ranking sees it."""

    evidence_id: int
    user_id: str
    score: float  # BM25+ × share × feedback × recency
    answered_at: datetime
    terms: frozenset[str]  # the request's words it holds (index keys)
    up: int = 0


@dataclass(frozen=True)
class Expertise:
    """How well a person answered questions like this one."""

    user_id: str
    score: float
    similar: int
    up: int
    topic: str


def record_answer(
    session: Session,
    request: Request,
    *,
    user_id: str,
    kind: str,
    answer: str = "",
    draft_id: int | None = None,
) -> None:
    """Record that `user_id` answered `request` (kind `reply` or `approval`); idempotent.

    A pull-in of the same person on the same request becomes an answered one: the pull-in
    was right, and that is evidence too."""
    key = f"request:{request.id}"
    row = session.scalars(
        select(Evidence).where(Evidence.source_key == key, Evidence.user_id == user_id)
    ).first()
    now = datetime.now(UTC)
    if row is None:
        row = Evidence(source_key=key, user_id=user_id, kind=kind)
        try:
            with session.begin_nested():
                session.add(row)
                _fill(row, request, kind, answer, draft_id, now)
        except IntegrityError:  # recorded a moment ago by another process
            return
    elif not row.answered or row.kind == "pull_in":
        _fill(row, request, kind, answer, draft_id, now)
    elif answer and answer not in row.answer:  # a second reply of the same person
        row.answer = f"{row.answer}\n{answer}".strip()
    log.info("expertise.recorded", request_id=request.id, user=user_id, kind=kind)


def _fill(
    row: Evidence, request: Request, kind: str, answer: str, draft_id: int | None, at: datetime
) -> None:
    row.kind, row.answered, row.answered_at, row.answer = kind, True, at, answer
    row.channel_id, row.request_id = request.channel_id, request.id
    row.draft_id = draft_id or row.draft_id
    row.question = request.text


def record_pull_in(session: Session, request: Request, *, user_id: str, by: str) -> bool:
    """Record that `by` pulled `user_id` in on `request`; False when already recorded."""
    key = f"request:{request.id}"
    exists = session.scalars(
        select(Evidence.id).where(Evidence.source_key == key, Evidence.user_id == user_id)
    ).first()
    if exists is not None:
        return False
    session.add(
        Evidence(
            source_key=key,
            user_id=user_id,
            kind="pull_in",
            channel_id=request.channel_id,
            request_id=request.id,
            question=request.text,
            answered=False,
            pulled_in_by=by,
        )
    )
    return True


def expertise_for(
    session: Session,
    query: str,
    *,
    half_life_days: float,
    now: datetime,
    meaning: Query | None = None,
) -> dict[str, Expertise]:
    """Each person who answered similar questions, with a score normalised to the best (1.0).

    Every answered question is searched (the index's `expertise` corpus), reading only the
    postings of the request's words, and, given the question's vector (`meaning`), every
    stored vector of those questions, across accounts (`semantic.fuse`: nothing of another
    account reaches the card, only a person and the request's own words); each answer found
    is weighed by its feedback, whether its thread was reopened, and its age."""
    words = tokens(stemmed(query))
    found = matches(session, EXPERTISE, "", words)
    scores = dict(bm25_plus(words, found, MIN_SHARED_TERMS, constant=False))
    if meaning is not None:
        near = similarities(session, meaning, EXPERTISE, "")
        scores = fuse(scores, near, meaning.min_cosine)
    answers = _weighed(session, scores, found, half_life_days, now)
    if not answers or answers[0].score <= 0:
        return {}
    best = answers[0].score
    per_person: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        per_person[answer.user_id].append(answer)
    spelled = {term_key(w): w for w in words}
    idf = {
        spelled[term]: math.log((found.documents + 1) / (count + 0.5))
        for term, count in found.df().items()
    }
    totals = {user: sum(a.score for a in hits[:BEST_ANSWERS]) for user, hits in per_person.items()}
    top = max(totals.values())
    ranked: dict[str, Expertise] = {}
    for user, hits in per_person.items():
        similar = [a for a in hits if a.score >= SIMILAR_SHARE * best] or hits[:1]
        ranked[user] = Expertise(
            user_id=user,
            score=totals[user] / top,
            similar=len(similar),
            up=sum(a.up for a in similar),
            topic=_topic(query, [{spelled[t] for t in a.terms} for a in similar], idf),
        )
    return ranked


def _weighed(
    session: Session, scores: dict[int, float], found: Matches, half_life_days: float, now: datetime
) -> list[Answer]:
    """The answers found, each scored by BM25 × its weight, best first (on a tie, the
    newest, as when they were ranked in memory newest first). One query per chunk reads each
    answer's weighing: its feedback (the draft's counts read in place, not parsed per row) and
    whether its thread was reopened."""
    feedback = Draft.details["feedback"]
    answers = []
    for chunk in chunks(scores, size=1000):
        rows = session.execute(
            select(
                Evidence.id,
                Evidence.user_id,
                Evidence.share,
                Evidence.up + func.coalesce(feedback["up"].as_integer(), 0),
                Evidence.down + func.coalesce(feedback["down"].as_integer(), 0),
                or_(Evidence.reopened, _reopened(Evidence.request_id)),
                Evidence.answered_at,
            )
            .outerjoin(Draft, Draft.id == Evidence.draft_id)
            .where(among(session, Evidence.id, chunk), Evidence.answered.is_(True))
        )
        for evidence_id, user_id, share, up, down, again, answered_at in rows:
            weight = (
                share * feedback_weight(up, down, again) * decay(answered_at, now, half_life_days)
            )
            if weight > 0:
                terms = frozenset(found.terms.get(evidence_id, ()))  # none: by meaning
                score = scores[evidence_id] * weight
                answers.append(Answer(evidence_id, user_id, score, answered_at, terms, up))
    answers.sort(key=lambda a: (-a.score, -a.answered_at.timestamp(), a.evidence_id))
    return answers


def _reopened(request_id: Any) -> Any:
    """Whether the customer came back in the request's thread after the answer: a later
    request opened in that thread. A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL
    may turn an EXISTS into one hash of every thread of every request, which is slower than
    a look-up per answer found."""
    asked, later = aliased(Request), aliased(Request)
    first = (
        select(later.id)
        .join(
            asked,
            and_(
                asked.channel_id == later.channel_id,
                asked.thread_ts == later.thread_ts,
                later.created_at > asked.created_at,
            ),
        )
        .where(asked.id == request_id)
        .limit(1)
    )
    return first.scalar_subquery().is_not(None)


def feedback_weight(up: int, down: int, reopened: bool) -> float:
    """👍 raise an answer, 👎 lower it, a reopened thread lowers it: it still shows the
    person knows the subject, so nothing drops to zero."""
    weight = (1.0 + 0.25 * min(up, 4)) * math.pow(0.5, min(down, 3))
    return weight * (0.6 if reopened else 1.0)


def decay(at: datetime | None, now: datetime, half_life_days: float) -> float:
    """Halves every `half_life_days`."""
    if at is None:
        return 1.0
    days = max(0.0, (now - at).total_seconds() / 86400)
    return math.pow(0.5, days / half_life_days)


def _topic(query: str, documents: list[set[str]], idf: dict[str, float]) -> str:
    """The one or two words of the question that this person's similar answers share most
    (`documents`: the question's words each answer holds)."""
    counts: Counter[str] = Counter()
    for terms in documents:
        counts.update(terms & idf.keys())
    need = 2 if len(documents) > 2 else 1
    lowered = query.lower()
    scored = sorted(  # the most telling first; on a tie, the one the customer wrote first
        ((count * idf[term], term) for term, count in counts.items() if count >= need),
        key=lambda pair: (-pair[0], lowered.find(pair[1])),
    )
    words = [_as_written(query, term) for _, term in scored[:2]]
    return " and ".join(words)


def _as_written(query: str, term: str) -> str:
    """The term as the customer wrote it ("SAML", not "saml"); a Chinese or Japanese
    piece as it is (its neighbours are not the rest of a word)."""
    if is_cjk(term):
        return term
    match = re.search(rf"\b{re.escape(term)}\w*", query, flags=re.IGNORECASE)
    return match.group(0) if match else term


def expertise_phrase(found: Expertise | None) -> str | None:
    """ "answered 6 similar questions about SAML (4 👍)", or None without expertise."""
    if found is None:
        return None
    noun = "question" if found.similar == 1 else "questions"
    about = f" about {found.topic}" if found.topic else ""
    thumbs = f" ({found.up} 👍)" if found.up else ""
    return f"answered {found.similar} similar {noun}{about}{thumbs}"


def evidence_rows(session: Session, source_keys: list[str]) -> set[tuple[str, str]]:
    """The (source, person) pairs already learned, of these sources."""
    found: set[tuple[str, str]] = set()
    for chunk in range(0, len(source_keys), 500):
        keys = source_keys[chunk : chunk + 500]
        found.update(
            (row[0], row[1])
            for row in session.execute(
                select(Evidence.source_key, Evidence.user_id).where(Evidence.source_key.in_(keys))
            )
        )
    return found


def index_snapshot(session: Session) -> list[dict[str, Any]]:
    """The learned evidence in a stable order, to compare two backfills."""
    rows = session.scalars(select(Evidence).order_by(Evidence.source_key, Evidence.user_id))
    return [
        {
            "source": r.source_key,
            "user": r.user_id,
            "kind": r.kind,
            "question": r.question,
            "answer": r.answer,
            "share": round(r.share, 6),
            "up": r.up,
            "down": r.down,
            "reopened": r.reopened,
            "answered_at": r.answered_at.isoformat(),
        }
        for r in rows
    ]
