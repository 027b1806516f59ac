"""Knowledge gaps (SPEC §6.7): the requests our knowledge did not answer well, grouped by what
they ask, largest group first, each with the answers people gave in the end.

A request of the period is a gap when its draft (the live one, as the card showed it last):
- had **no grounding**: it names no approved answer or knowledge-base passage among its
  sources, so retrieval found none sharing enough words with the question (`workers.retrieval`,
  `MIN_SHARED_TERMS`), or the model found none of what it was offered relevant; a draft the
  model could not write says nothing either way and is not counted;
- was **rejected**;
- or was approved **heavily edited**: at least `HEAVY_EDIT` of its words changed
  (`drafts.edit_distance`, recorded at approval; drafts approved before it was recorded have
  none and are not counted as edited).

Only requests whose words are still stored can be grouped: retention purges them after
`RETENTION_DAYS` (`workers.retention`), and the audit log holds none. `Gaps.purged` counts
those left out, and the command says so. Groups are made and named by `workers.gap_cluster`;
across accounts, since a gap is the team's: what reaches an article is `workers.gap_articles`'
business, which keeps every account's name out of it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.models import (
    ChannelLink,
    Draft,
    DraftStatus,
    Evidence,
    Request,
    RequestMessage,
    RequestState,
)
from integrations.store.search_index import among, chunks
from workers.gap_cluster import THRESHOLD, Vocabulary, cluster, name, terms
from workers.retention import PURGED
from workers.stage_data import RequestContext, details_of

HEAVY_EDIT = 0.5  # an approved draft with this share of its words changed was not the answer
MIN_GROUP = 2  # fewer requests than this make no gap of their own: they are listed apart
EXAMPLES = 3  # example requests shown per gap


@dataclass(frozen=True)
class GapRequest:
    """One request our knowledge did not answer well, and what answered it in the end."""

    request_id: int
    question: str  # the customer's words
    why: tuple[str, ...]  # "no grounding", "rejected", "edited 72%"
    asked_at: datetime
    answer: str = ""  # the approved reply that closed it, or a colleague's; "" when none
    permalink: str | None = None


@dataclass
class Gap:
    """A group of gap requests asking the same thing, named by the words they share."""

    name: list[str]
    requests: list[GapRequest]  # newest first

    @property
    def title(self) -> str:
        return " · ".join(self.name) or "(no common words)"

    @property
    def examples(self) -> list[GapRequest]:
        return self.requests[:EXAMPLES]

    @property
    def answered(self) -> list[GapRequest]:
        return [r for r in self.requests if r.answer]


@dataclass
class Gaps:
    since: datetime
    gaps: list[Gap] = field(default_factory=list)  # largest first
    alone: list[GapRequest] = field(default_factory=list)  # like no other gap request
    considered: int = 0  # the period's requests that had a draft
    purged: int = 0  # of those, how many retention had purged the words of: not grouped
    account_names: frozenset[str] = frozenset()  # the period's accounts, kept out of articles


def find_gaps(
    session: Session,
    *,
    since: datetime,
    until: datetime | None = None,
    threshold: float = THRESHOLD,
) -> Gaps:
    """The gaps among requests opened from `since` (to `until`), largest first."""
    until = until or datetime.now(UTC)
    result = Gaps(since)
    requests = session.execute(
        select(
            Request.id,
            Request.created_at,
            Request.permalink,
            Request.state,
            Request.needs_reply,
            Request.context,
        )
        .where(Request.created_at >= since, Request.created_at < until)
        .order_by(Request.id)
    ).all()
    names = {n for (n,) in session.execute(select(ChannelLink.account_name)) if n}
    names.update(n for n in (_account_name(r.context) for r in requests) if n)
    result.account_names = frozenset(names)
    wanted = [
        r for r in requests if r.state != RequestState.WITHDRAWN and r.needs_reply is not False
    ]
    ids = [r.id for r in wanted]
    words = _questions(session, ids)
    drafts = _drafts(session, ids)
    vocabulary = Vocabulary.of(terms(t) for t in words.values() if t)
    found: list[GapRequest] = []
    for row in wanted:
        if not drafts.get(row.id):
            continue
        result.considered += 1
        why = _why(drafts[row.id])
        if not why:
            continue
        question = words.get(row.id, "")
        if not question:
            result.purged += 1
            continue
        found.append(GapRequest(row.id, question, why, row.created_at, "", row.permalink))
    answers = _answers(session, [g.request_id for g in found], drafts)
    found = [replace(g, answer=answers.get(g.request_id, "")) for g in found]
    _group(result, found, vocabulary, threshold)
    return result


def _account_name(context: dict[str, Any] | None) -> str | None:
    """The account's name a request's context holds, if any."""
    if not context:
        return None
    try:
        account = RequestContext.model_validate(context).account
    except ValidationError:  # a context this version cannot read names no account
        return None
    return account.name if account is not None and account.name else None


def _group(result: Gaps, found: list[GapRequest], vocabulary: Vocabulary, threshold: float) -> None:
    documents = [terms(g.question) for g in found]
    for members in cluster(documents, vocabulary, threshold):
        chosen = sorted((found[i] for i in members), key=lambda g: g.asked_at, reverse=True)
        if len(chosen) < MIN_GROUP:
            result.alone.extend(chosen)
            continue
        result.gaps.append(Gap(name([g.question for g in chosen], vocabulary), chosen))
    result.alone.sort(key=lambda g: g.asked_at, reverse=True)


@dataclass(frozen=True)
class _Draft:
    id: int
    status: DraftStatus
    source: str
    grounded: bool
    edit_distance: float | None
    answer: str  # the text sent, when it was approved and posted and is still stored


def _why(drafts: list[_Draft]) -> tuple[str, ...]:
    """Why the request is a gap, from its live draft (the last one not superseded)."""
    live = [d for d in drafts if d.status != DraftStatus.SUPERSEDED]
    if not live:
        return ()
    draft = live[-1]
    written = [d for d in drafts if d.source != "unavailable"]
    why = []
    if written and not written[-1].grounded:
        why.append("no grounding")
    if draft.status == DraftStatus.REJECTED:
        why.append("rejected")
    distance = draft.edit_distance
    heavy = distance is not None and distance >= HEAVY_EDIT and draft.source != "unavailable"
    if draft.status == DraftStatus.APPROVED and heavy:
        why.append(f"edited {distance:.0%}")
    return tuple(why)


def _questions(session: Session, ids: list[int]) -> dict[int, str]:
    """Each request's words, its messages in order ("" for those retention purged)."""
    texts: dict[int, list[str]] = defaultdict(list)
    for chunk in chunks(ids):
        for request_id, text in session.execute(
            select(RequestMessage.request_id, RequestMessage.text)
            .where(among(session, RequestMessage.request_id, chunk))
            .order_by(RequestMessage.id)
        ):
            if text:
                texts[request_id].append(text)
    return {i: "\n".join(t) for i, t in texts.items()}


def _drafts(session: Session, ids: list[int]) -> dict[int, list[_Draft]]:
    found: dict[int, list[_Draft]] = defaultdict(list)
    for chunk in chunks(ids):
        for row in session.execute(
            select(
                Draft.request_id,
                Draft.id,
                Draft.status,
                Draft.source,
                Draft.details,
                Draft.edit_distance,
                Draft.posted_text,
                Draft.posted_ts,
            )
            .where(among(session, Draft.request_id, chunk))
            .order_by(Draft.id)
        ):
            sent = row.posted_text if row.posted_ts and row.status == DraftStatus.APPROVED else ""
            found[row.request_id].append(
                _Draft(
                    row.id,
                    row.status,
                    row.source,
                    bool(details_of(row.details).sources),
                    row.edit_distance,
                    "" if not sent or sent == PURGED else sent.strip(),
                )
            )
    return found


def _answers(session: Session, ids: list[int], drafts: dict[int, list[_Draft]]) -> dict[int, str]:
    """What closed each request: its approved reply, else what a colleague answered in the
    customer's thread (`expertise_evidence`, kind `reply`)."""
    answers = {i: a.answer for i in ids for a in drafts.get(i, []) if a.answer}
    rest = [i for i in ids if i not in answers]
    for chunk in chunks(rest):
        for request_id, answer in session.execute(
            select(Evidence.request_id, Evidence.answer)
            .where(among(session, Evidence.request_id, chunk), Evidence.kind == "reply")
            .order_by(Evidence.id)
        ):
            if answer and request_id is not None and request_id not in answers:
                answers[request_id] = answer.strip()
    return answers
