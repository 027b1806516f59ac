"""Leases on rows: which process works on a request or an outbox message right now.

A lease is claimed with one conditional UPDATE, extended by the owner's heartbeat, and expires
when its owner dies; then the sweeper re-queues the work. This is how a SIGKILLed worker's job
is recovered from the database, in seconds, without waiting for RQ's abandoned-job detection.

The heartbeat extends only the leases of jobs still running in this process: each claim is
remembered for its thread until the job gives it back or ends (`forget_thread`). A job that
could not give its lease back (the database went away as it ended) no longer holds the row for
as long as the process lives: the lease runs out, and a retry or the sweeper takes it up.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from integrations.store.db import transaction

_INSTANCE = uuid.uuid4().hex[:8]  # tells apart two processes that had the same pid

# The rows each thread of this process claimed for the job it runs: (model, id) by thread.
_held: dict[int, set[tuple[Any, int]]] = {}
_held_lock = threading.Lock()


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
        claimed = result.rowcount == 1  # type: ignore[attr-defined]
    if claimed:
        with _held_lock:
            _held.setdefault(threading.get_ident(), set()).add((model, row_id))
    return claimed


def release(sessions: sessionmaker[Session], model: Any, row_id: int, owner: str) -> None:
    try:
        with transaction(sessions) as session:
            session.execute(
                update(model)
                .where(model.id == row_id, model.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
    finally:  # given back, or (the database gone) left to run out: no longer extended
        with _held_lock:
            _held.get(threading.get_ident(), set()).discard((model, row_id))


def forget_thread() -> None:
    """This thread's job has ended: the heartbeat stops extending what it claimed (given back
    by now, or left to run out because giving it back failed)."""
    with _held_lock:
        _held.pop(threading.get_ident(), None)


def held() -> dict[Any, list[int]]:
    """The rows whose leases the jobs running in this process hold, by model."""
    found: dict[Any, list[int]] = {}
    with _held_lock:
        for rows in _held.values():
            for model, row_id in rows:
                found.setdefault(model, []).append(row_id)
    return found


def extend_all(sessions: sessionmaker[Session], owner: str, seconds: float) -> None:
    """The heartbeat: push back the expiry of the leases this owner's running jobs hold."""
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    # One transaction per table: holding request rows while waiting for outbox rows deadlocked
    # with a delivery recording its post (its outbox row, then its request).
    for model, ids in held().items():
        with transaction(sessions) as session:
            session.execute(
                update(model)
                .where(model.lease_owner == owner, model.id.in_(sorted(ids)))
                .values(lease_expires_at=expires)
            )
