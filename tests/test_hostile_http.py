"""Hostile HTTP on every path (issue 16): oversized, wrongly typed, unsigned, replayed and
malformed requests get a 4xx and one `http.refused` (or `request.malformed`) log line, never a
5xx or a traceback, and the app keeps serving: a customer's message afterwards is carded once.

Requests go over a real socket (http.client) to the app of tests/harness.py, to the OAuth
app of tests/test_oauth.py, and once to `triage serve` itself (gunicorn), because how a body
that is never read ends depends on the server.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.main import create_app
from app.web import MAX_BODY_BYTES, MAX_DEPTH, create_web
from sandbox.slack_events import sign
from tests.harness import SECRET, World, wait_for
from tests.test_oauth import oauth_world
from tests.test_serve import serve

EVENTS = "/slack/events"


def call(
    world: World,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] = b"",
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> tuple[int, bytes]:
    """One request on a fresh connection: `body` bytes as they are, an iterable chunked (no
    Content-Length), or nothing but a `length` header announcing a body never sent."""
    where = urlsplit(world.url)
    connection = http.client.HTTPConnection(str(where.hostname), where.port, timeout=10)
    try:
        if length is not None:
            connection.putrequest(method, path)
            for name, value in {**(headers or {}), "Content-Length": str(length)}.items():
                connection.putheader(name, value)
            connection.endheaders()
        elif isinstance(body, bytes):
            connection.request(method, path, body=body, headers=headers or {})
        else:
            # The server may answer an oversized body before it all arrived, and close: its
            # answer is still there to read, as a client must.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.request(
                    method, path, body=body, headers=headers or {}, encode_chunked=True
                )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def raw_call(world: World, head: bytes) -> int:
    """The status of a request written byte for byte (http.client sends only ASCII paths)."""
    where = urlsplit(world.url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as connection:
        connection.sendall(head + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = connection.makefile("rb").readline()
    return int(answer.split()[1])


def signed(raw: bytes, content_type: str = "application/json", **sign_args: Any) -> dict[str, str]:
    return {"Content-Type": content_type, **sign(raw, SECRET, **sign_args)}


def refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    events = ("http.refused", "request.malformed")
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] in events]


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def still_serving(world: World) -> None:
    """A customer's message after the hostile ones is acknowledged and carded, once."""
    world.customer_says("After all that, can you still see my question?")  # asserts a 200
    # Under gunicorn the job reaches Redis from that process's enqueue thread, a moment
    # after the ack (the priority check runs there): drain until it has come and run.
    wait_for(lambda: world.drain() or world.cards(), timeout=15)
    assert len(world.cards()) == 1


def nested(depth: int) -> bytes:
    """An event envelope whose event carries a field nested `depth` lists deep."""
    inner = "[" * depth + "]" * depth
    return (
        '{"type": "event_callback", "team_id": "T0ORG", "event_id": "Ev0DEEP",'
        f' "event": {{"type": "message", "subtype": "bot_message", "deep": {inner}}}}}'
    ).encode()


def padded_to(size: int) -> bytes:
    """A signed-able bot message envelope (ignored by the app) of exactly `size` bytes."""
    head = b'{"type": "event_callback", "team_id": "T0ORG", "event_id": "Ev0BIG", "event": '
    head += b'{"type": "message", "subtype": "bot_message", "text": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_an_oversized_body_is_413_on_every_path_before_it_is_read(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """By its Content-Length: answered before one byte of it is sent, so it is never read."""
    too_big = MAX_BODY_BYTES + 1
    with caplog.at_level(logging.INFO):
        for method, path in [
            ("POST", EVENTS),
            ("GET", "/healthz"),
            ("GET", "/metrics"),
            ("POST", "/healthz"),
            ("GET", "/nowhere"),
        ]:
            status, _ = call(world, method, path, headers=signed(b""), length=too_big)
            assert status == 413, (method, path, status)
    assert [r["status"] for r in refusals(caplog)] == [413] * 5
    no_traceback(caplog)
    still_serving(world)


def test_a_chunked_body_is_413_once_reading_it_passes_the_limit(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """No Content-Length: the read itself stops at the limit, before the signature is
    checked or anything parsed."""
    chunks = (b"{" + b" " * 65535 for _ in range(20))  # 1.25 MB
    with caplog.at_level(logging.INFO):
        status, _ = call(world, "POST", EVENTS, chunks, {"Content-Type": "application/json"})
    assert status == 413
    [refusal] = refusals(caplog)
    assert refusal["status"] == 413
    no_traceback(caplog)
    still_serving(world)


def test_the_limit_is_exact_a_body_of_one_megabyte_is_read(world: World) -> None:
    """Whether its length is announced or it comes in chunks."""
    at_limit, over = padded_to(MAX_BODY_BYTES), padded_to(MAX_BODY_BYTES + 1)
    assert call(world, "POST", EVENTS, at_limit, signed(at_limit))[0] == 200
    assert call(world, "POST", EVENTS, over, signed(over))[0] == 413
    assert call(world, "POST", EVENTS, in_chunks(at_limit), signed(at_limit))[0] == 200
    assert call(world, "POST", EVENTS, in_chunks(over), signed(over))[0] == 413


def in_chunks(raw: bytes, size: int = 65536) -> Iterable[bytes]:
    return (raw[i : i + size] for i in range(0, len(raw), size))


@pytest.mark.parametrize(
    "method, path, expected",
    [
        ("GET", EVENTS, 405),
        ("PUT", EVENTS, 405),
        ("DELETE", EVENTS, 405),
        ("POST", "/healthz", 405),
        ("POST", "/metrics", 405),
        ("PATCH", "/metrics", 405),
        ("GET", "/slack/events/../../etc/passwd", 404),
        ("GET", "/%00", 404),
        ("GET", "/wp-admin/" + "a" * 5000, 404),
        ("GET", "/slack/install", 404),  # no OAuth configured: the path does not exist
    ],
)
def test_wrong_methods_and_paths_are_refused_and_logged(
    world: World, caplog: pytest.LogCaptureFixture, method: str, path: str, expected: int
) -> None:
    with caplog.at_level(logging.INFO):
        status, answer = call(world, method, path, b"{}", signed(b"{}"))
    assert status == expected
    assert b"<html" not in answer.lower()  # a short plain answer, not Flask's page
    [refusal] = refusals(caplog)
    assert refusal["status"] == expected and len(refusal["path"]) <= 200
    no_traceback(caplog)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "multipart/form-data; boundary=x", "application/xml", "application/j"],
)
def test_a_content_type_slack_never_sends_is_415_even_when_signed(
    world: World, caplog: pytest.LogCaptureFixture, content_type: str | None
) -> None:
    body = json.dumps(world.envelope(world.emu.post_as_user("C0GLOBEX", "U0CUSTOMER", "Hi?")))
    headers = sign(body.encode(), SECRET)
    if content_type:
        headers["Content-Type"] = content_type
    with caplog.at_level(logging.INFO):
        assert call(world, "POST", EVENTS, body.encode(), headers)[0] == 415
    assert [r["status"] for r in refusals(caplog)] == [415]
    world.drain()
    assert world.cards() == []


def test_json_with_a_charset_is_still_json(world: World) -> None:
    body = json.dumps({"token": "t", "challenge": "c-9", "type": "url_verification"}).encode()
    status, answer = call(
        world, "POST", EVENTS, body, signed(body, "application/json; charset=utf-8")
    )
    assert status == 200 and b"c-9" in answer


@pytest.mark.parametrize(
    "why, timestamp_shift, secret",
    [
        ("stale timestamp", -301, SECRET),  # a request recorded and replayed 5 minutes later
        ("stale timestamp", +301, SECRET),  # or dated ahead, to be replayed later
        ("bad signature", 0, "not-the-secret"),
    ],
)
def test_replayed_or_forged_requests_are_401_and_logged_with_why(
    world: World, caplog: pytest.LogCaptureFixture, why: str, timestamp_shift: int, secret: str
) -> None:
    body = json.dumps(world.envelope(world.emu.post_as_user("C0GLOBEX", "U0CUSTOMER", "Hi?")))
    raw = body.encode()
    headers = {
        "Content-Type": "application/json",
        **sign(raw, secret, int(time.time()) + timestamp_shift),
    }
    with caplog.at_level(logging.INFO):
        assert call(world, "POST", EVENTS, raw, headers)[0] == 401
    [refusal] = refusals(caplog)
    assert (refusal["status"], refusal["reason"]) == (401, why)
    no_traceback(caplog)
    world.drain()
    assert world.cards() == []


def test_a_request_replayed_within_the_window_is_acknowledged_and_carded_once(
    world: World,
) -> None:
    """The same signed bytes again (an attacker's replay, or Slack's retry): the event id is
    stored once, so the second 200 does nothing."""
    body = world.envelope(world.emu.post_as_user("C0GLOBEX", "U0CUSTOMER", "Replay me?"))
    raw = json.dumps(body).encode()
    headers = signed(raw)
    assert [call(world, "POST", EVENTS, raw, headers)[0] for _ in range(3)] == [200] * 3
    world.drain()
    assert len(world.cards()) == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 2_000, 400_000])
def test_a_signed_body_nested_too_deep_is_400_not_a_recursion_error(
    world: World, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    """Past the JSON decoder's own limit it raised RecursionError (a 500); below it, storing
    or logging the body would. Both are refused at the edge."""
    raw = nested(depth)
    assert len(raw) < MAX_BODY_BYTES
    with caplog.at_level(logging.INFO):
        assert call(world, "POST", EVENTS, raw, signed(raw))[0] == 400
    assert [r["event"] for r in refusals(caplog)] == ["request.malformed"]
    no_traceback(caplog)
    still_serving(world)


def test_a_body_nested_as_deep_as_slack_nests_is_read(world: World) -> None:
    raw = nested(MAX_DEPTH - 4)  # the envelope and the event are two levels, the list the rest
    assert call(world, "POST", EVENTS, raw, signed(raw))[0] == 200


def test_slacks_ssl_check_is_answered_200(world: World) -> None:
    """Slack checks a command URL's certificate with this form; it is no payload to refuse."""
    raw = b"ssl_check=1&token=verification-token"
    headers = signed(raw, "application/x-www-form-urlencoded")
    assert call(world, "POST", EVENTS, raw, headers)[0] == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"command=%2Ftriage&text=help&user_id=U0AMY&team_id=T0ACME&event=",
        b'payload={"type": "block_actions", "event": [1], "actions": []}',
        b'{"type": "app_rate_limited", "event": {"type": {}}}',
    ],
)
def test_an_event_field_that_is_no_event_is_400_on_any_payload(
    world: World, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    """Bolt's middleware reads `event.bot_id` of every payload by hand: a 500 before."""
    content_type = (
        "application/json" if raw.startswith(b"{") else "application/x-www-form-urlencoded"
    )
    with caplog.at_level(logging.INFO):
        assert call(world, "POST", EVENTS, raw, signed(raw, content_type))[0] == 400
    no_traceback(caplog)


@pytest.mark.parametrize(
    "path", ["/healthz?x=%ff%00", "/metrics?name[]=" + "%e2%80%ae" * 100, "/healthz?" + "a" * 8000]
)
def test_health_and_metrics_ignore_hostile_query_strings(world: World, path: str) -> None:
    assert call(world, "GET", path)[0] == 200


def test_oauth_paths_refuse_hostile_requests_with_a_4xx(
    database_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The install and redirect pages, with Bolt's OAuth flow behind them: a forged state or
    code, a query that is not UTF-8, a wrong method, an oversized body."""
    with oauth_world(database_url, redis_url) as world, caplog.at_level(logging.INFO):
        cases: list[tuple[str, str, dict[str, str]]] = [
            ("GET", "/slack/oauth_redirect", {}),
            ("GET", "/slack/oauth_redirect?code=forged&state=forged", {}),
            ("GET", "/slack/oauth_redirect?state=" + "%E2%80%AE" * 50, {}),
            ("GET", "/slack/oauth_redirect?code=x&state=y", {"Cookie": "slack-app-oauth-state=y"}),
            ("GET", "/slack/oauth_redirect?code=x&state=%ff%00", {}),
            ("POST", "/slack/install", {}),
            ("DELETE", "/slack/oauth_redirect", {}),
        ]
        statuses = [call(world, method, path, headers=h)[0] for method, path, h in cases]
        statuses.append(call(world, "GET", "/slack/install", length=MAX_BODY_BYTES + 1)[0])
        statuses.append(raw_call(world, b"GET /slack/oauth_redirect?code=\xff HTTP/1.1"))
        # werkzeug's server re-encodes a raw query; gunicorn hands it over as it came, which
        # Bolt's adapter cannot decode: the WSGI app is given that query directly.
        web = create_web(create_app(world.deps), world.deps).test_client()
        for path in ("/slack/install", "/slack/oauth_redirect"):
            answer = web.get(path, environ_overrides={"QUERY_STRING": "code=\xc3("})
            statuses.append(answer.status_code)
        assert [400 <= status < 500 for status in statuses] == [True] * 11, statuses
        assert len(refusals(caplog)) == 11  # each of them logged
        # Cancelling on Slack's screen is not hostile: a page that says so.
        assert call(world, "GET", "/slack/oauth_redirect?error=access_denied&state=s")[0] == 200
        assert call(world, "GET", "/slack/install?x=%E2%80%AE")[0] == 302  # still installs
    no_traceback(caplog)


def test_triage_serve_survives_the_hostile_requests_and_keeps_serving(
    world: World, tmp_path: Path
) -> None:
    """The same refusals from gunicorn, which ends an unread body its own way; its log holds
    no traceback afterwards."""
    log = tmp_path / "serve.log"
    serve(world, log)  # world.url is now gunicorn's
    deep = nested(2_000)
    answers = [
        call(world, "POST", EVENTS, headers=signed(b""), length=MAX_BODY_BYTES + 1)[0],
        call(world, "POST", EVENTS, (b" " * 65536 for _ in range(20)), signed(b""))[0],
        call(world, "GET", EVENTS)[0],
        call(world, "POST", EVENTS, b"{}", {"Content-Type": "text/plain"})[0],
        call(world, "POST", EVENTS, b"{}", {"Content-Type": "application/json"})[0],
        call(world, "POST", EVENTS, deep, signed(deep))[0],
        call(world, "POST", EVENTS, b"\xff{", signed(b"\xff{"))[0],
    ]
    assert answers == [413, 413, 405, 415, 401, 400, 400]
    still_serving(world)
    assert "Traceback" not in log.read_text()
