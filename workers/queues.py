"""Queue names and enqueue helpers. Jobs take keyword-only primitive arguments (ids)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
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


def new_job_id(kind: str, key: int | None) -> str:
    """Unique per attempt: RQ would overwrite a job hash enqueued under a reused id."""
    middle = f"{key}-" if key is not None else ""
    return f"{kind}-{middle}{uuid.uuid4().hex[:12]}"


class JobQueues(Protocol):
    """What the app needs of a job queue: RQ (`Queues`), or a thread for the demo."""

    def enqueue_request(self, request_id: int, job_id: str) -> None: ...
    def enqueue_delivery(self, outbox_id: int) -> None: ...
    def enqueue_card_refresh(self, request_id: int) -> None: ...
    def enqueue_reconcile(self) -> None: ...
    def enqueue_feedback(self, event_row_id: int) -> None: ...
    def enqueue_home(self, user_id: str) -> None: ...
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

    def enqueue_request(self, request_id: int, job_id: str) -> None:
        """Run the pipeline for a request (triage → context → draft → suggest → card)."""
        self._guarded(
            self.pipeline.enqueue,
            "workers.pipeline.process_request",
            request_id=request_id,
            job_id=job_id,
            retry=_RETRY,
            job_timeout=300,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )

    def enqueue_delivery(self, outbox_id: int) -> None:
        """Post one outbox message (a card, or an approved reply) exactly once."""
        self._guarded(
            self.delivery.enqueue,
            "workers.delivery.deliver",
            outbox_id=outbox_id,
            job_id=new_job_id("outbox", outbox_id),
            retry=_RETRY,
            job_timeout=120,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )

    def enqueue_card_refresh(self, request_id: int) -> None:
        """Redraw a request's card after a decision (approved, rejected, withdrawn)."""
        self._guarded(
            self.delivery.enqueue,
            "workers.card.refresh_card",
            request_id=request_id,
            job_id=new_job_id("card", request_id),
            retry=_RETRY,
            job_timeout=60,
            result_ttl=600,
        )

    def enqueue_home(self, user_id: str) -> None:
        """Publish someone's App Home (workers.home)."""
        self._guarded(
            self.delivery.enqueue,
            "workers.home.publish_home",
            user_id=user_id,
            job_id=new_job_id("home", None),
            job_timeout=60,
            result_ttl=60,
        )

    def enqueue_feedback(self, event_row_id: int) -> None:
        """Apply a stored 👍/👎 (workers.feedback)."""
        self._guarded(
            self.delivery.enqueue,
            "workers.feedback.record_feedback",
            event_row_id=event_row_id,
            job_id=new_job_id("feedback", event_row_id),
            retry=_RETRY,
            job_timeout=60,
            result_ttl=600,
        )

    def enqueue_reconcile(self) -> None:
        """Look for customer messages whose events never arrived (workers.reconcile)."""
        self._guarded(
            self.pipeline.enqueue,
            "workers.reconcile.reconcile_job",
            job_id=new_job_id("reconcile", None),
            job_timeout=1800,
            result_ttl=3600,
        )

    def enqueue_escalation(self, request_id: int) -> None:
        """Carry out a request's escalations (Case, post, SLA) that are not done yet."""
        self._guarded(
            self.delivery.enqueue,
            "workers.escalation.carry_out",
            request_id=request_id,
            job_id=new_job_id("escalation", request_id),
            retry=_RETRY,
            job_timeout=120,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )

    def enqueue_sla_check(self, request_id: int, at: datetime) -> None:
        """Wake a worker at `at` (RQ's scheduler) to fire what is due on a request's SLA clock.

        The database is the clock; a lost scheduled job only delays the sweeper's recovery."""
        if time.monotonic() < self._down_until:
            raise QueueUnavailable("Redis failed moments ago; not retrying yet")
        try:
            self.delivery.enqueue_at(
                at,
                "workers.sla.check_clock",
                request_id=request_id,
                job_id=new_job_id("sla", request_id),
                job_timeout=60,
                result_ttl=600,
            )
        except (RedisConnectionError, RedisTimeoutError):
            self._down_until = time.monotonic() + self.BREAKER_SECONDS
            raise

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
