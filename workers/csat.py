"""CSAT (SPEC §6.7): "How did we do?" in the customer's thread, once, after an answer.

A question is a row in `csat_surveys`, its clock as `sla_clocks` is the first response's:
written by `ask_later` in the transaction that records the request's answer (an approved
reply or an incident update, `workers.delivery`; a colleague's reply in the thread,
`workers.ingest`), due `CSAT_AFTER_MINUTES` later, and only for the tiers in `CSAT_TIERS`
(empty: every tier). RQ's scheduler wakes a worker at that moment (`enqueue_csat_check`), and
every worker's sweeper asks whatever is due and was not (`recover_surveys`), so a lost
scheduled job or a killed worker only delays the question by `SWEEP_SECONDS`.

Asked once: a conditional UPDATE (`WHERE asked_at IS NULL AND cancelled_at IS NULL`) decides,
and the question's outbox row (`csat:<request>`, unique; a customer kind, so it is posted with
the customer's workspace installation) and its audit entry are written in the same
transaction. At the moment it is due, a request that was withdrawn (its first message
deleted), reopened (the customer wrote again in the thread after the answer, other than a
"thanks"), or whose tier is no longer surveyed is not asked: the row is cancelled, with why.
While the request is a report of an open incident the question waits; the incident's next
update (the closing one) is an answer too, and moves it after that.

The question, its buttons and the thanks for a click are in the customer's language
(`customer_language`: the one their request's draft recorded; English when it is not known).

A click (`record_vote`) is stored once per person (a second click changes it) and counted in
`triage_csat_total{value}`; clicks by our own people are refused by the listener
(`app.listeners.csat`) before they reach this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Exists, Select, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, unexpected
from integrations.settings import Settings
from integrations.store.csat_models import CsatSurvey, CsatValue, CsatVote
from integrations.store.db import transaction
from integrations.store.incident_models import in_open_incident
from integrations.store.models import (
    AuditEntry,
    Draft,
    OutboxMessage,
    Request,
    RequestState,
    SlackEvent,
)
from workers.blocks.csat import build_csat_question
from workers.metrics import CSAT
from workers.outbox_rows import deliver_soon
from workers.stage_data import RequestContext, details_of, request_context
from workers.triage_types import Category

log = structlog.get_logger(__name__)

KIND = "csat"  # the outbox kind of the question: one of delivery's CUSTOMER_KINDS
# A question this long past its moment (the workers were down) is not asked any more: nobody
# remembers an answer from days ago.
LATE = timedelta(days=1)
BATCH = 200


def surveyed(settings: Settings, context: RequestContext | None) -> bool:
    """Whether this request's customers are asked at all: CSAT is on, and the account's tier
    is in CSAT_TIERS (empty: every tier, and channels with no account)."""
    if settings.csat_after_minutes <= 0:
        return False
    if not settings.csat_tiers:
        return True
    account = context.account if context is not None else None
    tier = ((account.tier if account else None) or "").lower()
    return tier in {t.lower() for t in settings.csat_tiers}


def ask_later(
    session: Session, settings: Settings, request: Request, now: datetime | None = None
) -> datetime | None:
    """In the transaction that records an answer: the request's question, due
    CSAT_AFTER_MINUTES from `now`; a later answer moves a question not asked yet later.
    Returns when it is due (for `schedule`, after commit), or None when it is not asked."""
    if request.state != RequestState.ANSWERED or not surveyed(settings, request_context(request)):
        return None
    due = (now or datetime.now(UTC)) + timedelta(minutes=settings.csat_after_minutes)
    survey = session.scalars(
        select(CsatSurvey).where(CsatSurvey.request_id == request.id).with_for_update()
    ).first()
    if survey is None:
        try:
            with session.begin_nested():
                session.add(CsatSurvey(request_id=request.id, due_at=due))
        except IntegrityError:
            return None  # another answer, recorded a moment ago, wrote it
        return due
    if survey.asked_at is not None or survey.cancelled_at is not None:
        return None  # never asked twice
    survey.due_at = max(survey.due_at, due)
    return survey.due_at


def schedule(deps: Deps, request_id: int, at: datetime | None = None) -> None:
    """After commit: wake a worker at `at` (None: CSAT_AFTER_MINUTES from now) to ask. When
    Redis is down the sweeper asks instead; a job with nothing due does nothing."""
    if at is None:
        if deps.settings.csat_after_minutes <= 0:
            return
        at = datetime.now(UTC) + timedelta(minutes=deps.settings.csat_after_minutes)
    try:
        deps.queues.enqueue_csat_check(request_id, at)
    except REDIS_DOWN as exc:  # the sweeper's recovery asks it instead
        log.warning("csat.schedule_failed", request_id=request_id, error=str(exc))
    except Exception:  # a bug; the sweeper's recovery asks it all the same
        unexpected(log, "csat.schedule_failed", where="csat", request_id=request_id)


def check_survey(deps: Deps, *, request_id: int) -> None:
    """RQ job (scheduled when the question is due): ask it, or cancel it."""
    ask_now(deps, request_id)


def ask_now(deps: Deps, request_id: int, *, now: datetime | None = None) -> bool:
    """Ask the request's question if it is due at `now` (the current time unless a test moves
    it) and still should be, at most once; True when it was asked now."""
    now = now or datetime.now(UTC)
    with transaction(deps.sessions) as session:
        survey = session.scalars(
            select(CsatSurvey).where(CsatSurvey.request_id == request_id)
        ).first()
        if survey is None or survey.asked_at or survey.cancelled_at or survey.due_at > now:
            return False
        if session.scalar(select(in_open_incident(request_id))):
            return False  # the outage goes on: its closing update moves the question
        pending = and_(
            CsatSurvey.id == survey.id,
            CsatSurvey.asked_at.is_(None),
            CsatSurvey.cancelled_at.is_(None),
            CsatSurvey.due_at <= now,
        )
        request = session.get_one(Request, request_id)
        why = why_not(session, deps.settings, request, survey.due_at, now)
        if why is not None:
            session.execute(
                update(CsatSurvey).where(pending).values(cancelled_at=now, cancelled_why=why)
            )
            log.info("csat.cancelled", request_id=request_id, why=why)
            return False
        asked = session.execute(update(CsatSurvey).where(pending).values(asked_at=now))
        if not asked.rowcount:  # type: ignore[attr-defined]
            return False  # another worker asked (or cancelled) it a moment ago
        outbox_id = _question(session, request, now)
        survey.outbox_id = outbox_id
    log.info("csat.asked", request_id=request_id, outbox_id=outbox_id)
    deliver_soon(deps, outbox_id)
    return True


class Cancelled(enum.StrEnum):
    """Why a question was not asked (`csat_surveys.cancelled_why`)."""

    OFF = "off"  # CSAT_AFTER_MINUTES is 0 now
    TIER = "tier"  # the account's tier is not in CSAT_TIERS now
    WITHDRAWN = "withdrawn"  # the customer deleted the message
    REOPENED = "reopened"  # the customer wrote again, or a person reopened it
    CLOSED = "closed"
    LATE = "late"  # the workers were down past LATE


def why_not(
    session: Session, settings: Settings, request: Request, due_at: datetime, now: datetime
) -> Cancelled | None:
    """Why the request must not be asked now, or None when it may."""
    if settings.csat_after_minutes <= 0:
        return Cancelled.OFF
    if not surveyed(settings, request_context(request)):
        return Cancelled.TIER
    if request.state == RequestState.WITHDRAWN or session.scalar(select(_deleted(request))):
        return Cancelled.WITHDRAWN
    if request.state == RequestState.OPEN or session.scalar(select(_reopened(request))):
        return Cancelled.REOPENED
    if request.state != RequestState.ANSWERED:
        return Cancelled.CLOSED
    if now - due_at > LATE:
        return Cancelled.LATE
    return None


def _deleted(request: Request) -> Exists:
    """SQL: the customer deleted the request's first message (its `message_deleted` event);
    an answered request keeps its state, but the thread is gone."""
    return exists().where(
        SlackEvent.request_id == request.id,
        SlackEvent.ts == request.ts,
        SlackEvent.reason == "deleted",
    )


def _reopened(request: Request) -> Exists:
    """SQL: the customer wrote again in the thread after the answer (a later request in it),
    other than a "thanks" the triage closed; one not triaged yet counts: they are waiting."""
    return exists().where(
        Request.channel_id == request.channel_id,
        Request.thread_ts == request.thread_ts,
        Request.id != request.id,
        Request.created_at > (request.answered_at or request.created_at),
        or_(Request.category.is_(None), Request.category != Category.NO_ACTION.value),
    )


def recover_surveys(deps: Deps, *, now: datetime | None = None) -> int:
    """The sweeper's part: ask (or cancel) every question due at `now` (the current time
    unless a test moves it) that no scheduled job did (a restart lost it)."""
    now = now or datetime.now(UTC)
    with transaction(deps.sessions) as session:
        due = session.scalars(
            select(CsatSurvey.request_id)
            .where(
                CsatSurvey.asked_at.is_(None),
                CsatSurvey.cancelled_at.is_(None),
                CsatSurvey.due_at <= now,
                ~in_open_incident(CsatSurvey.request_id),
            )
            .order_by(CsatSurvey.due_at)
            .limit(BATCH)
        ).all()
    for request_id in due:
        ask_now(deps, request_id, now=now)
    return len(due)


def _question(session: Session, request: Request, now: datetime) -> int:
    """The question's outbox row in the customer's thread, and its audit entry (ids only)."""
    row = OutboxMessage(
        dedupe_key=f"csat:{request.id}",
        kind=KIND,
        request_id=request.id,
        channel_id=request.channel_id,
        thread_ts=request.thread_ts,
        body=build_csat_question(
            request_id=request.id, language=customer_language(session, request.id)
        ),
        enqueued_at=now,
    )
    session.add(row)
    session.flush()
    session.add(
        AuditEntry(
            actor="system",
            action="csat.asked",
            request_id=request.id,
            detail={"channel": request.channel_id, "thread_ts": request.thread_ts},
        )
    )
    return row.id


def customer_language(session: Session, request_id: int) -> str | None:
    """The language the request's customer wrote in, as its latest draft that could tell
    recorded it (`DraftDetails.language`, detected when the draft was made); None when none
    could (the question is then in English)."""
    drafts = select(Draft.details).where(Draft.request_id == request_id).order_by(Draft.id.desc())
    for details in session.scalars(drafts):
        if language := details_of(details).language:
            return language
    return None


class Vote(enum.StrEnum):
    RECORDED = "recorded"
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # the same answer again
    NOT_ASKED = "not_asked"  # no such question in that channel


@dataclass(frozen=True)
class Voted:
    """What became of a click, and the customer's language to thank them in."""

    outcome: Vote
    language: str | None


def record_vote(
    deps: Deps,
    *,
    request_id: int,
    channel_id: str,
    user_id: str,
    team_id: str | None,
    value: CsatValue,
) -> Voted:
    """A customer's click on the question: stored once per person, a second click changes it.
    Only for a question that was asked, in the channel it was asked in."""
    now = datetime.now(UTC)
    with transaction(deps.sessions) as session:
        asked = session.scalar(
            select(Request.channel_id)
            .join(CsatSurvey, CsatSurvey.request_id == Request.id)
            .where(Request.id == request_id, CsatSurvey.asked_at.is_not(None))
        )
        if asked is None or asked != channel_id:
            return Voted(Vote.NOT_ASKED, None)  # no request of theirs to tell their language
        language = customer_language(session, request_id)
        vote = _vote(session, request_id, user_id)
        if vote is None:
            try:
                with session.begin_nested():
                    session.add(
                        CsatVote(
                            request_id=request_id,
                            user_id=user_id,
                            team_id=team_id,
                            value=value,
                            voted_at=now,
                        )
                    )
            except IntegrityError:  # their other click, a moment ago
                vote = session.scalars(_vote_of(request_id, user_id)).one()
        if vote is None:
            outcome = Vote.RECORDED
        elif vote.value == value:
            outcome = Vote.UNCHANGED
        else:
            outcome = Vote.CHANGED
            vote.value, vote.changed_at = value, now
    if outcome != Vote.UNCHANGED:
        CSAT.labels(value=value.value).inc()
    log.info("csat.voted", request_id=request_id, value=value.value, outcome=outcome.value)
    return Voted(outcome, language)


def _vote(session: Session, request_id: int, user_id: str) -> CsatVote | None:
    return session.scalars(_vote_of(request_id, user_id)).first()


def _vote_of(request_id: int, user_id: str) -> Select[CsatVote]:
    """The person's vote on the request, locked: their two clicks change it one after the other."""
    return (
        select(CsatVote)
        .where(CsatVote.request_id == request_id, CsatVote.user_id == user_id)
        .with_for_update()
    )
