"""Account health (SPEC §6.7) on the card's account line and in App Home, on PostgreSQL, Redis
and the Slack emulator: Globex breaches its SLA three times, gets a 👎 on an answer, writes in
anger and renews in 21 days; Initech, quiet, asks one question.

The history is made the way production makes it: answers approved through the card, a 👎 as
Slack delivers it, clocks breached by the sweeper's recovery (`recover_clocks`, given a later
moment instead of the test sleeping)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from integrations.store.csat_models import CsatValue, CsatVote
from integrations.store.db import transaction
from integrations.store.models import Request
from sandbox.world import APPROVER, BOT_USER, CUSTOMER
from tests.harness import World, start_world
from tests.test_app_home import open_home
from tests.test_feedback import answer, react
from workers.health import account_health, accounts_at_risk, accounts_health, frustrated
from workers.sla import recover_clocks
from workers.stage_data import request_context

ESCALATIONS = "C0ESCALATE"
ACCOUNTS = """accounts:
  - id: 001HEALTH00GLOBEX
    name: Globex Corporation
    channel: C0GLOBEX
    tier: enterprise
    owner: {name: Amy, email: amy@acme.test}
    renewal: 21
  - id: 001HEALTH0INITECH
    name: Initech
    channel: C0INITECH
    tier: premium
    owner: {name: Ben, email: ben@acme.test}
    renewal: 50  # a reason, but a healthy account all the same
    cases:
      - {id: 500HEALTH0000001, number: "1", subject: CSV export, status: New, priority: Medium,
         opened: -3}
"""


@pytest.fixture
def health_world(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[World]:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(ACCOUNTS)
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        grouping_minutes=0,
        accounts_file=str(accounts),
        escalation_channel=ESCALATIONS,
        sla_minutes="enterprise=0.05,premium=60,standard=240",  # Globex's: 3 seconds
        business_hours="mon-sun 00:00-24:00 UTC",
    ) as world:
        world.emu.add_channel(ESCALATIONS, "escalations", members=[BOT_USER, APPROVER])
        yield world


def health_errors() -> float:
    return REGISTRY.get_sample_value("triage_errors_total", {"where": "health"}) or 0.0


def account_line(card: dict[str, Any]) -> str:
    [line] = [
        element["text"]
        for block in card["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
        if element.get("text", "").startswith("🏢 Account")
    ]
    return str(line)


def troubled_globex(world: World) -> None:
    """One answer with a 👎, three requests past their SLA, and an angry message."""
    posted = answer(world, "Where do I download last month's invoice?", "Billing → Invoices.")
    react(world, posted, CUSTOMER, "-1")
    world.drain()
    for question in ("Can we add a second admin?", "Is SAML supported?", "Where is the API key?"):
        world.customer_says(question)
    world.drain()
    assert recover_clocks(world.deps, now=datetime.now(UTC) + timedelta(minutes=10)) == 3
    world.drain()
    world.customer_says("This is unacceptable, the export is still broken!!")
    world.drain()


def test_a_troubled_account_is_at_risk_on_its_card_and_in_home_and_nowhere_else(
    health_world: World,
) -> None:
    """Removing `Request.account_key.in_(signals)` from `_read_history` (workers/health.py)
    fails this test: the rows of every account come back, and Globex's card, drawn with
    Initech's rows in the database, cannot read its health (a KeyError on Initech's key,
    logged and counted) and loses its note. Removing the
    `self.level == "good"` guard of `Health.card_note` puts "🩺 good: renewal in 50 days" on
    Initech's card: this test fails."""
    world = health_world
    errors = health_errors()
    world.initech_says("Is there a sandbox environment?")  # its rows are there from the start
    world.drain()
    troubled_globex(world)
    world.initech_says("Where do I change the export schedule?")
    world.drain()

    globex, initech = world.cards()[-2], world.cards()[-1]
    assert account_line(globex).endswith(
        " · renewal in 21 days"  # the account line's own, not said twice
        " · 🩺 at risk: 3 SLA breaches in 30 days · 1 👎 on our answers in 30 days"
        " · 1 frustrated message"
    ), account_line(globex)
    for card in (world.cards()[0], initech):
        quiet = account_line(card)
        assert "🩺" not in quiet and "breach" not in quiet and "👎" not in quiet, quiet
        assert "Initech" in quiet
    assert health_errors() == errors

    home = json.dumps(open_home(world, APPROVER), ensure_ascii=False)
    risky = home.split("Accounts most at risk")[1].split("The team's last 7 days")[0]
    assert "🩺 *Globex Corporation* · at risk (" in risky
    for reason in (
        "3 SLA breaches in 30 days",
        "renewal in 21 days",
        "1 👎 on our answers in 30 days",
        "1 frustrated message",
    ):
        assert reason in risky, (reason, risky)
    assert "Initech" not in risky


def test_health_is_two_statements_however_long_the_history(health_world: World) -> None:
    """The card's health is read in its own transaction in two statements (one aggregate row,
    the recent messages): the pipeline gains no transaction (tests/test_round_trips.py) and
    the card no query per past request. App Home's list costs three. A month on, nothing
    counts: removing `SlaClock.breached_at >= since` from `_read_history` keeps the three
    breaches in the reasons and this test fails."""
    world = health_world
    troubled_globex(world)
    statements: list[str] = []

    def count(_c: Connection, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    with transaction(world.deps.sessions) as session:
        request = session.scalars(select(Request).order_by(Request.id.desc()).limit(1)).one()
        key, context = request.account_key, request_context(request)
        assert key is not None
        event.listen(world.deps.engine, "before_cursor_execute", count)
        try:
            health = account_health(session, key, context, datetime.now(UTC))
            card_statements = len(statements)
            at_risk = accounts_at_risk(session, datetime.now(UTC))
        finally:
            event.remove(world.deps.engine, "before_cursor_execute", count)
    assert card_statements == 2, statements
    assert len(statements) == 2 + 3, statements
    assert health.level == "at risk" and health.score < 50
    with transaction(world.deps.sessions) as session:  # a month on, it has all passed
        later = account_health(session, key, context, datetime.now(UTC) + timedelta(days=31))
    assert later.reasons == [] and later.level == "good", later
    assert [a.name for a in at_risk] == ["Globex Corporation"]


def test_csat_votes_and_urgent_requests_count_in_their_window_for_their_account(
    health_world: World,
) -> None:
    """A vote counts when it was cast, or last changed, within 30 days; a request triaged
    urgent or high, when it came within 14. Another account's health holds none of it.
    Without `voted` on the answers' count, the old vote makes it "1 of 3" and this fails."""
    world = health_world
    for question in ("Where is the API key?", "Can we add a second admin?"):
        world.customer_says(question)
    world.drain()
    now = datetime.now(UTC)
    with transaction(world.deps.sessions) as session:
        first, second = session.scalars(select(Request).order_by(Request.id)).all()
        first.urgency, second.urgency = "high", "normal"
        key = str(first.account_key)
        session.add_all(
            [
                CsatVote(request_id=first.id, user_id="W1", value=CsatValue.BAD, voted_at=now),
                CsatVote(
                    request_id=second.id,
                    user_id="W1",
                    value=CsatValue.GOOD,
                    voted_at=now - timedelta(days=40),
                    changed_at=now - timedelta(days=2),  # changed its mind lately: counts
                ),
                CsatVote(
                    request_id=second.id,
                    user_id="W2",
                    value=CsatValue.BAD,
                    voted_at=now - timedelta(days=35),  # too long ago
                ),
            ]
        )
    with transaction(world.deps.sessions) as session:
        found = accounts_health(session, {key: None, "channel:C0OTHER": None}, now)
    assert "CSAT: 1 of 2 unhappy" in found[key].reasons
    assert "1 urgent request in 14 days" in found[key].reasons
    assert found["channel:C0OTHER"].reasons == []
    with transaction(world.deps.sessions) as session:  # three weeks on
        later = account_health(session, key, None, now + timedelta(days=21))
    assert "1 urgent request in 14 days" not in later.reasons
    assert "CSAT: 1 of 2 unhappy" in later.reasons  # both votes still within 30 days


def test_the_frustration_lexicon() -> None:
    """Markers in the languages our customers write in; ordinary questions carry none."""
    for angry in (
        "This is unacceptable",
        "still not working after a week",
        "¡Es urgente! El panel sigue sin cargar",
        "C'est toujours pas réglé",
        "Das ist schon wieder kaputt",
        "ainda não funciona",
        "hello??!!",
    ):
        assert frustrated(angry), angry
    for calm in ("Where do I download invoices?", "Can we add a second admin?", "Merci !"):
        assert not frustrated(calm), calm
