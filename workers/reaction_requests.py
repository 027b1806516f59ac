"""🎫 and 🔍 (SPEC §6.1): reactions by the organisation's people that ask for work.

🎫 (`ticket`) on any message opens a request for it, even in an internal channel or for a
message the triage rules thought needed no answer. 🔍 (`mag`) on a customer message asks for
a new draft now (and opens the request if there was none). Reactions from anyone outside the
organisation do nothing. Both go through the pipeline like any request, exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import (
    AuditEntry,
    DraftStatus,
    EventKind,
    Request,
    RequestMessage,
    RequestState,
    Stage,
)
from workers.classify import Classified, Installation
from workers.ingest import enqueue_pipeline, mark_enqueued, open_or_join
from workers.reconcile import installation_of
from workers.triage_model import classify_offline

log = structlog.get_logger(__name__)

TICKET, MAG = "ticket", "mag"


def act_on(deps: Deps, slack: WebClient, event: dict[str, Any], user_is_ours: bool) -> str:
    """Open or redraft the request for the message a 🎫 or 🔍 was put on."""
    if not user_is_ours:
        return "not one of ours"
    if event.get("type") != "reaction_added":
        return "removed: nothing to undo"
    item, user = event.get("item") or {}, str(event.get("user", ""))
    channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
    with transaction(deps.sessions) as session:
        existing = session.scalars(
            select(RequestMessage.request_id).where(
                RequestMessage.channel_id == channel, RequestMessage.ts == ts
            )
        ).first()
    if existing is not None:
        return _redo(deps, existing, user, str(event.get("reaction")))
    message = _fetch(slack, channel, ts)
    if message is None:
        return "message not found"
    return _open(
        deps, installation_of(slack, deps.slack_clients.organisation()), channel, message, user
    )


def _redo(deps: Deps, request_id: int, user: str, reaction: str) -> str:
    """Reopen a closed request, or set its pending draft aside: a new draft now."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id, with_for_update=True)
        if request.state in (RequestState.ANSWERED, RequestState.WITHDRAWN):
            return "already answered"
        draft = request.current_draft
        if draft is not None and draft.status == DraftStatus.PENDING:
            draft.status = DraftStatus.SUPERSEDED
        if request.state == RequestState.CLOSED:  # e.g. triaged as needing no reply
            request.state = RequestState.OPEN
            request.needs_reply = True
        request.revision += 1
        request.stage = Stage.TRIAGED  # a person asked: triage may not close it again
        job_id = mark_enqueued(request)
        session.add(AuditEntry(actor=user, action=f"reaction.{reaction}", request_id=request_id))
    if job_id:
        enqueue_pipeline(deps, request_id, job_id)
    return "redrafting"


def _open(
    deps: Deps, installation: Installation, channel: str, message: dict[str, Any], user: str
) -> str:
    text = str(message.get("text") or "")
    triage = classify_offline(text)
    author = str(message.get("user") or "")
    classified = Classified(
        EventKind.CUSTOMER,
        "ticket",
        channel=channel,
        ts=message["ts"],
        thread_ts=message.get("thread_ts"),
        user=author,
        user_team=message.get("user_team") or message.get("team"),
        text=text,
    )
    try:
        with transaction(deps.sessions) as session:
            _, request_id, _ = open_or_join(session, classified, installation, 0)
            request = session.get_one(Request, request_id)
            request.category, request.urgency = triage.category.value, triage.urgency.value
            request.summary, request.needs_reply = triage.summary, True
            request.stage = Stage.TRIAGED  # opened by a person: no triage may close it
            request.created_at = datetime.now(UTC)
            session.add(
                AuditEntry(
                    actor=user,
                    action="reaction.ticket",
                    request_id=request_id,
                    detail={"channel": channel, "ts": message["ts"]},
                )
            )
            job_id = request.job_id
    except IntegrityError:
        return "opened already"
    if job_id:
        enqueue_pipeline(deps, request_id, job_id)
    log.info("request.ticketed", request_id=request_id, channel=channel)
    return "opened"


def _fetch(slack: WebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """The message itself: channel history for a top-level one, its thread otherwise."""
    found: list[dict[str, Any]] = slack.conversations_history(
        channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
    ).get("messages", [])
    if not found:
        found = slack.conversations_replies(channel=channel, ts=ts, limit=200).get("messages", [])
    return next((m for m in found if m.get("ts") == ts), None)
