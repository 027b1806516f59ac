"""Database round trips of the pipeline: each stage reads what it needs in one transaction and
writes its result, with the request's stage, in one.

Counted as SQLAlchemy `begin` events on the engine while one customer message goes from the
event to its posted card (ingest, the pipeline job, the card's delivery).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from tests.harness import World, start_world

# Measured: 31 before the stages shared their reads and writes; 16 after; 20 since vectors are
# computed offline too (LOCAL_EMBEDDINGS). Ingest 1; the pipeline job: its lease 1, the round's
# start and end 2 (the end releases the lease), triage 1, context 1, draft 2 and its vectors 2
# (`semantic.prepare` reads what is stored, embeds outside any transaction, writes the new),
# suggest 2 and its vectors 2, card 6 (the SLA clock 1, the card and its outbox row 1, the
# outbox delivery 3, the look for what changed while it was posted 1).
MOST = 20


@pytest.fixture
def fresh_world(database_url: str, redis_url: str) -> Iterator[World]:
    """Each message its own request, as most are."""
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=0) as w:
        yield w


def transactions(world: World, text: str) -> int:
    begins = 0

    def count(_connection: Connection) -> None:
        nonlocal begins
        begins += 1

    event.listen(world.deps.engine, "begin", count)
    try:
        world.customer_says(text)
        world.drain()
    finally:
        event.remove(world.deps.engine, "begin", count)
    return begins


def test_one_message_costs_few_transactions(fresh_world: World) -> None:
    world = fresh_world
    transactions(world, "Warm up: where do I download invoices?")  # first queries, caches

    spent = transactions(world, "Hi! How do I rotate our API key without downtime?")
    assert len(world.cards()) == 2
    assert spent <= MOST, f"{spent} transactions for one message (at most {MOST})"
