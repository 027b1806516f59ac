"""After an auto-send decision (SPEC §6.7): the post, and a person taking it back.

- **Before the post** (`check_before_post`, in delivery's transaction that starts the post):
  the kill switch, the request and the draft are read again. Switched off meanwhile, undone,
  the customer wrote again, the request closed: the row is cancelled, nothing is posted, and
  the draft waits for a person on its card.
- **The post** (`posted`): the request is answered, its clock stopped by `auto-send`,
  audited and counted. A post that lands after its Undo was clicked is deleted at once.
- **Handed back** (`hand_back`): Undo, a 👎 on the automatic answer, or a follow-up from
  the customer. The draft is pending again (approve, edit or reject it as any other), the
  request open, and its first-response clock runs again, still counted from the customer's
  first message. It is never sent automatically again.
- **Undo** (`undo`): hands back, and deletes the post: through a `retract` outbox row (a
  `chat.delete`, leased, retried, recovered by the sweeper as any outbox row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.slack import slack_error
from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    Draft,
    DraftStatus,
    OutboxMessage,
    OutboxState,
    Request,
    RequestState,
)
from workers.auto_send import ACTOR, switched_on
from workers.metrics import DRAFTS
from workers.outbox_rows import deliver_soon, outbox_row
from workers.sla import resume_clock, schedule_checks, stop_clock
from workers.stage_data import AutoSent, draft_details, stored

log = structlog.get_logger(__name__)

RETRACT = "retract"  # the outbox kind that deletes an undone automatic answer


@dataclass
class HandedBack:
    """What to do once the transaction that handed a request back has committed."""

    request_id: int
    moments: list[datetime] = field(default_factory=list)  # its clock's checks
    retract: int | None = None  # the outbox row deleting the post


def check_before_post(session: Session, outbox_id: int) -> HandedBack | None:
    """In the transaction that starts an `auto_reply` post: None when it may go out; else
    the row is cancelled (failed, saying why) and the request handed back."""
    row = session.get_one(OutboxMessage, outbox_id)
    draft = session.get(Draft, row.draft_id) if row.draft_id else None
    request = session.get(Request, row.request_id) if row.request_id else None
    if draft is None or request is None:
        why = "its draft is gone"
    elif draft.status != DraftStatus.AUTO_SENT:
        record = draft_details(draft).auto_sent
        why = (record.handed_back if record else None) or "a person decided meanwhile"
    elif not switched_on(session):
        why = "auto-send was switched off"
    elif request.state != RequestState.OPEN:
        why = f"the request is {request.state.value}"
    elif request.revision != _record(draft).revision:
        why = "the customer wrote again"
    else:
        return None
    row.state, row.last_error = OutboxState.FAILED, f"auto-send cancelled: {why}"
    session.add(
        AuditEntry(
            actor=ACTOR,
            action="auto_send.cancelled",
            request_id=row.request_id,
            draft_id=row.draft_id,
            detail={"why": why},
        )
    )
    log.info("auto_send.cancelled", outbox_id=outbox_id, why=why)
    if request is None:
        return None
    return hand_back(session, request, why) or HandedBack(request.id)


def posted(session: Session, request: Request, draft_id: int, ts: str, now: datetime) -> int | None:
    """Record an automatic answer's post; the id of a `retract` row when it was undone while
    it was being posted (delete it now)."""
    marked = session.execute(
        update(Draft)
        .where(Draft.id == draft_id, Draft.status == DraftStatus.AUTO_SENT)
        .values(posted_ts=ts)
    ).rowcount  # type: ignore[attr-defined]
    draft = session.get_one(Draft, draft_id)
    if not marked:  # handed back while it was in flight
        record = draft_details(draft).auto_sent
        if record is not None and record.undone_by:
            return _retract_row(session, request, draft_id, ts)
        return None  # a follow-up or the switch: the answer stays, a person has the request
    if request.state == RequestState.OPEN:
        request.state, request.answered_at = RequestState.ANSWERED, now
    stop_clock(session, request.id, ACTOR)
    session.add(
        AuditEntry(
            actor=ACTOR,
            action="reply.posted",
            request_id=request.id,
            draft_id=draft_id,
            detail={
                "channel": request.channel_id,
                "thread_ts": request.thread_ts,
                "ts": ts,
                "automatic": True,
                **fingerprint(text=draft.posted_text or ""),
            },
        )
    )
    DRAFTS.labels(outcome="auto_sent").inc()
    return None


def hand_back(
    session: Session, request: Request, why: str, *, by: str = ACTOR, undone: bool = False
) -> HandedBack | None:
    """Give an automatically answered request to a person, in the caller's transaction: the
    draft pending again, the request open, its clock running. None when it was not auto-sent
    (or was handed back already)."""
    draft = next((d for d in request.drafts if d.status == DraftStatus.AUTO_SENT), None)
    if draft is None:
        return None
    details = draft_details(draft)
    record = _record(draft)
    record.handed_back = why
    record.undone_by = by if undone else None
    details.auto_sent = record
    draft.status, draft.decided_by, draft.decided_at = DraftStatus.PENDING, None, None
    draft.details = stored(details)
    if request.state == RequestState.ANSWERED:
        request.state, request.answered_at = RequestState.OPEN, None
    moments = resume_clock(session, request.id, ACTOR)
    session.add(
        AuditEntry(
            actor=by,
            action="auto_send.handed_back",
            request_id=request.id,
            draft_id=draft.id,
            detail={"why": why},
        )
    )
    log.info("auto_send.handed_back", request_id=request.id, why=why)
    return HandedBack(request.id, moments)


def undo(deps: Deps, *, draft_id: int, user_id: str) -> bool:
    """Undo (`undo_auto_send`): hand the request back and delete the post, when it was
    posted (or once it is). False when the draft is no longer an automatic answer."""
    with transaction(deps.sessions) as session:
        draft = session.get(Draft, draft_id)
        if draft is None or draft.status != DraftStatus.AUTO_SENT:
            return False
        request = draft.request
        done = hand_back(session, request, f"undone by <@{user_id}>", by=user_id, undone=True)
        if done is None:
            return False
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"auto-reply:{draft_id}")
        ).first()
        if row is not None and row.state == OutboxState.PENDING and row.lease_owner is None:
            row.state, row.last_error = OutboxState.FAILED, "auto-send undone before its post"
        elif row is not None and row.state == OutboxState.SENT and row.result_ts:
            done.retract = _retract_row(session, request, draft_id, row.result_ts)
        # Being posted right now: `posted` finds it undone and deletes it.
    after_hand_back(deps, done)
    return True


def after_hand_back(deps: Deps, done: HandedBack) -> None:
    """Once committed: the clock's checks, the post's deletion, and the card redrawn."""
    schedule_checks(deps, done.request_id, done.moments)
    retract = done.retract
    if retract is not None:
        deliver_soon(deps, retract)
    enqueued(
        log,
        lambda: deps.queues.enqueue_card_refresh(done.request_id),
        what="card refresh",
        request_id=done.request_id,
    )


def retract(slack: WebClient, channel_id: str, body: dict[str, Any]) -> str:
    """Delete an undone automatic answer (a `retract` row's job); gone already is done."""
    ts = str(body["ts"])
    try:
        slack.chat_delete(channel=channel_id, ts=ts)
    except SlackApiError as exc:
        if slack_error(exc) != "message_not_found":
            raise
    log.info("auto_send.retracted", channel=channel_id, ts=ts)
    return ts


def _retract_row(session: Session, request: Request, draft_id: int, ts: str) -> int:
    return outbox_row(
        session,
        f"retract:{draft_id}",
        kind=RETRACT,
        request_id=request.id,
        draft_id=draft_id,
        channel_id=request.channel_id,
        thread_ts=request.thread_ts,
        body={"ts": ts},
    )


def _record(draft: Draft) -> AutoSent:
    record = draft_details(draft).auto_sent
    if record is None:  # auto_sent drafts are written with one (workers.auto_send.decide)
        raise RuntimeError(f"draft {draft.id} is auto_sent without its record")
    return record
