"""The sweeper: finds work the database says is unfinished and puts it back on a queue.

It covers every way a job can be lost: Redis was down at ingest (no job was ever queued),
Redis restarted empty (the job vanished), or a worker died mid-job (its lease expired).
Re-queuing is always safe because jobs claim leases and stages are idempotent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import and_, or_, select, update

from integrations.deps import Deps
from integrations.failures import DATABASE_DOWN, REDIS_DOWN, unexpected
from integrations.queues import new_job_id
from integrations.store.db import transaction
from integrations.store.expertise_changes import prune_changes
from integrations.store.models import (
    EventKind,
    OutboxMessage,
    OutboxState,
    Request,
    RequestState,
    SlackEvent,
    Stage,
)
from workers import leases
from workers.csat import recover_surveys
from workers.escalation import recover_escalations
from workers.gap_weekly import WeeklyGaps
from workers.incident_jobs import recover_incidents
from workers.metrics import QUEUE_DEPTH
from workers.reactions import PENDING
from workers.reconcile import maybe_enqueue as maybe_enqueue_reconcile
from workers.redraft import redraft_unavailable
from workers.retention import PurgeSchedule
from workers.sla import recover_clocks

log = structlog.get_logger(__name__)

GRACE_SECONDS = 20  # a queued job gets this long to start before it is presumed lost
MAX_BACKOFF_SECONDS = 3600
BATCH = 200


@dataclass
class SweepReport:
    requests: int = 0
    outbox: int = 0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(GRACE_SECONDS * 2 ** max(0, attempts - 1), MAX_BACKOFF_SECONDS))


def sweep(deps: Deps) -> SweepReport:
    """Re-queue unfinished requests and undelivered outbox messages; one pass."""
    now = datetime.now(UTC)
    report = SweepReport()
    free = or_(Request.lease_owner.is_(None), Request.lease_expires_at < now)
    unfinished = or_(Request.stage != Stage.DONE, Request.processed_revision < Request.revision)
    with transaction(deps.sessions) as session:
        candidates = session.execute(
            select(
                Request.id,
                Request.job_id,
                Request.enqueued_at,
                Request.attempts,
                Request.lease_owner,
                Request.lease_expires_at,
            )
            .where(unfinished, free, Request.state.in_((RequestState.OPEN, RequestState.WITHDRAWN)))
            .order_by(Request.id)
            .limit(BATCH)
        ).all()
    for request_id, job_id, enqueued_at, attempts, lease_owner, expired in candidates:
        if not _request_is_lost(deps, now, job_id, enqueued_at, attempts, lease_owner, expired):
            continue
        new_id = new_job_id("request", request_id)
        # Queue first, record after: a failed enqueue must not make the request look queued.
        # (A job that runs before the record is harmless: it holds the lease, stages skip.)
        deps.queues.enqueue_request(request_id, new_id)
        with transaction(deps.sessions) as session:
            session.execute(
                update(Request)
                .where(Request.id == request_id)
                .values(job_id=new_id, enqueued_at=now)
            )
        log.info("sweeper.requeued", request_id=request_id, owner_died=lease_owner is not None)
        report.requests += 1

    report.outbox = _sweep_outbox(deps, now)
    _sweep_reactions(deps, now)
    report.requests += redraft_unavailable(deps, now)  # the model failed: ask it again later
    with transaction(deps.sessions) as session:
        prune_changes(session)  # the expertise indexes' feed: a day is kept
    for queue, depth in deps.queues.depths().items():
        QUEUE_DEPTH.labels(queue=queue).set(depth)
    return report


def _request_is_lost(
    deps: Deps,
    now: datetime,
    job_id: str | None,
    enqueued_at: datetime | None,
    attempts: int,
    lease_owner: str | None,
    lease_expired_at: datetime | None,
) -> bool:
    if enqueued_at is None:
        return True  # never queued: Redis was down at ingest
    age = now - enqueued_at
    if lease_owner is not None:
        # Its lease expired, so its worker died: queued again at once, unless that was done
        # since it died (then again after GRACE_SECONDS, should that job be lost too).
        if lease_expired_at is not None and enqueued_at < lease_expired_at:
            return True
        return age >= timedelta(seconds=GRACE_SECONDS)
    if age < _backoff(attempts):
        return False
    return not deps.queues.job_is_live(job_id)  # e.g. Redis restarted empty


def _sweep_reactions(deps: Deps, now: datetime) -> int:
    """Reactions stored while Redis was down (or whose job was lost) are queued again."""
    with transaction(deps.sessions) as session:
        pending = session.scalars(
            select(SlackEvent.id)
            .where(
                SlackEvent.kind == EventKind.REACTION,
                SlackEvent.reason == PENDING,
                SlackEvent.received_at < now - timedelta(seconds=GRACE_SECONDS),
            )
            .limit(BATCH)
        ).all()
    queued = 0
    for row_id in pending:  # at most once a minute each, however often the job fails
        if deps.redis.set(f"triage:feedback-swept:{row_id}", 1, nx=True, ex=60):
            deps.queues.enqueue_feedback(row_id)
            queued += 1
    return queued


def _sweep_outbox(deps: Deps, now: datetime) -> int:
    count = 0
    with transaction(deps.sessions) as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.enqueued_at)
            .where(
                OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.SENDING)),
                or_(OutboxMessage.lease_owner.is_(None), OutboxMessage.lease_expires_at < now),
                or_(
                    OutboxMessage.enqueued_at.is_(None),
                    and_(OutboxMessage.enqueued_at < now - timedelta(seconds=GRACE_SECONDS)),
                ),
            )
            .limit(BATCH)
        ).all()
    for outbox_id, attempts, enqueued_at in rows:
        if enqueued_at and now - enqueued_at < _backoff(attempts):
            continue
        deps.queues.enqueue_delivery(outbox_id)
        with transaction(deps.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(enqueued_at=now)
            )
        count += 1
    return count


class Maintenance(threading.Thread):
    """Beside the RQ worker: the lease heartbeat, the sweeper on a timer, and retention."""

    def __init__(self, deps: Deps, *, health_file: Path | None = None) -> None:
        super().__init__(name="triage-maintenance", daemon=True)
        self.deps = deps
        self.health_file = health_file  # touched after each pass that reached DB and Redis
        self.stopping = threading.Event()
        self.owner = leases.worker_id()
        self.retention = PurgeSchedule(deps)  # hourly, one worker at a time, in its own thread
        self.gaps_weekly = WeeklyGaps(deps)  # GAPS_WEEKLY: once an ISO week, across workers

    def run(self) -> None:
        settings = self.deps.settings
        beat = settings.lease_seconds / 3
        next_sweep = time.monotonic()
        while not self.stopping.is_set():
            self.heartbeat()
            if time.monotonic() >= next_sweep:
                self.tick()
                next_sweep = time.monotonic() + settings.sweep_seconds
            self.stopping.wait(min(beat, settings.sweep_seconds))

    def heartbeat(self) -> None:
        """Extend the leases of this worker's jobs; when the database is down they run out,
        and the sweeper re-queues their work."""
        try:
            leases.extend_all(self.deps.sessions, self.owner, self.deps.settings.lease_seconds)
        except DATABASE_DOWN as exc:
            log.warning("heartbeat.failed", error=str(exc))
        except Exception:  # a bug: said with its traceback; the next beat tries again
            unexpected(log, "heartbeat.failed", where="heartbeat")

    def tick(self) -> bool:
        """One sweeper pass and what runs beside it; True when it reached DB and Redis."""
        try:
            maybe_enqueue_reconcile(self.deps)
            report = sweep(self.deps)
            recover_clocks(self.deps)  # SLA events a lost scheduled job never fired
            recover_escalations(self.deps)
            recover_incidents(self.deps)  # incidents' clocks, and cards a lost job never drew
            recover_surveys(self.deps)  # CSAT questions a lost scheduled job never asked
            self.retention.tick()
            self.gaps_weekly.tick()
            if self.health_file is not None:
                self.health_file.touch()
        except (*REDIS_DOWN, *DATABASE_DOWN) as exc:  # down: try again next tick
            log.warning("sweeper.failed", error=str(exc))
            return False
        except Exception:  # a bug: said with its traceback; the next tick tries again
            unexpected(log, "sweeper.failed", where="sweeper")
            return False
        if report.requests or report.outbox:
            log.info("sweeper.pass", requests=report.requests, outbox=report.outbox)
        return True

    def stop(self) -> None:
        self.stopping.set()
