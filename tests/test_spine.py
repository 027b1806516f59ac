"""The spine end to end: a customer's message → request, 👀, card → approval → one reply."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from integrations.store.audit import fingerprint
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Request, RequestState, SlackEvent
from sandbox.slack_events import (
    bot_message_envelope,
    channel_join_envelope,
    message_changed_envelope,
)
from tests.harness import (
    APPROVER,
    APPROVER_2,
    BOT_USER,
    CUSTOMER,
    CUSTOMER_TEAM,
    INTERNAL,
    ORG,
    OUTSIDER,
    SHARED,
    World,
    wait_for,
)
from workers.ids import ActionId

BUTTONS = {"approve_draft", "edit_draft", "regenerate_draft", "reject_draft"}
#: The envelope keywords of what the customer's people do in their shared channel.
IN_SHARED = dict(
    channel=SHARED,
    installed_team_id=ORG,
    bot_user_id=BOT_USER,
    is_ext_shared_channel=True,
    author_team_id=CUSTOMER_TEAM,
)


def _count(world: World, model: type) -> int:
    with transaction(world.deps.sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _action_ids(card: dict) -> set[str]:
    return {
        e["action_id"]
        for b in card.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_customer_message_becomes_one_request_a_reaction_and_a_card(world: World) -> None:
    body = world.customer_says("Hi! How do I rotate our API key without downtime?")
    world.drain()

    assert _count(world, Request) == 1
    ts = body["event"]["ts"]
    assert world.emu.reactions(SHARED, ts).get("eyes") == [BOT_USER]
    [card] = world.cards()
    assert _action_ids(card) >= BUTTONS
    text = json.dumps(card["blocks"])
    assert "rotate our API key" in text
    assert "Offline draft" in text  # the card says how the draft was made
    assert "unavailable" in text  # ...and that context and suggestions are missing, and why


def test_messages_that_are_not_customer_requests_get_no_card(world: World) -> None:
    # Internal person in the shared channel, a message in an internal channel, a bot, a join,
    # an edit of a message with no request: none is a request.
    world.customer_says("I'll take this one", user=APPROVER, team=ORG)
    world.customer_says(
        "Anyone know the Globex renewal date?",
        channel=INTERNAL,
        user=APPROVER,
        team=ORG,
        shared=False,
    )
    world.customer_says(
        "Question from a customer of a non-shared channel?", channel=INTERNAL, shared=False
    )
    bot = world.emu.post_as_user(SHARED, APPROVER, "beep")
    bot_body = bot_message_envelope(
        {**bot, "bot_id": "B0OTHER"},
        channel=SHARED,
        installed_team_id=ORG,
        bot_user_id=BOT_USER,
        is_ext_shared_channel=True,
    )
    assert world.send(bot_body)[0] == 200
    join = channel_join_envelope(user=OUTSIDER, **IN_SHARED)
    assert world.send(join)[0] == 200
    stray = world.emu.post_as_user(SHARED, CUSTOMER, "old message")
    edit = message_changed_envelope({**stray, "text": "old message, edited"}, stray, **IN_SHARED)
    assert world.send(edit)[0] == 200
    world.drain()
    assert world.cards() == []
    assert _count(world, Request) == 0

    # The same setup does produce a card for a customer's question: the checks above can fail.
    world.customer_says("Is the EU region affected by today's maintenance?")
    world.drain()
    assert len(world.cards()) == 1


def test_slack_retries_of_one_event_make_one_request_and_one_card(world: World) -> None:
    body = world.customer_says("Our exports are failing with error 502")
    for retry in (1, 2, 3):
        status, _ = world.send(body, retry_num=retry)
        assert status == 200
    world.drain()
    assert _count(world, Request) == 1
    assert len(world.cards()) == 1
    with transaction(world.deps.sessions) as session:
        assert session.scalar(select(func.count()).select_from(SlackEvent)) == 1


def test_the_same_message_under_a_new_event_id_is_still_one_request(world: World) -> None:
    body = world.customer_says("Can we add two more seats?")
    again = dict(body, event_id="EvDIFFERENT01")
    assert world.send(again)[0] == 200
    world.drain()
    assert _count(world, Request) == 1
    assert len(world.cards()) == 1


def test_approve_posts_the_draft_in_the_thread_once_however_often_clicked(world: World) -> None:
    body = world.customer_says("How do I export last month's invoices?")
    world.drain()
    [card] = world.cards()
    for _ in range(3):
        assert world.click(ActionId.APPROVE_DRAFT, card)[0] == 200
    world.drain()
    replies = world.replies_in(body["event"]["ts"])
    assert len(replies) == 1
    assert replies[0]["text"].startswith(f"Hi <@{CUSTOMER}>")
    [card] = world.cards()
    assert "Approved" in json.dumps(card["blocks"]) and not _action_ids(card) & BUTTONS
    assert world.emu.reactions(SHARED, body["event"]["ts"]).get("white_check_mark")
    with transaction(world.deps.sessions) as session:
        assert session.scalars(select(Request)).one().state == RequestState.ANSWERED
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("draft.approved") == 1 and actions.count("reply.posted") == 1


def test_two_approvers_at_once_make_exactly_one_reply(world: World) -> None:
    body = world.customer_says("Is SSO available on our plan?")
    world.drain()
    [card] = world.cards()
    with ThreadPoolExecutor(max_workers=8) as pool:
        clicks = [
            pool.submit(world.click, ActionId.APPROVE_DRAFT, card, user=user)
            for user in [APPROVER, APPROVER_2] * 4
        ]
        assert all(c.result()[0] == 200 for c in clicks)
    world.drain()
    assert len(world.replies_in(body["event"]["ts"])) == 1
    told = [p for p in world.emu.response_url_posts() if "already" in p["body"].get("text", "")]
    assert len(told) == 7  # everyone who lost the race is told nothing was sent


def test_a_click_from_the_customers_org_is_refused_and_posts_nothing(world: World) -> None:
    body = world.customer_says("Can you approve this for me?")
    world.drain()
    [card] = world.cards()
    status, _ = world.click(ActionId.APPROVE_DRAFT, card, user=OUTSIDER, team=CUSTOMER_TEAM)
    assert status == 200
    world.drain()
    assert world.replies_in(body["event"]["ts"]) == []
    [refusal] = world.emu.response_url_posts()
    assert "Only people of the organisation" in refusal["body"]["text"]
    with transaction(world.deps.sessions) as session:
        assert session.scalars(select(AuditEntry.action)).all() == ["action.refused"]


def test_reject_closes_the_draft_without_posting(world: World) -> None:
    body = world.customer_says("Please delete all our data")
    world.drain()
    [card] = world.cards()
    world.click(ActionId.REJECT_DRAFT, card)
    [opened] = [v for v in world.emu.views() if v["view"].get("callback_id") == "reject_draft"]
    reason = "Needs legal review first"
    status, _ = world.submit_view(
        opened["view"], {"reject_reason": {"reject_reason_input": reason}}
    )
    assert status == 200
    world.drain()
    assert world.replies_in(body["event"]["ts"]) == []
    [card] = world.cards()
    assert "Rejected" in json.dumps(card["blocks"]) and reason in json.dumps(card["blocks"])
    with transaction(world.deps.sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "draft.rejected"))
        assert entry.one().detail == fingerprint(reason=reason)  # the text is on the draft
    world.click(ActionId.APPROVE_DRAFT, card)  # an old card's button after the decision
    world.drain()
    assert world.replies_in(body["event"]["ts"]) == []


def test_edit_opens_a_prefilled_modal_and_posts_the_edited_text(world: World) -> None:
    body = world.customer_says("What's the rate limit on the bulk API?")
    world.drain()
    [card] = world.cards()
    world.click(ActionId.EDIT_DRAFT, card)
    [opened] = [v for v in world.emu.views() if v["view"].get("callback_id") == "edit_draft"]
    view = opened["view"]
    assert view["blocks"][0]["element"]["initial_value"].startswith(f"Hi <@{CUSTOMER}>")
    edited = "Hi Carol, it's 100 requests per minute per key."
    status, _ = world.submit_view(view, {"draft_text": {"draft_text_input": edited}})
    assert status == 200
    world.drain()
    [reply] = world.replies_in(body["event"]["ts"])
    assert reply["text"] == edited
    with transaction(world.deps.sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "draft.edited")).one()
        assert entry.detail["sent_sha256"] == fingerprint(sent=edited)["sent_sha256"]
        assert entry.detail["sent_length"] == len(edited) != entry.detail["original_length"]


def test_customer_follow_ups_join_the_open_request(world: World) -> None:
    first = world.customer_says("Our dashboard is slow")
    world.customer_says(
        "since this morning",
    )  # same person, within GROUPING_MINUTES
    world.customer_says("Any update?", thread_ts=first["event"]["ts"])
    world.drain()
    assert _count(world, Request) == 1
    [card] = world.cards()
    text = json.dumps(card["blocks"])
    assert "since this morning" in text and "Any update?" in text


def test_a_deleted_message_withdraws_its_card_and_its_text(world: World) -> None:
    from sandbox.slack_events import message_deleted_envelope

    body = world.customer_says("My password is hunter2, please reset it")
    world.drain()
    deleted = message_deleted_envelope(body["event"], **IN_SHARED)
    assert world.send(deleted)[0] == 200
    world.drain()
    [card] = world.cards()
    assert "Withdrawn" in json.dumps(card["blocks"]) and "hunter2" not in json.dumps(card)
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request)).one()
        assert request.state == RequestState.WITHDRAWN and "hunter2" not in request.text
        payloads = session.scalars(select(SlackEvent.payload)).all()
    assert "hunter2" not in json.dumps(payloads)
    world.click(ActionId.APPROVE_DRAFT, card)
    world.drain()
    assert world.replies_in(body["event"]["ts"]) == []


def test_card_arrives_within_seconds_with_a_separate_worker_process(world: World) -> None:
    world.start_worker()
    started = time.monotonic()
    world.customer_says("We can't log in with SAML since the update, urgent")
    wait_for(world.cards, timeout=20)
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed


def test_cards_are_never_posted_to_a_channel_shared_with_another_org(world: World) -> None:
    world.emu.add_channel(
        "C0SHAREDTRIAGE",
        "oops-shared",
        is_ext_shared=True,
        connected_team_ids=[ORG, CUSTOMER_TEAM],
        members=[BOT_USER, CUSTOMER],
    )
    world.settings.triage_channel = "C0SHAREDTRIAGE"
    world.customer_says("Internal notes must never reach me, right?")
    world.drain()
    assert world.emu.messages("C0SHAREDTRIAGE") == []
    with transaction(world.deps.sessions) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "card.failed"))
        assert entry.detail["error"] == "shared_channel_refused"


def test_a_colleagues_answer_in_the_thread_answers_the_request(world: World) -> None:
    body = world.customer_says("Can we get an invoice with our VAT number?")
    world.drain()
    ts = body["event"]["ts"]
    world.customer_says("Yes, I'll send it today.", user=APPROVER_2, team=ORG, thread_ts=ts)
    world.drain()
    [card] = world.cards()
    assert f"<@{APPROVER_2}> already answered" in json.dumps(card["blocks"])
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request)).one()
        assert (request.state, request.answered_by) == (RequestState.ANSWERED, APPROVER_2)
    assert world.emu.reactions(SHARED, ts).get("white_check_mark") == [BOT_USER]
    # The customer's next message in that thread is a new request, with its own card.
    world.customer_says("Thanks, and can it also show the PO number?", thread_ts=ts)
    world.drain()
    assert _count(world, Request) == 2
    assert len(world.cards()) == 2
