"""App Home: the viewer's pending approvals, requests near their SLA, the team's week; inside
Block Kit's limits whether the queue is empty or long."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from integrations.store.db import transaction
from integrations.store.incident_models import Incident
from tests.harness import APPROVER, APPROVER_2, REPO, World, start_world
from tests.incident_world import SSO, customer, incident_cards, incident_world, says, submit_update
from workers.ids import ActionId

BLOCK_LIMIT, TEXT_LIMIT = 100, 3000


def open_home(world: World, user: str) -> dict[str, Any]:
    body = {
        "type": "event_callback",
        "event_id": f"EvHome{user}",
        "team_id": "T0ACME",
        "authorizations": [{"team_id": "T0ACME", "user_id": "U0BOT", "is_bot": True}],
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": "1.0",
        },
    }
    assert world.send(body)[0] == 200
    world.drain()
    [published] = [
        v for v in world.emu.views() if v["method"] == "views.publish" and v["user_id"] == user
    ]
    return dict(published["view"])


def within_limits(view: dict[str, Any]) -> None:
    assert view["type"] == "home" and len(view["blocks"]) <= BLOCK_LIMIT

    def texts(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["text"]] if isinstance(node.get("text"), str) else []
            return found + [t for value in node.values() for t in texts(value)]
        if isinstance(node, list):
            return [t for value in node for t in texts(value)]
        return []

    assert all(len(text) <= TEXT_LIMIT for text in texts(view["blocks"]))


def test_home_lists_the_owners_pending_approvals_and_the_week(
    database_url: str, redis_url: str
) -> None:
    accounts = str(REPO / "sandbox" / "accounts.yaml")  # Amy owns Globex, Ben owns Initech
    with start_world(
        database_url=database_url, redis_url=redis_url, grouping_minutes=0, accounts_file=accounts
    ) as world:
        world.customer_says("Our SAML login fails since this morning")
        for n in range(30):  # a long queue for Ben: the view must still fit
            world.initech_says(f"Export question number {n}: where is the CSV?")
        world.drain()
        amy = open_home(world, APPROVER)
        ben = open_home(world, APPROVER_2)
    within_limits(amy)
    within_limits(ben)
    amy_text, ben_text = json.dumps(amy), json.dumps(ben)
    assert "Our SAML login fails" in amy_text.split("Also waiting")[0]
    assert "Export question" in ben_text.split("Also waiting")[0]
    assert "and 15 more in the triage channel" in ben_text
    assert "The team's last 7 days" in amy_text and "requests: *31*" in amy_text


def test_home_for_someone_with_nothing_waiting(world: World) -> None:
    view = open_home(world, APPROVER)
    within_limits(view)
    text = json.dumps(view)
    assert "Nothing waiting on the accounts you own." in text
    assert "No other drafts are waiting." in text


def test_home_shows_open_incidents_first(database_url: str, redis_url: str) -> None:
    """Removing `~in_open_incident(SlaClock.request_id)` from `home_data` (workers/home.py)
    lists the three reports as past their SLA, their clocks paused or not: this test fails."""
    with incident_world(database_url, redis_url) as world:
        people = [customer(world, n) for n in range(3)]
        for who, text in zip(people, SSO, strict=False):
            says(world, who, text)
        world.customer_says("Where do I change the export schedule?")  # not part of it
        world.drain()
        time.sleep(3.5)  # past every first-response deadline (3 s), the incident's too
        with transaction(world.deps.sessions) as session:
            link = session.scalars(select(Incident.card_permalink)).one()
        before = open_home(world, APPROVER)
        [card] = incident_cards(world)
        submit_update(world, card, ActionId.INCIDENT_UPDATE, None)
        world.drain()
        after = open_home(world, APPROVER_2)
    for view in (before, after):
        within_limits(view)
    header, divider, title, line = before["blocks"][:4]
    assert header["type"] == "header" and divider["type"] == "divider"
    assert title["text"]["text"] == "*🧯 Open incidents* (1)"
    assert line["text"]["text"].startswith(
        f"*<{link}|Incident #1>* · 3 accounts · 3 reports · 0m · 🔥 update overdue\n"
    )
    text = json.dumps(before, ensure_ascii=False)
    near = text.split("Near or past their SLA")[1].split("The team's last 7 days")[0]
    assert "export schedule" in near and "C0CUST" not in near  # paused: not near their SLA
    assert text.count("· 🧯 Incident #1") == 3  # each report, waiting for approval
    assert "incidents (reports they absorbed): *1 (3)*" in text
    assert "first update on an incident (median): *–*" in text
    assert "✅ update sent" in after["blocks"][3]["text"]["text"]
    assert "first update on an incident (median): *–*" not in json.dumps(after)
