"""RQ's scheduler, a forked child of one worker, dies; the jobs it was to wake still run.

Scheduled jobs are what a 👀 put off for the reactions budget, an SLA clock's reminder and a
CSAT check wait on. RQ restarts a dead scheduler, or lets another worker take its lock, only
in its maintenance pass: every ten minutes by default. In one outage-morning benchmark run
136 deferred 👀 stopped coming for the 90 s the benchmark waited; a scheduler that died is one
way that happens (an OOM kill picks a child too).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.harness import CUSTOMER, SHARED, World, children, kill_group, wait_for


@pytest.mark.slow
def test_a_deferred_eyes_arrives_after_the_scheduler_was_killed(world: World) -> None:
    worker = world.start_worker("scheduler-worker")
    world.wait_warmed_up("scheduler-worker")
    [scheduler] = wait_for(lambda: children(worker.pid), timeout=20)
    os.kill(scheduler, signal.SIGKILL)
    time.sleep(1)  # the worker has seen it gone: nothing left but a zombie
    # A message the app never heard of: only the scheduled job can put 👀 on it.
    ts = world.emu.post_as_user(SHARED, CUSTOMER, "hello, is anyone there?")["ts"]
    world.deps.queues.enqueue_seen(None, None, SHARED, ts, datetime.now(UTC) + timedelta(seconds=1))
    wait_for(lambda: world.emu.reactions(SHARED, ts).get("eyes"), timeout=30)


@pytest.mark.slow
def test_another_worker_takes_over_the_scheduler_of_one_that_died(world: World) -> None:
    first = world.start_worker("scheduler-first")
    world.wait_warmed_up("scheduler-first")
    wait_for(lambda: children(first.pid), timeout=20)  # it holds the scheduler's lock
    second = world.start_worker("scheduler-second")
    world.wait_warmed_up("scheduler-second")
    assert children(second.pid) == []  # the lock is taken: no scheduler of its own
    kill_group(first)  # the worker and its scheduler, as when its container dies
    ts = world.emu.post_as_user(SHARED, CUSTOMER, "anyone around?")["ts"]
    world.deps.queues.enqueue_seen(None, None, SHARED, ts, datetime.now(UTC) + timedelta(seconds=1))
    # RQ's lock outlives its owner by up to 61 s; then the next check takes it over
    wait_for(lambda: world.emu.reactions(SHARED, ts).get("eyes"), timeout=61 + 30)
    assert children(second.pid)
