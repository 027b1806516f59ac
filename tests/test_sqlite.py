"""SQLite, the default for one process and the demo: the same spine works on it."""

from __future__ import annotations

from pathlib import Path

from integrations.store.db import upgrade
from tests.harness import start_world
from workers.ids import ActionId


def test_spine_on_sqlite(tmp_path: Path, redis_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    with start_world(database_url=url, redis_url=redis_url) as world:
        body = world.customer_says("Do you support SCIM provisioning?")
        world.drain()
        [card] = world.cards()
        world.click(ActionId.APPROVE_DRAFT, card)
        world.click(ActionId.APPROVE_DRAFT, card)
        world.drain()
        assert len(world.replies_in(body["event"]["ts"])) == 1
