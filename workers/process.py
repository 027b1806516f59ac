"""`triage worker`: RQ workers on threads of one process, plus the heartbeat and the sweeper.

A job mostly waits: on the model, on Salesforce, on Slack. So one process runs
`WORKER_THREADS` RQ `SimpleWorker`s, each on its own thread, each taking one job at a time
from the same queues (no fork per job). Each is a whole RQ worker (its own name, registration,
current job and execution records), so RQ's bookkeeping, retries and registries hold exactly
as with one worker per process; what they share is the process's `Deps` (connection pools are
thread-safe) and its lease owner name (`workers.leases`: a lease is never re-entrant, so two
threads never hold one request). A SIGKILL takes every thread's job down with the process; their
leases stop being renewed and the sweeper on any live worker re-queues them. How many model
calls run at once across all processes is bounded separately (`MODEL_CONCURRENCY`).
docs/ARCHITECTURE.md ("Concurrency") has the alternatives we measured.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from pathlib import Path
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus
from threadpoolctl import threadpool_limits

from integrations.deps import Deps
from integrations.failures import unexpected
from integrations.local_embeddings import LocalEmbedder
from integrations.queues import ALL_QUEUES
from integrations.store.db import transaction
from workers import leases
from workers.language import detect_language
from workers.sweeper import Maintenance
from workers.triage import classify_offline

log = structlog.get_logger(__name__)

_M_ARENA_MAX = -8  # glibc's mallopt(3) parameter

RECONNECT_SECONDS = 2.0
# How long an idle worker blocks on the queues before it looks again: bounds how long a warm
# shutdown waits for the threads that have no job.
DEQUEUE_SECONDS = 3
# How often the main worker makes sure RQ's scheduler runs somewhere (RQ: every ten minutes).
# The scheduler is a forked child of one worker process; when it dies (an OOM kill, an error)
# or its whole process does, nothing scheduled runs until a worker starts one again: deferred
# 👀, SLA reminders, CSAT checks. Each pass also cleans RQ's registries, a few Redis calls.
SCHEDULER_CHECK_SECONDS = 10


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
    # A job's timeout is enforced on whichever thread runs it (RQ's default, SIGALRM, works on
    # the main thread only).
    death_penalty_class = TimerDeathPenalty

    def __init__(self, queues: Any, *, deps: Deps, crew: Crew | None = None, **kwargs: Any):
        super().__init__(queues, job_class=DepsJob, **kwargs)
        self.deps = deps
        self.crew = crew

    @property
    def dequeue_timeout(self) -> int:
        return DEQUEUE_SECONDS

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's dequeue, giving up every `DEQUEUE_SECONDS` to see whether this worker was
        asked to stop (RQ's own loop waits on for jobs until one comes: a thread other than
        the main one, which no signal interrupts, would never stop)."""
        turn = self.crew.turn if self.crew is not None else None
        self.set_state(WorkerStatus.IDLE)  # waiting for a job, if not yet its turn to ask
        while True:
            if self._stop_requested:
                raise StopRequested()
            if turn is not None and not turn.acquire(timeout=DEQUEUE_SECONDS):
                self.heartbeat()  # RQ's registration lives on while this thread waits its turn
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                continue
            if self._stop_requested:  # the turn came after a stop: do not wait on Redis again
                if turn is not None:
                    turn.release()
                raise StopRequested()
            try:
                result = super().dequeue_job_and_maintain_ttl(
                    timeout, max_idle_time=DEQUEUE_SECONDS
                )
            finally:
                if turn is not None:
                    turn.release()
            if result is not None or timeout is None:  # a job, or a burst found the queues empty
                return result

    def request_stop(self, signum: Any, frame: Any) -> None:
        """SIGTERM or SIGINT on the main thread: every thread finishes its job, then stops."""
        if self.crew is not None:
            self.crew.stop()
        super().request_stop(signum, frame)

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
        try:
            return super().perform_job(job, queue)
        finally:  # what the job claimed and could not give back runs out: none is extended
            leases.forget_thread()


class ThreadWorker(TriageWorker):
    """A TriageWorker on a thread other than the main one: signals are the main thread's
    (it stops this one), and RQ's command channel is the main worker's."""

    def _install_signal_handlers(self) -> None:
        pass

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


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
    one_math_thread()
    few_malloc_arenas()
    # The workers block on BLPOP, so the connections have no read timeout (RQ manages its own);
    # the threads share one pool.
    connection = Redis.from_url(deps.settings.redis_url)
    names = queues or list(ALL_QUEUES)
    threads = deps.settings.worker_threads
    maintenance = Maintenance(deps, health_file=health_file)
    maintenance.start()
    # Before the first job, not in it: loading the language detector takes ~0.8 s (measured on
    # this 2-CPU machine), which the first customer after a deploy would otherwise wait, with
    # every other thread's job queued behind the same lock.
    warm_up(deps)
    try:
        return Crew(deps, connection, names, burst=burst).work(threads)
    finally:
        maintenance.stop()


def few_malloc_arenas(arenas: int = 2) -> None:
    """At most `arenas` glibc malloc arenas for the process's threads.

    glibc gives threads that allocate at once arenas of their own (up to 8 per CPU), each
    keeping its high-water mark: with 16 job threads the worker held memory it no longer
    used. Python's small objects have their own allocator; this is for the rest (numpy's
    arrays, the database driver's buffers). Not glibc (macOS, musl): nothing to do."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        log.info("worker.malloc_arenas_unchanged")


def one_math_thread() -> None:
    """numpy's matrix products (the sentence encoder, the classifier) on one BLAS thread.

    The main worker forks RQ's scheduler (at start, and again whenever it died, as on a Redis
    restart), and OpenBLAS's fork handler stops its thread pool: a fork while another job
    thread is inside a matrix product left that product, and every job waiting on the encoder,
    stalled for minutes (seen in CI, reproduced in tests/test_worker_fork.py). One BLAS thread
    has no pool to stop. The jobs' own threads give the parallelism; measured on this 2-CPU
    machine, one encoding takes ~1.9 ms instead of ~1.2 ms alone."""
    threadpool_limits(limits=1, user_api="blas")


def warm_up(deps: Deps) -> None:
    """Load what the first jobs would otherwise load on their way: the language detector, the
    offline classifier, the local sentence encoder and the expertise corpus. A failure here is
    the first job's to report, not the worker's."""
    started = time.monotonic()
    try:
        detect_language("warming up the language detector")
        classify_offline("warming up the classifier")
        if isinstance(deps.embedder, LocalEmbedder):
            deps.embedder.warm_up()
        with transaction(deps.sessions) as session:
            deps.expertise.load(session)
    except Exception:
        unexpected(log, "worker.warm_up_failed", where="worker")
    log.info("worker.warmed_up", seconds=round(time.monotonic() - started, 3))


class Crew:
    """The process's RQ workers: the main one on this thread (signals, the scheduler, RQ's
    commands) and `threads - 1` more on their own threads.

    Each thread keeps its own worker going: when Redis fails under it (RQ quits its loop on
    an error outside the dequeue, or cannot register while Redis is away), that thread waits
    `RECONNECT_SECONDS` and starts a new worker, while the others go on with their jobs. (One
    failed worker used to stop them all until the slowest finished: after a Redis restart, a
    card waiting its turn in a channel held the whole process back.)"""

    def __init__(self, deps: Deps, connection: Redis, names: list[str], *, burst: bool):
        self.deps, self.connection, self.names, self.burst = deps, connection, names, burst
        self.stopping = threading.Event()
        # One thread of the process waits on Redis for a job at a time. Redis hands a job to
        # the client that has waited longest, so with every idle thread waiting, the process
        # whose threads asked first took the first sixteen jobs of a burst (and one GIL ran
        # them all) while the other idled; with one waiter each, processes take turns.
        self.turn = threading.Lock()
        self._lock = threading.Lock()
        self._current: dict[int, TriageWorker] = {}

    def stop(self) -> None:
        """Every worker finishes its job and stops; none starts again."""
        self.stopping.set()
        with self._lock:
            for worker in self._current.values():
                worker._stop_requested = True

    def work(self, threads: int) -> bool:
        """Run until stopped (or, `burst`, until the queues are empty); whether any job ran."""
        worked = [False] * threads
        started = [
            threading.Thread(target=self._keep, args=(n, worked), name=f"worker-{n}", daemon=True)
            for n in range(1, threads)
        ]
        for thread in started:
            thread.start()
        log.info("worker.started", queues=self.names, name=leases.worker_id(), threads=threads)
        try:
            self._keep(0, worked)
        finally:
            self.stop()  # the main one stopped (a signal, or the burst is done): so do the others
            for thread in started:
                thread.join()
        return any(worked)

    def _keep(self, number: int, worked: list[bool]) -> None:
        """Thread `number`'s worker, started again after each failure until the crew stops."""
        generation = 0
        while not self.stopping.is_set():
            name = self._name(number, generation)
            try:
                worker = self._make(number, name)  # RQ names its connection: Redis, too
                ran = worker.work(
                    with_scheduler=number == 0, burst=self.burst, logging_level="WARNING"
                )
                worked[number] = worked[number] or bool(ran)
                if self.burst or worker._stop_requested:
                    return
                # RQ's loop quit on an error it logged ("found an unhandled exception")
                log.warning("worker.restarting", name=name, retry_in=RECONNECT_SECONDS)
            except RedisConnectionError as exc:  # Redis away while starting or tearing down
                if self.burst:
                    raise
                log.warning("worker.waiting_for_redis", name=name, error=str(exc))
            except Exception:
                if self.burst:
                    raise
                unexpected(log, "worker.thread_failed", where="worker", name=name)
            finally:
                with self._lock:
                    self._current.pop(number, None)
            generation += 1
            self.stopping.wait(RECONNECT_SECONDS)

    @staticmethod
    def _name(number: int, generation: int) -> str:
        """Each start its own name, so a worker whose teardown Redis never saw cannot block
        its successor's registration."""
        return f"{leases.worker_id()}:{number}" + (f".{generation}" if generation else "")

    def _make(self, number: int, name: str) -> TriageWorker:
        """A new RQ worker for thread `number`, reachable by `stop`."""
        kind = TriageWorker if number == 0 else ThreadWorker
        worker = kind(
            [Queue(queue, connection=self.connection) for queue in self.names],
            connection=self.connection,
            name=name,
            deps=self.deps,
            crew=self,
            # RQ's maintenance pass restarts a dead scheduler, or takes over the lock of one
            # whose process died once the lock runs out (61 s)
            **({"maintenance_interval": SCHEDULER_CHECK_SECONDS} if number == 0 else {}),
        )
        with self._lock:
            if self.stopping.is_set():
                worker._stop_requested = True
            self._current[number] = worker
        return worker
