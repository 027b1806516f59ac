"""The pipeline for one request: triage → context → draft → suggest → card.

One RQ job per request runs the stages in order; each stage commits its result and the
request's `stage`, so a retried or recovered job resumes where the last one stopped. The job
holds a lease on the request (see `workers.leases`): two jobs for the same request never run
at once, and a dead worker's request is re-queued by the sweeper when the lease expires.
A stage that fails degrades its part of the card and says why; it never stops the card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update

from integrations.deps import Deps
from integrations.slack import slack_error
from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus, Request, RequestState, Stage
from workers import leases
from workers.attachments import Attachments, customer_files, describe_stubs, read_images
from workers.card import refresh_card_now
from workers.card_post import publish_card
from workers.context import gather_context
from workers.draft import DraftJob, write_draft
from workers.ids import Reaction
from workers.metrics import DRAFTS, REQUESTS
from workers.prompt import ThreadMessage
from workers.retrieval import Scope, retrieve
from workers.sla import start_clock
from workers.stage_data import (
    RequestContext,
    Suggestions,
    request_context,
    request_triage,
    store_triage,
    stored,
)
from workers.suggest import suggest_colleagues
from workers.triage import triage_text

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
    try:
        for _ in range(MAX_ROUNDS):
            if _run_round(deps, request_id, owner):
                break
    finally:
        leases.release(deps.sessions, Request, request_id, owner)


def _run_round(deps: Deps, request_id: int, owner: str) -> bool:
    """One pass over the stages; True when the request's latest revision is processed."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        seen = request.revision
        if request.processed_revision >= seen and request.stage == Stage.DONE:
            return True
        if request.stage == Stage.DONE:  # new words since the last card: redo from triage
            request.stage = Stage.RECEIVED
        withdrawn = request.state == RequestState.WITHDRAWN
    if not withdrawn:
        for stage, done_stage in _STAGES:
            if not _at_or_after(_stage_of(deps, request_id), done_stage):
                if stage(deps, request_id) is _STOP:
                    break
                _set_stage(deps, request_id, done_stage)
    else:
        refresh_card_now(deps, request_id)  # the card (if any) now says "withdrawn"
    with transaction(deps.sessions) as session:
        session.execute(
            update(Request)
            .where(Request.id == request_id, Request.lease_owner == owner)
            .values(stage=Stage.DONE, processed_revision=seen, job_id=None)
        )
        return session.get_one(Request, request_id).revision == seen


_STOP = object()


def _triage(deps: Deps, request_id: int) -> object:
    with transaction(deps.sessions) as session:
        text = session.get_one(Request, request_id).text
    result, decided_by = triage_text(deps.llm, text)  # no transaction open while it thinks
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        store_triage(request, result)
        first_time = request.processed_revision == 0
        if not result.needs_reply and request.card_ts is None:
            request.state = RequestState.CLOSED
        channel, ts, closed = request.channel_id, request.ts, request.state == RequestState.CLOSED
        where = (request.team_id, request.enterprise_id)  # the customer channel's workspace
    log.info(
        "request.triaged",
        request_id=request_id,
        category=result.category.value,
        urgency=result.urgency.value,
        by=decided_by,
    )
    if first_time:
        REQUESTS.labels(category=result.category.value, urgency=result.urgency.value).inc()
    if closed:
        log.info("request.no_action", request_id=request_id)
        return _STOP
    slack = deps.slack_for(*where)
    _react(slack, channel, ts, Reaction.SEEN)
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        if request.permalink is None:
            request.permalink = _permalink(slack, channel, ts)
    return None


def _context(deps: Deps, request_id: int) -> object:
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        channel_id, user_id = request.channel_id, request.user_id
        team = (request.team_id, request.enterprise_id)
    try:  # no transaction open while the CRM answers (or times out)
        context = gather_context(deps, channel_id=channel_id, user_id=user_id, team=team)
    except Exception as exc:  # a bug, not the CRM: the card still goes out, saying so
        log.exception("context.failed", request_id=request_id)
        why = f"context failed ({type(exc).__name__})"
        context = RequestContext(status="unavailable", reason=why)
    with transaction(deps.sessions) as session:
        session.get_one(Request, request_id).context = stored(context)
    return None


def _draft(deps: Deps, request_id: int) -> object:
    describe_stubs(deps, request_id)  # Slack Connect files arrive as bare ids: name them
    job = _draft_job(deps, request_id)
    if job is None:
        return None  # already decided: a late edit does not replace an approved reply
    if deps.llm is not None:  # only a model reads images: download them, outside a transaction
        files = job.attachments.files
        job = replace(job, attachments=read_images(deps, files, job.workspace))
    drafted = write_draft(deps.llm, job)  # no transaction open while the model writes
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        current = request.current_draft
        if current is not None and current.status != DraftStatus.PENDING:
            return None  # approved or rejected while the model was writing
        if current is not None:
            current.status = DraftStatus.SUPERSEDED
        session.add(
            Draft(
                request_id=request_id,
                text=drafted.text,
                source=drafted.source,
                note=drafted.note,
                details=stored(drafted.details),
            )
        )
    DRAFTS.labels(outcome={"openai": "drafted"}.get(drafted.source, drafted.source)).inc()
    log.info(
        "draft.written",
        request_id=request_id,
        source=drafted.source,
        flags=len(drafted.details.flags),
    )
    return None


def _draft_job(deps: Deps, request_id: int) -> DraftJob | None:
    """What the draft is made of, all of it from this request's own tenant (SPEC §5.4)."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        current = request.current_draft
        if current is not None and current.status != DraftStatus.PENDING:
            return None
        context = request_context(request)
        scope = Scope.for_request(request.channel_id, context)
        request.account_key = scope.account_key
        grounding = retrieve(
            session,
            scope,
            request.text,
            exclude_request=request.id,
            knowledge_dir=deps.settings.knowledge_dir,
        )
        if grounding.scope != scope:  # by construction; checked because it must never fail
            raise RuntimeError(f"grounding for {grounding.scope} offered to {scope}")
        return DraftJob(
            request_id=request.id,
            user_id=request.user_id,
            channel_id=request.channel_id,
            thread=[ThreadMessage("customer", m.text) for m in request.messages if m.text],
            triage=request_triage(request),
            context=context,
            grounding=grounding,
            attachments=Attachments(customer_files(request.messages)),
            workspace=(request.team_id, request.enterprise_id),
        )


def _suggest(deps: Deps, request_id: int) -> object:
    try:  # its own short reads; no transaction open while Slack answers
        suggestions = suggest_colleagues(deps, request_id=request_id)
    except Exception as exc:  # a bug or Slack down: the card still goes out, saying so
        log.exception("suggest.failed", request_id=request_id)
        suggestions = Suggestions(status="unavailable", reason=f"failed ({type(exc).__name__})")
    with transaction(deps.sessions) as session:
        session.get_one(Request, request_id).suggestions = stored(suggestions)
    return None


def _card(deps: Deps, request_id: int) -> object:
    # The clock first: its deadline counts from the customer's message, not from the post,
    # so the card goes out showing it and is not redrawn a moment later just to add it.
    start_clock(deps, request_id)
    publish_card(deps, request_id)
    return None


_STAGES: list[tuple[Callable[[Deps, int], object], Stage]] = [
    (_triage, Stage.TRIAGED),
    (_context, Stage.CONTEXT),
    (_draft, Stage.DRAFTED),
    (_suggest, Stage.SUGGESTED),
    (_card, Stage.DONE),
]
_ORDER = [Stage.RECEIVED, Stage.TRIAGED, Stage.CONTEXT, Stage.DRAFTED, Stage.SUGGESTED, Stage.DONE]


def _at_or_after(stage: Stage, target: Stage) -> bool:
    return _ORDER.index(stage) >= _ORDER.index(target)


def _stage_of(deps: Deps, request_id: int) -> Stage:
    with transaction(deps.sessions) as session:
        return session.get_one(Request, request_id).stage


def _set_stage(deps: Deps, request_id: int, stage: Stage) -> None:
    with transaction(deps.sessions) as session:
        session.execute(update(Request).where(Request.id == request_id).values(stage=stage))


def _react(slack: WebClient, channel: str, ts: str, name: str) -> None:
    try:
        slack.reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as exc:
        if slack_error(exc) != "already_reacted":
            log.warning("reaction.failed", channel=channel, ts=ts, error=slack_error(exc))


def _permalink(slack: WebClient, channel: str, ts: str) -> str | None:
    try:
        return str(slack.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SlackApiError as exc:
        log.warning("permalink.failed", channel=channel, ts=ts, error=slack_error(exc))
        return None
