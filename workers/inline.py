"""The same jobs, run by a thread of this process instead of RQ: for `triage demo`, which
needs no Redis. Jobs run one at a time in order, like one worker; there are no retries.
Scheduled jobs (the SLA clock's checks) wait on timers of this process, as RQ's scheduler
would hold them; `wait_scheduled` lets the demo wait until they have run."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from integrations.failures import unexpected
from integrations.queues import First
from workers.card import refresh_card_now
from workers.csat import ask_now
from workers.delivery import deliver_now
from workers.escalation import carry_out_now
from workers.feedback import apply_feedback
from workers.home import publish_home_now
from workers.incident_jobs import sync_incident_now
from workers.pipeline import run_pipeline
from workers.reconcile import reconcile
from workers.seen import add_seen
from workers.sla import check_clock_now

if TYPE_CHECKING:
    from integrations.deps import Deps

log = structlog.get_logger(__name__)

# A timer counts on the monotonic clock and the job compares `at` with the wall clock, which
# may run a hair slower: a timer this much late never finds its moment still to come.
TIMER_SLACK_SECONDS = 0.05


class InlineQueues:
    """Drop-in for `integrations.queues.Queues` that runs each job in a background thread."""

    def __init__(self) -> None:
        self.deps: Deps | None = None
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        self._timers: list[tuple[datetime, threading.Timer]] = []
        self._timers_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="inline-jobs", daemon=True)
        self._thread.start()

    def bind(self, deps: Deps) -> None:
        self.deps = deps

    def _submit(self, job: Callable[[Deps], object]) -> None:
        def run() -> None:
            job(self._deps())

        self._jobs.put(run)

    def _deps(self) -> Deps:
        assert self.deps is not None, "InlineQueues.bind(deps) first"
        return self.deps

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # as an RQ worker would: the job failed, the next one runs
                unexpected(log, "inline_job.failed", where="inline")
            finally:
                self._jobs.task_done()

    def wait_idle(self) -> None:
        """Block until every submitted job (and the jobs they submitted) has run."""
        self._jobs.join()

    def wait_scheduled(self, until: datetime, timeout: float) -> bool:
        """Block until the jobs scheduled for `until` or earlier, and what they queued, have
        run; False when `timeout` seconds passed first."""
        give_up = time.monotonic() + timeout
        with self._timers_lock:
            due = [timer for at, timer in self._timers if at <= until]
        for timer in due:
            timer.join(max(0.0, give_up - time.monotonic()))
            if timer.is_alive():
                return False
        self.wait_idle()
        return True

    def close(self) -> None:
        """Cancel the timers still waiting: no job runs after the Deps it needs are closed."""
        with self._timers_lock:
            timers, self._timers = self._timers, []
        for _, timer in timers:
            timer.cancel()

    def enqueue_request(self, request_id: int, job_id: str, *, first: bool = False) -> None:
        self._submit(lambda deps: run_pipeline(deps, request_id))  # one thread: no backlog order

    def enqueue_request_soon(
        self,
        request_id: int,
        job_id: str,
        if_lost: Callable[[int, str], None],
        *,
        channel: str | None = None,
        first: First = False,
    ) -> None:
        self.enqueue_request(request_id, job_id)  # a queue.put: nothing to gain by deferring

    def mark_first_channel(self, channel: str, first: bool) -> None:
        """The demo runs one request at a time, in order: nothing waits to go first."""

    def wait_handed_off(self) -> None:
        """Nothing waits between hand-off and queue here (`wait_idle` waits for the jobs)."""

    def enqueue_delivery(self, outbox_id: int) -> None:
        self._submit(lambda deps: deliver_now(deps, outbox_id))

    def enqueue_card_refresh(self, request_id: int) -> None:
        self._submit(lambda deps: refresh_card_now(deps, request_id))

    def enqueue_home(
        self, user_id: str, team_id: str | None = None, enterprise_id: str | None = None
    ) -> None:
        self._submit(lambda deps: publish_home_now(deps, user_id, team_id, enterprise_id))

    def enqueue_feedback(self, event_row_id: int) -> None:
        self._submit(lambda deps: apply_feedback(deps, event_row_id))

    def enqueue_reconcile(self) -> None:
        self._submit(
            lambda deps: reconcile(
                deps, lookback=timedelta(minutes=deps.settings.reconcile_lookback_minutes)
            )
        )

    def enqueue_escalation(self, request_id: int) -> None:
        self._submit(lambda deps: carry_out_now(deps, request_id))

    def enqueue_incident(self, incident_id: int) -> None:
        self._submit(lambda deps: sync_incident_now(deps, incident_id))

    def enqueue_sla_check(self, request_id: int, at: datetime) -> None:
        """A timer of this process stands in for RQ's scheduler: at `at`, the job is queued."""
        self._at(at, lambda deps: check_clock_now(deps, request_id))

    def enqueue_csat_check(self, request_id: int, at: datetime) -> None:
        self._at(at, lambda deps: ask_now(deps, request_id))

    def enqueue_seen(
        self, team_id: str | None, enterprise_id: str | None, channel: str, ts: str, at: datetime
    ) -> None:
        self._at(
            at,
            lambda deps: add_seen(
                deps, team_id=team_id, enterprise_id=enterprise_id, channel=channel, ts=ts
            ),
        )

    def _at(self, at: datetime, job: Callable[[Deps], object]) -> None:
        delay = max(0.0, (at - datetime.now(UTC)).total_seconds()) + TIMER_SLACK_SECONDS
        timer = threading.Timer(delay, lambda: self._submit(job))
        timer.daemon = True
        with self._timers_lock:
            self._timers.append((at, timer))
        timer.start()

    def job_is_live(self, job_id: str | None) -> bool:
        return False

    def depths(self) -> dict[str, int]:
        return {"inline": self._jobs.qsize()}
