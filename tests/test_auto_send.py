"""Answers that send themselves (SPEC §6.7), through the real app, workers, Slack emulator and
local OpenAI server: every guard alone holds a draft for a person; the post says it is
automatic, is audited and counted; Undo, a 👎 and a follow-up hand the request back with its
clock running from the customer's first message; the kill switch stops what is queued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rich.console import Console
from rq import Queue
from sqlalchemy import select

from app.report_view import print_report
from integrations.queues import PIPELINE, PIPELINE_FIRST
from integrations.store.db import transaction
from integrations.store.incident_models import Incident, IncidentReport
from integrations.store.models import (
    AuditEntry,
    Draft,
    DraftStatus,
    Request,
    RequestMessage,
    RequestState,
    SlaClock,
)
from sandbox.openai_server import OpenAIServer, default_responder
from sandbox.slack_events import reaction_envelope
from tests.harness import (
    APPROVER,
    APPROVER_2,
    BOT_USER,
    CUSTOMER,
    INITECH,
    SHARED,
    World,
    model_world,
    start_world,
    wait_for,
)
from workers.ids import ActionId
from workers.metrics import DRAFTS
from workers.process import TriageWorker
from workers.report import build_report

ASKED = "How do I change the default currency on our workspace reports?"
ANSWER = "Go to Settings > Workspace > Currency, pick EUR and save; reports follow from then on."
AGAIN = "how can we change the default currency on the workspace reports?"


class Responder:
    """The local model's usual answers, with `override` laid over the triage and draft."""

    def __init__(self) -> None:
        self.override: dict[str, Any] = {}

    def __call__(self, schema: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = default_responder(schema, body)
        return {**answer, **self.override} if schema == "TriagedDraft" else answer


@pytest.fixture
def responder() -> Responder:
    return Responder()


@contextmanager
def _auto_world(
    database_url: str, redis_url: str, responder: Responder
) -> Iterator[tuple[World, OpenAIServer]]:
    """Drafts from the local model; AUTO_SEND names Globex's and Initech's channels."""
    with (
        OpenAIServer(responder) as model,
        model_world(
            database_url,
            redis_url,
            model.base_url,
            grouping_minutes=0,
            auto_send=f"channel:{SHARED},channel:{INITECH}",
            support_leads=APPROVER,
        ) as world,
    ):
        yield world, model


@pytest.fixture
def world(database_url: str, redis_url: str, responder: Responder) -> Iterator[World]:
    with _auto_world(database_url, redis_url, responder) as (w, _):
        _approved_before(w)
        yield w


def _approved_before(world: World, channel: str = SHARED, answer: str = ANSWER) -> None:
    """The account's history: a person approved `answer` to ASKED."""
    asked = world.customer_says(ASKED) if channel == SHARED else world.initech_says(ASKED)
    world.drain()
    card = world.cards()[-1]
    world.click(ActionId.EDIT_DRAFT, card)
    world.submit_view(world.emu.views()[-1]["view"], {"draft_text": {"draft_text_input": answer}})
    world.drain()
    assert world.replies_in(asked["event"]["ts"], channel=channel)


def _ask(world: World, text: str = AGAIN, **kwargs: Any) -> tuple[str, Request, Draft]:
    """The customer writes; once the workers are done: its thread, its request, its draft."""
    asked = world.customer_says(text, **kwargs)
    world.drain()
    with transaction(world.deps.sessions) as session:
        found = select(RequestMessage.request_id).where(RequestMessage.ts == asked["event"]["ts"])
        request = session.get_one(Request, session.scalars(found).one())
        ts = request.thread_ts  # where its answers go
        draft = request.current_draft
        assert draft is not None
        session.expunge_all()
    return ts, request, draft


def _auto_sent(world: World, ts: str, draft: Draft) -> bool:
    replies = [r for r in world.replies_in(ts) if "sent automatically" in r["text"]]
    assert (draft.status == DraftStatus.AUTO_SENT) == bool(replies), (draft.status, replies)
    return draft.status == DraftStatus.AUTO_SENT


def test_every_guard_alone_keeps_the_draft_for_a_person(world: World, responder: Responder) -> None:
    ts, _, draft = _ask(world)
    assert _auto_sent(world, ts, draft)  # all hold: it goes (so each case below is alone)

    cases: list[tuple[str, dict[str, Any]]] = [
        ("category", {"category": "billing"}),
        ("urgency", {"urgency": "high"}),
        ("confidence", {"confidence": 0.79}),
        ("an expert", {"needs_expert": True}),
        ("a check", {"reply": ANSWER + " See https://evil.example/phish"}),
        ("no grounding", {"sources": []}),
    ]
    for name, override in cases:
        responder.override = override
        ts, request, draft = _ask(world)
        assert draft.status == DraftStatus.PENDING, name
        assert not _auto_sent(world, ts, draft), name
        assert request.state == RequestState.OPEN, name
    responder.override = {}

    # More words on a request whose card showed its draft to a person already.
    ts, _, draft = _ask(world, thread_ts=ts)
    assert draft.status == DraftStatus.PENDING and not world.replies_in(ts)

    # Written in the thread of an answer a person approved: a conversation with a person.
    with transaction(world.deps.sessions) as session:
        first = session.scalars(select(Request.ts).order_by(Request.id)).first()
    assert first is not None
    before = len(world.replies_in(first))
    ts, request, draft = _ask(world, thread_ts=first)
    assert request.thread_ts == first and draft.status == DraftStatus.PENDING
    assert len(world.replies_in(first)) == before

    # AUTO_SEND names neither this channel nor its tier.
    asked = world.customer_says(AGAIN, channel=INITECH)
    world.drain()
    assert not world.replies_in(asked["event"]["ts"], channel=INITECH)

    # The account is part of an open incident.
    with transaction(world.deps.sessions) as session:
        now = datetime.now(UTC)
        incident = Incident(first_report_at=now, last_report_at=now, deadline_at=now)
        session.add(incident)
        session.flush()
        first = session.scalars(select(Request).order_by(Request.id)).first()
        assert first is not None and first.account_key
        session.add(
            IncidentReport(
                incident_id=incident.id, request_id=first.id, account_key=first.account_key
            )
        )
    ts, _, draft = _ask(world)
    assert draft.status == DraftStatus.PENDING


def test_switched_off_nothing_goes_and_the_switch_is_for_leads(world: World) -> None:
    assert "Only support leads" in _command(world, "off", user=APPROVER_2)
    assert "*off*" in _command(world, "off")
    ts, _, draft = _ask(world)
    assert draft.status == DraftStatus.PENDING and not world.replies_in(ts)
    assert "switch: *off*" in _command(world, "status", user=APPROVER_2)
    assert "*on*" in _command(world, "on")
    ts, _, draft = _ask(world)
    assert _auto_sent(world, ts, draft)


def test_the_kill_switch_stops_an_answer_already_queued(world: World) -> None:
    asked = world.customer_says(AGAIN)
    _run_pipeline_only(world)  # decided and queued; its delivery job still waits
    with transaction(world.deps.sessions) as session:
        assert session.scalars(select(Draft.status).order_by(Draft.id.desc())).first() == (
            DraftStatus.AUTO_SENT
        )
    assert "*off*" in _command(world, "off")
    world.drain()
    ts = asked["event"]["ts"]
    assert world.replies_in(ts) == []
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request).where(Request.ts == ts)).one()
        draft = request.current_draft
        assert draft is not None and draft.status == DraftStatus.PENDING
        assert request.state == RequestState.OPEN
    assert "Handed to a person" in json.dumps(world.cards()[-1]["blocks"])


def test_the_post_says_it_is_automatic_and_is_audited_counted_and_clocked(world: World) -> None:
    before = DRAFTS.labels(outcome="auto_sent")._value.get()
    ts, request, draft = _ask(world)
    [reply] = world.replies_in(ts)
    assert reply["text"].startswith(ANSWER[:20]) or ANSWER[:20] in reply["text"]
    assert "Reply here and a person" in reply["text"]
    assert DRAFTS.labels(outcome="auto_sent")._value.get() == before + 1
    assert request.state == RequestState.ANSWERED
    card = world.cards()[-1]
    blocks = json.dumps(card["blocks"])
    assert "Sent automatically" in blocks and ActionId.UNDO_AUTO_SEND in blocks
    assert ActionId.APPROVE_DRAFT not in blocks
    with transaction(world.deps.sessions) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.request_id == request.id)
        ).all()
        clock = session.scalars(select(SlaClock).where(SlaClock.request_id == request.id)).one()
        assert clock.stopped_by == "auto-send"
    assert "draft.auto_sent" in actions and "reply.posted" in actions
    assert _counted(world) == (1, 0)  # in `triage report` and App Home's week
    # A person's click on the automatic answer's draft sends nothing more.
    world.click(ActionId.APPROVE_DRAFT, {**card, "blocks": _with_approve(card, draft.id)})
    world.drain()
    assert len(world.replies_in(ts)) == 1


def test_undo_deletes_the_post_and_hands_the_request_back(world: World) -> None:
    ts, request, draft = _ask(world)
    assert len(world.replies_in(ts)) == 1
    status, _ = world.click(ActionId.UNDO_AUTO_SEND, _card_of(world, draft.id))
    assert status == 200
    world.drain()
    assert world.replies_in(ts) == []  # deleted from the customer's thread
    _assert_handed_back(world, request.id, "undone by")
    card = _card_of(world, draft.id)
    assert "was deleted" in json.dumps(card["blocks"])
    assert _counted(world) == (0, 1)
    # A second Undo changes nothing; the person then approves: one reply, theirs.
    world.click(ActionId.UNDO_AUTO_SEND, card)
    world.click(ActionId.APPROVE_DRAFT, card)
    world.drain()
    [reply] = world.replies_in(ts)
    assert "sent automatically" not in reply["text"]


def test_a_thumbs_down_hands_it_back_and_the_answer_stays(world: World) -> None:
    ts, request, _draft = _ask(world)
    [reply] = world.replies_in(ts)
    world.emu.add_reaction(SHARED, reply["ts"], "-1", CUSTOMER)
    context = world.emu.event_context(SHARED)
    body = reaction_envelope(CUSTOMER, "-1", ts=reply["ts"], item_user=BOT_USER, **context)
    assert world.send(body)[0] == 200
    world.drain()
    _assert_handed_back(world, request.id, "a 👎")
    assert len(world.replies_in(ts)) == 1


def test_a_follow_up_hands_it_back_and_it_is_never_sent_by_itself_again(world: World) -> None:
    ts, request, _draft = _ask(world)
    world.customer_says("that didn't help, the currency menu is greyed out", thread_ts=ts)
    world.drain()
    _assert_handed_back(world, request.id, "wrote again")
    with transaction(world.deps.sessions) as session:
        again = session.get_one(Request, request.id)
        assert again.revision == 2 and again.current_draft is not None
        assert again.current_draft.status == DraftStatus.PENDING  # redrafted, for a person
    assert len(world.replies_in(ts)) == 1  # the automatic answer, nothing more


def test_another_accounts_answer_never_goes_out_by_itself(
    database_url: str, redis_url: str, responder: Responder
) -> None:
    canary = "CANARY-7f3 Initech only: ask Milton in finance to flip the currency flag."
    with _auto_world(database_url, redis_url, responder) as (world, model):
        _approved_before(world, INITECH, canary)  # Initech's answer to the same question
        before = len(model.requests())
        ts, _, draft = _ask(world)  # Globex asks it, with no answer of its own yet
        assert draft.status == DraftStatus.PENDING  # nothing of its own to ground it
        _approved_before(world)  # Amy answers Globex
        ts, _, draft = _ask(world)  # and Globex asks again: its own answer goes
        assert _auto_sent(world, ts, draft)
        [reply] = world.replies_in(ts)
        assert ANSWER in reply["text"] and "CANARY" not in reply["text"]
        assert "CANARY" not in json.dumps(model.requests()[before:])


def test_offline_only_an_approved_answer_to_the_same_question_goes(
    database_url: str, redis_url: str
) -> None:
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        grouping_minutes=0,
        auto_send=f"channel:{SHARED}",
    ) as world:
        _approved_before(world)
        ts, _, draft = _ask(world, "The webhook signature check fails, what key do we use?")
        assert draft.source == "offline" and draft.status == DraftStatus.PENDING  # no reuse
        assert world.replies_in(ts) == []
        ts, _, draft = _ask(world)  # the same question: Amy's answer, reused word for word
        assert draft.source == "offline" and _auto_sent(world, ts, draft)
        [reply] = world.replies_in(ts)
        assert ANSWER in reply["text"]


# --- helpers ------------------------------------------------------------------------------------
def _counted(world: World) -> tuple[int, int]:
    """The team's automatic answers standing and handed back, as `triage report` and App
    Home's week count them; the report shows its column only when there are some."""
    with transaction(world.deps.sessions) as session:
        report = build_report(session, since=datetime.now(UTC) - timedelta(days=1))
    console = Console(width=200, record=True)
    print_report(report, console)
    team = report.team
    assert ("auto" in console.export_text()) == bool(team.auto_sent or team.handed_back)
    return team.auto_sent, team.handed_back


def _assert_handed_back(world: World, request_id: int, why: str) -> None:
    def settled() -> bool:
        with transaction(world.deps.sessions) as session:
            request = session.get_one(Request, request_id)
            return request.state == RequestState.OPEN

    wait_for(settled)
    with transaction(world.deps.sessions) as session:
        request = session.get_one(Request, request_id)
        draft = next(d for d in request.drafts if d.details and d.details.get("auto_sent"))
        assert why in (draft.details or {})["auto_sent"]["handed_back"]
        clock = session.scalars(select(SlaClock).where(SlaClock.request_id == request_id)).one()
        assert clock.stopped_at is None  # running again, from the customer's first message
        assert clock.started_at == request.created_at
    blocks = json.dumps(_card_of(world, draft.id)["blocks"])
    assert "Handed to a person" in blocks


def _card_of(world: World, draft_id: int) -> dict[str, Any]:
    for card in reversed(world.cards()):
        if str(draft_id) in json.dumps(card["blocks"]):
            return card
    raise AssertionError(f"no card for draft {draft_id}")


def _with_approve(card: dict[str, Any], draft_id: int) -> list[dict[str, Any]]:
    """The card's blocks with an Approve button on the automatic answer's draft, as a stale
    copy of the card (from before it was sent) would carry."""
    button = {"type": "button", "action_id": ActionId.APPROVE_DRAFT, "value": str(draft_id)}
    return [*card["blocks"], {"type": "actions", "block_id": "stale", "elements": [button]}]


def _command(world: World, text: str, *, user: str = APPROVER) -> str:
    body, name = world.emu.slash_command("/triage", f"auto-send {text}", user=user, channel=SHARED)
    assert world.send(body)[0] == 200
    [answer] = wait_for(lambda: world.emu.responses(name))
    return str(answer["text"])


def _run_pipeline_only(world: World) -> None:
    world.deps.queues.wait_handed_off()
    connection = Redis.from_url(world.settings.redis_url)
    queues = [Queue(name, connection=connection) for name in (PIPELINE_FIRST, PIPELINE)]
    TriageWorker(queues, connection=connection, deps=world.deps).work(
        burst=True, logging_level="WARNING"
    )
    connection.close()
