"""Ingest (SPEC §5.1): store the event and its request durably, enqueue by id, and return.

Runs inside the Slack listener before the ack, so it does no network call but the database;
the pipeline job goes to Redis from a background thread (`enqueue_request_soon`). Exactly once
rests on the database's unique constraints (the event id, the message's channel and ts), which
hold across Slack's retries and across processes. When Redis is down, or the process dies
before the job is sent, the request is still stored, and the worker's sweeper enqueues it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, unexpected
from integrations.queues import new_job_id
from integrations.store.db import storable, transaction
from integrations.store.models import (
    AuditEntry,
    DraftStatus,
    EventKind,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
)
from workers import csat, ingest_store
from workers.classify import Change, Classified, Installation, classify_message
from workers.expertise import record_answer
from workers.metrics import EVENTS
from workers.priority import goes_first
from workers.sla import stop_clock
from workers.stage_data import forget_translation

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # opened | joined | updated | withdrawn | response | duplicate | ignored
    request_id: int | None = None
    queued: bool = False  # its pipeline job was handed to the queue


def ingest_message(deps: Deps, body: dict[str, Any], installation: Installation) -> IngestResult:
    """Classify a `message` event, persist what matters, and queue the request's pipeline."""
    body = storable(body)
    classified = classify_message(body, installation)
    if classified.kind == EventKind.IGNORED:
        EVENTS.labels(kind="ignored").inc()
        log.debug("event.ignored", reason=classified.reason, channel=classified.channel)
        return IngestResult("ignored")

    payload = {k: v for k, v in (body.get("event") or {}).items() if k != "previous_message"}
    event_id = body.get("event_id") or f"{classified.channel}:{classified.ts}:{classified.change}"
    event = ingest_store.EventRow(event_id, installation, classified, payload)
    stored: tuple[str, int | None, str | None] | None
    if classified.kind == EventKind.CUSTOMER and classified.change == Change.NEW:  # the hot path
        grouping = deps.settings.grouping_minutes
        stored = ingest_store.store_new_message(
            deps.engine, classified, installation, grouping, event
        )
    else:
        stored = _store_change(deps, event)
    if stored is None:
        EVENTS.labels(kind="duplicate").inc()
        log.info("event.duplicate", event_id=event_id, channel=classified.channel)
        return IngestResult("duplicate")

    outcome, request_id, job_id = stored
    EVENTS.labels(kind=classified.kind.value).inc()
    log.info("event.stored", outcome=outcome, kind=classified.kind.value, request_id=request_id)
    if outcome == "answered" and request_id is not None:
        _refresh_card(deps, request_id)
        csat.schedule(deps, request_id)  # CSAT_AFTER_MINUTES from now, when it is asked
    if job_id is None or request_id is None:
        return IngestResult(outcome, request_id)
    # Stored with its job id: if this hand-off is lost, the sweeper queues the request again.
    deps.queues.enqueue_request_soon(
        request_id,
        job_id,
        lambda r, j: forget_job(deps, r, j),
        channel=classified.channel,
        first=partial(goes_first, classified.text),  # asked after the ack, not before
    )
    return IngestResult(outcome, request_id, queued=True)


def _store_change(
    deps: Deps, event: ingest_store.EventRow
) -> tuple[str, int | None, str | None] | None:
    """Store an edit, deletion or reply and its event in one transaction; None if the event
    was stored before."""
    try:
        with transaction(deps.sessions) as session:
            outcome, request = _apply_change(session, event.classified)
            request_id = request.id if request else None
            if outcome == "answered" and request is not None:  # a colleague answered
                csat.ask_later(session, deps.settings, request)
            job_id = mark_enqueued(request) if outcome in _NEEDS_PIPELINE else None
            # Last: a duplicate event id fails here and rolls back everything above with it.
            session.connection().execute(ingest_store.INSERT_EVENT, event.params(request_id))
    except IntegrityError:
        return None
    return outcome, request_id, job_id


def open_or_join(
    session: Session, c: Classified, installation: Installation, grouping_minutes: float
) -> tuple[str, int, str]:
    """Open a request for a message (or join it to its thread's) in the session's transaction,
    without an event: for 🎫 and 🔍. Raises IntegrityError if the message has one already."""
    return ingest_store.open_or_join(session.connection(), c, installation, grouping_minutes)


_NEEDS_PIPELINE = {"opened", "joined", "updated", "withdrawn"}


def mark_enqueued(request: Request | None) -> str | None:
    """Give the request a fresh job id, in the caller's transaction; queue it after commit."""
    if request is None:
        return None
    request.job_id = new_job_id("request", request.id)
    request.enqueued_at = datetime.now(UTC)
    return request.job_id


def enqueue_pipeline(deps: Deps, request_id: int, job_id: str) -> bool:
    """Queue the pipeline; if that fails, leave the request for the sweeper.

    The request is committed already, so a failure here is not the caller's: it is logged
    (with its traceback and counted, unless Redis is simply down) and the request marked
    unqueued."""
    try:
        deps.queues.enqueue_request(request_id, job_id)
        return True
    except REDIS_DOWN as exc:  # expected (the queues' breaker too): the sweeper follows up
        log.warning("enqueue.failed", request_id=request_id, error=str(exc))
    except Exception:
        unexpected(log, "enqueue.failed", where="ingest", request_id=request_id)
    forget_job(deps, request_id, job_id)
    return False


def forget_job(deps: Deps, request_id: int, job_id: str) -> None:
    """Its job never reached Redis: mark the request unqueued, for the sweeper's next pass."""
    with transaction(deps.sessions) as session:
        session.execute(
            update(Request)
            .where(Request.id == request_id, Request.job_id == job_id)
            .values(job_id=None, enqueued_at=None)
        )


def _refresh_card(deps: Deps, request_id: int) -> None:
    """Redraw the card of a request answered in its thread; the request itself is stored, so
    a failure leaves only the card as it was."""
    try:
        deps.queues.enqueue_card_refresh(request_id)
    except REDIS_DOWN as exc:
        log.warning("enqueue.failed", request_id=request_id, what="card refresh", error=str(exc))
    except Exception:
        unexpected(
            log, "enqueue.failed", where="ingest", request_id=request_id, what="card refresh"
        )


def _apply_change(session: Session, c: Classified) -> tuple[str, Request | None]:
    """The rarer events: an edit, a deletion, a colleague's reply in a customer thread."""
    if c.change == Change.DELETE:
        return _withdraw(session, c)
    if c.change == Change.EDIT:
        return _edit(session, c)
    thread = {"channel": c.channel, "thread": c.thread_ts}
    request_id = (
        session.execute(ingest_store.THREAD_REQUEST, thread).scalar() if c.is_reply else None
    )
    request = session.get(Request, request_id) if request_id else None
    if request is None:
        return "response", None
    # A colleague answered the customer in the thread: the request is answered (SPEC §6.1),
    # and the card must say so before anyone sends a second answer.
    request.state = RequestState.ANSWERED
    request.answered_at = datetime.now(UTC)
    request.answered_by = c.user
    stop_clock(session, request.id, c.user)  # a person answered: the SLA is met (SPEC §6.3)
    record_answer(session, request, user_id=c.user, kind="reply", answer=c.text)  # SPEC §6.4
    session.add(
        AuditEntry(
            actor=c.user,
            action="request.answered_in_thread",
            request_id=request.id,
            detail={"ts": c.ts},
        )
    )
    return "answered", request


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
    for draft in request.drafts:  # their translations hold the customer's words too
        forget_translation(draft, "the customer deleted a message")
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
