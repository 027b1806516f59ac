"""Outbox rows written once: the decision's transaction names its row by a key, and a second
writer (a retried job, two processes) finds the first one's row instead of adding another."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.store.models import OutboxMessage


def outbox_row(session: Session, key: str, **values: Any) -> int:
    """The id of the outbox row under `key`: an earlier try's (with its body: that is what
    goes out), or a new one with `values`, queued now. Two writers at once end at one row."""
    found = session.scalars(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
    existing = found.first()
    if existing is not None:
        return existing
    row = OutboxMessage(dedupe_key=key, enqueued_at=datetime.now(UTC), **values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another writer's, a moment ago
        return session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
        ).one()
    return row.id
