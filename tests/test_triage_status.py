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

from integrations.store.db import transaction
from integrations.store.models import Request, RequestState, SlaClock
from sandbox.slack_methods_chat import MAX_BLOCKS, MAX_SECTION_TEXT, check_block_limits
from sandbox.world import APPROVER, CUSTOMER, CUSTOMER_TEAM, ORG, SHARED, TRIAGE
from tests.harness import World

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
