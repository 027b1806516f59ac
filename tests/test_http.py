"""The HTTP edge: signatures, malformed bodies, health and metrics."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Request
from sandbox.slack_events import deliver
from tests.harness import SECRET, World


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_bad_signature_and_stale_timestamp_are_401_and_do_nothing(world: World) -> None:
    message = world.emu.post_as_user("C0GLOBEX", "U0CUSTOMER", "Is this thing on?")
    body = world.envelope(message)
    assert deliver(f"{world.url}/slack/events", body, "wrong-secret")[0] == 401
    stale = int(time.time()) - 6 * 60
    assert deliver(f"{world.url}/slack/events", body, SECRET, timestamp=stale)[0] == 401
    world.drain()
    assert world.cards() == []
    # The same body, signed properly, is accepted: the refusals above were about the signature.
    assert world.send(body)[0] == 200


def _post(url: str, raw: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize(
    "headers",
    [
        {},  # `curl -X POST /slack/events`: no timestamp, no signature
        {"X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "NaN", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": " 1e9", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=\xe9"},
    ],
)
def test_missing_or_unreadable_signature_headers_are_401_not_a_crash(
    world: World, headers: dict[str, str]
) -> None:
    body = json.dumps(world.envelope(world.emu.post_as_user("C0GLOBEX", "U0CUSTOMER", "Hi?")))
    url = f"{world.url}/slack/events"
    assert _post(url, body.encode(), {"Content-Type": "application/json", **headers}) == 401
    world.drain()
    assert world.cards() == []


@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b'{"type": "event_callback", "event": "x"}', "application/json"),
        (b'{"type": "event_callback", "event": {"type": 7}}', "application/json"),
        (
            b'{"type": "event_callback", "team_id": "T1", "event": {"user": "U1"}}',
            "application/json",
        ),
        (b'{"type": "event_callback"}', "application/json"),
    ],
)
def test_validly_signed_malformed_bodies_get_400_and_the_server_keeps_serving(
    world: World, raw: bytes, content_type: str
) -> None:
    status, _ = world.send(raw, content_type=content_type)
    assert status == 400
    world.customer_says("Still there after that?")  # asserts a 200
    world.drain()
    assert len(world.cards()) == 1


def test_url_verification_answers_the_challenge(world: World) -> None:
    status, answer = world.send({"token": "t", "challenge": "c-123", "type": "url_verification"})
    assert status == 200 and b"c-123" in answer


def test_healthz_and_metrics(world: World) -> None:
    status, body = _get(f"{world.url}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok", "redis": "ok"}
    world.customer_says("Metrics please?")
    status, body = _get(f"{world.url}/metrics")
    assert status == 200
    text = body.decode()
    assert 'triage_events_total{kind="customer"}' in text
    assert "triage_ack_seconds_bucket" in text


def test_a_message_with_a_nul_character_is_stored_marked_and_carded(world: World) -> None:
    """PostgreSQL cannot store NUL: without `storable()` ingest raised DataError, the event
    got a 500 and Slack would retry it forever. Now the NUL becomes U+FFFD, once."""
    body = world.customer_says("Export fails on row 12\x00 of the CSV")  # asserts a 200
    world.drain()
    [card] = world.cards()
    with transaction(world.deps.sessions) as session:
        [request] = session.scalars(select(Request)).all()
        assert request.text == "Export fails on row 12\ufffd of the CSV"
        assert request.ts == body["event"]["ts"]
    assert "row 12" in json.dumps(card["blocks"])
