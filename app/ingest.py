"""Ingest (SPEC §5.1): store the event and its request durably, enqueue by id, and return.

Runs inside the Slack listener before the ack, so it does no network call but the database
and one Redis enqueue. Exactly once rests on the database's unique constraints (the event id,
the message's channel and ts), which hold across Slack's retries and across processes. When
Redis is down the request is still stored with no job, and the worker's sweeper enqueues it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.classify import Change, Classified, Installation, classify_message
from app.deps import Deps
from app.metrics import EVENTS
from integrations.store.db import transaction
from integrations.store.models import (
    DraftStatus,
    EventKind,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
)
from workers.queues import new_job_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # opened | joined | updated | withdrawn | response | duplicate | ignored
    request_id: int | None = None
    enqueued: bool = False


def ingest_message(deps: Deps, body: dict[str, Any], installation: Installation) -> IngestResult:
    """Classify a `message` event, persist what matters, and queue the request's pipeline."""
    classified = classify_message(body, installation)
    if classified.kind == EventKind.IGNORED:
        EVENTS.labels(kind="ignored").inc()
        log.debug("event.ignored", reason=classified.reason, channel=classified.channel)
        return IngestResult("ignored")

    event = body.get("event") or {}
    event_id = body.get("event_id") or f"{classified.channel}:{classified.ts}:{classified.change}"
    try:
        with transaction(deps.sessions) as session:
            stored = SlackEvent(
                event_id=event_id,
                team_id=installation.team_id,
                channel_id=classified.channel,
                ts=classified.ts,
                kind=classified.kind,
                reason=classified.reason,
                payload=event,
            )
            session.add(stored)
            session.flush()  # the event id is claimed here, or IntegrityError
            outcome, request = _apply(session, classified, installation, deps)
            stored.request_id = request.id if request else None
            job_id = mark_enqueued(request) if outcome in _NEEDS_PIPELINE else None
    except IntegrityError:
        EVENTS.labels(kind="duplicate").inc()
        log.info("event.duplicate", event_id=event_id, channel=classified.channel)
        return IngestResult("duplicate")

    EVENTS.labels(kind=classified.kind.value).inc()
    request_id = request.id if request else None
    log.info("event.stored", outcome=outcome, kind=classified.kind.value, request_id=request_id)
    if job_id is None or request_id is None:
        return IngestResult(outcome, request_id)
    return IngestResult(outcome, request_id, enqueue_pipeline(deps, request_id, job_id))


_NEEDS_PIPELINE = {"opened", "joined", "updated", "withdrawn"}


def mark_enqueued(request: Request | None) -> str | None:
    """Give the request a fresh job id, in the caller's transaction; queue it after commit."""
    if request is None:
        return None
    request.job_id = new_job_id("request", request.id)
    request.enqueued_at = datetime.now(UTC)
    return request.job_id


def enqueue_pipeline(deps: Deps, request_id: int, job_id: str) -> bool:
    """Queue the pipeline; if Redis is down, leave the request for the sweeper."""
    try:
        deps.queues.enqueue_request(request_id, job_id)
        return True
    except Exception as exc:  # expected while Redis is down: no traceback, the sweeper follows up
        log.warning("enqueue.failed", request_id=request_id, error=str(exc))
        with transaction(deps.sessions) as session:
            session.execute(
                update(Request)
                .where(Request.id == request_id, Request.job_id == job_id)
                .values(job_id=None, enqueued_at=None)
            )
        return False


def _apply(
    session: Session, c: Classified, installation: Installation, deps: Deps
) -> tuple[str, Request | None]:
    if c.change == Change.DELETE:
        return _withdraw(session, c)
    if c.change == Change.EDIT:
        return _edit(session, c)
    if c.kind == EventKind.RESPONSE:
        request = _open_request_for_thread(session, c.channel, c.thread_ts)
        return "response", request
    if c.is_reply:
        request = _open_request_for_thread(session, c.channel, c.thread_ts)
        if request is not None:
            return "joined", _add_message(session, request, c)
    elif deps.settings.grouping_minutes > 0:
        request = _groupable_request(session, c, deps.settings.grouping_minutes)
        if request is not None:
            return "joined", _add_message(session, request, c)
    return "opened", _open_request(session, c, installation)


def _open_request(session: Session, c: Classified, installation: Installation) -> Request:
    request = Request(
        team_id=installation.team_id or "",
        enterprise_id=installation.enterprise_id,
        channel_id=c.channel,
        ts=c.ts,
        thread_ts=c.thread_ts or c.ts,
        user_id=c.user,
        user_team=c.user_team,
        last_message_at=_ts_time(c.ts),
    )
    session.add(request)
    session.flush()
    _add_message(session, request, c, bump=False)
    return request


def _add_message(
    session: Session, request: Request, c: Classified, *, bump: bool = True
) -> Request:
    session.add(
        RequestMessage(
            request_id=request.id,
            channel_id=c.channel,
            ts=c.ts,
            user_id=c.user,
            text=c.text,
            files={"files": c.files} if c.files else None,
        )
    )
    session.flush()  # a (channel, ts) seen before raises IntegrityError: a duplicate
    if bump:
        request.revision += 1
        request.last_message_at = max(request.last_message_at, _ts_time(c.ts))
    return request


def _open_request_for_thread(
    session: Session, channel: str, thread_ts: str | None
) -> Request | None:
    if not thread_ts:
        return None
    return session.scalars(
        select(Request)
        .where(
            Request.channel_id == channel,
            Request.thread_ts == thread_ts,
            Request.state == RequestState.OPEN,
        )
        .order_by(Request.id.desc())
        .limit(1)
        .with_for_update()
    ).first()


def _groupable_request(session: Session, c: Classified, minutes: float) -> Request | None:
    """The same person's unanswered top-level request in this channel, recent enough to join."""
    since = _ts_time(c.ts) - timedelta(minutes=minutes)
    request = session.scalars(
        select(Request)
        .where(
            Request.channel_id == c.channel,
            Request.user_id == c.user,
            Request.state == RequestState.OPEN,
            Request.thread_ts == Request.ts,
            Request.last_message_at >= since,
        )
        .order_by(Request.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if request is None or any(d.status == DraftStatus.APPROVED for d in request.drafts):
        return None
    return request


def _message(session: Session, channel: str, ts: str) -> RequestMessage | None:
    return session.scalars(
        select(RequestMessage).where(RequestMessage.channel_id == channel, RequestMessage.ts == ts)
    ).first()


def _edit(session: Session, c: Classified) -> tuple[str, Request | None]:
    message = _message(session, c.channel, c.ts)
    if message is None:
        return "ignored", None  # an edit of a message that never became a request
    message.text = c.text
    request = message.request
    if request.state != RequestState.OPEN:
        return "ignored", request
    request.revision += 1
    return "updated", request


def _withdraw(session: Session, c: Classified) -> tuple[str, Request | None]:
    """A deleted customer message: forget its text; withdraw the request if it was the first."""
    message = _message(session, c.channel, c.ts)
    if message is None:
        return "ignored", None
    request = message.request
    message.text = ""
    message.files = None
    session.execute(
        update(SlackEvent)
        .where(SlackEvent.channel_id == c.channel, SlackEvent.ts == c.ts)
        .values(payload=None)
    )
    if request.state != RequestState.OPEN:
        return "ignored", request
    if message.ts == request.ts:
        request.state = RequestState.WITHDRAWN
        for draft in request.drafts:
            if draft.status == DraftStatus.PENDING:
                draft.status = DraftStatus.SUPERSEDED
                draft.text = ""
        request.revision += 1
        return "withdrawn", request
    request.revision += 1
    return "updated", request


def _ts_time(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except ValueError:
        return datetime.now(UTC)
