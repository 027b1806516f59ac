"""Long customer messages get a card too: cut for display within Slack's Block Kit limits,
never lost (the stored request keeps the whole text, the card links to the original)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Request
from sandbox.slack_emulator import SlackEmulator
from tests.harness import TRIAGE, World
from workers.blocks.card import CardView, build_approval_card
from workers.blocks.escalation import EscalationView, build_escalation_post

LONG = " ".join(f"word{n % 97}" for n in range(6000))[:40_000]  # 40,000 characters, no newline


@pytest.fixture
def client() -> Iterator[WebClient]:
    """The real slack_sdk client against a bare emulator with one channel."""
    with SlackEmulator() as emu:
        emu.add_channel("C0LIMITS", "limits")
        yield WebClient(token=emu.bot_token, base_url=emu.api_url)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_the_emulator_refuses_blocks_over_slacks_limits_like_slack(client: WebClient) -> None:
    channel = "C0LIMITS"
    client.chat_postMessage(channel=channel, text="ok", blocks=[_section("x" * 3000)])
    too_long = [
        [_section("x" * 3001)],
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}],
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
        [_section("x")] * 51,
    ]
    for blocks in too_long:
        with pytest.raises(SlackApiError) as error:
            client.chat_postMessage(channel=channel, text="ok", blocks=blocks)
        assert error.value.response["error"] == "invalid_blocks"
        assert error.value.response["response_metadata"]["messages"]
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel=channel, text="x" * 40_001)
    assert error.value.response["error"] == "msg_too_long"


def _within_limits(card: dict[str, Any]) -> None:
    assert len(card["blocks"]) <= 50 and len(card.get("text", "")) <= 40_000
    for block in card["blocks"]:
        texts = [block.get("text"), *(block.get("elements") or [])]
        for text in texts:
            if isinstance(text, dict) and "text" in text:
                assert len(text["text"]) <= 3000, block


def test_a_40000_character_message_gets_one_card_that_says_it_was_shortened(
    world: World,
) -> None:
    world.customer_says(LONG)
    world.drain()

    [card] = world.cards()
    _within_limits(card)
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    assert "shortened: 40,000 characters" in shown
    assert "View in channel" in shown  # the original, one click away
    assert LONG[:1000] in shown
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request)).one()
        assert request.text == LONG  # stored whole
    posts = [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == TRIAGE]
    assert len(posts) == 1


def test_a_message_of_many_short_lines_is_cut_too(world: World) -> None:
    """Quoting adds a `>` per line: 20,000 one-character lines are 40,000 quoted characters."""
    world.customer_says("\n".join("y" * 20_000))
    world.drain()
    [card] = world.cards()
    _within_limits(card)
    assert "shortened" in json.dumps(card["blocks"])


def test_the_escalation_post_of_a_long_message_stays_within_the_limits() -> None:
    post = build_escalation_post(
        EscalationView(
            request_id=7,
            channel_id="C0SHARED",
            customer_id="W0CUST",
            text=LONG,
            priority="P1",
            reason="r" * 5000,
            escalated_by="U0AM",
            number=1,
            summary="s" * 5000,
            permalink="https://example.slack.com/archives/C0SHARED/p1700000000000100",
        )
    )
    _within_limits(post)
    shown = json.dumps(post["blocks"])
    assert "shortened: 40,000 characters" in shown and "View in channel" in shown


def test_a_long_draft_is_shortened_on_the_card_and_kept_whole() -> None:
    draft = "Here is everything. " * 1000  # 20,000 characters
    card = CardView(
        request_id=1,
        channel_id="C0SHARED",
        customer_id="W0CUST",
        text="Tell me everything",
        state="open",
        draft_id=2,
        draft_text=draft,
        draft_status="pending",
    )
    blocks = [b.to_dict() for b in build_approval_card(card)]
    _within_limits({"blocks": blocks})
    shown = json.dumps(blocks)
    assert "shortened: 20,000 characters" in shown and "Approve posts all of it" in shown
    assert card.draft_text == draft
