"""When work backs up, urgent requests and the strictest tier's accounts go first (SPEC §5.7);
an approved reply never waits behind drafts (its own queue, taken before both)."""

from __future__ import annotations

import json

from rq import Queue

from integrations.queues import ALL_QUEUES, DELIVERY, PIPELINE, PIPELINE_FIRST
from sandbox.world import CUSTOMER_TEAM, INITECH, INITECH_TEAM, INITECH_USER, SHARED
from tests.harness import REPO, World, start_world

ACCOUNTS = str(REPO / "sandbox" / "accounts.yaml")  # Globex enterprise, Initech premium


def _queued(world: World) -> dict[str, list[int]]:
    """The request ids waiting in each pipeline queue, oldest first."""
    world.deps.queues.wait_handed_off()
    out = {}
    for name in (PIPELINE_FIRST, PIPELINE):
        queue = Queue(name, connection=world.deps.redis)
        out[name] = [job.kwargs["request_id"] for job in queue.get_jobs()]
    return out


def _customers(world: World, count: int) -> list[str]:
    users = [f"UCUST{n:04d}" for n in range(count)]
    for user in users:
        world.emu.add_user(user, team_id=CUSTOMER_TEAM, name=user.lower(), real_name=user)
        world.emu.add_member(SHARED, user)
    return users


def test_workers_take_replies_then_urgent_requests_then_the_rest() -> None:
    assert ALL_QUEUES == (DELIVERY, PIPELINE_FIRST, PIPELINE)


def test_an_urgent_message_is_carded_before_the_questions_that_came_before_it(
    database_url: str, redis_url: str
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url) as world:
        users = _customers(world, 4)
        for n, user in enumerate(users[:3]):
            world.customer_says(f"Where do I find the CSV export settings? ({n})", user=user)
        world.customer_says(
            "URGENT: production is down, none of our users can log in!", user=users[3]
        )
        queued = _queued(world)
        assert queued == {PIPELINE_FIRST: [4], PIPELINE: [1, 2, 3]}
        world.drain()
        first_card = json.dumps(world.cards()[0]["blocks"])  # emulator: oldest first
        assert "production is down" in first_card


def test_the_strictest_tiers_channel_goes_first_once_its_account_is_known(
    database_url: str, redis_url: str
) -> None:
    with start_world(
        database_url=database_url, redis_url=redis_url, accounts_file=ACCOUNTS, grouping_minutes=0
    ) as world:
        world.customer_says("Where do I find the CSV export settings?")
        world.initech_says("Where do I find the CSV export settings?")
        assert _queued(world) == {PIPELINE_FIRST: [], PIPELINE: [1, 2]}  # not known yet
        world.drain()
        world.customer_says("And the JSON export settings?")  # Globex: enterprise
        world.customer_says(
            "And the XML ones?", user=INITECH_USER, team=INITECH_TEAM, channel=INITECH
        )
        assert _queued(world) == {PIPELINE_FIRST: [3], PIPELINE: [4]}
        world.drain()
        assert len(world.cards()) == 4


def test_a_priority_question_that_fails_leaves_the_request_in_line(
    database_url: str, redis_url: str
) -> None:
    # The listener's classifier runs after the ack, in the enqueue thread: a bug in it must not
    # lose the request that is already stored under its job id.
    with start_world(database_url=database_url, redis_url=redis_url) as world:
        queues = world.deps.queues
        queues.enqueue_request_soon(7, "request-7", _never_lost, first=lambda: 1 / 0 > 0)
        queues.enqueue_request_soon(8, "request-8", _never_lost, first=lambda: True)
        queues.enqueue_request_soon(9, "request-9", _never_lost, first=lambda: False)
        assert _queued(world) == {PIPELINE_FIRST: [8], PIPELINE: [7, 9]}


def _never_lost(request_id: int, job_id: str) -> None:
    raise AssertionError(f"request {request_id} was handed back as lost")
