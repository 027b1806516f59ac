"""App Home: the viewer's pending approvals, requests near their SLA, the team's week; inside
Block Kit's limits whether the queue is empty or long."""

from __future__ import annotations

import json
from typing import Any

from tests.harness import APPROVER, APPROVER_2, REPO, World, start_world

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
