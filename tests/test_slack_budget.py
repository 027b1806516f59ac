"""The Slack call budget (integrations/slack_budget.py) in front of the real slack_sdk client:
shared by processes through the real Redis, honouring each 429's Retry-After for that method
(and channel) only, and letting calls through when Redis is gone. The Slack emulator records
the time of every call, so "no call before its Retry-After" is read off its log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from structlog.testing import capture_logs

from integrations.slack import (
    BUDGET_HEADER,
    BudgetedWebClient,
    build_web_client,
    retry_after_of,
    slack_error,
)
from integrations.slack_budget import BREAKER_SECONDS, SlackBudget, waiting_at_most
from sandbox.slack_emulator import SlackEmulator
from sandbox.world import INTERNAL, SHARED, TOKEN, TRIAGE, build_emulator
from tests.harness import free_port


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    emulator = build_emulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def process(emu: SlackEmulator, redis_url: str) -> WebClient:
    """The client one process of the app builds: its own Redis connection, its own budget."""
    budget = SlackBudget(Redis.from_url(redis_url))
    return build_web_client(TOKEN, emu.api_url, budget=budget)


def ratelimited(call: object) -> SlackApiError:
    """The `ratelimited` answer a call (made without waiting) gets."""
    with waiting_at_most(0), pytest.raises(SlackApiError) as raised:
        call()  # type: ignore[operator]
    assert slack_error(raised.value) == "ratelimited"
    return raised.value


def at(emu: SlackEmulator, method: str) -> list[float]:
    return [c.at for c in emu.calls(method)]


def test_two_processes_spend_one_budget(emu: SlackEmulator, redis_url: str) -> None:
    first, second = process(emu, redis_url), process(emu, redis_url)
    assert isinstance(first, BudgetedWebClient)
    for client in (first, second, first, second, first):  # Tier 3 allows a burst of five
        client.conversations_info(channel=TRIAGE)
    refused = ratelimited(lambda: second.conversations_info(channel=TRIAGE))
    assert refused.response.headers[BUDGET_HEADER] == "spent"  # the budget said it, not Slack
    assert 1 <= retry_after_of(refused) <= 2  # 50 a minute: the next slot in 1.2 s
    assert len(emu.calls("conversations.info")) == 5  # the refused call never left

    # Waiting (the default), the sixth call goes when its slot comes, not before.
    started = time.monotonic()
    second.conversations_info(channel=TRIAGE)
    assert 0.9 < time.monotonic() - started < 3
    assert len(emu.calls("conversations.info")) == 6
    # Another method has a budget of its own.
    first.conversations_history(channel=TRIAGE)


def test_a_429_on_reactions_does_not_delay_posts(emu: SlackEmulator, redis_url: str) -> None:
    first, second = process(emu, redis_url), process(emu, redis_url)
    message = first.chat_postMessage(channel=SHARED, text="Our exports fail")
    emu.fail("reactions.add", status=429, retry_after=30)
    refused = ratelimited(
        lambda: first.reactions_add(channel=SHARED, timestamp=message["ts"], name="eyes")
    )
    assert BUDGET_HEADER not in refused.response.headers  # Slack's own 429 this time

    started = time.monotonic()
    second.chat_postMessage(channel=TRIAGE, text="a card")
    second.chat_update(channel=SHARED, ts=message["ts"], text="edited")
    assert time.monotonic() - started < 1  # other methods flow
    # The other process knows of the 429 from Redis, and does not call before it ends.
    again = ratelimited(
        lambda: second.reactions_add(channel=SHARED, timestamp=message["ts"], name="eyes")
    )
    assert 25 < retry_after_of(again) <= 30
    assert len(emu.calls("reactions.add")) == 1


def test_a_429_on_one_channels_posts_does_not_delay_another(
    emu: SlackEmulator, redis_url: str
) -> None:
    first, second = process(emu, redis_url), process(emu, redis_url)
    emu.fail("chat.postMessage", status=429, retry_after=30)
    ratelimited(lambda: first.chat_postMessage(channel=TRIAGE, text="card 1"))

    started = time.monotonic()
    second.chat_postMessage(channel=INTERNAL, text="a note elsewhere")
    assert time.monotonic() - started < 1
    ratelimited(lambda: second.chat_postMessage(channel=TRIAGE, text="card 2"))
    posts = emu.calls("chat.postMessage")
    assert [c.args["channel"] for c in posts] == [TRIAGE, INTERNAL]


def test_no_call_before_its_retry_after(emu: SlackEmulator, redis_url: str) -> None:
    first, second = process(emu, redis_url), process(emu, redis_url)
    message = first.chat_postMessage(channel=SHARED, text="Our exports fail")
    emu.fail("reactions.add", status=429, retry_after=2)
    emu.clear_calls()
    done: list[str] = []

    def other_process() -> None:
        while not emu.calls("reactions.add"):  # right after the 429, in another "process"
            time.sleep(0.01)
        time.sleep(0.1)
        second.reactions_add(channel=SHARED, timestamp=message["ts"], name="ticket")
        done.append("second")

    thread = threading.Thread(target=other_process)
    thread.start()
    first.reactions_add(channel=SHARED, timestamp=message["ts"], name="eyes")  # retried
    thread.join(10)
    assert done == ["second"]
    refused, *later = at(emu, "reactions.add")
    assert len(later) == 2 and all(t >= refused + 2 for t in later), (refused, later)
    assert emu.reactions(SHARED, message["ts"]).keys() == {"eyes", "ticket"}


def test_a_retry_after_longer_than_the_call_may_wait_fails_it_at_once(
    emu: SlackEmulator, redis_url: str
) -> None:
    client = process(emu, redis_url)
    emu.fail("conversations.info", status=429, retry_after=60)
    started = time.monotonic()
    with pytest.raises(SlackApiError) as raised:
        client.conversations_info(channel=TRIAGE)  # waits 10 s at most: 60 does not fit
    assert slack_error(raised.value) == "ratelimited"
    assert time.monotonic() - started < 1
    assert len(emu.calls("conversations.info")) == 1


def test_pages_of_a_read_spend_the_budget_too(emu: SlackEmulator, redis_url: str) -> None:
    for n in range(6):
        emu.post_as_user(SHARED, "U0CUSTOMER", f"message {n}")
    client = process(emu, redis_url)
    with waiting_at_most(0), pytest.raises(SlackApiError):
        for _ in client.conversations_history(channel=SHARED, limit=1):
            pass  # five pages fit Tier 3's burst; the sixth waits, and may not
    assert len(emu.calls("conversations.history")) == 5


def test_without_redis_calls_go_through_and_429s_still_hold(emu: SlackEmulator) -> None:
    nowhere = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    client = build_web_client(TOKEN, emu.api_url, budget=SlackBudget(nowhere))
    with capture_logs() as logs:
        for _ in range(8):  # past Tier 3's burst: nobody counts
            client.conversations_info(channel=TRIAGE)
        emu.fail("conversations.info", status=429, retry_after=30)
        ratelimited(lambda: client.conversations_info(channel=TRIAGE))
        ratelimited(lambda: client.conversations_info(channel=TRIAGE))
        client.chat_postMessage(channel=TRIAGE, text="an approved reply still goes")
    assert len(emu.calls("conversations.info")) == 9  # the 429 held this process back
    assert [e["event"] for e in logs].count("slack_budget.redis_down") == 1


def test_a_redis_outage_is_logged_once_however_long(emu: SlackEmulator) -> None:
    now = [0.0]
    nowhere = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    budget = SlackBudget(nowhere, clock=lambda: now[0]).workspace("T0ACME")
    with capture_logs() as logs:
        for _ in range(3):  # each past the breaker: Redis is asked, and fails, each time
            assert budget.try_acquire("reactions.add").granted
            now[0] += BREAKER_SECONDS + 1
    assert [e["event"] for e in logs].count("slack_budget.redis_down") == 1


def test_bolts_per_request_client_records_its_429s(emu: SlackEmulator, redis_url: str) -> None:
    """Bolt builds a plain WebClient per request with a copy of our client's retry handlers:
    its calls are not budgeted, but a 429 it gets is recorded for every process."""
    ours = process(emu, redis_url)
    bolts = WebClient(token=TOKEN, base_url=emu.api_url, retry_handlers=ours.retry_handlers.copy())
    emu.fail("views.publish", status=429, retry_after=30)
    ratelimited(lambda: bolts.views_publish(user_id="U0AMY", view={"type": "home", "blocks": []}))
    other = process(emu, redis_url)
    ratelimited(lambda: other.views_publish(user_id="U0AMY", view={"type": "home", "blocks": []}))
    assert len(emu.calls("views.publish")) == 1


def test_the_budget_scales_with_slack_rate_scale(emu: SlackEmulator, redis_url: str) -> None:
    client = build_web_client(
        TOKEN, emu.api_url, budget=SlackBudget(Redis.from_url(redis_url), scale=60)
    )
    started = time.monotonic()
    for _ in range(15):  # five at once, then 50 a second
        client.conversations_info(channel=TRIAGE)
    assert 0.15 < time.monotonic() - started < 2


def budget_keys(redis: Redis) -> set[str]:
    return {k if isinstance(k, str) else k.decode() for k in redis.keys("triage:slack-budget*")}


def test_a_workspace_key_is_never_the_token(redis: Redis, emu: SlackEmulator) -> None:
    client = build_web_client(TOKEN, emu.api_url, budget=SlackBudget(redis))
    client.conversations_info(channel=TRIAGE)
    keys = budget_keys(redis)
    assert keys and not any(TOKEN in k for k in keys)
    teamed = build_web_client(TOKEN, emu.api_url, budget=SlackBudget(redis), workspace="T0ACME")
    teamed.conversations_info(channel=TRIAGE)
    assert "triage:slack-budget:T0ACME:conversations.info" in budget_keys(redis)


def test_a_burst_from_two_processes_against_slacks_own_limits(redis_url: str) -> None:
    """The emulator enforcing Slack's rates (at 60 times, so a minute's allowance takes a
    second) and two processes spending one budget at the same scale: every call succeeds,
    and none reaches Slack before a Retry-After it was given."""
    with build_emulator(limits=60) as emu:
        clients = [
            build_web_client(
                TOKEN, emu.api_url, budget=SlackBudget(Redis.from_url(redis_url), scale=60)
            )
            for _ in range(2)
        ]
        errors: list[Exception] = []

        def burst(client: WebClient) -> None:
            try:
                for n in range(30):
                    client.conversations_info(channel=TRIAGE)
                    if n % 3 == 0:
                        client.chat_postMessage(channel=TRIAGE, text=f"card {n}")
            except Exception as exc:  # reported below, with the counts
                errors.append(exc)

        threads = [threading.Thread(target=burst, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        answered = [c for c in emu.calls("conversations.info") if c.status == 200]
        assert len(answered) == 60  # every call, once (a 429 elsewhere is not one less here)
        assert emu.early_calls() == 0
        # A slot is 20 ms here: the odd 429 from arrival jitter, each then held by everyone.
        assert emu.ratelimited_count() <= 3, emu.ratelimited_by_method()
