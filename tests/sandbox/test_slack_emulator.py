"""Tests of the Slack emulator (sandbox/), driven through the real slack_sdk WebClient."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_spec import NEWER_THAN_SPEC, check_call, spec_methods
from sandbox.slack_wsgi import HANDLERS

# Slack's sample payloads, copied from shared/specs/slack/samples (sources in its README).
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "slack_samples"
SHARED = "C0SHARED"  # the Slack Connect channel of conftest.py's emulator


def test_post_update_history_and_replies_with_metadata(emu: SlackEmulator, client: WebClient):
    parent = emu.post_as_user(SHARED, "W0CUST", "Our export is broken")
    assert parent["team"] == parent["user_team"] == "T0CUST"
    metadata = {"event_type": "triage_request", "event_payload": {"request_id": 7}}
    posted = client.chat_postMessage(
        channel=SHARED, text="On it", thread_ts=parent["ts"], metadata=metadata
    )
    assert posted["message"]["bot_id"] == "B0BOT"
    assert posted["message"]["user"] == "U0BOT"
    assert posted["message"]["metadata"] == metadata
    assert float(posted["ts"]) > float(parent["ts"])

    updated = client.chat_update(channel=SHARED, ts=posted["ts"], text="Fixed")
    assert updated["message"]["edited"]["user"] == "B0BOT"
    assert updated["message"]["metadata"] == metadata

    history = client.conversations_history(channel=SHARED)
    assert [m["ts"] for m in history["messages"]] == [parent["ts"]]
    top = history["messages"][0]
    assert (top["reply_count"], top["latest_reply"]) == (1, posted["ts"])

    plain = client.conversations_replies(channel=SHARED, ts=parent["ts"])
    assert [m["text"] for m in plain["messages"]] == ["Our export is broken", "Fixed"]
    assert "metadata" not in plain["messages"][1]
    with_meta = client.conversations_replies(
        channel=SHARED, ts=parent["ts"], include_all_metadata=True
    )
    assert with_meta["messages"][1]["metadata"] == metadata
    assert with_meta["messages"][1]["parent_user_id"] == "W0CUST"
    assert emu.messages(SHARED, thread_ts=parent["ts"])[1]["text"] == "Fixed"


def test_history_and_replies_paginate(emu: SlackEmulator, client: WebClient):
    stamps = [emu.post_as_user(SHARED, "W0CUST", f"m{i}")["ts"] for i in range(5)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    seen, cursor = [], None
    while True:
        page = client.conversations_history(channel=SHARED, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = page.get("response_metadata", {}).get("next_cursor")
        if not page["has_more"]:
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]
    window = client.conversations_history(
        channel=SHARED, oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    assert [m["text"] for m in window["messages"]] == ["m3", "m2", "m1"]

    for i in range(3):
        emu.post_as_user(SHARED, "U0AM", f"r{i}", thread_ts=stamps[0])
    texts, cursor = [], None
    while True:
        page = client.conversations_replies(channel=SHARED, ts=stamps[0], limit=2, cursor=cursor)
        assert page["messages"][0]["ts"] == stamps[0]  # the parent heads every page
        texts += [m["text"] for m in page["messages"][1:]]
        if not page["has_more"]:
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert texts == ["r0", "r1", "r2"]


def test_reactions(emu: SlackEmulator, client: WebClient):
    message = emu.post_as_user(SHARED, "W0CUST", "hello")
    client.reactions_add(channel=SHARED, timestamp=message["ts"], name="eyes")
    with pytest.raises(SlackApiError) as failure:
        client.reactions_add(channel=SHARED, timestamp=message["ts"], name="eyes")
    assert failure.value.response["error"] == "already_reacted"
    emu.add_reaction(SHARED, message["ts"], "eyes", "U0AM")
    assert emu.reactions(SHARED, message["ts"]) == {"eyes": ["U0BOT", "U0AM"]}
    got = client.reactions_get(channel=SHARED, timestamp=message["ts"])
    assert got["message"]["reactions"][0]["count"] == 2
    client.reactions_remove(channel=SHARED, timestamp=message["ts"], name="eyes")
    with pytest.raises(SlackApiError, match="no_reaction"):
        client.reactions_remove(channel=SHARED, timestamp=message["ts"], name="eyes")


def test_rate_limit_is_retried_by_slack_sdk(emu: SlackEmulator):
    client = WebClient(
        token=emu.bot_token,
        base_url=emu.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    emu.fail("chat.postMessage", status=429, retry_after=0)
    response = client.chat_postMessage(channel=SHARED, text="eventually")
    assert response["ok"]
    assert len(emu.calls("chat.postMessage")) == 2
    assert [m["text"] for m in emu.messages(SHARED)] == ["eventually"]

    emu.fail("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(SlackApiError) as failure:
        WebClient(token=emu.bot_token, base_url=emu.api_url).chat_postMessage(
            channel=SHARED, text="x"
        )
    assert failure.value.response.status_code == 429
    assert failure.value.response["error"] == "ratelimited"
    assert failure.value.response.headers["retry-after"] == "3"


def test_server_errors_delay_and_latency(emu: SlackEmulator, client: WebClient):
    emu.fail("users.info", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as failure:
            client.users_info(user="W0CUST")
        assert failure.value.response.status_code == 500
        assert failure.value.response["error"] == "internal_error"
    assert client.users_info(user="W0CUST")["user"]["team_id"] == "T0CUST"

    emu.fail("auth.test", error=None, delay=0.3)
    started = time.monotonic()
    assert client.auth_test()["ok"]
    assert time.monotonic() - started >= 0.3

    emu.set_latency("chat.postMessage", 0.6)
    impatient = WebClient(token=emu.bot_token, base_url=emu.api_url, timeout=0.2)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=SHARED, text="sent while the client gave up")
    deadline = time.monotonic() + 3
    while not emu.messages(SHARED) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m["text"] for m in emu.messages(SHARED)] == ["sent while the client gave up"]


def test_strict_mode_refuses_unknown_arguments(emu: SlackEmulator, client: WebClient):
    with pytest.raises(SlackApiError) as failure:
        client.chat_postMessage(channel=SHARED, text="hi", colour="blue")
    assert failure.value.response["error"] == "invalid_arguments"
    assert "chat.postMessage: unknown argument 'colour'" in emu.spec_violations
    assert emu.messages(SHARED) == []
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("conversations.teleport", params={"channel": SHARED})

    emu.strict = False
    assert client.chat_postMessage(channel=SHARED, text="hi", colour="blue")["ok"]
    assert len(emu.spec_violations) == 3


def test_spec_table_and_newer_arguments():
    methods = spec_methods()
    assert methods["chat.postMessage"]["required"] == ["channel"]
    assert "token" not in methods["chat.postMessage"]["params"]
    assert check_call("chat.postMessage", {"channel": "C1", "metadata": {}}) == []
    assert check_call("chat.update", {"channel": "C1"}) == [
        "chat.update: missing required argument 'ts'"
    ]
    assert "include_all_metadata" in NEWER_THAN_SPEC["conversations.replies"]
    assert check_call("nope.nothing", {})[0].startswith("nope.nothing: unknown method")
    assert set(HANDLERS) <= set(methods)  # every emulated method is in the spec


def test_bolt_style_team_id_and_form_encoded_json(emu: SlackEmulator):
    client = WebClient(token=emu.bot_token, base_url=emu.api_url, team_id="T0ACME")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    client.api_call(
        "chat.postMessage", params={"channel": SHARED, "text": "hi", "blocks": json.dumps(blocks)}
    )
    call = emu.calls("chat.postMessage")[-1]
    assert call.args["team_id"] == "T0ACME"
    assert call.args["blocks"] == blocks
    assert call.token == emu.bot_token
    assert emu.messages(SHARED)[0]["blocks"][0]["block_id"]


def test_auth_errors_and_second_workspace(emu: SlackEmulator):
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xoxb-wrong", base_url=emu.api_url).auth_test()
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=emu.api_url).auth_test()
    emu.add_team("T0TWO", "Second")
    emu.add_user("U0BOT2", team_id="T0TWO", name="triage", is_bot=True)
    emu.add_token("xoxb-second", "T0TWO", "U0BOT2", bot_id="B0BOT2")
    second = WebClient(token="xoxb-second", base_url=emu.api_url).auth_test()
    assert (second["team_id"], second["user_id"], second["bot_id"]) == ("T0TWO", "U0BOT2", "B0BOT2")


def test_channels_users_and_permalinks(emu: SlackEmulator, client: WebClient):
    info = client.conversations_info(channel=SHARED, include_num_members=True)["channel"]
    sample = json.loads((SAMPLES / "conversations_info_channel_ext_shared.json").read_text())
    assert set(sample) <= set(info)
    assert info["is_ext_shared"] and info["is_shared"] and info["is_member"]
    assert info["conversation_host_id"] == "T0ACME"
    assert info["connected_team_ids"] == ["T0ACME", "T0CUST"]
    emu.add_channel("C0PRIV", "private", is_private=True, members=["U0AM"])
    with pytest.raises(SlackApiError, match="not_in_channel"):
        client.chat_postMessage(channel="C0PRIV", text="hi")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="C0NOPE", text="hi")

    external = client.users_info(user="W0CUST")["user"]
    assert external["team_id"] == "T0CUST" and external["profile"]["team"] == "T0CUST"
    assert external["tz"] == "America/New_York" and "tz_offset" in external
    assert client.users_lookupByEmail(email="am@acme.example")["user"]["id"] == "U0AM"
    with pytest.raises(SlackApiError, match="users_not_found"):
        client.users_lookupByEmail(email="nobody@example.com")
    emu.set_presence("U0AM", "away")
    assert client.users_getPresence(user="U0AM")["presence"] == "away"
    emu.add_usergroup("S0AMS", "account-managers", ["U0AM"])
    assert client.usergroups_users_list(usergroup="S0AMS")["users"] == ["U0AM"]

    parent = emu.post_as_user(SHARED, "W0CUST", "question")
    reply = emu.post_as_user(SHARED, "U0AM", "answer", thread_ts=parent["ts"])
    link = client.chat_getPermalink(channel=SHARED, message_ts=reply["ts"])["permalink"]
    expected = f"{emu.base_url}/archives/{SHARED}/p{reply['ts'].replace('.', '')}"
    assert link == f"{expected}?thread_ts={parent['ts']}&cid={SHARED}"


def test_views_ephemerals_and_response_urls(emu: SlackEmulator, client: WebClient):
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Draft"}, "blocks": []}
    opened = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and emu.views()[0]["trigger_id"] == "123.456.abc"
    emu.expire_trigger("123.456.old")
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id="123.456.old", view=modal)
    client.views_publish(user_id="U0AM", view={"type": "home", "blocks": []})
    assert emu.views()[-1]["user_id"] == "U0AM"

    assert client.chat_postEphemeral(channel=SHARED, user="U0AM", text="only you")["message_ts"]
    assert emu.ephemerals(SHARED)[0]["user"] == "U0AM"

    posted = client.chat_postMessage(channel=SHARED, text="Approve?")
    url = emu.response_url("approve", channel=SHARED, message_ts=posted["ts"], user="U0AM")
    assert WebhookClient(url).send(text="Approved", replace_original=True).status_code == 200
    assert emu.response_url_posts()[0]["body"]["text"] == "Approved"
    assert emu.find_message(SHARED, posted["ts"])["text"] == "Approved"
