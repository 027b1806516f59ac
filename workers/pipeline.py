"""The pipeline for one request: triage → context → draft → suggest → card.

One RQ job per request runs the stages in order; each stage commits its result and the
request's `stage` in one transaction, so a retried or recovered job resumes where the last one
stopped. A round reads the request once at its start; the card stage's `stage` is set when
the round ends, in the transaction that marks the revision processed and releases the lease. The job
holds a lease on the request (see `workers.leases`): two jobs for the same request never run
at once, and a dead worker's request is re-queued by the sweeper when the lease expires.
A stage that fails degrades its part of the card and says why; it never stops the card.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial

import structlog
from sqlalchemy import and_, update

from integrations.deps import Deps
from integrations.failures import DATABASE_DOWN, unexpected
from integrations.store.db import transaction
from integrations.store.models import Request, RequestState, Stage
from workers import auto_send, auto_send_flow, leases, meanwhile
from workers.card import refresh_card_now
from workers.card_post import publish_card
from workers.context import gather_context
from workers.draft import Drafted, triage_and_draft, write_draft
from workers.draft_job import count_draft, prepared_draft_job, store_draft
from workers.incidents import group_request
from workers.metrics import REQUESTS
from workers.priority import remember_tier
from workers.seen import mark_seen, message_permalink
from workers.sla import start_clock
from workers.stage_data import (
    RequestContext,
    Suggestions,
    store_triage,
    stored,
)
from workers.suggest import suggest_colleagues
from workers.triage import Category, Triage, classify_offline, triage_text

log = structlog.get_logger(__name__)

MAX_ROUNDS = 5  # a customer editing in a loop cannot pin a worker forever


def process_request(deps: Deps, *, request_id: int) -> None:
    """RQ job: bring a request's card up to date with its latest revision."""
    run_pipeline(deps, request_id)


def run_pipeline(deps: Deps, request_id: int) -> None:
    owner = leases.worker_id()
    if not leases.claim(deps.sessions, Request, request_id, owner, deps.settings.lease_seconds):
        log.info("pipeline.skipped", request_id=request_id, why="leased by another worker")
        return
    released = False
    try:
        for _ in range(MAX_ROUNDS):
            seen = _begin_round(deps, request_id)
            if seen is None:
                break
            completed = _run_stages(deps, seen)
            released = _finish_round(deps, seen, owner, completed)
            if released:
                break
    finally:
        if not released:
            leases.release(deps.sessions, Request, request_id, owner)


@dataclass(frozen=True)
class _Seen:
    """The request as a round found it: its revision and stage, and what the first stages
    need, read once (the stages after them read what earlier stages wrote)."""

    request_id: int
    revision: int
    stage: Stage
    state: RequestState
    text: str
    channel_id: str
    ts: str
    user_id: str
    workspace: tuple[str | None, str | None]  # the customer channel's (team, enterprise)
    card_ts: str | None
    permalink: str | None
    has_files: bool  # a customer who sends a file (a log, a screenshot) always gets a person
    # The suggestions, looked up while the model thinks (`workers.meanwhile`); the suggest
    # stage takes them (or, when none were started, looks them up itself).
    suggestions: list[Future[Suggestions]] = field(default_factory=list, compare=False)


def _begin_round(deps: Deps, request_id: int) -> _Seen | None:
    """The request at the start of a round; None when its latest revision is processed."""
    handed = None
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        if request.processed_revision >= request.revision and request.stage == Stage.DONE:
            return None
        if request.stage == Stage.DONE:  # new words since the last card: redo from triage
            request.stage = Stage.RECEIVED
            # After an automatic answer the customer wrote again: a person takes it (§6.7).
            handed = auto_send_flow.hand_back(session, request, "the customer wrote again")
        seen = _Seen(
            request_id=request.id,
            revision=request.revision,
            stage=request.stage,
            state=request.state,
            text=request.text,
            channel_id=request.channel_id,
            ts=request.ts,
            user_id=request.user_id,
            workspace=(request.team_id, request.enterprise_id),
            card_ts=request.card_ts,
            permalink=request.permalink,
            has_files=any(m.files for m in request.messages),
        )
    if handed is not None:
        auto_send_flow.after_hand_back(deps, handed)
    return seen


def _run_stages(deps: Deps, seen: _Seen) -> bool:
    """The stages not done yet, in order; each writes its result and its stage in one
    transaction. True when the card stage ran to its end."""
    if seen.state == RequestState.WITHDRAWN:
        refresh_card_now(deps, seen.request_id)  # the card (if any) now says "withdrawn"
        return False
    for stage, done_stage in _MODEL_STAGES if deps.llm is not None else _STAGES:
        if not _at_or_after(seen.stage, done_stage) and stage(deps, seen, done_stage) is _STOP:
            return False
    return True


def _finish_round(deps: Deps, seen: _Seen, owner: str, completed: bool) -> bool:
    """Mark the revision processed; when it is still the latest, release the lease in the
    same transaction and return True."""
    with transaction(deps.sessions) as session:
        if completed:  # the card stage is done, lease or not (as every stage's own write)
            session.execute(
                update(Request).where(Request.id == seen.request_id).values(stage=Stage.DONE)
            )
        mine = and_(Request.id == seen.request_id, Request.lease_owner == owner)
        session.execute(
            update(Request)
            .where(mine)
            .values(stage=Stage.DONE, processed_revision=seen.revision, job_id=None)
        )
        if session.get_one(Request, seen.request_id).revision != seen.revision:
            return False  # the customer wrote again meanwhile: another round
        session.execute(update(Request).where(mine).values(lease_owner=None, lease_expires_at=None))
        return True


_STOP = object()


def _triage(deps: Deps, seen: _Seen, done: Stage) -> object:
    result, decided_by = triage_text(deps.llm, seen.text)  # no transaction open while it thinks
    return _settle_triage(deps, seen, done, result, decided_by)


def _triage_and_draft(deps: Deps, seen: _Seen, done: Stage) -> object:
    """With a model: one call triages and drafts (the context is in already)."""
    if _at_or_after(seen.stage, Stage.TRIAGED):  # a person opened it: its triage stands
        return _draft(deps, seen, done)
    job = prepared_draft_job(deps, seen.request_id, done)
    if job is None:  # its draft is decided already: the triage alone
        return _triage(deps, seen, done)
    assert deps.llm is not None
    if seen.has_files or classify_offline(seen.text, words_only=True).needs_reply:
        suggest = partial(suggest_colleagues, deps, request_id=seen.request_id)
        seen.suggestions.append(meanwhile.submit(suggest))
    result, drafted = triage_and_draft(deps.llm, job)  # no transaction open while it thinks
    if result is None:
        log.warning("triage.model_unavailable", request_id=seen.request_id, error=drafted.note)
        return _settle_triage(
            deps,
            seen,
            done,
            classify_offline(seen.text),
            "offline (the model was unavailable)",
            drafted,
        )
    return _settle_triage(deps, seen, done, result, "model", drafted)


def _settle_triage(
    deps: Deps,
    seen: _Seen,
    done: Stage,
    result: Triage,
    decided_by: str,
    drafted: Drafted | None = None,
) -> object:
    """Write the triage (and the draft made in the same call); close a request that needs no
    reply, or mark it seen (👀) with its permalink. A request with a file always needs one:
    "see attached" reads as nothing to do, the log it carries is not."""
    if seen.has_files and not result.needs_reply:
        result = result.model_copy(update={"category": Category.OTHER, "needs_reply": True})
    # A request that stays open gets 👀 and its permalink; asked for before the write when it
    # will stay open, so the triage, the permalink and the stage are one transaction.
    stays_open = seen.state != RequestState.CLOSED and (
        result.needs_reply or seen.card_ts is not None
    )
    permalink = seen.permalink
    if permalink is None and stays_open:
        permalink = message_permalink(deps, seen.workspace, seen.channel_id, seen.ts)
    late = drafted_now = False
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, seen.request_id)
        store_triage(request, result)
        first_time = request.processed_revision == 0
        if not result.needs_reply and request.card_ts is None:
            request.state = RequestState.CLOSED
        closed = request.state == RequestState.CLOSED
        if not closed:
            request.permalink = request.permalink or permalink
            request.stage = done
            late = request.permalink is None and not stays_open  # its state changed meanwhile
            drafted_now = drafted is not None and store_draft(session, request, drafted)
    log.info(
        "request.triaged",
        request_id=seen.request_id,
        category=result.category.value,
        urgency=result.urgency.value,
        by=decided_by,
    )
    if first_time:
        REQUESTS.labels(category=result.category.value, urgency=result.urgency.value).inc()
    if drafted is not None and drafted_now:
        count_draft(seen.request_id, drafted)
    if closed:
        log.info("request.no_action", request_id=seen.request_id)
        return _STOP
    # Never waits on the reactions budget (Tier 3): when it is spent, the 👀 comes later.
    mark_seen(deps, seen.workspace, seen.channel_id, seen.ts)
    if late:
        with transaction(deps.sessions) as session:
            request = session.get_one(Request, seen.request_id)
            if request.permalink is None:
                request.permalink = message_permalink(
                    deps, seen.workspace, seen.channel_id, seen.ts
                )
    return None


def _context(deps: Deps, seen: _Seen, done: Stage) -> object:
    context = _gather_context(deps, seen)
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, seen.request_id)
        request.context, request.stage = stored(context), done
    return None


def _context_first(deps: Deps, seen: _Seen, done: Stage) -> object:
    """With a model: the context before the call that triages and drafts, which reads it.
    The stage stays where it is: the next stage writes the triage, the draft and the stage."""
    context = _gather_context(deps, seen)
    with transaction(deps.sessions) as session:
        session.get_one(Request, seen.request_id).context = stored(context)
    return None


def _gather_context(deps: Deps, seen: _Seen) -> RequestContext:
    try:  # no transaction open while the CRM answers (or times out)
        context = gather_context(
            deps, channel_id=seen.channel_id, user_id=seen.user_id, team=seen.workspace
        )
    except Exception as exc:  # a bug, not the CRM: the card still goes out, saying so
        unexpected(log, "context.failed", where="context", request_id=seen.request_id)
        why = f"context failed ({type(exc).__name__})"
        return RequestContext(status="unavailable", reason=why)
    remember_tier(deps, seen.channel_id, context)  # its next requests go first, or not
    return context


def _draft(deps: Deps, seen: _Seen, done: Stage) -> object:
    request_id = seen.request_id
    job = prepared_draft_job(deps, request_id, done)
    if job is None:
        return None  # already decided: a late edit does not replace an approved reply
    drafted = write_draft(deps.llm, job)  # no transaction open while the model writes
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        request.stage = done
        if not store_draft(session, request, drafted):
            return None
    count_draft(request_id, drafted)
    return None


def _suggest(deps: Deps, seen: _Seen, done: Stage) -> object:
    try:  # its own short reads; no transaction open while Slack answers
        if seen.suggestions:  # looked up while the model thought
            suggestions = seen.suggestions.pop().result()
        else:
            suggestions = suggest_colleagues(deps, request_id=seen.request_id)
    except Exception as exc:  # a bug or Slack down: the card still goes out, saying so
        unexpected(log, "suggest.failed", where="suggest", request_id=seen.request_id)
        suggestions = Suggestions(status="unavailable", reason=f"failed ({type(exc).__name__})")
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, seen.request_id)
        request.suggestions, request.stage = stored(suggestions), done
    return None


def _card(deps: Deps, seen: _Seen, done: Stage) -> object:
    # The incident first (SPEC §6.6): the card goes out saying it is part of one. Then the
    # clock: its deadline counts from the customer's message, not from the post, so the card
    # goes out showing it and is not redrawn a moment later just to add it.
    try:
        group_request(deps, seen.request_id)
    except DATABASE_DOWN:
        raise  # the clock and the card cannot be written either: the job is retried
    except Exception:  # a bug in grouping: the card still goes out, alone
        unexpected(log, "incident.group_failed", where="incidents", request_id=seen.request_id)
    # Then, where AUTO_SEND allows it and every guard holds, the draft goes out by itself
    # (SPEC §6.7); its card shows it with Undo. Its clock starts all the same: it stops
    # when the answer is posted, and runs again if a person is handed the request.
    try:
        auto_send.decide(deps, seen.request_id)
    except DATABASE_DOWN:
        raise
    except Exception:  # a bug in auto-send: the draft waits for a person, as without it
        unexpected(log, "auto_send.failed", where="auto_send", request_id=seen.request_id)
    start_clock(deps, seen.request_id)
    publish_card(deps, seen.request_id)
    return None  # its stage is set with the round's end (`_finish_round`)


_STAGES: list[tuple[Callable[[Deps, _Seen, Stage], object], Stage]] = [
    (_triage, Stage.TRIAGED),
    (_context, Stage.CONTEXT),
    (_draft, Stage.DRAFTED),
    (_suggest, Stage.SUGGESTED),
    (_card, Stage.DONE),
]
# With a model, one call triages and drafts, so the context comes first (SPEC §5.7).
_MODEL_STAGES: list[tuple[Callable[[Deps, _Seen, Stage], object], Stage]] = [
    (_context_first, Stage.DRAFTED),
    (_triage_and_draft, Stage.DRAFTED),
    (_suggest, Stage.SUGGESTED),
    (_card, Stage.DONE),
]
_ORDER = [Stage.RECEIVED, Stage.TRIAGED, Stage.CONTEXT, Stage.DRAFTED, Stage.SUGGESTED, Stage.DONE]


def _at_or_after(stage: Stage, target: Stage) -> bool:
    return _ORDER.index(stage) >= _ORDER.index(target)
