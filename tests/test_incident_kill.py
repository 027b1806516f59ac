"""An incident update survives a worker SIGKILLed halfway through posting it (SPEC §6.6):
after recovery every affected thread has the update exactly once, none twice, none missing.

Seen failing: with delivery's look for an earlier holder's post (`_find_posted`) replaced by
`ts = None`, the thread whose post was in flight at the kill got the update twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import OutboxMessage, OutboxState
from sandbox.world import APPROVER, BOT_USER
from tests.harness import World, kill_group, start_world, wait_for
from tests.incident_world import (
    INCIDENTS,
    SSO,
    customer,
    incident_cards,
    says,
    submit_update,
)
from tests.test_incidents import customer_thread_posts
from workers.ids import ActionId


@pytest.fixture
def world(database_url: str, redis_url: str) -> Iterator[World]:
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        grouping_minutes=0,
        escalation_channel=INCIDENTS,
        worker_threads=1,  # one post at a time: a kill lands between two of them
    ) as world:
        world.emu.add_channel(INCIDENTS, "incidents", members=[BOT_USER, APPROVER])
        yield world


def _sent(world: World) -> int:
    with transaction(world.deps.sessions) as session:
        return len(
            session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.kind == "incident_update",
                    OutboxMessage.state == OutboxState.SENT,
                )
            ).all()
        )


def test_a_worker_killed_while_posting_an_update_leaves_each_thread_one_post(
    world: World,
) -> None:
    people = [customer(world, n) for n in range(4)]
    for who, text in zip(people, SSO, strict=True):
        says(world, who, text)
    world.drain()
    [incident] = incident_cards(world)
    # Slack takes its time with each post: Slack has the second when the worker dies.
    world.emu.set_latency("chat.postMessage", 1.0)
    worker = world.start_worker("incident-killed")
    submit_update(world, incident, ActionId.INCIDENT_UPDATE, "We are on it.")
    wait_for(lambda: _sent(world) >= 1, timeout=30)
    posts_before_second = len(people) + 1 + 1  # the cards, the incident card, the first update
    wait_for(lambda: len(world.emu.calls("chat.postMessage")) > posts_before_second, timeout=10)
    kill_group(worker)  # mid-post: Slack will have the message, the store will not
    assert _sent(world) < len(people)
    world.emu.set_latency("chat.postMessage", 0.0)
    world.start_worker("incident-recovered")
    wait_for(lambda: _sent(world) == len(people), timeout=60)
    for who in people:
        assert [p["text"] for p in customer_thread_posts(world, who["channel"])] == [
            "We are on it."
        ]
