"""Context on every card (SPEC §5.3): the real app, the Slack emulator and the local Salesforce."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from integrations.salesforce import NewCase
from integrations.store.db import transaction
from integrations.store.models import Request
from tests import salesforce_world
from tests.harness import REPO, World, start_world
from tests.salesforce_world import Org, StartWorld
from workers.context import open_case

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures
crm_world = salesforce_world.crm_world  # fixture


def account_line(card: dict[str, Any]) -> str:
    """The text of the card's account context block."""
    for block in card["blocks"]:
        for element in block.get("elements", []):
            text = element.get("text", "")
            if isinstance(text, str) and text.startswith("🏢 Account"):
                return text
    raise AssertionError(f"no account line on the card: {card['blocks']}")


def contexts(world: World) -> list[dict[str, Any]]:
    with transaction(world.deps.sessions) as session:
        return [r.context for r in session.scalars(select(Request).order_by(Request.id))]


def test_the_card_shows_the_account_owner_and_most_urgent_case_from_salesforce(
    crm_world: StartWorld, org: Org
) -> None:
    with crm_world(auth="password", grouping_minutes=0) as world:
        org.server.clear_requests()
        world.customer_says("Our SSO is down again for everyone, please help!")
        world.drain()

        line = account_line(world.cards()[0])
        assert line.startswith("🏢 Account: *Globex Corporation* · enterprise · owner <@U0AMY>")
        assert "2 open cases, most urgent: 00001002 “SSO outage for the EU tenant”" in line
        assert "(High, Working, 3d)" in line
        days = (org.renewal - datetime.now(UTC).date()).days  # 40, unless midnight just passed
        assert f"· renewal in {days} days" in line  # the renewal opportunity, not the upsell
        # Cold: a fresh process logs in once and asks one query; nothing else.
        assert len(org.server.logins()) == 1 and len(org.server.api_calls()) == 1
        context = contexts(world)[0]
        assert context["account"]["contact"]["id"] == org.carol  # Carol is the customer
        assert "@" not in context["brief"]  # the drafter gets no email addresses

        # Warm: the same customer's next request costs no Salesforce or Slack look-up.
        org.server.clear_requests()
        world.emu.clear_calls()
        world.customer_says("And where do I find the audit log export?")
        world.drain()
        assert org.server.requests == []
        assert world.emu.calls("users.info") == [] and world.emu.calls("users.lookupByEmail") == []
        assert len(world.cards()) == 2 and account_line(world.cards()[1]) == line


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            "INVALID_SESSION_ID",
            "Salesforce session expired: SALESFORCE_ACCESS_TOKEN needs replacing",
        ),
        ("REQUEST_LIMIT_EXCEEDED", "Salesforce API request limit exceeded"),
        ("SERVER_ERROR", "Salesforce error (HTTP 500, UNKNOWN_EXCEPTION)"),
        ("HANG", "Salesforce did not answer within 1 s"),
    ],
)
def test_when_salesforce_fails_the_card_still_arrives_saying_why(
    crm_world: StartWorld, org: Org, fault: str, reason: str
) -> None:
    with crm_world(salesforce_timeout_seconds=1) as world:
        org.server.fail(fault, times=5)
        started = time.monotonic()
        world.customer_says("SAML login fails for all our users since 9am, error 500.")
        world.drain()

        cards = world.cards()
        assert len(cards) == 1
        assert account_line(cards[0]) == f"🏢 Account: unavailable ({reason})"
        assert "Draft reply" in str(cards[0]["blocks"])  # the request went on to its draft
        assert time.monotonic() - started < 15


def test_an_exhausted_api_limit_pauses_salesforce_instead_of_asking_per_request(
    crm_world: StartWorld, org: Org
) -> None:
    with crm_world(grouping_minutes=0) as world:
        org.server.fail("REQUEST_LIMIT_EXCEEDED")
        world.customer_says("First question: how do exports work?")
        world.drain()
        org.server.clear_requests()
        world.customer_says("Second question: can we add an admin?")
        world.drain()

        assert org.server.requests == []
        assert "request limit exceeded; not asking again for" in account_line(world.cards()[1])


def test_a_channel_without_an_account_gets_its_card_saying_how_to_link_it(
    crm_world: StartWorld,
) -> None:
    with crm_world() as world:
        world.initech_says("Hello, is there an API for invoices?")
        world.drain()
        assert account_line(world.cards()[0]) == (
            "🏢 Account: this channel is not linked to an account: "
            "/triage link &lt;account id or name&gt;"
        )


def test_a_case_the_app_opens_drops_the_cached_context(crm_world: StartWorld, org: Org) -> None:
    with crm_world(grouping_minutes=0) as world:
        world.customer_says("Question one: how do exports work?")
        world.drain()
        assert "2 open cases" in account_line(world.cards()[0])

        case_id = open_case(
            world.deps,
            NewCase(
                account_id=org.globex,
                subject="Escalated: outage",
                description="link",
                priority="High",
            ),
        )
        assert org.server.record("Case", case_id) is not None
        org.server.clear_requests()
        world.customer_says("Question two: can we add an admin?")
        world.drain()

        assert len(org.server.api_calls()) == 1  # asked again, not served from the cache
        assert "3 open cases" in account_line(world.cards()[1])


def test_without_salesforce_the_accounts_file_gives_the_context(
    database_url: str, redis_url: str
) -> None:
    accounts = REPO / "sandbox" / "accounts.yaml"
    with start_world(
        database_url=database_url, redis_url=redis_url, accounts_file=str(accounts)
    ) as world:
        world.customer_says("Where is the audit log export?")
        world.drain()
        line = account_line(world.cards()[0])
        assert line.startswith("🏢 Account: *Globex Corporation* · enterprise · owner <@U0AMY>")
        assert "2 open cases, most urgent: 00001026" in line and "renewal in 45 days" in line
        assert contexts(world)[0]["source"] == "accounts file"


def test_without_any_crm_the_card_says_so(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url) as world:
        world.customer_says("Hello?")
        world.drain()
        assert account_line(world.cards()[0]) == (
            "🏢 Account: unavailable (no CRM configured: set SALESFORCE_* or ACCOUNTS_FILE)"
        )


def test_a_link_to_an_account_that_is_gone_says_so(database_url: str, redis_url: str) -> None:
    from app.account_links import save_link
    from integrations.salesforce import AccountRef

    accounts = REPO / "sandbox" / "accounts.yaml"
    with start_world(
        database_url=database_url, redis_url=redis_url, accounts_file=str(accounts)
    ) as world:
        save_link(
            world.deps, channel_id="C0GLOBEX", account=AccountRef("001GONE", "Gone"), actor="cli"
        )
        world.customer_says("Hello?")
        world.drain()
        assert account_line(world.cards()[0]) == (
            "🏢 Account: the account this channel is linked to (001GONE) was not found: "
            "/triage link &lt;account id or name&gt;"
        )
