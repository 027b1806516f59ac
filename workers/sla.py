"""First-response SLA clocks (SPEC §6.3).

A clock is a row in `sla_clocks`, written when the request's card is posted and counted from
the customer's message in business hours (`BUSINESS_HOURS`, or the account's own
`business_hours`): the target is `SLA_MINUTES` of the account's tier, the reminder is due at
75% of it, the breach at 100%. RQ's scheduler wakes a worker at both moments
(`enqueue_sla_check`), and every worker's sweeper fires whatever is due and unfired
(`recover_clocks`), so a lost scheduled job or a killed worker only delays a reminder by
`SWEEP_SECONDS`. Each event fires once: a conditional UPDATE (`WHERE reminded_at IS NULL`)
decides, and its outbox row (unique key) is written in the same transaction.

A colleague's reply in the thread (`workers.ingest`) or an approved reply (`workers.delivery`)
stops the clock (`stop_clock`); an escalation tightens it (`tighten`). While the request is a
report of an open incident its clock is paused: nothing fires (the incident's own clock runs);
split out, or once the incident is resolved, it fires what is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.business_hours import BusinessHours, BusinessHoursError
from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, unexpected
from integrations.settings import Settings
from integrations.store.db import transaction
from integrations.store.incident_models import in_open_incident
from integrations.store.models import OutboxMessage, Request, RequestState, SlaClock
from workers.blocks.escalation import build_sla_breach, build_sla_reminder
from workers.metrics import SLA_BREACHES
from workers.outbox_rows import deliver_soon
from workers.routes import posted_card_channel
from workers.stage_data import RequestContext, request_context, request_suggestions

log = structlog.get_logger(__name__)

REMIND_AT = 0.75
# An escalation restarts the clock from now with this share of the tier's target, unless
# the current deadline is sooner already.
TIGHTEN = {"P1": 0.25, "P2": 0.5, "P3": 0.75, "P4": 1.0}
BATCH = 200


@dataclass(frozen=True)
class Policy:
    """The clock a request gets: its tier, target in business minutes, and business hours."""

    tier: str | None
    minutes: float
    hours: BusinessHours


def policy_for(settings: Settings, context: RequestContext | None) -> Policy:
    """The tier's target (SLA_MINUTES; the slowest tier when the account has none) and the
    account's business hours when it overrides BUSINESS_HOURS."""
    account = context.account if context is not None else None
    tier = ((account.tier if account else None) or "").lower() or None
    targets = settings.sla_minutes
    minutes = targets.get(tier or "") or max(targets.values(), default=240.0)
    hours = BusinessHours.parse(settings.business_hours)
    if account is not None and account.business_hours:
        try:
            hours = BusinessHours.parse(account.business_hours)
        except BusinessHoursError as exc:
            log.warning("sla.account_hours_invalid", account=account.id, error=str(exc))
    return Policy(tier if tier in targets else None, minutes, hours)


def start_clock(deps: Deps, request_id: int) -> bool:
    """Start the request's clock once (after its card is posted) and schedule its checks;
    True when it started now."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        if request.state != RequestState.OPEN or request.sla_clock is not None:
            return False
        policy = policy_for(deps.settings, request_context(request))
        start = request.created_at
        clock = SlaClock(
            request_id=request_id,
            tier=policy.tier,
            minutes=policy.minutes,
            business_hours=policy.hours.text,
            started_at=start,
            deadline_at=policy.hours.add(start, policy.minutes),
            remind_at=policy.hours.add(start, policy.minutes * REMIND_AT),
        )
        try:
            with session.begin_nested():
                session.add(clock)
        except IntegrityError:
            return False  # another holder started it a moment ago
        remind_at, deadline = clock.remind_at, clock.deadline_at
    log.info("sla.started", request_id=request_id, tier=policy.tier, minutes=policy.minutes)
    _schedule(deps, request_id, remind_at, deadline)
    return True


def tighten(deps: Deps, request_id: int, priority: str) -> datetime | None:
    """An escalation's tighter deadline (see TIGHTEN); the new deadline, or None if unchanged."""
    now = datetime.now(UTC)
    with transaction(deps.sessions) as session:
        clock = _clock(session, request_id)
        if clock is None or clock.stopped_at or clock.breached_at:
            return None
        hours = BusinessHours.parse(clock.business_hours)
        minutes = clock.minutes * TIGHTEN.get(priority, 1.0)
        deadline = hours.add(now, minutes)
        if deadline >= clock.deadline_at:
            return None
        clock.deadline_at, clock.tightened_at = deadline, now
        clock.remind_at = min(clock.remind_at, hours.add(now, minutes * REMIND_AT))
        remind_at = clock.remind_at
    log.info("sla.tightened", request_id=request_id, priority=priority)
    _schedule(deps, request_id, remind_at, deadline)
    return deadline


def stop_clock(session: Session, request_id: int, by: str | None) -> bool:
    """Stop a running clock, in the caller's transaction (an answer arrived)."""
    result = session.execute(
        update(SlaClock)
        .where(SlaClock.request_id == request_id, SlaClock.stopped_at.is_(None))
        .values(stopped_at=datetime.now(UTC), stopped_by=by)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def resume_clock(session: Session, request_id: int, stopped_by: str) -> list[datetime]:
    """Run again a clock that `stopped_by` stopped (an automatic answer handed back to a
    person, SPEC §6.7), in the caller's transaction: its deadline still counts from the
    customer's first message. The moments to schedule checks at (`schedule_checks`, after
    the commit); none when it was not stopped that way."""
    clock = _clock(session, request_id)
    if clock is None or clock.stopped_at is None or clock.stopped_by != stopped_by:
        return []
    clock.stopped_at, clock.stopped_by = None, None
    return [clock.remind_at, clock.deadline_at]


def schedule_checks(deps: Deps, request_id: int, moments: list[datetime]) -> None:
    """Wake a worker at each moment to fire what is due (the sweeper does it otherwise)."""
    _schedule(deps, request_id, *moments)


def check_clock(deps: Deps, *, request_id: int) -> None:
    """RQ job (scheduled at the reminder and the deadline): fire what is due."""
    check_clock_now(deps, request_id)


def check_clock_now(deps: Deps, request_id: int, *, now: datetime | None = None) -> None:
    """Fire the reminder and the breach when due at `now` (the current time unless a test
    moves it), each at most once."""
    now = now or datetime.now(UTC)
    outbox: list[int] = []
    breached = False
    with transaction(deps.sessions) as session:
        request = session.get(Request, request_id)
        if request is None:
            return
        if request.state != RequestState.OPEN:  # rejected, withdrawn: nobody owes an answer
            stop_clock(session, request_id, None)
            return
        if session.scalar(select(in_open_incident(request_id))):
            return  # paused: the incident's own clock runs (workers.incident_jobs)
        running = and_(
            SlaClock.request_id == request_id,
            SlaClock.stopped_at.is_(None),
            SlaClock.breached_at.is_(None),
        )
        reminded = session.execute(
            update(SlaClock)
            .where(running, SlaClock.reminded_at.is_(None), SlaClock.remind_at <= now)
            .values(reminded_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if reminded:
            outbox.append(_reminder(deps, session, request))
        breached = bool(
            session.execute(
                update(SlaClock).where(running, SlaClock.deadline_at <= now).values(breached_at=now)
            ).rowcount  # type: ignore[attr-defined]
        )
        if breached:
            row = _breach(deps, session, request)
            if row is not None:
                outbox.append(row)
    if breached:
        SLA_BREACHES.inc()
        log.warning("sla.breached", request_id=request_id)
    if not outbox and not breached:
        return
    log.info("sla.fired", request_id=request_id, reminder=bool(outbox) and not breached)
    for outbox_id in outbox:
        deliver_soon(deps, outbox_id)
    try:
        deps.queues.enqueue_card_refresh(request_id)
    except REDIS_DOWN as exc:  # the card shows the clock at its next refresh
        log.warning("enqueue.failed", request_id=request_id, what="card refresh", error=str(exc))
    except Exception:
        unexpected(log, "enqueue.failed", where="sla", request_id=request_id, what="card refresh")


def recover_clocks(deps: Deps, *, now: datetime | None = None) -> int:
    """The sweeper's part: fire every event due at `now` (the current time unless a test
    moves it) that the scheduler has not (a restart lost it)."""
    now = now or datetime.now(UTC)
    with transaction(deps.sessions) as session:
        due = session.scalars(
            select(SlaClock.request_id)
            .where(
                SlaClock.stopped_at.is_(None),
                SlaClock.breached_at.is_(None),
                ~in_open_incident(SlaClock.request_id),
                or_(
                    SlaClock.deadline_at <= now,
                    and_(SlaClock.reminded_at.is_(None), SlaClock.remind_at <= now),
                ),
            )
            .limit(BATCH)
        ).all()
    for request_id in due:
        check_clock_now(deps, request_id, now=now)
    return len(due)


def _clock(session: Session, request_id: int) -> SlaClock | None:
    return session.scalars(select(SlaClock).where(SlaClock.request_id == request_id)).first()


def _reminder(deps: Deps, session: Session, request: Request) -> int:
    clock = _clock(session, request.id)
    assert clock is not None
    people = _people_to_remind(request)
    body = build_sla_reminder(
        request_id=request.id,
        people=people,
        deadline=clock.deadline_at,
        channel_id=request.channel_id,
    )
    channel = posted_card_channel(deps.settings, request) or ""  # in the card's thread
    return _outbox(
        session,
        f"sla-reminder:{request.id}",
        "sla_reminder",
        request,
        channel,
        request.card_ts,
        body,
    )


def _breach(deps: Deps, session: Session, request: Request) -> int | None:
    channel = deps.settings.escalation_channel
    if not channel:
        log.warning("sla.no_escalation_channel", request_id=request.id)
        return None
    clock = _clock(session, request.id)
    assert clock is not None
    body = build_sla_breach(
        request_id=request.id,
        channel_id=request.channel_id,
        customer_id=request.user_id,
        summary=request.summary,
        permalink=request.permalink,
        deadline=clock.deadline_at,
        tier=clock.tier,
    )
    return _outbox(session, f"sla-breach:{request.id}", "sla_breach", request, channel, None, body)


def _people_to_remind(request: Request) -> list[str]:
    """The account owner (from the context) and the top suggested colleague, if any."""
    people: list[str] = []
    context, suggestions = request_context(request), request_suggestions(request)
    account = context.account if context is not None else None
    if account is not None and account.owner is not None and account.owner.slack_user_id:
        people.append(account.owner.slack_user_id)
    suggested = suggestions.people if suggestions is not None else []
    if suggested and suggested[0].user_id not in people:
        people.append(suggested[0].user_id)
    return people


def _outbox(
    session: Session,
    key: str,
    kind: str,
    request: Request,
    channel: str,
    thread_ts: str | None,
    body: dict[str, Any],
) -> int:
    row = OutboxMessage(
        dedupe_key=key,
        kind=kind,
        request_id=request.id,
        channel_id=channel,
        thread_ts=thread_ts,
        body=body,
        enqueued_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row.id


def _schedule(deps: Deps, request_id: int, *moments: datetime) -> None:
    for moment in moments:
        try:
            deps.queues.enqueue_sla_check(request_id, moment)
        except REDIS_DOWN as exc:  # the sweeper's recovery fires it instead
            log.warning("sla.schedule_failed", request_id=request_id, error=str(exc))
        except Exception:  # a bug; the sweeper's recovery fires it all the same
            unexpected(log, "sla.schedule_failed", where="sla", request_id=request_id)
