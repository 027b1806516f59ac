"""Linking channels to accounts: `/triage link` in Slack (admins only) and `triage link`."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.models import AuditEntry, ChannelLink
from sandbox.world import (
    APPROVER,
    APPROVER_2,
    CUSTOMER_TEAM,
    INITECH,
    ORG,
)
from tests import salesforce_world
from tests.harness import World, start_world, triage_cli, wait_for
from tests.salesforce_world import Org, StartWorld
from tests.test_context import account_line

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures
crm_world = salesforce_world.crm_world  # fixture


def triage(
    world: World, text: str, *, user: str = APPROVER, team: str = ORG
) -> tuple[dict[str, Any], str]:
    """Run `/triage text` in the Initech channel; (the ack's body, the response_url's name)."""
    body, name = world.emu.slash_command("/triage", text, user=user, team=team, channel=INITECH)
    status, raw = world.send(body)
    assert status == 200, raw
    return (json.loads(raw) if raw.strip() else {}), name


def answer(world: World, name: str) -> dict[str, Any]:
    """What the lazy listener said through the response_url (it runs in its own thread)."""
    posts = wait_for(lambda: world.emu.responses(name))
    assert len(posts) == 1, posts
    return posts[0]


def links(world: World) -> list[tuple[str, str, str]]:
    with transaction(world.deps.sessions) as session:
        rows = session.scalars(select(ChannelLink)).all()
        return [(r.channel_id, r.account_id, r.linked_by) for r in rows]


def initech_customer_asks(world: World, text: str) -> str:
    world.initech_says(text)
    world.drain()
    return account_line(world.cards()[-1])


def test_an_admin_links_a_channel_and_the_next_card_shows_the_account(
    crm_world: StartWorld, org: Org
) -> None:
    with crm_world(grouping_minutes=0, triage_admins=APPROVER) as world:
        assert "not linked" in initech_customer_asks(world, "Is there an invoices API?")

        ack, name = triage(world, "link O'Brien & Co")
        assert ack == {}  # the ack says nothing; the answer comes once the CRM has answered
        said = answer(world, name)
        assert said["response_type"] == "ephemeral"
        assert said["text"] == f"✅ Linked this channel to O'Brien &amp; Co ({org.obrien})."
        assert links(world) == [(INITECH, org.obrien, APPROVER)]

        line = initech_customer_asks(world, "And one more question")  # cached "unlinked" dropped
        assert line.startswith("🏢 Account: *O'Brien &amp; Co* · standard · owner <@U0AMY>")
        with transaction(world.deps.sessions) as session:
            audit = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "channel.linked")
            ).one()
            assert audit.actor == APPROVER and audit.detail["account_id"] == org.obrien


def test_only_admins_of_our_organisation_may_link(crm_world: StartWorld, org: Org) -> None:
    with crm_world() as world:
        world.emu.add_user(
            "U0OURADMIN", team_id=ORG, name="olga", email="olga@acme.test", is_admin=True
        )
        world.emu.add_user("U0THEIRADMIN", team_id=CUSTOMER_TEAM, name="tom", is_admin=True)

        for user, team in [(APPROVER_2, ORG), ("U0THEIRADMIN", CUSTOMER_TEAM)]:
            _, name = triage(world, "link Globex Corporation", user=user, team=team)
            assert "Only workspace admins" in answer(world, name)["text"]
        assert links(world) == []

        _, name = triage(world, "link Globex Corporation", user="U0OURADMIN")
        assert answer(world, name)["text"].startswith("✅ Linked this channel to Globex")
        assert links(world) == [(INITECH, org.globex, "U0OURADMIN")]


def test_an_ambiguous_or_unknown_account_links_nothing(crm_world: StartWorld, org: Org) -> None:
    with crm_world(triage_admins=APPROVER) as world:
        _, name = triage(world, "link O'Brien")
        text = answer(world, name)["text"]
        assert "Several accounts match" in text and org.obrien in text
        _, name = triage(world, "link Soylent")
        assert answer(world, name)["text"] == "⚠️ No account matches “Soylent”; nothing was linked."
        assert links(world) == []

        _, name = triage(world, f"link {org.globex}")  # by id
        assert answer(world, name)["text"].startswith("✅ Linked this channel to Globex")


def test_help_usage_and_what_is_not_built(database_url: str, redis_url: str) -> None:
    with start_world(
        database_url=database_url, redis_url=redis_url, triage_admins=APPROVER
    ) as world:
        ack, _ = triage(world, "help")
        assert "/triage link <account id or name>" in ack["text"]
        assert ack["response_type"] == "ephemeral"
        ack, _ = triage(world, "link")
        assert ack["text"].startswith("Usage: `/triage link")
        ack, _ = triage(world, "status")
        assert ack["text"] == "✅ No open requests. Nobody is waiting."
        ack, _ = triage(world, "report")
        assert ack["text"] == "`/triage report` is not built yet. Try `/triage help`."
        _, name = triage(world, "link Globex")  # an admin, but no CRM is configured
        assert answer(world, name)["text"] == (
            "⚠️ No CRM is configured: set SALESFORCE_* or ACCOUNTS_FILE first."
        )


def test_the_cli_links_a_channel(crm_world: StartWorld, org: Org) -> None:
    with crm_world(auth="password") as world:

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return triage_cli("link", *args, env=world.env, timeout=60)

        result = cli(INITECH, "O'Brien & Co")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"Linked {INITECH} to O'Brien & Co ({org.obrien})."
        assert links(world) == [(INITECH, org.obrien, "cli")]

        result = cli("#ext-initech", "Globex")
        assert result.returncode == 2 and "is not a channel id" in result.stdout
        result = cli(INITECH, "Nobody Inc")
        assert result.returncode == 1 and "No account matches" in result.stdout
