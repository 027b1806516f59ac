"""Outbox rows written once: the decision's transaction names its row by a key, and a second
writer (a retried job, two processes) finds the first one's row instead of adding another."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.failures import enqueued
from integrations.store.db import transaction
from integrations.store.models import OutboxMessage

log = structlog.get_logger(__name__)


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


def deliver_soon(deps: Deps, outbox_id: int) -> None:
    """Queue the row's delivery job. When it cannot be queued (Redis out of reach, or a bug),
    the row is marked unqueued so the sweeper delivers it at its next pass, not after its
    grace period: the decision that wrote the row is committed, so nothing is lost."""
    if not enqueued(
        log, lambda: deps.queues.enqueue_delivery(outbox_id), what="delivery", outbox_id=outbox_id
    ):
        with transaction(deps.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(enqueued_at=None)
            )
