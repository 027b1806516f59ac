"""Expected failures are one line; anything else is logged with its traceback and counted.

Redis or the database out of reach is expected: the sweeper says so in one line and tries
again next tick. A fault no outage explains (here a database nobody migrated, so every query
is a ProgrammingError) is a bug: logged with its traceback, counted in
`triage_errors_total{where}`, and the loop lives on. Real faults, nothing mocked.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import structlog
from prometheus_client import REGISTRY
from sqlalchemy import select

from integrations.deps import Deps
from integrations.queues import DELIVERY
from integrations.settings import load_settings
from integrations.store.db import transaction
from integrations.store.models import EventKind, OutboxMessage, SlackEvent
from tests.harness import CUSTOMER, SHARED, World, free_port, start_world
from tests.test_feedback import react
from workers.ids import ActionId
from workers.reactions import PENDING
from workers.sweeper import Maintenance

POSTGRES_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def unmigrated_url() -> Iterator[str]:
    """A PostgreSQL database with no tables at all."""
    name = f"triage_test_bare_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def rendered_logs() -> Iterator[list[dict[str, Any]]]:
    """The app's log lines as production renders them (JSON, tracebacks included)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ]
        )
    )
    root = logging.getLogger()
    root.addHandler(handler)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        lines += [json.loads(line) for line in out.getvalue().splitlines()]


def errors(where: str) -> float:
    return REGISTRY.get_sample_value("triage_errors_total", {"where": where}) or 0.0


@contextmanager
def maintenance(database_url: str, redis_url: str) -> Iterator[Maintenance]:
    deps = Deps.build(load_settings(_env_file=None, database_url=database_url, redis_url=redis_url))
    try:
        yield Maintenance(deps)
    finally:
        deps.close()


def test_a_bug_in_a_sweeper_tick_is_logged_with_its_traceback_and_counted(
    unmigrated_url: str, redis_url: str
) -> None:
    before = errors("sweeper")
    with maintenance(unmigrated_url, redis_url) as worker, rendered_logs() as lines:
        assert worker.tick() is False
        assert worker.tick() is False  # the next tick runs, and fails the same way
    failed = [line for line in lines if line["event"] == "sweeper.failed"]
    assert len(failed) == 2
    assert all(line["level"] == "error" and line["where"] == "sweeper" for line in failed)
    traceback = failed[0]["exception"]
    assert traceback.startswith("Traceback (most recent call last):")
    assert "sqlalchemy.exc.ProgrammingError" in traceback and "does not exist" in traceback
    assert errors("sweeper") == before + 2


def test_redis_out_of_reach_is_one_line_and_not_counted_as_a_bug(database_url: str) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    before = errors("sweeper")
    with maintenance(database_url, nobody) as worker, rendered_logs() as lines:
        assert worker.tick() is False
    [failed] = [line for line in lines if line["event"] == "sweeper.failed"]
    assert failed["level"] == "warning" and "exception" not in failed
    assert "Connection refused" in failed["error"]
    assert errors("sweeper") == before


def test_a_reaction_while_redis_is_down_is_stored_and_acknowledged(database_url: str) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    with start_world(database_url=database_url, redis_url=nobody) as world:
        message = world.emu.post_as_user(SHARED, CUSTOMER, "That fixed it, thanks")
        react(world, message["ts"], CUSTOMER)  # asserts a 200
        with transaction(world.deps.sessions) as session:
            [row] = session.scalars(
                select(SlackEvent).where(SlackEvent.kind == EventKind.REACTION)
            ).all()
            assert row.reason == PENDING  # the sweeper queues it once Redis is back


def test_an_approval_redis_refuses_oddly_is_answered_counted_and_left_to_the_sweeper(
    world: World,
) -> None:
    """Redis answers, but with an error no outage explains (the delivery queue's key holds no
    list): the click is still acknowledged, the failure is logged with its traceback and
    counted, and the reply's outbox row is left unqueued for the sweeper to deliver."""
    world.customer_says("How do I export last month's invoices?")
    world.drain()
    [card] = world.cards()
    world.deps.redis.set(f"rq:queue:{DELIVERY}", "not a list")
    before = errors("enqueue")
    with rendered_logs() as lines:
        assert world.click(ActionId.APPROVE_DRAFT, card)[0] == 200
    [failed] = [line for line in lines if line["event"] == "enqueue.failed"]
    assert failed["level"] == "error" and failed["what"] == "delivery"
    assert "WRONGTYPE" in failed["exception"]
    assert errors("enqueue") == before + 1
    with transaction(world.deps.sessions) as session:
        [reply] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply")).all()
        assert reply.enqueued_at is None and reply.result_ts is None
