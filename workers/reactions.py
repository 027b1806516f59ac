"""Reactions as events (SPEC §6.1): 👍/👎 on an answer the app posted are feedback; 🎫 and 🔍
from the organisation's people ask for a request or a new draft.

The listener only stores the reaction (a `slack_events` row, unique by event id) and queues
its processing: who reacted (a customer or a colleague) needs `users.info`, a network call a
listener must not make. `workers.feedback` applies it; the sweeper re-queues what is pending.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN, unexpected
from integrations.store.db import transaction
from integrations.store.models import EventKind, SlackEvent
from workers.classify import Installation
from workers.metrics import EVENTS

log = structlog.get_logger(__name__)

UP = {"+1", "thumbsup"}
DOWN = {"-1", "thumbsdown"}
ASKS = {"ticket", "mag"}  # 🎫 open a request for this message; 🔍 draft it again now
PENDING = "pending"


def feedback_value(reaction: str) -> str | None:
    """ "up", "down", or None for any other reaction (skin tones count as the same thumb)."""
    name = reaction.split("::", 1)[0]
    return "up" if name in UP else "down" if name in DOWN else None


def reaction_name(reaction: str) -> str:
    """The emoji's name without a skin tone."""
    return reaction.split("::", 1)[0]


def ingest_reaction(deps: Deps, body: dict[str, Any], installation: Installation) -> None:
    """Store a 👍/👎/🎫/🔍 added or removed on a message, and queue its processing."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    reaction = str(event.get("reaction", ""))
    wanted = feedback_value(reaction) is not None or reaction_name(reaction) in ASKS
    if not wanted or item.get("type") != "message":
        EVENTS.labels(kind="ignored").inc()
        return
    event_id = body.get("event_id") or (
        f"{event.get('type')}:{item.get('channel')}:{item.get('ts')}:{event.get('user')}:"
        f"{event.get('event_ts')}"
    )
    try:
        with transaction(deps.sessions) as session:
            row = SlackEvent(
                event_id=event_id,
                team_id=installation.team_id,  # whose token the job answers with
                enterprise_id=installation.enterprise_id,
                channel_id=item.get("channel"),
                ts=item.get("ts"),
                kind=EventKind.REACTION,
                reason=PENDING,
                payload=event,
            )
            session.add(row)
            session.flush()
            row_id = row.id
    except IntegrityError:
        EVENTS.labels(kind="duplicate").inc()
        return
    EVENTS.labels(kind="reaction").inc()
    try:
        deps.queues.enqueue_feedback(row_id)
    except REDIS_DOWN as exc:  # the sweeper queues it once Redis is back
        log.warning("enqueue.failed", event_row=row_id, what="feedback", error=str(exc))
    except Exception:  # a bug; the reaction is stored, and the sweeper queues it all the same
        unexpected(log, "enqueue.failed", where="reactions", event_row=row_id, what="feedback")
