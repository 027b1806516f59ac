"""`triage doctor` on Slack, the internal channels and OpenAI: each problem named, with its fix."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from app.doctor_apis import check_slack, check_triage_channel
from integrations.settings import load_settings
from sandbox.openai_server import OpenAIServer
from sandbox.world import CUSTOMER_TEAM, ORG, TOKEN, build_emulator
from tests.harness import free_port
from tests.test_doctor import doctor

SHARED_TRIAGE = "C0OOPSSHARED"


@pytest.fixture
def emu() -> Iterator[object]:
    emulator = build_emulator()
    emulator.add_channel(
        SHARED_TRIAGE,
        "triage-oops",
        is_ext_shared=True,
        connected_team_ids=[ORG, CUSTOMER_TEAM],
        members=["U0BOT"],
    )
    emulator.add_channel("C0NOBOT", "escalations", members=["U0AMY"])
    with emulator.start():
        yield emulator


def test_doctor_names_a_wrong_token_an_unreachable_redis_and_a_shared_triage_channel(
    database_url: str, emu: object
) -> None:
    started = time.monotonic()
    result = doctor(
        database_url,
        f"redis://127.0.0.1:{free_port()}/0",
        slack_api_url=emu.api_url,
        slack_bot_token="xoxb-wrong",  # type: ignore[attr-defined]
        slack_signing_secret="s",
        triage_channel=SHARED_TRIAGE,
    )
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("✗ Slack: auth.test failed: invalid_auth → the token is wrong")
        for line in lines
    ), lines
    assert any(line.startswith("✗ Redis: no answer") for line in lines), lines
    # Wrong token: the channel cannot be looked at either, and says so (its id may be right).
    assert (
        "✗ TRIAGE_CHANNEL: C0OOPSSHARED could not be checked: Slack refused the token "
        "(invalid_auth) → fix the token first (see the Slack line)"
    ) in lines
    assert "check the id" not in result.stdout
    assert result.stderr == ""  # only doctor's lines, not slack_sdk's error logs
    assert time.monotonic() - started < 60

    right = doctor(
        database_url,
        f"redis://127.0.0.1:{free_port()}/0",
        slack_api_url=emu.api_url,
        slack_bot_token=TOKEN,  # type: ignore[attr-defined]
        slack_signing_secret="s",
        triage_channel=SHARED_TRIAGE,
    )
    assert any(
        line.startswith(
            "✗ TRIAGE_CHANNEL: #triage-oops (C0OOPSSHARED) is shared with another organisation"
        )
        for line in right.stdout.splitlines()
    )


def doctor_with_openai(
    database_url: str,
    redis_url: str,
    emu: object,
    *,
    server_key: str,
    our_key: str,
    **settings: object,
) -> subprocess.CompletedProcess[str]:
    """`triage doctor` with a working Slack and a local OpenAI that accepts `server_key`."""
    with OpenAIServer(api_key=server_key) as model:
        return doctor(
            database_url,
            redis_url,
            slack_api_url=emu.api_url,  # type: ignore[attr-defined]
            slack_bot_token=TOKEN,
            slack_signing_secret="s",
            triage_channel="C0TRIAGE",
            openai_api_key=our_key,
            openai_base_url=model.base_url,
            **settings,
        )


def test_doctor_passes_when_everything_answers(
    database_url: str, redis_url: str, emu: object
) -> None:
    result = doctor_with_openai(
        database_url,
        redis_url,
        emu,
        server_key="sk-local-test-key",
        our_key="sk-local-test-key",
        escalation_channel="C0NOBOT",
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ Slack: connected to Acme as @triage" in lines
    assert "✓ TRIAGE_CHANNEL: #support-triage (C0TRIAGE) is internal and the bot is in it" in lines
    assert any(
        line.startswith(
            "! ESCALATION_CHANNEL: #escalations (C0NOBOT): the bot is not a "
            "member → type /invite @triage"
        )
        for line in lines
    ), lines
    assert "✓ OpenAI: answers; gpt-4o-mini is available" in lines


def test_doctor_says_when_the_openai_key_is_refused(
    database_url: str, redis_url: str, emu: object
) -> None:
    result = doctor_with_openai(
        database_url, redis_url, emu, server_key="sk-the-right-one", our_key="sk-a-wrong-one"
    )
    assert "✗ OpenAI: the key was refused (401) → check OPENAI_API_KEY" in result.stdout
    assert result.returncode == 1


@pytest.mark.parametrize(
    ("token", "kind"),
    [("xoxp-1-2-3", ": it is a user token (xoxp-…)"), ("abc", "")],
)
def test_a_token_that_is_not_a_bot_token_is_named_and_never_sent(
    emu: object, token: str, kind: str
) -> None:
    settings = load_settings(
        slack_api_url=emu.api_url,  # type: ignore[attr-defined]
        slack_bot_token=token,
        slack_signing_secret="s",
        triage_channel="C0TRIAGE",
    )
    assert check_slack(settings).line() == (
        f"✗ Slack: SLACK_BOT_TOKEN does not look like a bot token (xoxb-…){kind} → copy the "
        "Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page"
    )
    assert check_triage_channel(settings).line() == (
        "✗ TRIAGE_CHANNEL: C0TRIAGE could not be checked: SLACK_BOT_TOKEN does not look like a "
        "bot token (xoxb-…) → fix SLACK_BOT_TOKEN first (see the Slack line)"
    )
    assert emu.calls() == []  # type: ignore[attr-defined]


def test_a_rotating_bot_token_is_a_bot_token(emu: object) -> None:
    """xoxe.xoxb-… is what an app with token rotation gets: a bot token, checked as one."""
    emu.add_token("xoxe.xoxb-1-rotating", ORG, "U0BOT", "B0BOT")  # type: ignore[attr-defined]
    settings = load_settings(
        slack_api_url=emu.api_url,  # type: ignore[attr-defined]
        slack_bot_token="xoxe.xoxb-1-rotating",
        slack_signing_secret="s",
        triage_channel="C0TRIAGE",
    )
    assert check_slack(settings).line() == "✓ Slack: connected to Acme as @triage"
    assert check_triage_channel(settings).ok is True
