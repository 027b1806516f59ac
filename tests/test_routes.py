"""Cards routed to several internal channels (TRIAGE_ROUTES), and never to a shared one.

The rule for the customer's channel wins, then the account owner's, then the tier's, then
`default`, then TRIAGE_CHANNEL. A card stays where it was posted: updates, clicks and thread
notes follow it there.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from integrations.settings import Settings, load_settings
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Request, RequestState
from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_interactivity import block_actions_body
from sandbox.world import TOKEN, build_emulator
from tests.harness import (
    APPROVER,
    BOT_USER,
    CUSTOMER_TEAM,
    ORG,
    REPO,
    TRIAGE,
    World,
    start_world,
)
from tests.test_doctor import doctor
from workers.ids import ActionId
from workers.routes import NOWHERE, card_channel
from workers.stage_data import Account, Person, RequestContext

ACCOUNTS = str(REPO / "sandbox" / "accounts.yaml")  # Globex: enterprise, owned by Amy
ENTERPRISE = "C0ENTERPRISE"
LEAKY = "C0LEAKY"  # an "internal" channel someone shared with a customer's organisation


def settings(routes: str, triage_channel: str | None = "C0TRIAGE") -> Settings:
    return load_settings(_env_file=None, triage_routes=routes, triage_channel=triage_channel)


def context(*, owner: str | None = None, tier: str | None = None) -> RequestContext:
    person = Person(name="someone", slack_user_id=owner) if owner else None
    return RequestContext(status="ok", account=Account(name="Acct", tier=tier, owner=person))


ALL = "channel:C0GLOBEX=C1,owner:U0AMY=C2,tier:Enterprise=C3,default=C4"


@pytest.mark.parametrize(
    ("customer_channel", "found", "expected"),
    [
        ("C0GLOBEX", context(owner="U0AMY", tier="enterprise"), "C1"),  # channel: first
        ("C0OTHER", context(owner="U0AMY", tier="enterprise"), "C2"),  # then owner:
        ("C0OTHER", context(owner="U0BEN", tier=" ENTERPRISE "), "C3"),  # then tier:, any case
        ("C0OTHER", context(owner="U0BEN", tier="standard"), "C4"),  # then default
        ("C0OTHER", None, "C4"),  # no context yet: default
        ("C0OTHER", RequestContext(status="unlinked", reason="not linked"), "C4"),
    ],
)
def test_the_first_matching_rule_chooses_the_channel(
    customer_channel: str, found: RequestContext | None, expected: str
) -> None:
    chosen = card_channel(settings(ALL), customer_channel=customer_channel, context=found)
    assert chosen == expected


def test_without_a_matching_rule_the_card_goes_to_triage_channel() -> None:
    routes = settings("tier:enterprise=C3")
    found = context(owner="U0BEN", tier="premium")
    assert card_channel(routes, customer_channel="C0X", context=found) == "C0TRIAGE"
    assert card_channel(settings(""), customer_channel="C0X", context=found) == "C0TRIAGE"


def test_nowhere_to_post_is_the_same_clear_error_as_without_routes() -> None:
    with pytest.raises(RuntimeError) as plain:
        card_channel(settings("", None), customer_channel="C0X", context=None)
    assert str(plain.value) == NOWHERE
    with pytest.raises(RuntimeError) as routed:
        card_channel(settings("tier:enterprise=C3", None), customer_channel="C0X", context=None)
    assert str(routed.value).startswith(NOWHERE) and "channel:C0X" in str(routed.value)


# --- end to end through the emulator --------------------------------------------------------
@pytest.fixture
def routed_world(database_url: str, redis_url: str) -> Iterator[World]:
    """Globex (enterprise) cards go to their own channel; every other card to TRIAGE."""
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        accounts_file=ACCOUNTS,
        triage_routes=f"tier:enterprise={ENTERPRISE}",
    ) as world:
        world.emu.add_channel(ENTERPRISE, "triage-enterprise", members=[BOT_USER, APPROVER])
        yield world


def click_in(world: World, channel: str, action_id: str, card: dict[str, Any]) -> int:
    """A button on a card in `channel`, clicked by the approver."""
    body = block_actions_body(
        user_id=APPROVER,
        user_team_id=ORG,
        team_id=ORG,
        channel_id=channel,
        message_ts=card["ts"],
        message=card,
        action_id=action_id,
        response_url=world.emu.response_url(f"click-{time.time_ns()}"),
    )
    status, _ = world.send(body)
    return status


def bot_messages(world: World, channel: str) -> list[dict[str, Any]]:
    return [m for m in world.emu.messages(channel) if m.get("bot_id")]


def test_an_enterprise_card_lands_in_its_route_and_is_approved_there(routed_world: World) -> None:
    world = routed_world
    asked = world.customer_says("Our SSO login fails with error 500 since this morning")
    world.drain()
    assert world.cards() == []  # nothing in TRIAGE_CHANNEL
    [card] = bot_messages(world, ENTERPRISE)
    assert "Globex" in json.dumps(card["blocks"])
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request)).one()
        assert (request.card_channel, request.card_ts) == (ENTERPRISE, card["ts"])

    assert click_in(world, ENTERPRISE, ActionId.APPROVE_DRAFT, card) == 200
    world.drain()
    [reply] = world.replies_in(asked["event"]["ts"])
    assert reply["text"]
    [card] = bot_messages(world, ENTERPRISE)
    assert "Approved" in json.dumps(card["blocks"])
    updates = world.emu.calls("chat.update")
    assert updates and {u.args["channel"] for u in updates} == {ENTERPRISE}
    assert world.cards() == []
    with transaction(world.deps.sessions) as session:
        assert session.scalars(select(Request)).one().state == RequestState.ANSWERED


def test_a_request_with_no_matching_route_goes_to_triage_channel(routed_world: World) -> None:
    world = routed_world
    world.initech_says("Where do I find the CSV export?")  # Initech is premium
    world.drain()
    assert len(world.cards()) == 1 and bot_messages(world, ENTERPRISE) == []


def test_a_card_stays_where_it_was_posted_when_the_routes_change(
    database_url: str, redis_url: str
) -> None:
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        accounts_file=ACCOUNTS,
        triage_routes=f"owner:{APPROVER}={ENTERPRISE}",  # Amy owns Globex
    ) as world:
        world.emu.add_channel(ENTERPRISE, "triage-amy", members=[BOT_USER, APPROVER])
        first = world.customer_says("How do I rotate our API key without downtime?")
        world.drain()
        [card] = bot_messages(world, ENTERPRISE)
        world.settings.triage_routes = {}  # a redeploy without routes: new cards to TRIAGE
        world.customer_says("Also: does it log everyone out?", thread_ts=first["event"]["ts"])
        world.drain()
        [update] = world.emu.calls("chat.update")
        assert (update.args["channel"], update.args["ts"]) == (ENTERPRISE, card["ts"])
        assert world.cards() == []


# --- never a shared channel ---------------------------------------------------------------
def add_leaky(emu: SlackEmulator) -> None:
    emu.add_channel(
        LEAKY,
        "triage-vip",
        is_ext_shared=True,
        connected_team_ids=[ORG, CUSTOMER_TEAM],
        members=[BOT_USER, APPROVER],
    )


def test_a_shared_route_channel_is_refused_at_start_and_before_posting(
    database_url: str, redis_url: str
) -> None:
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        accounts_file=ACCOUNTS,
        triage_routes=f"tier:enterprise={LEAKY}",
    ) as world:
        add_leaky(world.emu)
        log_name = f"shared-route-channel-{time.time_ns()}"
        worker = world.start_worker(log_name)
        assert worker.wait(timeout=30) == 2
        log = (Path(world.env["TRIAGE_TEST_LOG_DIR"]) / f"{log_name}.log").read_text()
        [line] = [x for x in log.splitlines() if x.startswith("error:")]
        assert f"TRIAGE_ROUTES tier:enterprise ({LEAKY}) is shared with another" in line

        world.customer_says("Our SSO login fails with error 500 since this morning")
        world.drain()
        assert bot_messages(world, LEAKY) == [] and world.cards() == []
        assert not [c for c in world.emu.calls("chat.postMessage") if c.args["channel"] == LEAKY]
        with transaction(world.deps.sessions) as session:
            failed = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "card.failed")
            ).one()
            assert failed.detail == {"error": "shared_channel_refused", "channel": LEAKY}
            assert session.scalars(select(Request)).one().card_ts is None


def test_doctor_fails_on_a_shared_route_channel(database_url: str, redis_url: str) -> None:
    emu = build_emulator()
    add_leaky(emu)
    emu.add_channel(ENTERPRISE, "triage-enterprise", members=[BOT_USER, APPROVER])
    with emu.start():

        def doctor_with(routes: str) -> subprocess.CompletedProcess[str]:
            return doctor(
                database_url,
                redis_url,
                slack_api_url=emu.api_url,
                slack_bot_token=TOKEN,
                slack_signing_secret="s",
                triage_channel=TRIAGE,
                triage_routes=routes,
            )

        leaky = doctor_with(f"tier:enterprise={ENTERPRISE},default={LEAKY}")
        fine = doctor_with(f"tier:enterprise={ENTERPRISE}")
    assert leaky.returncode == 1, leaky.stdout
    [line] = [x for x in leaky.stdout.splitlines() if "TRIAGE_ROUTES" in x]
    assert line.startswith(f"✗ TRIAGE_ROUTES: default: #triage-vip ({LEAKY}) is shared with")
    assert "tier:enterprise" not in line  # only the route that fails is named
    assert fine.returncode == 0, fine.stdout
    assert (
        f"✓ TRIAGE_ROUTES: tier:enterprise: #triage-enterprise ({ENTERPRISE}) is internal and "
        "the bot is in it"
    ) in fine.stdout.splitlines()
