"""Ingest (SPEC §5.1): store the event and its request durably, enqueue by id, and return.

Runs inside the Slack listener before the ack, so it does no network call but the database;
the pipeline job goes to Redis from a background thread (`enqueue_request_soon`). Exactly once
rests on the database's unique constraints (the event id, the message's channel and ts), which
hold across Slack's retries and across processes. When Redis is down, or the process dies
before the job is sent, the request is still stored, and the worker's sweeper enqueues it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, case, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.queues import new_job_id
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    Draft,
    DraftStatus,
    EventKind,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
)
from workers.classify import Change, Classified, Installation, classify_message
from workers.expertise import record_answer
from workers.ingest_postgres import store_new_message
from workers.metrics import EVENTS
from workers.sla import stop_clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # opened | joined | updated | withdrawn | response | duplicate | ignored
    request_id: int | None = None
    queued: bool = False  # its pipeline job was handed to the queue


def ingest_message(deps: Deps, body: dict[str, Any], installation: Installation) -> IngestResult:
    """Classify a `message` event, persist what matters, and queue the request's pipeline."""
    classified = classify_message(body, installation)
    if classified.kind == EventKind.IGNORED:
        EVENTS.labels(kind="ignored").inc()
        log.debug("event.ignored", reason=classified.reason, channel=classified.channel)
        return IngestResult("ignored")

    event = {k: v for k, v in (body.get("event") or {}).items() if k != "previous_message"}
    event_id = body.get("event_id") or f"{classified.channel}:{classified.ts}:{classified.change}"
    is_new = classified.kind == EventKind.CUSTOMER and classified.change == Change.NEW
    stored: tuple[str, int | None, str | None] | None
    if is_new and deps.engine.dialect.name == "postgresql":  # the hot path, in one statement
        stored = store_new_message(
            deps.engine,
            classified,
            installation,
            deps.settings.grouping_minutes,
            event_id=event_id,
            event=event,
        )
    else:
        stored = _store(deps, classified, installation, event_id=event_id, event=event)
    if stored is None:
        EVENTS.labels(kind="duplicate").inc()
        log.info("event.duplicate", event_id=event_id, channel=classified.channel)
        return IngestResult("duplicate")

    outcome, request_id, job_id = stored
    EVENTS.labels(kind=classified.kind.value).inc()
    log.info("event.stored", outcome=outcome, kind=classified.kind.value, request_id=request_id)
    if outcome == "answered" and request_id is not None:
        _refresh_card(deps, request_id)
    if job_id is None or request_id is None:
        return IngestResult(outcome, request_id)
    # Stored with its job id: if this hand-off is lost, the sweeper queues the request again.
    deps.queues.enqueue_request_soon(request_id, job_id, lambda r, j: forget_job(deps, r, j))
    return IngestResult(outcome, request_id, queued=True)


def _store(
    deps: Deps, c: Classified, installation: Installation, *, event_id: str, event: dict[str, Any]
) -> tuple[str, int | None, str | None] | None:
    """Store the event and what it changes in one transaction; None if it is a duplicate."""
    try:
        with transaction(deps.sessions) as session:
            request_id: int | None
            job_id: str | None
            if c.kind == EventKind.CUSTOMER and c.change == Change.NEW:
                outcome, request_id, job_id = _open_or_join(
                    session, c, installation, deps.settings.grouping_minutes
                )
            else:
                outcome, request = _apply_change(session, c)
                request_id = request.id if request else None
                job_id = mark_enqueued(request) if outcome in _NEEDS_PIPELINE else None
            # Last: a duplicate event id fails here and rolls back everything above with it.
            session.connection().execute(
                _INSERT_EVENT,
                dict(
                    event_id=event_id,
                    team_id=installation.team_id,
                    enterprise_id=installation.enterprise_id,
                    channel_id=c.channel,
                    ts=c.ts,
                    kind=c.kind,
                    reason=c.reason,
                    payload=event,
                    request_id=request_id,
                ),
            )
    except IntegrityError:
        return None
    return outcome, request_id, job_id


def _open_or_join(
    session: Session, c: Classified, installation: Installation, grouping_minutes: float
) -> tuple[str, int, str]:
    """The hot path, a new customer message: a few plain statements, no unit of work.
    (On PostgreSQL, `workers.ingest_postgres.store_new_message` does this in one statement.)

    Joins the open request of its thread, or the same person's recent top-level request
    (GROUPING_MINUTES); otherwise opens a request. The (channel, ts) of the message is
    unique, so a message seen before raises IntegrityError: a duplicate.
    """
    now, at = datetime.now(UTC), c.sent_at
    job_id = new_job_id("request", None)
    target = _joinable_request(session, c, grouping_minutes)
    connection = session.connection()
    if target is None:
        outcome = "opened"
        request_id = connection.execute(
            _INSERT_REQUEST,
            dict(
                team_id=installation.team_id or "",
                enterprise_id=installation.enterprise_id,
                channel_id=c.channel,
                ts=c.ts,
                thread_ts=c.thread_ts or c.ts,
                user_id=c.user,
                user_team=c.user_team,
                last_message_at=at,
                job_id=job_id,
                enqueued_at=now,
            ),
        ).scalar_one()
    else:
        outcome, request_id = "joined", target
        connection.execute(
            _JOIN_REQUEST, {"request_id": target, "at": at, "job_id": job_id, "now": now}
        )
    connection.execute(
        _INSERT_MESSAGE,
        dict(
            request_id=request_id,
            channel_id=c.channel,
            ts=c.ts,
            user_id=c.user,
            text=c.text,
            files={"files": c.files} if c.files else None,
        ),
    )
    return outcome, request_id, job_id


# Built once and executed with parameters: SQLAlchemy compiles them once, not per event.
_REQUESTS = cast(Table, Request.__table__)
_INSERT_REQUEST = insert(_REQUESTS).returning(_REQUESTS.c.id)
_INSERT_MESSAGE = insert(cast(Table, RequestMessage.__table__))
_INSERT_EVENT = insert(cast(Table, SlackEvent.__table__))
_requests = _REQUESTS.c
_JOIN_REQUEST = (
    update(_REQUESTS)
    .where(_requests.id == bindparam("request_id"))
    .values(
        revision=_requests.revision + 1,
        last_message_at=case(
            (
                _requests.last_message_at < bindparam("at", type_=_requests.last_message_at.type),
                bindparam("at"),
            ),
            else_=_requests.last_message_at,
        ),
        job_id=bindparam("job_id"),
        enqueued_at=bindparam("now", type_=_requests.enqueued_at.type),
    )
)


def open_or_join(
    session: Session, c: Classified, installation: Installation, grouping_minutes: float
) -> tuple[str, int, str]:
    """Open a request for a message (or join it to its thread's): for 🎫 and 🔍 as well."""
    return _open_or_join(session, c, installation, grouping_minutes)


def _joinable_request(session: Session, c: Classified, grouping_minutes: float) -> int | None:
    """The open request this message belongs to, locked for the rest of the transaction."""
    params: dict[str, Any]
    if c.is_reply:
        query, params = _THREAD_REQUEST, {"channel": c.channel, "thread_ts": c.thread_ts}
    elif grouping_minutes > 0:
        since = c.sent_at - timedelta(minutes=grouping_minutes)
        query, params = _GROUPABLE_REQUEST, {"channel": c.channel, "user": c.user, "since": since}
    else:
        return None
    return session.connection().execute(query, params).scalar()


_OPEN = Request.state == RequestState.OPEN
_THREAD_REQUEST = (
    select(Request.id)
    .where(Request.channel_id == bindparam("channel"), Request.thread_ts == bindparam("thread_ts"))
    .where(_OPEN)
    .order_by(Request.id.desc())
    .limit(1)
    .with_for_update()
)
# The same person's unanswered top-level request in this channel, recent enough to join.
_GROUPABLE_REQUEST = (
    select(Request.id)
    .where(
        Request.channel_id == bindparam("channel"),
        Request.user_id == bindparam("user"),
        Request.thread_ts == Request.ts,
        Request.last_message_at >= bindparam("since", type_=Request.last_message_at.type),
        _OPEN,
        ~exists().where(Draft.request_id == Request.id, Draft.status == DraftStatus.APPROVED),
    )
    .order_by(Request.id.desc())
    .limit(1)
    .with_for_update()
)


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
    try:
        deps.queues.enqueue_card_refresh(request_id)
    except Exception as exc:  # the card stays as it was; the request itself is stored
        log.warning("enqueue.failed", request_id=request_id, what="card refresh", error=str(exc))


def _apply_change(session: Session, c: Classified) -> tuple[str, Request | None]:
    """The rarer events: an edit, a deletion, a colleague's reply in a customer thread."""
    if c.change == Change.DELETE:
        return _withdraw(session, c)
    if c.change == Change.EDIT:
        return _edit(session, c)
    request_id = _joinable_request(session, c, 0) if c.is_reply else None
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
