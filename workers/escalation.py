"""Carry out a support lead's escalation (SPEC §6.2): Case, post, SLA, card.

`app.escalation.record_escalation` wrote the decision and bumped `requests.escalations`; this
job brings the world up to it, and a retried or replayed job is safe:

- the Salesforce Case is created once (its id is stored on the request at once) and updated on
  every later escalation (Priority through `CASE_PRIORITY`, and the lead's reason);
- the post in `ESCALATION_CHANNEL` goes through the outbox (`escalation:<request>:<n>`): the
  first escalation is a new post, a later one a reply in its thread, and the post is updated
  to show the current level;
- the SLA clock tightens (`workers.sla.tighten`), and the card is redrawn.

`escalations_done` records how far it got; the sweeper re-queues requests whose escalations
are not done (`recover_escalations`). An escalation whose Case Salesforce could not take (down,
a login refused) is not done: the post says the Case is owed, and the sweeper tries again every
`CASE_RETRY_SECONDS` until it is opened (the post then shows it) or `CASE_GIVE_UP` has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from slack_sdk.errors import SlackApiError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.salesforce import CrmUnavailable, NewCase
from integrations.slack import SLACK_FAILED, slack_error
from integrations.store.db import transaction
from integrations.store.models import OutboxMessage, OutboxState, Request
from workers import leases
from workers.blocks.escalation import (
    EscalationView,
    build_escalation_post,
    build_reescalation_note,
)
from workers.card import refresh_card_now
from workers.context import change_case, open_case
from workers.delivery import SharedChannelRefused, deliver_now
from workers.outbox_rows import outbox_row
from workers.sla import tighten
from workers.stage_data import request_context

log = structlog.get_logger(__name__)

GRACE_SECONDS = 20  # a queued escalation job gets this long before the sweeper re-queues it
CASE_RETRY_SECONDS = 60  # a Case Salesforce refused is asked for again this often...
CASE_GIVE_UP = timedelta(hours=24)  # ...for this long after the escalation


class RequestBusy(Exception):
    """Another job holds the request's lease; RQ retries this one shortly."""


@dataclass(frozen=True)
class _Escalation:
    number: int
    done: int
    priority: str
    reason: str
    by: str
    case_id: str | None
    account_id: str | None
    contact_id: str | None
    post_ts: str | None
    escalated_at: datetime | None
    view: EscalationView


def carry_out(deps: Deps, *, request_id: int) -> None:
    """RQ job: carry out the request's escalations that are not done yet."""
    carry_out_now(deps, request_id)


def carry_out_now(deps: Deps, request_id: int) -> None:
    """Case, post and SLA for the latest escalation; a no-op when all are done."""
    owner = leases.worker_id()
    if not leases.claim(deps.sessions, Request, request_id, owner, deps.settings.lease_seconds):
        raise RequestBusy(f"request {request_id} is leased by another job")
    try:
        with transaction(deps.sessions) as session:
            esc = _read(session, request_id)
        if esc is None or esc.number <= esc.done:
            return
        case_note, owed = _case(deps, request_id, esc)
        view = EscalationView(**{**esc.view.__dict__, "case": case_note})
        _post(deps, request_id, esc, view)
        tighten(deps, request_id, esc.priority)
        if owed:  # not done: the sweeper asks Salesforce again (`recover_escalations`)
            log.warning("escalation.case_owed", request_id=request_id, note=case_note)
            return
        with transaction(deps.sessions) as session:
            session.execute(
                update(Request)
                .where(Request.id == request_id, Request.escalations_done < esc.number)
                .values(escalations_done=esc.number)
            )
        log.info("escalation.done", request_id=request_id, number=esc.number)
    finally:
        leases.release(deps.sessions, Request, request_id, owner)
    refresh_card_now(deps, request_id)


def _read(session: Session, request_id: int) -> _Escalation | None:
    request = session.get(Request, request_id)
    if request is None or not request.priority:
        return None
    context = request_context(request)
    account = context.account if context is not None and context.status == "ok" else None
    view = EscalationView(
        request_id=request.id,
        channel_id=request.channel_id,
        customer_id=request.user_id,
        text=request.text,
        priority=request.priority,
        reason=request.escalation_reason or "",
        escalated_by=request.escalated_by or "someone",
        number=request.escalations,
        summary=request.summary,
        permalink=request.permalink,
        account_line=f"🏢 {context.summary}" if context is not None and context.summary else None,
    )
    return _Escalation(
        number=request.escalations,
        done=request.escalations_done,
        priority=request.priority,
        reason=request.escalation_reason or "",
        by=request.escalated_by or "",
        case_id=request.case_id,
        account_id=account.id if account is not None else None,
        contact_id=account.contact.id if account is not None and account.contact else None,
        post_ts=request.escalation_ts,
        escalated_at=request.escalated_at,
        view=view,
    )


def _case(deps: Deps, request_id: int, esc: _Escalation) -> tuple[str, bool]:
    """Open the Case (first time) or update it: a line for the post saying which, or why not,
    and whether Salesforce still owes it (it failed, and there is time to ask again)."""
    priority = deps.settings.case_priority.get(esc.priority, "High")
    description = (
        f"Escalated {esc.priority} from Slack by {esc.by}: {esc.reason}\n"
        f"Request #{request_id}: {esc.view.permalink or 'no link'}"
    )
    if esc.account_id is None:
        return "no Case: the channel is not linked to an account", False
    try:
        if esc.case_id:
            change_case(
                deps,
                account_id=esc.account_id,
                case_id=esc.case_id,
                fields={"Priority": priority, "Description": description},
            )
            log.info("escalation.case_updated", request_id=request_id, priority=priority)
            return f"📁 Case {esc.case_id} updated ({priority})", False
        summary = esc.view.summary or "Customer request"
        case_id = open_case(
            deps,
            NewCase(
                account_id=esc.account_id,
                subject=f"[{esc.priority}] {summary}",
                description=description,
                priority=priority,
                contact_id=esc.contact_id,
            ),
        )
    except CrmUnavailable as exc:
        log.warning("escalation.case_failed", request_id=request_id, reason=exc.reason)
        since = esc.escalated_at or datetime.now(UTC)
        if datetime.now(UTC) - since > CASE_GIVE_UP:
            return f"⚠️ no Case: {exc.reason} (tried for {CASE_GIVE_UP.days * 24} hours)", False
        return f"⚠️ no Case yet: {exc.reason}; asked again every minute until it answers", True
    with transaction(deps.sessions) as session:  # at once: a retry must update, not re-create
        session.execute(update(Request).where(Request.id == request_id).values(case_id=case_id))
    log.info("escalation.case_opened", request_id=request_id, priority=priority)
    return f"📁 Case {case_id} opened ({priority})", False


def _post(deps: Deps, request_id: int, esc: _Escalation, view: EscalationView) -> None:
    channel = deps.settings.escalation_channel
    if not channel:
        log.warning("escalation.no_channel", request_id=request_id)
        return
    first = esc.post_ts is None
    body = build_escalation_post(view) if first else build_reescalation_note(view)
    with transaction(deps.sessions) as session:
        outbox_id = outbox_row(
            session,
            f"escalation:{request_id}:{esc.number}",
            kind="escalation",
            request_id=request_id,
            channel_id=channel,
            thread_ts=esc.post_ts,
            body=body,
        )
    try:
        ts = deliver_now(deps, outbox_id)
    except (*SLACK_FAILED, SharedChannelRefused):  # the only failures that can be permanent
        with transaction(deps.sessions) as session:
            failed = session.get_one(OutboxMessage, outbox_id).state == OutboxState.FAILED
        if not failed:
            raise  # RQ retries what can be retried
        # A permanent failure (a shared channel, a missing channel) is in the audit log;
        # the Case and the SLA still follow.
        return
    if ts is None:  # delivered before (a replayed job), or leased elsewhere
        with transaction(deps.sessions) as session:
            ts = session.get_one(OutboxMessage, outbox_id).result_ts
    if first and ts:
        with transaction(deps.sessions) as session:
            session.execute(
                update(Request).where(Request.id == request_id).values(escalation_ts=ts)
            )
    elif esc.post_ts:  # the original post shows the current level
        try:
            deps.slack.chat_update(channel=channel, ts=esc.post_ts, **build_escalation_post(view))
        except SlackApiError as exc:
            log.warning("escalation.update_failed", request_id=request_id, error=slack_error(exc))


def recover_escalations(deps: Deps) -> int:
    """The sweeper's part: re-queue escalations whose job never ran or died."""
    cutoff = datetime.now(UTC) - timedelta(seconds=GRACE_SECONDS)
    with transaction(deps.sessions) as session:
        pending = session.scalars(
            select(Request.id)
            .where(Request.escalations > Request.escalations_done, Request.escalated_at < cutoff)
            .limit(100)
        ).all()
        # Those whose post is out already wait for a Case Salesforce refused: less often.
        owed = set(
            session.scalars(
                select(Request.id).where(
                    Request.id.in_(pending), Request.escalation_ts.is_not(None)
                )
            )
        )
    queued = 0
    for request_id in pending:
        # Once per grace period, not on every sweep, while its job is queued or retrying.
        every = CASE_RETRY_SECONDS if request_id in owed else GRACE_SECONDS
        if deps.redis.set(f"triage:escalation-requeued:{request_id}", 1, nx=True, ex=every):
            deps.queues.enqueue_escalation(request_id)
            queued += 1
    return queued
