"""The card stage: post the approval card once, through the outbox, then keep it current."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import OutboxMessage
from workers.card import message_body
from workers.delivery import deliver_now


def publish_card(deps: Deps, request_id: int) -> None:
    """Post the card through the outbox the first time; update it in place afterwards."""
    channel = deps.settings.triage_channel
    if not channel:
        raise RuntimeError("TRIAGE_CHANNEL is not set: there is nowhere to post approval cards")
    with transaction(deps.sessions) as session:
        body, card_ts = message_body(session, request_id)
        if card_ts is None:
            outbox_id = _card_outbox(session, request_id, channel, body)
    if card_ts is not None:
        deps.slack.chat_update(channel=channel, ts=card_ts, **body)
        return
    deliver_now(deps, outbox_id)
    # Anything that changed while the first post was in flight is drawn now.
    with transaction(deps.sessions) as session:
        fresh, card_ts = message_body(session, request_id)
    if card_ts is not None and fresh != body:
        deps.slack.chat_update(channel=channel, ts=card_ts, **fresh)


def _card_outbox(session: Session, request_id: int, channel: str, body: dict[str, object]) -> int:
    key = f"card:{request_id}"
    existing = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
    ).first()
    if existing is not None:
        return existing
    row = OutboxMessage(
        dedupe_key=key, kind="card", request_id=request_id, channel_id=channel, body=body
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another holder wrote it a moment ago
        return session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
        ).one()
    return row.id
