"""`/triage status` (SPEC §6.2): every open request a support lead can act on, ephemeral.

The queue is written straight into the database (the command reads nothing else); the
command goes through Slack's real slash-command wire format to the app, whose ack carries
the answer. Its blocks are held to Slack's limits with the emulator's own checker.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.incident_models import Incident
from integrations.store.models import Request, RequestState, SlaClock
from sandbox.slack_methods_chat import MAX_BLOCKS, MAX_SECTION_TEXT, check_block_limits
from sandbox.world import APPROVER, CUSTOMER, CUSTOMER_TEAM, ORG, SHARED, TRIAGE
from tests.harness import World
from tests.incident_world import SSO, customer, incident_cards, incident_world, says, submit_update
from workers.blocks.kit import plain
from workers.ids import ActionId

WORKSPACE = "https://acme.slack.com"
UNLINKED = "C0NEWCUST"


def add_request(
    world: World,
    n: int,
    *,
    account: str | None,
    channel: str = SHARED,
    urgency: str | None = "normal",
    age: timedelta = timedelta(hours=1),
    sla: str = "running",  # "running", "near", "breached" or "none" (no clock)
    state: RequestState = RequestState.OPEN,
    card: bool = True,
) -> int:
    """An open request `n` seconds into the day, carded in the triage channel, with its clock."""
    now = datetime.now(UTC)
    ts = f"1700000{n:03d}.000100"
    context: dict[str, Any] = (
        {"status": "ok", "account": {"id": f"001{n}", "name": account}}
        if account
        else {"status": "unlinked", "reason": "This channel is not linked to an account."}
    )
    with transaction(world.deps.sessions) as session:
        request = Request(
            team_id=ORG,
            channel_id=channel,
            ts=ts,
            thread_ts=ts,
            user_id=CUSTOMER,
            user_team=CUSTOMER_TEAM,
            state=state,
            urgency=urgency,
            summary=f"Question {n} <about> exports",
            context=context,
            permalink=f"{WORKSPACE}/archives/{channel}/p{ts.replace('.', '')}",
            card_channel=TRIAGE if card else None,
            card_ts=f"1800000{n:03d}.000200" if card else None,
            created_at=now - age,
        )
        session.add(request)
        session.flush()
        if sla != "none":
            deadline = {
                "running": now + timedelta(hours=2),
                "near": now + timedelta(minutes=10),
                "breached": now - timedelta(minutes=5),
            }[sla]
            session.add(
                SlaClock(
                    request_id=request.id,
                    minutes=240,
                    business_hours="mon-sun 00:00-24:00 UTC",
                    started_at=now - age,
                    deadline_at=deadline,
                    remind_at=deadline - timedelta(minutes=30),
                )
            )
        return request.id


def card_url(n: int) -> str:
    return f"{WORKSPACE}/archives/{TRIAGE}/p1800000{n:03d}000200"


def triage_status(world: World, *, user: str = APPROVER, team: str = ORG) -> dict[str, Any]:
    body, _ = world.emu.slash_command("/triage", "status", user=user, team=team, channel=SHARED)
    started = time.monotonic()
    status, raw = world.send(body)
    assert status == 200 and time.monotonic() - started < 3
    return dict(json.loads(raw))


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Each block's text (a context's elements joined), in order."""
    found = []
    for block in blocks:
        if block["type"] == "section":
            found.append(block["text"]["text"])
        elif block["type"] == "context":
            found.append(" ".join(e["text"] for e in block["elements"]))
    return found


def test_status_lists_each_open_request_breached_first(world: World) -> None:
    add_request(world, 1, account="Globex", urgency="normal", age=timedelta(hours=3))
    add_request(world, 2, account="Initech", urgency="high", sla="near")
    add_request(world, 3, account="Umbrella", urgency="low", sla="breached")
    add_request(world, 4, account="Acme & Sons", urgency="urgent", sla="none", card=False)
    add_request(world, 5, account=None, channel=UNLINKED, urgency="normal", sla="near")
    add_request(world, 6, account="Hooli", state=RequestState.ANSWERED)

    answer = triage_status(world)
    assert answer["response_type"] == "ephemeral"
    assert "*5 open requests*" in answer["text"]
    blocks = answer["blocks"]
    check_block_limits(blocks)
    header, *rows = texts(blocks)
    assert "🔥 breached 1 · ⏰ near breach 2" in header
    # Breached, then near breach (high before normal), then the rest (urgent first).
    expected = [
        (3, "*Umbrella*", SHARED, "low", card_url(3)),
        (2, "*Initech*", SHARED, "high", card_url(2)),
        (5, "_unlinked channel_", UNLINKED, "normal", card_url(5)),
        # No card yet: the customer's message is the link.
        (
            4,
            "*Acme &amp; Sons*",
            SHARED,
            "urgent",
            f"{WORKSPACE}/archives/{SHARED}/p1700000004000100",
        ),
        (1, "*Globex*", SHARED, "normal", card_url(1)),
    ]
    assert len(rows) == len(expected)
    for row, (n, account, channel, urgency, link) in zip(rows, expected, strict=True):
        assert row.startswith(f"<{link}|#{n}> {account} in <#{channel}>"), row
        assert f" {urgency} · open " in row
    assert "🔥 breached" in rows[0] and "⏰ near breach" in rows[1] and "open 3h" in rows[4]
    assert "&lt;about&gt;" in rows[0]  # the summary, escaped
    assert "Hooli" not in json.dumps(answer)  # answered: not open

    # A customer in the shared channel is refused, and sees none of it.
    refused = triage_status(world, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert "Only people of the organisation" in refused["text"] and "blocks" not in refused


def test_status_stays_within_block_kit_limits_however_many_are_open(world: World) -> None:
    for n in range(120):
        add_request(
            world, n, account=f"Account {n} " + "x" * 200, sla="near" if n % 7 else "breached"
        )

    answer = triage_status(world)
    assert answer["response_type"] == "ephemeral" and "*120 open requests*" in answer["text"]
    blocks = answer["blocks"]
    check_block_limits(blocks)  # the emulator's chat.postMessage check: raises if over
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in texts(blocks))
    header, *rows = texts(blocks)
    assert "*120 open requests*" in header and "🔥 breached 18 · ⏰ near breach 102" in header
    listed, more = rows[:-1], rows[-1]
    assert more.startswith(f"…and {120 - len(listed)} more open requests")
    assert len(listed) >= 20
    # The 18 breached (every 7th) come first.
    assert all("🔥 breached" in row for row in listed[:18]) and "🔥" not in listed[18]


def test_open_incidents_come_first_and_their_reports_clocks_are_paused(
    database_url: str, redis_url: str
) -> None:
    """Removing `if paused: return "paused"` from `_sla_state` (app/queue_status.py) lists the
    three reports as breached: this test fails."""
    with incident_world(database_url, redis_url) as world:
        people = [customer(world, n) for n in range(3)]
        for who, text in zip(people, SSO, strict=False):
            says(world, who, text)
        world.customer_says("Where do I change the export schedule?")  # not part of it
        world.drain()
        time.sleep(3.5)  # past every first-response deadline (3 s), the incident's too
        with transaction(world.deps.sessions) as session:
            [incident] = session.scalars(select(Incident)).all()
        link = incident.card_permalink
        assert link is not None and link.startswith("http")
        answer = triage_status(world)
        check_block_limits(answer["blocks"])
        title, line, summary, *rows = texts(answer["blocks"])
        assert answer["text"].startswith("*🧯 1 open incident*: #1 (3 accounts, no update yet)")
        assert title == "*🧯 Open incidents* (1)"
        assert line.startswith(f"🧯 *<{link}|Incident #1>* · *3 accounts*")
        assert " · 3 reports · first report 0m ago · 🔥 no update yet: it was due " in line
        assert plain(incident.title) in line
        assert "*4 open requests*" in summary and "🔥 breached 1 · ⏰ near breach 0" in summary
        assert "🔥 breached" in rows[0] and "export schedule" in rows[0]
        assert all("🧯 part of Incident #1, SLA paused" in row for row in rows[1:]), rows
        assert not any("breached" in row or "due <" in row for row in rows[1:]), rows

        [card] = incident_cards(world)
        submit_update(world, card, ActionId.INCIDENT_UPDATE, None)
        world.drain()
        after = triage_status(world)
        title, line, summary, *rows = texts(after["blocks"])
        assert " · ✅ first update sent <!date^" in line and "no update yet" not in after["text"]
        assert "*1 open request*" in summary and len(rows) == 1  # the update answered three


def test_many_open_incidents_and_requests_stay_within_block_kit_limits(world: World) -> None:
    """Listing every incident (`ordered` for `ordered[:MAX_SHOWN]` in
    workers/blocks/incident_status.py) makes 55 blocks: Slack, and this test, refuse them."""
    for n in range(120):
        add_request(world, n, account=f"Account {n}", sla="near" if n % 7 else "breached")
    now = datetime.now(UTC)
    with transaction(world.deps.sessions) as session:
        for n in range(12):
            session.add(
                Incident(
                    title="x" * 2000,
                    first_report_at=now - timedelta(minutes=n),
                    last_report_at=now,
                    deadline_at=now + timedelta(minutes=30 - n),
                    first_update_at=now if n % 2 else None,
                    card_permalink=f"{WORKSPACE}/archives/C0INCIDENTS/p{n}",
                )
            )

    answer = triage_status(world)
    blocks = answer["blocks"]
    check_block_limits(blocks)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in texts(blocks))
    title, *incidents = texts(blocks)[:7]
    assert title == "*🧯 Open incidents* (12)"
    assert incidents[-1].startswith("…and 7 more open incidents")
    # Those still owing a first update come first, the soonest due first.
    assert [line.split("|")[1].split(">")[0] for line in incidents[:5]] == [
        f"Incident #{n}" for n in (11, 9, 7, 5, 3)
    ]
    assert texts(blocks)[-1].startswith("…and ") and "more open requests" in texts(blocks)[-1]
