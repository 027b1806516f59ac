"""👍/👎 on answers the app posted: stored per answer and per person, and they change what the
next draft is grounded on."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Draft
from sandbox.openai_server import OpenAIServer
from sandbox.slack_events import reaction_envelope
from tests.harness import (
    APPROVER,
    APPROVER_2,
    BOT_USER,
    CUSTOMER,
    SHARED,
    TRIAGE,
    World,
    start_world,
)
from workers.ids import ActionId


def react(world: World, ts: str, user: str, reaction: str = "+1", *, added: bool = True) -> None:
    """A reaction as Slack delivers it in a Slack Connect channel (no team for the reactor)."""
    if added:
        world.emu.add_reaction(SHARED, ts, reaction, user)
    else:
        world.emu.remove_reaction(SHARED, ts, reaction, user)
    context = world.emu.event_context(SHARED)
    body = reaction_envelope(user, reaction, ts=ts, added=added, item_user=BOT_USER, **context)
    assert world.send(body)[0] == 200
    time.sleep(0.002)  # distinct event_ts


def answer(world: World, question: str, reply: str) -> str:
    """Ask as the customer, have Amy send `reply`; the ts of the posted answer."""
    asked = world.customer_says(question)
    world.drain()
    card = world.cards()[-1]
    world.click(ActionId.EDIT_DRAFT, card)
    world.submit_view(world.emu.views()[-1]["view"], {"draft_text": {"draft_text_input": reply}})
    world.drain()
    [posted] = world.replies_in(asked["event"]["ts"])
    return str(posted["ts"])


def counts(world: World, ts: str) -> dict[str, int]:
    with transaction(world.deps.sessions) as session:
        draft = session.scalars(select(Draft).where(Draft.posted_ts == ts)).one()
        return dict((draft.details or {}).get("feedback") or {"up": 0, "down": 0})


def test_thumbs_count_once_per_person_and_removing_undoes(world: World) -> None:
    ts = answer(world, "How do I reset MFA for a user?", "Admin > Users > Reset MFA.")
    react(world, ts, CUSTOMER)
    react(world, ts, CUSTOMER, "thumbsup")  # the same person, the same thumb: still one
    react(world, ts, APPROVER_2, "+1::skin-tone-3")
    world.drain()
    assert counts(world, ts) == {"up": 2, "down": 0}
    react(world, ts, CUSTOMER, added=False)
    react(world, ts, CUSTOMER, "thumbsup", added=False)
    react(world, ts, APPROVER_2, "+1::skin-tone-3", added=False)
    world.drain()
    assert counts(world, ts) == {"up": 0, "down": 0}
    with transaction(world.deps.sessions) as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action.like("feedback.%")))
        sources = {(e.actor, e.detail["source"]) for e in entries}
    assert sources == {(CUSTOMER, "customer"), (APPROVER_2, "internal")}


def test_other_reactions_and_other_messages_are_not_feedback(world: World) -> None:
    ts = answer(world, "Where are the API docs?", "At /docs on your instance.")
    react(world, ts, CUSTOMER, "eyes")
    question = world.customer_says("unrelated follow-up")["event"]["ts"]
    react(world, question, APPROVER, "+1")
    world.drain()
    assert counts(world, ts) == {"up": 0, "down": 0}


def test_a_thumbs_down_tells_the_approver_in_the_cards_thread_once(world: World) -> None:
    ts = answer(world, "Can we pay by bank transfer?", "Yes, ask us for an invoice.")
    react(world, ts, CUSTOMER, "-1")
    react(world, ts, CUSTOMER, "-1", added=False)
    react(world, ts, CUSTOMER, "-1")
    world.drain()
    card = world.cards()[-1]
    notes = [m for m in world.emu.messages(TRIAGE, thread_ts=card["ts"]) if m["ts"] != card["ts"]]
    assert len(notes) == 1
    assert f"<@{APPROVER}>" in notes[0]["text"] and f"<@{CUSTOMER}>" in notes[0]["text"]


def test_the_next_similar_draft_grounds_on_the_liked_answer_not_the_disliked_one(
    database_url: str, redis_url: str, model: OpenAIServer
) -> None:
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        grouping_minutes=0,
        openai_api_key="sk-test-key",
        openai_base_url=model.base_url,
    ) as world:
        disliked = answer(
            world,
            "How do we rotate the webhook signing secret?",
            "DISLIKED: delete the webhook and create it again.",
        )
        liked = answer(
            world,
            "How can we rotate our webhook signing secret?",
            "LIKED: Settings > Webhooks > Rotate secret; the old one works 24 h.",
        )
        react(world, disliked, CUSTOMER, "-1")
        react(world, liked, CUSTOMER, "+1")
        world.drain()
        world.customer_says("what's the way to rotate the webhook signing secret?")
        world.drain()
        drafts = [
            r
            for r in model.requests()
            if r["response_format"]["json_schema"]["name"] == "TriagedDraft"
        ]
        prompt = json.dumps(drafts[-1]["messages"], ensure_ascii=False)
        assert "LIKED: Settings > Webhooks" in prompt and "DISLIKED" not in prompt
        assert "people gave it a 👍" in prompt
        # Before the thumbs, both answers grounded the second question's draft: the 👎 is
        # what removed one.
        assert "DISLIKED" in json.dumps(drafts[1]["messages"])
