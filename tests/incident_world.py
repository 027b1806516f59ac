"""The world incidents are tested in (SPEC §6.6): customers of different accounts, each in
their own shared channel, an incident channel, and the clicks that send an update. Shared by
tests/test_incidents.py and the tests of what shows incidents (status, App Home, report)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.slack_interactivity import block_actions_body
from sandbox.world import APPROVER, BOT_USER, ORG
from tests.harness import World, start_world, wait_for
from workers.ids import BlockId, CallbackId

INCIDENTS = "C0INCIDENTS"
SSO = [
    "SAML login is failing for all our users since 9am, the ACS endpoint returns HTTP 500",
    "No podemos iniciar sesión con SSO, nos da error 500 desde esta mañana",
    "我们的用户无法通过SAML单点登录，返回500错误",
    "getting 500 Internal Server Error on /sso/saml/acs right after Okta redirects back",
]


@contextmanager
def incident_world(database_url: str, redis_url: str, **overrides: Any) -> Iterator[World]:
    """A world whose incident card goes to `INCIDENTS`, with short SLAs around the clock."""
    settings: dict[str, Any] = dict(
        grouping_minutes=0,
        escalation_channel=INCIDENTS,
        sla_minutes="standard=0.05",
        business_hours="mon-sun 00:00-24:00 UTC",
    )
    with start_world(
        database_url=database_url, redis_url=redis_url, **(settings | overrides)
    ) as world:
        world.emu.add_channel(INCIDENTS, "incidents", members=[BOT_USER, APPROVER])
        yield world


def customer(world: World, n: int) -> dict[str, str]:
    """The n-th customer: their own organisation, person and shared channel (an account)."""
    team, user, channel = f"T0CUST{n:03d}", f"U0CUST{n:03d}", f"C0CUST{n:03d}"
    world.emu.add_team(team, f"Customer {n}")
    world.emu.add_user(user, team_id=team, name=f"cust{n}", real_name=f"Customer {n}")
    world.emu.add_channel(
        channel, f"ext-customer-{n}", is_ext_shared=True, members=[BOT_USER, APPROVER, user]
    )
    return {"user": user, "team": team, "channel": channel}


def says(world: World, who: dict[str, str], text: str) -> dict[str, Any]:
    return world.customer_says(text, user=who["user"], team=who["team"], channel=who["channel"])


def incident_cards(world: World) -> list[dict[str, Any]]:
    return [m for m in world.emu.messages(INCIDENTS) if "Incident #" in m.get("text", "")]


def click(world: World, message: dict[str, Any], action: str, value: str, channel: str) -> None:
    block = next(
        b["block_id"]
        for b in message["blocks"]
        if value in json.dumps(b) and action in json.dumps(b)
    )
    body = block_actions_body(
        user_id=APPROVER,
        user_team_id=ORG,
        team_id=ORG,
        channel_id=channel,
        message_ts=message["ts"],
        message=message,
        action_id=action,
        value=value,
        block_id=block,
        response_url=world.emu.response_url(f"click-{time.time_ns()}"),
    )
    status, _ = world.send(body)
    assert status == 200


def submit_update(world: World, incident: dict[str, Any], action: str, text: str | None) -> None:
    """Click `action` (update or resolve) on the incident card and submit its modal."""
    before = len(world.emu.views())
    click(world, incident, action, incident["blocks"][-1]["elements"][0]["value"], INCIDENTS)
    view = wait_for(lambda: world.emu.views()[before:])[0]["view"]
    assert view["callback_id"] == CallbackId.INCIDENT_UPDATE
    drafted = view["blocks"][1]["element"]["initial_value"]
    status, raw = world.submit_view(
        view, {BlockId.INCIDENT_TEXT: {BlockId.INCIDENT_TEXT_INPUT: text or drafted}}
    )
    assert status == 200 and not raw.strip(), raw
