"""Who works an account's open Cases is part of its account team (SPEC §5.5)."""

from __future__ import annotations

import json

import pytest

from sandbox.world import APPROVER_2, CUSTOMER
from tests import salesforce_world as sfw
from tests.harness import REPO, World, start_world
from tests.test_salesforce import directory

org, jwt_keys = sfw.org, sfw.jwt_keys  # fixtures


def test_salesforce_returns_each_open_cases_owner_in_the_same_query(org: sfw.Org) -> None:
    ben = org.server.add_user("Ben Brown", "ben@acme.test")
    org.server.org.update("Case", org.urgent_case, {"OwnerId": ben})
    crm = directory(org, "access token")
    org.server.clear_requests()
    account = crm.context(channel_id=sfw.SHARED, account_id=None, customer_email=None)
    assert account is not None
    owners = {c.subject: c.owner.email if c.owner else None for c in account.open_cases}
    assert "ben@acme.test" in owners.values()
    assert len(org.server.api_calls()) == 1  # still one query


@pytest.fixture
def world(database_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    accounts = str(REPO / "sandbox" / "accounts.yaml")  # Ben works Globex's SSO case
    with start_world(database_url=database_url, redis_url=redis_url, accounts_file=accounts) as w:
        yield w


def test_a_case_owner_is_suggested_with_the_case_as_reason(world: World) -> None:
    world.customer_says(
        "Any news on the SSO certificate rotation for the EU tenant?", user=CUSTOMER
    )
    world.drain()
    [card] = world.cards()
    text = json.dumps(card["blocks"])
    assert f"<@{APPROVER_2}>" in text and "owns Case 00001026" in text
