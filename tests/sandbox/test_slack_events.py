"""Tests of the emulator's event side: signing, Slack Connect envelopes, delivery to an app."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_events import (
    block_actions_body,
    deliver,
    message_changed_envelope,
    message_deleted_envelope,
    sign,
)

# Slack's sample payloads, copied from shared/specs/slack/samples (sources in its README).
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "slack_samples"
SHARED = "C0SHARED"  # the Slack Connect channel of conftest.py's emulator


def test_signing_matches_slack_test_vector():
    vector = json.loads((SAMPLES / "signing_test_vector.json").read_text())
    headers = sign(vector["body"].encode(), vector["signing_secret"], int(vector["timestamp"]))
    assert headers["X-Slack-Signature"] == vector["expected_x_slack_signature"]
    assert headers["X-Slack-Request-Timestamp"] == vector["timestamp"]


def test_slack_connect_message_envelope(emu: SlackEmulator):
    message = emu.post_as_user(SHARED, "W0CUST", "Hey!")
    body = emu.message_event(SHARED, message["ts"])
    sample = json.loads((SAMPLES / "event_message_slack_connect_external_user.json").read_text())
    assert set(sample) <= set(body) and set(sample["event"]) <= set(body["event"])
    assert (body["team_id"], body["enterprise_id"]) == ("T0CUST", "E0CUST")
    assert body["context_team_id"] == "T0ACME" and body["is_ext_shared_channel"] is True
    assert body["authorizations"][0]["user_id"] == "U0BOT"
    event = body["event"]
    assert event["team"] == event["user_team"] == event["source_team"] == "T0CUST"
    assert event["user_profile"]["real_name"] == "Casey Customer"

    edited = emu.edit_message(SHARED, message["ts"], "Hey again")
    context = emu.event_context(SHARED, "W0CUST")
    changed = message_changed_envelope(edited, message, **context)
    assert changed["event"]["subtype"] == "message_changed"
    assert changed["event"]["previous_message"]["text"] == "Hey!"
    deleted = message_deleted_envelope(emu.delete_message(SHARED, message["ts"]), **context)
    assert deleted["event"]["deleted_ts"] == message["ts"]
    assert emu.messages(SHARED) == []


def _serve(wsgi: Any) -> tuple[str, Any]:
    """Serve a WSGI app (standing in for the app's request URL) on a free port."""
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/slack/events", server


def _click(emu: SlackEmulator, message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """block_actions_body() arguments for the account manager clicking "approve"."""
    return {
        "user_id": "U0AM",
        "user_team_id": "T0ACME",
        "team_id": "T0ACME",
        "channel_id": SHARED,
        "message_ts": message["ts"],
        "message": message,
        "action_id": "approve",
        "value": "1",
        "response_url": emu.response_url(),
        **fields,
    }


def test_deliver_and_bot_message_echo():
    received: list[tuple[dict[str, str], bytes]] = []

    def record(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        received.append((dict(request.headers), request.get_data()))
        return Response("")(environ, start_response)

    url, server = _serve(record)
    try:
        with SlackEmulator(event_url=url, signing_secret="shh") as emu:
            emu.add_channel(SHARED, "shared", is_ext_shared=True)
            client = WebClient(token=emu.bot_token, base_url=emu.api_url)
            client.chat_postMessage(channel=SHARED, text="from the bot")
            deadline = time.monotonic() + 5
            while not received and time.monotonic() < deadline:
                time.sleep(0.05)
            headers, raw = received[0]
            event = json.loads(raw)["event"]
            assert (event["bot_id"], event["text"]) == ("B0BOT", "from the bot")
            stamp = int(headers["X-Slack-Request-Timestamp"])
            assert headers["X-Slack-Signature"] == sign(raw, "shh", stamp)["X-Slack-Signature"]

            body = block_actions_body(**_click(emu, {"ts": "1.2", "text": "x"}))
            status, _ = deliver(url, body, "shh", retry_num=1)
            headers, raw = received[-1]
            assert status == 200 and raw == body
            assert headers["Content-Type"] == "application/x-www-form-urlencoded"
            assert headers["X-Slack-Retry-Num"] == "1"
            assert headers["X-Slack-Retry-Reason"] == "http_timeout"
    finally:
        server.shutdown()


def test_bolt_app_end_to_end(emu: SlackEmulator):
    """A slack_bolt app gets a Slack Connect message and a button click from the emulator."""
    from slack_bolt import App
    from slack_bolt.request import BoltRequest

    app = App(
        signing_secret="shh",
        client=WebClient(token=emu.bot_token, base_url=emu.api_url),
        process_before_response=True,
    )

    @app.event("message")
    def on_message(event: dict, say: Any, context: Any) -> None:
        if not event.get("bot_id"):
            say(text=f"Got it from {context.actor_team_id}", thread_ts=event["ts"])

    @app.action("approve")
    def on_approve(ack: Any, respond: Any) -> None:
        ack()
        respond(text="Approved", replace_original=True)

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        bolt_request = BoltRequest(body=request.get_data(as_text=True), headers=request.headers)
        answer = app.dispatch(bolt_request)
        return Response(answer.body, status=answer.status)(environ, start_response)

    url, server = _serve(wsgi)
    try:
        message = emu.post_as_user(SHARED, "W0CUST", "Help!")
        status, _ = deliver(url, emu.message_event(SHARED, message["ts"]), "shh")
        assert status == 200
        thread = emu.messages(SHARED, thread_ts=message["ts"])
        assert [m["text"] for m in thread] == ["Help!", "Got it from T0CUST"]
        assert emu.calls("chat.postMessage")[-1].args["team_id"] == "T0ACME"

        card = thread[1]
        reply_url = emu.response_url("card", channel=SHARED, message_ts=card["ts"])
        body = block_actions_body(**_click(emu, card, response_url=reply_url))
        assert deliver(url, body, "shh")[0] == 200
        assert emu.find_message(SHARED, card["ts"])["text"] == "Approved"
        assert deliver(url, body, "wrong secret")[0] == 401
        assert emu.spec_violations == []
    finally:
        server.shutdown()
