"""Slack saying no for a while (issue 16, "Faults"): 429 with `Retry-After`, `ratelimited`,
500 and timeouts on chat.postMessage, chat.update and reactions.add.

"Minutes" of it are compressed: a run of faults on each method, consumed by whatever calls
come (cards, 👀, replies, ✅, card redraws), Retry-Afters of a few seconds and a Slack client
timeout of 2 s (SLACK_TIMEOUT_SECONDS). Nothing may be lost, nothing posted twice, and no call
of a method may reach Slack before a Retry-After it was given has ended.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Request, RequestState
from sandbox.slack_emulator import SlackEmulator
from sandbox.world import SHARED
from tests.faults_helpers import all_carded, assert_each_message_once, messages_said
from tests.harness import World, start_world, wait_for
from workers.ids import ActionId

pytestmark = pytest.mark.slow

TIMEOUT = 2  # SLACK_TIMEOUT_SECONDS
RETRY_AFTER = {"chat.postMessage": 2, "chat.update": 2, "reactions.add": 2}


def _storm(emu: SlackEmulator, method: str) -> None:
    """One method's bad minutes, in the order its calls will meet them."""
    wait = RETRY_AFTER[method]
    emu.fail(method, status=429, retry_after=wait, times=2)  # Slack's 429, Retry-After
    emu.fail(method, status=500, times=3)  # 500s, more than the client retries
    emu.fail(method, error="ratelimited")  # the error in a 200, no Retry-After
    # A timeout: the client gives up; Slack carries the call out a moment later all the same.
    emu.fail(method, error=None, delay=TIMEOUT + 0.5)
    emu.fail(method, status=429, retry_after=wait)


def _faults_left(emu: SlackEmulator) -> dict[str, int]:
    return {m: sum(f.times for f in emu._api.faults.get(m, [])) for m in RETRY_AFTER}


def _early_calls(emu: SlackEmulator) -> list[str]:
    """Calls that reached Slack before the Retry-After of an earlier 429 for the same method
    (and, for a post, the same channel: the limit the app records it against) had ended.
    Calls arriving within 50 ms of the 429's answer were sent before the app could know."""
    early = []
    calls = emu.calls()
    for n, refused in enumerate(calls):
        if refused.status != 429 or refused.method not in RETRY_AFTER:
            continue
        knew, ends = refused.answered + 0.05, refused.answered + RETRY_AFTER[refused.method]
        for later in _same_limit(calls[n + 1 :], refused.method, refused.args.get("channel")):
            if knew < later.at < ends:
                early.append(f"{later.method} {later.at - refused.answered:.3f}s after its 429")
    return early


def _same_limit(calls: Iterable[Any], method: str, channel: str | None) -> Iterable[Any]:
    for call in calls:
        if call.method == method and (
            method != "chat.postMessage" or call.args.get("channel") == channel
        ):
            yield call


def _answered(world: World) -> int:
    with transaction(world.deps.sessions) as session:
        states = session.scalars(select(Request.state)).all()
    return sum(s == RequestState.ANSWERED for s in states)


def test_slack_saying_no_for_minutes_loses_nothing_and_posts_nothing_twice(
    database_url: str, redis_url: str
) -> None:
    """Three customer messages through a storm on posts and 👀, then their approvals through
    another on posts, card redraws and ✅.

    Found by it: a card post that timed out was taken up again at once by the sweeper (its
    outbox row had never been queued), looked for before Slack had carried it out, and posted
    twice: remove `enqueued_at=` from `workers.delivery._record_failure` to see it fail (two
    runs of two). And a card redraw that failed after the reply was posted failed the reply's
    job, whose retry found the reply sent and stopped: the card kept its old state (the
    `except` in `workers.delivery._after_reply`). No call comes early: remove the
    `self.budget.hold(...)` in `integrations.slack.RateLimitHandler.can_retry` and 👀s follow
    their 429 within a second."""
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        grouping_minutes=0,
        slack_timeout_seconds=TIMEOUT,
    ) as world:
        emu = world.emu
        _storm(emu, "chat.postMessage")
        _storm(emu, "reactions.add")
        world.start_worker("faults-slack-worker")
        for n in range(3):
            world.customer_says(f"Our export {n:03d} fails with a 500 since this morning")
        said = messages_said(world)
        wait_for(lambda: all_carded(world, said), timeout=60, interval=0.5)
        # Every 👀 is on (some were put off by the 429s): the next faults meet ✅s only.
        wait_for(lambda: all(emu.reactions(SHARED, ts).get("eyes") for ts in said), timeout=30)

        _storm(emu, "chat.update")
        _storm(emu, "chat.postMessage")
        emu.fail("reactions.add", status=500, times=3)  # a ✅ refused past the client's retries
        for card in world.cards():
            assert world.click(ActionId.APPROVE_DRAFT, card)[0] == 200
        wait_for(lambda: _answered(world) == 3, timeout=60, interval=0.5)
        # Each card redrawn as answered (its SLA clock stopped in time), despite chat.update.
        wait_for(
            lambda: all("answered in time" in json.dumps(c["blocks"]) for c in world.cards()),
            timeout=60,
            interval=0.5,
        )
        time.sleep(world.settings.lease_seconds + 1)  # a late duplicate would show up here

        assert_each_message_once(world, said)
        for ts in said:
            assert len(world.replies_in(ts)) == 1
            reactions = emu.reactions(SHARED, ts)
            assert reactions.get("eyes") and reactions.get("white_check_mark"), reactions
        assert _faults_left(emu) == dict.fromkeys(RETRY_AFTER, 0)  # every fault was met
        assert _early_calls(emu) == []


def test_a_checkmark_slack_refused_is_tried_again(database_url: str, redis_url: str) -> None:
    """The ✅ on an answered message, refused by Slack (500s past the client's retries), is
    tried again with its card refresh. Before, `workers.card._mark_answered` logged the
    failure and returned: the ✅ was never added. To see it fail, make it `return` again."""
    with start_world(database_url=database_url, redis_url=redis_url) as world:
        world.start_worker("faults-slack-worker")
        body = world.customer_says("Our export fails with a 500 since this morning")
        wait_for(lambda: world.cards(), timeout=30)
        ts = body["event"]["ts"]
        wait_for(lambda: world.emu.reactions(SHARED, ts).get("eyes"), timeout=30)
        world.emu.fail("reactions.add", status=500, times=3)  # the client tries three times
        assert world.click(ActionId.APPROVE_DRAFT, world.cards()[0])[0] == 200
        wait_for(lambda: world.emu.reactions(SHARED, ts).get("white_check_mark"), timeout=30)
        assert_each_message_once(world, [ts])
