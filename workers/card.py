"""The approval card: what it shows, and redrawing it in place when anything changes.

Posting it the first time goes through the outbox (`workers.card_post`). Redrawing is
`chat.update`, Slack's Tier 3 (about 50 a minute per workspace), and one click can set off
several refreshes of one card (the reply posted, the SLA clock stopped, the ✅): they are
coalesced per card in Redis, so a card is redrawn at most once a second, with the latest
state, and never when it already shows it (`draw_card`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import structlog
from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, object_session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, unexpected
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
from workers.blocks.incident import IncidentMark
from workers.health import account_health
from workers.ids import Reaction
from workers.incident_view import incident_mark
from workers.routes import posted_card_channel
from workers.stage_data import AutoSent, draft_details, request_context, request_suggestions

log = structlog.get_logger(__name__)


def card_view(request: Request, *, health: str | None = None) -> CardView:
    """What the card shows, read off the request and its current draft; `health`: the
    account's health note when the caller read it a moment ago (else read now)."""
    draft = request.current_draft
    details = draft_details(draft) if draft else None
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
        draft_flags=details.flags if details else [],
        language=details.language if details else None,
        translation=details.translation if details else None,
        escalation=_escalation(request),
        sla=_sla(request),
        incident=_incident(request),
        health=_health(request) if health is None else health,
        auto_sent=_auto_sent(request),
    )


def _auto_sent(request: Request) -> AutoSent | None:
    """The record of the request's automatic answer (on its draft, or on the draft a person
    was handed after it and that a redraft replaced), if it had one."""
    for draft in reversed(request.drafts):
        record = draft_details(draft).auto_sent
        if record is not None:
            return record
    return None


def _health(request: Request) -> str:
    """The account line's health note, read in the card's own transaction (two statements).
    A bug in it costs the note, never the card: logged and counted (`where="health"`)."""
    session = object_session(request)
    if session is None or not request.account_key:
        return ""
    context = request_context(request)
    try:
        health = account_health(session, request.account_key, context, datetime.now(UTC))
    except SQLAlchemyError:
        raise  # the transaction is lost: the card's job is retried
    except Exception:
        unexpected(log, "card.health_failed", where="health", request_id=request.id)
        return ""
    return health.card_note(shown=context.summary if context is not None else "")


def _incident(request: Request) -> IncidentMark | None:
    session = object_session(request)
    return incident_mark(session, request.id) if session is not None else None


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


class CardBody(NamedTuple):
    body: dict[str, Any]  # chat.postMessage's text and blocks
    card_ts: str | None  # where it is posted, None before
    health: str  # the account's health note it shows


def message_body(session: Session, request_id: int, *, health: str | None = None) -> CardBody:
    """The card as it should look now; `health` as in `card_view`."""
    request = session.get_one(Request, request_id)
    view = card_view(request, health=health)
    blocks = [b.to_dict() for b in build_approval_card(view)]
    return CardBody(
        {"text": card_fallback_text(view), "blocks": blocks}, request.card_ts, view.health
    )


# A card is redrawn at most once in this long, however many refreshes ask meanwhile.
DRAW_SECONDS = 1.0
# How long a refresh may wait for its turn (the card's lock, and a claim to be the next
# drawing): longer than one chat.update may take behind Slack's Retry-After.
_TURN_SECONDS = 30
# What a card shows is remembered this long; a refresh after that redraws it once.
_REMEMBER_SECONDS = 7 * 86400


def refresh_card(deps: Deps, *, request_id: int) -> None:
    """RQ job: redraw a posted card (after an approval, a rejection, a withdrawal)."""
    refresh_card_now(deps, request_id)


def refresh_card_now(deps: Deps, request_id: int) -> None:
    """Mark an answered request's message ✅, and redraw its card (coalesced: `draw_card`)."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        answered = request.state == RequestState.ANSWERED
        customer_channel, customer_ts = request.channel_id, request.ts
        customer_slack = deps.slack_for(request.team_id, request.enterprise_id)
        where = _where(deps, request)
    if answered:  # ✅ whoever answered: an approved draft or a colleague in the thread
        _mark_answered(deps, customer_slack, customer_channel, customer_ts)
    if where is not None:  # no card yet: the pipeline draws the current state when it posts
        _draw_coalesced(deps, request_id, CardKeys(*where))


def draw_card(deps: Deps, request_id: int) -> bool:
    """Redraw the request's posted card with its current state; True when chat.update ran.

    A card that already shows the current state is not redrawn. Otherwise a refresh that
    finds another one already waiting for the card's turn leaves the drawing to it (that one
    reads the state after this one's change), and one that comes less than DRAW_SECONDS after
    the card was last drawn waits out the rest, then reads the latest state. Without Redis,
    every refresh draws."""
    with transaction(deps.sessions) as session:
        where = _where(deps, session.get_one(Request, request_id))
    return where is not None and _draw_coalesced(deps, request_id, CardKeys(*where))


class CardKeys:
    """The Redis keys of one posted card, named by where it is (unique across deployments)."""

    def __init__(self, channel: str, ts: str) -> None:
        self.channel, self.ts = channel, ts
        base = f"triage:card:{channel}:{ts}"
        self.drawn = f"{base}:drawn"  # a digest of the body the card shows
        self.recent = f"{base}:recent"  # exists for DRAW_SECONDS after each drawing
        self.waiting = f"{base}:waiting"  # a refresh has claimed the next drawing
        self.lock = f"{base}:lock"  # one drawing of the card at a time, in order


def note_drawn(redis: Redis, keys: CardKeys, body: dict[str, Any]) -> None:
    """Remember that the card shows `body` as of now (after a post or an update)."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.drawn, body_digest(body), ex=_REMEMBER_SECONDS)
        pipe.set(keys.recent, 1, px=int(DRAW_SECONDS * 1000))
        pipe.execute()


def body_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _where(deps: Deps, request: Request) -> tuple[str, str] | None:
    channel = posted_card_channel(deps.settings, request)
    return (channel, request.card_ts) if channel and request.card_ts else None


def _draw_coalesced(deps: Deps, request_id: int, keys: CardKeys) -> bool:
    def body() -> dict[str, Any]:
        with transaction(deps.sessions) as session:
            return message_body(session, request_id).body

    return draw_coalesced(deps, keys, body, request_id=request_id)


def draw_coalesced(
    deps: Deps, keys: CardKeys, body: Callable[[], dict[str, Any]], **about: object
) -> bool:
    """chat.update the message at `keys` with `body()`, coalesced (see `draw_card`): the
    approval card's, and the incident card's (`workers.incident_jobs`). `about` names it in
    the logs."""
    try:
        if _shows_current(deps, keys, body):
            log.debug("card.unchanged", **about)
            return False
        claimed = deps.redis.set(keys.waiting, 1, nx=True, ex=_TURN_SECONDS)
    except REDIS_DOWN as exc:  # the demo runs without Redis; a redraw too many is no harm
        log.warning("card.not_coalesced", error=str(exc), **about)
        return _draw(deps, keys, body, None, about)
    if not claimed:
        log.debug("card.coalesced", **about)
        return False
    released = False
    try:
        with deps.redis.lock(keys.lock, timeout=_TURN_SECONDS, blocking_timeout=_TURN_SECONDS):
            wait_ms = deps.redis.pttl(keys.recent)
            if wait_ms > 0:
                time.sleep(wait_ms / 1000)
            # From here a new refresh claims the turn after this one: the state read below is
            # at least as new as whatever the refreshes that found the claim taken had seen.
            deps.redis.delete(keys.waiting)
            released = True
            return _draw(deps, keys, body, deps.redis, about)
    finally:
        if not released:
            deps.redis.delete(keys.waiting)


def _shows_current(deps: Deps, keys: CardKeys, body: Callable[[], dict[str, Any]]) -> bool:
    """Whether the card already shows the current state (then a refresh has nothing to wait
    for)."""
    drawn = deps.redis.get(keys.drawn)
    return drawn is not None and drawn == body_digest(body()).encode()


def _draw(
    deps: Deps,
    keys: CardKeys,
    body: Callable[[], dict[str, Any]],
    redis: Redis | None,
    about: dict[str, object],
) -> bool:
    """chat.update the card with the current body, unless it shows that body already."""
    current = body()
    if redis is not None and redis.get(keys.drawn) == body_digest(current).encode():
        log.debug("card.unchanged", **about)
        return False
    try:
        deps.slack.chat_update(channel=keys.channel, ts=keys.ts, **current)
    except SlackApiError as exc:
        log.warning("card.update_failed", error=slack_error(exc), **about)
        raise
    if redis is not None:
        note_drawn(redis, keys, current)
    return True


def _mark_answered(deps: Deps, slack: WebClient, channel: str, ts: str) -> None:
    """Add ✅ to the customer's message (SPEC §6.1), once: every later refresh of an answered
    request would otherwise spend a Tier-3 reactions.add to hear `already_reacted`."""
    key = f"triage:answered:{channel}:{ts}"
    try:
        if deps.redis.get(key):
            return
    except REDIS_DOWN as exc:  # then ask Slack: twice is not an error
        log.warning("reaction.not_remembered", channel=channel, ts=ts, error=str(exc))
    try:
        slack.reactions_add(channel=channel, timestamp=ts, name=Reaction.ANSWERED)
    except SlackApiError as exc:
        if slack_error(exc) != "already_reacted":
            log.warning("reaction.failed", channel=channel, ts=ts, error=slack_error(exc))
            raise  # the refresh is tried again (its job's retries), and the ✅ with it
    try:
        deps.redis.set(key, 1, ex=_REMEMBER_SECONDS)
    except REDIS_DOWN as exc:
        log.warning("reaction.not_remembered", channel=channel, ts=ts, error=str(exc))
