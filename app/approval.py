"""What an approver's click decides (SPEC §5.6): approve, edit, reject, regenerate.

Each decision is one conditional UPDATE on the draft (`WHERE status = 'pending'`), so of two
clicks, or two approvers, exactly one wins. An approval writes its outbox row (unique per
request) in the same transaction; the delivery job posts it. Nothing here calls Slack.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import structlog
from sqlalchemy import select, update

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    Draft,
    DraftStatus,
    OutboxMessage,
    Request,
    RequestState,
)
from workers.edit_distance import edit_distance
from workers.ingest import enqueue_pipeline, mark_enqueued
from workers.metrics import DRAFTS
from workers.outbox_rows import deliver_soon

log = structlog.get_logger(__name__)


class Outcome(StrEnum):
    DONE = "done"
    ALREADY_DECIDED = "already_decided"
    WITHDRAWN = "withdrawn"
    NOT_FOUND = "not_found"
    EMPTY = "empty"


MESSAGES = {
    Outcome.ALREADY_DECIDED: (
        "This draft was already approved, rejected or replaced; nothing was sent."
    ),
    Outcome.WITHDRAWN: "The customer deleted this message, so nothing was sent.",
    Outcome.NOT_FOUND: "This card no longer matches a stored draft; nothing was sent.",
    Outcome.EMPTY: "There is no draft text to send: use Edit to write the reply.",
}


def _decide(session, draft_id: int, user_id: str, status: DraftStatus, **values) -> Outcome:  # type: ignore[no-untyped-def]
    draft = session.get(Draft, draft_id)
    if draft is None:
        return Outcome.NOT_FOUND
    if draft.request.state == RequestState.WITHDRAWN:
        return Outcome.WITHDRAWN
    result = session.execute(
        update(Draft)
        .where(Draft.id == draft_id, Draft.status == DraftStatus.PENDING)
        .values(status=status, decided_by=user_id, decided_at=datetime.now(UTC), **values)
    )
    return Outcome.DONE if result.rowcount == 1 else Outcome.ALREADY_DECIDED


def approve(deps: Deps, *, draft_id: int, user_id: str, text: str | None = None) -> Outcome:
    """Approve a draft (as is, or with the approver's `text`) and queue the reply."""
    with transaction(deps.sessions) as session:
        draft = session.get(Draft, draft_id)
        reply = (text if text is not None else (draft.text if draft else "")).strip()
        if draft is not None and not reply:
            return Outcome.EMPTY
        # How much the approver changed it, kept as a number (SPEC §6.7: `triage gaps` looks
        # for heavily edited drafts; the texts go with retention, the audit holds none).
        changed = edit_distance(draft.text, reply) if draft is not None else None
        outcome = _decide(
            session,
            draft_id,
            user_id,
            DraftStatus.APPROVED,
            posted_text=reply,
            edit_distance=changed,
        )
        if outcome != Outcome.DONE or draft is None:
            return outcome
        request = draft.request
        edited = reply != draft.text
        outbox = OutboxMessage(
            dedupe_key=f"reply:{request.id}",
            kind="reply",
            request_id=request.id,
            draft_id=draft_id,
            channel_id=request.channel_id,
            thread_ts=request.thread_ts,
            body={"text": reply},
            enqueued_at=datetime.now(UTC),
        )
        session.add(outbox)
        session.add(
            AuditEntry(
                actor=user_id,
                action="draft.edited" if edited else "draft.approved",
                request_id=request.id,
                draft_id=draft_id,
                detail=fingerprint(original=draft.text, sent=reply) if edited else {},
            )
        )
        session.flush()
        outbox_id = outbox.id
    DRAFTS.labels(outcome="edited" if edited else "approved").inc()
    log.info("draft.approved", draft_id=draft_id, edited=edited, user=user_id)
    deliver_soon(deps, outbox_id)  # or, unqueued, the sweeper delivers it
    return Outcome.DONE


def reject(deps: Deps, *, draft_id: int, user_id: str, reason: str | None = None) -> Outcome:
    """Close the draft without sending anything."""
    with transaction(deps.sessions) as session:
        outcome = _decide(session, draft_id, user_id, DraftStatus.REJECTED, reason=reason)
        if outcome != Outcome.DONE:
            return outcome
        request = session.get_one(Draft, draft_id).request
        request.state = RequestState.CLOSED
        request_id = request.id
        session.add(
            AuditEntry(
                actor=user_id,
                action="draft.rejected",
                request_id=request_id,
                draft_id=draft_id,
                detail=fingerprint(reason=reason) if reason else {},
            )
        )
    DRAFTS.labels(outcome="rejected").inc()
    _refresh(deps, request_id)
    return Outcome.DONE


def regenerate(deps: Deps, *, draft_id: int, user_id: str) -> Outcome:
    """Set the draft aside and queue a new one."""
    with transaction(deps.sessions) as session:
        outcome = _decide(session, draft_id, user_id, DraftStatus.SUPERSEDED)
        if outcome != Outcome.DONE:
            return outcome
        request: Request = session.get_one(Draft, draft_id).request
        request.revision += 1
        job_id = mark_enqueued(request)
        request_id = request.id
        session.add(
            AuditEntry(
                actor=user_id, action="draft.regenerate", request_id=request_id, draft_id=draft_id
            )
        )
    if job_id:
        enqueue_pipeline(deps, request_id, job_id)
    return Outcome.DONE


def pending_text(deps: Deps, draft_id: int) -> str | None:
    """The draft's text while it can still be decided on (to edit it), else None."""
    with transaction(deps.sessions) as session:
        draft = session.scalars(select(Draft).where(Draft.id == draft_id)).first()
        withdrawn = draft is not None and draft.request.state == RequestState.WITHDRAWN
        if draft is None or draft.status != DraftStatus.PENDING or withdrawn:
            return None
        return draft.text


def record_refusal(deps: Deps, *, user_id: str, action: str, team_id: str | None) -> None:
    """Audit a click on a card from outside the organisation; nothing else happens."""
    log.warning("action.refused", action=action, user=user_id)
    with transaction(deps.sessions) as session:
        session.add(
            AuditEntry(
                actor=user_id, action="action.refused", detail={"action": action, "team": team_id}
            )
        )


def _refresh(deps: Deps, request_id: int) -> None:
    enqueued(
        log,
        lambda: deps.queues.enqueue_card_refresh(request_id),
        what="card refresh",
        request_id=request_id,
    )
