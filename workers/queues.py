"""Queue names and enqueue helpers. Jobs take keyword-only primitive arguments (ids)."""

from __future__ import annotations

import uuid

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus

PIPELINE = "triage-pipeline"
DELIVERY = "triage-delivery"
ALL_QUEUES = (DELIVERY, PIPELINE)  # delivery first: an approval should not wait behind drafts

_RETRY = Retry(max=3, interval=[2, 10, 60])
_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def new_job_id(kind: str, key: int) -> str:
    """Unique per attempt: RQ would overwrite a job hash enqueued under a reused id."""
    return f"{kind}-{key}-{uuid.uuid4().hex[:10]}"


class Queues:
    """The app's queues on one Redis connection."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pipeline = Queue(PIPELINE, connection=redis)
        self.delivery = Queue(DELIVERY, connection=redis)

    def enqueue_request(self, request_id: int, job_id: str) -> None:
        """Run the pipeline for a request (triage → context → draft → suggest → card)."""
        self.pipeline.enqueue(
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
        self.delivery.enqueue(
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
        self.delivery.enqueue(
            "workers.card.refresh_card",
            request_id=request_id,
            job_id=new_job_id("card", request_id),
            retry=_RETRY,
            job_timeout=60,
            result_ttl=600,
        )

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
