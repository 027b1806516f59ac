"""Learning who answers what (SPEC §6.4): the evidence, and expertise ranked from it.

Evidence is one `Evidence` row per (answered question, person of the organisation): a
colleague's reply in a customer thread, the approver of a posted draft, a pull-in that the
colleague then answered, or a past thread read by `triage backfill`. Each person's index is
the questions they answered; a request's text is ranked against all of them with BM25
(rank-bm25's BM25+, through `workers.retrieval._rank`), each answer weighted by how it was
received (👍/👎, reopened) and by its age, and a person's expertise is the sum of their best
few answers.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.store.models import Draft, Evidence, Request
from workers.retrieval import _rank, tokens
from workers.stage_data import details_of

log = structlog.get_logger(__name__)

BEST_ANSWERS = 3  # a person's expertise is the sum of their best few similar answers
SIMILAR_SHARE = 0.4  # an answer counts as "similar" above this share of the best one's score
MAX_EVIDENCE = 20_000  # the newest answers kept in the ranking


@dataclass(frozen=True)
class Answer:
    """One answered question as the ranking sees it."""

    user_id: str
    question: str  # the customer's words, then the person's reply: what they know about
    weight: float  # share × feedback × recency
    up: int = 0
    down: int = 0


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


def load_answers(session: Session, *, half_life_days: float, now: datetime) -> list[Answer]:
    """Every answered question, newest first, with its weight (feedback, reopened, age)."""
    rows = session.execute(
        select(
            Evidence.user_id,
            Evidence.question,
            Evidence.answer,
            Evidence.share,
            Evidence.up,
            Evidence.down,
            Evidence.reopened,
            Evidence.answered_at,
            Evidence.request_id,
            Draft.details,
        )
        .outerjoin(Draft, Draft.id == Evidence.draft_id)
        .where(Evidence.answered.is_(True))
        .order_by(Evidence.answered_at.desc())
        .limit(MAX_EVIDENCE)
    ).all()
    reopened = _reopened_requests(session, [r.request_id for r in rows if r.request_id])
    answers = []
    for row in rows:
        feedback = details_of(row.details).feedback
        up, down = row.up + feedback.up, row.down + feedback.down
        again = row.reopened or row.request_id in reopened
        weight = (
            row.share
            * feedback_weight(up, down, again)
            * decay(row.answered_at, now, half_life_days)
        )
        if weight > 0 and row.question:
            text = f"{row.question}\n{row.answer}" if row.answer else row.question
            answers.append(Answer(row.user_id, text, weight, up, down))
    return answers


def _reopened_requests(session: Session, request_ids: list[int]) -> set[int]:
    """Requests whose customer came back in the same thread after the answer (a later
    request opened in that thread)."""
    if not request_ids:
        return set()
    threads = session.execute(
        select(Request.channel_id, Request.thread_ts, func.max(Request.created_at))
        .group_by(Request.channel_id, Request.thread_ts)
        .having(func.count(Request.id) > 1)
    ).all()
    latest = {(channel, thread): newest for channel, thread, newest in threads}
    if not latest:
        return set()
    found: set[int] = set()
    for chunk in range(0, len(request_ids), 500):
        for request_id, channel, thread, created in session.execute(
            select(Request.id, Request.channel_id, Request.thread_ts, Request.created_at).where(
                Request.id.in_(request_ids[chunk : chunk + 500])
            )
        ):
            newest = latest.get((channel, thread))
            if newest is not None and created < newest:
                found.add(request_id)
    return found


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


def rank_expertise(query: str, answers: list[Answer]) -> dict[str, Expertise]:
    """Each person who answered similar questions, with a score normalised to the best (1.0)."""
    if not answers:
        return {}
    written, query = query, stemmed(query)
    documents = [stemmed(a.question) for a in answers]
    ranked = _rank(query, documents, [a.weight for a in answers], len(answers))
    if not ranked or ranked[0][1] <= 0:
        return {}
    best = ranked[0][1]
    per_person: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for index, score in ranked:
        per_person[answers[index].user_id].append((index, score))
    idf = _idf(query, documents)
    totals = {
        user: sum(score for _, score in hits[:BEST_ANSWERS]) for user, hits in per_person.items()
    }
    top = max(totals.values())
    found: dict[str, Expertise] = {}
    for user, hits in per_person.items():
        similar = [i for i, score in hits if score >= SIMILAR_SHARE * best] or [hits[0][0]]
        found[user] = Expertise(
            user_id=user,
            score=totals[user] / top,
            similar=len(similar),
            up=sum(answers[i].up for i in similar),
            topic=_topic(written, [documents[i] for i in similar], idf),
        )
    return found


_SUFFIXES = (("ies", "y", 4), ("ing", "", 5), ("ed", "", 4), ("es", "", 4), ("s", "", 3))


def stem(word: str) -> str:
    """A light English stemmer: "exports", "exported", "exporting" → "export"."""
    word = word.lower()
    for suffix, replacement, shortest in _SUFFIXES:
        if len(word) > shortest and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


# Words that say nothing about a subject, beyond retrieval's stop words.
_GENERIC_WORDS = """about after again all also any anyone before day days did done every get
    got had has
    just keep know last let like more need needs new now one only out right see seem seems
    since some someone still thing things today up use used using want way week yesterday
    morning"""
_GENERIC = frozenset(_GENERIC_WORDS.split())


def stemmed(text: str) -> str:
    """The text with every word stemmed and generic words dropped, for BM25 to match "logs"
    with "log" and not "since" with "since"."""
    return re.sub(
        r"\w+",
        lambda match: "" if match.group(0).lower() in _GENERIC else stem(match.group(0)),
        text,
    )


def _idf(query: str, documents: list[str]) -> dict[str, float]:
    wanted = set(tokens(query))
    df: Counter[str] = Counter()
    for document in documents:
        df.update(wanted & set(tokens(document)))
    n = len(documents)
    return {term: math.log((n + 1) / (count + 0.5)) for term, count in df.items()}


def _topic(query: str, documents: list[str], idf: dict[str, float]) -> str:
    """The one or two words of the question that this person's similar answers share most."""
    counts: Counter[str] = Counter()
    for document in documents:
        counts.update(set(tokens(document)) & idf.keys())
    need = 2 if len(documents) > 2 else 1
    lowered = query.lower()
    scored = sorted(  # the most telling first; on a tie, the one the customer wrote first
        ((count * idf[term], term) for term, count in counts.items() if count >= need),
        key=lambda pair: (-pair[0], lowered.find(pair[1])),
    )
    words = [_as_written(query, term) for _, term in scored[:2]]
    return " and ".join(words)


def _as_written(query: str, term: str) -> str:
    """The term as the customer wrote it ("SAML", not "saml")."""
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
