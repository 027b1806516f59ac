"""🎫 opens a request for any message; 🔍 asks for a new draft now. Only our people can."""

from __future__ import annotations

from sqlalchemy import func, select

from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus, Request
from sandbox.slack_events import reaction_envelope
from tests.harness import (
    APPROVER,
    APPROVER_2,
    CUSTOMER,
    INTERNAL,
    SHARED,
    World,
)


def react(world: World, channel: str, ts: str, user: str, reaction: str) -> None:
    world.emu.add_reaction(channel, ts, reaction, user)
    body = reaction_envelope(user, reaction, ts=ts, **world.emu.event_context(channel))
    assert world.send(body)[0] == 200


def requests(world: World) -> int:
    with transaction(world.deps.sessions) as session:
        return session.scalar(select(func.count()).select_from(Request)) or 0


def test_a_ticket_on_an_internal_message_opens_a_request_and_a_card_once(world: World) -> None:
    note = world.emu.post_as_user(
        INTERNAL, APPROVER_2, "Globex says their exports are slow, can someone own this?"
    )
    react(world, INTERNAL, note["ts"], APPROVER, "ticket")
    react(world, INTERNAL, note["ts"], APPROVER_2, "ticket")  # a second 🎫: still one request
    world.drain()
    assert requests(world) == 1
    [card] = world.cards()
    assert "exports are slow" in str(card["blocks"])


def test_a_ticket_from_outside_the_organisation_does_nothing(world: World) -> None:
    message = world.emu.post_as_user(SHARED, CUSTOMER, "fyi: we renamed our workspace")
    react(world, SHARED, message["ts"], CUSTOMER, "ticket")
    world.drain()
    assert requests(world) == 0 and world.cards() == []


def test_a_ticket_reopens_what_the_rules_thought_needed_no_answer(world: World) -> None:
    body = world.customer_says("thanks, all good now!")
    world.drain()
    assert world.cards() == []
    react(world, SHARED, body["event"]["ts"], APPROVER, "ticket")
    world.drain()
    assert requests(world) == 1 and len(world.cards()) == 1


def test_mag_asks_for_a_new_draft_now(world: World) -> None:
    body = world.customer_says("How do we rotate our API key?")
    world.drain()
    react(world, SHARED, body["event"]["ts"], APPROVER, "mag")
    world.drain()
    with transaction(world.deps.sessions) as session:
        statuses = session.scalars(select(Draft.status).order_by(Draft.id)).all()
    assert statuses == [DraftStatus.SUPERSEDED, DraftStatus.PENDING]
    assert len(world.cards()) == 1
