"""Fixtures of the Slack emulator's tests: an emulator with a Slack Connect channel, and the
real slack_sdk client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from sandbox.slack_emulator import SlackEmulator

SHARED = "C0SHARED"


@pytest.fixture
def emu() -> Iterator[SlackEmulator]:
    """An emulator with a host team, a customer org and a Slack Connect channel."""
    with SlackEmulator() as emulator:
        emulator.add_team("T0CUST", "Customer Co", enterprise_id="E0CUST")
        emulator.add_user("U0AM", team_id="T0ACME", name="am", email="am@acme.example")
        emulator.add_user("W0CUST", team_id="T0CUST", name="casey", real_name="Casey Customer")
        emulator.add_channel(SHARED, "ext-customer-co", is_ext_shared=True)
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    """The real slack_sdk client pointed at the emulator."""
    return WebClient(token=emu.bot_token, base_url=emu.api_url)
