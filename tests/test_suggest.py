"""Suggestions on the card and `pull_in` (SPEC §5.5, §5.6) through the real app: the card
names the colleagues with their reasons and a button each; a click mentions the colleague in
the card's thread exactly once; answers (in the thread, or approved drafts) are evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Evidence, OutboxMessage, Request
from tests.harness import (
    APPROVER,
    CUSTOMER,
    CUSTOMER_TEAM,
    ORG,
    SHARED,
    TRIAGE,
    World,
    wait_for,
)
from workers.backfill import backfill
from workers.ids import ActionId

EXPERT = "U0SAM"


def teach(world: World) -> None:
    """Sam answered three SAML questions in the customer channel last month; backfill it."""
    world.emu.add_user(EXPERT, team_id=ORG, name="sam", real_name="Sam", tz="Europe/London")
    start = datetime.now(UTC) - timedelta(days=30)
    for i, question in enumerate(
        [
            "SAML login through Okta fails with an invalid signature",
            "Do we need to upload the new Okta SAML signing certificate?",
            "SAML users loop back to the Okta login page",
        ]
    ):
        at = (start + timedelta(days=i)).timestamp()
        parent = world.emu.post_as_user(SHARED, CUSTOMER, question, ts=f"{at:.6f}")
        answer = world.emu.post_as_user(
            SHARED,
            EXPERT,
            "Upload the rotated certificate under Settings → SSO, then test the SAML login.",
            thread_ts=parent["ts"],
            ts=f"{at + 60:.6f}",
        )
        world.emu.add_reaction(SHARED, answer["ts"], "+1", CUSTOMER)
    assert backfill(world.deps, days=45, channel=SHARED).learned == 3


def people_blocks(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in card["blocks"] if str(b.get("block_id", "")).startswith("pull_in:")]


def test_the_card_suggests_the_expert_and_pull_in_mentions_them_once(world: World) -> None:
    teach(world)
    world.customer_says("Our SAML login with Okta broke after we rotated the certificate")
    world.drain()
    card = world.cards()[0]
    blocks = people_blocks(card)
    assert blocks[0]["block_id"].startswith("pull_in:") and blocks[0]["block_id"].endswith(EXPERT)
    assert blocks[0]["text"]["text"].startswith(
        f"<@{EXPERT}> · answered 3 similar questions about SAML"
    )
    assert "(3 👍) · online ·" in blocks[0]["text"]["text"]
    assert blocks[0]["accessory"]["action_id"] == ActionId.PULL_IN
    assert blocks[0]["accessory"]["value"] == EXPERT
    assert CUSTOMER not in {b["accessory"]["value"] for b in blocks}

    for _ in range(2):  # a double click
        status, _ = world.click(ActionId.PULL_IN, card)
        assert status == 200
    world.drain()
    thread = world.emu.messages(TRIAGE, thread_ts=card["ts"])[1:]
    mentions = [m for m in thread if f"<@{EXPERT}>" in m.get("text", "")]
    assert len(mentions) == 1
    assert f"<@{APPROVER}> is pulling you in on request #" in mentions[0]["text"]
    assert ">Our SAML login with Okta broke" in mentions[0]["text"]
    told = wait_for(
        lambda: [p for p in world.emu.response_url_posts() if "already" in p["body"]["text"]]
    )
    assert len(told) == 1

    # Sam answers in the customer's thread: the pull-in becomes evidence of an answer.
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request)).one()
        request_ts = request.ts
    world.customer_says(
        "Re-upload the certificate in SSO settings and it works again.",
        user=EXPERT,
        team=ORG,
        thread_ts=request_ts,
    )
    with transaction(world.deps.sessions) as session:
        evidence = session.scalars(
            select(Evidence).where(Evidence.source_key == f"request:{request.id}")
        ).one()
        assert (evidence.user_id, evidence.kind, evidence.answered) == (EXPERT, "reply", True)
        assert evidence.pulled_in_by == APPROVER
        assert "Re-upload the certificate" in evidence.answer


def test_an_outsider_cannot_pull_anyone_in(world: World) -> None:
    teach(world)
    world.customer_says("SAML login with Okta fails with an invalid signature again")
    world.drain()
    card = world.cards()[0]
    status, _ = world.click(ActionId.PULL_IN, card, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert status == 200
    wait_for(lambda: [p for p in world.emu.response_url_posts() if "Only people" in str(p)])
    with transaction(world.deps.sessions) as session:
        assert (
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "pull_in")).all()
            == []
        )
        assert session.scalars(select(Evidence).where(Evidence.kind == "pull_in")).all() == []


def test_an_approved_reply_is_evidence_of_the_approver(world: World) -> None:
    world.customer_says("How do we export the audit log to our SIEM?")
    world.drain()
    status, _ = world.click(ActionId.APPROVE_DRAFT, world.cards()[0])
    assert status == 200
    world.drain()
    with transaction(world.deps.sessions) as session:
        evidence = session.scalars(select(Evidence)).one()
        assert (evidence.user_id, evidence.kind) == (APPROVER, "approval")
        assert evidence.draft_id is not None and "audit log" in evidence.question
        assert evidence.answer


def test_a_card_without_suggestions_says_why(world: World) -> None:
    world.customer_says("Something nobody ever asked about before: does the zebra quantum work?")
    world.drain()
    card = world.cards()[0]
    line = next(
        e["text"]
        for b in card["blocks"]
        for e in b.get("elements", [])
        if "Suggested colleagues" in e.get("text", "")
    )
    assert "none (nobody has answered a similar question yet" in line
    assert people_blocks(card) == []


@pytest.mark.parametrize("in_customer_thread", [False, True])
def test_pull_in_tells_the_customer_only_when_configured(
    world: World, in_customer_thread: bool
) -> None:
    world.settings.pull_in_in_customer_thread = in_customer_thread  # PULL_IN_IN_CUSTOMER_THREAD
    teach(world)
    asked = world.customer_says("Our SAML login with Okta broke after we rotated the certificate")
    world.drain()
    world.click(ActionId.PULL_IN, world.cards()[0])
    world.click(ActionId.PULL_IN, world.cards()[0])  # a double click: still once
    world.drain()
    told = [m for m in world.replies_in(asked["event"]["ts"]) if f"<@{EXPERT}>" in m["text"]]
    assert len(told) == (1 if in_customer_thread else 0)
    if told:  # one line; the card's context stays internal
        assert told[0]["text"] == f"<@{EXPERT}> is joining this thread to help."
