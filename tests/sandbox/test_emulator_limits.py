"""The emulator's rate limits (``SlackEmulator(limits=F)``), seen through the real WebClient.

``retry_handlers=[]`` so the client shows the raw 429s. F=6 makes Tier 3 five calls a second
with a burst of five: a tight loop of calls empties it on a busy machine too, and a Retry-After
is one second (the least Slack sends), so waiting it keeps the tests short.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_limits import LIMITS_ENV, TIER_RATES, TIERS, from_env, tier_of
from tests.harness import free_port, kill_group, triage_cli

F = 6
CUSTOMER_TOKEN = "xoxb-customer-token"


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    """A limited emulator: two workspaces with a bot token each, and two channels."""
    with SlackEmulator(limits=F) as emulator:
        emulator.add_team("T0CUST", "Customer Co")
        emulator.add_user("U0CUSTBOT", team_id="T0CUST", name="custbot", is_bot=True)
        emulator.add_token(CUSTOMER_TOKEN, "T0CUST", "U0CUSTBOT")
        emulator.add_channel("C0A", "alpha")
        emulator.add_channel("C0B", "beta")
        yield emulator


def client_of(emu: SlackEmulator, token: str | None = None) -> WebClient:
    """The real client, without the retry handlers that would hide a 429."""
    return WebClient(token=token or emu.bot_token, base_url=emu.api_url, retry_handlers=[])


def until_429(call, limit: int = 60) -> tuple[int, SlackApiError]:
    """Make ``call()`` until Slack says 429; returns (successes before it, the error)."""
    for done in range(limit):
        try:
            call()
        except SlackApiError as error:
            assert error.response.status_code == 429, error.response.data
            return done, error
    raise AssertionError(f"no 429 in {limit} calls")


def retry_after(error: SlackApiError) -> int:
    """The Retry-After header of a 429, as an int (it must be whole seconds)."""
    headers = {k.lower(): v for k, v in error.response.headers.items()}
    value = headers["retry-after"]
    value = value[0] if isinstance(value, list) else value
    assert value.isdigit(), value
    return int(value)


def test_tier3_bucket_empties_into_slacks_429_while_other_methods_work(emu: SlackEmulator):
    client = client_of(emu)
    burst = TIER_RATES[tier_of("conversations.info")][1]
    done, error = until_429(lambda: client.conversations_info(channel="C0A"))
    assert done >= burst  # the burst is served first
    assert error.response.data == {"ok": False, "error": "ratelimited"}
    assert retry_after(error) >= 1
    assert emu.calls("conversations.info")[-1].status == 429
    assert client.users_info(user=emu.bot_user_id)["ok"]  # another method: its own budget
    assert emu.ratelimited_count() == emu.ratelimited_count("conversations.info") == 1
    assert emu.ratelimited_by_method() == {"conversations.info": 1}


def test_waiting_retry_after_succeeds_and_a_call_before_it_is_early(emu: SlackEmulator):
    client = client_of(emu)
    _, error = until_429(lambda: client.conversations_info(channel="C0A"))
    assert emu.early_calls() == 0
    with contextlib.suppress(SlackApiError):  # before the Retry-After: early
        client.conversations_info(channel="C0A")
    assert emu.early_calls() == emu.early_calls("conversations.info") == 1
    assert emu.calls("conversations.info")[-1].early

    time.sleep(retry_after(error))
    assert client.conversations_info(channel="C0A")["ok"]
    assert emu.early_calls() == 1  # a client honouring Retry-After is not early
    assert not emu.calls("conversations.info")[-1].early


def test_post_message_limited_per_channel_and_a_429_posts_nothing(emu: SlackEmulator):
    client = client_of(emu)
    posted, _ = until_429(lambda: client.chat_postMessage(channel="C0A", text="hi"))
    assert posted >= 2  # the channel's burst
    assert len(emu.messages("C0A")) == posted  # the refused one left no message
    assert [c.status for c in emu.calls("chat.postMessage")] == [200] * posted + [429]
    assert client.chat_postMessage(channel="C0B", text="still here")["ok"]
    assert [m["text"] for m in emu.messages("C0B")] == ["still here"]


def test_each_workspace_has_its_own_budget(emu: SlackEmulator):
    until_429(lambda: client_of(emu).conversations_info(channel="C0A"))
    customer = client_of(emu, CUSTOMER_TOKEN)
    done, _ = until_429(lambda: customer.conversations_info(channel="C0A"))
    assert done >= TIER_RATES[3][1]  # its own full burst, untouched by the other workspace


def test_without_limits_nothing_is_limited():
    with SlackEmulator() as emu:
        emu.add_channel("C0A", "alpha")
        client = client_of(emu)
        for _ in range(30):
            assert client.conversations_info(channel="C0A")["ok"]
        assert emu.limits is None and emu.ratelimited_count() == emu.early_calls() == 0
        assert {c.status for c in emu.calls()} == {200}


def test_tier_table_and_the_environment_variable():
    assert (tier_of("usergroups.users.list"), tier_of("reactions.add")) == (2, 3)
    assert tier_of("users.info") == tier_of("some.newer.method") == 4
    assert set(TIERS.values()) <= set(TIER_RATES)
    assert from_env({}) is None and from_env({LIMITS_ENV: " "}) is None
    assert from_env({LIMITS_ENV: "60"}) == 60.0
    for bad in ("0", "-1", "fast", "nan", "inf"):
        with pytest.raises(ValueError, match=LIMITS_ENV):
            from_env({LIMITS_ENV: bad})


def test_python_m_sandbox_and_triage_sandbox_read_the_environment_variable():
    """At F=1 the standalone server's Tier 3 burst of 5 runs out in a tight loop."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port)],
        env={**os.environ, LIMITS_ENV: "1"},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert f"127.0.0.1:{port}" in line and "rate limits x1" in line
        client = WebClient(token="xoxb-test-token", base_url=f"http://127.0.0.1:{port}/api/")
        client.retry_handlers = []
        done, error = until_429(lambda: client.conversations_info(channel="C0SHARED"))
        assert done >= TIER_RATES[3][1] and retry_after(error) in (1, 2)  # 50/min: 1.2 s
    finally:
        kill_group(process)
    refused = triage_cli("sandbox", env={**os.environ, LIMITS_ENV: "fast"})
    assert refused.returncode == 2 and LIMITS_ENV in refused.stderr
