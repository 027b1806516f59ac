"""Leases on rows: which process works on a request or an outbox message right now.

A lease is claimed with one conditional UPDATE, extended by the owner's heartbeat, and expires
when its owner dies; then the sweeper re-queues the work. This is how a SIGKILLed worker's job
is recovered from the database, in seconds, without waiting for RQ's abandoned-job detection.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from integrations.store.db import transaction
from integrations.store.models import OutboxMessage, Request

LEASED = (Request, OutboxMessage)

_INSTANCE = uuid.uuid4().hex[:8]  # tells apart two processes that had the same pid


def worker_id() -> str:
    """A lease owner name unique to this process (host, pid, and a random part for pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_INSTANCE}"


def claim(
    sessions: sessionmaker[Session],
    model: Any,
    row_id: int,
    owner: str,
    seconds: float,
    *where: Any,
) -> bool:
    """Take the lease on a row if nobody holds a live one; True when this owner now holds it."""
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        result = session.execute(
            update(model)
            .where(
                model.id == row_id,
                or_(model.lease_owner.is_(None), model.lease_expires_at < now),
                *where,
            )
            .values(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=seconds),
                attempts=model.attempts + 1,
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def release(sessions: sessionmaker[Session], model: Any, row_id: int, owner: str) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(model)
            .where(model.id == row_id, model.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )


def extend_all(sessions: sessionmaker[Session], owner: str, seconds: float) -> None:
    """The heartbeat: push back the expiry of every lease this owner holds."""
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    with transaction(sessions) as session:
        for model in LEASED:
            session.execute(
                update(model).where(model.lease_owner == owner).values(lease_expires_at=expires)
            )
