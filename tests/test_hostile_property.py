"""Generated hostile Slack requests, signed correctly, against the real app (issue 16).

Strategies (tests/hostile_payloads.py) start from Slack's sample payloads for every surface
the app listens on (the events it subscribes to, slash commands, clicks, modal submissions,
the message shortcut) and mutate them: fields dropped, wrongly typed, huge, nested deep,
unicode-hostile. Properties:

- no request gets a 5xx, and nothing is logged with a traceback, web or worker;
- nothing that is not a customer's message opens a request;
- a customer's message whose text is hostile is still carded, once;
- afterwards the app still serves an ordinary customer message and cards it once.

The pipeline runs in this process as the other tests run it (`World.drain`), and a job that
fails counts as a crash. Runs are short and derandomized for CI; bench/hostile.py runs 10,000.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from app.listeners.escalate import NOT_A_REQUEST
from integrations.queues import ALL_QUEUES
from integrations.store.db import transaction
from integrations.store.models import Request, SlackEvent
from sandbox.slack_interactivity import block_actions_body, form_body
from tests.harness import (
    APPROVER,
    CUSTOMER,
    CUSTOMER_TEAM,
    ORG,
    SHARED,
    TRIAGE,
    World,
    start_world,
    wait_for,
)
from tests.hostile_payloads import Base, encode, hostile_requests, hostile_text
from workers.ids import ActionId, CallbackId

CI = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),  # one world for all examples, on purpose
)
# Slack cuts a message at 40,000 characters; leave room for the words around the hostile part.
LONGEST_TEXT = 39_000


class Troubles(logging.Handler):
    """Every log record that is an error or carries a traceback, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture
def troubles() -> Iterator[list[logging.LogRecord]]:
    handler = Troubles()
    logging.getLogger().addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.getLogger().removeHandler(handler)


# Each customer message opens its own request (no grouping), so each gets its card; the app's
# Slack budget would pace the triage channel's cards at Slack's one a second, which this
# emulator does not enforce: a hundred cards would take a hundred seconds.
HOSTILE_WORLD: dict[str, Any] = {"grouping_minutes": 0, "slack_rate_scale": 50}


@pytest.fixture
def world(database_url: str, redis_url: str) -> Iterator[World]:
    with start_world(database_url=database_url, redis_url=redis_url, **HOSTILE_WORLD) as w:
        yield w


def send(world: World, base: Base, body: dict[str, Any]) -> int:
    raw, content_type = encode(base, body)
    status, answer = world.send(raw, content_type=content_type)
    assert status < 500, (base.name, status, answer[:300], raw[:600])
    return status


def requests_count(world: World) -> int:
    with transaction(world.deps.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(Request)) or 0)


def requests_at(world: World, ts: str) -> list[Request]:
    with transaction(world.deps.sessions) as session:
        found = session.scalars(
            select(Request).where(Request.channel_id == SHARED, Request.ts == ts)
        )
        return list(found)


def failed_jobs(world: World) -> list[str]:
    connection = Redis.from_url(world.settings.redis_url)
    try:
        return [
            job
            for name in ALL_QUEUES
            for job in FailedJobRegistry(name, connection=connection).get_job_ids()
        ]
    finally:
        connection.close()


def still_serving(world: World, troubles: list[logging.LogRecord]) -> None:
    """The app still acknowledges and cards an ordinary customer message, once; nothing
    before it failed in a job or logged a traceback."""
    world.drain()
    cards = len(world.cards())
    body = world.customer_says("After all that: our SSO login fails, can you help?")
    world.drain()
    assert len(world.cards()) == cards + 1
    assert len(requests_at(world, body["event"]["ts"])) == 1
    assert failed_jobs(world) == []
    assert [(r.name, r.getMessage()[:300]) for r in troubles] == []


def test_nothing_but_a_customer_message_opens_a_request_whatever_it_carries(
    world: World, troubles: list[logging.LogRecord]
) -> None:
    """Commands, clicks, submissions, shortcuts, reactions, bots', colleagues' and unshared
    channels' messages, mutated: a 4xx or a 200, never a 5xx, and never a request."""
    statuses: set[int] = set()

    @settings(CI, max_examples=200)
    @given(hostile_requests(world.emu.response_url("hostile"), customer=False))
    def one(case: tuple[Base, dict[str, Any]]) -> None:
        base, body = case
        statuses.add(send(world, base, body))
        assert requests_count(world) == 0, base.name

    one()
    world.drain()
    assert requests_count(world) == 0
    assert statuses <= {200, 400, 404, 413}, statuses
    still_serving(world, troubles)


@st.composite
def customer_words(draw: st.DrawFn) -> str:
    """A customer's question with something hostile in it: short, or up to Slack's limit."""
    hostile = draw(hostile_text)
    if draw(st.integers(0, 3)) == 0:  # one in four long: each takes the pipeline a second
        hostile = (hostile or "é") * (draw(st.integers(1_000, LONGEST_TEXT)) // len(hostile or "é"))
    return f"Our invoice export fails with this: {hostile[:LONGEST_TEXT]} Can you help?"


def test_a_customer_message_with_hostile_text_is_carded_once(
    world: World, troubles: list[logging.LogRecord]
) -> None:
    """NUL, lone surrogates, bidi and zero-width characters, tags, emoji, right-to-left text,
    Slack markup and 39,000 characters of it: stored, triaged, drafted and carded, once."""

    @settings(CI, max_examples=100)
    @given(customer_words())
    def one(words: str) -> None:
        cards = len(world.cards())
        body = world.customer_says(words)  # asserts a 200
        world.drain()
        [request] = requests_at(world, body["event"]["ts"])
        assert request.card_ts, request.stage
        assert len(world.cards()) == cards + 1

    one()
    still_serving(world, troubles)


def test_a_mutated_customer_message_never_breaks_the_app_or_its_workers(
    world: World, troubles: list[logging.LogRecord]
) -> None:
    """Slack's Slack Connect samples and our own customer envelope, mutated anywhere: never a
    5xx, never a failed job, at most one request for the message."""

    @settings(CI, max_examples=150)
    @given(hostile_requests(world.emu.response_url("hostile"), customer=True))
    def one(case: tuple[Base, dict[str, Any]]) -> None:
        base, body = case
        before = requests_count(world)
        send(world, base, body)
        world.drain()
        assert requests_count(world) - before <= 1
        assert failed_jobs(world) == [], base.name

    one()
    still_serving(world, troubles)


# --- what the generators found, kept as fixed cases ---------------------------------------------

CUSTOMER_EVENT = {"type": "message", "user": CUSTOMER, "text": "Is the export down?"}
TYPED_WRONG: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # (fields of the envelope, fields of its event) that ingest read as they came
    '"is_ext_shared_channel": "false" is not a false': ({"is_ext_shared_channel": "false"}, {}),
    "a user that is an object": ({}, {"user": {"id": CUSTOMER}}),
    "a channel id longer than the store holds": ({}, {"channel": "C" * 33}),
    "no ts": ({}, {"ts": None}),
    "text that is a number": ({}, {"text": 42}),
    "a team that is a list": ({}, {"user_team": [CUSTOMER_TEAM]}),
    "a file whose size is a string": ({}, {"files": [{"id": "F1", "size": "12"}]}),
    "an edit whose message is a string": ({}, {"subtype": "message_changed", "message": "x"}),
    "an event id longer than the store holds": ({"event_id": "Ev" * 40}, {}),
}


@pytest.mark.parametrize("case", list(TYPED_WRONG))
def test_a_customer_message_with_a_wrongly_typed_field_is_acked_logged_and_not_stored(
    world: World, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    """Before `payloads.MessageEnvelope`, each was a 500 (the store refused the value) or,
    for the string "false", a customer message in a channel that is not shared."""
    envelope_fields, event_fields = TYPED_WRONG[case]
    body = world.envelope(world.emu.post_as_user(SHARED, CUSTOMER, "Is the export down?"))
    body.update(envelope_fields)
    body["event"].update(event_fields)
    if body["event"]["ts"] is None:
        del body["event"]["ts"]
    with caplog.at_level(logging.INFO):
        assert world.send(body)[0] == 200
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert [m["payload"] for m in logged if m["event"] == "listener.bad_payload"] == [
        "MessageEnvelope"
    ]
    world.drain()
    assert requests_count(world) == 0 and world.cards() == []


@pytest.mark.parametrize(
    "event",
    [
        {"item": "x"},
        {"item": {"type": "message", "channel": SHARED, "ts": {"ts": "1.2"}}},
        {"user": ["U0AMY"]},
    ],
)
def test_a_reaction_with_a_wrongly_typed_field_is_acked_and_not_stored(
    world: World, troubles: list[logging.LogRecord], event: dict[str, Any]
) -> None:
    reaction = {"type": "reaction_added", "user": APPROVER, "reaction": "+1", **event}
    reaction.setdefault("item", {"type": "message", "channel": SHARED, "ts": "1.2"})
    body = {"type": "event_callback", "team_id": ORG, "event_id": "Ev0R", "event": reaction}
    assert world.send(body)[0] == 200
    with transaction(world.deps.sessions) as session:
        assert session.scalar(select(func.count()).select_from(SlackEvent)) == 0
    assert troubles == []


def test_a_lone_surrogate_is_stored_as_a_replacement_character_and_carded(world: World) -> None:
    """`"\\ud800"` is valid JSON but no text: PostgreSQL's encoder raised on it (a 500
    Slack retries). app/web.py mends it at the edge, as the store does NUL."""
    message = world.emu.post_as_user(SHARED, CUSTOMER, "Export fails on row \ud800 12")
    body = world.envelope(message)
    body["event"]["\udfffnote"] = {"\ud800": "\udbff"}  # keys are stored only as JSON
    raw = json.dumps(body)  # as a hostile client writes it: escaped
    assert "\\ud800" in raw
    assert world.send(raw.encode())[0] == 200
    world.drain()
    with transaction(world.deps.sessions) as session:
        [request] = session.scalars(select(Request).where(Request.ts == message["ts"])).all()
        assert request.text == "Export fails on row \ufffd 12" and request.card_ts


def test_numbers_json_does_not_have_are_refused(world: World) -> None:
    body = world.envelope(world.emu.post_as_user(SHARED, CUSTOMER, "Is NaN a number?"))
    body["event"]["score"] = float("nan")
    raw = json.dumps(body).encode()  # Python writes NaN; Slack never would
    assert b"NaN" in raw
    assert world.send(raw)[0] == 400
    assert requests_count(world) == 0


def test_a_lazy_listener_reads_the_mended_payload_too(
    database_url: str, redis_url: str, troubles: list[logging.LogRecord]
) -> None:
    """Bolt parses the raw body again for each lazy listener (the message shortcut's): it
    gets the mended text, not the lone surrogate its database query would raise on."""
    with start_world(database_url=database_url, redis_url=redis_url, support_leads=APPROVER) as w:
        payload = {
            "type": "message_action",
            "callback_id": CallbackId.ESCALATE_MESSAGE,
            "trigger_id": "1.2.shortcut",
            "response_url": w.emu.response_url("shortcut"),
            "team": {"id": ORG},
            "user": {"id": APPROVER, "team_id": ORG},
            "channel": {"id": SHARED},
            "message": {"type": "message", "user": CUSTOMER, "ts": "1.2\ud800"},
        }
        assert w.send(form_body(payload))[0] == 200
        [answer] = wait_for(lambda: w.emu.responses("shortcut"))
        assert answer["text"] == NOT_A_REQUEST
    assert troubles == []


def test_a_click_whose_response_url_is_no_url_is_acked_and_logged(
    world: World, troubles: list[logging.LogRecord]
) -> None:
    """Bolt's `respond` raised on it (a 500) when the clicker was told they may not click."""
    body = world.envelope(world.emu.post_as_user(SHARED, CUSTOMER, "Where is my invoice?"))
    assert world.send(body)[0] == 200
    world.drain()
    [card] = world.cards()
    for url in ["true", "", '{"": 1}', "hooks.slack.com/x", "https://hooks.slack.com/\u202ex"]:
        click = json.loads(parse_qs(world_click_body(world, card))["payload"][0])
        click["response_url"] = url
        assert world.send(form_body(click))[0] == 200
    assert troubles == []


def world_click_body(world: World, card: dict[str, Any]) -> str:
    """An outsider's click on the card's Approve button, as Slack sends it."""
    return block_actions_body(
        user_id=CUSTOMER,
        user_team_id=CUSTOMER_TEAM,
        team_id=CUSTOMER_TEAM,
        channel_id=TRIAGE,
        message_ts=card["ts"],
        message=card,
        action_id=ActionId.APPROVE_DRAFT,
        response_url=world.emu.response_url("click"),
    ).decode()


def test_a_user_id_longer_than_the_store_holds_decides_nothing(world: World) -> None:
    """It reached `drafts.decided_by` (32 characters) and failed there: a 500."""
    world.customer_says("Can I get a refund for last month?")
    world.drain()
    [card] = world.cards()
    assert world.click(ActionId.APPROVE_DRAFT, card, user="U" * 40)[0] == 200
    world.drain()
    with transaction(world.deps.sessions) as session:
        asked = str(session.scalar(select(Request.ts)))
    assert world.replies_in(asked) == []  # nothing was sent to the customer


def test_the_home_of_someone_slack_does_not_know_fails_no_job(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """views.publish answers user_not_found: the job logs it, and does not fail."""
    body = {
        "type": "event_callback",
        "team_id": ORG,
        "event_id": "Ev0HOME",
        "event": {"type": "app_home_opened", "user": "U0NOBODY", "tab": "home"},
    }
    with caplog.at_level(logging.INFO):
        assert world.send(body)[0] == 200
        world.drain()
    assert failed_jobs(world) == []
    assert [r.msg["event"] for r in caplog.records if isinstance(r.msg, dict)].count(
        "home.unpublished"
    ) == 1
