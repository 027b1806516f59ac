"""`triage worker`: an RQ worker with its scheduler, plus the heartbeat and the sweeper.

A `SimpleWorker` runs jobs in its own process (no fork per job): the jobs are short and
I/O-bound, and a SIGKILL takes the job down with the worker, so its lease stops being renewed
and the sweeper on any live worker re-queues it. Scale with more processes (`--scale worker=N`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.job import Job

from integrations.deps import Deps
from integrations.queues import ALL_QUEUES
from workers import leases
from workers.sweeper import Maintenance

log = structlog.get_logger(__name__)

RECONNECT_SECONDS = 2.0


class DepsJob(Job):
    """An RQ job whose function gets the Deps of the worker running it as its first argument.

    RQ stores a job as a function name and primitive arguments; the connections a job needs
    (database, Slack, the model) belong to the process that runs it, so the worker hands them
    over here rather than each job building them from the environment."""

    deps: Deps | None = None

    def _execute(self) -> Any:
        if self.deps is None:
            raise RuntimeError(f"job {self.id} has no Deps: run it with a TriageWorker")
        return self.func(self.deps, *self.args, **self.kwargs)


class TriageWorker(SimpleWorker):
    """RQ's SimpleWorker with the process's Deps, handed to every job it runs (`DepsJob`).

    It reconnects to Redis every few seconds instead of backing off to a minute: when Redis
    comes back, customers' cards should follow within seconds."""

    max_connection_wait_time = 5.0

    def __init__(self, queues: Any, *, deps: Deps, **kwargs: Any) -> None:
        super().__init__(queues, job_class=DepsJob, **kwargs)
        self.deps = deps

    def subscribe(self) -> None:
        """RQ's command channel (shutdown, kill-horse), its thread polling every second.

        RQ's own polls every 60 s, and redis-py 8 joins that thread when the worker stops: every
        worker's exit (and every burst run) waited up to a minute."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # rq: None
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def perform_job(self, job: Job, queue: Queue) -> bool:
        if isinstance(job, DepsJob):
            job.deps = self.deps
        return super().perform_job(job, queue)


def run_worker(
    deps: Deps,
    *,
    queues: list[str] | None = None,
    burst: bool = False,
    health_file: Path | None = None,
) -> bool:
    """Work the queues until stopped (or until empty with `burst`).

    `health_file` is touched every sweep that reached the database and Redis: a container
    health check can test its age (docker-compose.yml does)."""
    # The worker blocks on BLPOP, so its connection has no read timeout (RQ manages its own).
    connection = Redis.from_url(deps.settings.redis_url)
    names = queues or list(ALL_QUEUES)
    maintenance = Maintenance(deps, health_file=health_file)
    maintenance.start()
    try:
        while True:
            try:
                worker = TriageWorker(
                    [Queue(name, connection=connection) for name in names],
                    connection=connection,
                    name=leases.worker_id(),
                    deps=deps,
                )
                log.info("worker.started", queues=names, name=worker.name)
                return bool(worker.work(with_scheduler=True, burst=burst, logging_level="WARNING"))
            except RedisConnectionError as exc:
                # RQ retries once it is working, but not while registering: wait, then retry.
                if burst:
                    raise
                log.warning("worker.waiting_for_redis", error=str(exc), retry_in=RECONNECT_SECONDS)
                time.sleep(RECONNECT_SECONDS)
    finally:
        maintenance.stop()
