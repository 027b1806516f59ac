"""The model timing out on every call, then recovering (issue 16, "Faults").

A "minute" of outage is compressed to seconds: the local OpenAI server hangs every completion
past the client's timeout while `down` is set. The cards go out meanwhile saying why the draft
is unavailable; once the model answers again the drafts arrive on their own, no one clicking
Regenerate; and a model that never comes back is asked a bounded number of times.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus
from sandbox.openai_server import OpenAIServer, default_responder
from tests.faults_helpers import all_carded, assert_each_message_once, messages_said
from tests.harness import World, model_world, wait_for
from workers.redraft import MAX_TRIES, redraft_unavailable

pytestmark = pytest.mark.slow

TIMEOUT = 0.5


class Outage:
    """A responder that hangs past the client's timeout while `down` is set."""

    def __init__(self) -> None:
        self.down = threading.Event()

    def __call__(self, schema: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.down.is_set():
            time.sleep(TIMEOUT + 0.5)  # the client has given up by now
        return default_responder(schema, body)


@pytest.fixture
def outage() -> Iterator[tuple[OpenAIServer, Outage]]:
    responder = Outage()
    with OpenAIServer(responder) as server:
        yield server, responder


def _notes(world: World) -> list[str]:
    return [json.dumps(card.get("blocks", [])) for card in world.cards()]


def _drafts(world: World) -> list[tuple[int, str, DraftStatus]]:
    with transaction(world.deps.sessions) as session:
        rows = session.execute(select(Draft.request_id, Draft.source, Draft.status)).all()
    return [(r, s, st) for r, s, st in rows]


def _unavailable(world: World) -> dict[int, int]:
    counts: dict[int, int] = {}
    for request_id, source, _ in _drafts(world):
        counts[request_id] = counts.get(request_id, 0) + (source == "unavailable")
    return counts


def test_drafts_arrive_once_the_model_is_back_without_a_click(
    database_url: str, redis_url: str, outage: tuple[OpenAIServer, Outage]
) -> None:
    """Without `workers.redraft` (remove its call in `workers.sweeper.sweep`) the cards kept
    saying "Draft unavailable" after the model was back, until a person clicked Regenerate."""
    server, model = outage
    model.down.set()
    with model_world(
        database_url,
        redis_url,
        server.base_url,
        openai_timeout_seconds=TIMEOUT,
        grouping_minutes=0,
        redraft_seconds=1,
        slack_rate_scale=10,
    ) as world:
        world.start_worker("faults-model-worker")
        for n in range(3):
            world.customer_says(f"Our invoice {n:03d} shows the wrong VAT rate")
        said = messages_said(world)
        wait_for(lambda: all_carded(world, said), timeout=30)
        notes = _notes(world)
        assert all("Draft unavailable" in n and f"within {TIMEOUT:g} s" in n for n in notes)
        # Asked again on its own, and timed out again: each request has two unavailable drafts.
        wait_for(lambda: _unavailable(world) == {1: 2, 2: 2, 3: 2}, timeout=20)

        model.down.clear()  # the model is back
        wait_for(lambda: all("Drafted by gpt-4o-mini" in n for n in _notes(world)), timeout=30)
        time.sleep(world.settings.lease_seconds)  # a late duplicate would show up here
        assert_each_message_once(world, said)
        pending = [(r, s) for r, s, st in _drafts(world) if st == DraftStatus.PENDING]
        assert sorted(pending) == [(r, "openai") for r in (1, 2, 3)]  # one live draft each


def test_a_model_that_never_comes_back_is_asked_a_bounded_number_of_times(
    database_url: str, redis_url: str, outage: tuple[OpenAIServer, Outage]
) -> None:
    """The sweeper's pass run here with its clock an hour ahead each time, so no backoff is
    waited for. Remove the `MAX_TRIES` condition in `workers.redraft` and it asks forever
    (every backoff a model call and a card redraw)."""
    server, model = outage
    model.down.set()
    with model_world(
        database_url, redis_url, server.base_url, openai_timeout_seconds=TIMEOUT
    ) as world:
        world.customer_says("Our invoice 001 shows the wrong VAT rate")
        world.drain()
        later = datetime.now(UTC)
        for _ in range(MAX_TRIES + 2):
            later += timedelta(hours=1)
            redraft_unavailable(world.deps, later)
            world.drain()
        assert len(server.requests()) == MAX_TRIES
        assert [s for _, s, _ in _drafts(world)] == ["unavailable"] * MAX_TRIES
        assert "Draft unavailable" in _notes(world)[0]
        assert_each_message_once(world, messages_said(world))
