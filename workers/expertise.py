"""Learning who answers what (SPEC §6.4): the evidence, and expertise ranked from it.

Evidence is one `Evidence` row per (answered question, person of the organisation): a
colleague's reply in a customer thread, the approver of a posted draft, a pull-in that the
colleague then answered, or a past thread read by `triage backfill`. Each person's index is
the questions they answered, all of them: the history search's `expertise` corpus
(`integrations/store/search_index.py`, written as evidence is stored), which each process
holds in memory (`integrations/store/expertise_index.py`). A request's words are ranked
against them with BM25+, without BM25+'s constant
(every answer's share of it would make five weak matches outweigh three close ones), each
answer weighted by how it was received (👍/👎, reopened) and by its age, and a person's
expertise is the sum of their best few answers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.store.expertise_index import Corpus, ExpertiseIndex, Found, bm25
from integrations.store.models import Evidence, Request
from integrations.store.search_index import EXPERTISE
from integrations.store.search_terms import is_cjk, stemmed, term_key, tokens
from workers.semantic import Query, fuse, similarities

log = structlog.get_logger(__name__)

BEST_ANSWERS = 5  # a person's expertise is the sum of their best few similar answers
# One shared word is evidence of who handles a subject ("Android", "Zendesk"; BM25's idf
# weighs a common one down), where retrieval, which quotes an answer, needs two.
SHARED_TERMS = 1
SIMILAR_SHARE = 0.4  # an answer counts as "similar" above this share of the best one's score
SORTED = 1000  # the best answers a ranking sorts (`_may_count`), with the few others that count


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
    index: ExpertiseIndex,
    half_life_days: float,
    now: datetime,
    meaning: Query | None = None,
) -> dict[str, Expertise]:
    """Each person who answered similar questions, with a score normalised to the best (1.0).

    Every answered question is searched (the process's in-memory corpus, `index`, current
    with every change committed until now), and, given the question's vector (`meaning`),
    every stored vector of those questions, across accounts (`semantic.fuse`: nothing of
    another account reaches the card, only a person and the request's own words); each
    answer found is weighed by its feedback, whether its thread was reopened, and its age."""
    words = tokens(stemmed(query))
    near = similarities(session, meaning, EXPERTISE, "") if meaning is not None else None
    with index.reading(session) as corpus:
        found = bm25(corpus, words, SHARED_TERMS)
        slots, scores = found.slots[found.matched], found.scores[found.matched]
        if meaning is not None and near is not None:
            slots, scores = _fused(corpus, slots, scores, near, meaning.min_cosine)
        weights = _weights(corpus, slots, half_life_days, now)
        kept = weights > 0
        return _ranked(corpus, found, slots[kept], scores[kept] * weights[kept], query, words)


def _fused(
    corpus: Corpus, slots: np.ndarray, scores: np.ndarray, near: dict[int, float], floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """The answers found by words or by meaning, with `semantic.fuse`'s score."""
    by_words = dict(
        zip((int(i) for i in corpus.ids[slots]), (float(s) for s in scores), strict=True)
    )
    fused = fuse(by_words, near, floor)
    at = [(slot, score) for i, score in fused.items() if (slot := corpus.slot_of(i)) is not None]
    return np.array([a for a, _ in at], dtype=np.int64), np.array([b for _, b in at])


def _weights(corpus: Corpus, slots: np.ndarray, half_life_days: float, now: datetime) -> np.ndarray:
    """Each answer's share of it × how it was received × its age."""
    received = feedback_weight(corpus.up[slots], corpus.down[slots], corpus.reopened[slots])
    days = np.maximum(0.0, (now.timestamp() - corpus.answered_at[slots]) / 86400)
    return corpus.share[slots] * received * np.power(0.5, days / half_life_days)


def _ranked(
    corpus: Corpus,
    found: Found,
    slots: np.ndarray,
    scores: np.ndarray,
    query: str,
    words: list[str],
) -> dict[str, Expertise]:
    """Each person's expertise: the sum of their best `BEST_ANSWERS`, relative to the best
    person's; their similar answers (within `SIMILAR_SHARE` of the best answer, else their
    best one), the 👍 those got, and the words those share most."""
    if not len(slots) or scores.max() <= 0:
        return {}
    counted = _may_count(corpus.user[slots], scores, len(corpus.users))
    slots, scores = slots[counted], scores[counted]
    order = np.lexsort((corpus.ids[slots], -corpus.answered_at[slots], -scores))
    slots, scores = slots[order], scores[order]  # best first; on a tie, the newest
    user, people = corpus.user[slots], len(corpus.users)
    rank = _rank_within(user)
    totals = np.bincount(user, weights=np.where(rank < BEST_ANSWERS, scores, 0.0), minlength=people)
    similar = scores >= SIMILAR_SHARE * scores[0]
    any_similar = np.bincount(user, weights=similar, minlength=people) > 0
    chosen = similar | ((rank == 0) & ~any_similar[user])
    counts = np.bincount(user, weights=chosen, minlength=people)
    thumbs = np.bincount(user, weights=corpus.up[slots] * chosen, minlength=people)
    spelled = {term_key(w): w for w in words}
    shared = {
        spelled[term]: np.bincount(user, weights=chosen & holds[slots], minlength=people)
        for term, holds in found.holds.items()
    }
    idf = {spelled[t]: math.log((found.documents + 1) / (df + 0.5)) for t, df in found.df.items()}
    top = totals.max()
    ranked: dict[str, Expertise] = {}
    for person in np.flatnonzero(np.bincount(user, minlength=people)):
        terms = Counter({w: int(c[person]) for w, c in shared.items() if c[person] > 0})
        ranked[corpus.users[person]] = Expertise(
            user_id=corpus.users[person],
            score=float(totals[person] / top),
            similar=int(counts[person]),
            up=int(thumbs[person]),
            topic=_topic(query, terms, int(counts[person]), idf),
        )
    return ranked


def _may_count(user: np.ndarray, scores: np.ndarray, people: int, most: int = SORTED) -> np.ndarray:
    """Which answers can count in `_ranked`, exactly: each person's best `BEST_ANSWERS` and
    the similar ones. On a long history a request's words are held by thousands of answers
    (19,000 of 50,000 on bench/seed_history.py's), and sorting them all was most of a
    ranking. Kept: the `most` best, the similar ones, and every answer of a person who has
    fewer than `BEST_ANSWERS` among those (whose best may lie further down); everyone else's
    best are among the kept, with every answer that ties with them."""
    if len(scores) <= most:
        return np.ones(len(scores), dtype=np.bool_)
    kept = scores >= np.partition(scores, len(scores) - most)[len(scores) - most]
    kept |= scores >= SIMILAR_SHARE * scores.max()
    short = np.bincount(user[kept], minlength=people) < BEST_ANSWERS
    return kept | short[user]


def _rank_within(user: np.ndarray) -> np.ndarray:
    """For each entry, how many entries before it are of the same person."""
    order = np.argsort(user, kind="stable")
    grouped = user[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(user)]))
    rank = np.empty(len(user), dtype=np.int64)
    rank[order] = np.arange(len(user)) - first
    return rank


def feedback_weight(up: Any, down: Any, reopened: Any) -> Any:
    """👍 raise an answer, 👎 lower it, a reopened thread lowers it: it still shows the
    person knows the subject, so nothing drops to zero. Numbers or arrays of them."""
    weight = (1.0 + 0.25 * np.minimum(up, 4)) * np.power(0.5, np.minimum(down, 3))
    return weight * np.where(reopened, 0.6, 1.0)


def _topic(query: str, counts: Counter[str], answers: int, idf: dict[str, float]) -> str:
    """The one or two words of the question that this person's similar answers share most
    (`counts`: how many of their `answers` hold each of the question's words)."""
    need = 2 if answers > 2 else 1
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
