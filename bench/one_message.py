"""What one customer message costs, end to end: database transactions and Slack Web API calls.

The real app over HTTP and the real pipeline job (run in this process, as a worker would),
against the local Slack emulator, PostgreSQL and Redis; no model (the offline paths). Prints
the transactions before the ack and in the pipeline, and every Web API call by method and
Slack's rate-limit tier. `docs/ARCHITECTURE.md` quotes its output.

    python bench/one_message.py [--messages N] [--postgres URL] [--redis URL]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections import Counter
from pathlib import Path

import psycopg
from redis import Redis
from sqlalchemy import event

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.harness` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

from integrations.store.db import upgrade  # noqa: E402
from tests.harness import SHARED, start_world  # noqa: E402

# Slack's published tiers for the methods the hot path calls (api.slack.com/methods).
TIERS = {
    "auth.test": "special",
    "chat.postMessage": "special (1/s per channel)",
    "chat.update": "Tier 3",
    "chat.getPermalink": "special",
    "conversations.info": "Tier 3",
    "conversations.replies": "Tier 3",
    "reactions.add": "Tier 3",
    "users.info": "Tier 4",
    "users.getPresence": "Tier 3",
    "users.lookupByEmail": "Tier 3",
    "files.info": "Tier 4",
}


def measure(postgres_admin: str, redis_url: str, messages: int) -> None:
    name = f"triage_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = postgres_admin.rsplit("/", 1)[0] + f"/{name}"
    Redis.from_url(redis_url).flushdb()
    try:
        upgrade(database_url)
        with start_world(database_url=database_url, redis_url=redis_url) as world:
            begins = Counter[str]()
            phase = ["ack"]
            event.listen(world.deps.engine, "begin", lambda _conn: begins.update([phase[0]]))
            world.emu.clear_calls()
            for n in range(messages):
                world.customer_says(f"Our SSO login fails with error 500 since this morning ({n})")
            world.deps.queues.wait_handed_off()
            acked = Counter(c.method for c in world.emu.calls())
            phase[0] = "pipeline"
            world.drain()
            calls = Counter(c.method for c in world.emu.calls())
            cards = world.cards()
            print(f"{messages} customer message(s) in {SHARED}: {len(cards)} card(s)")
            print(f"transactions before the ack: {begins['ack'] / messages:.1f} per message")
            requests = max(1, len(cards))  # follow-ups of one customer join one request
            print(f"transactions in the pipeline: {begins['pipeline'] / requests:.1f} per request")
            print("Slack Web API calls per request, by method (of which before the ack):")
            for method, count in sorted(calls.items()):
                tier, early = TIERS.get(method, "?"), acked[method] / requests
                print(f"  {method:24} {count / requests:5.1f} ({early:.1f})   {tier}")
            tier3 = sum(n for m, n in calls.items() if TIERS.get(m) == "Tier 3")
            print(f"  all: {sum(calls.values()) / requests:.1f}, Tier 3: {tier3 / requests:.1f}")
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    measure(args.postgres, args.redis, args.messages)


if __name__ == "__main__":
    main()
