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
            outbox = _card_outbox(session, request_id, channel, body)
            outbox_id, posted = outbox.id, dict(outbox.body)
    if card_ts is not None:
        deps.slack.chat_update(channel=channel, ts=card_ts, **body)
        return
    deliver_now(deps, outbox_id)
    # What went out is the outbox row's body: this one's, or an earlier try's when that try
    # wrote the row and failed to post. Whatever differs from it now is drawn now.
    with transaction(deps.sessions) as session:
        fresh, card_ts = message_body(session, request_id)
    if card_ts is not None and fresh != posted:
        deps.slack.chat_update(channel=channel, ts=card_ts, **fresh)


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
