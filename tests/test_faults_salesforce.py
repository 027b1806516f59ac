"""Salesforce answering INVALID_SESSION_ID for every call until a re-login succeeds (issue 16,
"Faults").

The app signs in with a password (so it can log in again) to the local Salesforce server, and
a worker process runs the pipeline on its threads. The org then expires every session: the
requests and an escalation that arrive together all meet INVALID_SESSION_ID, and one re-login
serves them all. Then the session expires while logging in fails too (the password was
rotated): the cards go out saying why, and once logging in works again the context is back.
tests/test_salesforce.py covers the directory alone (one re-login, no loop).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import Request
from sandbox.world import APPROVER, BOT_USER, TRIAGE
from tests import salesforce_world
from tests.faults_helpers import all_carded, assert_each_message_once, messages_said
from tests.harness import World, wait_for
from tests.salesforce_world import PASSWORD, Org, StartWorld
from workers.escalation import recover_escalations

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures
crm_world = salesforce_world.crm_world  # fixture

pytestmark = pytest.mark.slow

ESCALATIONS = "C0ESCALATE"


def _card_of(world: World, ts: str) -> str:
    with transaction(world.deps.sessions) as session:
        card_ts = session.scalars(select(Request.card_ts).where(Request.ts == ts)).one()
    [card] = [c for c in world.cards() if c["ts"] == card_ts]
    return json.dumps(card["blocks"])


def _say(world: World, texts: list[str]) -> list[str]:
    """Customer messages delivered one after the other; their ts."""
    return [world.customer_says(text)["event"]["ts"] for text in texts]


def test_an_expired_session_is_renewed_once_and_nothing_is_lost(
    crm_world: StartWorld, org: Org
) -> None:
    """Make `SalesforceDirectory._connected` log in again whenever a call met an expired
    session (drop its `self._client is expired` condition) and the threads that met it together
    log in once each."""
    server = org.server
    with crm_world(
        "password",
        grouping_minutes=0,
        context_cache_seconds=0,  # every request asks Salesforce
        support_leads=APPROVER,
        escalation_channel=ESCALATIONS,
    ) as world:
        world.emu.add_channel(ESCALATIONS, "escalations", members=[BOT_USER, APPROVER])
        world.start_worker("faults-sf-worker")
        [first] = _say(world, ["Our checkout API returns 500 for every order"])
        wait_for(lambda: all_carded(world, [first]), timeout=30)
        assert "Globex Corporation" in _card_of(world, first)
        with transaction(world.deps.sessions) as session:
            permalink = session.scalars(select(Request.permalink)).one()

        # Every session expires: four requests and an escalation meet INVALID_SESSION_ID.
        server.expire_sessions()
        server.clear_requests()
        burst = _say(world, [f"Order {n:03d} never shipped" for n in range(4)])
        body, _ = world.emu.slash_command(
            "/escalate", f"<{permalink}> P1 Checkout is down", user=APPROVER, channel=TRIAGE
        )
        assert world.send(body)[0] == 200
        wait_for(lambda: all_carded(world, burst) and _cases(org), timeout=30)
        assert all("Globex Corporation" in _card_of(world, ts) for ts in burst)
        assert [r.status for r in server.logins()] == [200]  # one re-login served them all
        assert any(r.status == 401 for r in server.api_calls())

        # The session expires and logging in fails too, for a while.
        server.expire_sessions()
        server.password = "rotated"
        server.clear_requests()
        down = _say(world, ["Invoice 001 has the wrong VAT", "Invoice 002 too"])
        wait_for(lambda: all_carded(world, down), timeout=30)
        for ts in down:
            assert "Salesforce login failed (INVALID_LOGIN)" in _card_of(world, ts)
        assert server.logins() and all(r.status != 200 for r in server.logins())

        server.password = PASSWORD  # logging in works again
        back = _say(world, ["Invoice 003 as well"])
        wait_for(lambda: all_carded(world, back), timeout=30)
        assert "Globex Corporation" in _card_of(world, back[0])

        time.sleep(world.settings.lease_seconds)  # a late duplicate would show up here
        said = messages_said(world)
        assert len(said) == 8
        assert_each_message_once(world, said)
        [case] = _cases(org)  # created once, after the re-login
        assert case["AccountId"] == org.globex


def _cases(org: Org) -> list[dict[str, object]]:
    return [c for c in org.server.org.records["Case"].values() if c.get("Origin") == "Slack"]


def test_an_escalation_salesforce_refused_gets_its_case_once_it_is_back(
    crm_world: StartWorld, org: Org
) -> None:
    """Logging in fails (the password was rotated) as a lead escalates: the post goes out
    saying the Case is owed, and the escalation is not done; once Salesforce takes logins
    again, the sweeper's next try opens the Case, once, and the post shows it. Marking the
    escalation done whatever `_case` said loses the Case for good, and this test fails."""
    server = org.server
    with crm_world(
        "password", grouping_minutes=0, support_leads=APPROVER, escalation_channel=ESCALATIONS
    ) as world:
        world.emu.add_channel(ESCALATIONS, "escalations", members=[BOT_USER, APPROVER])
        _say(world, ["Our checkout API returns 500 for every order"])
        world.drain()
        with transaction(world.deps.sessions) as session:
            permalink = session.scalars(select(Request.permalink)).one()

        server.expire_sessions()
        server.password = "rotated"
        body, _ = world.emu.slash_command(
            "/escalate", f"<{permalink}> P1 Checkout is down", user=APPROVER, channel=TRIAGE
        )
        assert world.send(body)[0] == 200
        wait_for(lambda: _escalation(world)[0] == 1)
        world.drain()
        [post] = world.emu.messages(ESCALATIONS)
        assert "no Case yet" in json.dumps(post["blocks"]) and not _cases(org)
        assert _escalation(world) == (1, 0)  # not done: the Case is owed

        server.password = PASSWORD  # Salesforce takes logins again
        with transaction(world.deps.sessions) as session:  # a minute later, for the sweeper
            request = session.scalars(select(Request)).one()
            request.escalated_at = request.escalated_at - timedelta(minutes=1)
        assert recover_escalations(world.deps) == 1
        world.drain()
        [case] = _cases(org)
        assert case["AccountId"] == org.globex and case["Priority"] == "High"
        [post] = world.emu.messages(ESCALATIONS)  # the same post, now showing its Case
        assert "Case" in json.dumps(post["blocks"]) and "no Case" not in json.dumps(post["blocks"])
        assert _escalation(world) == (1, 1)
        assert recover_escalations(world.deps) == 0


def _escalation(world: World) -> tuple[int, int]:
    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request)).one()
        return request.escalations, request.escalations_done
