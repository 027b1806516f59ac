"""Ingest stores a conversation alike on PostgreSQL and SQLite (SPEC §5.1).

A new customer message is stored by one implementation (`workers.ingest_store`): one statement
on PostgreSQL, the same statements one by one in a transaction on SQLite. The same conversation,
sent as signed events through the real app, must leave the same requests, messages and events
on both; on PostgreSQL each new message must cost one round trip before the ack; and the job
each listener hands off must reach Redis, or the request must be left for the sweeper.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from psycopg import pq
from redis import Redis
from sqlalchemy import Engine, event, select

from integrations.queues import DELIVERY, PIPELINE, PIPELINE_FIRST, Queues
from integrations.store.db import transaction, upgrade
from integrations.store.models import (
    Draft,
    DraftStatus,
    Request,
    RequestMessage,
    RequestState,
    SlackEvent,
)
from sandbox.slack_events import (
    message_changed_envelope,
    message_deleted_envelope,
    message_envelope,
)
from tests.harness import (
    APPROVER,
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
from workers.ingest import enqueue_pipeline, ingest_message, mark_enqueued

T0 = 1_700_000_000  # the first message's ts; the others count seconds from it
FILE = {"id": "F0SHOT", "name": "error.png", "mimetype": "image/png", "size": 2048}


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


_CONTEXT: dict[str, Any] = dict(
    channel=SHARED, installed_team_id=ORG, bot_user_id=BOT_USER, is_ext_shared_channel=True
)


def _envelope(message: dict, event_id: str, *, team: str = CUSTOMER_TEAM) -> dict:
    return message_envelope(message, **_CONTEXT, author_team_id=team, event_id=event_id)


def _conversation(world: World) -> list[tuple[str, int]]:
    """A conversation touching every branch of open-or-join; the requests and messages after."""
    first = _message(1, 0)
    steps: list[dict | str] = [
        _envelope(first, "Ev1"),
        _envelope(_message(2, 30), "Ev2"),  # same person within GROUPING_MINUTES: joins
        _envelope(_message(3, 40, thread=1), "Ev3"),  # a reply in its thread: joins
        _envelope(first, "Ev1"),  # Slack's retry: a duplicate
        _envelope(first, "Ev1-again"),  # the same message under a new event id: a duplicate
        _envelope({**_message(4, 50, user=OUTSIDER), "files": [FILE]}, "Ev4"),  # someone else
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


def _rows(world: World, *, clocks: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """What was stored, leaving out what differs run to run (clocks, job ids) and row ids
    (a PostgreSQL sequence skips the values a failed insert of a duplicate took)."""
    skip = {"id", "created_at", "updated_at", "received_at", "enqueued_at", "job_id", *clocks}
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


def _changes(world: World) -> None:
    """Edits, deletions and a colleague's reply, each sent through the real app."""
    first, second = _message(1, 0), _message(2, 600)
    edited = {**first, "text": "message 1, edited", "edited": {"ts": f"{T0 + 60}.000000"}}
    reply = {**_message(3, 120, user=APPROVER, thread=1), "team": ORG}
    stray = {**_message(9, 700), "edited": {"ts": f"{T0 + 800}.000000"}}
    author = {"author_team_id": CUSTOMER_TEAM}
    steps = [
        _envelope(first, "Ev1"),  # opens request 1
        _envelope(second, "Ev2"),  # long after: opens request 2
        message_changed_envelope(edited, first, **_CONTEXT, event_id="Ev3"),  # updates 1
        message_changed_envelope(edited, first, **_CONTEXT, event_id="Ev3"),  # a retry
        _envelope(reply, "Ev4", team=ORG),  # a colleague answers request 1 in its thread
        message_deleted_envelope(second, **_CONTEXT, **author, event_ts="1.2", event_id="Ev5"),
        message_deleted_envelope(first, **_CONTEXT, **author, event_ts="1.3", event_id="Ev6"),
        message_changed_envelope(stray, stray, **_CONTEXT, event_id="Ev7"),  # never stored
    ]
    for body in steps:
        assert world.send(body)[0] == 200
    world.deps.queues.wait_handed_off()


def test_edits_deletions_and_replies_are_stored_alike(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=2) as pg:
        _changes(pg)
        on_postgres = _rows(pg, clocks=("answered_at",))
        with transaction(pg.deps.sessions) as session:
            one, two = session.scalars(select(Request).order_by(Request.id)).all()
            assert (one.state, one.answered_by, one.revision) == ("answered", APPROVER, 2)
            assert (two.state, two.revision) == (RequestState.WITHDRAWN, 2)
            texts = session.scalars(select(RequestMessage.text).order_by(RequestMessage.ts))
            assert list(texts) == ["", ""]  # both deleted, the edit forgotten with the first
    sqlite_url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(sqlite_url)
    with start_world(database_url=sqlite_url, redis_url=redis_url, grouping_minutes=2) as lite:
        _changes(lite)
        on_sqlite = _rows(lite, clocks=("answered_at",))
    assert on_postgres == on_sqlite
    events = on_postgres["slack_events"]
    assert [e[0] for e in events] == [f"Ev{n}" for n in (1, 2, 3, 4, 5, 6, 7)]  # no retry
    assert [e[-1] for e in events] == [1, 2, 1, 1, 2, 1, None]  # the request each touched


@contextmanager
def _round_trips(engine: Engine) -> Iterator[list[int]]:
    """For each connection taken from the engine's pool meanwhile, the round trips it made to
    PostgreSQL before it was given back, read from libpq's own trace of the wire (a Sync ends
    each statement sent, a Query each BEGIN or COMMIT). The pool's ping precedes the checkout."""
    trips: list[int] = []
    traces: dict[int, str] = {}

    def checkout(dbapi: Any, record: Any, proxy: Any) -> None:
        fd, traces[id(dbapi)] = tempfile.mkstemp(prefix="libpq-trace-")
        dbapi.pgconn.trace(fd)  # libpq writes, and closes, the file descriptor
        dbapi.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def checkin(dbapi: Any, record: Any) -> None:
        path = traces.pop(id(dbapi), None) if dbapi is not None else None
        if path is None:
            return
        dbapi.pgconn.untrace()
        sent = [line.split("\t") for line in Path(path).read_text().splitlines()]
        trips.append(sum(1 for m in sent if m[0] == "F" and m[2:3] in (["Sync"], ["Query"])))
        os.unlink(path)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield trips
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


def test_a_new_message_is_one_round_trip_to_postgres_before_the_ack(world: World) -> None:
    """What the ack waits for (bench/ingest.py): one statement, with no BEGIN or COMMIT, for a
    message that opens a request, joins one, or was stored before."""
    first = _message(1, 0)
    bodies = [
        _envelope(first, "Ev1"),  # opens
        _envelope(_message(2, 30), "Ev2"),  # joins: GROUPING_MINUTES
        _envelope(_message(3, 40, thread=1), "Ev3"),  # joins: its thread
        _envelope(first, "Ev1"),  # Slack's retry
        _envelope(first, "Ev1-again"),  # the same message under a new event id
    ]
    with _round_trips(world.deps.engine) as trips:
        for body in bodies:
            assert world.send(body)[0] == 200
    assert trips == [1, 1, 1, 1, 1]
    world.deps.queues.wait_handed_off()
    with transaction(world.deps.sessions) as session:
        [request] = session.scalars(select(Request)).all()
        assert request.revision == 3
        assert len(session.scalars(select(SlackEvent)).all()) == 3


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
    queued = {  # the ordinary queue, or the first one where the words read as pressing
        job_id.decode()
        for queue in (PIPELINE, PIPELINE_FIRST)
        for job_id in world.deps.redis.lrange(f"rq:queue:{queue}", 0, -1)
    }
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


def _failures(caplog: pytest.LogCaptureFixture) -> list[tuple[str, bool]]:
    """Ingest's `enqueue.failed` lines: their level, and whether they carry a traceback."""
    return [
        (r.levelname, bool(r.msg.get("exc_info")))
        for r in caplog.records
        if r.name == "workers.ingest" and r.msg.get("event") == "enqueue.failed"  # type: ignore[union-attr]
    ]


def _errors_counted() -> float:
    """`triage_errors_total{where="ingest"}`: the bugs ingest has logged."""
    return REGISTRY.get_sample_value("triage_errors_total", {"where": "ingest"}) or 0.0


def _requeue(world: World, request_id: int) -> bool:
    """Give the request a new job id and queue it, as a 🔁 or a redraft does."""
    with transaction(world.deps.sessions) as session:
        job_id = mark_enqueued(session.get_one(Request, request_id))
    assert job_id is not None
    return enqueue_pipeline(world.deps, request_id, job_id)


def test_an_unexpected_queue_failure_is_logged_with_its_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down is expected (a warning; the sweeper follows up); anything else is a bug to
    see whole. Here Redis answers, but with an error: the queue's key holds no list."""
    assert world.send(_envelope(_message(1, 0), "Ev1"))[0] == 200
    world.deps.queues.wait_handed_off()
    counted = _errors_counted()
    world.deps.redis.set(f"rq:queue:{PIPELINE}", "not a list")
    world.deps.redis.set(f"rq:queue:{DELIVERY}", "not a list")
    with caplog.at_level(logging.WARNING):
        assert _requeue(world, 1) is False
        # A colleague answers in the thread: stored, but the card's refresh cannot be queued.
        reply = {**_message(2, 60, user=APPROVER, thread=1), "team": ORG}
        assert world.send(_envelope(reply, "Ev2", team=ORG))[0] == 200
    assert _failures(caplog) == [("ERROR", True), ("ERROR", True)]
    assert _errors_counted() == counted + 2
    with transaction(world.deps.sessions) as session:
        request = session.get_one(Request, 1)
        assert (request.state, request.job_id, request.enqueued_at) == ("answered", None, None)


def test_redis_down_is_a_warning_and_leaves_the_request_to_the_sweeper(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    with start_world(database_url=database_url, redis_url=nobody) as world:
        assert world.send(_envelope(_message(1, 0), "Ev1"))[0] == 200
        world.deps.queues.wait_handed_off()  # failed: the queues' breaker is open a while
        counted = _errors_counted()
        time.sleep(Queues.BREAKER_SECONDS)
        with caplog.at_level(logging.WARNING):
            assert _requeue(world, 1) is False  # Redis refuses the connection
            assert _requeue(world, 1) is False  # the queues' breaker: not even trying
        assert _failures(caplog) == [("WARNING", False), ("WARNING", False)]
        assert _errors_counted() == counted  # an outage is no bug
        with transaction(world.deps.sessions) as session:
            request = session.get_one(Request, 1)
            assert (request.job_id, request.enqueued_at) == (None, None)


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
