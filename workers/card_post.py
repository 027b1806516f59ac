"""The card stage: post the approval card once, through the outbox, then keep it current.

The card goes to the channel `TRIAGE_ROUTES` chooses for the request (`workers.routes`), which
the outbox row keeps; delivery records it on the request (`card_channel`), where every later
update, thread reply and note finds it. On the hot path the card is one chat.postMessage with
what is known: it is redrawn in the same run only when the request changed while it was
being posted.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import REDIS_DOWN
from integrations.store.db import transaction
from integrations.store.models import OutboxMessage, Request
from workers.card import CardKeys, draw_card, message_body, note_drawn
from workers.delivery import deliver_now
from workers.routes import card_channel
from workers.stage_data import request_context

log = structlog.get_logger(__name__)


def publish_card(deps: Deps, request_id: int) -> None:
    """Post the card through the outbox the first time; redraw it in place afterwards."""
    with transaction(deps.sessions) as session:
        body, card_ts, health = message_body(session, request_id)
        if card_ts is None:
            request = session.get_one(Request, request_id)
            channel = card_channel(
                deps.settings,
                customer_channel=request.channel_id,
                context=request_context(request),
            )
            outbox = _card_outbox(session, request_id, channel, body)
            # An earlier try's row keeps its channel and its body: that is what goes out.
            outbox_id, channel, posted = outbox.id, outbox.channel_id, dict(outbox.body)
    if card_ts is not None:
        draw_card(deps, request_id)  # no call when the card already shows this
        return
    ts = deliver_now(deps, outbox_id)
    if ts is not None:
        _note_posted(deps, CardKeys(channel, ts), posted, request_id)
    # What went out is the outbox row's body: this one's, or an earlier try's when that try
    # wrote the row and failed to post. Whatever differs from it now is drawn now; the
    # account's health is not read again (two statements, 2-3 ms on a long history): a card
    # shows it as of its drawing, and this one was drawn a moment ago.
    with transaction(deps.sessions) as session:
        fresh, card_ts, _ = message_body(session, request_id, health=health)
    if card_ts is not None and fresh != posted:
        draw_card(deps, request_id)


def _note_posted(deps: Deps, keys: CardKeys, body: dict[str, object], request_id: int) -> None:
    """The post is the card's first drawing: a refresh right after it waits its second, and
    one that finds nothing new makes no call."""
    try:
        note_drawn(deps.redis, keys, body)
    except REDIS_DOWN as exc:  # then the next refresh redraws it once: no harm
        log.warning("card.not_noted", request_id=request_id, error=str(exc))


def _card_outbox(
    session: Session, request_id: int, channel: str, body: dict[str, object]
) -> OutboxMessage:
    """The request's card row: the one already written, else a new one with `body`."""
    key = f"card:{request_id}"
    existing = session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).first()
    if existing is not None:
        return existing
    row = OutboxMessage(
        dedupe_key=key, kind="card", request_id=request_id, channel_id=channel, body=body
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another holder wrote it a moment ago
        return session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    return row
