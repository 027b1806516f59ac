"""The approval card: what it shows, and redrawing it in place when anything changes.

Posting it the first time goes through the outbox (`workers.card_post`)."""

from __future__ import annotations

from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.slack import slack_error
from integrations.store.db import transaction
from integrations.store.models import Request, RequestState
from workers.attachments import customer_files
from workers.blocks.card import (
    CardView,
    Escalation,
    SlaState,
    build_approval_card,
    card_fallback_text,
)
from workers.ids import Reaction
from workers.stage_data import draft_details, request_context, request_suggestions

log = structlog.get_logger(__name__)


def card_view(request: Request) -> CardView:
    """What the card shows, read off the request and its current draft."""
    draft = request.current_draft
    return CardView(
        request_id=request.id,
        channel_id=request.channel_id,
        customer_id=request.user_id,
        text=request.text,
        state=request.state.value,
        permalink=request.permalink,
        category=request.category,
        urgency=request.urgency,
        summary=request.summary,
        files=list(customer_files(request.messages)),
        context=request_context(request),
        suggestions=request_suggestions(request),
        draft_id=draft.id if draft else None,
        draft_text=draft.text if draft else None,
        draft_status=draft.status.value if draft else None,
        draft_note=draft.note if draft else "",
        decided_by=draft.decided_by if draft else None,
        decision_reason=draft.reason if draft else None,
        posted_text=draft.posted_text if draft else None,
        answered_by=request.answered_by,
        draft_flags=draft_details(draft).flags if draft else [],
        escalation=_escalation(request),
        sla=_sla(request),
    )


def _escalation(request: Request) -> Escalation | None:
    if not request.priority:
        return None
    return Escalation(
        priority=request.priority,
        by=request.escalated_by,
        reason=request.escalation_reason,
        count=request.escalations,
        case_id=request.case_id,
    )


def _sla(request: Request) -> SlaState | None:
    clock = request.sla_clock
    if clock is None:
        return None
    return SlaState(
        deadline=clock.deadline_at,
        reminded=clock.reminded_at is not None,
        breached=clock.breached_at is not None,
        stopped_at=clock.stopped_at,
        tier=clock.tier,
    )


def message_body(session: Session, request_id: int) -> tuple[dict[str, Any], str | None]:
    request = session.get_one(Request, request_id)
    view = card_view(request)
    blocks = [b.to_dict() for b in build_approval_card(view)]
    return {"text": card_fallback_text(view), "blocks": blocks}, request.card_ts


def refresh_card(deps: Deps, *, request_id: int) -> None:
    """RQ job: redraw a posted card (after an approval, a rejection, a withdrawal)."""
    refresh_card_now(deps, request_id)


def refresh_card_now(deps: Deps, request_id: int) -> None:
    with transaction(deps.sessions) as session:
        body, card_ts = message_body(session, request_id)
        request = session.get_one(Request, request_id)
        channel, answered = request.card_channel, request.state == RequestState.ANSWERED
        customer_channel, customer_ts = request.channel_id, request.ts
        customer_slack = deps.slack_for(request.team_id, request.enterprise_id)
    if answered:  # ✅ whoever answered: an approved draft or a colleague in the thread
        _mark_answered(customer_slack, customer_channel, customer_ts)
    if card_ts is None or channel is None:
        return  # no card yet; the pipeline draws the current state when it posts one
    try:
        deps.slack.chat_update(channel=channel, ts=card_ts, **body)
    except SlackApiError as exc:
        log.warning("card.update_failed", request_id=request_id, error=slack_error(exc))
        raise


def _mark_answered(slack: WebClient, channel: str, ts: str) -> None:
    """Add ✅ to the customer's message; adding it twice is not an error (SPEC §6.1)."""
    try:
        slack.reactions_add(channel=channel, timestamp=ts, name=Reaction.ANSWERED)
    except SlackApiError as exc:
        if slack_error(exc) != "already_reacted":
            log.warning("reaction.failed", channel=channel, ts=ts, error=slack_error(exc))
