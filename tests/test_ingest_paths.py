"""Ingest's two ways of storing a new customer message write the same rows (SPEC §5.1).

On PostgreSQL a new message is stored in one statement (`workers.ingest_postgres`); elsewhere, and
for edits, deletions and replies, in SQLAlchemy (`workers.ingest`). The same conversation, sent
as signed events through the real app, must leave the same requests, messages and events on
both; and the job each listener hands off must reach Redis, or the request must be left for
the sweeper.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import select

from integrations.queues import PIPELINE
from integrations.store.db import transaction, upgrade
from integrations.store.models import (
    Draft,
    DraftStatus,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
)
from sandbox.slack_events import message_envelope
from tests.harness import (
    BOT_USER,
    CUSTOMER,
    CUSTOMER_TEAM,
    ORG,
    OUTSIDER,
    REPO,
    SHARED,
    World,
    free_port,
    start_world,
)
from workers.classify import Installation
from workers.ingest import ingest_message

T0 = 1_700_000_000  # the first message's ts; the others count seconds from it


def _message(n: int, seconds: int, *, user: str = CUSTOMER, thread: int | None = None) -> dict:
    message: dict[str, Any] = {
        "type": "message",
        "user": user,
        "team": CUSTOMER_TEAM,
        "ts": f"{T0 + seconds}.{n:06d}",
        "text": f"message {n}",
    }
    if thread is not None:
        message["thread_ts"] = f"{T0}.{thread:06d}"
    return message


def _envelope(message: dict, event_id: str) -> dict:
    return message_envelope(
        message,
        channel=SHARED,
        installed_team_id=ORG,
        bot_user_id=BOT_USER,
        is_ext_shared_channel=True,
        author_team_id=CUSTOMER_TEAM,
        event_id=event_id,
    )


def _conversation(world: World) -> list[tuple[str, int]]:
    """A conversation touching every branch of open-or-join; the requests and messages after."""
    first = _message(1, 0)
    steps: list[dict | str] = [
        _envelope(first, "Ev1"),
        _envelope(_message(2, 30), "Ev2"),  # same person within GROUPING_MINUTES: joins
        _envelope(_message(3, 40, thread=1), "Ev3"),  # a reply in its thread: joins
        _envelope(first, "Ev1"),  # Slack's retry: a duplicate
        _envelope(first, "Ev1-again"),  # the same message under a new event id: a duplicate
        _envelope(_message(4, 50, user=OUTSIDER), "Ev4"),  # someone else: opens
        _envelope(_message(5, 600), "Ev5"),  # long after: opens
        "approve request 3",
        _envelope(_message(6, 620), "Ev6"),  # request 3 has an approved draft: opens
        "answer request 2",
        _envelope(_message(7, 630, user=OUTSIDER, thread=4), "Ev7"),  # answered thread: opens
        "through an org-wide Enterprise Grid install",  # no team id: the event stores none
    ]
    for step in steps:
        if step == "approve request 3":
            with transaction(world.deps.sessions) as session:
                session.add(
                    Draft(request_id=3, text="Hello", source="offline", status=DraftStatus.APPROVED)
                )
        elif step == "through an org-wide Enterprise Grid install":
            grid = Installation(team_id=None, enterprise_id="E0ORGGRID", bot_user_id=BOT_USER)
            result = ingest_message(world.deps, _envelope(_message(8, 900), "Ev8"), grid)
            assert result.outcome == "opened"
        elif step == "answer request 2":
            with transaction(world.deps.sessions) as session:
                session.get_one(Request, 2).state = RequestState.ANSWERED
        else:
            assert isinstance(step, dict)
            assert world.send(step)[0] == 200
    world.deps.queues.wait_handed_off()
    with transaction(world.deps.sessions) as session:
        return [
            (m.ts, m.request_id)
            for m in session.scalars(select(RequestMessage).order_by(RequestMessage.ts))
        ]


def _rows(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """What was stored, leaving out what differs run to run (clocks, job ids) and row ids
    (a PostgreSQL sequence skips the values a failed insert of a duplicate took)."""
    skip = {"id", "created_at", "updated_at", "received_at", "enqueued_at", "job_id"}
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with transaction(world.deps.sessions) as session:
        for model in (Request, RequestMessage, SlackEvent):
            columns = [c for c in model.__table__.c if c.name not in skip]  # type: ignore[attr-defined]
            result = session.execute(select(*columns).order_by(model.id))  # type: ignore[attr-defined]
            rows[model.__tablename__] = [tuple(row) for row in result]  # type: ignore[attr-defined]
        for request in session.scalars(select(Request)):
            assert request.job_id and request.enqueued_at  # handed off, so never swept
    return rows


EXPECTED = [  # (message ts, its request)
    (f"{T0}.000001", 1),
    (f"{T0 + 30}.000002", 1),
    (f"{T0 + 40}.000003", 1),
    (f"{T0 + 50}.000004", 2),
    (f"{T0 + 600}.000005", 3),
    (f"{T0 + 620}.000006", 4),
    (f"{T0 + 630}.000007", 5),
    (f"{T0 + 900}.000008", 6),
]


def test_postgres_and_sqlite_store_a_conversation_alike(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=2) as pg:
        assert _conversation(pg) == EXPECTED
        on_postgres = _rows(pg)
    sqlite_url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(sqlite_url)
    with start_world(database_url=sqlite_url, redis_url=redis_url, grouping_minutes=2) as lite:
        assert _conversation(lite) == EXPECTED
        on_sqlite = _rows(lite)
    assert on_postgres == on_sqlite
    assert len(on_postgres["slack_events"]) == 8  # the two duplicates stored nothing
    assert on_postgres["slack_events"][-1][1] is None  # the Grid install's event: no team


def test_follow_ups_arriving_at_once_all_join_one_request(
    database_url: str, redis_url: str
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=2) as world:
        assert world.send(_envelope(_message(1, 0), "Ev1"))[0] == 200
        bodies = [_envelope(_message(n, n), f"Ev{n}") for n in range(2, 18)]
        bodies += bodies  # and each delivered twice
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert {status for status, _ in pool.map(world.send, bodies)} == {200}
        world.deps.queues.wait_handed_off()
        with transaction(world.deps.sessions) as session:
            [request] = session.scalars(select(Request)).all()
            assert request.revision == 17  # every join counted once, none lost to a race
            assert len(session.scalars(select(RequestMessage)).all()) == 17


def test_handed_off_jobs_reach_the_queue_under_the_stored_job_id(world: World) -> None:
    for n in range(1, 6):
        assert world.send(_envelope(_message(n, 600 * n), f"Ev{n}"))[0] == 200
    world.deps.queues.wait_handed_off()
    with transaction(world.deps.sessions) as session:
        stored = set(session.scalars(select(Request.job_id)))
    queued = {job_id.decode() for job_id in world.deps.redis.lrange(f"rq:queue:{PIPELINE}", 0, -1)}
    assert len(stored) == 5 and queued == stored


@pytest.mark.parametrize("storage", ["postgres", "sqlite"])
def test_a_job_redis_never_took_leaves_its_request_to_the_sweeper(
    storage: str, database_url: str, tmp_path: Path
) -> None:
    if storage == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'triage.db'}"
        upgrade(database_url)
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with start_world(database_url=database_url, redis_url=nobody) as world:
        assert world.send(_envelope(_message(1, 0), "Ev1"))[0] == 200  # acked all the same
        world.deps.queues.wait_handed_off()
        with transaction(world.deps.sessions) as session:
            [request] = session.scalars(select(Request)).all()
            # Stored, and marked never queued: the sweeper's next pass queues it.
            assert (request.job_id, request.enqueued_at) == (None, None)
            assert session.scalars(select(SlackEvent.request_id)).all() == [request.id]


def test_jobs_handed_off_just_before_a_graceful_exit_still_reach_redis(redis_url: str) -> None:
    """A gunicorn worker that is recycled or stopped exits normally: what its enqueue thread
    still holds is sent at exit, not left for the sweeper's grace period."""
    script = (
        "import sys; from redis import Redis; from integrations.queues import Queues\n"
        "queues = Queues(Redis.from_url(sys.argv[1]))\n"
        "for n in range(200):\n"
        "    queues.enqueue_request_soon(n, f'request-exit-{n}', lambda r, j: None)\n"
    )
    subprocess.run([sys.executable, "-c", script, redis_url], cwd=REPO, check=True, timeout=60)
    queued = Redis.from_url(redis_url).lrange(f"rq:queue:{PIPELINE}", 0, -1)
    assert len(queued) == 200
