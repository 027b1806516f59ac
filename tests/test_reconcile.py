"""Reconciliation: customer messages whose events never arrived still become requests, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from integrations.store.db import transaction
from integrations.store.models import Request
from tests.harness import APPROVER, CUSTOMER, SHARED, World
from workers.reconcile import reconcile

HOUR = timedelta(hours=1)


def _requests(world: World) -> int:
    with transaction(world.deps.sessions) as session:
        return session.scalar(select(func.count()).select_from(Request)) or 0


def test_a_message_whose_event_never_came_gets_one_request_and_one_card(world: World) -> None:
    world.emu.post_as_user(SHARED, CUSTOMER, "Is anyone there? Our exports stopped yesterday.")
    world.emu.post_as_user(SHARED, APPROVER, "internal chatter, not a request")  # ORG member
    assert reconcile(world.deps, lookback=HOUR, settle=timedelta(0)) == 1
    assert reconcile(world.deps, lookback=HOUR, settle=timedelta(0)) == 0  # exactly once
    world.drain()
    assert _requests(world) == 1
    assert len(world.cards()) == 1


def test_messages_that_did_arrive_are_not_opened_twice(world: World) -> None:
    world.customer_says("Can we move our renewal date?")
    assert reconcile(world.deps, lookback=HOUR, settle=timedelta(0)) == 0
    world.drain()
    assert _requests(world) == 1 and len(world.cards()) == 1


def test_recent_messages_are_left_to_their_live_events_and_answered_threads_alone(
    world: World,
) -> None:
    world.emu.post_as_user(SHARED, CUSTOMER, "just posted, its event is surely on its way")
    assert reconcile(world.deps, lookback=HOUR) == 0  # within the 2-minute settle window
    asked = world.emu.post_as_user(SHARED, CUSTOMER, "Question someone already took in thread")
    world.emu.post_as_user(SHARED, APPROVER, "On it!", thread_ts=asked["ts"])
    assert reconcile(world.deps, lookback=HOUR, settle=timedelta(0)) == 1  # only the first
