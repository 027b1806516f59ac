"""PostgreSQL restarted while messages arrive and jobs run (issue 16, "Faults").

The app reaches PostgreSQL through a TCP proxy (tests/faults_helpers.PgProxy) that the test
cuts, as a restart or a network partition does: every connection dropped, new ones refused.
While it is cut, ingest answers non-2xx (so Slack retries) and /healthz says why; jobs that
were running fail and are retried; once it is back, Slack's retries and reconciliation bring
every message to exactly one request and one card.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Request, RequestState
from tests.conftest import POSTGRES_ADMIN_URL
from tests.faults_helpers import (
    PgProxy,
    all_carded,
    assert_each_message_once,
    messages_said,
    scratch_database,
)
from tests.harness import SHARED, World, start_world, wait_for
from workers.ids import ActionId
from workers.reconcile import reconcile

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy() -> Iterator[PgProxy]:
    pg = PgProxy()
    yield pg
    pg.close()


@pytest.fixture
def database(proxy: PgProxy) -> Iterator[str]:
    with scratch_database(POSTGRES_ADMIN_URL) as name:
        yield proxy.url(name)


def _health(world: World) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{world.url}/healthz", timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _say(world: World, text: str) -> tuple[dict[str, Any], int, float]:
    """A customer message, its event delivered once: the envelope, the status, the seconds."""
    message = world.emu.post_as_user(SHARED, "U0CUSTOMER", text)
    body = world.envelope(message)
    started = time.monotonic()
    status, _ = world.send(body)
    return body, status, time.monotonic() - started


def test_a_database_restart_loses_no_message_and_cards_none_twice(
    proxy: PgProxy, database: str, redis_url: str
) -> None:
    """Cut while four pipeline jobs wait on Slack and an approved reply is being posted, six
    messages arrive (three refused, three unanswered), then restored.

    Before this fix a job that failed as the database went away could not give its lease back,
    and the worker's heartbeat went on extending it for as long as the process lived: its retry
    skipped the request ("leased by another worker"), the sweeper never saw it free, and it
    never got a card. To see it fail, make `leases.extend_all` extend every lease the owner
    holds (`.where(model.lease_owner == owner)`, the code before) instead of the rows of jobs
    still running. And without `connect_timeout` (integrations/store/db.py) an unanswered
    database held each ack until the test's 10 s timed out: Slack would have given up on it."""
    with start_world(
        database_url=database,
        redis_url=redis_url,
        grouping_minutes=0,
        reconcile_minutes=0,
        slack_rate_scale=10,
    ) as world:
        world.start_worker("faults-db-worker")
        first = _say(world, "Order 000 never shipped")[0]
        wait_for(lambda: all_carded(world, messages_said(world)), timeout=30)
        # Jobs are mid-stage when the cut comes: four on their 👀, one posting a reply.
        world.emu.set_latency("reactions.add", 1.0)
        world.emu.set_latency("chat.postMessage", 1.0)
        for n in range(1, 5):
            assert _say(world, f"Order {n:03d} never shipped")[1] == 200
        assert world.click(ActionId.APPROVE_DRAFT, world.cards()[0])[0] == 200
        wait_for(lambda: len(world.emu.calls("reactions.add")) >= 5, timeout=20)
        wait_for(lambda: _posts_to(world, SHARED), timeout=20)

        proxy.cut()  # restarting: connections refused
        refused = []
        for n in range(5, 8):
            body, status, took = _say(world, f"Order {n:03d} never shipped")
            assert status == 503 and took < 3, (status, took)  # Slack will retry it
            refused.append(body)
        status, said = _health(world)
        assert status == 503 and '"database":"error' in said.replace(" ", ""), said
        proxy.hang()  # unreachable: connections never answered
        for n in range(8, 11):
            body, status, took = _say(world, f"Order {n:03d} never shipped")
            assert status == 503 and took < 3, (status, took)  # within Slack's 3 s
            refused.append(body)
        proxy.restore()
        world.emu.set_latency("reactions.add", 0)
        world.emu.set_latency("chat.postMessage", 0)

        # Slack's retries of four refused events; the last two it gave up on, and
        # reconciliation finds them (its settling time compressed to nothing).
        for body in refused[:4]:
            assert world.send(body, retry_num=1)[0] == 200
        wait_for(lambda: _health(world)[0] == 200, timeout=10)
        reconcile(world.deps, lookback=timedelta(minutes=10), settle=timedelta(0))

        said_ts = messages_said(world)
        assert len(said_ts) == 11
        wait_for(lambda: all_carded(world, said_ts), timeout=60, interval=0.5)
        wait_for(lambda: _state(world, 1) == RequestState.ANSWERED, timeout=60, interval=0.5)
        time.sleep(world.settings.lease_seconds + 2)  # a late duplicate would show up here
        assert_each_message_once(world, said_ts)
        assert len(world.replies_in(first["event"]["ts"])) == 1
        with transaction(world.deps.sessions) as session:
            tries = session.scalars(select(Request.attempts).where(Request.id.between(2, 5)))
            assert all(n >= 2 for n in tries)  # the jobs the cut failed ran again


def _state(world: World, request_id: int) -> RequestState:
    with transaction(world.deps.sessions) as session:
        return session.get_one(Request, request_id).state


def _posts_to(world: World, channel: str) -> list[Any]:
    return [c for c in world.emu.calls("chat.postMessage") if c.args.get("channel") == channel]
