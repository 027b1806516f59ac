"""Queue names and enqueue helpers. Jobs take keyword-only primitive arguments (ids)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Retry
from rq.job import Job, JobStatus

PIPELINE = "triage-pipeline"
DELIVERY = "triage-delivery"
ALL_QUEUES = (DELIVERY, PIPELINE)  # delivery first: an approval should not wait behind drafts

_RETRY = Retry(max=3, interval=[2, 10, 60])
_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_WEEK = 7 * 86400


def new_job_id(kind: str, key: int | None) -> str:
    """Unique per attempt: RQ would overwrite a job hash enqueued under a reused id."""
    middle = f"{key}-" if key is not None else ""
    return f"{kind}-{middle}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class _JobKind:
    function: str
    queue: str
    timeout: int
    result_ttl: int
    retry: bool = True
    keep_failures: bool = False  # failed jobs kept a week, for whoever investigates


_JOBS = {
    "request": _JobKind(
        "workers.pipeline.process_request", PIPELINE, 300, 3600, keep_failures=True
    ),
    "outbox": _JobKind("workers.delivery.deliver", DELIVERY, 120, 3600, keep_failures=True),
    "card": _JobKind("workers.card.refresh_card", DELIVERY, 60, 600),
    "home": _JobKind("workers.home.publish_home", DELIVERY, 60, 60, retry=False),
    "feedback": _JobKind("workers.feedback.record_feedback", DELIVERY, 60, 600),
    "reconcile": _JobKind("workers.reconcile.reconcile_job", PIPELINE, 1800, 3600, retry=False),
    "escalation": _JobKind("workers.escalation.carry_out", DELIVERY, 120, 3600, keep_failures=True),
    "sla": _JobKind("workers.sla.check_clock", DELIVERY, 60, 600, retry=False),
}


class JobQueues(Protocol):
    """What the app needs of a job queue: RQ (`Queues`), or a thread for the demo."""

    def enqueue_request(self, request_id: int, job_id: str) -> None: ...
    def enqueue_delivery(self, outbox_id: int) -> None: ...
    def enqueue_card_refresh(self, request_id: int) -> None: ...
    def enqueue_reconcile(self) -> None: ...
    def enqueue_feedback(self, event_row_id: int) -> None: ...
    def enqueue_home(
        self, user_id: str, team_id: str | None = None, enterprise_id: str | None = None
    ) -> None: ...
    def enqueue_escalation(self, request_id: int) -> None: ...
    def enqueue_sla_check(self, request_id: int, at: datetime) -> None: ...
    def job_is_live(self, job_id: str | None) -> bool: ...
    def depths(self) -> dict[str, int]: ...


class QueueUnavailable(Exception):
    """Redis failed a moment ago; the caller leaves the work to the sweeper."""


class Queues:
    """The app's queues on one Redis connection.

    After a Redis failure, enqueues fail at once for `BREAKER_SECONDS` instead of each waiting
    out a connect timeout: a listener must still ack within Slack's 3 seconds when Redis hangs.
    """

    BREAKER_SECONDS = 2.0

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pipeline = Queue(PIPELINE, connection=redis)
        self.delivery = Queue(DELIVERY, connection=redis)
        self._down_until = 0.0

    def enqueue_request(self, request_id: int, job_id: str) -> None:
        """Run the pipeline for a request (triage → context → draft → suggest → card)."""
        self._enqueue("request", request_id, job_id=job_id, request_id=request_id)

    def enqueue_delivery(self, outbox_id: int) -> None:
        """Post one outbox message (a card, a reply, a notice) exactly once."""
        self._enqueue("outbox", outbox_id, outbox_id=outbox_id)

    def enqueue_card_refresh(self, request_id: int) -> None:
        """Redraw a request's card after a decision (approved, rejected, withdrawn)."""
        self._enqueue("card", request_id, request_id=request_id)

    def enqueue_home(
        self, user_id: str, team_id: str | None = None, enterprise_id: str | None = None
    ) -> None:
        """Publish someone's App Home (workers.home), through their workspace's install."""
        self._enqueue("home", None, user_id=user_id, team_id=team_id, enterprise_id=enterprise_id)

    def enqueue_feedback(self, event_row_id: int) -> None:
        """Apply a stored reaction: 👍/👎 feedback, or a 🎫/🔍 (workers.feedback)."""
        self._enqueue("feedback", event_row_id, event_row_id=event_row_id)

    def enqueue_reconcile(self) -> None:
        """Look for customer messages whose events never arrived (workers.reconcile)."""
        self._enqueue("reconcile", None)

    def enqueue_escalation(self, request_id: int) -> None:
        """Carry out a request's escalations (Case, post, SLA) that are not done yet."""
        self._enqueue("escalation", request_id, request_id=request_id)

    def enqueue_sla_check(self, request_id: int, at: datetime) -> None:
        """Wake a worker at `at` (RQ's scheduler) to fire what is due on a request's SLA clock.

        The database is the clock; a lost scheduled job only delays the sweeper's recovery."""
        self._enqueue("sla", request_id, at=at, request_id=request_id)

    def job_is_live(self, job_id: str | None) -> bool:
        """Whether a job is still queued or running (False when Redis lost it)."""
        if not job_id:
            return False
        try:
            job = Job.fetch(job_id, connection=self.redis)
        except Exception:  # NoSuchJobError, or a hash Redis evicted half-way
            return False
        return job.get_status(refresh=False) in _LIVE

    def depths(self) -> dict[str, int]:
        return {PIPELINE: self.pipeline.count, DELIVERY: self.delivery.count}

    def _enqueue(
        self,
        kind: str,
        key: int | None,
        *,
        job_id: str | None = None,
        at: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue (or schedule `at`) one job of a kind in `_JOBS`, with that kind's options."""
        job = _JOBS[kind]
        queue = self.pipeline if job.queue == PIPELINE else self.delivery
        options: dict[str, Any] = {
            "job_id": job_id or new_job_id(kind, key),
            "job_timeout": job.timeout,
            "result_ttl": job.result_ttl,
        }
        if job.retry:
            options["retry"] = _RETRY
        if job.keep_failures:
            options["failure_ttl"] = _WEEK
        if at is None:
            self._guarded(queue.enqueue, job.function, **kwargs, **options)
        else:
            self._guarded(queue.enqueue_at, at, job.function, **kwargs, **options)

    def _guarded(self, enqueue: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if time.monotonic() < self._down_until:
            raise QueueUnavailable("Redis failed moments ago; not retrying yet")
        try:
            # One round trip: RQ otherwise sends its bookkeeping and the job separately.
            with self.redis.pipeline() as pipe:
                enqueue(*args, pipeline=pipe, **kwargs)
                pipe.execute()
        except (RedisConnectionError, RedisTimeoutError):
            self._down_until = time.monotonic() + self.BREAKER_SECONDS
            raise
