"""A worker SIGKILLed in each stage of the pipeline in turn (issue 16, "Faults").

With a model, the pipeline is context → triage and draft (one call) → suggest → card
(`workers.pipeline._MODEL_STAGES`). Each stage is held at its slow call (Salesforce's query,
the model, `users.getPresence`, `chat.postMessage`) until the worker is killed in it, as a
container dies; a new worker takes the request up from the database. tests/test_resilience.py
kills one during the offline pipeline's 👀 (its triage stage) and its card post.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus, Request, Stage
from sandbox.openai_server import OpenAIServer, default_responder
from sandbox.world import TRIAGE
from tests import salesforce_world
from tests.faults_helpers import all_carded, assert_each_message_once, messages_said
from tests.harness import World, kill_group, wait_for
from tests.salesforce_world import Org, StartWorld

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures
crm_world = salesforce_world.crm_world  # fixture

pytestmark = pytest.mark.slow


class HeldModel:
    """The model's first answer waits until `release` (a model thinking when its caller dies)."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.released = threading.Event()
        self.first = True

    def __call__(self, schema: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.hold.is_set() and self.first:
            self.first = False
            self.released.wait(15)
        return default_responder(schema, body)


@pytest.fixture
def held() -> Iterator[tuple[OpenAIServer, HeldModel]]:
    responder = HeldModel()
    with OpenAIServer(responder) as server:
        yield server, responder
        responder.released.set()


def _hold_context(world: World, org: Org, model: HeldModel) -> Callable[[], object]:
    org.server.hang_seconds = 10
    org.server.fail("HANG")  # the account query hangs
    users_info = len(world.emu.calls("users.info"))
    return lambda: len(world.emu.calls("users.info")) > users_info  # asked just before it


def _hold_model(world: World, org: Org, model: HeldModel) -> Callable[[], object]:
    model.hold.set()
    return lambda: not model.first


def _hold_suggest(world: World, org: Org, model: HeldModel) -> Callable[[], object]:
    world.emu.fail("users.getPresence", error=None, delay=10)  # the account owner's presence
    return lambda: world.emu.calls("users.getPresence")


def _hold_card(world: World, org: Org, model: HeldModel) -> Callable[[], object]:
    # Slack still posts it after the delay: the new worker must find it, not post again.
    world.emu.fail("chat.postMessage", error=None, delay=1)
    return lambda: [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == TRIAGE]


# Each stage of `_MODEL_STAGES` (named by the stage it writes), how to hold the worker in it,
# and the stage the request had reached when it died there.
STAGES = {
    Stage.CONTEXT: (_hold_context, Stage.RECEIVED),  # _context_first
    Stage.DRAFTED: (_hold_model, Stage.RECEIVED),  # _triage_and_draft
    Stage.SUGGESTED: (_hold_suggest, Stage.DRAFTED),  # _suggest
    Stage.DONE: (_hold_card, Stage.SUGGESTED),  # _card
}


@pytest.mark.parametrize("stage", list(STAGES), ids=[s.value for s in STAGES])
def test_a_worker_killed_in_each_stage_is_recovered_once(
    crm_world: StartWorld,
    org: Org,
    held: tuple[OpenAIServer, HeldModel],
    stage: Stage,
) -> None:
    """Recovered by the sweeper as soon as the dead worker's lease runs out: before, it waited
    until 20 s after the message arrived (remove the `enqueued_at < lease_expired_at` branch in
    `workers.sweeper._request_is_lost` and the card comes after the 12 s this test allows)."""
    server, model = held
    with crm_world(
        "password",
        grouping_minutes=0,
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=server.base_url,
        openai_timeout_seconds=20,
        openai_max_retries=0,
        lease_seconds=2,  # the dead worker's lease runs out soon (longer than a post takes)
    ) as world:
        hold, reached = STAGES[stage]
        in_stage = hold(world, org, model)
        worker = world.start_worker("faults-kill-worker")
        world.customer_says("Our webhook deliveries stopped an hour ago")
        wait_for(in_stage, timeout=30)
        world.start_worker("faults-kill-restarted")  # idle: the job is the first one's
        time.sleep(0.5)
        kill_group(worker)  # the worker and its scheduler, as when its container dies
        killed = time.monotonic()
        model.released.set()
        with transaction(world.deps.sessions) as session:
            assert session.scalars(select(Request.stage)).one() == reached

        said = messages_said(world)
        wait_for(lambda: all_carded(world, said), timeout=12)
        recovered_in = time.monotonic() - killed
        time.sleep(world.settings.lease_seconds)  # a late duplicate would show up here
        assert_each_message_once(world, said)
        with transaction(world.deps.sessions) as session:
            drafts = session.execute(select(Draft.source, Draft.status)).all()
            request = session.scalars(select(Request)).one()
            assert (request.stage, request.attempts) == (Stage.DONE, 2), recovered_in
        live = [source for source, status in drafts if status == DraftStatus.PENDING]
        assert live == ["openai"], drafts  # the card's one draft, by the model
