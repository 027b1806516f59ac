"""The approval card is posted once, with what is known when it is posted.

A burst of customer messages must not cost a `chat.update` per card on top of its
`chat.postMessage`: the card goes out complete (its SLA deadline included) and is redrawn only
when something really changes afterwards.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.harness import TRIAGE, World, start_world


@pytest.fixture
def burst_world(database_url: str, redis_url: str) -> Iterator[World]:
    """Every message its own request (no grouping of a customer's consecutive messages)."""
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=0) as w:
        yield w


def test_a_plain_message_posts_its_card_once_and_never_updates_it(world: World) -> None:
    world.customer_says("Hi! How do I rotate our API key without downtime?")
    world.drain()

    posts = [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == TRIAGE]
    assert len(posts) == 1
    assert len(world.emu.calls("chat.postMessage")) == 1  # and nothing else posted
    assert world.emu.calls("chat.update") == []
    [card] = world.cards()
    assert "first response due" in json.dumps(card["blocks"])  # the deadline is on it already


def test_three_quick_messages_make_one_request_and_one_card_post(world: World) -> None:
    """GROUPING_MINUTES: a customer's three messages in a row are one request, carded once
    with all three, for the same calls as one message."""
    texts = ["Hi!", "Our SSO login fails with error 500", "since this morning, for everyone"]
    for text in texts:
        world.customer_says(text)
    world.drain()

    calls = Counter(c.method for c in world.emu.calls())
    assert calls["chat.postMessage"] == 1 and calls["chat.update"] == 0
    assert calls["reactions.add"] == 1  # one 👀 for the request
    [card] = world.cards()
    assert all(text in json.dumps(card["blocks"]) for text in texts)
    assert len(world.emu.calls("chat.postMessage")) == 1  # nothing else posted anywhere


def test_a_burst_of_messages_posts_each_card_once(burst_world: World) -> None:
    world = burst_world
    for n in range(5):
        world.customer_says(f"Question {n}: how do I export invoices for {n} months?")
    world.emu.clear_calls()
    world.drain()

    posts = [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == TRIAGE]
    assert len(posts) == len(world.cards()) == 5
    assert world.emu.calls("chat.update") == []


def test_a_card_changed_after_posting_is_updated(world: World) -> None:
    first = world.customer_says("Hi! How do I rotate our API key without downtime?")
    world.drain()
    [card] = world.cards()
    world.emu.clear_calls()

    world.customer_says("Also: does it log everyone out?", thread_ts=first["event"]["ts"])
    world.drain()
    assert [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == TRIAGE] == []
    [update] = world.emu.calls("chat.update")
    assert update.args["ts"] == card["ts"]
    [card] = world.cards()
    assert "log everyone out" in json.dumps(card["blocks"])


def test_a_card_that_failed_to_post_goes_out_with_what_changed_meanwhile(world: World) -> None:
    """The outbox row keeps the body of the first try; when it finally posts, the card is
    redrawn if the request changed since (compared with what was posted, not rebuilt)."""
    world.emu.fail("chat.postMessage", error="internal_error", times=1)
    first = world.customer_says("Hi! How do I rotate our API key without downtime?")
    world.drain()
    assert world.cards() == []  # the post failed; its outbox row waits with the first body

    world.customer_says("Also: does it log everyone out?", thread_ts=first["event"]["ts"])
    world.drain()
    [card] = world.cards()
    assert "log everyone out" in json.dumps(card["blocks"])
