"""Queue names and enqueue helpers. Jobs take keyword-only primitive arguments (ids)."""

from __future__ import annotations

import atexit
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import structlog
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import EnqueueData

from integrations.failures import DATABASE_DOWN, REDIS_DOWN, unexpected

PIPELINE = "triage-pipeline"
PIPELINE_FIRST = "triage-pipeline-first"  # urgent requests, and the strictest tier's channels
DELIVERY = "triage-delivery"
# A worker takes from the first non-empty queue in this order: an approved reply never waits
# behind drafts, and under a backlog urgent requests and enterprise accounts go first.
ALL_QUEUES = (DELIVERY, PIPELINE_FIRST, PIPELINE)
FIRST_CHANNELS = "triage:first-channels"  # channels whose requests go first (their tier)

_RETRY = Retry(max=3, interval=[2, 10, 60])
_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_WEEK = 7 * 86400
_BATCH = 100  # jobs handed off, at most, in one Redis round trip
FLUSH_SECONDS = 3.0  # at exit, how long handed-off jobs get to reach Redis

log = structlog.get_logger(__name__)


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
    "incident": _JobKind("workers.incident_jobs.sync_incident", DELIVERY, 120, 600),
    "seen": _JobKind("workers.seen.add_seen", DELIVERY, 60, 600, retry=False),
    "csat": _JobKind("workers.csat.check_survey", DELIVERY, 60, 600, retry=False),
}


def _job_data(kind: str, key: int | None, *, job_id: str | None, **kwargs: Any) -> EnqueueData:
    """One job of a kind in `_JOBS`, with that kind's timeout, TTLs and retries, for
    `Queue.enqueue_many` (RQ's bulk enqueue)."""
    job = _JOBS[kind]
    return Queue.prepare_data(
        job.function,
        kwargs=kwargs,
        timeout=job.timeout,
        result_ttl=job.result_ttl,
        failure_ttl=_WEEK if job.keep_failures else None,
        job_id=job_id or new_job_id(kind, key),
        retry=_RETRY if job.retry else None,
    )


class JobQueues(Protocol):
    """What the app needs of a job queue: RQ (`Queues`), or a thread for the demo."""

    def enqueue_request(self, request_id: int, job_id: str, *, first: bool = False) -> None: ...
    def enqueue_request_soon(
        self,
        request_id: int,
        job_id: str,
        if_lost: Callable[[int, str], None],
        *,
        channel: str | None = None,
        first: First = False,
    ) -> None: ...
    def mark_first_channel(self, channel: str, first: bool) -> None: ...
    def wait_handed_off(self) -> None: ...
    def enqueue_delivery(self, outbox_id: int) -> None: ...
    def enqueue_card_refresh(self, request_id: int) -> None: ...
    def enqueue_reconcile(self) -> None: ...
    def enqueue_feedback(self, event_row_id: int) -> None: ...
    def enqueue_home(
        self, user_id: str, team_id: str | None = None, enterprise_id: str | None = None
    ) -> None: ...
    def enqueue_escalation(self, request_id: int) -> None: ...
    def enqueue_incident(self, incident_id: int) -> None: ...
    def enqueue_sla_check(self, request_id: int, at: datetime) -> None: ...
    def enqueue_csat_check(self, request_id: int, at: datetime) -> None: ...
    def enqueue_seen(
        self, team_id: str | None, enterprise_id: str | None, channel: str, ts: str, at: datetime
    ) -> None: ...
    def job_is_live(self, job_id: str | None) -> bool: ...
    def depths(self) -> dict[str, int]: ...


# Whether a request goes first, or the question that decides it (asked after the ack)
First = bool | Callable[[], bool]


@dataclass(frozen=True)
class _HandedOff:
    """A request job waiting in this process for the sender thread to take it to Redis."""

    request_id: int
    job_id: str
    if_lost: Callable[[int, str], None]
    channel: str | None = None
    first: First = False


class QueueUnavailable(RedisConnectionError):
    """Redis failed a moment ago (the breaker is open); the caller leaves the work to the
    sweeper. A RedisConnectionError, so `REDIS_DOWN` covers it."""


class Queues:
    """The app's queues on one Redis connection.

    After a Redis failure, enqueues fail at once for `BREAKER_SECONDS` instead of each waiting
    out a connect timeout: a listener must still ack within Slack's 3 seconds when Redis hangs.
    """

    BREAKER_SECONDS = 2.0

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pipeline = Queue(PIPELINE, connection=redis)
        self.pipeline_first = Queue(PIPELINE_FIRST, connection=redis)
        self.delivery = Queue(DELIVERY, connection=redis)
        self._down_until = 0.0
        self._handed_off: queue.Queue[_HandedOff] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._sender_lock = threading.Lock()

    def enqueue_request(self, request_id: int, job_id: str, *, first: bool = False) -> None:
        """Run the pipeline for a request (triage → context → draft → suggest → card);
        `first`: ahead of the ordinary requests waiting."""
        target = self.pipeline_first if first else self.pipeline
        job = _job_data("request", request_id, job_id=job_id, request_id=request_id)
        self._send(lambda pipe: target.enqueue_many([job], pipeline=pipe))

    def enqueue_request_soon(
        self,
        request_id: int,
        job_id: str,
        if_lost: Callable[[int, str], None],
        *,
        channel: str | None = None,
        first: First = False,
    ) -> None:
        """`enqueue_request` from a background thread, many jobs to a Redis round trip.

        For the events listener, whose ack need not wait for Redis: the request is already
        stored under this job id. When Redis fails, `if_lost(request_id, job_id)` runs in that
        thread; when the process dies first, the sweeper finds a request with no live job.
        It goes first when `first` (or what `first()` answers, asked in that thread: the
        listener's classifier need not run before its ack), or when its `channel` was marked
        (`mark_first_channel`): the sender asks Redis once per batch, not the listener.
        """
        with self._sender_lock:
            if self._sender is None or not self._sender.is_alive():  # none yet, or forked
                self._sender = threading.Thread(
                    target=self._send_handed_off, name="triage-enqueue", daemon=True
                )
                self._sender.start()
                atexit.register(self._flush, FLUSH_SECONDS)
        self._handed_off.put(_HandedOff(request_id, job_id, if_lost, channel, first))

    def mark_first_channel(self, channel: str, first: bool) -> None:
        """Whether a customer channel's requests go first from now on (its account's tier)."""
        if first:
            self.redis.sadd(FIRST_CHANNELS, channel)
        else:
            self.redis.srem(FIRST_CHANNELS, channel)

    def _flush(self, seconds: float) -> None:
        """At a graceful exit (a gunicorn worker recycled or stopped), send what is waiting
        rather than leave it to the sweeper's grace period."""
        deadline = time.monotonic() + seconds
        while self._handed_off.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait_handed_off(self) -> None:
        """Block until every job given to `enqueue_request_soon` is queued (or lost)."""
        self._handed_off.join()

    def _send_handed_off(self) -> None:
        while True:
            batch = [self._handed_off.get()]
            while len(batch) < _BATCH:  # what arrived while the last batch was being sent
                try:
                    batch.append(self._handed_off.get_nowait())
                except queue.Empty:
                    break
            try:
                batch = self._with_first_channels([_decided(h) for h in batch])
                self._send(partial(self._add_requests, batch=batch))
            except REDIS_DOWN as exc:  # expected while Redis is down: no traceback
                log.warning("enqueue.failed", requests=len(batch), error=str(exc))
                _lost(batch)
            except Exception:  # a bug; this thread must live on for the next batch
                unexpected(log, "enqueue.failed", where="enqueue", requests=len(batch))
                _lost(batch)
            finally:
                for _ in batch:
                    self._handed_off.task_done()

    def _with_first_channels(self, batch: list[_HandedOff]) -> list[_HandedOff]:
        """The batch with `first` set for the requests of channels marked to go first."""
        channels = sorted({h.channel for h in batch if h.channel and not h.first})
        if not channels:
            return batch
        answers = self.redis.smismember(FIRST_CHANNELS, channels)
        marked = {c for c, m in zip(channels, answers, strict=True) if m}
        return [replace(h, first=True) if h.channel in marked else h for h in batch]

    def _add_requests(self, pipe: Pipeline, *, batch: Sequence[_HandedOff]) -> None:
        for target, first in ((self.pipeline_first, True), (self.pipeline, False)):
            jobs = [
                _job_data("request", h.request_id, job_id=h.job_id, request_id=h.request_id)
                for h in batch
                if h.first == first
            ]
            if jobs:
                target.enqueue_many(jobs, pipeline=pipe)

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

    def enqueue_incident(self, incident_id: int) -> None:
        """Bring an incident's card and Cases up to date (workers.incident_jobs)."""
        self._enqueue("incident", incident_id, incident_id=incident_id)

    def enqueue_sla_check(self, request_id: int, at: datetime) -> None:
        """Wake a worker at `at` (RQ's scheduler) to fire what is due on a request's SLA clock.

        The database is the clock; a lost scheduled job only delays the sweeper's recovery."""
        self._enqueue("sla", request_id, at=at, request_id=request_id)

    def enqueue_csat_check(self, request_id: int, at: datetime) -> None:
        """Wake a worker at `at` to ask a request's CSAT question (workers.csat).

        The database is the clock, as for the SLA: a lost job only delays the sweeper's ask."""
        self._enqueue("csat", request_id, at=at, request_id=request_id)

    def enqueue_seen(
        self, team_id: str | None, enterprise_id: str | None, channel: str, ts: str, at: datetime
    ) -> None:
        """Add a customer message's 👀 at `at`, when the reactions budget frees (workers.seen);
        not retried: a lost 👀 costs nothing but the 👀."""
        self._enqueue(
            "seen",
            None,
            at=at,
            team_id=team_id,
            enterprise_id=enterprise_id,
            channel=channel,
            ts=ts,
        )

    def job_is_live(self, job_id: str | None) -> bool:
        """Whether a job is still queued or running (False when Redis lost it)."""
        if not job_id:
            return False
        try:
            job = Job.fetch(job_id, connection=self.redis)
        except (NoSuchJobError, *REDIS_DOWN):  # gone, half evicted, or Redis with it
            return False
        return job.get_status(refresh=False) in _LIVE

    def depths(self) -> dict[str, int]:
        return {
            PIPELINE: self.pipeline.count,
            PIPELINE_FIRST: self.pipeline_first.count,
            DELIVERY: self.delivery.count,
        }

    def _enqueue(
        self,
        kind: str,
        key: int | None,
        *,
        job_id: str | None = None,
        at: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue (or schedule `at`) one job of a kind in `_JOBS` now, with that kind's options."""
        target = self.pipeline if _JOBS[kind].queue == PIPELINE else self.delivery
        job = _job_data(kind, key, job_id=job_id, **kwargs)
        if at is None:
            self._send(lambda pipe: target.enqueue_many([job], pipeline=pipe))
            return
        self._send(
            lambda pipe: target.enqueue_at(
                at,
                job.func,
                kwargs=job.kwargs,
                job_timeout=job.timeout,
                result_ttl=job.result_ttl,
                failure_ttl=job.failure_ttl,
                job_id=job.job_id,
                retry=job.retry,
                pipeline=pipe,
            )
        )

    def _send(self, fill: Callable[[Pipeline], object]) -> None:
        """Send the jobs `fill` adds to a Redis pipeline in one round trip."""
        if time.monotonic() < self._down_until:
            raise QueueUnavailable("Redis failed moments ago; not retrying yet")
        try:
            with self.redis.pipeline() as pipe:
                fill(pipe)
                pipe.execute()
        except REDIS_DOWN:
            self._down_until = time.monotonic() + self.BREAKER_SECONDS
            raise


def _decided(handed: _HandedOff) -> _HandedOff:
    """`handed` with its `first` answered; a question that fails leaves it in line."""
    if not callable(handed.first):
        return handed
    try:
        return replace(handed, first=bool(handed.first()))
    except Exception:
        unexpected(log, "enqueue.priority_failed", where="enqueue", request_id=handed.request_id)
        return replace(handed, first=False)


def _lost(batch: Sequence[_HandedOff]) -> None:
    """Tell each request's owner that its job never reached Redis (the sweeper follows up)."""
    for handed in batch:
        try:
            handed.if_lost(handed.request_id, handed.job_id)
        except DATABASE_DOWN as exc:  # the sweeper finds it all the same, after its grace
            log.warning("enqueue.if_lost_failed", request_id=handed.request_id, error=str(exc))
        except Exception:  # one owner's bug must not keep the others from hearing
            unexpected(log, "enqueue.if_lost_failed", where="enqueue", request_id=handed.request_id)
